"""A resonator's damping resistor as the passes that load a resonator node see it: found, re-made
with less conductance (a load taken out of it), quantised like the drives (``realise_drive``, the
micropower readout's gain dividers)."""

from __future__ import annotations

import dataclasses

from ... import eseries
from ...circuit import GROUND, CircuitGraph, Component
from ..base import ELEMENT, ROLE, CompileContext
from .realise import realise

#: Relative error a drive or damping resistor (one part or a pair) aims at, then 3× and 10×
#: it (the targets ``quantise`` trims couplings with).
PAIR_TARGETS = (1e-3, 3e-3, 1e-2)


@dataclasses.dataclass
class _Damping:
    """The positive damping resistors (one part or a quantised pair) of resonator net ``net``
    and their realised conductance (S)."""

    net: str
    parts: list[Component]
    conductance: float


def _damping_of(graph: CircuitGraph, net: str) -> _Damping | None:
    """The positive damping part (or quantised pair) of ``net`` to ground; None without one."""
    for c in graph.components_at(net):
        if c.kind != "R" or c.attrs.get(ROLE) != "damping" or c.value <= 0:
            continue
        pair = c.part.pair_parts if c.part is not None and c.part.pair else None
        parts = [graph.component(name) for name in pair] if pair else [c]
        ends = [n for p in parts for n in p.nodes]
        if {n for n in ends if ends.count(n) == 1 or len(parts) == 1 or c.part.pair == "parallel"} != {net, GROUND}:
            continue
        return _Damping(net, parts, 1.0 / _combined_ohms(parts))
    return None


def _combined_ohms(parts: list[Component]) -> float:
    """The resistance of one part, or of a quantised pair as it is wired (``part.pair``)."""
    if len(parts) == 1:
        return parts[0].value
    if parts[0].part.pair == "series":
        return sum(p.value for p in parts)
    return 1.0 / sum(1.0 / p.value for p in parts)


def _element_at(graph: CircuitGraph, net: str) -> str:
    return next((c.attrs.get(ELEMENT) for c in graph.components_at(net) if c.attrs.get(ELEMENT)), net)


def _quantised(ctx: CompileContext, comp: Component) -> tuple[Component, float]:
    """``comp`` as an E-series part or pair within the retune target (hardware flows; else
    itself), and its realised resistance (ohm)."""
    if ctx.options.exact:
        return comp, comp.value
    series = ctx.options.series_overrides.get(comp.name, ctx.options.series.get("R", "E96"))
    pair = eseries.best_pair(comp.value, series, PAIR_TARGETS[0])
    for target in PAIR_TARGETS[1:]:
        if pair.rel_error <= target:
            break
        pair = eseries.best_pair(comp.value, series, target)
    parts = realise(ctx.graph, comp, pair, series, ctx.options.tolerance["R"])
    return parts[0], _combined_ohms(parts)


def _absorb(ctx: CompileContext, net: str, damping: _Damping | None, load: float) -> None:
    """Lower ``net``'s damping conductance by ``load`` (S): its damping re-made, or, without one
    (exact flows only), a negative resistor of −1/load."""
    graph = ctx.graph
    if damping is None:
        graph.add(Component(graph.next_designator("R"), "R", (net, GROUND), -1.0 / load,
                            origin=f"resonator {_element_at(graph, net)} damping (drive loading compensation)",
                            attrs={ROLE: "damping", ELEMENT: _element_at(graph, net)}))
        return
    first = damping.parts[0]
    target = 1.0 / (damping.conductance - load)
    for extra in damping.parts[1:]:
        graph.remove(extra.name)
    remade = dataclasses.replace(first, nodes=(net, GROUND), value=target, part=None, attrs=dict(first.attrs))
    graph.replace(first.name, remade)
    _quantised(ctx, remade)
