"""Verification: simulate a compiled deck in ngspice and compare it with the reference model.

Transient runs (signals scaled by the manifest's gains and time scale, several of one length
per run, fixed steps chosen for an accuracy target) and an AC sweep per input; an exact deck
must match the reference within the NRMSE tolerance, a hardware deck its own circuit's MNA, with
its decisions agreeing with the reference on ``min_agreement`` of the signals. The circuit is
never changed here. Design and speed notes: docs/verify.md.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import reference
from ..backend import NgspiceNetlister, Testbench, testbench_net
from ..errors import Location, SimulationError, VerificationError
from ..executor import LocalExecutor
from ..model import Model
from ..model.ir import LINEAR, RMS_CONTINUOUS
from ..numerics.statespace import StateSpace
from ..passes.base import observed_nodes
from ..passes.common.response import reference_response
from ..signals import Signal, check_fits
from . import decisions as readout
from . import energy as supply_energy
from . import linear_part
from . import superposition
from .circuit import CircuitUnderTest, signal_groups
from .manifest import CompiledDeck, check_matches
from .metrics import nrmse, response_errors
from .superposition import Method, SuperpositionUnavailable
from .transient_run import (ENGINES, PortScaling, RunTraces, TransientRun, make_engine, model_in_circuit_units,
                            run_deck, run_step, simulate_run, stage_library)


#: Default accuracy target of the simulation (predicted NRMSE of ngspice's integration) as a
#: fraction of the NRMSE tolerance: the integration error then uses at most a fifth of it.
ACCURACY_FRACTION = 0.2



@dataclass
class Tolerances:
    """Pass/fail limits: transient NRMSE per output, AC relative errors."""

    nrmse: float = 0.005
    ac_peak_freq: float = 0.005
    ac_peak_mag: float = 0.01
    min_agreement: float = 0.99


@dataclass
class SignalResult:
    path: str
    nrmse: dict[str, float]
    features_reference: dict[str, float]
    features_circuit: dict[str, float]
    reference_class: str
    circuit_class: str
    circuit_outputs: np.ndarray = field(repr=False)
    reference_outputs: np.ndarray = field(repr=False)
    rate_hz: float = 0.0
    nrmse_vs_circuit: dict[str, float] | None = None  # hardware decks: ngspice vs the deck's MNA
    headroom: list[dict] = field(default_factory=list)  # op-amp output peaks vs swing (headroom.py)
    step_s: float = 0.0  # ngspice's fixed step, seconds of circuit time
    predicted_nrmse: float = 0.0  # integration error predicted for that step (worst of its run)
    decision: dict | None = None  # on-circuit readout: decision ports and margin (decisions.py)
    accuracy: float = 0.0  # the accuracy this signal's run aimed at (finer when refined)
    simulation_error: float | None = None  # hardware decks: ngspice's own feature error (decisions.py)
    network_error: float | None = None  # hardware decks: the circuit's exact features vs the model's
    decision_traces: dict | None = field(default=None, repr=False)  # their traces (decisions.evaluate)
    # A linear readout layer: its features φ by name (the features_* above are its class scores,
    # whose margins and errors are absolute); None for the rms readouts.
    layer_features_reference: dict[str, float] | None = None
    layer_features_circuit: dict[str, float] | None = None
    # A readout whose cells hang on the taps (verify/linear_part.py): the loaded taps' figures,
    # reported beside the gated ones (then those of the linear part run alone).
    loaded_taps: linear_part.LoadedTaps | None = None

    @property
    def scores(self) -> bool:
        """True when the decision values are a linear layer's scores (compared in absolute terms)."""
        return self.layer_features_reference is not None

    @property
    def agree(self) -> bool:
        return self.reference_class == self.circuit_class

    @property
    def worst_nrmse(self) -> float:
        return max(self.nrmse.values())

    def to_json(self) -> dict:
        data = {"path": self.path, "nrmse": self.nrmse, "reference_class": self.reference_class,
                "circuit_class": self.circuit_class, "agree": self.agree,
                "features_reference": self.features_reference, "features_circuit": self.features_circuit}
        if self.scores:
            data.update(layer_features_reference=self.layer_features_reference,
                        layer_features_circuit=self.layer_features_circuit)
        if self.nrmse_vs_circuit is not None:
            data["nrmse_vs_circuit"] = self.nrmse_vs_circuit
        if self.headroom:
            data["headroom"] = self.headroom
        data["simulation"] = {"step_s": self.step_s, "predicted_nrmse": self.predicted_nrmse,
                              "accuracy": self.accuracy, "simulation_error": self.simulation_error,
                              "network_error": self.network_error}
        if self.decision is not None:
            data["decision"] = self.decision
        if self.loaded_taps is not None:
            data["loaded_taps"] = self.loaded_taps.to_json()
        return data

    @property
    def gated_nrmse(self) -> dict[str, float]:
        """The NRMSE that must meet the tolerance (see the module docstring)."""
        return self.nrmse if self.nrmse_vs_circuit is None else self.nrmse_vs_circuit


