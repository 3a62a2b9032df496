"""The circuit IR: ideal components on nets, as a graph the compiler passes rewrite.

A :class:`CircuitGraph` holds components (R, L, C, VCCS ``G``, VCVS ``E``, independent voltage
source ``V``, CCVS ``H``, subcircuit instance ``X``) by designator, the nets they join on a
:class:`networkx.MultiGraph`, the circuit's ports and the subcircuit definitions its ``X``
instances refer to. It knows nothing about models, files or SPICE text; values are SI (ohm,
henry, farad, siemens, volt per volt, volt).

Ground is the net ``"0"``, inside subcircuits too.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field
import networkx as nx

from ..errors import CircuitError
from .annotations import PartInfo
from .devices import DEVICE_NODE_COUNTS, MODEL_KINDS, QUANTITIES, Behaviour, DeviceModel, Waveform

GROUND = "0"

_DESIGNATOR_NUMBER = re.compile(r"[A-Za-z](\d+)")

#: Component kinds in canonical order: R, L, C, VCCS, VCVS, voltage source, CCVS, subcircuit
#: instance.
KINDS = ("R", "L", "C", "G", "E", "V", "H", "X")

#: Default unit of each kind's ``value``.
UNITS = {"R": "ohm", "L": "H", "C": "F", "G": "S", "E": "V/V", "V": "V", "H": "ohm", "X": ""}

#: Number of nodes of each fixed-arity kind; ``X`` takes as many as its subcircuit has ports.
NODE_COUNTS = {"R": 2, "L": 2, "C": 2, "G": 4, "E": 4, "V": 2, "H": 2}

#: Key of ``Component.attrs`` under which an ``H`` names its controlling ``V`` source.
CONTROL = "control"

#: ``tap``: a resonator a linear readout layer reads, exposed like an output (see
#: ``passes.base.observed_nodes``).
PORT_ROLES = ("input", "output", "tap", "supply", "decision", "control")

#: Port order of a compiled subcircuit, by role: inputs (an input's inverted copy among them),
#: outputs or taps, decisions, controls, supplies (:func:`ordered_ports`).
PORT_ORDER = {"input": 0, "output": 1, "tap": 1, "decision": 2, "control": 3, "supply": 4}

#: ``CircuitGraph.meta`` key: {inverted input port: the input port whose negative it carries}
#: (a differential sensor's second output; the MNA drives it with −u of that input).
INVERTED_INPUTS = "inverted_inputs"

_NAME = re.compile(r"\S+")


@dataclass
class Component:
    """One element instance.

    ``name`` is the unique designator; its first letter is the SPICE element letter and must
    equal ``kind``. ``nodes`` are, by kind: R/L/C/V ``(n_plus, n_minus)``; G/E ``(out_plus,
    out_minus, ctrl_plus, ctrl_minus)``; H ``(out_plus, out_minus)``; X the instance's port nets
    in the subcircuit's order.

    ``value`` is in ``unit`` (filled from :data:`UNITS` when left empty): ohm for R, henry for
    L, farad for C (negative allowed: these are ideal elements), siemens for G, whose current
    ``value·(V(ctrl_plus) − V(ctrl_minus))`` flows from ``out_plus`` through the source to
    ``out_minus`` (SPICE's convention: it leaves the ``out_plus`` net and enters ``out_minus``),
    V/V for E, with ``V(out_plus) − V(out_minus) = value·(V(ctrl_plus) − V(ctrl_minus))``;
    volts for V, a DC source ``V(n_plus) − V(n_minus) = value`` whose branch current ``i(V)``
    flows from ``n_plus`` through the source to ``n_minus`` (SPICE's convention; a 0 V source
    is an ammeter); ohm for H, with ``V(out_plus) − V(out_minus) = value·i(Vc)`` where ``Vc``
    is the V source named by ``attrs['control']`` (see :data:`CONTROL`) in the same scope (the
    top-level graph or the same subcircuit definition); unused (0.0) for X, which names its
    :class:`SubcircuitDef` in ``subckt``.

    Non-linear kinds (readout subcircuits only, see :mod:`.devices`): D/Q/S name their
    :class:`DeviceModel` in ``model``; a B has its law in ``behaviour``; a V with a
    ``waveform`` is written with its keyword (``dc`` or ``pwl``).

    ``origin`` says which model element this realises; ``attrs`` is free (the role and model
    element, see :mod:`.annotations`) apart from ``'control'`` on an H; ``part`` is what it is
    as a part to buy (:class:`~.annotations.PartInfo`), None when nothing is recorded. Change a component that is in a graph
    with :meth:`CircuitGraph.replace`, never by assigning ``name`` or ``nodes`` in place (the
    graph indexes both).
    """

    name: str
    kind: str
    nodes: tuple[str, ...]
    value: float = 0.0
    unit: str = ""
    origin: str = ""
    subckt: str | None = None
    attrs: dict = field(default_factory=dict)
    model: str | None = None
    behaviour: Behaviour | None = None
    waveform: Waveform | None = None
    part: PartInfo | None = None

    def __post_init__(self) -> None:
        self.nodes = tuple(self.nodes)
        if not self.unit:
            self.unit = UNITS.get(self.kind, "")

    @property
    def terminals(self) -> tuple[str, str]:
        """The two nets its graph edge joins (``X`` with one port: a self-loop)."""
        return (self.nodes[0], self.nodes[1] if len(self.nodes) > 1 else self.nodes[0])

    @property
    def control(self) -> str | None:
        """The designator of the V source an H reads (``attrs['control']``); None otherwise."""
        return self.attrs.get(CONTROL) if self.kind == "H" else None


@dataclass
class SubcircuitDef:
    """A reusable block (an op-amp model, the readout, ...): ``components`` on local nets,
    ``ports`` the interface in instance order, ``models`` the device models its D/Q/S name.
    Net ``"0"`` inside is the global ground."""

    name: str
    ports: tuple[str, ...]
    components: list[Component]
    doc: str = ""
    models: tuple[DeviceModel, ...] = ()

    def __post_init__(self) -> None:
        self.ports = tuple(self.ports)


@dataclass
class Port:
    """A net the outside world sees: ``role`` is one of :data:`PORT_ROLES`; ``label`` is the
    user-facing name (an input or class name, or a tap's resonator)."""

    name: str
    role: str
    label: str = ""


def validate_component(comp: Component) -> None:
    """Check one component on its own (kind, designator letter, node count, value, and for an H
    that ``attrs['control']`` is a V designator; whether that source exists is a property of
    the whole scope, checked by :meth:`CircuitGraph.check` and
    :meth:`CircuitGraph.define_subcircuit`).

    Raises CircuitError naming the component.
    """
    if not isinstance(comp.name, str) or not _NAME.fullmatch(comp.name):
        raise CircuitError(f"designator {comp.name!r} must be a non-empty word")
    if comp.kind not in KINDS and comp.kind not in DEVICE_NODE_COUNTS:
        raise CircuitError(f"{comp.name}: unknown kind {comp.kind!r} "
                           f"(expected one of {', '.join(KINDS + tuple(DEVICE_NODE_COUNTS))})")
    if comp.name[0].upper() != comp.kind:
        raise CircuitError(f"{comp.name}: designator must start with its kind letter {comp.kind!r}")
    for net in comp.nodes:
        if not isinstance(net, str) or not _NAME.fullmatch(net):
            raise CircuitError(f"{comp.name}: net name {net!r} must be a non-empty word")
    expected = NODE_COUNTS.get(comp.kind, DEVICE_NODE_COUNTS.get(comp.kind))
    if expected is not None and len(comp.nodes) != expected:
        raise CircuitError(f"{comp.name}: kind {comp.kind} takes {expected} nodes, got {len(comp.nodes)}")
    if comp.kind == "X":
        if not comp.nodes:
            raise CircuitError(f"{comp.name}: a subcircuit instance needs at least one port net")
        if not comp.subckt:
            raise CircuitError(f"{comp.name}: a subcircuit instance must name its subcircuit")
        return
    if comp.subckt is not None:
        raise CircuitError(f"{comp.name}: only X instances name a subcircuit")
    _validate_device(comp)
    if not math.isfinite(comp.value):
        raise CircuitError(f"{comp.name}: value {comp.value!r} is not finite")
    if comp.kind == "R" and comp.value == 0:
        # A zero resistor is a short: nodal analysis cannot stamp 1/0; merge the nets instead.
        raise CircuitError(f"{comp.name}: a 0 ohm resistor is a short; merge its nets instead")
    if comp.kind == "H":
        control = comp.control
        if not isinstance(control, str) or not _NAME.fullmatch(control) or control[0].upper() != "V":
            raise CircuitError(f"{comp.name}: a CCVS must name its controlling V source in "
                               f"attrs['{CONTROL}'], got {control!r}")


def _validate_device(comp: Component) -> None:
    """The non-linear fields: a model exactly on D/Q/S, a law exactly on B, a waveform only on V."""
    named = comp.model is not None
    if named != (comp.kind in MODEL_KINDS) or (named and not _NAME.fullmatch(comp.model)):
        raise CircuitError(f"{comp.name}: D, Q and S (only) name their device model, got {comp.model!r}")
    if (comp.behaviour is not None) != (comp.kind == "B"):
        raise CircuitError(f"{comp.name}: B sources (only) have a behaviour")
    if comp.behaviour is not None and comp.behaviour.quantity not in QUANTITIES:
        raise CircuitError(f"{comp.name}: a B source sets V or I, got {comp.behaviour.quantity!r}")
    if comp.waveform is not None and comp.kind != "V":
        raise CircuitError(f"{comp.name}: only V sources have a waveform")


def check_controls(components: list[Component], scope: str) -> None:
    """Check every H among ``components`` reads a V source among them (one scope: the top-level
    graph or one subcircuit definition; ``scope`` names it in the message).

    Raises CircuitError naming the first H whose control is missing.
    """
    sources = {c.name for c in components if c.kind == "V"}
    for comp in components:
        if comp.kind == "H" and comp.control not in sources:
            raise CircuitError(f"{comp.name}: controlling source {comp.control} is not a V source in {scope}")


class CircuitGraph:
    """Components on nets, with ports and subcircuit definitions.

    ``graph`` is a :class:`networkx.MultiGraph` whose nodes are net names (ground ``"0"``
    always present) and which has one edge per component between its first two nodes, keyed
    by designator, with data ``{'component': comp}``. Other nets of a component (control nets
    of G/E, further ports of X) are nodes of the graph without an edge from that component.
    Components are also kept in insertion order, which every listing follows (a replacement
    takes the place of the component it replaces).

    Cost: add, remove, replace and lookups are O(1) in the size of the graph (replace: in the
    number of new components); :meth:`components_at` is O(components on the net);
    :attr:`components` is O(n) the first time after a remove or replace (a sort by order key),
    O(1) otherwise (a cached listing copied).
    """

    def __init__(self, title: str = "") -> None:
        self.title = title
        self.meta: dict = {}
        self.graph = nx.MultiGraph()
        self.graph.add_node(GROUND)
        self.subcircuits: dict[str, SubcircuitDef] = {}
        #: The on-circuit readout's X instance (non-linear): written last in the netlist, outside
        #: ``components`` (counts, the MNA and the BOM's network rows see the linear circuit).
        self.readout: Component | None = None
        self._components: dict[str, Component] = {}
        # Listing order: a tuple per designator, compared lexicographically. A replacement gets
        # its predecessor's key extended by its index, so it sorts where the old one did.
        self._order: dict[str, tuple[int, ...]] = {}
        self._added = 0
        self._listing: list[Component] | None = []  # components in order; None: re-sort
        self._highest: dict[str, int] = {}  # letter → largest designator number ever added
        self._ports: dict[str, Port] = {}
        # Designators of the components touching each net (any node), so removal can drop nets
        # nobody uses and components_at need not scan the graph.
        self._at: dict[str, set[str]] = {}

    # -- components -------------------------------------------------------------------------

    def add(self, component: Component) -> Component:
        """Add ``component`` and return it.

        Raises CircuitError on a duplicate designator or an invalid component (see
        :func:`validate_component`).
        """
        validate_component(component)
        if component.name in self._components:
            raise CircuitError(f"duplicate designator {component.name}")
        self._link(component)
        self._components[component.name] = component
        self._order[component.name] = (self._added,)
        self._added += 1
        if self._listing is not None:
            self._listing.append(component)  # the newest key sorts last
        self._note_designator(component.name)
        return component

    def _note_designator(self, name: str) -> None:
        number = _DESIGNATOR_NUMBER.fullmatch(name)
        if number:
            letter = name[0].upper()
            self._highest[letter] = max(self._highest.get(letter, 0), int(number.group(1)))

    def remove(self, name: str) -> Component:
        """Remove component ``name`` and return it; nets left unused (and not ports) go too.

        Raises CircuitError if there is no such component.
        """
        comp = self.component(name)
        self._unlink(comp)
        del self._components[name]
        del self._order[name]
        self._listing = None
        return comp

    def replace(self, name: str, *components: Component) -> list[Component]:
        """Replace component ``name`` by ``components`` at its place in the order.

        All-or-nothing: on any error (unknown ``name``, invalid or duplicate designator) the
        graph is left unchanged and CircuitError is raised. Returns the new components.
        """
        old = self.component(name)
        seen: set[str] = set()
        for comp in components:
            validate_component(comp)
            if comp.name in seen or (comp.name in self._components and comp.name != name):
                raise CircuitError(f"duplicate designator {comp.name}")
            seen.add(comp.name)
        self._unlink(old)
        del self._components[name]
        key = self._order.pop(name)
        for index, comp in enumerate(components):
            self._link(comp)
            self._note_designator(comp.name)
            self._components[comp.name] = comp
            # Extending the old key puts the replacements where the old component was.
            self._order[comp.name] = key + (index,)
        self._listing = None
        return list(components)

    def component(self, name: str) -> Component:
        """The component with designator ``name``; CircuitError if absent."""
        try:
            return self._components[name]
        except KeyError:
            raise CircuitError(f"no component named {name}") from None

    def __contains__(self, name: str) -> bool:
        return name in self._components

    def __len__(self) -> int:
        return len(self._components)

    @property
    def components(self) -> list[Component]:
        """All components in insertion order (a new list)."""
        return list(self._ordered())

    def components_of(self, kind: str) -> list[Component]:
        """Components of ``kind`` in insertion order."""
        return [c for c in self._ordered() if c.kind == kind]

    def counts(self) -> dict[str, int]:
        """Number of components of every kind in :data:`KINDS` (zeros included)."""
        tally = Counter(c.kind for c in self._components.values())
        return {kind: tally[kind] for kind in KINDS}

    def next_designator(self, letter: str) -> str:
        """``letter`` followed by one more than the largest number ever added after it (``"R1"``
        for the first; numbers of removed components are not reused). Not reserved: add the
        component before asking again. O(1)."""
        letter = letter.upper()
        return f"{letter}{self._highest.get(letter, 0) + 1}"

    # -- nets and ports ---------------------------------------------------------------------

    def nets(self) -> list[str]:
        """All net names, ground first, the rest sorted."""
        return [GROUND] + sorted(n for n in self.graph.nodes if n != GROUND)

    def neighbors(self, net: str) -> list[str]:
        """Nets joined to ``net`` by a component edge (sorted); CircuitError if no such net."""
        self._require_net(net)
        return sorted(n for n in self.graph.neighbors(net) if n != net)

    def components_at(self, net: str) -> list[Component]:
        """Components with any node on ``net`` (control nets included), in insertion order.

        Raises CircuitError if there is no such net.
        """
        self._require_net(net)
        order = self._order
        return [self._components[name] for name in sorted(self._at.get(net, ()), key=order.__getitem__)]

    def add_port(self, port: Port) -> Port:
        """Declare ``port`` (its net is created if new) and return it.

        Raises CircuitError on an unknown role, a ground port or a net that is already a port.
        """
        if port.role not in PORT_ROLES:
            raise CircuitError(
                f"port {port.name}: unknown role {port.role!r} (expected one of {', '.join(PORT_ROLES)})"
            )
        if not isinstance(port.name, str) or not _NAME.fullmatch(port.name) or port.name == GROUND:
            raise CircuitError(f"port net {port.name!r} must be a non-empty word other than ground")
        if port.name in self._ports:
            raise CircuitError(f"net {port.name} is already a port")
        self._ports[port.name] = port
        self.graph.add_node(port.name)
        return port

    @property
    def ports(self) -> list[Port]:
        """Ports in declaration order (a new list)."""
        return list(self._ports.values())

    # -- subcircuits ------------------------------------------------------------------------

    def define_subcircuit(self, defn: SubcircuitDef) -> SubcircuitDef:
        """Register ``defn`` (defining an identical one again is a no-op) and return the
        registered definition.

        Raises CircuitError on a different definition under the same name, duplicate or ground
        ports, or an invalid or duplicate component inside (an H whose control is not a V
        source of this definition included).
        """
        known = self.subcircuits.get(defn.name)
        if known is not None:
            if known == defn:
                return known
            raise CircuitError(f"subcircuit {defn.name} is already defined differently")
        if not defn.name or not _NAME.fullmatch(defn.name):
            raise CircuitError(f"subcircuit name {defn.name!r} must be a non-empty word")
        if len(set(defn.ports)) != len(defn.ports) or GROUND in defn.ports:
            raise CircuitError(f"subcircuit {defn.name}: ports must be distinct and not ground")
        names: set[str] = set()
        for comp in defn.components:
            try:
                validate_component(comp)
            except CircuitError as err:
                raise CircuitError(f"subcircuit {defn.name}: {err.message}") from None
            if comp.name in names:
                raise CircuitError(f"subcircuit {defn.name}: duplicate designator {comp.name}")
            names.add(comp.name)
        check_controls(defn.components, f"subcircuit {defn.name}")
        self.subcircuits[defn.name] = copy.deepcopy(defn)
        return self.subcircuits[defn.name]

    # -- whole graph ------------------------------------------------------------------------

    def copy(self) -> "CircuitGraph":
        """A deep copy (components, ports, subcircuits, meta)."""
        return copy.deepcopy(self)

    def check(self) -> None:
        """Check the graph is complete enough to simulate.

        Every X instance must name a defined subcircuit with as many ports as it has nets
        (nested instances too, without recursion), every H must read a V source of the graph,
        and every net except ground and ports must be joined to ground through components. An X
        instance counts as joining all of its port nets; a G/E control input joins nothing (it
        draws no current).

        Raises CircuitError naming the first offending component or the floating nets.
        """
        check_controls(self.components, "the circuit")
        for comp in self.components_of("X"):
            _check_instance(comp, self.subcircuits, ())
        # Union–find over the component edges (O(n); a networkx copy of the multigraph cost ~10×).
        root = {net: net for net in self.graph.nodes}

        def find(net: str) -> str:
            while root[net] != net:
                root[net] = root[root[net]]
                net = root[net]
            return net

        for comp in self._components.values():
            ends = comp.nodes if comp.kind == "X" else comp.terminals
            for net in ends[1:]:
                root[find(net)] = find(ends[0])
        ground = find(GROUND)
        grounded = {net for net in root if find(net) == ground}
        floating = [n for n in self.nets() if n not in grounded and n not in self._ports]
        if floating:
            details = "; ".join(
                f"{net} (touches {', '.join(c.name for c in self.components_at(net)) or 'nothing'})"
                for net in floating
            )
            raise CircuitError(f"net(s) with no element path to ground: {details}")

    # -- internals --------------------------------------------------------------------------

    def _require_net(self, net: str) -> None:
        if net not in self.graph:
            raise CircuitError(f"no net named {net}")

    def _ordered(self) -> list[Component]:
        """The components in listing order (cached; callers must not change the list)."""
        if self._listing is None:
            order = self._order
            self._listing = sorted(self._components.values(), key=lambda c: order[c.name])
        return self._listing

    def _link(self, comp: Component) -> None:
        self.graph.add_nodes_from(comp.nodes)
        a, b = comp.terminals
        self.graph.add_edge(a, b, key=comp.name, component=comp)
        for net in comp.nodes:
            self._at.setdefault(net, set()).add(comp.name)

    def _unlink(self, comp: Component) -> None:
        a, b = comp.terminals
        self.graph.remove_edge(a, b, key=comp.name)
        for net in sorted(set(comp.nodes)):
            users = self._at[net]
            users.discard(comp.name)
            if not users:
                del self._at[net]
                if net != GROUND and net not in self._ports:
                    self.graph.remove_node(net)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={n}" for k, n in self.counts().items() if n)
        return f"CircuitGraph({self.title!r}, nets={self.graph.number_of_nodes()}, {counts})"


def _check_instance(comp: Component, subcircuits: dict[str, SubcircuitDef], stack: tuple[str, ...]) -> None:
    """Check X instance ``comp`` against its definition, recursing into nested instances.

    ``stack`` holds the subcircuits being expanded, to catch a definition that contains
    itself. Raises CircuitError.
    """
    defn = subcircuits.get(comp.subckt)
    if defn is None:
        raise CircuitError(f"{comp.name}: undefined subcircuit {comp.subckt}")
    if len(comp.nodes) != len(defn.ports):
        raise CircuitError(
            f"{comp.name}: subcircuit {defn.name} has {len(defn.ports)} ports, "
            f"instance gives {len(comp.nodes)} nets"
        )
    if defn.name in stack:
        chain = " -> ".join(stack + (defn.name,))
        raise CircuitError(f"subcircuit {defn.name} instantiates itself via {chain}")
    for inner in defn.components:
        if inner.kind == "X":
            _check_instance(inner, subcircuits, stack + (defn.name,))


def ordered_ports(graph: CircuitGraph) -> CircuitGraph:
    """``graph`` with its ports in :data:`PORT_ORDER` (stable within a role): ``graph`` itself
    when they already are, else a rebuilt copy (same components, subcircuits, readout, meta)."""
    ports = graph.ports
    ordered = sorted(ports, key=lambda p: PORT_ORDER.get(p.role, 0))
    if [p.name for p in ordered] == [p.name for p in ports]:
        return graph
    rebuilt = CircuitGraph(graph.title)
    rebuilt.meta = graph.meta
    rebuilt.readout = graph.readout
    for port in ordered:
        rebuilt.add_port(port)
    for defn in graph.subcircuits.values():
        rebuilt.define_subcircuit(defn)
    for comp in graph.components:
        rebuilt.add(comp)
    return rebuilt


def flatten(graph: CircuitGraph) -> list[Component]:
    """The graph's primitive components (R, L, C, G, E, V, H) with every X instance expanded.

    Inside instance ``X1`` a component ``E1`` becomes ``X1.E1`` and a local net ``mid``
    becomes ``X1.mid`` (nested: ``X1.X2.mid``); an H's control ``V1`` becomes ``X1.V1`` like
    the source it names; port nets map to the instance's nets and ``"0"`` stays ground.
    Order: insertion order, each instance expanded in place.

    Raises CircuitError for an undefined subcircuit, a port-count mismatch or recursion.
    """
    out: list[Component] = []
    for comp in graph.components:
        if comp.kind == "X":
            _check_instance(comp, graph.subcircuits, ())
            _expand(comp, "", {}, graph.subcircuits, out)
        else:
            out.append(comp)
    return out


def _expand(inst: Component, prefix: str, netmap: dict[str, str],
            subcircuits: dict[str, SubcircuitDef], out: list[Component]) -> None:
    """Append the primitives of instance ``inst`` (already checked) to ``out``.

    ``prefix`` and ``netmap`` describe the scope ``inst`` itself sits in.
    """
    defn = subcircuits[inst.subckt]
    name = prefix + inst.name
    outer = [_map_net(n, prefix, netmap) for n in inst.nodes]
    inner_map = dict(zip(defn.ports, outer))
    inner_prefix = name + "."
    for comp in defn.components:
        if comp.kind == "X":
            _expand(comp, inner_prefix, inner_map, subcircuits, out)
        else:
            nodes = tuple(_map_net(n, inner_prefix, inner_map) for n in comp.nodes)
            attrs = dict(comp.attrs)
            if comp.kind == "H":
                # Controls resolve in the definition's scope, so they move with the designators.
                attrs[CONTROL] = inner_prefix + comp.control
            out.append(dataclasses.replace(comp, name=inner_prefix + comp.name, nodes=nodes, attrs=attrs))


def _map_net(net: str, prefix: str, netmap: dict[str, str]) -> str:
    if net == GROUND:
        return GROUND
    return netmap.get(net, prefix + net)
