"""What the compiler passes record on components: roles, part information, op-amp records.

A component's role in the model carries in ``Component.attrs`` under the keys below; what it is
as a part to buy (series, tolerance, ideal value, pairing) in its typed ``Component.part``
(:class:`PartInfo`). :class:`Role` and :class:`Series` are ``str`` enums, so they compare equal
to, and serialise as, their text. :func:`opamps` derives the op-amp list from the graph itself,
so it does not depend on which pass ran last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

#: ``attrs`` keys: the component's :class:`Role`, the model element it realises (resonator
#: name, ``"a--b"`` for a coupling, the input name for a drive), what an active part realises.
ROLE = "role"
ELEMENT = "element"
REALISES = "realises"


class Role(str, Enum):
    """What a component does in the realised circuit."""

    MASS = "mass"
    STIFFNESS = "stiffness"
    DAMPING = "damping"
    DAMPER_COUPLING = "damper_coupling"
    SPRING_COUPLING = "spring_coupling"
    DRIVE = "drive"
    BUFFER = "buffer"
    SENSE = "sense"
    READOUT = "readout"
    WIRING = "wiring"  # a DC loop breaker: not a part
    PARASITIC = "parasitic"  # a modelled loss: not a part
    ACTIVE = "active"  # an op-amp realisation (negative element, GIC)

    def __str__(self) -> str:
        return self.value


class Series(str, Enum):
    """Series tags of the BOM other than an E-series name (``E96``, ...)."""

    WIRING = "wiring"
    PARASITIC = "parasitic"
    IDEAL = "ideal"  # no part realises it as it stands
    EXACT = "exact"  # a positive R, L, C not quantised
    OPAMP = "op-amp"
    SUBCIRCUIT = "subcircuit"
    PART = "part"  # a device by part number
    REFERENCE = "reference"  # a voltage reference

    def __str__(self) -> str:
        return self.value


#: Roles (and series) of components that are modelled, not bought.
NOT_PARTS = (Role.WIRING, Role.PARASITIC)


@dataclass(frozen=True)
class PartInfo:
    """A component as a part (``Component.part``; None: nothing recorded, which the BOM shows
    as ``exact`` or ``ideal``).

    ``series``: an E-series name (``E96``...) or a :class:`Series` tag (``parasitic``, ``ideal``);
    ``tolerance``: a fraction (0.01 for 1 %), None when not known; ``ideal_value``: the value
    (SI, the component's unit) it was quantised from, None when not quantised; ``pair``: for one
    of a quantised pair, how the two are wired (``"series"`` or ``"parallel"``), with
    ``pair_parts`` both designators (first the one that kept the original's name).
    """

    series: str
    tolerance: float | None = None
    ideal_value: float | None = None
    pair: str | None = None
    pair_parts: tuple[str, ...] = ()


def series_of(comp) -> str | None:
    """``comp.part.series``, None when ``comp`` records no part."""
    return comp.part.series if comp.part is not None else None


def tolerance_of(comp) -> float | None:
    """``comp.part.tolerance``, None when ``comp`` records no part."""
    return comp.part.tolerance if comp.part is not None else None


def ideal_value_of(comp, default: float) -> float:
    """``comp.part.ideal_value`` (the value it was quantised from), else ``default``."""
    part = comp.part
    return part.ideal_value if part is not None and part.ideal_value is not None else default


@dataclass(frozen=True)
class OpampRecord:
    """One op-amp of the realised circuit: its X designator, the model element it serves, what
    it realises and its output net (which the headroom check saves)."""

    designator: str
    element: str
    realises: str
    output_net: str

    def as_dict(self) -> dict[str, str]:
        """The manifest's ``opamps`` entry."""
        return asdict(self)


def opamps(graph) -> list[OpampRecord]:
    """Every op-amp of ``graph``: the active realisations (X with role ``active``) in component
    order, then the output buffers' op-amps (X with role ``buffer``, realising ``output buffer``)."""
    xs = graph.components_of("X")
    active = [OpampRecord(c.name, c.attrs.get(ELEMENT, ""), c.attrs.get(REALISES, ""), c.nodes[-1])
              for c in xs if c.attrs.get(ROLE) == Role.ACTIVE]
    buffers = [OpampRecord(c.name, c.attrs.get(ELEMENT, ""), "output buffer", c.nodes[-1])
               for c in xs if c.attrs.get(ROLE) == Role.BUFFER]
    return active + buffers
