"""The ngspice dialect: library, testbench with XSPICE ``filesource`` input, verification decks.

Testbench shape (``<name>.cir``)::

    * title (safe text)
    .include <name>.lib
    a_src %vd([src1 0 src2 0]) filesrc          XSPICE filesource: columns time u1 u2 ...
    .model filesrc filesource (file="<name>_input.txt" ... amplstep=false)   linear between samples
    V_in1 in1 src1 dc 0 ac 1                      0 V in transient, the AC stimulus in .ac
    X1 in1 ... out1 ... <subckt>
    .options ...
    .tran <tstep> <tstop> 0 <tmax>
    .ac dec <points> <fmin> <fmax>
    .end

Step rule (documented in the README): ``tmax = min(Ts, 1/f_max) / STEPS_PER_PERIOD`` where Ts is
the input sample period (circuit time) and f_max the highest resonance of the circuit (largest
pole magnitude / 2π), so both the piecewise-linear input and the fastest ringing are resolved.
That rule is for the shipped testbench, which must be right without knowing its signal. The
verifier knows its signals: it runs fixed steps (``fixed_step``) of ``Ts / k`` with ``k`` the
fewest whose predicted error meets an accuracy target (:mod:`r2nn_compiler.sim.stepsize`).
"""

from __future__ import annotations

import math
import re

from .netlister import Netlister

#: Timesteps per input sample period and per period of the highest resonance. ngspice's default
#: step is 3–14 % off on audio-band resonators. The trapezoidal rule's error falls as the square
#: of the step: measured on dense random models, 40 steps gave up to 0.38 % NRMSE on the weakest
#: output, 160 steps 0.025 %; 100 keeps the worst near 0.06 %, well inside the 0.5 % gate.
STEPS_PER_PERIOD = 100

#: Solver options: tight relative tolerance and absolute tolerances far below the (small) node
#: voltages of a resonator network, so the step-size control never coarsens the answer.
OPTIONS = ".options reltol=1e-5 abstol=1e-15 vntol=1e-12 chgtol=1e-18 method=trap"

#: Tolerances for decks with an on-circuit readout (a second ``.options`` line, which overrides
#: the first's): the readout's diodes and transistors switch at every zero crossing, and at
#: OPTIONS' femtoampere and picovolt tolerances ngspice cut its steps to nanoseconds there.
#: Measured against OPTIONS on part-level readouts: 3 classes, 20 ms of noise: 3.4× fewer steps,
#: outputs within 6e-4 NRMSE, detectors within 3e-4; 4 classes, 24 resonators, 0.1 s of a
#: bearing clip, against reltol 1e-5 with these absolute tolerances: 2.2× faster, outputs within
#: 1.5e-4, detectors within 8e-5. ``xtrtol=7`` gives back ngspice's default truncation-error
#: tolerance (trtol 7), which a deck with an XSPICE filesource otherwise runs at 1; with reltol
#: 1e-3, on a 0.5 s tactile clip (16 GIC resonators, parts readout of 5 classes, step 6.25 µs):
#: 1.9× faster (5.4k rejected steps instead of 35k), outputs within 1.3e-4 NRMSE and detectors
#: within 1e-4 of this line at reltol 1e-4 and trtol 1, decisions the same.
READOUT_OPTIONS = ".options reltol=1e-3 abstol=1e-12 vntol=1e-6 chgtol=1e-16 xtrtol=7"

#: Truncation-error tolerance for fixed-step decks: so loose that the step control never
#: shortens a step below ``tmax`` (ngspice reads it as an integer).
FIXED_STEP_XTRTOL = 1_000_000


def max_step(sample_period_s: float, f_max_hz: float) -> float:
    """Largest allowed ngspice timestep (s) for an input sampled every ``sample_period_s``."""
    shortest = sample_period_s if f_max_hz <= 0 else min(sample_period_s, 1.0 / f_max_hz)
    return shortest / STEPS_PER_PERIOD


