"""The on-circuit readout's decisions, and how close each came to flipping.

A deck compiled with ``--readout`` has decision ports (manifest ``decisions``: ``{class, port,
high_volts, valid_after_s}``) and detector nets (manifest ``readout_circuit.detectors``: per
class the net ``det<j>`` of the model subcircuit and its nominal volts per feature², det_j ≈
k_j·F_j² with F_j = w_j·RMS(v_j) over the readout window). From one transient this module
reads, per testbench copy:

* the **decision**: port j counts as high when its voltage at ``valid_after_s`` exceeds half of
  ``high_volts``; the circuit's class is the one port high, ``"none"`` when no port is high and
  ``"ambiguous"`` when several are (both disagree with any reference class);
* the **detector voltages** at ``valid_after_s`` and the mean square of every output port over
  the window (trapezoid over ngspice's own time points, V²);
* the **traces** of the decision ports and detectors over the run, resampled to at most
  :data:`TRACE_POINTS` times (for plots of the decision lines; not part of the JSON report).

:func:`margin_figures` then sets them against the reference features F_j (model):

* ``margin`` = 1 − F_2/F_1 (F_1 the winner's, F_2 the runner-up's): the relative change of the
  two largest features that would flip the reference decision;
* ``detector_error``: the analog detector against an ideal one on the same (simulated) input,
  max_j |√det_j − √(vpms·MS_j)| / max_j √(vpms·MS_j) — the error of the detectors alone, in
  feature terms (relative to the largest feature);
* ``feature_error``: max_j |F̂_j − F_j| / F_1 with F̂_j = √(det_j / k_j): everything between the
  model and the decision (network, quantisation, weights as gains, window edges, detector);
* ``simulation_error`` (hardware decks, which the verifier also solves by numpy MNA):
  max_j |F̃_j − F^MNA_j| / F_1, the ngspice run's own integration error in the features of the
  linear part (F̃ from ngspice's output ports, F^MNA from the same circuit's exact solution).
  While it exceeds :data:`SIMULATION_SHARE` of the margin, the decision is the simulator's step
  as much as the circuit's: ``verify`` then simulates the signal again at finer accuracies
  (``run.refine``), and :func:`summarise` lists those still within it
  (``simulation_limited``);
* ``network_error`` (hardware decks): max_j |F^MNA_j − F_j| / F_1, the realised linear circuit
  (E-series values, GICs, buffers) solved exactly against the model: with ``simulation_error``
  and ``detector_error`` it splits ``feature_error`` into the network, the simulator and the
  readout;
* ``window_error`` (readout decks): max_j |F^cont_j − F̃_j| / F_1, the output ports' continuous
  mean square over the window (what any analog integrator computes; F^cont from ngspice's own
  time points) against the model's feature of the same waveform from its samples. For an
  ``rms`` model that is the mean of the samples k/fs in the window, and the two differ by edge
  terms of order 1/(samples in the window) that depend on each output's waveform at the window's
  ends: up to 3e-4 on the tactile demo's 2000-sample window; no readout, however exact, removes
  them. An ``rms_continuous`` model defines its feature as the continuous mean square, so the
  figure is then only the spline estimate's error (see :mod:`r2nn_compiler.numerics.trace_energy`);
* ``at_risk``: margin ≤ 2·feature_error (the winner down and the runner-up up by that much
  would swap them); ``detector_clipped``: an integrator reached :data:`CLIP_FRACTION` of its
  swing (the signal is louder than the readout's full scale).

A deck of a **linear readout layer** (manifest ``taps``) realises the layer's scores s_j
(:mod:`r2nn_compiler.passes.common.readout_linear`): its detector nets carry s_j (``volts_per_unit_score``)
and :func:`evaluate` integrates each tap's v² over each segment of the layer (``tap_energy``,
V²·s). Scores are not ratios, so every figure is then an **absolute** difference in score units
(:func:`winning_margin` s_1 − s_2, the errors max_j |Δs_j|); the caller supplies the scores an
ideal layer would compute from the taps' continuous mean squares (``scores_continuous``), against
which ``detector_error`` and ``window_error`` are set.

:func:`linear_circuit` gives the verifier the deck's linear part (the library read back, the
readout's instance set apart from the components), which its numpy MNA can solve.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import testbench_net
from ..errors import SimulationError, VerificationError
from .circuit import CircuitUnderTest
from .manifest import CompiledDeck

#: A detector at this fraction of its swing (``readout_circuit.detector_limit_v``) has clipped.
CLIP_FRACTION = 0.95

#: A decision counts as the simulator's as much as the circuit's while ngspice's own error in the
#: features (``simulation_error``) exceeds this share of the winning margin.
SIMULATION_SHARE = 0.25

#: Decision and detector traces are resampled to this many points (a plot's worth).
TRACE_POINTS = 1500

NONE = "none"
AMBIGUOUS = "ambiguous"


def decision_ports(manifest: dict) -> list[dict]:
    """The manifest's ``decisions`` ([] for a deck without an on-circuit readout)."""
    return list(manifest.get("decisions") or [])


