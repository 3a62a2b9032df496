"""Per-part sensitivities of a compiled graph's observed ports (band RMS), shared by the
``part_sensitivity`` and ``robust_parts`` passes; definitions in ``passes/part_sensitivity.py``."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...circuit.annotations import NOT_PARTS
from ...circuit import mna_matrices
from ...circuit.sensitivity import part_responses, resolving_grid, rms_log_edges, rms_log_slope
from ...reference import default_grid, features_of, system_features
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


#: Calibration clips the decision-aware ranking evaluates: those with the smallest margins
#: (the others' decisions are taken as safe).
DECISION_CLIPS = 32


@dataclass(frozen=True)
class DecisionTable:
    """The circuit's decision values (class scores, or features for the rms readouts; decided by
    argmax) on the calibration clips with the smallest margins, nominal and with one part at a
    time at either edge of its tolerance. ``base``: clips × classes; ``low``/``high``: parts ×
    clips × classes, the changes at −/+ ``tolerance[p]`` (a fraction of the part's value);
    ``reference``: the model's class per clip; ``total``: calibration clips in all."""

    parts: list
    tolerance: np.ndarray
    base: np.ndarray
    low: np.ndarray
    high: np.ndarray
    reference: np.ndarray
    total: int

    def margins(self) -> np.ndarray:
        """Per clip: the reference class's nominal value minus the largest other (> 0: agrees)."""
        return margins_of(self.base, self.reference)

    def margin_harm(self, scale: np.ndarray) -> np.ndarray:
        """Per part: Σ over the agreeing clips of (the part's loss of margin at its worse edge,
        times ``scale[p]`` (its tolerance / the table's) over the clip's margin)²."""
        m = self.margins()
        agree = m > 0
        loss = np.maximum(0.0, np.maximum(m - margins_of(self.base + self.low, self.reference),
                                          m - margins_of(self.base + self.high, self.reference)))
        ratio = loss[:, agree] * scale[:, None] / m[None, agree]
        return np.sum(ratio ** 2, axis=1)

    def predicted_agreement(self, scale: np.ndarray, draws: int = 200, seed: int = 0) -> np.ndarray:
        """Per Monte Carlo draw (every part uniform within ``scale[p]`` × its table tolerance),
        the fraction of all ``total`` calibration clips whose decision is the reference's; each
        part's effect linear between the nominal and either edge, the parts' effects added, the
        clips left out of the table counted as agreeing. Fixed ``seed``: common draws for any
        ``scale``."""
        t = np.random.default_rng(seed).uniform(-1.0, 1.0, (draws, len(self.parts))) * scale[None, :]
        shape = self.base.shape
        up, down = self.high.reshape(len(self.parts), -1), self.low.reshape(len(self.parts), -1)
        values = self.base.reshape(1, -1) + np.maximum(t, 0) @ up + np.maximum(-t, 0) @ down
        decided = np.argmax(values.reshape((draws,) + shape), axis=-1)
        wrong = np.sum(decided != self.reference[None, :], axis=1)
        return 1.0 - wrong / self.total


def margins_of(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``values[..., clip, class]``'s reference class minus the largest other class, per clip."""
    picked = values[..., np.arange(values.shape[-2]), reference]
    others = np.where(np.arange(values.shape[-1]) == reference[:, None], -np.inf, values)
    return picked - np.max(others, axis=-1)


@dataclass(frozen=True)
class ClipBatch:
    """Calibration clips sharing a sample rate and length: ``u`` (clips × inputs × samples,
    model units), ``index`` their positions among the clips given."""

    rate_hz: float
    u: np.ndarray
    index: np.ndarray


def clip_batches(signals: list) -> list[ClipBatch]:
    """``signals`` (objects with ``data``: inputs × samples and ``rate_hz``) grouped into
    :class:`ClipBatch` es."""
    groups: dict[tuple[float, int], list[int]] = {}
    for i, s in enumerate(signals):
        groups.setdefault((float(s.rate_hz), np.shape(s.data)[-1]), []).append(i)
    return [ClipBatch(rate, np.stack([np.asarray(signals[i].data, dtype=float) for i in members]), np.array(members))
            for (rate, _), members in groups.items()]


def decision_values(ctx: CompileContext, batches: list[ClipBatch], values: dict[str, float] | None = None
                    ) -> np.ndarray:
    """The circuit's decision values (clips × classes, the model's readout on the observed
    ports, windows by the modal gramian identity) for the clips of ``batches``, with the parts
    named in ``values`` at those values (put back after). Raises CircuitError when the circuit
    has no state space (e.g. a singular MNA)."""
    graph = ctx.require_graph("robust_parts")
    saved = {name: graph.component(name).value for name in values or {}}
    try:
        for name, value in (values or {}).items():
            graph.component(name).value = value
        system = mna_matrices(graph, [p.net for p in ctx.inputs]).state_space([p.net for p in ctx.outputs])
    finally:
        for name, value in saved.items():
            graph.component(name).value = value
    in_gain = np.array([p.gain for p in ctx.inputs])[None, :, None]
    out_gain = np.array([p.gain for p in ctx.outputs])
    count = sum(len(b.index) for b in batches)
    out = np.zeros((count, len(ctx.model.classes)))
    for b in batches:
        out[b.index] = system_features(ctx.model, system, b.u * in_gain, b.rate_hz, ctx.time_scale, out_gain,
                                       modal=True)
    return out


def decision_table(ctx: CompileContext, signals: list, parts: list, clips: int = DECISION_CLIPS) -> DecisionTable:
    """The :class:`DecisionTable` of ``parts`` (each at its own tolerance) on the ``clips``
    calibration ``signals`` with the smallest nominal margins: 1 + 2 × parts circuit
    evaluations of those clips (the first one of all the signals)."""
    batches = clip_batches(signals)
    reference = np.concatenate([np.argmax(features_of(ctx.model, b.u, b.rate_hz), axis=-1) for b in batches])
    order = np.concatenate([b.index for b in batches])
    ref = np.empty(len(signals), dtype=int)
    ref[order] = reference
    base = decision_values(ctx, batches)
    keep = np.sort(np.argsort(margins_of(base, ref))[:clips])
    small = clip_batches([signals[i] for i in keep])
    tol = np.array([float(c.part.tolerance) for c in parts])
    shifts = [decision_values(ctx, small, {c.name: c.value * (1 + sign * t)}) - base[keep]
              for c, t in zip(parts, tol) for sign in (-1.0, 1.0)]
    edges = np.array(shifts).reshape(len(parts), 2, len(keep), -1) if parts else np.zeros((0, 2, len(keep), base.shape[1]))
    return DecisionTable(parts, tol, base[keep], edges[:, 0], edges[:, 1], ref[keep], len(signals))
