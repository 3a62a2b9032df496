"""Gain stages of the output buffers: non-inverting Rf/Rg pairs from the E-series, and the
retrim ``calibrate_outputs`` applies to a parts-level buffer ``readout_analog`` built. Resistances
in ohm, gains in V/V."""

from __future__ import annotations

from ... import eseries
from ...circuit import GROUND, CircuitGraph, Component
from ...circuit.annotations import PartInfo
from ...errors import CompileError

#: Relative gain (weight) error the buffer's Rf/Rg aims for.
GAIN_TARGET = 1e-4


def gain_pair(gain: float, series: str = "E96", target: float = GAIN_TARGET
              ) -> tuple[tuple[float, ...], float, float]:
    """(Rf parts, Rg, achieved gain) of a non-inverting amplifier 1 + Rf/Rg closest to ``gain``
    (> 1): Rg in 1 k..10 k of ``series``, Rf one part or, where that misses by more than
    ``target`` (relative; :data:`GAIN_TARGET` by default), two in series (ratios of single E96
    parts sit on the series' own 1.2 % grid: a single pair can miss by 0.2 %). Raises
    CompileError for gain ≤ 1."""
    if not gain > 1:
        raise CompileError(f"readout_analog: a non-inverting gain must exceed 1, got {gain:g}")
    rgs = eseries.decade_values(series, 1e3, 9.99e3)

    def error(choice: tuple[tuple[float, ...], float]) -> float:
        rf, rg = choice
        return abs((1 + sum(rf) / rg) / gain - 1)

    best = min((((rf,), rg) for rg in rgs for rf in eseries.neighbours((gain - 1) * rg, series)), key=error)
    if error(best) > target:
        pairs = [(eseries.best_pair((gain - 1) * rg, series, target, connections=("series",)).values, rg)
                 for rg in rgs]
        best = min(pairs + [best], key=error)
    rf, rg = best
    return rf, rg, 1 + sum(rf) / rg


def feedback_network(names: list[str], sense: str, feedback: str, rf: tuple[float, ...], rg: float,
                     what: str, attrs: dict, part: PartInfo | None) -> list[Component]:
    """A non-inverting stage's feedback divider: Rf (one part, or several in series through nets
    ``<feedback>_1``...) from ``sense`` to ``feedback`` and Rg from ``feedback`` to ground,
    designated ``names`` (Rf parts, then Rg), each with ``attrs`` and ``part``."""
    chain = [sense] + [f"{feedback}_{i}" for i in range(1, len(rf))] + [feedback]
    parts = [Component(name, "R", (a, b), value, origin=f"{what}: Rf", attrs=dict(attrs), part=part)
             for name, value, a, b in zip(names, rf, chain, chain[1:])]
    return parts + [Component(names[len(rf)], "R", (feedback, GROUND), rg, origin=f"{what}: Rg",
                              attrs=dict(attrs), part=part)]


def retrim_buffer(graph: CircuitGraph, record: dict, factor: float, target: float) -> bool:
    """Multiply a parts-level buffer's gain by ``factor`` (a calibration, close to 1) by
    choosing its last stage's Rf and Rg again (:func:`gain_pair` within ``target``, relative),
    in place; ``record`` (from the pass's ``buffers``) is updated with the new parts and gain.
    False, changing nothing, when the last stage is a follower or would need a gain ≤ 1."""
    stages = record.get("stages") or []
    stage = stages[-1] if stages else None
    if stage is None or stage.get("sense_net") != record["port"] or stage["gain"] * factor <= 1:
        return False
    rf, rg, got = gain_pair(stage["gain"] * factor, target=target)
    old = [graph.component(name) for name in stage["rf"] + [stage["rg"]]]
    names = stage["rf"][:len(rf)]
    if len(rf) > len(names):  # one Rf part became two
        names.append(graph.next_designator("R"))
    names.append(stage["rg"])
    what = old[0].origin.rsplit(":", 1)[0]
    for comp in old[1:]:
        graph.remove(comp.name)
    # In the first old part's place, so the netlist keeps each stage's parts together.
    graph.replace(old[0].name, *feedback_network(names, stage["sense_net"], stage["feedback_net"], rf, rg, what,
                                                   dict(old[0].attrs), old[0].part))
    record["gain"] *= got / stage["gain"]
    stage.update(rf_ohm=list(rf), rg_ohm=rg, gain=got, rf=names[:-1])
    return True
