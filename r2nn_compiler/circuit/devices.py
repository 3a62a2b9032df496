"""Non-linear and time-varying elements of the circuit IR: what the on-circuit readout is built of.

The linear network (R, L, C, G, E, V, H, X) is what the MNA proves. The readout adds diodes
``D``, bipolar transistors ``Q``, voltage-controlled switches ``S`` (each naming a
:class:`DeviceModel` of its subcircuit definition), behavioural sources ``B`` (a
:class:`Behaviour`) and timing sources (a ``V`` with a :class:`Waveform`). They live in
subcircuit definitions only, instantiated by the graph's ``readout`` instance, so the MNA never
sees them (see :func:`is_linear_definition`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Kinds of non-linear elements, with their node counts: D (anode, cathode), Q (collector,
#: base, emitter), S (n+, n−, control+, control−), B (n+, n−).
DEVICE_NODE_COUNTS = {"D": 2, "Q": 3, "S": 4, "B": 2}

#: Kinds that name a :class:`DeviceModel`.
MODEL_KINDS = ("D", "Q", "S")

#: SPICE ``.model`` types a :class:`DeviceModel` may have.
MODEL_TYPES = ("D", "NPN", "PNP", "SW")

#: Quantities a behavioural source sets: its voltage or its current.
QUANTITIES = ("V", "I")


@dataclass(frozen=True)
class DeviceModel:
    """A ``.model`` card local to a subcircuit definition: ``name``, SPICE ``type`` (one of
    :data:`MODEL_TYPES`) and its public parameters in SI units, in card order."""

    name: str
    type: str
    params: tuple[tuple[str, float], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Behaviour:
    """A B-source's law: ``quantity`` ``"V"`` (its voltage) or ``"I"`` (its current, from n+
    through the source to n−) equals ``expr``, a compiler-built ngspice expression over
    ``v(<net of the same scope>)``, numbers, ``+ - * /``, ``u()``, ``ln()`` and ``max()``."""

    quantity: str
    expr: str


@dataclass(frozen=True)
class Waveform:
    """The time function of an independent ``V`` source, written with its keyword: DC at the
    component's ``value`` when ``pwl`` is empty (``dc <value>``), else the piecewise-linear
    points ``((t, v), ...)`` in seconds and volts (``pwl(t v ...)``)."""

    pwl: tuple[tuple[float, float], ...] = ()


def is_nonlinear(comp) -> bool:
    """True for a D, Q, S, B or a V with a waveform (a timing or reference source)."""
    return comp.kind in DEVICE_NODE_COUNTS or comp.waveform is not None


def is_linear_definition(name: str, subcircuits: dict) -> bool:
    """True when subcircuit ``name`` (and every one it instantiates) holds linear elements only."""
    defn = subcircuits[name]
    return not any(is_nonlinear(c) or (c.kind == "X" and not is_linear_definition(c.subckt, subcircuits))
                   for c in defn.components)
