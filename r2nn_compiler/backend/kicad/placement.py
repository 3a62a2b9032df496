"""Where each part goes: groups (a resonator, the couplings from one resonator, inputs,
outputs, wiring, the readout) one under another, each group's parts in rows on a fixed grid.

All coordinates are schematic mm (y down) on KiCad's 1.27 mm connection grid, so every pin
end lands on the grid (ERC checks it). A cell is wide and tall enough for a part and the net
labels on its pins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

GRID = 1.27
CELL_X = 24 * GRID  # 30.48 mm
CELL_Y = 28 * GRID  # 35.56 mm
TITLE_Y = 6 * GRID  # room for a group's title above its first row
MARGIN = 20 * GRID  # from the page's corner to the first cell (clears the frame)
COLUMNS = 12
BLOCK_ROWS = 3  # extra rows a block (the readout) takes


@dataclass(frozen=True)
class Placed:
    """Part ``index`` (in the list given to :func:`place`) centred at (x, y)."""

    index: int
    x: float
    y: float


@dataclass(frozen=True)
class Title:
    """A group's heading at (x, y)."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    placed: list[Placed]
    titles: list[Title]
    width: float
    height: float


def snap(value: float) -> float:
    """``value`` rounded to the connection grid (mm)."""
    return round(value / GRID) * GRID


def place(groups: Sequence[str], tall: Sequence[bool], columns: int = COLUMNS) -> Layout:
    """A layout for parts whose groups are ``groups`` (in part order; a group's parts need not
    be adjacent) and of which those flagged ``tall`` (blocks with many pins) take extra rows."""
    order: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        order.setdefault(group, []).append(index)
    placed, titles = [], []
    y = MARGIN
    widest = 0
    for group, members in order.items():
        titles.append(Title(group, MARGIN, y))
        y += TITLE_Y
        for start in range(0, len(members), columns):
            row = members[start:start + columns]
            extra = max(BLOCK_ROWS if tall[i] else 0 for i in row)
            for column, index in enumerate(row):
                placed.append(Placed(index, snap(MARGIN + CELL_X * (column + 0.5)), snap(y + CELL_Y * (0.5 + extra / 2))))
            widest = max(widest, len(row))
            y += CELL_Y * (1 + extra)
    return Layout(placed, titles, 2 * MARGIN + CELL_X * widest, y + MARGIN)


#: ISO paper sizes (landscape, mm) a schematic may use, smallest first.
PAPERS = (("A4", 297.0, 210.0), ("A3", 420.0, 297.0), ("A2", 594.0, 420.0), ("A1", 841.0, 594.0),
          ("A0", 1189.0, 841.0))


def paper(width: float, height: float) -> tuple[str, float, float]:
    """The smallest ISO sheet that holds ``width`` × ``height`` mm, else a ``User`` sheet of
    that size (rounded up to 10 mm)."""
    for name, w, h in PAPERS:
        if width <= w and height <= h:
            return name, w, h
    return "User", 10.0 * -(-width // 10), 10.0 * -(-height // 10)
