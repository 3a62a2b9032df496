"""Hierarchical sheet symbols on the root sheet: a box per sheet, its pins on the left edge,
each pin's net as a label (global for a port) at the pin.

A sheet's pins are the nets it shares with the rest of the design (:func:`.hierarchy.crossing_nets`);
inside the sheet the same nets carry hierarchical labels. Coordinates are schematic mm on the
1.27 mm grid (:mod:`.placement`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .placement import GRID, snap
from .sexpr import Atom, Node, node, yes_no

if TYPE_CHECKING:
    from .schematic import Uuids

#: Width of a sheet's box (mm) and the pitch of its pins.
WIDTH = 16 * GRID
PITCH = 2 * GRID


@dataclass(frozen=True)
class SheetBox:
    """Hierarchical sheet ``name`` drawn from ``file``, with a pin per net of ``pins``, on
    page ``page``, placed with ``group``."""

    name: str
    file: str
    pins: tuple[str, ...]
    page: int
    group: str


def _font(justify: str) -> Node:
    return node("effects", node("font", node("size", 1.27, 1.27)), node("justify", *map(Atom, justify.split())))


def sheet_items(box: SheetBox, cx: float, cy: float, uid: Uuids, ports: dict[str, str]) -> list[Node]:
    """The ``(sheet ...)`` of ``box`` centred near (cx, cy) and a label on each of its pins."""
    height = PITCH * (len(box.pins) + 1)
    x, y = snap(cx - WIDTH / 2), snap(cy - height / 2)
    pins = [(net, x, y + PITCH * (i + 1)) for i, net in enumerate(box.pins)]
    sheet = node("sheet", node("at", x, y), node("size", WIDTH, height), node("exclude_from_sim", yes_no(False)),
                 node("in_bom", yes_no(True)), node("on_board", yes_no(True)), node("dnp", yes_no(False)),
                 node("fields_autoplaced", Atom("yes")),
                 node("stroke", node("width", 0.1524), node("type", Atom("solid"))),
                 node("fill", node("color", 0, 0, 0, 0.0)), uid(f"sheet/{box.name}"),
                 node("property", "Sheetname", box.name, node("at", x, y - 0.7112, 0), _font("left bottom")),
                 node("property", "Sheetfile", box.file, node("at", x, y + height + 0.5842, 0), _font("left top")),
                 *(node("pin", net, Atom("passive"), node("at", px, py, 180), uid(f"sheet/{box.name}/pin/{net}"),
                        _font("left")) for net, px, py in pins),
                 node("instances", node("project", uid.project,
                                        node("path", "/" + uid.text("root"), node("page", str(box.page))))))
    labels = []
    for net, px, py in pins:
        key = uid(f"sheet/{box.name}/label/{net}")
        if net in ports:
            labels.append(node("global_label", net, node("shape", Atom(ports[net])), node("at", px, py, 180),
                               node("fields_autoplaced", Atom("yes")), _font("right"), key))
        else:
            labels.append(node("label", net, node("at", px, py, 180), node("fields_autoplaced", Atom("yes")),
                               _font("right bottom"), key))
    return [sheet, *labels]
