"""Micropower part library: typed catalogue, ngspice macromodels and their benches.

- :mod:`~r2nn_compiler.parts.catalogue`: the entries (op-amps, comparators, diodes, BJTs,
  switches, a reference), each with its figures and their :class:`Source`.
- :mod:`~r2nn_compiler.parts.models`: the entries as circuit-IR subcircuit definitions and device
  models (:func:`~r2nn_compiler.parts.models.definition`), and as SPICE text.
- :mod:`~r2nn_compiler.parts.measure`: ngspice benches measuring those figures.

Design notes and what the models leave out: docs/parts.md.
"""

from r2nn_compiler.parts.catalogue import (
    BJTS, CATALOGUE, COMPARATORS, DIODES, OPAMPS, REFERENCES, SWITCHES, BjtPart,
    ComparatorPart, DiodePart, OpampPart, Part, ReferencePart, Source, SwitchPart, part,
)
from r2nn_compiler.parts.models import library, render

__all__ = [
    "BJTS", "CATALOGUE", "COMPARATORS", "DIODES", "OPAMPS", "REFERENCES", "SWITCHES",
    "BjtPart", "ComparatorPart", "DiodePart", "OpampPart", "Part", "ReferencePart",
    "Source", "SwitchPart", "library", "part", "render",
]
