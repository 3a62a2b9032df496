"""KiCad output of ``r2nn compile --kicad``: the schematic of the whole circuit
(``<name>.kicad_sch``) and the subcircuit as one block symbol (``<name>.kicad_sym``).

Design notes and how KiCad checks the files: docs/kicad.md.
"""

from __future__ import annotations

from ...circuit import CircuitGraph
from .footprints import Footprints, load_footprints, parse_footprints
from .parts import parts_of
from .schematic import schematic
from .sexpr import dumps

#: Global label shape of a port per role.
PORT_SHAPES = {"input": "input", "output": "output", "tap": "output", "decision": "output", "supply": "passive"}

__all__ = ["Footprints", "kicad_files", "load_footprints", "parse_footprints"]


def kicad_files(graph: CircuitGraph, name: str, library: str, title: str, comments: list[str],
                footprints: Footprints | None = None) -> dict[str, str]:
    """The KiCad files of compiled ``graph`` (deck name ``name``, library file ``library``) as
    texts by file name."""
    parts = parts_of(graph, library, footprints or Footprints())
    ports = {p.name: PORT_SHAPES.get(p.role, "passive") for p in graph.ports}
    return {f"{name}.kicad_sch": dumps(schematic(parts, name, title, comments, ports))}
