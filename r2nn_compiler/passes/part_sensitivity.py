"""Pass ``part_sensitivity``: how far each bought part's tolerance moves the outputs (never
changes the graph).

Matches: a graph holding parts with a tolerance (a quantised hardware flow). For every R, L, C
bought (``Component.part``: an E-series, a tolerance) it reads each observed port's band RMS
(the RMS of a pink input over the model's band: the features' proxy without signals;
``common.sensitivity.sensitivity_grid`` resolves every resonance where it is and where a
tolerance may move it) as the part alone moves (:mod:`r2nn_compiler.circuit.sensitivity`: one
sparse LU per frequency, an adjoint and a rank-one update per part). Per part: ``per_unit``
= the largest |d ln RMS / d ln value| over the ports (first order, at the nominal value);
``across_tolerance`` = the largest |ln(RMS at value·(1 ± tolerance) / RMS)| over both edges and
the ports, exact for that part alone (a high-Q resonance makes it far from tolerance × per_unit),
``output`` the port (class, or tapped resonator) where it is. ``dominant``: the fewest parts,
largest first, that hold half of Σ across_tolerance² (the variance of independent draws).
The manifest lists it as ``part_sensitivity`` (docs/passes.md).
"""

from __future__ import annotations

from dataclasses import asdict

from .base import MAPPING, CompileContext, Pass, PassResult, register
from .common.sensitivity import POLE_REACH, SENSITIVITY_POINTS, bought_parts, sensitivities, small_enough


@register
class PartSensitivityPass(Pass):
    name = "part_sensitivity"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors", "realise_drive",
                       "break_dc_loops", "readout_analog", "calibrate_outputs", "robust_parts")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None and bool(ctx.outputs) and bool(bought_parts(ctx.graph)) and small_enough(ctx)

    def transform(self, ctx: CompileContext) -> PassResult:
        rows = sensitivities(ctx)
        dominant = [r for r in rows if r.dominant]
        top = rows[0]
        summary = (f"{len(rows)} parts: largest output RMS change across tolerance {top.across_tolerance:.2%} "
                   f"({top.designator}, {top.kind} ±{100 * top.tolerance:.3g}%, output {top.output}); "
                   f"{len(dominant)} part(s) hold half the variance: "
                   f"{', '.join(r.designator for r in dominant[:8])}{' …' if len(dominant) > 8 else ''}")
        return PassResult(False, summary, {
            "metric": "per_unit: |d ln(band RMS of an observed port) / d ln(part value)|; across_tolerance: "
                  "|ln(band RMS with the part at the worse edge of its tolerance / nominal)|",
            "grid": f"the model's band: {SENSITIVITY_POINTS} log-spaced points and every pole resolved within "
                    f"±{POLE_REACH:.0%}; equal weight per octave", "parts": [asdict(r) for r in rows]})