class NgspiceNetlister(Netlister):
    """ngspice 39+: XSPICE code models available; ``.include`` relative to the deck."""

    def filesource(self, instance: str, nets: list[str], model: str, data_file: str) -> list[str]:
        pairs = " ".join(f"{self.name(n)} 0" for n in nets)
        zeros = " ".join("0" for _ in nets)
        ones = " ".join("1" for _ in nets)
        return [
            f"{self.name(instance)} %vd([{pairs}]) {self.name(model)}",
            f".model {self.name(model)} filesource (file=\"{_safe_file(data_file)}\" amploffset=[{zeros}] "
            f"amplscale=[{ones}] timeoffset=0 timescale=1 timerelative=false amplstep=false)",
        ]

    def testbench(self, *, title: str, library: str, subckt: str, n_inputs: int, n_outputs: int,
                  extra_ports: list[str], data_file: str | list[str] | None, tran: tuple[float, float] | None,
                  ac: tuple[float, float, int] | None, instances: int = 1, ac_per_instance: bool = False,
                  save_outputs: bool = False, rms_window: tuple[float, ...] | None = None,
                  extra_saves: list[str] | None = None, fixed_step: bool = False,
                  decisions: list[dict] | None = None, observed: str = "out") -> str:
        """A deck driving ``instances`` copies of ``subckt``; copy i reads column set i of the
        data file (``time u1 u2 ...`` per copy), or, given a list of files, file i (``time u1
        u2 ...``, one filesource each: ngspice's filesource reads lines of at most 511
        characters, which a shared file of many copies would overrun). ``tran`` is
        ``(tstop, tmax)`` in seconds; ``ac``
        is ``(f_lo, f_hi, points_per_decade)``: the AC 1 stimulus sits on input 1 of every copy,
        or on input i of copy i when ``ac_per_instance`` (one transfer column per input).

        Without ``data_file`` the inputs are plain sources and the deck gets ``noopac``: ngspice
        then skips the DC operating point before ``.ac`` (it does so only for decks without
        XSPICE devices), which a loop of ideal inductors — two resonators coupled by a spring —
        would make singular. The response of a linear circuit does not depend on that point.

        ``rms_window`` (t0, t1 in seconds) adds ``.meas tran rms_out<j> RMS v(out<j>)`` lines:
        plain ``ngspice -b`` then runs the analyses and prints each output's RMS over the
        readout window (the features, times the output gains); given more boundaries (a linear
        layer's segments s_0 < … < s_K), ``rms_<net>_s<k>`` over each segment k (from 1).
        ``observed`` names the observed ports' testbench nets (``out<j>``, or ``tap<j>`` for a
        linear layer's taps). ngspice runs a deck without
        ``-r`` only when something consumes its results: ``save_outputs`` (a ``.save`` of the
        output ports) makes ``.ac`` run too.

        ``fixed_step`` makes every step ``tmax`` (after ngspice's short first steps): it adds
        ``xtrtol`` (FIXED_STEP_XTRTOL), which ngspice takes as the truncation-error tolerance of
        decks with XSPICE devices. Without it ngspice cuts ``trtol`` to 1 for the filesource
        and then takes up to 40 % more steps than ``tmax`` asks for, rejecting some; with it
        the error is that of the trapezoidal rule at ``tmax``, which the verifier predicts
        (:mod:`r2nn_compiler.sim.stepsize`). Only sound for linear circuits.

        ``decisions`` (the manifest's ``decisions`` entries, in port order) connects the decision
        ports after the outputs (nets ``dec<j>``, ``x<i>_dec<j>`` for copy i of several), saves
        them, runs ``.tran`` at least to the latest ``valid_after_s`` and adds ``.meas tran
        dec<j> FIND v(dec<j>) AT=valid_after_s`` lines (with ``tran``): the decision each port
        holds."""
        lines = [self.comment(title), f".include {_include_target(library)}"]
        if isinstance(data_file, list):
            if len(data_file) != instances:
                raise ValueError(f"{len(data_file)} data files for {instances} testbench copies")
            for i, name in enumerate(data_file):
                nets = [testbench_net("src", i, k, instances) for k in range(n_inputs)]
                lines += self.filesource(f"a_src{i + 1}", nets, f"filesrc{i + 1}", name)
        elif data_file is not None:
            lines += self.filesource("a_src", [testbench_net("src", i, k, instances) for i in range(instances)
                                               for k in range(n_inputs)], "filesrc", data_file)
        for i in range(instances):
            ins = [testbench_net("in", i, k, instances) for k in range(n_inputs)]
            outs = [testbench_net(observed, i, j, instances) for j in range(n_outputs)]
            for k in range(n_inputs):
                stimulus = ac is not None and k == (i if ac_per_instance else 0)
                low = testbench_net("src", i, k, instances) if data_file is not None else "0"
                lines.append(f"V_{ins[k]} {ins[k]} {low} dc 0" + (" ac 1" if stimulus else ""))
            decs = [testbench_net("dec", i, j, instances) for j in range(len(decisions or []))]
            lines.append(f"X{i + 1} {' '.join(ins + outs + decs + extra_ports)} {self.name(subckt)}")
        lines.append(OPTIONS + ("" if data_file is not None else " noopac")
                     + (f" xtrtol={FIXED_STEP_XTRTOL}" if fixed_step else ""))
        if decisions:
            lines.append(READOUT_OPTIONS)
        if save_outputs:
            vectors = [f"v({testbench_net(observed, i, j, instances)})" for i in range(instances)
                       for j in range(n_outputs)]
            vectors += [f"v({testbench_net('dec', i, j, instances)})" for i in range(instances)
                        for j in range(len(decisions or []))]
            for vector in extra_saves or []:
                if not _SAVE_VECTOR.fullmatch(vector):
                    raise ValueError(f"unsafe vector to save: {vector!r}")
                vectors.append(vector)
            lines.append(".save " + " ".join(vectors))
        if tran is not None:
            tstop, tmax = tran
            if decisions:
                tstop = max(tstop, max(float(d["valid_after_s"]) for d in decisions))
            # uic: start from the zero state like the model, not from a DC operating point.
            lines.append(f".tran {self.value(tmax)} {self.value(tstop)} 0 {self.value(tmax)} uic")
        if ac is not None:
            f_lo, f_hi, per_decade = ac
            lines.append(f".ac dec {per_decade} {self.value(f_lo)} {self.value(f_hi)}")
        if rms_window is not None and tran is not None:
            for i in range(instances):
                for j in range(n_outputs):
                    net = testbench_net(observed, i, j, instances)
                    for k, (t0, t1) in enumerate(zip(rms_window, rms_window[1:])):
                        name = f"rms_{net}" if len(rms_window) == 2 else f"rms_{net}_s{k + 1}"
                        lines.append(f".meas tran {name} RMS v({net}) from={self.value(t0)} to={self.value(t1)}")
        if decisions and tran is not None:
            for i in range(instances):
                for j, d in enumerate(decisions):
                    net = testbench_net("dec", i, j, instances)
                    lines.append(f".meas tran {net} FIND v({net}) AT={self.value(float(d['valid_after_s']))}")
        lines.append(".end")
        return "\n".join(lines) + "\n"


