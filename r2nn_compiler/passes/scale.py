"""Pass ``scale``: frequency and impedance scaling, so ideal values become buyable parts.

Matches: any graph. Precondition: ideal values (CompileError once subcircuit instances,
parasitic losses or E-series parts are present). Divides every L and C by the frequency factor
α (``ctx.time_scale`` /= α), multiplies impedances by the level z that keeps parts within
``options.ranges``, and scales drives and output readouts so the loudest net and port peak at
:data:`SIGNAL_PEAK_V` for unit inputs (output port gains follow). Idempotent. Formulas and
the choice of z: docs/passes.md.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import brentq

from ..circuit import CircuitGraph, Component, mna_matrices
from ..errors import CompileError
from ..reference import default_grid
from ..reference.statespace import ringing_frequencies_hz
from ..units import format_si
from ..circuit.annotations import NOT_PARTS, Series, series_of
from .base import MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common.response import circuit_response, reference_response, relative_error
from .common.tanks import model_band_hz, relative_change, resonator_tanks

#: Peak node voltage (V) a unit-amplitude sine at the worst frequency produces on the loudest
#: net: far above audio op-amps' offsets and noise (µV–mV) and well inside ±5 V rails, leaving
#: headroom for broadband inputs whose components add up.
SIGNAL_PEAK_V = 0.5

#: Scale factors within this of 1 (in log) count as 1: the graph is already scaled.
UNCHANGED = 1e-9

#: Exponent of z in each kind's value under impedance scaling.
_Z_POWER = {"R": 1, "L": 1, "C": -1, "G": -1, "H": 1}

_WHY = {
    ("L", "high"): "inductors grow as z/f, so a low circuit band needs large ones: raise band_hz, "
                   "or realise it with a gyrator (GIC)",
    ("L", "low"): "inductors shrink as z/f, so a high circuit band needs small ones: lower band_hz",
    ("C", "high"): "capacitors grow as 1/(z·f), so a low circuit band needs large ones: raise band_hz",
    ("C", "low"): "capacitors shrink as 1/(z·f), so a high circuit band needs small ones that wiring "
                  "capacitance would swamp: lower band_hz",
    ("R", "high"): "a resistance's ratio to the reactances (a Q or a coupling strength) is fixed by "
                   "the model, no band or level moves it: a very weak element; prune it if the model allows",
    ("R", "low"): "a resistance's ratio to the reactances (a Q or a coupling strength) is fixed by the "
                  "model, no band or level moves it: a very strong element",
}


def frequency_factor(band: tuple[float, float], band_hz: tuple[float, float] | None) -> float:
    """α mapping the geometric centre of ``band`` onto that of ``band_hz`` (1 without it).

    Raises CompileError unless ``band_hz`` is two finite frequencies 0 < low < high.
    """
    if band_hz is None:
        return 1.0
    lo, hi = band_hz
    if not (0 < lo < hi < math.inf):
        raise CompileError(f"band_hz must be 0 < low < high Hz, got {band_hz}")
    return math.sqrt(lo * hi / (band[0] * band[1]))


def impedance_level(parts: list[Component], ranges: dict[str, tuple[float, float]]) -> float:
    """z minimising Σ (decades outside the range)² over ``parts`` (R, L, C with nonzero
    values; kinds without a range are ignored); the geometric centre of the admissible
    interval when every part fits. 1.0 when nothing constrains z.

    Each part's value is v·z^p (p = ±1), so in x = log10 z it is in range on an interval
    [lo_i, hi_i] and its distance outside is x's distance from that interval: the cost is a
    convex sum of squared hinges whose slope is monotone, and its root is the optimum.
    """
    lows, highs = [], []
    for comp in parts:
        if comp.kind not in ranges:
            continue
        lo, hi = np.log10(ranges[comp.kind])
        v = math.log10(abs(comp.value))
        p = _Z_POWER[comp.kind]
        lows.append(min(p * (lo - v), p * (hi - v)))
        highs.append(max(p * (lo - v), p * (hi - v)))
    if not lows:
        return 1.0
    lows_a, highs_a = np.array(lows), np.array(highs)
    if lows_a.max() <= highs_a.min():
        return float(10 ** ((lows_a.max() + highs_a.min()) / 2))

    def slope(x: float) -> float:
        return float(np.sum(np.minimum(x - lows_a, 0.0) + np.maximum(x - highs_a, 0.0)))

    return float(10 ** brentq(slope, lows_a.min(), highs_a.max(), xtol=1e-12))


def range_parts(graph: CircuitGraph) -> list[Component]:
    """The R, L and C that are parts (not wiring or losses), with nonzero values."""
    return [c for c in graph.components
            if c.kind in "RLC" and c.value != 0 and c.attrs.get(ROLE) not in NOT_PARTS]


def out_of_range(graph: CircuitGraph, ranges: dict[str, tuple[float, float]]) -> list[dict]:
    """One entry per part outside its range: designator, kind, value, unit, the violated bound,
    ``decades`` outside, ``reason`` and a one-line ``message``."""
    parts = range_parts(graph)
    spreads: dict[str, float] = {}  # per kind, computed once (each part needing it would make this quadratic)
    found = []
    for comp in parts:
        if comp.kind not in ranges:
            continue
        lo, hi = ranges[comp.kind]
        mag = abs(comp.value)
        if lo <= mag <= hi:
            continue
        side, bound = ("high", hi) if mag > hi else ("low", lo)
        reason = _WHY[comp.kind, side]
        if comp.kind not in spreads:
            spreads[comp.kind] = _spread_decades(parts, comp.kind)
        spread = spreads[comp.kind]
        width = math.log10(hi / lo)
        if spread > width:
            reason = (f"{comp.kind} values span {spread:.1f} decades, the range {width:.1f}, so no impedance "
                      f"level fits them all; " + reason)
        found.append({
            "designator": comp.name, "kind": comp.kind, "value": comp.value, "unit": comp.unit,
            "bound": bound, "decades": abs(math.log10(mag / bound)), "origin": comp.origin, "reason": reason,
            "message": (f"{comp.name} = {format_si(comp.value, comp.unit)} {'>' if side == 'high' else '<'} "
                        f"{format_si(bound, comp.unit)} ({comp.origin}): {reason}"),
        })
    return found


def _spread_decades(parts: list[Component], kind: str) -> float:
    mags = [abs(c.value) for c in parts if c.kind == kind]
    return math.log10(max(mags) / min(mags))


def value_spans(graph: CircuitGraph) -> dict[str, list[float]]:
    """[smallest, largest] |value| per kind among the parts (for the log)."""
    spans: dict[str, list[float]] = {}
    for comp in range_parts(graph):
        lo, hi = spans.get(comp.kind, [math.inf, 0.0])
        spans[comp.kind] = [min(lo, abs(comp.value)), max(hi, abs(comp.value))]
    return spans


def signal_peaks(ctx: CompileContext) -> tuple[float, float]:
    """(largest internal-net voltage, largest output-port voltage) in volts for unit inputs,
    |H| summed over inputs, over the band grid plus the model's damped natural frequencies in
    the band (so no resonance peak falls between grid points; for large models each
    resonator's own, see :func:`reference.statespace.ringing_frequencies_hz`)."""
    graph = ctx.require_graph("scale")
    grid = default_grid(ctx.model, ctx.options.check_freqs)
    ringing = ringing_frequencies_hz(ctx.model)
    freqs = np.union1d(grid, ringing[(ringing >= grid[0]) & (ringing <= grid[-1])])
    ports = {p.name for p in graph.ports}
    internal = [n for n in graph.nets()[1:] if n not in ports]
    outputs = [p.net for p in ctx.outputs]
    system = mna_matrices(graph, [p.net for p in ctx.inputs])
    h = np.abs(system.ac(freqs / ctx.time_scale, internal + outputs)).sum(axis=1)
    return float(h[:len(internal)].max(initial=0.0)), float(h[len(internal):].max(initial=0.0))


@register
class Scale(Pass):
    name = "scale"
    after = MAPPING

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.require_graph(self.name)
        _require_unscaled(graph)
        options = ctx.options
        band = model_band_hz(ctx.model)
        alpha = frequency_factor((band[0] / ctx.time_scale, band[1] / ctx.time_scale), options.band_hz)
        freqs = default_grid(ctx.model, options.check_freqs)
        h_before = circuit_response(ctx, freqs)
        tuning_before = [t.f0_q(ctx.time_scale) for t in resonator_tanks(ctx.model, graph)]
        spans_before = value_spans(graph)
        node_peak, out_peak = signal_peaks(ctx)
        drive = SIGNAL_PEAK_V / node_peak if node_peak > 0 else 1.0
        readout = SIGNAL_PEAK_V / (drive * out_peak) if out_peak > 0 else 1.0

        z = impedance_level([dataclasses.replace(c, value=c.value / alpha) if c.kind in "LC" else c
                             for c in range_parts(graph)], options.ranges)
        if all(abs(math.log(f)) < UNCHANGED for f in (alpha, z, drive, readout)):
            outside = out_of_range(graph, options.ranges)
            return PassResult(False, f"already scaled ({len(outside)} part(s) out of range)",
                              {"out_of_range": outside})

        ctx.time_scale /= alpha
        for comp in graph.components:
            if comp.kind in "LC":
                comp.value /= alpha
            if comp.kind in _Z_POWER:
                comp.value *= z ** _Z_POWER[comp.kind]
            role = comp.attrs.get(ROLE)
            if role == "drive":
                comp.value *= drive
            elif role in ("buffer", "readout"):
                comp.value *= readout
        for port in ctx.outputs:
            port.gain *= drive * readout

        tuning_after = [t.f0_q(ctx.time_scale) for t in resonator_tanks(ctx.model, graph)]
        resonators = [{"name": r.name, "f0_hz": f0, "q": q, "f0_hz_after": f0_after, "q_after": q_after}
                      for r, (f0, q), (f0_after, q_after) in zip(ctx.model.resonators, tuning_before, tuning_after)]
        drift = max((max(relative_change(r["f0_hz_after"], r["f0_hz"]), relative_change(r["q_after"], r["q"]))
                     for r in resonators), default=0.0)
        h_after = circuit_response(ctx, freqs)
        err = relative_error(h_after, reference_response(ctx.model, freqs))
        change = relative_error(h_after, h_before)
        outside = out_of_range(graph, options.ranges)

        circuit_band = (band[0] / ctx.time_scale, band[1] / ctx.time_scale)
        summary = (f"band {format_si(band[0], 'Hz')}..{format_si(band[1], 'Hz')} → "
                   f"{format_si(circuit_band[0], 'Hz')}..{format_si(circuit_band[1], 'Hz')} (α = {alpha:.4g}), "
                   f"z = {format_si(z, 'ohm')}, drive ×{drive:.3g}, readout ×{readout:.3g}; "
                   f"f0/Q unchanged to {drift:.1e}, H(jω) error {err:.1e} (the scaling's own change {change:.1e}); ")
        if outside:
            summary += f"{len(outside)} part(s) out of range: " + "; ".join(o["message"] for o in outside)
        else:
            summary += "every part within range"
        return PassResult(True, summary, {
            "frequency_factor": alpha, "impedance_level_ohm": z, "drive_scale": drive, "readout_scale": readout,
            "circuit_band_hz": list(circuit_band), "signal_peak_v": SIGNAL_PEAK_V, "time_scale": ctx.time_scale,
            "resonators": resonators, "tuning_drift": drift, "h_relative_error": err, "h_relative_change": change,
            "value_spans_before": spans_before, "value_spans_after": value_spans(graph), "out_of_range": outside})


def _require_unscaled(graph: CircuitGraph) -> None:
    """CompileError unless every value is still an ideal value the formulas may rescale."""
    for comp in graph.components:
        if comp.kind == "X":
            raise CompileError(f"scale must run before subcircuit instances are placed ({comp.name} is one): "
                               "put it before realise_negative")
        if comp.attrs.get(ROLE) == "parasitic":
            raise CompileError(f"scale must run before parasitics ({comp.name} is a loss of fixed value)")
        if series_of(comp) not in (None, Series.WIRING):
            raise CompileError(f"scale must run before quantisation ({comp.name} is already an "
                               f"{comp.part.series} part)")
