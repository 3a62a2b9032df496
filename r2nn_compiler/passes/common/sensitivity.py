"""Per-part sensitivities of a compiled graph's observed ports (band RMS), shared by the
``part_sensitivity`` and ``robust_parts`` passes; definitions in ``passes/part_sensitivity.py``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...circuit.annotations import NOT_PARTS
from ...circuit import mna_matrices
from ...circuit.sensitivity import part_responses, resolving_grid, rms_log_edges, rms_log_slope
from ...reference import default_grid
from ..base import CompileContext

#: Frequencies of the band the sensitivities are computed over (as ``quantise``'s H(jω) check).
SENSITIVITY_POINTS = 100

#: Largest circuit (MNA unknowns) the sensitivity passes analyse, and most frequencies they
#: sum over (the sharpest resonances keep their resolved points first): a 1024-resonator
#: graph would cost minutes; its log says it was left out.
MAX_UNKNOWNS = 400
MAX_FREQUENCIES = 600

#: Relative reach (±) of the resolved points around each pole: a part ±10 % moves f0 ±5 %.
POLE_REACH = 0.06

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


@dataclass(frozen=True)
class SensitivityTable:
    """Per bought part (``parts``, graph order): ``slope`` = d ln RMS / d ln value and ``edges``
    = max over the two tolerance edges of |Δ ln RMS| (parts × observed ports each)."""

    parts: list
    slope: np.ndarray
    edges: np.ndarray

    def predicted_spread(self) -> np.ndarray:
        """Standard deviation of ln RMS per port when every part is drawn uniformly within its
        tolerance, each part's effect taken as linear through its worse edge and the parts'
        effects as independent: √(Σ edges²/3)."""
        return np.sqrt(np.sum(self.edges ** 2, axis=0) / 3.0)


def sensitivity_table(ctx: CompileContext, tolerance=None) -> SensitivityTable:
    """The :class:`SensitivityTable` of ``ctx.graph``'s bought parts, each at its own tolerance
    (``tolerance(component)`` instead, when given)."""
    graph = ctx.require_graph("part_sensitivity")
    parts = bought_parts(graph)
    tol = tolerance or (lambda comp: float(comp.part.tolerance))
    freqs, weights = sensitivity_grid(ctx)
    responses = part_responses(graph, [p.net for p in ctx.inputs], [p.net for p in ctx.outputs], freqs,
                               [(c.name, tol(c)) for c in parts])
    return SensitivityTable(parts, rms_log_slope(responses.h, responses.slope, weights),
                            np.max(np.abs(rms_log_edges(responses.h, responses.edges, weights)), axis=1))


def small_enough(ctx: CompileContext) -> bool:
    """Whether ``ctx.graph``'s MNA has at most MAX_UNKNOWNS unknowns."""
    return mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).n_unknowns <= MAX_UNKNOWNS


def sensitivity_grid(ctx: CompileContext) -> tuple[np.ndarray, np.ndarray]:
    """(circuit Hz, weights) the band RMS is summed over: ``circuit.sensitivity.resolving_grid``
    over the model's band with SENSITIVITY_POINTS log-spaced points and the circuit's poles
    resolved within ±POLE_REACH (half the loosest inductor tolerance moves f0 that far)."""
    band = default_grid(ctx.model, 2) / ctx.time_scale
    poles = mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).poles()
    poles = poles[np.argsort(-poles.real / np.maximum(np.abs(poles), 1e-300))]  # sharpest (least ζ) first
    return resolving_grid(float(band[0]), float(band[-1]), poles, SENSITIVITY_POINTS, POLE_REACH, MAX_FREQUENCIES)


def sensitivities(ctx: CompileContext) -> list[PartSensitivity]:
    """Every bought part's :class:`PartSensitivity`, largest ``across_tolerance`` first."""
    table = sensitivity_table(ctx)
    parts, per_unit, edges = table.parts, np.abs(table.slope), table.edges
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
