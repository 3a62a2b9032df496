"""The readout subcircuit's building blocks, shared by ``readout_analog`` and its linear layer
(:mod:`.readout_linear`): element constructors, the behavioural mean-square integrator and
winner-take-all, the decision ports' load and settling time, and how the readout joins the graph.
Values SI, times in circuit seconds."""

from __future__ import annotations

import dataclasses

from ...circuit import GROUND, CircuitGraph, Component, Port, SubcircuitDef, ordered_ports
from ...errors import CompileError
from ...circuit.annotations import ELEMENT, ROLE, PartInfo, Series, series_of
from ...circuit.devices import Behaviour, Waveform
from ...units import format_spice

#: Load on each decision port (ohm, E96): the input it drives.
DECISION_LOAD_OHM = 10.0e3
#: Decision level of the behavioural WTA (V).
BEHAVIOURAL_HIGH_V = 5.0
#: Time after the window's end (s) from which the decision ports hold the decision: per level
#: (shortest, longest); parts take SETTLE_FRACTION of the window within these (see settling_s).
SETTLE_S = {"parts": (1e-3, 5e-3), "behavioural": (1e-5, 1e-5)}
SETTLE_FRACTION = 0.01
#: Rise/fall time of the timing sources (s, capped at a thousandth of the window).
EDGE_S = 1e-6

#: Behavioural integrator capacitor (F): any value; its charging current scales with it.
C_BEHAVIOURAL = 1e-6

#: The readout instance's designator, and the comment the netlist gives it.
READOUT_INSTANCE = "Xreadout"
READOUT_ORIGIN = ("on-circuit readout: detectors, window integrators, winner-take-all "
                  "(non-linear, outside the numpy proof)")


def attach_readout(graph: CircuitGraph, description: dict, nodes: list[str], tolerance: dict[str, float]) -> None:
    """Put the readout of ``description`` into ``graph``: its subcircuit definitions (in order)
    into ``graph.subcircuits``, its instance :data:`READOUT_INSTANCE` on ``nodes`` into
    ``graph.readout``; ``description['subcircuits']`` becomes their names and
    ``description['instance']`` the instance's designator. R and C parts of a bought series
    get ``tolerance`` (fraction per kind) in ``part.tolerance``, for the BOM. The readout's
    timing sources become control ports of the model's subcircuit (:func:`control_ports`)."""
    readout = control_ports(graph, description)
    nodes = list(nodes) + [c["port"] for c in graph.meta["controls"]] + list(description.get("supplies") or {})
    for defn in description["subcircuits"]:
        for comp in defn.components:
            if series_of(comp) not in (None, Series.IDEAL):
                comp.part = dataclasses.replace(comp.part, tolerance=tolerance.get(comp.kind))
        graph.define_subcircuit(readout if defn.name == readout.name else defn)
    graph.readout = Component(READOUT_INSTANCE, "X", nodes, subckt=description["subckt"], origin=READOUT_ORIGIN)
    description["subcircuits"] = [defn.name for defn in description["subcircuits"]]
    description["instance"] = READOUT_INSTANCE


#: A timing source's role in the manifest's ``controls``, by its designator's prefix.
CONTROL_ROLES = (("Vgate", "window_gate"), ("Vreset", "reset"), ("Vseg", "segment_gate"), ("Vpower", "power"))
#: Supply nets of a parts-level readout (positive, negative rail): ports of the readout
#: subcircuit, its op-amps' supply pins, and supply ports of the model's subcircuit.
SUPPLY_NETS = ("vcc", "vee")
#: Control ports of the model's subcircuit: ``ctl1``, ``ctl2``, ...
CONTROL_PREFIX = "ctl"


def control_ports(graph: CircuitGraph, description: dict) -> SubcircuitDef:
    """Take the readout subcircuit's timing sources (PWL V sources to ground) out of it: each
    becomes a port of the readout subcircuit and a control port ``ctl<i>`` of ``graph``
    (role ``control``), listed in ``graph.meta["controls"]`` as {``port``, ``role``,
    ``waveform``: [[s, V], ...] in circuit time}; the host (a timer, or the testbench) drives
    it. Returns the readout's definition without them; ``description['parts']`` counts them
    no more (they are the controls). ``description['supplies']`` ({net: volts}, when given)
    become supply ports of ``graph`` (``meta["supply_volts"]``) and the readout's last ports."""
    defn = next(d for d in description["subcircuits"] if d.name == description["subckt"])
    timing = [c for c in defn.components if c.kind == "V" and c.waveform is not None and c.waveform.pwl]
    controls = []
    for i, source in enumerate(timing, start=1):
        if source.nodes[1] != GROUND:
            raise CompileError(f"readout timing source {source.name} is not grounded")
        port = f"{CONTROL_PREFIX}{i}"
        role = next((r for prefix, r in CONTROL_ROLES if source.name.startswith(prefix)), "timing")
        suffix = source.name[len("Vseg"):] if role == "segment_gate" else ""
        graph.add_port(Port(port, "control", f"{role}{suffix}"))
        controls.append({"port": port, "role": role + (f"_{suffix}" if suffix else ""),
                         "waveform": [[float(t), float(v)] for t, v in source.waveform.pwl]})
    graph.meta["controls"] = controls
    description["parts"].pop("timing sources", None)
    supplies = description.get("supplies") or {}
    for net, volts in supplies.items():
        graph.add_port(Port(net, "supply", f"{volts:+g} V rail of the readout"))
    if supplies:
        graph.meta["supply_volts"] = dict(supplies)
    names = {c.name for c in timing}
    signals = tuple(p for p in defn.ports if p not in supplies)
    return SubcircuitDef(defn.name, signals + tuple(c.nodes[0] for c in timing) + tuple(supplies),
                         [c for c in defn.components if c.name not in names], defn.doc, defn.models)