@dataclass
class AcResult:
    """AC figures of one output/input pair: ``errors`` against the reference model and, for
    hardware decks, ``circuit_errors`` against the deck's own MNA (then the gated ones).
    ``cls`` is the observed port's label: the output's class, or (``role`` ``tap``) the
    resonator a linear layer's tap reads."""

    cls: str
    input: str
    errors: dict[str, float]
    circuit_errors: dict[str, float] | None = None
    role: str = "output"

    @property
    def gated(self) -> dict[str, float]:
        return self.errors if self.circuit_errors is None else self.circuit_errors

    @property
    def name(self) -> str:
        """How messages name the port: the class (``high``), or ``tap a``."""
        return self.cls if self.role == "output" else f"{self.role} {self.cls}"

    def to_json(self) -> dict:
        data = {"class" if self.role == "output" else "node": self.cls, "input": self.input, **self.errors}
        if self.circuit_errors is not None:
            data["vs_circuit"] = self.circuit_errors
        return data


def transient(model: Model, compiled: CompiledDeck, signals: list[Signal], *, engine: str = "batch",
              timeout_s: float = 600.0, accuracy: float = ACCURACY_FRACTION * Tolerances.nrmse, executor=None,
              per_run: int = 8, progress=None, circuit: CircuitUnderTest | None = None,
              method: Method | None = None) -> list[SignalResult]:
    """Simulate every signal; return one SignalResult per signal, in order. With ``circuit``
    (hardware decks) each result also holds the NRMSE of ngspice against that circuit's MNA,
    and the step is chosen against that MNA (the gated comparison), else against the model.

    ``accuracy``: the largest predicted NRMSE of ngspice's integration on any signal and
    output. Runs of up to ``per_run`` signals go to ``executor`` (default: local processes),
    so that every worker gets a run; ``progress(n)`` hears of finished signals. ``method``
    (default: direct runs) may superpose a kernel instead (:func:`_superposed`; it records
    what it did, and falls back to direct runs, saying so on stderr, when its spot checks fail).

    Only the part of each signal up to the end of the readout window is simulated: nothing
    after it can change a feature (the system is causal), and ngspice time is the cost here."""
    signals = [within_readout(model, s) for s in signals]
    system = circuit.state_space() if circuit is not None else model_in_circuit_units(model, compiled)
    executor = executor if executor is not None else LocalExecutor()
    ctx = _Context(model, compiled, signals, system, PortScaling.of(compiled), circuit, accuracy, progress,
                   TransientRun.settings(model, compiled, system, accuracy, engine, timeout_s))
    if method is not None and _choose_method(ctx, method) == "superposition":
        try:
            return _superposed(ctx, method, executor)
        except SuperpositionUnavailable as exc:
            method.used, method.reason, method.fallback = "direct", str(exc), True
            print(f"superposition not used, direct runs instead: {exc}", file=sys.stderr)
    jobs = plan_runs(signals, per_run, executor.workers, one_per_run=bool(compiled.spec.decisions))
    runs = [ctx.shared.with_inputs(np.stack([signals[i].data for i in batch]) * ctx.scaling.in_gain[None, :, None],
                                   ctx.scaling.time_scale / rate) for rate, batch in jobs]
    results: list[SignalResult | None] = [None] * len(signals)
    for (rate, batch), traces in zip(jobs, executor.map(simulate_run, runs)):
        _score_batch(ctx, results, batch, traces, rate)
    if circuit is not None and compiled.spec.decisions and model.readout.is_linear and linear_part.loads_taps(circuit, compiled.manifest):
        _check_linear_part(ctx, executor, results, per_run)
    return results


def _check_linear_part(ctx: _Context, executor, results: list[SignalResult], per_run: int) -> None:
    """A readout whose cells hang on the taps (:mod:`.linear_part`): the deck's linear part
    alone in ngspice (fixed steps, signals sharing runs); its taps against the MNA become each
    result's gated ``nrmse_vs_circuit`` and ``simulation_error``; the loaded taps' figures go
    to ``loaded_taps``."""
    model, scaling = ctx.model, ctx.scaling
    base = linear_part.linear_part_run(ctx.shared, ctx.circuit)
    jobs = plan_runs(ctx.signals, per_run, executor.workers, one_per_run=False)
    runs = [base.with_inputs(np.stack([ctx.signals[i].data for i in batch]) * scaling.in_gain[None, :, None],
                             scaling.time_scale / rate) for rate, batch in jobs]
    labels = observed_labels(model)
    for (rate, batch), traces in zip(jobs, executor.map(simulate_run, runs)):
        mna = ctx.circuit.outputs_for({}, [ctx.signals[i] for i in batch])
        for b, i in enumerate(batch):
            result, linear = results[i], traces.outputs[b] / scaling.out_gain[:, None]
            loaded = linear_part.loaded_figures(model, labels, result.circuit_outputs, linear, mna[b], rate)
            result.loaded_taps = replace(loaded, linear_part_step_s=traces.step_s,
                                         linear_part_predicted_nrmse=traces.predicted_nrmse)
            result.nrmse_vs_circuit = dict(zip(labels, map(float, nrmse(linear, mna[b]))))
            result.simulation_error = readout.feature_deviation(
                dict(zip(model.classes, map(float, reference.features(model, linear, rate)))),
                dict(zip(model.classes, map(float, reference.features(model, mna[b], rate)))),
                result.features_reference, result.scores)
            if result.decision is not None and "simulation_error" in result.decision:
                result.decision["simulation_error"] = result.simulation_error


