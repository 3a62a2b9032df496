"""Pass ``part_sensitivity``: how far each bought part's tolerance moves the outputs (never
changes the graph).

Matches: a graph holding parts with a tolerance (a quantised hardware flow). For every R, L, C
bought (``Component.part``: an E-series, a tolerance) it reads each observed port's band RMS (the
RMS a flat-spectrum input over ``default_grid(model, SENSITIVITY_POINTS)`` gives it: the
features' proxy without signals) as the part alone moves (:mod:`r2nn_compiler.circuit.sensitivity`:
one sparse LU per frequency, an adjoint and a rank-one update per part). Per part: ``per_unit``
= the largest |d ln RMS / d ln value| over the ports (first order, at the nominal value);
``across_tolerance`` = the largest |ln(RMS at value·(1 ± tolerance) / RMS)| over both edges and
the ports, exact for that part alone (a high-Q resonance makes it far from tolerance × per_unit),
``output`` the port (class, or tapped resonator) where it is. ``dominant``: the fewest parts,
largest first, that hold half of Σ across_tolerance² (the variance of independent draws).
The manifest lists it as ``part_sensitivity`` (docs/passes.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..circuit.annotations import NOT_PARTS
from ..circuit.sensitivity import part_responses, rms_log_edges, rms_log_slope
from ..reference import default_grid
from .base import MAPPING, CompileContext, Pass, PassResult, register

#: Frequencies of the band the sensitivities are computed over (as ``quantise``'s H(jω) check).
SENSITIVITY_POINTS = 100

#: Share of the summed variance Σ across_tolerance² the dominant parts hold together.
DOMINANT_SHARE = 0.5


@dataclass(frozen=True)
class PartSensitivity:
    """One part's entry (manifest ``part_sensitivity.parts``): ``per_unit`` and
    ``across_tolerance`` as the module docstring defines them, ``output`` the observed port's
    label (class, or tapped resonator) they refer to; value in the part's unit."""

    designator: str
    kind: str
    value: float
    series: str
    tolerance: float
    per_unit: float
    across_tolerance: float
    output: str
    dominant: bool = False


def bought_parts(graph) -> list:
    """The graph's top-level R, L, C bought with a tolerance (not wiring, not parasitic)."""
    return [c for c in graph.components if c.kind in "RLC" and c.part is not None
            and c.part.series not in NOT_PARTS and c.part.tolerance]


def dominant_set(spreads: list[float], share: float = DOMINANT_SHARE) -> set[int]:
    """Indices of the fewest entries, largest first, whose squares sum to ``share`` of all."""
    total = sum(x * x for x in spreads)
    chosen, held = set(), 0.0
    for i in sorted(range(len(spreads)), key=lambda i: -spreads[i]):
        if total == 0 or held >= share * total:
            break
        chosen.add(i)
        held += spreads[i] ** 2
    return chosen


def sensitivities(ctx: CompileContext) -> list[PartSensitivity]:
    """Every bought part's :class:`PartSensitivity`, largest ``across_tolerance`` first."""
    graph = ctx.require_graph("part_sensitivity")
    parts = bought_parts(graph)
    freqs = default_grid(ctx.model, SENSITIVITY_POINTS) / ctx.time_scale
    responses = part_responses(graph, [p.net for p in ctx.inputs], [p.net for p in ctx.outputs], freqs,
                               [(c.name, float(c.part.tolerance)) for c in parts])
    per_unit = np.abs(rms_log_slope(responses.h, responses.slope))  # parts × outputs
    edges = np.max(np.abs(rms_log_edges(responses.h, responses.edges)), axis=1)  # parts × outputs
    labels = [p.name for p in ctx.outputs]
    rows = []
    for comp, slope, edge in zip(parts, per_unit, edges):
        worst = int(np.argmax(edge))
        rows.append(PartSensitivity(comp.name, comp.kind, float(comp.value), str(comp.part.series),
                                    float(comp.part.tolerance), float(np.max(slope)), float(edge[worst]),
                                    labels[worst]))
    rows.sort(key=lambda r: -r.across_tolerance)
    chosen = dominant_set([r.across_tolerance for r in rows])
    return [PartSensitivity(**{**asdict(r), "dominant": i in chosen}) for i, r in enumerate(rows)]


@register
class PartSensitivityPass(Pass):
    name = "part_sensitivity"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors",
                       "break_dc_loops", "readout_analog", "calibrate_outputs")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None and bool(ctx.outputs) and bool(bought_parts(ctx.graph))

    def transform(self, ctx: CompileContext) -> PassResult:
        rows = sensitivities(ctx)
        dominant = [r for r in rows if r.dominant]
        top = rows[0]
        summary = (f"{len(rows)} parts: largest output RMS change across tolerance {top.across_tolerance:.2%} "
                   f"({top.designator}, {top.kind} ±{top.tolerance:.0%}, output {top.output}); "
                   f"{len(dominant)} part(s) hold half the variance: "
                   f"{', '.join(r.designator for r in dominant[:8])}{' …' if len(dominant) > 8 else ''}")
        return PassResult(False, summary, {
            "metric": "per_unit: |d ln(band RMS of an observed port) / d ln(part value)|; across_tolerance: "
                  "|ln(band RMS with the part at the worse edge of its tolerance / nominal)|",
            "grid_points": SENSITIVITY_POINTS, "parts": [asdict(r) for r in rows]})
