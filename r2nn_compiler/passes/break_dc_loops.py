"""Pass ``break_dc_loops``: make the DC operating point of an ideal network well defined.

Why: SPICE computes a DC operating point before ``.ac`` (ngspice skips it with ``noopac`` only
for decks without XSPICE devices, and the shipped testbench has a ``filesource``). In DC an
inductor is a short and a capacitor is open, so ideal networks can be singular there:

* a loop of inductors (force-current: a spring coupling closes one with two grounded inductors)
  leaves the loop current undetermined;
* a net reached only through capacitors (force-voltage: the dual of that loop) floats.

What: inductors are joined with a union–find over their nets; one that closes a loop gets a
series resistor of ``DC_BREAK_RATIO · 2π f_lo · |L|`` ohms. Then every cluster of nets with no
DC path to ground (through R, L, V, E and H) gets a shunt resistor to ground at its most
capacitive net, of conductance ``DC_BREAK_RATIO · 2π f_lo`` times the capacitance there. Either way the impedance of the
touched branch changes by at most DC_BREAK_RATIO across the band (f_lo: the band's bottom in
circuit hertz), so H(jω) moves by about that much; the numpy proof that follows measures it.
Safe after mapping and scaling, before quantisation: the added resistors are wiring, not parts
(role ``wiring``: left out of quantisation and the BOM). Changes nothing when the network is already well defined.
"""

from __future__ import annotations

import math

from ..circuit import Component
from ..reference import default_grid
from .base import MAPPING, ROLE, CompileContext, Pass, PassResult, register

DC_BREAK_RATIO = 1e-10

#: Kinds whose first two nodes are joined by a DC path (voltage-defined or resistive).
_DC_PATH_KINDS = ("R", "L", "V", "E", "H")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, net: str) -> str:
        while self.parent.setdefault(net, net) != net:
            self.parent[net] = self.parent[self.parent[net]]
            net = self.parent[net]
        return net

    def union(self, a: str, b: str) -> bool:
        """Join two nets; False when they were joined already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


@register
class BreakDcLoops(Pass):
    name = "break_dc_loops"
    after = MAPPING + ("realise_negative", "quantise", "realise_inductors", "realise_drive")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.graph
        w_lo = 2 * math.pi * float(default_grid(ctx.model, 2)[0]) / ctx.time_scale
        inductors = _UnionFind()
        loops = [c for c in graph.components_of("L") if not inductors.union(*c.nodes[:2])]
        for comp in loops:
            mid = f"{comp.name.lower()}_dc"
            graph.replace(comp.name,
                          Component(comp.name, "L", (comp.nodes[0], mid), comp.value, origin=comp.origin,
                                    attrs=dict(comp.attrs), part=comp.part),
                          Component(graph.next_designator("R"), "R", (mid, comp.nodes[1]),
                                    DC_BREAK_RATIO * w_lo * abs(comp.value),
                                    origin=f"DC loop break for {comp.name}", attrs={ROLE: "wiring"}))

        paths = _UnionFind()
        for comp in graph.components:
            if comp.kind in _DC_PATH_KINDS:
                paths.union(*comp.nodes[:2])
        ground = paths.find("0")
        ports = {p.name for p in graph.ports}
        floating: dict[str, list[str]] = {}
        for net in graph.nets():
            if net not in ports and paths.find(net) != ground:
                floating.setdefault(paths.find(net), []).append(net)
        shunts = []
        for nets in floating.values():
            caps = {n: sum(abs(c.value) for c in graph.components_at(n) if c.kind == "C") for n in nets}
            net = max(nets, key=lambda n: caps[n])  # a cluster floats in DC only through capacitors
            cap = caps[net]
            resistor = Component(graph.next_designator("R"), "R", (net, "0"), 1.0 / (DC_BREAK_RATIO * w_lo * cap),
                                 origin=f"DC path for floating net {net}", attrs={ROLE: "wiring"})
            graph.add(resistor)
            shunts.append(net)
        changed = bool(loops or shunts)
        summary = (f"{len(loops)} inductor loop(s) broken, {len(shunts)} floating net cluster(s) tied to ground"
                   if changed else "DC operating point already well defined")
        return PassResult(changed, summary, {"loops": [c.name for c in loops], "floating": shunts})