@dataclass
class _Context:
    """What scoring a transient needs (see :func:`transient`)."""

    model: Model
    compiled: CompiledDeck
    signals: list[Signal]
    system: StateSpace
    scaling: PortScaling
    circuit: CircuitUnderTest | None
    accuracy: float
    progress: object
    shared: TransientRun
    # Exact decision values of the compared system per signal index, when computed up front
    # (superposition: :func:`_spot_clips`); reused for a hardware deck's network error.
    exact_values: dict[int, np.ndarray] = field(default_factory=dict)


def _score_batch(ctx: _Context, results: list, batch: list[int], traces: RunTraces, rate: float) -> None:
    """Score the signals ``batch`` (indices into ``ctx.signals``) of one set of traces."""
    model, signals, scaling = ctx.model, ctx.signals, ctx.scaling
    ref = reference.simulate(model, np.stack([signals[i].data for i in batch]), rate)
    mna = ctx.circuit.outputs_for({}, [signals[i] for i in batch]) if ctx.circuit is not None else None
    for b, i in enumerate(batch):
        circ = traces.outputs[b] / scaling.out_gain[:, None]
        result = results[i] = _score(model, signals[i], circ, ref[b], rate)
        result.step_s, result.predicted_nrmse = traces.step_s, traces.predicted_nrmse
        result.headroom, result.accuracy = traces.headroom[b], ctx.accuracy
        if mna is not None:
            _compare_with_circuit(result, model, ctx.system, scaling, signals[i], circ, mna[b], ctx.exact_values.get(i))
        if traces.decisions is not None:
            _add_decision(result, model, ctx.compiled, dict(traces.decisions[b]), scaling)
    if ctx.progress is not None:
        ctx.progress(len(batch))


def _choose_method(ctx: _Context, method: Method) -> str:
    """``direct`` or ``superposition`` for this transient. Superposition needs a linear deck
    (no on-circuit readout: asking for it there raises VerificationError); ``auto`` takes it
    only when its ngspice work (the kernel's hats and the spot checks) is below the direct runs'."""
    if method.requested == "direct":
        return "direct"
    if ctx.compiled.spec.decisions:
        if method.requested == "superposition":
            raise VerificationError("the deck has an on-circuit readout (not linear): superposition does not "
                                    "apply; use --method auto or direct", Location(parameter="method"))
        method.used, method.reason = method.used or "direct", method.reason or "on-circuit readout: not linear"
        return "direct"
    if method.requested == "auto":
        direct, superposed = _work(ctx, method.spot_checks)
        if superposed >= direct:
            method.used = method.used or "direct"
            method.reason = method.reason or (f"cheaper here: {direct} clip-samples against {superposed} for the "
                                              "kernel and spot checks")
            return "direct"
    return "superposition"


def _work(ctx: _Context, spot_checks: int) -> tuple[int, int]:
    """ngspice's work (copies × samples) for direct runs and for superposition (per sample
    rate: the kernel's hat runs, and the spot checks)."""
    direct = sum(s.data.shape[1] for s in ctx.signals)
    superposed = spot_checks * max((s.data.shape[1] for s in ctx.signals), default=0)
    n_in = ctx.system.B.shape[1]
    for rate, members in _rate_groups(ctx.signals).items():
        longest = max(ctx.signals[i].data.shape[1] for i in members)
        samples = superposition.kernel_samples(ctx.system.A, ctx.scaling.time_scale / rate, ctx.accuracy, longest,
                                                ctx.system.B, ctx.system.C)
        superposed += superposition.kernel_work(n_in, samples)
    return direct, superposed


def _rate_groups(signals: list[Signal]) -> dict[float, list[int]]:
    groups: dict[float, list[int]] = {}
    for i, s in enumerate(signals):
        groups.setdefault(s.rate_hz, []).append(i)
    return groups


def _superposed(ctx: _Context, method: Method, executor) -> list[SignalResult]:
    """Every signal from one kernel per sample rate (cached beside the deck), scored like
    direct runs. The spot checks' clips are chosen before any ngspice run (:func:`_spot_clips`)
    and their direct runs go to the workers with the kernel's, so they run while the clips are
    superposed and scored. Raises SuperpositionUnavailable when the spot checks fail."""
    method.used = method.used or "superposition"
    results: list[SignalResult | None] = [None] * len(ctx.signals)
    chosen = _spot_clips(ctx, method.spot_checks)
    spots = []
    for rate, members in _rate_groups(ctx.signals).items():
        mine = [i for i in chosen if ctx.signals[i].rate_hz == rate]
        base, kernel, answers = _kernel_for(ctx, method, executor, rate, members, mine)
        spots.append((mine, answers))
        for batch in _batches(ctx.signals, members, superposition.SCORE_CHUNK):  # bounded work arrays
            u = np.stack([ctx.signals[i].data for i in batch]) * ctx.scaling.in_gain[None, :, None]
            rows = [[] for _ in batch]
            if base.opamps:
                peaks = superposition.opamp_peaks(kernel, u)
                rows = [superposition.headroom_rows(base.opamps, base.swing_v, p) for p in peaks]
            traces = RunTraces(superposition.superpose_outputs(kernel, u), rows, base.sample_period_s / kernel.substeps,
                               method.kernels[-1].predicted_nrmse)
            _score_batch(ctx, results, batch, traces, rate)
    _spot_check(ctx, method, results, spots)
    return results


