"""``bom.csv``: the bill of materials, one row per distinct part (value, kind, series, tolerance).

Columns: designator (space-separated list), kind, value (exponent notation), unit, series,
tolerance, quantity. What each row means:

* quantised parts show their E-series (``part.series``, e.g. ``E96``) and tolerance
  (``part.tolerance``, a fraction, printed as ``1%``); positive R, L, C not yet quantised
  show series ``exact``;
* ideal elements (controlled sources, voltage sources, negative values) are listed with series
  ``ideal`` so a hardware designer sees at once what still needs an active realisation;
* op-amp instances (:func:`~r2nn_compiler.circuit.annotations.opamps`: X with role ``active``
  or ``buffer``) make one row per op-amp model (the
  subcircuit name is the value), series ``op-amp``; other subcircuit instances one row per
  subcircuit and series;
* wiring (DC loop breakers, role/series ``wiring``) and modelled losses (role/series
  ``parasitic``) are not parts and are left out; the manifest counts them;
* the on-circuit readout (the instance ``graph.readout`` and its subcircuit; see
  ``readout_analog``) follows, its designators prefixed with its instance (``Xreadout.Rin1``):
  resistors and capacitors with the series and tolerance its description gives, op-amps (the
  clamped macromodel's name, series ``op-amp``), diodes and transistors by part number (series
  ``part``), analog switches, the voltage reference (series ``reference``), and the timing
  sources and B-sources as ``ideal`` (a controller's outputs; behavioural stand-ins).

The BOM writes what the graph holds: it never rounds or renames values.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict

from ..circuit import CircuitGraph, Component
from ..circuit.annotations import NOT_PARTS, ROLE, Role, Series, opamps, series_of, tolerance_of
from .netlister import spice_number

HEADER = ["designator", "kind", "value", "unit", "series", "tolerance", "quantity"]

def not_a_part(comp: Component) -> str | None:
    """``'wiring'`` or ``'parasitic'`` for a component that is not a part, else None."""
    for tag in (comp.attrs.get(ROLE), series_of(comp)):
        if tag in NOT_PARTS:
            return Role(tag)
    return None


def is_ideal(comp: Component) -> bool:
    """True for elements no part realises as they stand: controlled and voltage sources, and
    R, L, C with values ≤ 0."""
    return comp.kind != "X" and not (comp.kind in "RLC" and comp.value > 0)


def format_tolerance(tolerance) -> str:
    """A fraction as a percentage (0.01 → ``1%``); text as given; nothing as ``""``."""
    if tolerance is None or tolerance == "":
        return ""
    if isinstance(tolerance, str):
        return tolerance
    return f"{100 * tolerance:g}%"


def bom_rows(graph: CircuitGraph) -> list[dict[str, str]]:
    """The BOM's rows in order of each part's first appearance in the graph, then the
    on-circuit readout's."""
    groups: dict[tuple, list[str]] = defaultdict(list)
    amplifiers = {op.designator for op in opamps(graph)}
    for comp in graph.components:
        if not_a_part(comp):
            continue
        tol = format_tolerance(tolerance_of(comp))
        if comp.kind == "X" and comp.name in amplifiers:
            key = ("X", comp.subckt, "", Series.OPAMP, "")
        elif comp.kind == "X":
            key = ("X", comp.subckt, "", series_of(comp) or Series.SUBCIRCUIT, tol)
        else:
            series = series_of(comp) or (Series.IDEAL if is_ideal(comp) else Series.EXACT)
            key = (comp.kind, spice_number(comp.value), comp.unit, series, tol)
        groups[key].append(comp.name)
    for key, name in readout_parts(graph):
        groups[key].append(name)
    return [{"designator": " ".join(names), "kind": kind, "value": value, "unit": unit, "series": series,
             "tolerance": tol, "quantity": str(len(names))}
            for (kind, value, unit, series, tol), names in groups.items()]


#: Readout devices by model: (BOM value, series). The switch model stands for a DG4xx-class part.
_READOUT_DEVICES = {"d1n4148": ("1N4148", Series.PART), "q2n3904": ("2N3904", Series.PART),
                    "swa": ("analog switch, DG4xx class", Series.PART)}


def readout_parts(graph: CircuitGraph) -> list[tuple[tuple, str]]:
    """(row key, designator) of every element of the on-circuit readout's subcircuit
    (``graph.readout`` and its definition in ``graph.subcircuits``); [] without one. The
    behavioural integrators' leak resistors and ``Bqlin`` (the linear part's op-amps' quiescent
    current, drawn from the readout's rails: those op-amps are rows of their own) model nothing
    bought and are left out."""
    if graph.readout is None:
        return []
    prefix = graph.readout.name
    defn = graph.subcircuits[graph.readout.subckt]
    return [(_readout_key(e, graph), f"{prefix}.{e.name}") for e in defn.components
            if not e.name.startswith(("Rleak", "Bqlin"))]


def _readout_key(e: Component, graph: CircuitGraph) -> tuple:
    """The BOM row key of one readout element: op-amps by their model's subcircuit, devices by
    part number, sources by what they are, R and C by value, series and tolerance."""
    if e.kind == "X":
        return ("X", e.subckt, "", Series.OPAMP if e.subckt in graph.subcircuits else Series.SUBCIRCUIT, "")
    if e.model is not None:
        value, series = _READOUT_DEVICES.get(e.model, (e.model, Series.PART))
        return (e.kind, value, "", series, "")
    if e.kind == "B" or (e.waveform is not None and e.waveform.pwl):
        return (e.kind, "behavioural source" if e.kind == "B" else "timing source", "", Series.IDEAL, "")
    if e.kind == "V":
        return ("V", spice_number(e.value), "V", Series.REFERENCE, "")
    series = series_of(e) or Series.EXACT
    tol = format_tolerance(tolerance_of(e)) if series_of(e) not in (None, Series.IDEAL) else ""
    return (e.kind, spice_number(e.value), e.unit, series, tol)


def part_count(graph: CircuitGraph) -> int:
    """How many parts a builder buys: the BOM's components that are not ideal (positive R, L,
    C and subcircuit instances such as op-amps), the on-circuit readout's included."""
    readout = sum(1 for (kind, value, unit, series, tol), _ in readout_parts(graph) if series != Series.IDEAL)
    return sum(1 for c in graph.components if not not_a_part(c) and not is_ideal(c)) + readout


def unlisted_counts(graph: CircuitGraph) -> dict[str, int]:
    """How many components the BOM leaves out, per reason (``wiring``, ``parasitic``)."""
    tally = Counter(not_a_part(c) for c in graph.components)
    return {tag: tally[tag] for tag in NOT_PARTS}


def bom_csv(graph: CircuitGraph) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(bom_rows(graph))
    return buf.getvalue()
