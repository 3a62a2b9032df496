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
#: mean-square detector integrates (see :mod:`r2nn_compiler.window_energy`).
RMS_CONTINUOUS = "rms_continuous"
READOUT_KINDS = ("rms", RMS_CONTINUOUS)


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
class Readout(_Located):
    """The readout: RMS of each output's velocity over ``start ≤ t ≤ stop`` (seconds).

    ``kind`` ``"rms"``: sqrt of the mean of v² over the samples with start ≤ t ≤ stop;
    ``"rms_continuous"``: sqrt((1/(stop − start)) ∫ v(t)² dt over the window) of the exact
    response to the input held linear between samples (the feature an analog detector computes).
    """

    kind: str
    start: float
    stop: float
    loc: Location | None = _loc()
    field_locs: dict[str, Location] = _field_locs()


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
        return [o.cls for o in self.outputs]