_SAVE_VECTOR = re.compile(r"v\([a-z0-9_.]{1,200}\)")


def testbench_net(base: str, instance: int, index: int, instances: int) -> str:
    """Testbench net names: ``in1``, ``out2`` for one copy; ``x3_in1`` for copy 3 of several."""
    return f"{base}{index + 1}" if instances == 1 else f"x{instance + 1}_{base}{index + 1}"


def _safe_file(name: str) -> str:
    """File names we put in decks are generated (``[a-z0-9_.]``): refuse anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,120}", name) or ".." in name:
        raise ValueError(f"unsafe file name for a deck: {name!r}")
    return name


SAFE_ABSOLUTE_PATH = re.compile(r"/[A-Za-z0-9_./+\- ]{1,4000}")


def _include_target(library: str) -> str:
    """A plain file name (beside the deck), or an absolute path of safe characters, quoted:
    nested relative includes in the library then resolve beside the library itself."""
    if library.startswith("/"):
        if not SAFE_ABSOLUTE_PATH.fullmatch(library):
            raise ValueError(f"unsafe library path for a deck: {library!r}")
        return f'"{library}"'
    return _safe_file(library)


def f_max_hz(poles_rad_s) -> float:
    return max((abs(complex(p)) for p in poles_rad_s), default=0.0) / (2 * math.pi)
