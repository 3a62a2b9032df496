"""Pass ``map_force_voltage``: lower the model by the force–voltage (impedance) analogy.

Matches: no graph yet and ``model.analogy == "force_voltage"``. Builds the planar dual of the
mechanical graph: one net per face, each mechanical edge a series branch (mass L = m in H,
spring C = 1/k in F, damper R = c in ohm), drives as VCVS ``E`` (V/V), outputs (or a linear
layer's taps) as 1-ohm CCVS ``H`` reading a 0 V sense source, so port volts = velocity in m/s.
CompileError, naming the Kuratowski subgraph, when the mechanical graph is not planar. Names
come from positions, never from user text. Derivation and orientation: docs/passes.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from ..circuit import CircuitGraph, Component, Port
from ..circuit.graph import CONTROL
from ..errors import CompileError
from ..model import Coupling, Model
from .base import ELEMENT, ROLE, CompileContext, Pass, PassResult, PortMap, observed_nodes, register

#: The mechanical ground's node in the mechanical graph; resonator i is node i (0-based).
GROUND_NODE = -1


@dataclass(frozen=True)
class _Part:
    """One series element of a dual branch: ``kind`` R, L, C, E or V with ``value`` in its
    unit; an E also names its control nets ``ctrl`` (it rises by value·V(ctrl) along the
    branch current)."""

    kind: str
    value: float
    origin: str
    ctrl: tuple[str, str] | None = None
    role: str = ""
    element: str = ""


def mechanical_graph(model: Model) -> nx.Graph:
    """Ground plus one node per resonator, a tie edge (i, ground) per resonator and one edge
    per coupled pair (i, j), i < j, whose data ``'couplings'`` lists that pair's couplings in
    model order. Nodes and edges are added in model order, so the embedding is deterministic."""
    index = {r.name: i for i, r in enumerate(model.resonators)}
    primal = nx.Graph()
    primal.add_node(GROUND_NODE)
    primal.add_edges_from((i, GROUND_NODE) for i in range(len(model.resonators)))
    for c in model.couplings:
        a, b = sorted((index[c.a], index[c.b]))
        primal.add_edge(a, b)
        primal.edges[a, b].setdefault("couplings", []).append(c)
    return primal


def planar_embedding(model: Model, primal: nx.Graph) -> nx.PlanarEmbedding:
    """A planar embedding of ``primal``; CompileError naming the obstruction if none exists."""
    planar, embedding = nx.check_planarity(primal)
    if not planar:
        _, kuratowski = nx.check_planarity(primal, counterexample=True)
        raise CompileError(f"force_voltage needs a planar mechanical graph; {_obstruction(model, kuratowski)}: "
                           "use force_current")
    return embedding


def _obstruction(model: Model, kuratowski: nx.Graph) -> str:
    """Describe a Kuratowski subgraph (a subdivision of K5 or K3,3) in user names."""
    def names(nodes) -> str:
        ordered = sorted(nodes, key=lambda n: (n == GROUND_NODE, n))
        return ", ".join("ground" if n == GROUND_NODE else model.resonators[n].name for n in ordered)

    corners = [n for n in kuratowski if kuratowski.degree(n) > 2]
    inner = [n for n in kuratowski if kuratowski.degree(n) == 2]
    through = f", some through {names(inner)}" if inner else ""
    if len(corners) == 5:
        resonators = [n for n in corners if n != GROUND_NODE]
        with_ground = " with ground" if GROUND_NODE in corners else ""
        return f"resonators {names(resonators)}{with_ground} form a K5 subdivision (all mutually coupled{through})"
    first = corners[0]
    across = _corner_neighbours(kuratowski, first)
    side = [n for n in corners if n not in across]
    return (f"{names(side)} and {names(across)} form a K3,3 subdivision "
            f"(each of {names(side)} coupled to each of {names(across)}{through})")


def _corner_neighbours(kuratowski: nx.Graph, corner: int) -> set[int]:
    """The corners (degree > 2) reached from ``corner`` along paths of degree-2 nodes."""
    reached = set()
    for step in kuratowski[corner]:
        prev, node = corner, step
        while kuratowski.degree(node) == 2:
            prev, node = node, next(n for n in kuratowski[node] if n != prev)
        reached.add(node)
    return reached


def face_nets(embedding: nx.PlanarEmbedding) -> dict[tuple[int, int], str]:
    """The net of the face on the right of every half-edge: ``"0"`` for the face of the first
    half-edge out of ground, ``f1``, ``f2``, ... for the others in discovery order."""
    net_of: dict[tuple[int, int], str] = {}
    first = (GROUND_NODE, next(iter(embedding.neighbors_cw_order(GROUND_NODE))))
    faces = 0
    for start in [first, *embedding.edges]:
        if start in net_of:
            continue
        net = f"f{faces}" if faces else "0"
        faces += 1
        half = start
        while half not in net_of:
            net_of[half] = net
            half = embedding.next_face_half_edge(*half)
    return net_of


def add_branch(graph: CircuitGraph, start: str, end: str, parts: list[_Part], prefix: str) -> list[Component]:
    """Add ``parts`` in series from net ``start`` to net ``end`` (possibly the same net: a
    bridge of the mechanical graph) through nets ``<prefix>_1``, ``<prefix>_2``, ...; each
    two-terminal part is oriented start → end. Returns the new components in order."""
    nets = [start] + [f"{prefix}_{k}" for k in range(1, len(parts))] + [end]
    added = []
    for part, a, b in zip(parts, nets, nets[1:]):
        # An E rises from a to b: its out_plus is the end-side net.
        nodes = (b, a, *part.ctrl) if part.kind == "E" else (a, b)
        added.append(graph.add(Component(graph.next_designator(part.kind), part.kind, nodes, part.value,
                                         origin=part.origin, attrs={ROLE: part.role, ELEMENT: part.element})))
    return added


def tie_parts(model: Model, i: int) -> list[_Part]:
    """Resonator i's tie branch, in current order: drives, mass, spring, damper, sense."""
    r = model.resonators[i]
    origin = f"resonator {r.name}"
    parts = [_Part("E", weight, f"input {inp.name} -> {r.name}", (f"in{k + 1}", "0"), "drive", r.name)
             for k, inp in enumerate(model.inputs) for node, weight in inp.drives
             if node == r.name and weight != 0]
    parts += [_Part("L", r.mass, f"{origin} mass", role="mass", element=r.name),
              _Part("C", 1.0 / r.stiffness, f"{origin} stiffness", role="stiffness", element=r.name)]
    if r.damping != 0:
        parts.append(_Part("R", r.damping, f"{origin} damping", role="damping", element=r.name))
    parts.append(_Part("V", 0.0, f"{origin} velocity sense", role="sense", element=r.name))
    return parts