def _spot_clips(ctx: _Context, count: int) -> list[int]:
    """The ``count`` signals (indices) of smallest winning margin by the exact decision values
    of the compared system (``ctx.system``: a hardware deck's MNA, else the model), known
    before ngspice runs; those values are kept in ``ctx.exact_values`` (SCORE_CHUNK signals
    computed at a time)."""
    if not count:
        return []
    absolute = ctx.model.readout.is_linear  # a linear layer's scores: margins in score units
    for rate, members in _rate_groups(ctx.signals).items():
        for batch in _batches(ctx.signals, members, superposition.SCORE_CHUNK):
            u = np.stack([ctx.signals[i].data for i in batch]) * ctx.scaling.in_gain[None, :, None]
            values = reference.system_features(ctx.model, ctx.system, u, rate, ctx.scaling.time_scale,
                                               ctx.scaling.out_gain)
            ctx.exact_values.update(zip(batch, values))
    margin = {i: readout.winning_margin(dict(zip(ctx.model.classes, map(float, v))), absolute)
              for i, v in ctx.exact_values.items()}
    return sorted(margin, key=lambda i: (margin[i], i))[:count]


def _batches(signals: list[Signal], members: list[int], size: int) -> list[list[int]]:
    """``members`` (indices into ``signals``) in batches of one length, at most ``size`` each."""
    groups = signal_groups([signals[i] for i in members]).values()
    return [[members[b] for b in group[k : k + size]] for group in groups for k in range(0, len(group), size)]


def _kernel_for(ctx: _Context, method: Method, executor, rate: float, members: list[int], spot: list[int]):
    """(the run settings at ``rate`` with the step forced, its kernel, the traces of the direct
    runs of the signals ``spot`` as they are read): the step chosen for every signal of
    ``members`` by the direct runs' rule, a few dozen at a time; the spot runs sent to the
    workers with the kernel's (:func:`superposition.kernel_with_runs`)."""
    period = ctx.scaling.time_scale / rate
    predicted, substeps = 0.0, 1
    for start in range(0, len(members), 64):
        u = np.stack([ctx.signals[i].data for i in members[start : start + 64]]) * ctx.scaling.in_gain[None, :, None]
        k, p = run_step(ctx.shared.with_inputs(u, period))
        substeps, predicted = max(substeps, k), max(predicted, p)
    longest = max(ctx.signals[i].data.shape[1] for i in members)
    samples = superposition.kernel_samples(ctx.system.A, period, ctx.accuracy, longest, ctx.system.B,
                                           ctx.system.C)
    base = replace(ctx.shared.with_inputs(np.empty((0, ctx.system.B.shape[1], 0)), period), substeps=substeps)
    spot_runs = [replace(base, inputs=ctx.signals[i].data[None] * ctx.scaling.in_gain[None, :, None]) for i in spot]
    kernel, cached, answers = superposition.kernel_with_runs(base, substeps, samples, executor, method.cache,
                                                             spot_runs)
    method.kernels.append(superposition.KernelRecord(rate, period / substeps, substeps, samples, samples * period,
                                                     cached, predicted))
    return base, kernel, answers


def _spot_check(ctx: _Context, method: Method, results: list[SignalResult], spots: list) -> None:
    """Compare the spot checks' direct runs (``spots``: per sample rate, the signals and their
    traces as :func:`_kernel_for` returned them) with the superposed traces; raises
    SuperpositionUnavailable above ``method.spot_limit``."""
    chosen, difference, peaks = [], 0.0, []
    for members, answers in spots:
        for i, traced in zip(members, answers, strict=True):
            chosen.append(i)
            direct = traced.outputs[0] / ctx.scaling.out_gain[:, None]
            difference = max(difference, superposition.trace_difference(direct, results[i].circuit_outputs))
            peaks += [abs(a["peak_v"] - b["peak_v"]) / max(abs(a["peak_v"]), 1e-300)
                      for a, b in zip(traced.headroom[0], results[i].headroom)]
    if not chosen:
        return
    check = superposition.SpotCheck([ctx.signals[i].path for i in chosen], difference, method.spot_limit,
                                    max(peaks) if peaks else None)
    method.spot.append(check)
    if not check.passed:
        raise SuperpositionUnavailable(f"spot checks: superposed traces differ from direct runs by {difference:.3g} "
                                       f"(NRMSE) > {method.spot_limit:.3g}")


def plan_runs(signals: list[Signal], per_run: int, workers: int, one_per_run: bool) -> list[tuple[float, list[int]]]:
    """The runs, as (sample rate, indices of the signals sharing the run): signals of one length
    and rate share a run (one process start, one step control for all copies), but every worker
    gets a run; ``one_per_run`` (non-linear readouts: copies sharing a run would share every
    copy's step cuts) puts each signal in a run of its own. The split does not depend on the
    engine, so both engines simulate the same decks."""
    jobs = []
    for (rate, _), members in signal_groups(signals).items():
        size = 1 if one_per_run else max(1, min(per_run, math.ceil(len(members) / workers)))
        jobs += [(rate, members[k : k + size]) for k in range(0, len(members), size)]
    return jobs


