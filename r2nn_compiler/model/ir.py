"""The model IR: a resonant recurrent network as plain, immutable data in SI units.

Mechanical view (the normative semantics)::

    m_i dv_i/dt = Σ_k b_ki u_k(t) − c_i v_i − k_i x_i − Σ_dampers c_ij (v_i − v_j)
                  − Σ_springs k_ij (x_i − x_j),          dx_i/dt = v_i

mass in kg, stiffness in N/m, damping in N·s/m, forces per unit of input. Locations (``loc``)
point back into the source file for error messages and never take part in equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import Location

ANALOGIES = ("force_current", "force_voltage")
COUPLING_KINDS = ("damper", "spring")
#: ``rms``: RMS of the samples in the window (the conformance cases' definition);
#: ``rms_continuous``: RMS of the continuous-time waveform over the window, what an analog
#: mean-square detector integrates (see :mod:`r2nn_compiler.numerics.window_energy`).
RMS_CONTINUOUS = "rms_continuous"
#: ``linear``: a linear readout layer over log mean squares of resonators over segments of the
#: window (:class:`Feature`, :class:`ClassScore`); the model then has no ``outputs``.
LINEAR = "linear"
READOUT_KINDS = ("rms", RMS_CONTINUOUS, LINEAR)
#: The feature laws a linear readout may declare (``law diode (...);``); without one a feature
#: is the log mean square ln(MS + floor).
DIODE = "diode"
LAWS = (DIODE,)


def _loc() -> Location | None:
    return field(default=None, compare=False, repr=False)


def _field_locs() -> dict[str, Location]:
    return field(default_factory=dict, compare=False, repr=False)


class _Located:
    """Mixin: where an element, or one of its fields, came from (for error messages)."""

    def where(self, name: str | None = None) -> Location | None:
        return self.field_locs.get(name, self.loc) if name else self.loc


@dataclass(frozen=True)
class Resonator(_Located):
    """One damped resonator: mass (kg) > 0, stiffness (N/m) > 0, damping (N·s/m) of any sign."""

    name: str
    mass: float
    stiffness: float
    damping: float
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()

    @property
    def f0_hz(self) -> float:
        """Undamped natural frequency sqrt(k/m)/2π in Hz."""
        return math.sqrt(self.stiffness / self.mass) / (2 * math.pi)

    @property
    def q(self) -> float:
        """Quality factor m·ω0/c (infinite when undamped, negative when c < 0)."""
        if self.damping == 0:
            return math.inf
        return self.mass * 2 * math.pi * self.f0_hz / self.damping


@dataclass(frozen=True)
class Coupling(_Located):
    """A damper (N·s/m) or spring (N/m) between resonators ``a`` and ``b``; any sign, nonzero."""

    a: str
    b: str
    kind: str
    value: float
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


@dataclass(frozen=True)
class Input(_Located):
    """An input signal ``name`` applying force ``weight · u(t)`` to each driven resonator."""

    name: str
    drives: tuple[tuple[str, float], ...]
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


@dataclass(frozen=True)
class Output(_Located):
    """One class: its feature is ``weight · RMS(v_node)`` over the readout window."""

    cls: str
    node: str
    weight: float = 1.0
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


@dataclass(frozen=True)
class Feature(_Located):
    """One feature of a linear readout: φ = ln(MS + floor), MS the continuous-time mean square
    (1/(s_{k+1} − s_k)) ∫ v_node(t)² dt over segment ``segment`` (k, from 0) of the window; under
    a :class:`DiodeLaw` the passive cell's reading ψ of ``gain`` · v_node (``gain`` in V per node
    unit, > 0; it must stay 1 under the log law)."""

    name: str
    node: str
    segment: int = 0
    gain: float = 1.0
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


@dataclass(frozen=True)
class ClassScore(_Located):
    """One class of a linear readout: score s = bias + Σ weight_f · φ_f over the named features
    (``weights``: (feature name, weight) pairs in source order; absent features weigh 0)."""

    cls: str
    bias: float
    weights: tuple[tuple[str, float], ...]
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


@dataclass(frozen=True)
class DiodeLaw(_Located):
    """The passive diode cell's law for every feature of a linear readout (``law diode (...)``).

    Feature f on segment [t0, t1] of the window [start, stop] reads, in volts,

        ψ_f = nvt · ln(1 + rate ∫_{t0}^{t1} e^{−rate (t1 − t)} (e^{x(t)} − 1) dt) · e^{−(stop − t1)/hold},
        x(t) = clip(gain_f · v_node(t), ±clip) / nvt

    ``nvt`` n·Vt of the diode (V, > 0), ``rate`` k = Is/(C n Vt) (1/s, > 0), ``clip`` the tap's
    swing limit (V, > 0), ``hold`` the droop time constant of a held reading (s, > 0; None: no
    droop). Class scores s_j = β_j + Σ_f A_jf ψ_f (ψ in volts).
    """

    nvt: float
    rate: float
    clip: float
    hold: float | None = None
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()

    @property
    def kind(self) -> str:
        return DIODE


@dataclass(frozen=True)
class Readout(_Located):
    """The readout over the window ``start ≤ t ≤ stop`` (seconds).

    ``kind`` ``"rms"``: each output's feature is sqrt of the mean of v² over the samples with
    start ≤ t ≤ stop; ``"rms_continuous"``: sqrt((1/(stop − start)) ∫ v(t)² dt over the window)
    of the exact response to the input held linear between samples (the feature an analog
    detector computes); ``"linear"``: the layer ``features``/``classes`` over ``segments`` (the
    K + 1 boundaries, first ``start``, last ``stop``) with ``floor`` ε > 0 (node units²), or,
    when ``law`` is a :class:`DiodeLaw`, the diode cell's readings (``floor`` then optional:
    0 or > 0, and unused); the other kinds leave those fields empty.
    """

    kind: str
    start: float
    stop: float
    segments: tuple[float, ...] = ()
    floor: float = 0.0
    features: tuple[Feature, ...] = ()
    classes: tuple[ClassScore, ...] = ()
    law: DiodeLaw | None = None
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()

    @property
    def is_linear(self) -> bool:
        return self.kind == LINEAR

    @property
    def boundaries(self) -> tuple[float, ...]:
        """The segment boundaries (``(start, stop)`` when no segments are given)."""
        return self.segments or (self.start, self.stop)

    def feature_matrix(self) -> tuple[list[str], list[float], list[list[float]]]:
        """(classes, biases, A) with A[j][f] the weight of feature f (in ``features`` order)
        for class j (0 where the class does not name it)."""
        index = {f.name: i for i, f in enumerate(self.features)}
        rows = []
        for c in self.classes:
            row = [0.0] * len(self.features)
            for name, w in c.weights:
                row[index[name]] = w
            rows.append(row)
        return [c.cls for c in self.classes], [c.bias for c in self.classes], rows


@dataclass(frozen=True)
class Model:
    """A whole R²NN. ``band`` is (low_hz, high_hz) in model time, or None."""

    name: str
    resonators: tuple[Resonator, ...]
    couplings: tuple[Coupling, ...]
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    readout: Readout | None
    analogy: str = "force_current"
    band: tuple[float, float] | None = None
    loc: Location | None = _loc()
    source: str | None = field(default=None, compare=False, repr=False)

    @property
    def resonator_names(self) -> list[str]:
        return [r.name for r in self.resonators]

    def index(self, name: str) -> int:
        """Position of resonator ``name`` (KeyError if absent)."""
        return {r.name: i for i, r in enumerate(self.resonators)}[name]

    @property
    def classes(self) -> list[str]:
        """Class names: the outputs' or, for a linear readout, the layer's."""
        if self.readout is not None and self.readout.is_linear:
            return [c.cls for c in self.readout.classes]
        return [o.cls for o in self.outputs]

    @property
    def read_nodes(self) -> list[str]:
        """Resonators a linear readout reads (each once, in order of first use); else the outputs'."""
        if self.readout is not None and self.readout.is_linear:
            return list(dict.fromkeys(f.node for f in self.readout.features))
        return [o.node for o in self.outputs]
