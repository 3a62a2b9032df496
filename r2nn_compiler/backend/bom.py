"""``bom.csv``: the bill of materials, one row per distinct part (value, kind, series, tolerance).

Columns: designator (space-separated list), kind, value (exponent notation), unit, series,
tolerance, quantity. Ideal elements (controlled sources, negative values) are listed with series
``ideal`` so a hardware designer sees at once what still needs an active realisation.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from ..circuit import CircuitGraph
from ..units import format_spice

HEADER = ["designator", "kind", "value", "unit", "series", "tolerance", "quantity"]


def bom_rows(graph: CircuitGraph) -> list[dict[str, str]]:
    groups: dict[tuple, list[str]] = defaultdict(list)
    for comp in graph.components:
        if comp.kind == "X":
            key = ("X", comp.subckt, "", comp.attrs.get("series", "subcircuit"), comp.attrs.get("tolerance", ""))
        else:
            passive = comp.kind in "RLC" and comp.value > 0
            series = comp.attrs.get("series", "exact" if passive else "ideal")
            key = (comp.kind, format_spice(comp.value), comp.unit, series, comp.attrs.get("tolerance", ""))
        groups[key].append(comp.name)
    rows = []
    for (kind, value, unit, series, tol), names in groups.items():
        rows.append({"designator": " ".join(names), "kind": kind, "value": value, "unit": unit,
                     "series": series, "tolerance": tol, "quantity": str(len(names))})
    return rows


def bom_csv(graph: CircuitGraph) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(bom_rows(graph))
    return buf.getvalue()