def _compare_with_circuit(result: SignalResult, model: Model, system: StateSpace, scaling: PortScaling,
                          signal: Signal, circ: np.ndarray, mna: np.ndarray, exact_values: np.ndarray | None = None
                          ) -> None:
    """A hardware deck's figures against its own circuit's MNA ``mna`` (observed ports ×
    samples, model units): NRMSE, ngspice's own feature error and the network's (from
    ``exact_values``, the MNA's exact decision values, when already computed)."""
    rate, ts = signal.rate_hz, scaling.time_scale
    result.nrmse_vs_circuit = dict(zip(observed_labels(model), map(float, nrmse(circ, mna))))
    # Like with like: ngspice's trace and the MNA's, through the same readout of samples; the
    # exact features of the MNA (between samples too) against the model.
    sampled = dict(zip(model.classes, reference.features(model, mna, rate)))
    exact = sampled
    if model.readout.kind in (RMS_CONTINUOUS, LINEAR):
        if exact_values is None:
            exact_values = reference.system_features(model, system, signal.data[None] * scaling.in_gain[None, :, None],
                                                     rate, ts, scaling.out_gain)[0]
        exact = dict(zip(model.classes, map(float, exact_values)))
    absolute = result.scores
    result.simulation_error = readout.feature_deviation(result.features_circuit, sampled, result.features_reference,
                                                        absolute)
    result.network_error = readout.feature_deviation(exact, result.features_reference, result.features_reference,
                                                     absolute)


def _add_decision(result: SignalResult, model: Model, compiled: CompiledDeck, decided: dict,
                  scaling: PortScaling) -> None:
    """An on-circuit readout's decision (``decisions.evaluate`` of one copy) into ``result``:
    its traces, margins and errors; the circuit's class becomes the decided one."""
    result.decision_traces = decided.pop("traces", None)
    scores = continuous_scores(model, decided, scaling.out_gain, scaling.time_scale)
    result.decision = {**decided, "output_class": result.circuit_class,
                       "agree": decided["class"] == result.reference_class,
                       **readout.margin_figures(compiled.manifest, decided, result.features_reference,
                                                result.features_circuit, scores)}
    if result.simulation_error is not None:
        result.decision.update(simulation_error=result.simulation_error, network_error=result.network_error)
    result.circuit_class = decided["class"]


#: A signal is simulated again at this fraction of its accuracy while ngspice's own error in the
#: features exceeds ``decisions.SIMULATION_SHARE`` of its winning margin ...
REFINE_FACTOR = 0.25
#: ... down to this accuracy (predicted NRMSE; about 5× the steps of the default's).
FINEST_ACCURACY = 1e-4


def needs_refining(result: SignalResult) -> bool:
    """True when ``result``'s decision may be the simulator's: ngspice's own error in the
    features exceeds ``decisions.SIMULATION_SHARE`` of the reference's winning margin (hardware
    decks only; an exact deck has no MNA of its own to measure that error against)."""
    return readout.simulation_limited(result.simulation_error,
                                      readout.winning_margin(result.features_reference, result.scores))


def refine(model: Model, compiled: CompiledDeck, signals: list[Signal], results: list[SignalResult],
           accuracy: float, progress=None, **transient_args) -> list[SignalResult]:
    """``results`` with every signal that :func:`needs_refining` simulated again at
    :data:`REFINE_FACTOR` of its accuracy, repeatedly, down to :data:`FINEST_ACCURACY`: a
    decision within the simulator's error says nothing about the circuit. Signals still within
    it at the finest accuracy keep their last result (``decisions.summarise`` lists them).
    ``progress(n, more=k)``, when given, hears of k more signals to run before each pass and of
    each finished one."""
    results = list(results)
    pending = [i for i, r in enumerate(results) if needs_refining(r)]
    while pending and accuracy * REFINE_FACTOR >= FINEST_ACCURACY * (1 - 1e-9):
        accuracy *= REFINE_FACTOR
        if progress is not None:
            progress(0, more=len(pending))
        again = transient(model, compiled, [signals[i] for i in pending], accuracy=accuracy, progress=progress,
                          **transient_args)
        for i, r in zip(pending, again):
            results[i] = r
        pending = [i for i in pending if needs_refining(results[i])]
    return results


def within_readout(model: Model, signal: Signal) -> Signal:
    """``signal`` cut after the last sample inside the readout window (model time)."""
    keep = reference.samples_needed(model, signal.rate_hz)
    if keep >= signal.data.shape[1]:
        return signal
    return Signal(signal.data[:, :keep], signal.rate_hz, signal.path)


def observed_labels(model: Model) -> list[str]:
    """What the observed ports are called in reports: the classes of the outputs, or the
    resonators of a linear layer's taps (:func:`passes.base.observed_nodes`)."""
    return [o.label for o in observed_nodes(model)]


def continuous_scores(model: Model, decided: dict, out_gain: np.ndarray,
                      time_scale: float) -> dict[str, float] | None:
    """A linear layer's scores of the taps' continuous mean squares, from a decision's
    ``tap_energy`` (per tap, ∫ v² dt over each segment from ngspice's own time points, V²·s
    circuit; :func:`decisions.evaluate`) through the port gains and time scale into model
    units: what an ideal layer reads from the simulated taps. None for other decks."""
    if "tap_energy" not in decided or model.readout.law is not None:  # the diode law reads waveforms, not energies
        return None
    energy = np.asarray(decided["tap_energy"], dtype=float) / (out_gain[:, None] ** 2 * time_scale)
    scores = reference.scores(model, reference.layer_features_from_energies(model, energy))
    return dict(zip(model.classes, map(float, scores)))