def decision_time(manifest: dict) -> float:
    """When every decision is valid (s, circuit time): the latest ``valid_after_s``."""
    return max(float(d["valid_after_s"]) for d in decision_ports(manifest))


def scores_deck(manifest: dict) -> bool:
    """True for a deck of a linear readout layer (taps; its decision values are scores, compared
    in absolute terms), False for the rms readouts' (outputs; features, compared relatively)."""
    return bool(manifest.get("taps"))


def detector_vectors(manifest: dict, copy: int) -> list[str]:
    """ngspice vectors of the detector nets in testbench copy ``copy`` (0-based): ``v(x1.det1)``."""
    circuit = manifest.get("readout_circuit") or {}
    return [f"v(x{copy + 1}.{d['net'].lower()})" for d in circuit.get("detectors", [])]


def evaluate(plot, manifest: dict, copy: int, copies: int) -> dict:
    """What testbench copy ``copy`` of ``copies`` decided, from a transient ``plot`` saving the
    decision ports, the detector nets and the outputs: ``class``, ``port_volts`` and ``high``
    per class, ``detector_volts`` per class and ``output_mean_square`` (V², over the window) or,
    for a linear layer's deck, ``tap_energy`` (per tap, ∫ v² dt over each segment, V²·s), and
    ``traces`` (``time_s``, ``port_volts`` and ``detector_volts`` per class as arrays,
    ``valid_after_s``, ``high_volts``, ``window_s``; circuit seconds and volts).

    Raises VerificationError when the plot lacks a vector or ends before ``valid_after_s``.
    """
    decisions = decision_ports(manifest)
    classes = [d["class"] for d in decisions]
    t = np.real(_vector(plot, "time"))
    at = decision_time(manifest)
    if t[-1] < at * (1 - 1e-9):
        raise VerificationError(f"the transient ends at {t[-1]:.6g} s, before the decisions are valid ({at:.6g} s)")
    volts = [float(np.interp(at, t, np.real(_vector(plot, f"v({testbench_net('dec', copy, j, copies)})"))))
             for j in range(len(decisions))]
    high = [v > 0.5 * float(d["high_volts"]) for v, d in zip(volts, decisions)]
    winners = [c for c, h in zip(classes, high) if h]
    decided = winners[0] if len(winners) == 1 else (NONE if not winners else AMBIGUOUS)
    result = {"class": decided, "port_volts": dict(zip(classes, volts)), "high": dict(zip(classes, high))}
    grid = np.linspace(0.0, t[-1], min(TRACE_POINTS, t.size))
    ports = [np.real(_vector(plot, f"v({testbench_net('dec', copy, j, copies)})")) for j in range(len(classes))]
    traces = {"time_s": grid, "valid_after_s": at, "high_volts": [float(d["high_volts"]) for d in decisions],
              "port_volts": {c: np.interp(grid, t, v) for c, v in zip(classes, ports)}}
    result["traces"] = traces
    circuit = manifest.get("readout_circuit")
    if circuit:
        traces["window_s"] = list(circuit["window_s"])
        traces["detector_volts"] = {c: np.interp(grid, t, np.real(_vector(plot, v)))
                                    for c, v in zip(classes, detector_vectors(manifest, copy))}
        dets = [float(np.interp(at, t, np.real(_vector(plot, v)))) for v in detector_vectors(manifest, copy)]
        result["detector_volts"] = dict(zip(classes, dets))
        # The observed ports: one output per class, or a linear layer's taps.
        n_observed = len(manifest["taps"]) if scores_deck(manifest) else len(decisions)
        observed = [np.real(_vector(plot, f"v({testbench_net('out', copy, j, copies)})"))
                    for j in range(n_observed)]
        if scores_deck(manifest):
            bounds = manifest["readout"]["segments_s"]
            result["tap_energy"] = [segment_energy(t, v, bounds).tolist() for v in observed]
        else:
            t0, t1 = circuit["window_s"]
            inside = (t >= t0) & (t <= t1)
            ms = [float(np.trapezoid(v[inside] ** 2, t[inside]) / (t1 - t0)) for v in observed]
            result["output_mean_square"] = dict(zip(classes, ms))
    return result


