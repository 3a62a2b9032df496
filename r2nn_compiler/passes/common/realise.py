"""Replace a component by the E-series part or pair that realises it, with the
:class:`~r2nn_compiler.circuit.annotations.PartInfo` the BOM reads. Shared by ``quantise`` and
``realise_inductors``."""

from __future__ import annotations

import dataclasses

from ...circuit import CircuitGraph, Component
from ...circuit.annotations import PartInfo
from ...eseries import Pair


def realise(graph: CircuitGraph, comp: Component, pair: Pair, series: str, tolerance: float) -> list[Component]:
    """Replace ``comp`` by the part or parts of ``pair`` (values in its unit), each with the
    :class:`PartInfo` the BOM reads (``series``, ``tolerance``, ``comp``'s value as the ideal
    one; see :func:`connection_of` for how a pair is wired). Returns the new components."""
    part = PartInfo(series, tolerance, float(comp.value))
    attrs = dict(comp.attrs)
    if pair.kind == "single":
        return graph.replace(comp.name, dataclasses.replace(comp, value=pair.values[0], attrs=attrs, part=part))
    connection = connection_of(comp.kind, pair)
    second = graph.next_designator(comp.kind)
    part = dataclasses.replace(part, pair=connection, pair_parts=(comp.name, second))
    nodes = (comp.nodes, comp.nodes)
    if connection == "series":
        mid = f"{comp.name}_mid"
        while mid in graph.graph:
            mid += "_"
        nodes = ((comp.nodes[0], mid), (mid, comp.nodes[1]))
    first_value, second_value = pair.values
    return graph.replace(comp.name,
                         dataclasses.replace(comp, nodes=nodes[0], value=first_value, attrs=attrs, part=part),
                         Component(second, comp.kind, nodes[1], second_value, origin=comp.origin, attrs=dict(attrs),
                                   part=part))


def connection_of(kind: str, pair: Pair) -> str:
    """How ``pair``'s parts are wired for a part of ``kind``: ``"single"``, ``"series"`` or
    ``"parallel"`` (capacitances add in parallel, so a capacitor's connection is swapped)."""
    if kind == "C" and pair.kind != "single":
        return {"series": "parallel", "parallel": "series"}[pair.kind]
    return pair.kind