def _score(model: Model, signal: Signal, circ: np.ndarray, ref: np.ndarray, rate: float) -> SignalResult:
    """One signal's comparison: ``circ`` and ``ref`` the observed nodes' velocities (observed
    ports × samples, model units) from ngspice and from the reference; decision values (features
    or, for a linear layer, scores, with its features φ too) of both."""
    if not np.all(np.isfinite(circ)):
        raise SimulationError(f"ngspice returned NaN or infinite values for {signal.path}")
    phi_ref = phi_circ = None
    if model.readout.is_linear:  # the scores through the layer's features, kept for the report
        phi_ref = reference.layer_features(model, signal.data[None], rate)[0]
        phi_circ = reference.trace_layer_features(model, circ, rate)
        f_ref, f_circ = reference.scores(model, phi_ref), reference.scores(model, phi_circ)
    else:
        f_ref = reference.features_of(model, signal.data[None], rate, ref[None])[0]
        f_circ = reference.features(model, circ, rate)
    classes = model.classes
    errs = nrmse(circ, ref)
    result = SignalResult(
        path=signal.path, nrmse=dict(zip(observed_labels(model), map(float, errs))),
        features_reference={c: float(v) for c, v in zip(classes, f_ref)},
        features_circuit={c: float(v) for c, v in zip(classes, f_circ)},
        reference_class=classes[int(np.argmax(f_ref))], circuit_class=classes[int(np.argmax(f_circ))],
        circuit_outputs=circ, reference_outputs=ref, rate_hz=rate)
    if phi_ref is not None:
        names = [f.name for f in model.readout.features]
        result.layer_features_reference = dict(zip(names, map(float, phi_ref)))
        result.layer_features_circuit = dict(zip(names, map(float, phi_circ)))
    return result


def ac(model: Model, compiled: CompiledDeck, engine, workdir: Path, points_per_decade: int = 100,
       circuit: CircuitUnderTest | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[AcResult]]:
    """AC analysis, one testbench copy per input. Returns (model freqs, H circuit, H reference,
    per output/input errors); H arrays are (outputs × inputs × freqs) in model units (a linear
    layer's deck: its taps, the read nodes' velocities)."""
    spec, scaling = compiled.spec, PortScaling.of(compiled)
    ts = scaling.time_scale
    n_in, n_out = len(spec.inputs), len(spec.observed)
    library = stage_library(compiled, workdir)
    grid = reference.default_grid(model, 2)
    deck = NgspiceNetlister().testbench(Testbench(
        title="r2nn verify ac", library=library, subckt=spec.subckt, n_inputs=n_in, n_outputs=n_out,
        extra_ports=[s.port for s in spec.supplies], data_file=None, tran=None,
        decisions=readout.decision_ports(compiled.manifest) or None,
        ac=(float(grid[0] / ts), float(grid[-1] / ts), points_per_decade), instances=n_in, ac_per_instance=True,
        save_outputs=True, inverted=tuple(k for k, p in enumerate(spec.inputs) if p.inverted_port),
        controls=compiled.manifest.get("controls"),
        supply_volts={s.port: float(s.volts) for s in spec.supplies if s.volts is not None} or None))
    plot = run_deck(engine, deck, workdir).plot("ac")
    freqs = sweep_frequencies(np.real(plot.get("frequency")), grid[0] / ts, grid[-1] / ts) * ts
    in_gain, out_gain = scaling.in_gain, scaling.out_gain
    h_circ = np.empty((n_out, n_in, freqs.size), dtype=complex)
    for k in range(n_in):
        for j in range(n_out):
            v = plot.get(f"v({testbench_net('out', k, j, n_in)})")
            h_circ[j, k] = v * in_gain[k] / out_gain[j]
    h_ref = reference_response(model, freqs)  # the observed nodes' (a linear layer's: its taps')
    h_mna = circuit.response(freqs) if circuit is not None else None
    results = [AcResult(o.label, i.name, response_errors(freqs, h_circ[j, k], h_ref[j, k]),
                        response_errors(freqs, h_circ[j, k], h_mna[j, k]) if h_mna is not None else None, o.role)
               for j, o in enumerate(observed_nodes(model)) for k, i in enumerate(model.inputs)]
    return freqs, h_circ, h_ref, results


