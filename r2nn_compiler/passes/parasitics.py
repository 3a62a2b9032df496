"""Pass ``parasitics``: add real inductors' and capacitors' losses, restore each resonator's f0 and Q.

Matches: ``options.parasitics`` and no losses yet. Precondition: values in circuit units
(after ``scale``). Adds a resistor of role ``parasitic`` (``attrs[IN_SERIES_WITH]`` = its
element) in series with every inductor part (ω_c·L/``options.inductor_q``, ohm) and capacitor
part (``options.cap_esr_ohm``), then restores each resonator's f0 and Q exactly by moving its
damping resistor and mass capacitor (a negative damping is left for ``realise_negative``).
Derivation: docs/passes.md.
"""

from __future__ import annotations

import math

from ..circuit import GROUND, CircuitGraph, Component
from ..reference import default_grid
from ..units import format_si
from ..circuit.annotations import NOT_PARTS, PartInfo, Role, Series
from .base import ELEMENT, MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common.response import circuit_response, reference_response, relative_error
from .common.tanks import IN_SERIES_WITH, Tank, model_band_hz, relative_change, resonator_tanks, restoring_values

PARASITIC = Role.PARASITIC

#: The largest inductance (H) a wound part class is assumed to reach with the modelled Q_L in
#: the audio band (leaded and toroidal chokes; shielded SMD power inductors stop near 10 mH).
#: An assumption, not a datasheet figure: above it the log names the part and the alternatives.
WOUND_L_MAX_H = 1.0


def band_centre_rad_s(ctx: CompileContext) -> float:
    """ω_c: the geometric centre of the model band in circuit rad/s."""
    lo, hi = model_band_hz(ctx.model)
    return 2 * math.pi * math.sqrt(lo * hi) / ctx.time_scale


def add_series_resistor(graph: CircuitGraph, comp: Component, ohms: float, origin: str, attrs: dict,
                        part: PartInfo | None = None) -> Component:
    """Split ``comp``'s second terminal off through a fresh net and put a resistor of ``ohms``
    (with ``attrs`` and ``part``) there, so the two are in series between ``comp``'s nets.
    Returns the resistor."""
    designator = graph.next_designator("R")
    mid = _fresh_net(graph, f"{comp.name}_{designator}".lower())
    graph.replace(comp.name, Component(comp.name, comp.kind, (comp.nodes[0], mid), comp.value, comp.unit,
                                       comp.origin, comp.subckt, dict(comp.attrs), part=comp.part))
    return graph.add(Component(designator, "R", (mid, comp.nodes[1]), ohms, origin=origin, attrs=attrs, part=part))


