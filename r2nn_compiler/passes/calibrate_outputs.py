"""Pass ``calibrate_outputs``: trim each output's gain so the realised circuit reads the model's level.

Matches: hardware flows with ``options.calibrate``, once (``graph.meta["calibrated_outputs"]``).
Precondition: parts final (after ``quantise``, ``realise_inductors`` and ``readout_analog``),
before ``check_reference``. Measures each output's (or tap's) gain g_j of the realised circuit
against the model, by band power or on ``options.calibration_signals``, and divides it out: an
ideal readout element's value exactly, a parts-level buffer's last stage by new Rf/Rg
(:func:`.common.buffers.retrim_buffer`, iterated); followers are listed as uncalibrated.
Port gains stay the design gains. Method, limits and costs: docs/passes.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import trapezoid

from .. import reference
from ..circuit import GROUND, mna_matrices
from ..errors import CircuitError, CompileError, Location, SignalError
from ..numerics import WarmStart
from ..numerics.statespace import StateSpace
from ..model import Model
from ..reference import default_grid
from ..numerics.window_energy import segment_energies
from .base import MAPPING, CompileContext, Pass, PassResult, register
from .common.buffers import retrim_buffer
from .common.response import circuit_response, in_model_units, reference_response

#: Relative gain error the recalibrated buffer's last stage aims for.
TRIM_TARGET = 1e-5
#: Re-measurements of g after a buffer's retrim.
ITERATIONS = 3
#: Points of the linear grid over the band, and per resonance across its 3 dB band.
BAND_POINTS = 1000
RESONANCE_POINTS = 9
#: Above this many resonators a resonance whose band the grid already samples finely enough
#: adds no points of its own (smaller models keep every resonance's points, as
#: their decks were calibrated).
SHARED_RESONANCE_POINTS_ABOVE = 64

#: Calibration signals used at most (evenly spaced among those given).
MAX_SIGNALS = 64

#: Largest circuit (MNA unknowns, then states) whose response goes through its state space:
#: a dense solve per frequency costs O(states³), so above ~150 states the sparse MNA is faster
#: (every example deck has at most 130; bench_compile's 64 resonators, 165+, took 15 s a
#: measurement dense against 0.5 s sparse).
STATE_SPACE_UNKNOWNS = 2000
STATE_SPACE_STATES = 150

#: A gain error below this is rounding (the summary then names no output).
ROUNDING_LEVEL = 1e-12
META = "calibrated_outputs"


def calibration_grid(model: Model) -> np.ndarray:
    """Model frequencies (Hz) for the band-power integral: :data:`BAND_POINTS` linear over the
    model's band (or :func:`reference.default_grid`'s span) and :data:`RESONANCE_POINTS` across
    each in-band resonance's f0·(1 ± 1/Q), so narrow peaks are sampled whatever their Q. Above
    :data:`SHARED_RESONANCE_POINTS_ABOVE` resonators, a resonance whose band the grid so far
    (the linear points and the earlier resonances' points) already samples at least as densely
    (no gap wider than its own points' spacing) adds none, so hundreds of overlapping
    resonances do not grow the grid (and the solves) by 9 points per resonator."""
    span = default_grid(model, 2)
    lo, hi = float(span[0]), float(span[-1])
    linear = np.linspace(lo, hi, BAND_POINTS)
    shared = len(model.resonators) > SHARED_RESONANCE_POINTS_ABOVE
    added = linear if shared else np.empty(0)
    for r in model.resonators:
        q = abs(r.q)
        if lo <= r.f0_hz <= hi and np.isfinite(q) and q > 0.5:
            points = r.f0_hz * (1 + np.linspace(-1, 1, RESONANCE_POINTS) / q)
            spacing = (points[-1] - points[0]) / (RESONANCE_POINTS - 1)
            if not shared or not _sampled(added, points[0], points[-1], spacing):
                added = np.sort(np.concatenate([added, points]))
    grid = np.unique(np.concatenate([linear, added]))
    return grid[(grid >= lo) & (grid <= hi)]


def _sampled(points: np.ndarray, a: float, b: float, spacing: float) -> bool:
    """True when sorted ``points`` cover [a, b] with no gap wider than ``spacing`` (ends included)."""
    inside = points[np.searchsorted(points, a) : np.searchsorted(points, b, side="right")]
    return bool(np.diff(np.concatenate([[a], inside, [b]])).max() <= spacing)


def response(ctx: CompileContext, freqs_hz: np.ndarray, warm: WarmStart | None = None) -> np.ndarray:
    """H(jω) of the graph in model units (outputs × inputs × freqs), like
    :func:`common.response.circuit_response`, through the circuit's state space (the algebraic
    unknowns eliminated once, then one small dense solve per frequency) when it has at most
    :data:`STATE_SPACE_UNKNOWNS` unknowns and :data:`STATE_SPACE_STATES` states: tactile's GIC
    deck with its analog readout (347 unknowns, 85 states, 1144 frequencies) takes 1.0 s instead
    of the MNA's 6.7 s, the two agreeing to 2e-12. Larger circuits, and any without an index-1
    state space, go through the MNA itself (from ``warm``'s guesses: ``numerics.WarmStart``)."""
    graph = ctx.require_graph(CalibrateOutputs.name)
    system = mna_matrices(graph, [p.net for p in ctx.inputs])
    if system.n_unknowns > STATE_SPACE_UNKNOWNS or _surely_dynamic(system) > STATE_SPACE_STATES:
        return circuit_response(ctx, freqs_hz, warm)
    try:
        states = system.state_space([p.net for p in ctx.outputs])
    except CircuitError:
        return circuit_response(ctx, freqs_hz)
    if states.n_states > STATE_SPACE_STATES:
        return circuit_response(ctx, freqs_hz)
    return in_model_units(ctx, states.frequency_response(np.asarray(freqs_hz) / ctx.time_scale))


def _surely_dynamic(system) -> int:
    """A lower bound on the states of ``system.state_space``, from the sparse E alone: every
    unknown with a nonzero diagonal E entry that is no floating cluster's reference stays a
    state (the cluster change of variables leaves those diagonal entries as they are). Lets
    :func:`response` skip a dense state-space reduction whose result it would discard."""
    diagonal = system.E_sparse.diagonal() != 0
    diagonal[[cluster[0] for cluster in system.floating_clusters]] = False
    return int(np.count_nonzero(diagonal))


def band_gains(ctx: CompileContext, freqs_hz: np.ndarray, h_model_power: np.ndarray,
               warm: WarmStart | None = None) -> np.ndarray:
    """g_j per output (see docs/passes.md) of the graph as it is now (``warm``: see :func:`response`)."""
    h = response(ctx, freqs_hz, warm)
    power = trapezoid(np.sum(np.abs(h) ** 2, axis=1), freqs_hz, axis=-1)
    return np.sqrt(power / h_model_power)


class FeatureGains:
    """g_j measured on calibration signals (see docs/passes.md): the model's features are
    computed once, the circuit's for each state of the graph."""

    def __init__(self, ctx: CompileContext, signals: list) -> None:
        if len(signals) > MAX_SIGNALS:
            signals = [signals[int(i)] for i in np.linspace(0, len(signals) - 1, MAX_SIGNALS).round()]
        self.ctx = ctx
        groups: dict[tuple[float, int], list[np.ndarray]] = {}
        for s in signals:
            data = np.asarray(s.data, dtype=float)
            if data.ndim != 2 or data.shape[0] != len(ctx.inputs):
                raise CompileError(f"calibration signal {getattr(s, 'path', '')}: expected {len(ctx.inputs)} "
                                   f"input channel(s), got an array of shape {data.shape}",
                                   Location(parameter="calibration_signals"))
            groups.setdefault((float(s.rate_hz), data.shape[1]), []).append(data)
        self.groups = {key: np.stack(members) for key, members in groups.items()}
        try:
            if ctx.model.readout.is_linear:
                self.model_power = self.tap_power(reference.state_space(ctx.model), 1.0, 1.0, 1.0)
            else:
                self.model_power = sum(np.sum(reference.features_of(ctx.model, u, rate) ** 2, axis=0)
                                       for (rate, _), u in self.groups.items())
        except (SignalError, ValueError) as err:
            raise CompileError(f"calibration signal: {err}", Location(parameter="calibration_signals")) from None
        self.count = sum(u.shape[0] for u in self.groups.values())

    def tap_power(self, system: StateSpace, in_gain: np.ndarray | float, time_scale: float,
                  out_gain: np.ndarray | float) -> np.ndarray:
        """Per tap of a linear readout (``system``'s outputs: the read nodes, in order), Σ over
        the signals of ∫ v² dt over the segments the tap's features read, in model units² ·
        model seconds: ``system`` is driven by the signals times ``in_gain`` (its input units
        per model unit), ``time_scale`` of its seconds per model second, ``out_gain`` of its
        output units per model unit (scalar or per tap). Raises ValueError for a signal that
        ends before the window."""
        model = self.ctx.model
        node, segment = reference.feature_taps(model)
        used = np.zeros((len(model.read_nodes), len(model.readout.boundaries) - 1))
        used[node, segment] = 1.0
        boundaries = np.asarray(model.readout.boundaries, dtype=float) * time_scale
        gain = np.broadcast_to(np.asarray(out_gain, dtype=float), (used.shape[0],))
        total = np.zeros(used.shape[0])
        for (rate, _), u in self.groups.items():
            energy = segment_energies(system, u * np.reshape(in_gain, (1, -1, 1)), time_scale / rate, boundaries)
            total += np.sum(energy * used, axis=(0, 2))
        return total / (gain ** 2 * time_scale)

    def __call__(self) -> np.ndarray:
        ctx = self.ctx
        system = mna_matrices(ctx.require_graph(CalibrateOutputs.name), [p.net for p in ctx.inputs])
        try:
            states = system.state_space([p.net for p in ctx.outputs])
        except CircuitError as err:
            raise CompileError(f"calibrate_outputs: cannot simulate the circuit on the calibration signals ({err}); "
                               "calibrate by band power (no --calibrate-signals) or not at all (--no-calibrate)",
                               Location(parameter="calibration_signals")) from None
        in_gain = np.array([p.gain for p in ctx.inputs])[None, :, None]
        out_gain = np.array([p.gain for p in ctx.outputs])
        if ctx.model.readout.is_linear:
            power = self.tap_power(states, in_gain, ctx.time_scale, out_gain)
            return np.sqrt(power / np.where(self.model_power > 0, self.model_power, 1.0))
        power = sum(np.sum(reference.system_features(ctx.model, states, u * in_gain, rate, ctx.time_scale,
                                                     out_gain) ** 2, axis=0)
                    for (rate, _), u in self.groups.items())
        return np.sqrt(power / np.where(self.model_power > 0, self.model_power, 1.0))


@register
class CalibrateOutputs(Pass):
    name = "calibrate_outputs"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors", "realise_drive",
                       "break_dc_loops", "readout_analog")

    def match(self, ctx: CompileContext) -> bool:
        return (ctx.graph is not None and not ctx.options.exact and ctx.options.calibrate
                and not ctx.graph.meta.get(META))

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.require_graph(self.name)
        measure, live, basis = _measurement(ctx)
        before = measure()
        buffers = {b["port"]: b for b in (graph.meta.get("readout") or {}).get("buffers", [])}
        uncalibrated, trimmed = [], []
        for j, port in enumerate(ctx.outputs):
            if not live[j]:
                continue
            record = buffers.get(port.net)
            if record is not None and record.get("opamps"):
                ctx.outputs[j].gain = port.gain * record["ideal_gain"] / record["gain"]  # the design gain
                trimmed.append(j)
                continue
            driver = _driver(graph, port.net)
            if driver is None:
                uncalibrated.append(port.name)
                continue
            driver.value = driver.value / before[j]
        for _ in range(ITERATIONS if trimmed else 0):
            g = measure()
            again = [j for j in trimmed if abs(g[j] - 1) > TRIM_TARGET]
            if not again:
                break
            for j in again:
                record = buffers[ctx.outputs[j].net]
                if not retrim_buffer(graph, record, 1 / g[j], TRIM_TARGET):
                    # Not trimmable: the port keeps its resistor ratio's gain, as without this pass.
                    ctx.outputs[j].gain *= record["gain"] / record["ideal_gain"]
                    uncalibrated.append(ctx.outputs[j].name)
                    trimmed.remove(j)
        after = measure()
        graph.meta[META] = True
        return _result(ctx, before, after, live, basis, uncalibrated)


def _measurement(ctx: CompileContext) -> tuple[Callable[[], np.ndarray], np.ndarray, str]:
    """(measure, live, basis): ``measure()`` gives each output's realised gain against the
    model's (on ``options.calibration_signals``, else by band power), ``live`` marks the outputs
    the inputs reach (the others have no level to calibrate), ``basis`` says which in the log."""
    if ctx.options.calibration_signals:
        measure = FeatureGains(ctx, list(ctx.options.calibration_signals))
        basis = (f"the model's tap energies over the layer's segments on {measure.count} signal(s)"
                 if ctx.model.readout.is_linear else f"the model's features on {measure.count} signal(s)")
        return measure, measure.model_power > 0, basis
    freqs = calibration_grid(ctx.model)
    h_model = reference_response(ctx.model, freqs)
    model_power = trapezoid(np.sum(np.abs(h_model) ** 2, axis=1), freqs, axis=-1)
    live = model_power > 0  # an output the inputs cannot reach has no level to calibrate
    model_power = np.where(live, model_power, 1.0)
    warm = WarmStart()  # a re-measurement after a trim starts from the previous one's solutions

    def measure() -> np.ndarray:
        return band_gains(ctx, freqs, model_power, warm)

    return measure, live, f"the model's band power over {freqs.size} frequencies"


def _result(ctx: CompileContext, before: np.ndarray, after: np.ndarray, live: np.ndarray, basis: str,
            uncalibrated: list[str]) -> PassResult:
    """The pass's log entry: the worst gain error before and after, per-output gains, and the
    outputs left alone."""
    names = [p.name for p in ctx.outputs]
    worst_before = int(np.argmax(np.abs(before - 1) * live))
    worst_after = int(np.argmax(np.abs(after - 1) * live))
    role = "tap" if ctx.model.readout.is_linear else "output"
    residual = abs(after[worst_after] - 1)
    # A residual at rounding level names no output: which one is largest is the CPU's libm.
    after_text = (f"below {ROUNDING_LEVEL:.0e}" if residual < ROUNDING_LEVEL
                  else f"{after[worst_after] - 1:+.2e} ({names[worst_after]})")
    summary = (f"{int(live.sum())} {role} gains calibrated to {basis}: worst error "
               f"{before[worst_before] - 1:+.2e} ({names[worst_before]}) → {after_text}")
    if uncalibrated:
        summary += f"; left alone (follower or gain below 1): {', '.join(dict.fromkeys(uncalibrated))}"
    return PassResult(True, summary, {
        "band_gain_before": dict(zip(names, before.tolist())),
        "band_gain_after": dict(zip(names, after.tolist())),
        "uncalibrated": list(dict.fromkeys(uncalibrated)), "basis": basis})


def _driver(graph, port: str):
    """The ideal VCVS or CCVS driving output ``port`` from ground (None if there is none)."""
    drivers = [c for c in graph.components if c.kind in ("E", "H") and c.nodes[0] == port and c.nodes[1] == GROUND]
    return drivers[0] if len(drivers) == 1 else None
