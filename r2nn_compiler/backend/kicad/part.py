"""One symbol instance of the schematic, before placement (built by :mod:`.parts`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .symbols import SymbolDef


@dataclass(frozen=True)
class Part:
    """One symbol instance to place: ``nets`` maps pin numbers to net names (``"0"`` ground)."""

    reference: str
    symbol: SymbolDef
    value: str
    nets: dict[str, str]
    group: str
    footprint: str = ""
    on_board: bool = True
    in_bom: bool = True
    fields: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    simulated: bool = True
    sheet: str = ""  # the hierarchical sheet it is drawn on ("": the root sheet)
