"""Where each part goes: groups (a resonator, the couplings from one resonator, inputs,
outputs, wiring, the readout) flowing in rows of cells on a fixed grid, each under its title.

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
    be adjacent) and of which those flagged ``tall`` (blocks with many pins) take extra rows.

    Groups flow left to right in rows of ``columns`` cells, a group's title above its first
    cell; a group that does not fit in what is left of a row starts the next one, and a group
    longer than a row wraps."""
    order: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        order.setdefault(group, []).append(index)
    cells: list[tuple[int, int, int]] = []  # (index, row, column)
    heads: list[tuple[str, int, int]] = []  # (group, row, column)
    row = column = 0
    for group, members in order.items():
        if column and column + len(members) > columns:
            row, column = row + 1, 0
        heads.append((group, row, column))
        for index in members:
            if column == columns:
                row, column = row + 1, 0
            cells.append((index, row, column))
            column += 1
    extra = [0] * (row + 1)
    for index, r, _ in cells:
        extra[r] = max(extra[r], BLOCK_ROWS if tall[index] else 0)
    tops = [MARGIN]
    for r in range(row + 1):
        tops.append(tops[-1] + TITLE_Y + CELL_Y * (1 + extra[r]))
    placed = [Placed(index, snap(MARGIN + CELL_X * (c + 0.5)), snap(tops[r] + TITLE_Y + CELL_Y * (0.5 + extra[r] / 2)))
              for index, r, c in cells]
    titles = [Title(group, MARGIN + CELL_X * c, tops[r]) for group, r, c in heads]
    widest = max((c + 1 for _, _, c in cells), default=0)
    return Layout(placed, titles, 2 * MARGIN + CELL_X * widest, tops[-1] + MARGIN)


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
