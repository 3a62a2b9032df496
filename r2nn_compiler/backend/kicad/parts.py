"""The compiled graph's elements as schematic parts: symbol, reference, value, nets per pin,
fields (E-series, tolerance, footprint, ``Sim.*``) and whether the part goes on the board.

Every element of the deck becomes one part with the deck's designator as its reference and the
deck's nets on its pins, so the schematic's netlist is the deck's graph. Part data (series,
tolerance, what is a part and what is ideal) come from :mod:`..bom`, as the BOM shows them:

* bought parts (positive R, L, C; op-amps) are on the board and in the BOM;
* ideal elements (controlled sources, negative values) are simulation-only: in the BOM (series
  ``ideal``, as ``bom.csv`` lists them), not on the board: they still need a realisation;
* wiring: a near-zero DC loop breaker is a net tie (on the board, a copper short); a DC path
  to ground for a floating net, and modelled losses (parasitics, part of a real part), are
  simulation-only and in neither.

``Sim.*`` fields make KiCad's ngspice simulate each part exactly as the deck does: R, L, C,
VCCS and VCVS by KiCad's built-in models with the deck's value, subcircuit instances (op-amps,
the readout) by ``Sim.Library`` = the deck's ``.lib``.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from ...circuit import CircuitGraph, Component
from ...errors import CompileError
from ..bom import bom_rows, is_ideal, not_a_part
from ..netlister import spice_number
from . import symbols
from .footprints import Footprints
from .hierarchy import localise_laws, sense_points, stage_sheets
from .part import Part
from .readout import class_group, class_sheet, device_symbol, flatten, spice_tail

#: Wiring resistors up to this value (ohm) are shorts on the board (net ties); larger ones are
#: DC paths that only the simulator needs.
TIE_OHMS = 1.0

#: Nets of the op-amp supply pins (the deck's op-amp models are linear and have none).
SUPPLY_NETS = {"7": "VCC", "4": "VEE"}

_SI = [(9, "G"), (6, "M"), (3, "k"), (0, ""), (-3, "m"), (-6, "u"), (-9, "n"), (-12, "p"), (-15, "f")]


def si_value(value: float, unit: str = "") -> str:
    """``value`` in engineering notation with every digit of the deck's number (1.13e+06 →
    ``1.13M``; KiCad's convention: ``M`` mega, ``m`` milli, ``u`` micro)."""
    exact = Decimal(spice_number(value))
    if exact == 0:
        return "0" + unit
    exponent = exact.adjusted()
    power, prefix = next(((p, s) for p, s in _SI if exponent >= p), _SI[-1])
    mantissa = format(exact.scaleb(-power).normalize(), "f")
    return f"{mantissa}{prefix}{unit}"


def group_of(origin: str) -> str:
    """The placement group of an element from its origin note: ``resonator a``, ``couplings
    from a``, ``inputs``, ``outputs`` or ``wiring``."""
    words = origin.replace(",", " ").replace(":", " ").split()
    if len(words) >= 2 and words[0] == "resonator":
        return f"resonator {words[1]}"
    if "coupling" in words and words.index("coupling") + 1 < len(words):
        return f"couplings from {words[words.index('coupling') + 1]}"
    if words and words[0] == "input":
        return "inputs"
    if words and words[0] in ("output", "tap"):
        return "outputs"
    return "wiring" if words and words[0] == "DC" else "other"


def _sim_fields(comp: Component) -> tuple[tuple[str, str], ...]:
    """KiCad's raw-SPICE model: the element line ``<ref> <nets> {<value>}`` with the deck's
    value text in braces (KiCad rewrites a bare number, and its built-in R/L/C models, to 6
    digits; ngspice reads the brace expression back to 15)."""
    if comp.kind not in "RLCGE":
        raise CompileError(f"{comp.name}: the KiCad schematic has no symbol for a {comp.kind} element yet")
    pins = " ".join(f"{n}={n}" for n in range(1, len(comp.nodes) + 1))
    params = f'type="{comp.kind}" model="{{{spice_number(comp.value)}}}" lib=""'
    return (("Sim.Device", "SPICE"), ("Sim.Pins", pins), ("Sim.Params", params))


