"""Replace a component by the E-series part or pair that realises it, with the attrs the BOM
reads. Shared by ``quantise`` and ``realise_inductors``."""

from __future__ import annotations

import dataclasses

from ...circuit import CircuitGraph, Component
from ...circuit.annotations import IDEAL_VALUE, SERIES, TOLERANCE
from ...eseries import Pair

#: Attrs ``quantise`` sets on paired parts (besides SERIES, TOLERANCE, IDEAL_VALUE).
PAIR = "pair"
PAIR_PARTS = "pair_parts"


def realise(graph: CircuitGraph, comp: Component, pair: Pair, series: str, tolerance: float) -> list[Component]:
    """Replace ``comp`` by the part or parts of ``pair`` (values in its unit), with the attrs
    the BOM reads (see :func:`connection_of` for how a pair is wired). Returns the new
    components."""
    attrs = {**comp.attrs, SERIES: series, TOLERANCE: tolerance, IDEAL_VALUE: float(comp.value)}
    if pair.kind == "single":
        return graph.replace(comp.name, dataclasses.replace(comp, value=pair.values[0], attrs=attrs))
    connection = connection_of(comp.kind, pair)
    second = graph.next_designator(comp.kind)
    attrs.update({PAIR: connection, PAIR_PARTS: [comp.name, second]})
    nodes = (comp.nodes, comp.nodes)
    if connection == "series":
        mid = f"{comp.name}_mid"
        while mid in graph.graph:
            mid += "_"
        nodes = ((comp.nodes[0], mid), (mid, comp.nodes[1]))
    first_value, second_value = pair.values
    return graph.replace(comp.name,
                         dataclasses.replace(comp, nodes=nodes[0], value=first_value, attrs=attrs),
                         Component(second, comp.kind, nodes[1], second_value, origin=comp.origin, attrs=dict(attrs)))


def connection_of(kind: str, pair: Pair) -> str:
    """How ``pair``'s parts are wired for a part of ``kind``: ``"single"``, ``"series"`` or
    ``"parallel"`` (capacitances add in parallel, so a capacitor's connection is swapped)."""
    if kind == "C" and pair.kind != "single":
        return {"series": "parallel", "parallel": "series"}[pair.kind]
    return pair.kind
