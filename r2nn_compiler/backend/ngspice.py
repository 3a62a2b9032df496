"""The ngspice dialect: library, testbench with XSPICE ``filesource`` input, verification decks.

Testbench shape, step rule and the measurements behind the constants: docs/backend.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .netlister import Netlister

#: Timesteps per input sample period and per period of the highest resonance (why 100:
#: docs/backend.md, "Step rule").
STEPS_PER_PERIOD = 100

#: Solver options: tolerances far below a resonator network's node voltages (docs/backend.md).
OPTIONS = ".options reltol=1e-5 abstol=1e-15 vntol=1e-12 chgtol=1e-18 method=trap"

#: Tolerances for decks with an on-circuit readout (a second ``.options`` line, which overrides
#: the first's; measurements in docs/backend.md, "Solver options").
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

    def testbench(self, bench: "Testbench | None" = None, /, **fields) -> str:
        """The deck ``bench`` describes (or a :class:`Testbench` of ``fields``): the library
        included, the input sources, the copies of the subcircuit, options, saves, analyses
        and measurements, ``.end``. Raises ValueError for unsafe names, vectors or files."""
        bench = bench if bench is not None else Testbench(**fields)
        lines = [self.comment(bench.title), f".include {_include_target(bench.library)}"]
        lines += self._sources(bench) + self._instances(bench)
        lines.append(OPTIONS + ("" if bench.data_file is not None else " noopac")
                     + (f" xtrtol={FIXED_STEP_XTRTOL}" if bench.fixed_step else ""))
        if bench.decisions:
            lines.append(READOUT_OPTIONS)
        if bench.save_outputs:
            lines.append(".save " + " ".join(_saved_vectors(bench)))
        lines += self._analyses(bench) + self._measurements(bench) + [".end"]
        return "\n".join(lines) + "\n"

    def _sources(self, bench: "Testbench") -> list[str]:
        """The XSPICE filesources: one per data file, or one shared by every copy."""
        data, copies, n_in = bench.data_file, bench.instances, bench.n_inputs
        if isinstance(data, list):
            if len(data) != copies:
                raise ValueError(f"{len(data)} data files for {copies} testbench copies")
            return [line for i, name in enumerate(data) for line in self.filesource(
                f"a_src{i + 1}", [testbench_net("src", i, k, copies) for k in range(n_in)], f"filesrc{i + 1}", name)]
        if data is None:
            return []
        nets = [testbench_net("src", i, k, copies) for i in range(copies) for k in range(n_in)]
        return self.filesource("a_src", nets, "filesrc", data)

    def _instances(self, bench: "Testbench") -> list[str]:
        """Per copy: a voltage source per input (AC 1 where :class:`Testbench` says), a
        unity inverter per inverted input, and the subcircuit's instance on inputs (their
        inverted copies after them), observed ports, decision ports, controls and supplies
        (each copy its own DC source per supply with volts, :func:`supply_net`); once for all
        copies: the controls' PWL sources."""
        lines, copies = self._shared_sources(bench), bench.instances
        for i in range(copies):
            ins = [testbench_net("in", i, k, copies) for k in range(bench.n_inputs)]
            outs = [testbench_net(bench.observed, i, j, copies) for j in range(bench.n_outputs)]
            for k in range(bench.n_inputs):
                stimulus = bench.ac is not None and k == (i if bench.ac_per_instance else 0)
                low = testbench_net("src", i, k, copies) if bench.data_file is not None else "0"
                lines.append(f"V_{ins[k]} {ins[k]} {low} dc 0" + (" ac 1" if stimulus else ""))
            inverted = [f"{ins[k]}n" for k in bench.inverted]
            lines += [f"E_{net} {net} 0 {ins[k]} 0 -1" for net, k in zip(inverted, bench.inverted)]
            decs = [testbench_net("dec", i, j, copies) for j in range(len(bench.decisions or []))]
            controls = [self.name(c["port"]) for c in bench.controls or []]
            supplies = [supply_net(p, i, copies) if p in (bench.supply_volts or {}) else p for p in bench.extra_ports]
            lines += [f"V_{self.name(net)} {net} 0 dc {self.value(float(bench.supply_volts[p]))}"
                      for net, p in zip(supplies, bench.extra_ports) if p in (bench.supply_volts or {})]
            ports = ins + inverted + outs + decs + controls + supplies
            lines.append(f"X{i + 1} {' '.join(ports)} {self.name(bench.subckt)}")
        return lines

    def _shared_sources(self, bench: "Testbench") -> list[str]:
        """The controls' PWL sources (``V_<port>``), shared by every copy: the waveforms are
        the manifest's, in circuit seconds."""
        lines = []
        for c in bench.controls or []:
            points = " ".join(f"{self.value(float(t))} {self.value(float(v))}" for t, v in c["waveform"])
            lines.append(f"V_{self.name(c['port'])} {self.name(c['port'])} 0 pwl({points})")
        return lines

    def _analyses(self, bench: "Testbench") -> list[str]:
        """``.tran`` (from the zero state, at least to the latest decision) and ``.ac``."""
        lines = []
        if bench.tran is not None:
            tstop, tmax = bench.tran
            if bench.decisions:
                tstop = max(tstop, max(float(d["valid_after_s"]) for d in bench.decisions))
            # uic: start from the zero state like the model, not from a DC operating point.
            lines.append(f".tran {self.value(tmax)} {self.value(tstop)} 0 {self.value(tmax)} uic")
        if bench.ac is not None:
            f_lo, f_hi, per_decade = bench.ac
            lines.append(f".ac dec {per_decade} {self.value(f_lo)} {self.value(f_hi)}")
        return lines

    def _measurements(self, bench: "Testbench") -> list[str]:
        """``.meas tran`` lines: RMS of each observed port per window segment, each decision."""
        if bench.tran is None:
            return []
        lines, copies, window = [], bench.instances, bench.rms_window
        for i in range(copies):
            for j in range(bench.n_outputs if window is not None else 0):
                net = testbench_net(bench.observed, i, j, copies)
                for k, (t0, t1) in enumerate(zip(window, window[1:])):
                    name = f"rms_{net}" if len(window) == 2 else f"rms_{net}_s{k + 1}"
                    lines.append(f".meas tran {name} RMS v({net}) from={self.value(t0)} to={self.value(t1)}")
        for i in range(copies if bench.decisions else 0):
            for j, d in enumerate(bench.decisions):
                net = testbench_net("dec", i, j, copies)
                lines.append(f".meas tran {net} FIND v({net}) AT={self.value(float(d['valid_after_s']))}")
        return lines


