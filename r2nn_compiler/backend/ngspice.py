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
                  extra_ports: list[str], data_file: str | None, tran: tuple[float, float] | None,
                  ac: tuple[float, float, int] | None, instances: int = 1, ac_per_instance: bool = False,
                  save_outputs: bool = False, rms_window: tuple[float, float] | None = None,
                  extra_saves: list[str] | None = None) -> str:
        """A deck driving ``instances`` copies of ``subckt``; copy i reads column set i of the
        data file (``time u1 u2 ...`` per copy). ``tran`` is ``(tstop, tmax)`` in seconds; ``ac``
        is ``(f_lo, f_hi, points_per_decade)``: the AC 1 stimulus sits on input 1 of every copy,
        or on input i of copy i when ``ac_per_instance`` (one transfer column per input).

        Without ``data_file`` the inputs are plain sources and the deck gets ``noopac``: ngspice
        then skips the DC operating point before ``.ac`` (it does so only for decks without
        XSPICE devices), which a loop of ideal inductors — two resonators coupled by a spring —
        would make singular. The response of a linear circuit does not depend on that point.

        ``rms_window`` (t0, t1 in seconds) adds ``.meas tran rms_out<j> RMS v(out<j>)`` lines:
        plain ``ngspice -b`` then runs the analyses and prints each output's RMS over the
        readout window (the features, times the output gains). ngspice runs a deck without
        ``-r`` only when something consumes its results: ``save_outputs`` (a ``.save`` of the
        output ports) makes ``.ac`` run too."""
        lines = [self.comment(title), f".include {_include_target(library)}"]
        if data_file is not None:
            lines += self.filesource("a_src", [testbench_net("src", i, k, instances) for i in range(instances)
                                               for k in range(n_inputs)], "filesrc", data_file)
        for i in range(instances):
            ins = [testbench_net("in", i, k, instances) for k in range(n_inputs)]
            outs = [testbench_net("out", i, j, instances) for j in range(n_outputs)]
            for k in range(n_inputs):
                stimulus = ac is not None and k == (i if ac_per_instance else 0)
                low = testbench_net("src", i, k, instances) if data_file is not None else "0"
                lines.append(f"V_{ins[k]} {ins[k]} {low} dc 0" + (" ac 1" if stimulus else ""))
            lines.append(f"X{i + 1} {' '.join(ins + outs + extra_ports)} {self.name(subckt)}")
        lines.append(OPTIONS + ("" if data_file is not None else " noopac"))
        if save_outputs:
            vectors = [f"v({testbench_net('out', i, j, instances)})" for i in range(instances) for j in range(n_outputs)]
            for vector in extra_saves or []:
                if not _SAVE_VECTOR.fullmatch(vector):
                    raise ValueError(f"unsafe vector to save: {vector!r}")
                vectors.append(vector)
            lines.append(".save " + " ".join(vectors))
        if tran is not None:
            tstop, tmax = tran
            # uic: start from the zero state like the model, not from a DC operating point.
            lines.append(f".tran {self.value(tmax)} {self.value(tstop)} 0 {self.value(tmax)} uic")
        if ac is not None:
            f_lo, f_hi, per_decade = ac
            lines.append(f".ac dec {per_decade} {self.value(f_lo)} {self.value(f_hi)}")
        if rms_window is not None and tran is not None:
            t0, t1 = rms_window
            for i in range(instances):
                for j in range(n_outputs):
                    net = testbench_net("out", i, j, instances)
                    lines.append(f".meas tran rms_{net} RMS v({net}) from={self.value(t0)} to={self.value(t1)}")
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