def settling_s(level: str, window_s: float) -> float:
    """Seconds (circuit time) the winner-take-all is given after a window of ``window_s``:
    :data:`SETTLE_FRACTION` of it, within the level's :data:`SETTLE_S` bounds."""
    shortest, longest = SETTLE_S[level]
    return float(min(max(SETTLE_FRACTION * window_s, shortest), longest))


def add_decision_ports(ctx, classes: list[tuple[str, str]], load_ohm: float, origin: str) -> CircuitGraph:
    """A decision port ``dec<j>`` per (class, element) of ``classes`` with a ``load_ohm`` load to
    ground (``origin`` formatted with ``cls``), ordered before any supply port: ``ctx.graph``
    becomes the reordered graph, which is returned."""
    graph = ctx.graph
    for j, (cls, element) in enumerate(classes):
        graph.add_port(Port(f"dec{j + 1}", "decision", cls))
        graph.add(Component(graph.next_designator("R"), "R", (f"dec{j + 1}", GROUND), load_ohm,
                            origin=origin.format(cls=cls), attrs={ROLE: "readout", ELEMENT: element},
                            part=PartInfo("E96", ctx.options.tolerance.get("R"))))
    ctx.graph = decisions_before_supplies(graph)
    return ctx.graph


def decisions_before_supplies(graph: CircuitGraph) -> CircuitGraph:
    """``graph`` with its ports ordered inputs, outputs (or taps), decisions, controls,
    supplies (:func:`circuit.graph.ordered_ports`: a copy when they were not, else ``graph``)."""
    return ordered_ports(graph)


def behavioural_integrator(names: tuple[str, str, str], index: int, gate: str, tap: str, out: str,
                           scale: float) -> list[Component]:
    """An ideal mean-square integrator: a B-source current ``v(gate)·v(tap)²·scale`` into a
    :data:`C_BEHAVIOURAL` capacitor on ``out``, with a leak far below its charging current (a DC
    path). ``names``: the designator prefixes of the source, capacitor and leak."""
    source, capacitor, leak = (f"{name}{index}" for name in names)
    return [law(source, [GROUND, out], "I", f"v({gate})*v({tap})*v({tap})*{number(scale)}"),
            part(capacitor, [out, GROUND], C_BEHAVIOURAL, series="ideal"),
            part(leak, [out, GROUND], 1e15)]


def behavioural_wta(j: int, net: str, n: int) -> Component:
    """Decision port ``dec<j>``: :data:`BEHAVIOURAL_HIGH_V` while ``v(<net><j>)`` exceeds every
    other class's ``v(<net><k>)`` (a tie gives no port high)."""
    others = [f"v({net}{i})" for i in range(1, n + 1) if i != j]
    return law(f"Bwta{j}", [f"dec{j}", GROUND], "V",
                f"{number(BEHAVIOURAL_HIGH_V)}*u(v({net}{j})-{max_of(others)})")


#: What the readout's element letters are, for the parts count (V sources: see part_counts).
_PART_NAMES = {"X": "op-amps", "D": "diodes", "Q": "transistors", "S": "switches", "R": "resistors",
               "C": "capacitors", "B": "B-sources"}


def part_counts(elements: list[Component]) -> dict[str, int]:
    """How many of each part the readout subcircuit holds: op-amps, diodes, ..., voltage
    references (DC V sources) and timing sources (PWL V sources, the controller's outputs).
    The behavioural leak resistors model nothing bought and are left out."""
    counts: dict[str, int] = {}
    for e in elements:
        letter = e.kind
        if letter == "V":
            name = "timing sources" if e.waveform is not None and e.waveform.pwl else "voltage references"
        elif e.name.startswith("Rleak"):
            continue
        else:
            name = _PART_NAMES[letter]
        counts[name] = counts.get(name, 0) + 1
    return counts


def part(name: str, nodes: list[str], value: float, series: str | None = None) -> Component:
    """An R, C, E or G of ``value`` (SI), or a DC V source written ``dc <value>``; ``series``
    (the BOM's) in ``part.series`` when given."""
    kind = name[0].upper()
    return Component(name, kind, nodes, value, part=PartInfo(series) if series else None,
                     waveform=Waveform() if kind == "V" else None)


def device(name: str, nodes: list[str], model: str) -> Component:
    """A D, Q or S (kind from the designator) of device ``model``."""
    return Component(name, name[0].upper(), nodes, model=model)


def instance(name: str, nodes: list[str], subckt: str) -> Component:
    """An instance of subcircuit ``subckt`` (an op-amp)."""
    return Component(name, "X", nodes, subckt=subckt)


def pwl(name: str, nodes: list[str], points: list[list[float]]) -> Component:
    """A timing source: a V of piecewise-linear ``points`` [[t (s), v (V)], ...]."""
    return Component(name, "V", nodes, waveform=Waveform(tuple((float(t), float(v)) for t, v in points)))


def law(name: str, nodes: list[str], quantity: str, expr: str) -> Component:
    """A B-source setting ``quantity`` (V or I) to ``expr``."""
    return Component(name, "B", nodes, behaviour=Behaviour(quantity, expr))


def number(value: float) -> str:
    """A constant in a B-source expression, in exponent notation like every netlist value."""
    return format_spice(value)


def max_of(terms: list[str]) -> str:
    """``max`` over ngspice B-source terms, nested pairwise (``0`` for none)."""
    if not terms:
        return "0"
    expr = terms[0]
    for term in terms[1:]:
        expr = f"max({expr},{term})"
    return expr