@dataclass(frozen=True)
class Testbench:
    """What a testbench deck drives, runs and measures (times in circuit seconds).

    ``instances`` copies of ``subckt`` (from ``library``) with ``n_inputs`` inputs and
    ``n_outputs`` observed ports (nets ``<observed><j>``: ``out<j>``, or ``tap<j>`` for a
    linear layer's taps), then decision ports and ``extra_ports`` (supplies). Copy i reads
    column set i of ``data_file`` (``time u1 u2 ...`` per copy) or, given a list, file i (one
    filesource each: ngspice reads lines of at most 511 characters); without one the inputs
    are plain sources and the deck gets ``noopac`` (no DC point before ``.ac``).
    ``tran`` = (tstop, tmax); ``ac`` = (f_lo, f_hi, points per decade), AC 1 on input 1 of
    every copy, or on input i of copy i with ``ac_per_instance``. ``save_outputs`` saves the
    observed and decision ports (and ``extra_saves``, ``v(net)`` only). ``rms_window``
    (boundaries s_0 < … < s_K) adds ``.meas tran rms_<net>[_s<k>] RMS`` per segment.
    ``fixed_step`` makes every step ``tmax`` (``xtrtol``; linear circuits only).
    ``decisions`` (the manifest's entries, port order) adds ports ``dec<j>``, runs ``.tran``
    at least to the latest ``valid_after_s`` and measures each port there. ``inverted``: the
    inputs (0-based) with an inverted copy (port ``in<k>n``, driven by −1 × ``in<k>``);
    ``controls`` (the manifest's, {port, role, waveform}) are driven by PWL sources shared by
    every copy, and the supplies in ``supply_volts`` {port: V} by DC sources ``V_<net>``, one
    per copy (:func:`supply_net`; their currents saved with ``save_outputs``). Why:
    docs/backend.md.
    """

    __test__ = False  # not a pytest class

    title: str
    library: str
    subckt: str
    n_inputs: int
    n_outputs: int
    extra_ports: list[str]
    data_file: str | list[str] | None
    tran: tuple[float, float] | None
    ac: tuple[float, float, int] | None
    instances: int = 1
    ac_per_instance: bool = False
    save_outputs: bool = False
    rms_window: tuple[float, ...] | None = None
    extra_saves: list[str] | None = None
    fixed_step: bool = False
    decisions: list[dict] | None = None
    observed: str = "out"
    inverted: tuple[int, ...] = ()
    controls: list[dict] | None = None
    supply_volts: dict[str, float] | None = None


def _saved_vectors(bench: Testbench) -> list[str]:
    """The ``.save`` vectors: observed ports, decision ports, then ``extra_saves`` (checked)."""
    copies = bench.instances
    vectors = [f"v({testbench_net(bench.observed, i, j, copies)})" for i in range(copies)
               for j in range(bench.n_outputs)]
    vectors += [f"v({testbench_net('dec', i, j, copies)})" for i in range(copies)
                for j in range(len(bench.decisions or []))]
    vectors += [f"i(V_{supply_net(port, i, copies)})" for i in range(copies) for port in bench.supply_volts or {}]
    for vector in bench.extra_saves or []:
        if not _SAVE_VECTOR.fullmatch(vector):
            raise ValueError(f"unsafe vector to save: {vector!r}")
        vectors.append(vector)
    return vectors


_SAVE_VECTOR = re.compile(r"v\([a-z0-9_.]{1,200}\)")


def supply_net(port: str, instance: int, instances: int) -> str:
    """Testbench net of supply ``port`` for a copy: ``vcc`` for one copy, ``x3_vcc`` for copy 3
    of several (each copy its own source ``V_<net>``, so its current is its own)."""
    return port if instances == 1 else f"x{instance + 1}_{port}"


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
