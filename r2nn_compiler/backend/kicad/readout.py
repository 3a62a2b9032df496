"""The on-circuit readout (``--readout analog`` or ``behavioural``) as individual parts.

The readout is one ``.subckt`` instance in the deck (``graph.readout``). The schematic draws its
elements flattened into the sheet: each element keeps its name as its reference (``Rin1``,
``Qlog1``, ``Sgate1``), its port nets become the instance's nets and its internal nets are
prefixed with :data:`NET_PREFIX` (``c1_n1`` → ``ro_c1_n1``) so they cannot meet the network's
nets. :func:`flatten` does that renaming; the schematic and KiCad's checks both use it.

Each class's detector (the elements whose name ends in the class number: ``Rin1`` is class
1's) is drawn on its own hierarchical sheet ``readout_class_<k>``; the shared reference and
timing sources stay on the root sheet (:mod:`.hierarchy` connects the sheets). Diodes, transistors and switches are simulated by
KiCad's raw-SPICE model naming the deck's ``.model`` card, which ``<name>_models.lib`` holds at
top level (in the deck the cards are local to the readout's ``.subckt``).
"""

from __future__ import annotations

import dataclasses
import re

from ...circuit import Component
from ...circuit.graph import SubcircuitDef
from ..netlister import Netlister
from .symbols import BEHAVIOURAL, DIODE, NPN, REFERENCE, SWITCH, TIMING_SOURCE, SymbolDef

#: Prefix of the readout's internal nets in the flattened schematic.
NET_PREFIX = "ro_"
#: A B-source law's ``v(net)`` term.
VOLTAGE = re.compile(r"v\(([^(),]+)\)")
_CLASS = re.compile(r"[A-Za-z]+?(\d+)$")
#: Name of the hierarchical sheet of class k's detector.
SHEET = "readout_class_{}"
#: Group of the readout's shared parts (reference, timing, the comparators' common bus).
SHARED = "readout: reference and timing"


def is_readout(defn: SubcircuitDef) -> bool:
    """True for a subcircuit that is not an op-amp model (ports ``inp inn out``)."""
    return defn.ports != ("inp", "inn", "out")


def flatten(instance: Component, defn: SubcircuitDef) -> list[Component]:
    """Copies of ``defn``'s elements as they sit in the instance's scope: port nets → the
    instance's nets, ground stays ``0``, other nets get :data:`NET_PREFIX`; a B-source's
    ``v(net)`` terms renamed alike."""
    nets = dict(zip(defn.ports, instance.nodes))

    def net(name: str) -> str:
        return "0" if name == "0" else nets.get(name, NET_PREFIX + name)

    flat = []
    for e in defn.components:
        behaviour = e.behaviour
        if behaviour is not None:
            expr = VOLTAGE.sub(lambda m: f"v({net(m.group(1))})", behaviour.expr)
            behaviour = dataclasses.replace(behaviour, expr=expr)
        flat.append(dataclasses.replace(e, nodes=tuple(net(n) for n in e.nodes), behaviour=behaviour,
                                        attrs=dict(e.attrs)))
    return flat


def spice_tail(comp: Component) -> str:
    """What follows the nodes on ``comp``'s deck line: value, model name, law or waveform."""
    return Netlister().element(comp).split(None, 1 + len(comp.nodes))[-1]


def class_number(comp: Component) -> int | None:
    """The class an element of the readout belongs to (the number its name ends in), None for
    the shared reference, timing and comparator-bus parts."""
    match = _CLASS.fullmatch(comp.name)
    if comp.kind == "X" and comp.name[1:].lower().startswith("ref") or not match:
        return None
    return int(match.group(1))


def class_sheet(comp: Component) -> str:
    """The hierarchical sheet of a readout element: ``readout_class_<k>``, "" (root) if shared."""
    k = class_number(comp)
    return "" if k is None else SHEET.format(k)


def class_group(comp: Component, labels: dict[int, str]) -> str:
    """``readout class k (label)`` for an element named with class number k, else :data:`SHARED`."""
    k = class_number(comp)
    if k is None:
        return SHARED
    return f"readout class {k}" + (f" ({labels[k]})" if labels.get(k) else "")


def device_symbol(comp: Component) -> tuple[SymbolDef, str, dict[str, str], str]:
    """Symbol, footprint class, pads by model node index (``Sim.Pins``' order) and whether it
    is bought (``"part"``) or simulation-only (``"sim"``) of a D, Q, S, B or V."""
    if comp.kind == "D":
        return DIODE, "diode", {"2": "1", "1": "2"}, "part"
    if comp.kind == "Q":
        return NPN, "bjt", {"3": "1", "1": "2", "2": "3"}, "part"
    if comp.kind == "S":
        return SWITCH, "switch", {"1": "1", "2": "2", "3": "3", "4": "4"}, "part"
    if comp.kind == "B":
        return BEHAVIOURAL, "", {"1": "1", "2": "2"}, "sim"
    if comp.waveform is not None and comp.waveform.pwl:
        return TIMING_SOURCE, "", {"1": "1", "2": "2"}, "sim"
    return REFERENCE, "reference", {"1": "1", "2": "2"}, "part"


def models_text(defn: SubcircuitDef, title: str) -> str:
    """``<name>_models.lib``: the readout's ``.model`` cards at top level ("" without any)."""
    if not defn.models:
        return ""
    writer = Netlister()
    return "\n".join([f"* {title}: device models of the on-circuit readout (KiCad's Sim.Params lib)",
                      *(writer.device_model(m) for m in defn.models)]) + "\n"
