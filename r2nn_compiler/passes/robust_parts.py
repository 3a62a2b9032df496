"""Pass ``robust_parts``: buy the few parts that dominate the outputs' spread in a tighter
tolerance class, and say so in the BOM.

Matches: ``options.robust_parts``, a graph with bought parts (``Component.part`` with a
tolerance) and none tightened yet (runs once). Computes each part's change of the observed
ports' band RMS at the edges of its tolerance (``common.sensitivity``, as ``part_sensitivity``
reports it) and, among the parts a tighter class exists for, takes the dominant ones (the fewest,
largest first, holding half of their summed variance) whose change is at least ``ROBUST_ABOVE``: each is bought at
``options.tight_tolerance[kind]`` when that is tighter than its own (same value, same series;
``PartInfo.tolerance`` changes, which the BOM prints). The log states, per observed port, the
spread it predicts for uniform draws of every part within its tolerance (σ of ln RMS =
√(Σ edge²/3), each part linear through its worse edge, parts independent), before and after,
and which parts it tightened. Up to MAX_ROUNDS rounds, each on the tolerances so far. Never changes
a value, so the network's response is the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .base import MAPPING, CompileContext, Pass, PassResult, register
from .common.sensitivity import bought_parts, dominant_set, sensitivity_table, small_enough

#: Smallest change of a port's band RMS at the tolerance edge (fraction) that makes a dominant
#: part worth a tighter class.
ROBUST_ABOVE = 0.02

#: Rounds of tightening: each recomputes the edges with the tolerances so far and tightens the
#: dominant parts again.
MAX_ROUNDS = 2

#: ``attrs`` key recording the tolerance a tightened part had (the BOM's default class).
LOOSE_TOLERANCE = "loose_tolerance"


def worth_tightening(parts: list, spread: np.ndarray, tight: dict[str, float]) -> list[int]:
    """Indices (largest ``spread`` first) of the dominant parts among those ``tight`` offers a
    tighter class for (the fewest holding half of their summed variance), whose ``spread`` (change
    at the tolerance edge, fraction) is at least ROBUST_ABOVE. A part already in its tightest
    class neither counts nor blocks the others."""
    loose = [i for i, c in enumerate(parts) if tight.get(c.kind, 1.0) < c.part.tolerance]
    dominant = dominant_set([float(spread[i]) for i in loose])
    return [loose[j] for j in sorted(dominant, key=lambda j: -spread[loose[j]]) if spread[loose[j]] >= ROBUST_ABOVE]


@register
class RobustParts(Pass):
    name = "robust_parts"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors", "realise_drive",
                       "break_dc_loops", "readout_analog", "calibrate_outputs")

    def match(self, ctx: CompileContext) -> bool:
        return (ctx.options.robust_parts and ctx.graph is not None and bool(ctx.outputs)
                and bool(bought_parts(ctx.graph)) and small_enough(ctx)
                and not any(LOOSE_TOLERANCE in c.attrs for c in ctx.graph.components))

    def transform(self, ctx: CompileContext) -> PassResult:
        table = sensitivity_table(ctx)
        before = table.predicted_spread()
        tight = ctx.options.tight_tolerance
        tightened = []
        for _ in range(MAX_ROUNDS):
            spread = np.max(table.edges, axis=1)
            chosen = [table.parts[i] for i in worth_tightening(table.parts, spread, tight)]
            if not chosen:
                break
            for comp in chosen:
                tightened.append({"designator": comp.name, "kind": comp.kind, "value": float(comp.value),
                                  "from": float(comp.part.tolerance), "to": float(tight[comp.kind]),
                                  "change_at_edge": float(spread[table.parts.index(comp)])})
                comp.attrs[LOOSE_TOLERANCE] = float(comp.part.tolerance)
                comp.part = dataclasses.replace(comp.part, tolerance=float(tight[comp.kind]))
            table = sensitivity_table(ctx)
        after = table.predicted_spread()
        labels = [p.name for p in ctx.outputs]
        worst = int(np.argmax(before))
        summary = (f"{len(tightened)} dominant part(s) bought tighter: "
                   + (", ".join(f"{t['designator']} ±{t['from']:.0%} → ±{t['to']:.1%}" for t in tightened) or "none")
                   + f"; predicted spread of the worst port's RMS ({labels[worst]}) {before[worst]:.2%} → "
                     f"{after[worst]:.2%}, of all ports {np.max(before):.2%} → {np.max(after):.2%} (σ)")
        return PassResult(bool(tightened), summary, {
            "tightened": tightened, "threshold": ROBUST_ABOVE,
            "predicted_spread": {label: {"before": float(b), "after": float(a)}
                                 for label, b, a in zip(labels, before, after)}})