def sweep_frequencies(reported: np.ndarray, f_lo: float, f_hi: float) -> np.ndarray:
    """The frequencies (Hz) of an ``.ac dec`` sweep from f_lo to f_hi: geometric, one per point
    ngspice reported (ngspice spaces them evenly in log f between the two ends). Its own
    frequency vector was once seen holding a stray value; where it departs from the sweep, the
    sweep is what was simulated. Raises SimulationError when most points disagree."""
    expected = np.geomspace(f_lo, f_hi, reported.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.isfinite(reported) & (np.abs(reported / expected - 1) < 1e-6)
    if good.sum() < 0.9 * reported.size:
        raise SimulationError(f"ngspice's AC frequency vector does not follow the requested sweep "
                              f"({int((~good).sum())} of {reported.size} points off)")
    return np.where(good, reported, expected)


@dataclass
class VerifyReport:
    model: str
    outdir: str
    engine: str
    tolerances: Tolerances
    signals: list[SignalResult]
    ac: list[AcResult]
    elapsed_s: float
    ac_data: tuple | None = field(default=None, repr=False)
    accuracy: float = 0.0  # the simulation's accuracy target (predicted integration NRMSE)
    method: Method | None = None  # how the transients were simulated (superposition.Method)
    energy_estimate: dict | None = None  # the manifest's ``energy`` (a deck with supplies)

    @property
    def class_agreement(self) -> float:
        return float(np.mean([s.agree for s in self.signals])) if self.signals else 1.0

    @property
    def worst_nrmse(self) -> float:
        return max((s.worst_nrmse for s in self.signals), default=0.0)

    @property
    def worst_nrmse_vs_circuit(self) -> float | None:
        values = [max(s.nrmse_vs_circuit.values()) for s in self.signals if s.nrmse_vs_circuit is not None]
        return max(values) if values else None

    @property
    def exact(self) -> bool:
        """True when the deck is compared with the reference itself (see the module docstring)."""
        return all(s.nrmse_vs_circuit is None for s in self.signals) and all(a.circuit_errors is None
                                                                             for a in self.ac)

    @property
    def refined(self) -> list[SignalResult]:
        """The signals :func:`refine` simulated again at a finer accuracy than the report's."""
        return [s for s in self.signals if 0 < s.accuracy < self.accuracy * (1 - 1e-9)]

    @property
    def decisions(self) -> dict:
        """On-circuit readout figures (decisions.summarise); {} for decks without one."""
        return readout.summarise([(s.path, s.decision) for s in self.signals if s.decision is not None],
                                 absolute=any(s.scores for s in self.signals))

    @property
    def loaded_taps(self) -> dict:
        """A readout on its own taps (verify/linear_part.py): the loaded taps' figures over the
        signals, reported, not gated; {} for other decks."""
        return linear_part.summarise([(s.path, s.loaded_taps) for s in self.signals if s.loaded_taps is not None],
                                     self.tolerances.nrmse)

    @property
    def energy(self) -> dict:
        """Measured supply energy per decision beside the estimate (verify/energy.py); {}
        for decks without supplies."""
        measured = [s.decision["supply_energy_j"] for s in self.signals
                    if s.decision is not None and "supply_energy_j" in s.decision]
        if not measured:
            return {}
        until = max(float(s.decision_traces["valid_after_s"]) for s in self.signals if s.decision_traces)
        return supply_energy.summarise(measured, self.energy_estimate, until)

    def failures(self) -> list[str]:
        tol = self.tolerances
        against = "" if self.exact else " against the deck's circuit"
        out = []
        for s in self.signals:
            for cls, e in s.gated_nrmse.items():
                if not e <= tol.nrmse:
                    port = "tap" if s.scores else "output"
                    out.append(f"{s.path}: {port} {cls} NRMSE{against} {e:.4g} > {tol.nrmse:g}" + _step_note(s, tol))
            if self.exact and not s.agree:
                out.append(f"{s.path}: circuit decides {s.circuit_class}, reference {s.reference_class}")
        for s in self.signals:
            for row in s.headroom:
                if not row["ok"]:
                    out.append(f"{s.path}: op-amp {row['designator']} ({row['element']}) would clip: output peak "
                               f"{row['peak_v']:.3g} V > swing {row['swing_v']:g} V")
        if not self.exact and self.class_agreement < tol.min_agreement:
            out.append(f"class agreement {100 * self.class_agreement:.1f} % < {100 * tol.min_agreement:g} %")
        for a in self.ac:
            if not a.gated["peak_freq_error"] <= tol.ac_peak_freq:
                out.append(f"AC {a.name}<-{a.input}: peak frequency{against} off by {a.gated['peak_freq_error']:.4g} "
                           f"> {tol.ac_peak_freq:g}")
            if not a.gated["peak_mag_error"] <= tol.ac_peak_mag:
                out.append(f"AC {a.name}<-{a.input}: peak magnitude{against} off by {a.gated['peak_mag_error']:.4g} "
                           f"> {tol.ac_peak_mag:g}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def to_json(self) -> dict:
        return {
            "format": "r2nn-verify/1", "model": self.model, "outdir": self.outdir, "engine": self.engine,
            "passed": self.passed, "tolerances": vars(self.tolerances),
            "exact": self.exact,
            "summary": {"signals": len(self.signals), "class_agreement": self.class_agreement,
                        "worst_nrmse": self.worst_nrmse, "worst_nrmse_vs_circuit": self.worst_nrmse_vs_circuit,
                        "elapsed_s": self.elapsed_s, "accuracy": self.accuracy,
                        # Signals simulated again at a finer accuracy (refine) and the finest used.
                        "refined": [s.path for s in self.refined],
                        "finest_accuracy": min((s.accuracy for s in self.signals), default=self.accuracy),
                        **({"decisions": self.decisions} if self.decisions else {}),
                        **({"energy": self.energy} if self.energy else {}),
                        **({"loaded_taps": self.loaded_taps} if self.loaded_taps else {})},
            "failures": self.failures(),
            **({"method": self.method.to_json()} if self.method is not None else {}),
            "signals": [s.to_json() for s in self.signals],
            "ac": [a.to_json() for a in self.ac],
        }


def _step_note(result: SignalResult, tol: Tolerances) -> str:
    """Why an NRMSE failure may be the step's: the gated run's predicted integration error (the
    linear part's run where verify ran one, :mod:`.linear_part`) is above the limit."""
    predicted = (result.loaded_taps.linear_part_predicted_nrmse if result.loaded_taps is not None
                 else result.predicted_nrmse)
    if predicted > tol.nrmse:
        return (f" (ngspice's predicted integration error at this step is {predicted:.3g}, above the "
                f"limit: the accuracy target {result.accuracy:g} cannot prove it)")
    return ""


def check_inputs(model: Model, compiled: CompiledDeck, signals: list[Signal], *, engine: str = "batch",
                 tolerances: Tolerances | None = None, accuracy: float | None = None,
                 timeout_s: float = 600.0, method: str = "direct", spot_checks: int = 2) -> float:
    """Check everything a verification reads before any of it is simulated: the deck is
    ``model``'s (:func:`manifest.check_matches`), the engine and ``method`` are known, the
    NRMSE tolerance, the accuracy and the timeout are positive (the accuracy below 1), the spot
    checks a whole number ≥ 0, superposition not asked of a deck with an on-circuit readout, and
    every signal can drive the model (:func:`signals.check_fits`:
    channels, rate, long enough for the readout window).

    Returns the accuracy to aim for (default: ACCURACY_FRACTION of the NRMSE tolerance).
    Raises VerificationError (naming the parameter) or SignalError (naming the signal's file)."""
    check_matches(compiled, model)
    if engine not in ENGINES:
        raise VerificationError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}",
                                Location(parameter="engine"))
    tolerances = tolerances or Tolerances()
    if not (math.isfinite(tolerances.nrmse) and tolerances.nrmse > 0):
        raise VerificationError(f"the NRMSE tolerance must be a positive number, got {tolerances.nrmse:g}",
                                Location(parameter="nrmse"))
    accuracy = ACCURACY_FRACTION * tolerances.nrmse if accuracy is None else accuracy
    if not 0 < accuracy < 1:
        raise VerificationError(f"must be between 0 and 1 (an NRMSE), got {accuracy:g}",
                                Location(parameter="accuracy"))
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise VerificationError(f"must be a positive number of seconds, got {timeout_s:g}",
                                Location(parameter="timeout"))
    for name, call in (("method", lambda: superposition.check_method(method, 2)),
                       ("spot-checks", lambda: superposition.check_method("auto", spot_checks))):
        try:
            call()
        except ValueError as exc:
            raise VerificationError(str(exc), Location(parameter=name)) from None
    if method == "superposition" and compiled.spec.decisions:
        raise VerificationError("the deck has an on-circuit readout (not linear): superposition does not "
                                "apply; use --method auto or direct", Location(parameter="method"))
    for signal in signals:
        check_fits(model, signal)
    return accuracy