@register
class Parasitics(Pass):
    name = "parasitics"
    after = MAPPING + ("scale", "realise_negative")

    def match(self, ctx: CompileContext) -> bool:
        return (ctx.options.parasitics and ctx.graph is not None
                and not any(c.attrs.get(ROLE) == PARASITIC for c in ctx.graph.components))

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.require_graph(self.name)
        options = ctx.options
        freqs = default_grid(ctx.model, options.check_freqs)
        reference = reference_response(ctx.model, freqs)
        ideal = [(t.name, *t.f0_q(ctx.time_scale)) for t in resonator_tanks(ctx.model, graph)]

        w_c = band_centre_rad_s(ctx)
        added = _add_losses(graph, options, w_c)
        if not (added["L"] or added["C"]):
            return PassResult(False, "no inductor or capacitor parts get a loss (zero ESR and infinite Q_L, "
                              "or no positive L and C)", {"inductor_losses": 0, "capacitor_losses": 0})
        err_lossy = relative_error(circuit_response(ctx, freqs), reference)

        tanks = resonator_tanks(ctx.model, graph)
        lossy = [t.f0_q(ctx.time_scale) for t in tanks]
        negative, unrestorable = [], []
        for tank, (_, f0_ideal, q_ideal) in zip(tanks, ideal):
            values = restoring_values(tank, f0_ideal, q_ideal, ctx.time_scale)
            if values is None:
                unrestorable.append(tank.name)
                continue
            tank.capacitor.value = values[1]
            _set_damping(graph, tank, values[0])
            if tank.damping.value < 0:
                negative.append(tank.damping.name)
        compensated = [t.f0_q(ctx.time_scale) for t in tanks]
        err = relative_error(circuit_response(ctx, freqs), reference)

        resonators = [{"name": name, "f0_hz": f0, "q": q, "f0_hz_lossy": fl, "q_lossy": ql,
                       "f0_hz_compensated": fc, "q_compensated": qc}
                      for (name, f0, q), (fl, ql), (fc, qc) in zip(ideal, lossy, compensated)]
        shifts = {key: _worst(resonators, key, ideal_key) for key, ideal_key in
                  [("f0_hz_lossy", "f0_hz"), ("q_lossy", "q"), ("f0_hz_compensated", "f0_hz"),
                   ("q_compensated", "q")]}
        summary = (f"{added['L']} inductor series resistance(s) (Q_L = {options.inductor_q:g} at "
                   f"{format_si(w_c / (2 * math.pi), 'Hz')}), {added['C']} ESR(s) of "
                   f"{format_si(options.cap_esr_ohm, 'ohm')}; worst f0 shift {shifts['f0_hz_lossy']:.2%}, "
                   f"Q shift {shifts['q_lossy']:.2%}, after compensation {shifts['f0_hz_compensated']:.1e} and "
                   f"{shifts['q_compensated']:.1e}; H(jω) error {err_lossy:.2e} → {err:.2e}")
        beyond = [c.name for c in graph.components if c.kind == "L" and c.value > WOUND_L_MAX_H
                  and c.attrs.get(ROLE) not in NOT_PARTS]
        if beyond:
            summary += (f"; no wound-inductor class reaches {', '.join(beyond)} (> {WOUND_L_MAX_H:g} H with Q_L "
                        f"{options.inductor_q:g}): map the band higher (--band-hz, a time-scaled sensor) or "
                        f"build them as GICs (--inductors gic)")
        if negative:
            summary += f"; negative damping left for realise_negative: {', '.join(negative)}"
        if unrestorable:
            summary += f"; no real damping restores f0 and Q of: {', '.join(unrestorable)}"
        return PassResult(True, summary, {
            "band_centre_hz": w_c / (2 * math.pi), "inductor_losses": added["L"], "capacitor_losses": added["C"],
            "resonators": resonators, "h_relative_error_lossy": err_lossy, "h_relative_error": err,
            "negative_damping": negative, "unrestorable": unrestorable, "beyond_part_classes": beyond})


def _add_losses(graph: CircuitGraph, options, w_c: float) -> dict[str, int]:
    """Put each inductor part's series resistance (ω_c·L/Q_L; none for one that becomes a GIC)
    and each capacitor part's ESR in series with it; the count added per kind."""
    added = {"L": 0, "C": 0}
    for comp in list(graph.components):
        if comp.kind not in "LC" or comp.value <= 0 or comp.attrs.get(ROLE) in NOT_PARTS:
            continue
        if comp.kind == "L" and options.inductors == "gic" and comp.attrs.get(ROLE) == Role.STIFFNESS:
            continue  # realise_inductors makes it a GIC: no winding
        ohms = w_c * comp.value / options.inductor_q if comp.kind == "L" else options.cap_esr_ohm
        if ohms == 0:
            continue
        what = "series resistance" if comp.kind == "L" else "ESR"
        add_series_resistor(graph, comp, ohms, f"{what} of {comp.name}",
                            {ROLE: PARASITIC, IN_SERIES_WITH: comp.name, ELEMENT: comp.attrs.get(ELEMENT, "")},
                            PartInfo(Series.PARASITIC))
        added[comp.kind] += 1
    return added


def _set_damping(graph: CircuitGraph, tank: Tank, d: float) -> None:
    """Give ``tank`` damping parameter ``d``, adding its damping resistor if it has none."""
    ohms = 1.0 / d if tank.parallel else d
    if tank.damping is not None:
        tank.damping.value = ohms
        return
    attrs = {ROLE: "damping", ELEMENT: tank.name}
    origin = f"resonator {tank.name} damping (loss compensation)"
    if tank.parallel:
        # Across the tank: the capacitor's first node is the resonator net, its other end ground.
        tank.damping = graph.add(Component(graph.next_designator("R"), "R", (tank.capacitor.nodes[0], GROUND), ohms,
                                           origin=origin, attrs=attrs))
    else:
        tank.damping = add_series_resistor(graph, graph.component(tank.capacitor.name), ohms, origin, attrs)


def _fresh_net(graph: CircuitGraph, base: str) -> str:
    taken = set(graph.nets())
    net, k = base, 1
    while net in taken:
        k += 1
        net = f"{base}{k}"
    return net


def _worst(resonators: list[dict], key: str, ideal_key: str) -> float:
    return max((relative_change(r[key], r[ideal_key]) for r in resonators), default=0.0)
