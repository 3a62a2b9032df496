"""A resonator's own elements as a quadratic (:class:`Tank`), found in a mapped graph by their
annotations; the values restoring its f0 and Q with losses; the model's band. Shared by
``scale``, ``parasitics``, ``quantise`` and ``realise_inductors``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from numpy.polynomial import polynomial as P

from ...circuit import CircuitGraph, Component
from ...errors import CompileError
from ...model import Model
from ...reference import default_grid
from ..base import ELEMENT, ROLE

#: ``attrs`` key of a resistor modelling the loss of the L or C it is in series with (the
#: designator of that element); set by ``parasitics``, read by :func:`resonator_tanks`.
IN_SERIES_WITH = "in_series_with"


def model_band_hz(model: Model) -> tuple[float, float]:
    """The model's band (low, high) in model Hz: ``model.band`` or the default grid's ends."""
    grid = default_grid(model, 2)
    return float(grid[0]), float(grid[-1])


@dataclass


class Tank:
    """A resonator's own elements, as the quadratic ``a·s² + b·s + c`` whose roots are its
    natural frequencies (circuit rad/s): ω0 = √(c/a), Q = √(a·c)/b.

    ``parallel`` (force-current: C = mass, L = stiffness, damping G = 1/R across them) or
    series (force-voltage: L = mass, C = stiffness, damping R in the loop); r_L and r_C are the
    resistances in series with L and with C (losses, see ``parasitics``):

    * parallel, from Y(s)·(r_L + sL)(1 + sC·r_C):
      a = LC(1 + G·r_C), b = C(r_L + r_C) + G(L + C·r_C·r_L), c = 1 + G·r_L;
    * series, from Z(s)·sC: a = LC, b = C(r_L + r_C + R), c = 1.
    """

    name: str
    parallel: bool
    inductor: Component
    capacitor: Component
    damping: Component | None
    inductor_loss_ohm: float = 0.0
    capacitor_loss_ohm: float = 0.0

    def damping_parameter(self) -> float:
        """G = 1/R in S (parallel) or R in ohm (series); 0 without a damping resistor."""
        if self.damping is None:
            return 0.0
        return 1.0 / self.damping.value if self.parallel else self.damping.value

    def coefficients(self) -> tuple[float, float, float]:
        """(a, b, c) of the present values."""
        L, C, d = self.inductor.value, self.capacitor.value, self.damping_parameter()
        rl, rc = self.inductor_loss_ohm, self.capacitor_loss_ohm
        if self.parallel:
            return L * C * (1 + d * rc), C * (rl + rc) + d * (L + C * rc * rl), 1 + d * rl
        return L * C, C * (rl + rc + d), 1.0

    def f0_q(self, time_scale: float) -> tuple[float, float]:
        """(f0 in model Hz, Q): ``time_scale`` (circuit s per model s) converts the frequency."""
        a, b, c = self.coefficients()
        q = math.sqrt(a * c) / b if b != 0 else math.inf
        return math.sqrt(c / a) / (2 * math.pi) * time_scale, q


def resonator_tanks(model: Model, graph: CircuitGraph) -> list[Tank]:
    """Every resonator's :class:`Tank`, in model order, found by ``role``/``element`` attrs
    (losses by :data:`IN_SERIES_WITH`). Raises CompileError when a resonator lacks its mass
    or stiffness element (the graph was not made by a mapping pass)."""
    own: dict[str, dict[str, Component]] = {}
    losses: dict[str, float] = {}
    for comp in graph.components:
        if comp.attrs.get(ROLE) in ("mass", "stiffness", "damping"):
            own.setdefault(comp.attrs.get(ELEMENT), {})[comp.attrs[ROLE]] = comp
        if IN_SERIES_WITH in comp.attrs:
            losses[comp.attrs[IN_SERIES_WITH]] = losses.get(comp.attrs[IN_SERIES_WITH], 0.0) + comp.value
    tanks = []
    for r in model.resonators:
        parts = own.get(r.name, {})
        if "mass" not in parts or "stiffness" not in parts:
            raise CompileError(f"resonator {r.name}: no mass/stiffness element in the circuit graph")
        parallel = parts["mass"].kind == "C"
        inductor, capacitor = ((parts["stiffness"], parts["mass"]) if parallel
                               else (parts["mass"], parts["stiffness"]))
        tanks.append(Tank(r.name, parallel, inductor, capacitor, parts.get("damping"),
                          losses.get(inductor.name, 0.0), losses.get(capacitor.name, 0.0)))
    return tanks


def restoring_values(tank: Tank, f0_hz: float, q: float, time_scale: float) -> tuple[float, float] | None:
    """(damping parameter d, capacitance in F) giving ``tank``, losses included, the natural
    frequency ``f0_hz`` (model Hz) and quality factor ``q`` (infinite: undamped) exactly; the
    capacitance is unchanged for a series loop. None when no real solution exists."""
    w0 = 2 * math.pi * f0_hz / time_scale
    L, C = tank.inductor.value, tank.capacitor.value
    rl, rc = tank.inductor_loss_ohm, tank.capacitor_loss_ohm
    if not tank.parallel:
        return 1.0 / (w0 * q * C) - rl - rc, C
    k = 1.0 / (w0 * w0 * L)
    p1, p2 = [1.0, rl], [1.0, rc]  # ascending powers of G
    bracket = P.polyadd(P.polyadd(P.polymul(p1, [(rl + rc) * k]), P.polymul([0.0, L], p2)),
                        P.polymul([0.0, rc * rl * k], p1))
    equation = P.polytrim(P.polysub(bracket, P.polymul(P.polymul(p1, p2), [1.0 / (w0 * q)])), 0.0)
    real = [float(r.real) for r in P.polyroots(equation) if abs(r.imag) <= 1e-9 * abs(r)]
    admissible = [g for g in real if P.polyval(g, p1) > 0 and P.polyval(g, p2) > 0]
    if not admissible:
        return None
    g_now = tank.damping_parameter()
    g = min(admissible, key=lambda x: abs(x - g_now))
    # One Newton step polishes the companion-matrix root to full precision.
    g -= P.polyval(g, equation) / P.polyval(g, P.polyder(equation))
    return g, P.polyval(g, p1) * k / P.polyval(g, p2)


def relative_change(value: float, reference: float) -> float:
    """|value/reference − 1|, 0 when both are infinite (an undamped resonator's Q)."""
    if math.isinf(value) and math.isinf(reference):
        return 0.0
    return abs(value / reference - 1)
