"""The pass framework: a registry, flows as plain lists of pass names, and the compile log.

A pass is a small class with a ``name``, a docstring stating its preconditions and when it is
safe, ``match(ctx)`` (does it apply here?) and ``transform(ctx)`` returning a
:class:`PassResult` whose ``changed`` says whether the circuit graph changed. Passes mutate only
``ctx.graph`` (and the port gains kept beside it); they never parse text or run simulators.
The driver applies the flow in order and records every applied pass in ``ctx.log``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..circuit import CircuitGraph
from ..circuit.annotations import ELEMENT, ROLE, Role  # noqa: F401 (ELEMENT, ROLE: the passes' import path)
from ..errors import CompileError
from ..model import Model


#: Component ``attrs`` keys the mapping passes set and later passes read (see
#: :mod:`r2nn_compiler.circuit.annotations`): ``role`` one of :data:`ROLES`, ``element`` the
#: model element realised.
ROLES = tuple(role.value for role in Role)


@dataclass
class CompileOptions:
    """Knobs the passes read (SI units). ``exact``: ideal elements, no scaling or quantisation.

    band_hz
        circuit band (low, high) in Hz the model's band is mapped to (None: keep the model's).
    ranges
        practical value range per kind (R in ohm, C in F, L in H) that scaling aims for.
    series / series_overrides
        E-series per kind (e.g. "E96") and per designator; tolerance: part tolerance per kind
        (fraction) written to the BOM.
    strategy
        quantisation strategy: "nearest", "pair" (series or parallel pair within
        ``pair_target`` relative error) or "retune" (restore each resonator's f0 and Q).
    pair_inductors
        ``retune`` may trim an inductor with a second one in series (see ``quantise``); False
        keeps one inductor per spring, each resonator's f0 then restored by its capacitor alone.
    inductors
        how each resonator's spring inductor is built: "passive" (a wound part) or "gic" (an
        Antoniou generalised impedance converter: two op-amps, four resistors and a capacitor;
        see ``realise_inductors``).
    opamp
        op-amp model name for active realisations: "macro" (single-pole macromodel with
        ``opamp_params``) or "ideal" (high-gain VCVS).
    parasitics
        add inductor series resistance (from ``inductor_q`` at the band centre) and capacitor
        ESR (``cap_esr_ohm``), compensating the parallel damping where possible (off by default:
        not yet, see README "Boards as built"; ``--ideal-parts`` says off explicitly).
    readout
        on-circuit readout (``readout_analog``): "none", "analog" (buffers, mean-square
        detectors, window integrators and a winner-take-all from real parts, one decision port
        per class) or "behavioural" (the same with B-sources, for fast checks).
    drive
        how inputs drive the network (``realise_drive``): "ideal" (the mapping's VCCS) or
        "parts" (a resistor from the input port per drive, its loading absorbed into the damping;
        negative weights from an inverted input port); None (default): "parts" with the
        parts-level readout (``readout`` "analog"), else "ideal" (:meth:`drive_kind`).
    calibrate
        trim each output's gain (readout element or buffer) so the realised circuit's band
        power per output matches the model's (``calibrate_outputs``); hardware flows only.
    calibration_signals
        signals (``r2nn_compiler.signals.Signal``) to calibrate on instead: each output's
        features of the realised circuit then match the model's on them.
    score_scale
        the micropower sums' scale rule with calibration signals (``ScaleRule`` value:
        "calibration", the default when None, "calibration_top" or "worst_case").
    robust_parts / tight_tolerance / robust_rule
        buy the few parts that dominate the outputs' spread at ``tight_tolerance[kind]``
        (fractions) instead of ``tolerance[kind]`` (``robust_parts``), chosen by the band-RMS
        proxy (``robust_rule`` "band_rms") or by their effect on the decisions on the
        calibration clips ("decisions": needs ``calibration_signals``; 2 × parts circuit
        evaluations, 3× the proxy's compile on tactile).
    mna_tolerance
        largest relative H(jω) error ``check_reference`` accepts (None: report only; the
        default is 1e-6 for exact flows and report-only otherwise).
    """

    exact: bool = False
    band_hz: tuple[float, float] | None = None
    ranges: dict[str, tuple[float, float]] = field(default_factory=lambda: {
        "R": (10.0, 10e6), "C": (10e-12, 10e-6), "L": (1e-6, 10.0)})
    series: dict[str, str] = field(default_factory=lambda: {"R": "E96", "C": "E24", "L": "E12"})
    series_overrides: dict[str, str] = field(default_factory=dict)
    tolerance: dict[str, float] = field(default_factory=lambda: {"R": 0.01, "C": 0.05, "L": 0.10})
    robust_parts: bool = True
    robust_rule: str = "band_rms"
    tight_tolerance: dict[str, float] = field(default_factory=lambda: {"R": 0.001, "C": 0.01, "L": 0.02})
    strategy: str = "retune"
    pair_target: float = 1e-3
    pair_inductors: bool = True
    inductors: str = "passive"
    opamp: str = "macro"
    opamp_params: dict[str, float] = field(default_factory=dict)
    parasitics: bool = False
    inductor_q: float = 50.0
    cap_esr_ohm: float = 0.05
    mna_tolerance: float | None = None
    check_freqs: int = 200
    readout: str = "none"
    drive: str | None = None
    calibrate: bool = True
    calibration_signals: list[Any] = field(default_factory=list)
    score_scale: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mna_tolerance is None and self.exact:
            self.mna_tolerance = 1e-6

    def drive_kind(self) -> str:
        """``drive``, its default resolved: "parts" with an ``analog`` readout (any design), else "ideal"."""
        if self.drive is not None:
            return self.drive
        return "parts" if self.readout.startswith("analog") else "ideal"


@dataclass
class PortMap:
    """Where a model quantity appears on the circuit, and with what gain.

    Inputs: the model input ``name`` is applied as a voltage ``volts_per_unit · u`` on ``net``.
    Observed ports (``role`` ``output`` or ``tap``, see :func:`observed_nodes`): ``net`` carries
    ``volts_per_unit_velocity · v_node``; ``name`` is the class (an output) or the resonator (a tap).
    """

    name: str
    net: str
    gain: float = 1.0
    node: str | None = None
    role: str = "output"
    #: An input's inverted copy (a port carrying −gain·u), when its drives need one.
    inverted: str | None = None


#: Port name prefixes of the observed ports, by role: ``out1``…, ``tap1``….
OBSERVED_PREFIX = {"output": "out", "tap": "tap"}


@dataclass(frozen=True)
class Observed:
    """A model node the deck exposes on a port: a class's output (``role`` ``output``, ``label``
    the class) or a resonator a linear readout layer reads (``role`` ``tap``, ``label`` the
    resonator's name). ``port`` is positional (``out<j>``/``tap<j>``, from 1); user names never
    reach a deck."""

    role: str
    label: str
    node: str
    port: str

    @property
    def what(self) -> str:
        """How comments and logs name it: ``output low``, ``tap a``."""
        return f"{self.role} {self.label}"


def observed_nodes(model: Model) -> list[Observed]:
    """The nodes ``model``'s deck exposes, in port order: one output per class (``model.outputs``),
    or for a linear readout one tap per resonator the layer reads (``model.read_nodes``: each
    once, in order of first use), whose features the layer computes from the taps' traces."""
    if model.readout is not None and model.readout.is_linear:
        return [Observed("tap", node, node, f"{OBSERVED_PREFIX['tap']}{j + 1}")
                for j, node in enumerate(model.read_nodes)]
    return [Observed("output", o.cls, o.node, f"{OBSERVED_PREFIX['output']}{j + 1}")
            for j, o in enumerate(model.outputs)]


@dataclass
class CompileContext:
    """Everything a pass may read (model, options) or change (graph, port maps, time scale)."""

    model: Model
    options: CompileOptions
    graph: CircuitGraph | None = None
    inputs: list[PortMap] = field(default_factory=list)
    #: The observed ports (:func:`observed_nodes`): the class outputs, or a linear layer's taps.
    outputs: list[PortMap] = field(default_factory=list)
    time_scale: float = 1.0
    sense: str = "node voltage"
    log: list["LogEntry"] = field(default_factory=list)

    def require_graph(self, pass_name: str) -> CircuitGraph:
        if self.graph is None:
            raise CompileError(f"pass {pass_name!r} needs a circuit graph: put a mapping pass before it in the flow")
        return self.graph


@dataclass
class PassResult:
    changed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogEntry:
    name: str
    changed: bool
    summary: str
    details: dict[str, Any]
    seconds: float


#: The mapping passes: every other pass works on the graph one of them builds.
MAPPING = ("map_force_current", "map_force_voltage")


class Pass:
    """Base class. Subclasses set ``name`` and implement ``match`` and ``transform``.

    ``after``: passes that must run earlier in a flow that holds both (some occurrence before
    each occurrence of this one); :func:`check_order` enforces it before a flow runs.
    """

    name: ClassVar[str] = ""
    after: ClassVar[tuple[str, ...]] = ()

    def match(self, ctx: CompileContext) -> bool:
        return True

    def transform(self, ctx: CompileContext) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError


REGISTRY: dict[str, type[Pass]] = {}


def register(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a pass available to flows under ``cls.name``."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"pass name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def check_order(flow: list[str]) -> None:
    """CompileError (one line, naming the pass and its predecessor) unless every pass of ``flow``
    comes after each pass of its ``after`` that ``flow`` holds. Names must be registered."""
    for i, name in enumerate(flow):
        for before in REGISTRY[name].after:
            if before in flow and before not in flow[:i]:
                raise CompileError(f"flow: pass {name!r} must run after {before!r}: put {before!r} before it")


def run_flow(ctx: CompileContext, flow: list[str]) -> CompileContext:
    """Apply each named pass whose ``match`` holds, in order, logging what it did.

    Raises CompileError for an unknown pass name (listing the known ones) or a flow that breaks
    a pass's order (:func:`check_order`), and lets the passes' own CompileErrors through.
    """
    unknown = [n for n in flow if n not in REGISTRY]
    if unknown:
        raise CompileError(f"unknown pass {unknown[0]!r}; known passes: {', '.join(sorted(REGISTRY))}")
    check_order(flow)
    for name in flow:
        p = REGISTRY[name]()
        if not p.match(ctx):
            continue
        start = time.perf_counter()
        result = p.transform(ctx)
        ctx.log.append(LogEntry(name, result.changed, result.summary, result.details, time.perf_counter() - start))
    return ctx
