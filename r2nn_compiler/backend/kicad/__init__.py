"""KiCad output of ``r2nn compile --kicad``: the schematic of the whole circuit
(``<name>.kicad_sch``) and the subcircuit as one block symbol (``<name>.kicad_sym``).

Design notes and how KiCad checks the files: docs/kicad.md.
"""

from __future__ import annotations

from ...circuit import CircuitGraph
from .footprints import Footprints, load_footprints, parse_footprints
from .parts import parts_of
from .readout import models_text
from .schematic import schematic_files
from .library import library_text, project_text, subcircuit_symbol, sym_lib_table
from .sexpr import dumps
from .symbols import GROUND, POWER_FLAG

#: Global label shape of a port per role.
PORT_SHAPES = {"input": "input", "output": "output", "tap": "output", "decision": "output", "control": "input",
               "supply": "passive"}

__all__ = ["Footprints", "kicad_files", "load_footprints", "parse_footprints"]


def kicad_files(graph: CircuitGraph, name: str, subckt: str, title: str, comments: list[str],
                footprints: Footprints | None = None) -> dict[str, str]:
    """The KiCad files of compiled ``graph`` as texts by file name: ``<name>.kicad_sch``,
    ``<name>.kicad_sym``, ``<name>.kicad_pro``, ``sym-lib-table`` and, with an on-circuit readout
    that has device models, ``<name>_models.lib`` (its ``.model`` cards). ``name`` is the deck's
    name (its library is ``<name>.lib``, its subcircuit ``subckt``)."""
    library, models = f"{name}.lib", f"{name}_models.lib"
    cards = models_text(graph.subcircuits[graph.readout.subckt], title) if graph.readout is not None else ""
    parts = parts_of(graph, library, footprints or Footprints(), models if cards else "")
    ports = {p.name: PORT_SHAPES.get(p.role, "passive") for p in graph.ports}
    symbols = {s.name: s for s in [GROUND, POWER_FLAG] + [p.symbol for p in parts]}
    block = subcircuit_symbol(graph, subckt, library, f"{title}: the compiled network as one block")
    symbols[block.name] = block
    sheets = {file: dumps(tree) for file, tree in schematic_files(parts, name, title, comments, ports).items()}
    return {**sheets,
            f"{name}.kicad_sym": dumps(library_text(list(symbols.values()))),
            f"{name}.kicad_pro": project_text(name), "sym-lib-table": dumps(sym_lib_table(f"{name}.kicad_sym")),
            **({models: cards} if cards else {})}