def coupling_parts(couplings: list[Coupling]) -> list[_Part]:
    """A coupled pair's branch: its dampers (R = c) then its springs (C = 1/k), in series."""
    ordered = sorted(couplings, key=lambda c: c.kind != "damper")
    return [_Part("R", c.value, f"damper coupling {c.a} -- {c.b}", role="damper_coupling", element=f"{c.a}--{c.b}")
            if c.kind == "damper" else
            _Part("C", 1.0 / c.value, f"spring coupling {c.a} -- {c.b}", role="spring_coupling",
                  element=f"{c.a}--{c.b}") for c in ordered]


@register
class MapForceVoltage(Pass):
    name = "map_force_voltage"

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is None and ctx.model.analogy == "force_voltage"

    def transform(self, ctx: CompileContext) -> PassResult:
        model = ctx.model
        primal = mechanical_graph(model)
        embedding = planar_embedding(model, primal)
        face = face_nets(embedding)
        graph = CircuitGraph(title=f"r2nn model {model.name} (force-voltage)")
        for k, inp in enumerate(model.inputs):
            graph.add_port(Port(f"in{k + 1}", "input", inp.name))
        observed = observed_nodes(model)
        for o in observed:
            graph.add_port(Port(o.port, o.role, o.label))

        index = {r.name: i for i, r in enumerate(model.resonators)}
        sense = []
        for i in range(len(model.resonators)):
            # Directed edge i → ground: its current v_i − 0 flows from right(i, g) to right(g, i).
            chain = add_branch(graph, face[i, GROUND_NODE], face[GROUND_NODE, i], tie_parts(model, i), f"r{i + 1}")
            sense.append(chain[-1].name)
        # Coupled pairs numbered in model order of their first coupling.
        pairs = dict.fromkeys(tuple(sorted((index[c.a], index[c.b]))) for c in model.couplings)
        for e, (a, b) in enumerate(pairs):
            add_branch(graph, face[a, b], face[b, a], coupling_parts(primal.edges[a, b]["couplings"]), f"k{e + 1}")
        for o in observed:
            graph.add(Component(graph.next_designator("H"), "H", (o.port, "0"), 1.0,
                                origin=f"{o.what} velocity readout",
                                attrs={CONTROL: sense[index[o.node]], ROLE: "readout", ELEMENT: o.node}))

        ctx.graph = graph
        ctx.inputs = [PortMap(inp.name, f"in{k + 1}") for k, inp in enumerate(model.inputs)]
        ctx.outputs = [PortMap(o.label, o.port, node=o.node, role=o.role) for o in observed]
        ctx.sense = ("mesh current through a 0 V source in the resonator's tie branch, "
                     "read by a 1 ohm CCVS (H) onto the output port")
        counts = {k: v for k, v in graph.counts().items() if v}
        n_faces = len(set(face.values()))
        return PassResult(True, f"{len(model.resonators)} resonators → planar dual with {n_faces} faces: " +
                          ", ".join(f"{v} {k}" for k, v in counts.items()), {"counts": counts, "faces": n_faces})
