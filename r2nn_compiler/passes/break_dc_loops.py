"""Pass ``break_dc_loops``: give every loop of inductors a tiny series resistance.

Why: SPICE computes a DC operating point before ``.ac`` (and ngspice honours ``noopac`` only for
circuits of R, L and C alone). In DC an inductor is a short, so a loop of inductors — a spring
coupling between two resonators closes one with their grounded inductors — makes the DC matrix
singular and the AC analysis fails. Transient runs with ``uic`` do not need it.

What: inductors are visited in graph order and joined with a union–find over their nets; an
inductor whose nets are already joined closes a loop and is split into itself plus a series
resistor of ``DC_BREAK_RATIO · 2π f_lo · |L|`` ohms (f_lo: the bottom of the model's band in
circuit hertz), a relative change of that branch's impedance of at most 1e-9 across the band.
Safe after mapping and scaling, before quantisation (the resistor is not a part to buy: its BOM
row says so); the numpy proof that follows includes it. Changes nothing when there is no loop.
"""

from __future__ import annotations

import math

from ..circuit import Component
from ..reference import default_grid
from .base import CompileContext, Pass, PassResult, register

DC_BREAK_RATIO = 1e-9


def _find(parent: dict[str, str], net: str) -> str:
    while parent.setdefault(net, net) != net:
        parent[net] = parent[parent[net]]
        net = parent[net]
    return net


@register
class BreakDcLoops(Pass):
    name = "break_dc_loops"

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.graph
        f_lo = float(default_grid(ctx.model, 2)[0]) / ctx.time_scale
        parent: dict[str, str] = {}
        split = []
        for comp in graph.components_of("L"):
            a, b = (_find(parent, n) for n in comp.nodes)
            if a != b:
                parent[a] = b
                continue
            split.append(comp)
        for comp in split:
            mid = f"{comp.name.lower()}_dc"
            r = DC_BREAK_RATIO * 2 * math.pi * f_lo * abs(comp.value)
            inductor = Component(comp.name, "L", (comp.nodes[0], mid), comp.value, origin=comp.origin,
                                 attrs=dict(comp.attrs))
            resistor = Component(graph.next_designator("R"), "R", (mid, comp.nodes[1]), r,
                                 origin=f"DC loop break for {comp.name} (not a part: wiring resistance)",
                                 attrs={"series": "wiring"})
            graph.replace(comp.name, inductor, resistor)
        names = ", ".join(c.name for c in split)
        return PassResult(bool(split), f"{len(split)} inductor loop(s) broken" + (f" at {names}" if split else ""),
                          {"split": [c.name for c in split]})
