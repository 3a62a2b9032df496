"""``<name>.kicad_sym``: the symbol library of a compiled deck, and the project files that
make KiCad find it.

The library (nickname ``r2nn``) holds the block symbol of the model's subcircuit (pins = the
manifest's ports in order, inputs on the left; ``Sim.*`` fields point at ``<name>.lib`` so
KiCad's ngspice simulates the block as the deck's ``.subckt``) and every symbol the schematic
uses, so the schematic's ``r2nn:`` symbols resolve to this file through the project's
``sym-lib-table``.
"""

from __future__ import annotations

import json

from ...circuit import CircuitGraph
from .sexpr import Node, node
from .symbols import SymbolDef, block

#: KiCad 9.0's symbol library file version.
LIBRARY_VERSION = 20241209


def subcircuit_symbol(graph: CircuitGraph, subckt: str, library: str, description: str) -> SymbolDef:
    """The model's ``.subckt`` as one block: pins 1..N = ``graph.ports`` (the manifest's
    ``ports``), inputs first, on the left."""
    ports = tuple(p.name for p in graph.ports)
    inputs = sum(1 for p in graph.ports if p.role == "input")
    pins = " ".join(f"{i + 1}={p}" for i, p in enumerate(ports))
    sim = (("Sim.Device", "SUBCKT"), ("Sim.Library", library), ("Sim.Name", subckt), ("Sim.Pins", pins))
    return block(subckt, ports, inputs, description, properties=sim)


def library_text(symbols: list[SymbolDef]) -> Node:
    """The ``(kicad_symbol_lib ...)`` of ``symbols`` (sorted by name)."""
    return node("kicad_symbol_lib", node("version", LIBRARY_VERSION), node("generator", "r2nn_compiler"),
                node("generator_version", "9.0"),
                *(s.to_node(qualified=False) for s in sorted(symbols, key=lambda s: s.name)))


def sym_lib_table(library_file: str) -> Node:
    """The project's ``sym-lib-table``: nickname ``r2nn`` → ``${KIPRJMOD}/<library_file>``."""
    return node("sym_lib_table", node("version", 7),
                node("lib", node("name", "r2nn"), node("type", "KiCad"), node("uri", f"${{KIPRJMOD}}/{library_file}"),
                     node("options", ""), node("descr", "r2nn-compiler: the compiled model's symbols")))


def project_text(name: str) -> str:
    """A minimal ``<name>.kicad_pro`` (KiCad fills in its defaults when it opens it)."""
    return json.dumps({"meta": {"filename": f"{name}.kicad_pro", "version": 1}, "schematic": {},
                       "sheets": [], "text_variables": {}}, indent=2) + "\n"


__all__ = ["library_text", "project_text", "subcircuit_symbol", "sym_lib_table"]