def _primitive(comp: Component, row: dict[str, str] | None, footprints: Footprints, group: str | None = None,
               bought: bool | None = None) -> Part:
    """An R, L, C, G or E of the network (``group`` and ``bought``: a readout element's, else
    from its origin and :mod:`..bom`)."""
    reason = not_a_part(comp)
    tie = reason == "wiring" and comp.kind == "R" and abs(comp.value) <= TIE_OHMS
    ideal = is_ideal(comp)
    symbol = (symbols.NET_TIE if tie else {"R": symbols.RESISTOR, "L": symbols.INDUCTOR, "C": symbols.CAPACITOR}
              .get(comp.kind) or symbols.controlled_source(comp.kind, f"ideal {comp.kind} source"))
    on_board = (tie or not (reason or ideal)) if bought is None else bought
    part_class = "nettie" if tie else comp.kind
    fields = [("Series", row["series"] if row else (reason or "")), ("Tolerance", row["tolerance"] if row else "")]
    fields += [("Origin", comp.origin), *_sim_fields(comp)]
    unit = {"R": "", "L": "H", "C": "F"}.get(comp.kind, "")
    return Part(comp.name, symbol, si_value(comp.value, unit), dict(zip(("1", "2", "3", "4"), comp.nodes)),
                group or group_of(comp.origin), footprints.of(comp.name, part_class) if on_board else "", on_board,
                row is not None, tuple(fields))


def _instance(comp: Component, graph: CircuitGraph, library: str, footprints: Footprints, group: str) -> Part:
    """A subcircuit instance: an op-amp (ports inp, inn, out) on the op-amp symbol, anything
    else (the readout) as a block with the definition's ports."""
    defn = graph.subcircuits[comp.subckt]
    sim = [("Sim.Device", "SUBCKT"), ("Sim.Library", library), ("Sim.Name", comp.subckt)]
    if defn.ports in (("inp", "inn", "out"), ("inp", "inn", "out", "vcc", "vee")):
        # a readout op-amp has supply pins (vcc, vee): they join the readout's rails
        supplies = dict(zip(("7", "4"), comp.nodes[3:])) or SUPPLY_NETS
        nets = {"3": comp.nodes[0], "2": comp.nodes[1], "6": comp.nodes[2], **supplies}
        sim.append(("Sim.Pins", "3=inp 2=inn 6=out" + (" 7=vcc 4=vee" if len(comp.nodes) == 5 else "")))
        return Part(comp.name, symbols.OPAMP, comp.subckt, nets, group, footprints.of(comp.name, "opamp"),
                    fields=(("Series", "op-amp"), ("Origin", comp.origin), *sim))
    block = symbols.block(comp.subckt, defn.ports, 0, defn.doc or comp.subckt)
    sim.append(("Sim.Pins", " ".join(f"{i + 1}={p}" for i, p in enumerate(defn.ports))))
    nets = {str(i + 1): net for i, net in enumerate(comp.nodes)}
    return Part(comp.name, block, comp.subckt, nets, group, footprints.of(comp.name, "block"), on_board=False,
                fields=(("Origin", comp.origin), *sim))


def _device(comp: Component, row: dict[str, str] | None, models: str, footprints: Footprints, group: str) -> Part:
    """A readout D, Q, S, B or V: KiCad's raw-SPICE model with the deck line's tail (model
    name, law or waveform; a law's nets are renamed as KiCad names them once the sheets are
    known: :func:`.hierarchy.localise_laws`); device models from ``models`` (``<name>_models.lib``)."""
    symbol, part_class, pads, kind = device_symbol(comp)
    nets = {pad: comp.nodes[int(node) - 1] for pad, node in pads.items()}
    on_board = kind == "part"
    lib = models if comp.model is not None else ""
    tail = spice_tail(comp).replace('"', "'")
    sim = (("Sim.Device", "SPICE"), ("Sim.Pins", " ".join(f"{p}={n}" for p, n in pads.items())),
           ("Sim.Params", f'type="{comp.kind}" model="{tail}" lib="{lib}"'))
    value = row["value"] if row else tail
    fields = (("Series", row["series"] if row else ""), ("Origin", comp.origin), *sim)
    return Part(comp.name, symbol, value, nets, group, footprints.of(comp.name, part_class) if on_board else "",
                on_board, row is not None, fields)