def verify_deck(model: Model, compiled: CompiledDeck, signals: list[Signal], *, engine: str = "batch",
                tolerances: Tolerances | None = None, timeout_s: float = 600.0, per_run: int = 8,
                run_ac: bool = True, progress=None, accuracy: float | None = None, executor=None,
                refine_close: bool = True, method: str | Method = "direct", spot_checks: int = 2) -> VerifyReport:
    """Run the transient and AC comparisons; scratch directories are always removed.

    ``accuracy``: the simulation's target, the largest predicted NRMSE of ngspice's time
    integration (default: ACCURACY_FRACTION of the NRMSE tolerance). ``executor`` runs the
    transient runs (default: local processes on every core; see :mod:`r2nn_compiler.executor`).
    ``refine_close``: simulate again, at finer accuracies, the signals whose winning margin is
    within ngspice's own error (:func:`refine`; hardware decks). ``progress(n, more=0)`` hears
    of n finished signals, and of ``more`` signals refinement adds to the run. ``method``
    (``auto``, ``direct``, ``superposition`` or a :class:`superposition.Method`) and
    ``spot_checks``: how the transients are simulated (docs/verify.md, "Superposition"); the
    report records it. Raises, before anything is simulated, what :func:`check_inputs` raises."""
    tolerances = tolerances or Tolerances()
    if not isinstance(method, Method):
        method = Method(method, spot_checks, compiled.outdir)
    accuracy = check_inputs(model, compiled, signals, engine=engine, tolerances=tolerances, accuracy=accuracy,
                            timeout_s=timeout_s, method=method.requested, spot_checks=method.spot_checks)
    method.spot_limit = method.spot_limit or superposition.SPOT_SHARE * tolerances.nrmse
    runner = make_engine(engine, timeout_s)
    start = time.perf_counter()
    circuit = None if compiled.spec.exact else (
        readout.linear_circuit(compiled) if readout.decision_ports(compiled.manifest)
        else CircuitUnderTest.from_compiled(compiled))
    sig_results = transient(model, compiled, signals, engine=engine, timeout_s=timeout_s, accuracy=accuracy,
                            executor=executor, per_run=per_run, progress=progress, circuit=circuit,
                            method=method) if signals else []
    if refine_close and sig_results:  # a few near ties at a finer step: direct runs (a kernel at a new
        # step costs more than they do), so the report's method stays the first pass's
        sig_results = refine(model, compiled, signals, sig_results, accuracy, engine=engine, timeout_s=timeout_s,
                             executor=executor, per_run=per_run, circuit=circuit, progress=progress,
                             method=Method("direct"))
    with tempfile.TemporaryDirectory(prefix="r2nn-verify-") as tmp:
        ac_data = ac(model, compiled, runner, Path(tmp), circuit=circuit) if run_ac else None
    return VerifyReport(model.name, str(compiled.outdir), engine, tolerances, sig_results,
                        ac_data[3] if ac_data else [], time.perf_counter() - start,
                        ac_data[:3] if ac_data else None, accuracy, method,
                        compiled.manifest.get("energy") if compiled.spec.supplies else None)