def segment_energy(t: np.ndarray, v: np.ndarray, bounds: list[float]) -> np.ndarray:
    """∫ v² dt over each segment [b_k, b_{k+1}] of a trace at ngspice's own time points ``t``
    (trapezoid on v², the trace taken linear between points, so a boundary between two points
    gets its interpolated value): (K,) in V²·s."""
    b = np.asarray(bounds, dtype=float)
    grid = np.union1d(t[(t >= b[0]) & (t <= b[-1])], b)
    y = np.interp(grid, t, v) ** 2
    cum = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (y[1:] + y[:-1]) / 2)])
    return np.diff(cum[np.searchsorted(grid, b)])


def margin_figures(manifest: dict, decision: dict, features_reference: dict[str, float],
                   features_sampled: dict[str, float] | None = None,
                   scores_continuous: dict[str, float] | None = None) -> dict:
    """``margin``, ``detector_error``, ``feature_error``, ``at_risk`` and the hardware features
    ``features_detected`` of one signal (see the module docstring); the error figures are None
    for a deck without detector nets. Given ``features_sampled`` (the model's features of the
    simulated output ports, from their samples), also ``window_error``. A linear layer's deck
    (:func:`scores_deck`): see :func:`score_figures`, which needs ``scores_continuous``."""
    if scores_deck(manifest):
        return score_figures(manifest, decision, features_reference, features_sampled, scores_continuous)
    classes = list(features_reference)
    f = np.array([features_reference[c] for c in classes])
    order = np.sort(f)[::-1]
    margin = winning_margin(features_reference)
    figures = {"margin": margin, "detector_error": None, "feature_error": None, "at_risk": None}
    circuit = manifest.get("readout_circuit")
    if not circuit or "detector_volts" not in decision:
        return figures
    per_feature = np.array([d["volts_per_feature_squared"] for d in circuit["detectors"]])
    det = np.array([decision["detector_volts"][c] for c in classes])
    ideal = float(circuit["volts_per_mean_square"]) * np.array([decision["output_mean_square"][c] for c in classes])
    measured = np.sqrt(np.maximum(det, 0.0))
    scale = float(np.sqrt(np.max(ideal)))
    detector_error = float(np.max(np.abs(measured - np.sqrt(ideal))) / scale) if scale > 0 else 0.0
    detected = measured / np.sqrt(per_feature)
    feature_error = float(np.max(np.abs(detected - f)) / order[0]) if order[0] > 0 else 0.0
    limit = circuit.get("detector_limit_v")
    if features_sampled is not None and order[0] > 0:
        continuous = np.sqrt(ideal / per_feature)  # what an ideal detector would read, in feature units
        sampled = np.array([features_sampled[c] for c in classes])
        figures["window_error"] = float(np.max(np.abs(continuous - sampled)) / order[0])
    figures.update(detector_error=detector_error, feature_error=feature_error,
                   at_risk=bool(margin <= 2 * feature_error),
                   detector_clipped=bool(limit is not None and np.max(det) >= CLIP_FRACTION * float(limit)),
                   features_detected={c: float(v) for c, v in zip(classes, detected)})
    return figures


