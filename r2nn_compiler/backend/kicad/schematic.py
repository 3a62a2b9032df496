"""``<name>.kicad_sch``: the whole compiled circuit as one KiCad 9 schematic sheet.

Parts (:mod:`.parts`) are placed by :mod:`.placement`; every pin gets a net label named after
its deck net at its end (ground pins a ``GND`` symbol, which KiCad's SPICE export writes as
node ``0``), so connectivity is by name and no wire needs routing. One ``PWR_FLAG`` marks the
ground net as driven for ERC. UUIDs are derived from the model's name and each item's role, so
the same compile writes the same file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from .hierarchy import crossing_nets
from .part import Part
from .placement import GRID, MARGIN, Layout, paper, place
from .sheets import SheetBox, sheet_items
from .sexpr import Atom, Node, node, yes_no
from .symbols import GROUND, POWER_FLAG, Pin, SymbolDef

#: KiCad 9.0's schematic file version.
VERSION = 20250114
_NAMESPACE = uuid.UUID("6f1c6a0e-2b1e-4f0e-9a55-72326e6e2d31")

#: Label angle and justification per direction a pin leaves its body.
_LABEL = {"left": (180, "right"), "right": (0, "left"), "up": (90, "left"), "down": (270, "right")}
#: Ground symbol rotation per direction (its drawing points down at 0°).
_GROUND_ANGLE = {"down": 0, "right": 90, "up": 180, "left": 270}


class Uuids:
    """Deterministic UUIDs: uuid5 of ``<project>/<key>``."""

    def __init__(self, project: str) -> None:
        self.project = project

    def __call__(self, key: str, rank: int | None = None) -> Node:
        """The UUID of ``key``; with a ``rank``, its first 32 bits are the rank, so items sort by
        rank (KiCad's SPICE export writes symbols in UUID order, and the deck's order keeps
        ngspice's matrix ordering, hence its time steps, the same as the deck's)."""
        text = str(uuid.uuid5(_NAMESPACE, f"{self.project}/{key}"))
        return node("uuid", text if rank is None else f"{rank:08x}{text[8:]}")

    def text(self, key: str) -> str:
        return self(key).items[0]


def _effects(justify: str | None = None, hidden: bool = False) -> Node:
    return node("effects", node("font", node("size", 1.27, 1.27)),
                node("justify", *map(Atom, justify.split())) if justify else None,
                node("hide", Atom("yes")) if hidden else None)


def _property(key: str, value: str, x: float, y: float, justify: str | None = None, hidden: bool = True) -> Node:
    return node("property", key, value, node("at", x, y, 0), _effects(justify, hidden))


def _instance(lib_id: str, x: float, y: float, angle: int, reference: str, uid: Uuids, key: str,
              properties: list[Node], pins: tuple[Pin, ...], flags: tuple[bool, bool, bool],
              rank: int | None = None, path: str | None = None) -> Node:
    """A placed symbol (``flags``: in BOM, on board, excluded from simulation) on the sheet
    whose instance path is ``path`` (default: the root sheet's)."""
    in_bom, on_board, no_sim = flags
    return node("symbol", node("lib_id", lib_id), node("at", x, y, angle), node("unit", 1),
                node("exclude_from_sim", yes_no(no_sim)), node("in_bom", yes_no(in_bom)),
                node("on_board", yes_no(on_board)), node("dnp", yes_no(False)), uid(key, rank), *properties,
                *(node("pin", p.number, uid(f"{key}/pin{p.number}")) for p in pins),
                node("instances", node("project", uid.project,
                                       node("path", path or "/" + uid.text("root"), node("reference", reference),
                                            node("unit", 1)))))


def part_node(part: Part, x: float, y: float, uid: Uuids, rank: int, path: str | None = None) -> Node:
    """The symbol instance of ``part`` centred at (x, y), ``rank`` its place in the deck."""
    two_pin = len(part.symbol.pins) == 2
    half = max(abs(p.y) for p in part.symbol.pins) + 2 * GRID
    ref_at, value_at, just = ((x + 2 * GRID, y - GRID), (x + 2 * GRID, y + GRID), "left") if two_pin else \
        ((x + GRID, y - half), (x + GRID, y + half), "left")
    props = [_property("Reference", part.reference, *ref_at, just, False),
             _property("Value", part.value, *value_at, just, False),
             _property("Footprint", part.footprint, x, y), _property("Datasheet", "", x, y),
             _property("Description", part.symbol.description, x, y)]
    props += [_property(k, v, x, y) for k, v in part.fields]
    return _instance(part.symbol.lib_id, x, y, 0, part.reference, uid, f"part/{part.reference}", props,
                     part.symbol.pins, (part.in_bom, part.on_board, not part.simulated), rank, path)


def _ground(x: float, y: float, angle: int, number: int, uid: Uuids, symbol: SymbolDef = GROUND,
            path: str | None = None) -> Node:
    reference = f"{symbol.prefix}{number:04d}"
    props = [_property("Reference", reference, x, y), _property("Value", symbol.name, x, y),
             _property("Footprint", "", x, y), _property("Datasheet", "", x, y),
             _property("Description", symbol.description, x, y)]
    return _instance(symbol.lib_id, x, y, angle, reference, uid, f"power/{reference}", props, symbol.pins,
                     (False, False, False), path=path)


def pin_items(part: Part, x: float, y: float, uid: Uuids, grounds: Iterator[int], ports: dict[str, str],
              hierarchical: frozenset[str] = frozenset(), path: str | None = None) -> list[Node]:
    """A net label at the end of every pin of ``part`` placed at (x, y): a ground symbol on net
    ``0``, a global label (shape ``ports[net]``) on a port's net, a hierarchical label on a net
    of ``hierarchical`` (a sheet's pins), else a local label."""
    items = []
    for pin in part.symbol.pins:
        net = part.nets[pin.number]
        px, py = x + pin.x, y - pin.y  # library y is up, schematic y is down
        if net == "0":
            items.append(_ground(px, py, _GROUND_ANGLE[pin.outward], next(grounds), uid, path=path))
            continue
        angle, justify = _LABEL[pin.outward]
        if net in ports:
            items.append(node("global_label", net, node("shape", Atom(ports[net])), node("at", px, py, angle),
                              node("fields_autoplaced", Atom("yes")), _effects(justify),
                              uid(f"label/{part.reference}/{pin.number}"),
                              node("property", "Intersheetrefs", "${INTERSHEET_REFS}", node("at", px, py, 0),
                                   _effects(justify, True))))
            continue
        if net in hierarchical:
            items.append(node("hierarchical_label", net, node("shape", Atom("passive")), node("at", px, py, angle),
                              _effects(justify), uid(f"label/{part.reference}/{pin.number}")))
            continue
        items.append(node("label", net, node("at", px, py, angle), node("fields_autoplaced", Atom("yes")),
                          _effects(justify + " bottom"), uid(f"label/{part.reference}/{pin.number}")))
    return items


def _title(text: str, x: float, y: float, uid: Uuids) -> Node:
    return node("text", text, node("exclude_from_sim", yes_no(True)), node("at", x, y, 0),
                node("effects", node("font", node("size", 2.54, 2.54), node("bold", Atom("yes"))),
                     node("justify", Atom("left"), Atom("bottom"))), uid(f"title/{text}"))


def _body(parts: list[Part], members: list[int], ctx: "Sheet", boxes: list[SheetBox] = ()) -> tuple[list[Node], Layout]:
    """The items of one sheet: parts ``members`` (indices into ``parts``, which rank them in
    the deck's order) and, on the root, the hierarchical sheets' ``boxes``, placed by group."""
    tall = [len(parts[i].symbol.pins) > 8 for i in members] + [len(b.pins) > 8 for b in boxes]
    layout = place([parts[i].group for i in members] + [b.group for b in boxes], tall)
    body: list[Node] = []
    for spot in layout.placed:
        if spot.index >= len(members):
            body += sheet_items(boxes[spot.index - len(members)], spot.x, spot.y, ctx.uid, ctx.ports)
            continue
        part = parts[members[spot.index]]
        ctx.used.setdefault(part.symbol.lib_id, part.symbol)
        body.append(part_node(part, spot.x, spot.y, ctx.uid, members[spot.index] + 1, ctx.path))
        body += pin_items(part, spot.x, spot.y, ctx.uid, ctx.grounds, ctx.ports, ctx.hierarchical, ctx.path)
    return body, layout


@dataclass
class Sheet:
    """What drawing one sheet needs: the UUIDs, the ground symbols' numbering (shared by all
    sheets), the port label shapes, the sheet's instance ``path`` (None: root), the nets it
    labels as hierarchical and the library symbols used so far (shared)."""

    uid: Uuids
    grounds: Iterator[int]
    ports: dict[str, str]
    used: dict[str, SymbolDef]
    path: str | None = None
    hierarchical: frozenset[str] = frozenset()


def _file(uid: Uuids, key: str, layout: Layout, head: list[Node | None], body: list[Node],
          used: dict[str, SymbolDef], tail: list[Node]) -> Node:
    name, width, height = paper(layout.width, layout.height)
    paper_node = node("paper", name) if name != "User" else node("paper", "User", width, height)
    return node("kicad_sch", node("version", VERSION), node("generator", "r2nn_compiler"),
                node("generator_version", "9.0"), uid(key), paper_node, *head,
                node("lib_symbols", *(s.to_node() for s in sorted(used.values(), key=lambda s: s.name))),
                *body, *tail, node("embedded_fonts", Atom("no")))


def schematic_files(parts: list[Part], project: str, title: str, comments: list[str],
                    ports: dict[str, str]) -> dict[str, Node]:
    """The ``(kicad_sch ...)`` of each file by name: ``<project>.kicad_sch`` (the root sheet,
    with the parts whose ``sheet`` is "") and ``<project>_<sheet>.kicad_sch`` per hierarchical
    sheet. ``ports`` maps the circuit's port nets to their global label shapes."""
    uid = Uuids(project)
    root = "/" + uid.text("root")
    ctx = Sheet(uid, iter(range(1, 1_000_000)), ports, {GROUND.lib_id: GROUND, POWER_FLAG.lib_id: POWER_FLAG})
    crossing = crossing_nets(parts, set(ports))
    names = list(dict.fromkeys(p.sheet for p in parts if p.sheet))
    group = {p.sheet: "readout: class detectors" if p.sheet.startswith("readout_class_") else p.group
             for p in reversed(parts) if p.sheet}
    boxes = [SheetBox(n, f"{project}_{n}.kicad_sch", tuple(crossing.get(n, ())), page, group[n])
             for page, n in enumerate(names, 2)]
    body, layout = _body(parts, [i for i, p in enumerate(parts) if not p.sheet], ctx, boxes)
    flag_at = (MARGIN / 2, MARGIN)
    body += [_ground(*flag_at, 0, next(ctx.grounds), uid), _ground(*flag_at, 0, 1, uid, POWER_FLAG)]
    body += [_title(t.text, t.x, t.y, uid) for t in layout.titles]
    files = {}
    for box in boxes:
        child = Sheet(uid, ctx.grounds, ports, {GROUND.lib_id: GROUND}, f"{root}/{uid.text('sheet/' + box.name)}", frozenset(box.pins))
        child_body, child_layout = _body(parts, [i for i, p in enumerate(parts) if p.sheet == box.name], child)
        child_body += [_title(t.text, t.x, t.y, uid) for t in child_layout.titles]
        files[box.file] = _file(uid, f"file/{box.name}", child_layout, [], child_body, child.used, [])
    head = [node("title_block", node("title", title), *(node("comment", i + 1, c) for i, c in enumerate(comments[:9])))]
    instances = [node("sheet_instances", node("path", "/", node("page", "1")))]
    return {f"{project}.kicad_sch": _file(uid, "root", layout, head, body, ctx.used, instances), **files}