def readout_parts(graph: CircuitGraph, library: str, models: str, rows: dict[str, dict[str, str]],
                  footprints: Footprints) -> list[Part]:
    """The on-circuit readout's elements, flattened (:func:`.readout.flatten`), as parts in the
    deck's order, grouped per class; bought as the BOM lists them (its rows are ``rows``,
    keyed by ``<instance>.<element>``)."""
    instance = graph.readout
    labels = {i + 1: p.label for i, p in enumerate(p for p in graph.ports if p.role == "decision")}
    parts = []
    for comp in flatten(instance, graph.subcircuits[instance.subckt]):
        row, group = rows.get(f"{instance.name}.{comp.name}"), class_group(comp, labels)
        if comp.kind == "X":
            parts.append(_instance(comp, graph, library, footprints, group))
        elif comp.kind in "RLC":
            bought = row is not None and row["series"] != "ideal"
            parts.append(_primitive(comp, row, footprints, group, bought))
        else:
            parts.append(_device(comp, row, models, footprints, group))
        parts[-1] = dataclasses.replace(parts[-1], sheet=class_sheet(comp))
    return parts


def connector(graph: CircuitGraph, footprints: Footprints) -> Part:
    """``J1``, a pin header carrying the circuit's ports (in port order), the op-amp supplies
    (when there are op-amps) and ground: where the board meets the world. Not simulated."""
    nets = [p.name for p in graph.ports]
    if any(c.kind == "X" for c in graph.components) or graph.readout is not None:
        nets += [SUPPLY_NETS["7"], SUPPLY_NETS["4"]]
    nets.append("0")
    name = f"Conn_01x{len(nets):02d}"
    symbol = symbols.block(name, tuple("GND" if n == "0" else n for n in nets), len(nets), "Pin header: ports, "
                           "supplies, ground")
    footprint = footprints.by_designator.get(
        "J1", f"Connector_PinHeader_2.54mm:PinHeader_1x{len(nets):02d}_P2.54mm_Vertical")
    return Part("J1", symbols.SymbolDef(name, "J", symbol.pins, symbol.graphics, symbol.description, False, True),
                name, {str(i + 1): n for i, n in enumerate(nets)}, "connector", footprint, simulated=False)


def parts_of(graph: CircuitGraph, library: str, footprints: Footprints, models: str = "") -> list[Part]:
    """The connector, then every element of ``graph`` (its components, then the readout's
    elements) as a part, in the deck's order; op-amp stages (GICs, NICs) and the readout's
    class detectors on hierarchical sheets. ``library`` is the deck's ``.lib`` file name (the
    subcircuits' models), ``models`` the readout's ``.model`` cards' file.
    Raises CompileError for an element kind the schematic cannot draw (H, V at top level)."""
    rows = {name: row for row in bom_rows(graph) for name in row["designator"].split()}
    parts = [connector(graph, footprints)]
    sheets = stage_sheets(graph.components)
    for comp in graph.components:
        if comp.kind == "X":
            part = _instance(comp, graph, library, footprints, group_of(comp.origin))
        else:
            part = _primitive(comp, rows.get(comp.name), footprints)
        parts.append(dataclasses.replace(part, sheet=sheets[comp.name]) if comp.name in sheets else part)
    if graph.readout is not None:
        parts += readout_parts(graph, library, models, rows, footprints)
    ports = {p.name for p in graph.ports}
    return localise_laws(parts + sense_points(parts, ports), ports)