def score_figures(manifest: dict, decision: dict, scores_reference: dict[str, float],
                  scores_sampled: dict[str, float] | None, scores_continuous: dict[str, float] | None) -> dict:
    """:func:`margin_figures` of a linear layer's deck, all in score units (absolute): ``margin``
    s_1 − s_2 of the reference; ``features_detected`` the score nets' volts over
    ``volts_per_unit_score``; ``feature_error`` max_j |ŝ_j − s_j| (everything between the model
    and the decision; a deck whose score nets hold the scores up to a common term,
    ``readout_circuit.scores_up_to_common_offset``, has ŝ shifted to the reference's mean);
    ``detector_error`` max_j |ŝ_j − s^cont_j|, the behavioural layer against
    an ideal one on the same simulated taps (``scores_continuous``: the layer applied to the
    taps' continuous mean squares per segment, from ngspice's own time points); ``window_error``
    max_j |s^cont_j − s^sampled_j| (the continuous integrals against their spline estimate from
    the samples, ``scores_sampled``). A deck whose ``readout_circuit.score_scale`` states
    ``linear_volts`` has only the sums within them scored (``scored_classes``; the others,
    saturated or possibly so, in ``saturated_classes``); every error figure is then over the
    scored classes (None when fewer than 1 + the offset's, which is then unknown), and a decision
    whose reference winner or runner-up is among the unscored is ``at_risk`` with
    ``risk: "deciding_sum_saturated"``."""
    classes = list(scores_reference)
    margin = winning_margin(scores_reference, absolute=True)
    figures = {"margin": margin, "detector_error": None, "feature_error": None, "at_risk": None}
    circuit = manifest.get("readout_circuit")
    if not circuit or "detector_volts" not in decision:
        return figures
    per_score = {d["class"]: float(d["volts_per_unit_score"]) for d in circuit["detectors"]}
    detected = {c: decision["detector_volts"][c] / per_score[c] for c in classes}
    scored = linear_sums(circuit, decision["detector_volts"], classes)
    if len(scored) < len(classes):
        figures.update(scored_classes=scored, saturated_classes=[c for c in classes if c not in scored])
    deciding = sorted(classes, key=lambda c: -scores_reference[c])[:2]
    if any(c not in scored for c in deciding):
        figures.update(at_risk=True, risk="deciding_sum_saturated")
    offset = bool(circuit.get("scores_up_to_common_offset"))
    if len(scored) < 1 + offset:
        return {**figures, "detector_clipped": False, "features_detected": detected}
    if offset:
        # A micropower readout's sums carry the scores plus a term common to every class (which
        # no decision sees): set the scored sums' mean to the reference's.
        shift = float(np.mean([scores_reference[c] - detected[c] for c in scored]))
        detected = {c: v + shift for c, v in detected.items()}
    on = {c: scores_reference[c] for c in scored}
    feature_error = feature_deviation(detected, scores_reference, on, absolute=True)
    at_risk = bool(margin <= 2 * feature_error) or figures["at_risk"] is True
    figures.update(feature_error=feature_error, at_risk=at_risk, detector_clipped=False,
                   features_detected=detected)
    if scores_continuous is not None:
        figures["detector_error"] = feature_deviation(detected, scores_continuous, on, absolute=True)
        if scores_sampled is not None:
            figures["window_error"] = feature_deviation(scores_continuous, scores_sampled, scores_reference,
                                                        absolute=True)
    return figures


def linear_sums(circuit: dict, volts: dict[str, float], classes: list[str]) -> list[str]:
    """The classes whose score nets' ``volts`` lie within ``readout_circuit.score_scale.linear_volts``
    (all of them when the manifest states no such range: a deck from before it, or no sums)."""
    span = (circuit.get("score_scale") or {}).get("linear_volts")
    if not span:
        return list(classes)
    return [c for c in classes if span[0] <= float(volts[c]) <= span[1]]


def winning_margin(features: dict[str, float], absolute: bool = False) -> float:
    """1 − F_2/F_1 of the two largest features (1 with one class or all features zero); with
    ``absolute`` (a linear layer's scores, of any sign) s_1 − s_2 (inf with one class)."""
    order = np.sort(np.array(list(features.values()), dtype=float))[::-1]
    if absolute:
        return float(order[0] - order[1]) if order.size > 1 else math.inf
    return float(1 - order[1] / order[0]) if order.size > 1 and order[0] > 0 else 1.0


