"""Pass ``map_force_current``: lower the model by the force–current analogy.

Preconditions: no circuit graph yet; the model's analogy is force_current. Always realisable
(any coupling topology). Produces ideal elements, full precision, negative values kept as
negative R or L (realising them is a later pass's job):

* resonator i → net ``n<i>`` with grounded C = m, L = 1/k, R = 1/c (no R when c = 0);
  the net voltage in volts equals the velocity in m/s;
* damper coupling → resistor 1/c_ij between the two nets; spring coupling → inductor 1/k_ij;
* input k → subcircuit port ``in<k>``; each drive → VCCS ``G`` of transconductance b_ki from the
  input port into the node (``G 0 n in 0 b`` injects b·V(in) into n);
* output j → port ``out<j>`` driven by a unity VCVS buffer from its resonator's net, so loading
  the port never disturbs the network and two classes may read one resonator; a linear readout
  layer's model has no outputs but one tap ``tap<j>`` per resonator it reads, buffered the same
  way (:func:`base.observed_nodes`).

Net and designator names are derived from positions, never from user text; user names appear
only in each component's ``origin``.
"""

from __future__ import annotations

from ..circuit import CircuitGraph, Component, Port
from .base import ELEMENT, ROLE, CompileContext, Pass, PassResult, PortMap, observed_nodes, register


def resonator_net(index: int) -> str:
    return f"n{index + 1}"


@register
class MapForceCurrent(Pass):
    name = "map_force_current"

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is None and ctx.model.analogy == "force_current"

    def transform(self, ctx: CompileContext) -> PassResult:
        model = ctx.model
        graph = CircuitGraph(title=f"r2nn model {model.name} (force-current)")
        index = {r.name: i for i, r in enumerate(model.resonators)}
        for k, inp in enumerate(model.inputs):
            graph.add_port(Port(f"in{k + 1}", "input", inp.name))
        observed = observed_nodes(model)
        for o in observed:
            graph.add_port(Port(o.port, o.role, o.label))

        for i, r in enumerate(model.resonators):
            net = resonator_net(i)
            origin = f"resonator {r.name}"
            graph.add(Component(graph.next_designator("C"), "C", (net, "0"), r.mass, origin=f"{origin} mass",
                                attrs={ROLE: "mass", ELEMENT: r.name}))
            graph.add(Component(graph.next_designator("L"), "L", (net, "0"), 1.0 / r.stiffness,
                                origin=f"{origin} stiffness", attrs={ROLE: "stiffness", ELEMENT: r.name}))
            if r.damping != 0:
                graph.add(Component(graph.next_designator("R"), "R", (net, "0"), 1.0 / r.damping,
                                    origin=f"{origin} damping", attrs={ROLE: "damping", ELEMENT: r.name}))
        for c in model.couplings:
            a, b = resonator_net(index[c.a]), resonator_net(index[c.b])
            kind = "R" if c.kind == "damper" else "L"
            graph.add(Component(graph.next_designator(kind), kind, (a, b), 1.0 / c.value,
                                origin=f"{c.kind} coupling {c.a} -- {c.b}",
                                attrs={ROLE: f"{c.kind}_coupling", ELEMENT: f"{c.a}--{c.b}"}))
        for k, inp in enumerate(model.inputs):
            for node, weight in inp.drives:
                if weight != 0:
                    graph.add(Component(graph.next_designator("G"), "G", ("0", resonator_net(index[node]),
                                        f"in{k + 1}", "0"), weight, origin=f"input {inp.name} -> {node}",
                                        attrs={ROLE: "drive", ELEMENT: node}))
        for o in observed:
            graph.add(Component(graph.next_designator("E"), "E", (o.port, "0",
                                resonator_net(index[o.node]), "0"), 1.0, origin=f"{o.what} buffer",
                                attrs={ROLE: "buffer", ELEMENT: o.node}))

        ctx.graph = graph
        ctx.inputs = [PortMap(inp.name, f"in{k + 1}") for k, inp in enumerate(model.inputs)]
        ctx.outputs = [PortMap(o.label, o.port, node=o.node, role=o.role) for o in observed]
        ctx.sense = "node voltage of the resonator net, buffered by a unity VCVS onto the output port"
        counts = {k: v for k, v in graph.counts().items() if v}
        return PassResult(True, f"{len(model.resonators)} resonators → " +
                          ", ".join(f"{v} {k}" for k, v in counts.items()), {"counts": counts})