def feature_deviation(features: dict[str, float], against: dict[str, float],
                      features_reference: dict[str, float], absolute: bool = False) -> float:
    """max_j |A_j − B_j| / max_j F_j: how far one set of features is from another, relative to
    the reference's largest feature (``absolute``, for scores: max_j |A_j − B_j|).
    ``simulation_error`` is ngspice's against the circuit's exact MNA solution,
    ``network_error`` that solution's against the reference model."""
    worst = max(abs(features[c] - against[c]) for c in features_reference)
    if absolute:
        return float(worst)
    top = max(features_reference.values())
    return float(worst / top) if top > 0 else 0.0


def simulation_limited(error: float | None, margin: float) -> bool:
    """True when a simulation ``error`` (None: not measured) exceeds SIMULATION_SHARE of ``margin``."""
    return error is not None and error > SIMULATION_SHARE * margin


def summarise(rows: list[tuple[str, dict]], absolute: bool = False) -> dict:
    """Decision figures over the signals: ``rows`` are (signal path, decision dict holding
    ``class``, ``agree`` and the :func:`margin_figures`). Returns the smallest margin and its
    signal with that signal's errors, the worst detector and feature errors, the signals at
    risk and those with no single decision; ``margins`` says how margins and errors are
    expressed: ``relative`` (to the largest feature) or, with ``absolute`` (a linear layer's
    scores), ``absolute`` (score units)."""
    if not rows:
        return {}
    path, smallest = min(rows, key=lambda r: r[1]["margin"])
    known = [r for r in rows if r[1].get("detector_error") is not None]
    return {
        "signals": len(rows), "margins": "absolute" if absolute else "relative",
        "agreement": float(np.mean([r[1]["agree"] for r in rows])),
        "smallest_margin": smallest["margin"], "smallest_margin_signal": path,
        "detector_error_there": smallest.get("detector_error"),
        "feature_error_there": smallest.get("feature_error"),
        "worst_detector_error": max((r[1]["detector_error"] for r in known), default=None),
        "worst_feature_error": max((r[1]["feature_error"] for r in rows if r[1].get("feature_error") is not None),
                                   default=None),
        "simulation_error_there": smallest.get("simulation_error"),
        "network_error_there": smallest.get("network_error"),
        "window_error_there": smallest.get("window_error"),
        "worst_simulation_error": max((r[1]["simulation_error"] for r in rows
                                       if r[1].get("simulation_error") is not None), default=None),
        "at_risk": [p for p, d in rows if d.get("at_risk")],
        "no_single_decision": [p for p, d in rows if d["class"] in (NONE, AMBIGUOUS)],
        "detectors_clipped": [p for p, d in rows if d.get("detector_clipped")],
        # Signals with a sum outside its linear range (not scored: score_figures).
        "sums_saturated": [p for p, d in rows if d.get("saturated_classes")],
        # Decided within ngspice's own error (after verify's refinement, at the finest accuracy).
        "simulation_limited": [p for p, d in rows if simulation_limited(d.get("simulation_error"), d["margin"])],
    }


def linear_circuit(compiled: CompiledDeck) -> CircuitUnderTest:
    """The deck's circuit for the numpy MNA: its library read back, with the readout's instance
    (manifest ``readout_circuit.instance``) moved out of the components into ``graph.readout``.
    The components are then the linear circuit (network and buffers), which the MNA solves;
    netlisting the graph again gives the whole deck, readout included."""
    cut = CircuitUnderTest.from_compiled(compiled)
    instance = (compiled.manifest.get("readout_circuit") or {}).get("instance")
    if instance and instance in cut.graph:
        cut.graph.readout = cut.graph.remove(instance)
    return cut


def _vector(plot, name: str) -> np.ndarray:
    try:
        return plot.get(name)
    except SimulationError:
        raise VerificationError(f"no vector {name} in the transient: save the decision ports and detector nets "
                                "(see verify.decisions)") from None

