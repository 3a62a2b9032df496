"""The readout: per-class decision values over the window, and the predicted class (argmax).

Three readout kinds (:data:`r2nn_compiler.model.ir.READOUT_KINDS`): ``rms`` averages v² over the
window's samples, ``rms_continuous`` over the continuous-time waveform (what an analog detector
integrates), each class's feature w_j · RMS(v_j) of its output resonator; ``linear`` is a layer
over log mean squares: feature f is φ_f = ln(MS_f + ε), MS_f the continuous-time mean square of
resonator i_f over segment k_f of the window (:func:`layer_features`), and class j scores
s_j = β_j + Σ_f A_jf φ_f (:func:`scores`). Under ``law diode`` the features are the passive
cell's readings ψ_f in volts instead (:mod:`.diode`); everything else is the same.

The generic entry points return **per-class decision values** (signals × classes) whose argmax
is the predicted class, whatever the kind: the features w_j · RMS_j for the rms kinds, the
scores s_j for ``linear``. :func:`features_of` computes them exactly from the input;
:func:`system_features` from any system whose outputs are ``model.read_nodes`` (a circuit's
MNA); :func:`features` from sampled read-node traces, exactly for ``rms`` and as a spline
estimate for ``rms_continuous`` and ``linear`` (see :mod:`r2nn_compiler.numerics.window_energy`), for
traces that come without their system (ngspice's).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SignalError
from ..model.ir import LINEAR, RMS_CONTINUOUS, Model
from ..numerics.foh import simulate_foh
from ..numerics.lyapunov_energy import segment_energies_modal
from ..numerics.statespace import StateSpace
from ..numerics.trace_energy import trace_segment_energies, trace_window_energy
from ..numerics.window_energy import segment_energies, window_energy
from . import diode
from .simulate import simulate
from .statespace import state_space

#: Sample times within this fraction of a sample period of a window edge count as inside it, so
#: a window edge that falls on a sample in exact arithmetic is not lost to rounding.
EDGE_TOLERANCE = 1e-6


def window_mask(model: Model, n_samples: int, sample_rate_hz: float) -> np.ndarray:
    """Boolean mask of the samples with t0 ≤ k/fs ≤ t1.

    Raises SignalError when the window ends after the signal or holds no sample.
    """
    ro = model.readout
    t = np.arange(n_samples) / sample_rate_hz
    slack = EDGE_TOLERANCE / sample_rate_hz
    require_window(model, n_samples, sample_rate_hz)
    mask = (t >= ro.start - slack) & (t <= ro.stop + slack)
    if not mask.any():
        raise SignalError(f"readout window {ro.start:g}..{ro.stop:g} s holds no sample at {sample_rate_hz:g} Hz")
    return mask


def require_window(model: Model, n_samples: int, sample_rate_hz: float) -> None:
    """Raises SignalError when the signal ends before the window (for ``rms_continuous`` and
    ``linear``, before the sample that closes the window's last interval)."""
    ro = model.readout
    duration = (n_samples - 1) / sample_rate_hz
    needed = samples_needed(model, sample_rate_hz)
    last = (needed - 1) / sample_rate_hz
    if ro.stop > duration + EDGE_TOLERANCE / sample_rate_hz or n_samples < needed:
        raise SignalError(
            f"readout window ends at {ro.stop:g} s but the signal lasts {duration:g} s "
            f"({n_samples} samples at {sample_rate_hz:g} Hz): expected a signal of at least {max(ro.stop, last):g} s"
        )


def _continuous(model: Model) -> bool:
    """True when the readout integrates the continuous-time waveform (``rms_continuous``, ``linear``)."""
    return model.readout.kind in (RMS_CONTINUOUS, LINEAR)


def samples_needed(model: Model, sample_rate_hz: float) -> int:
    """Samples up to the last one a feature depends on (the last inside the window, or for
    ``rms_continuous`` and ``linear`` the first at or after its end): later samples cannot change
    a feature (the network is causal), so simulations may stop there."""
    position = model.readout.stop * sample_rate_hz
    if _continuous(model):
        return int(math.ceil(position - EDGE_TOLERANCE)) + 1
    return int(np.floor(position * (1 + 1e-12))) + 1


def features(model: Model, outputs: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Per-class decision values (…, classes) from sampled read-node velocities (…, read nodes,
    samples; ``model.read_nodes`` order, sample k at k/fs): ``w_j · RMS`` over the window for
    the rms kinds, the layer's scores for ``linear``.

    For ``rms_continuous`` and ``linear`` the window integrals are the spline estimate from the
    samples (:func:`r2nn_compiler.numerics.trace_energy.trace_segment_energies`); :func:`features_of` is
    exact. Raises SignalError when the samples end before the window."""
    ro = model.readout
    if ro.kind == LINEAR:
        return scores(model, trace_layer_features(model, outputs, sample_rate_hz))
    weights = np.array([o.weight for o in model.outputs])
    if ro.kind == RMS_CONTINUOUS:
        require_window(model, outputs.shape[-1], sample_rate_hz)
        energy = trace_window_energy(outputs, 1.0 / sample_rate_hz, ro.start, ro.stop)
        return weights * np.sqrt(energy / (ro.stop - ro.start))
    mask = window_mask(model, outputs.shape[-1], sample_rate_hz)
    return weights * np.sqrt(np.mean(outputs[..., mask] ** 2, axis=-1))


def features_of(model: Model, u: np.ndarray, sample_rate_hz: float, outputs: np.ndarray | None = None) -> np.ndarray:
    """The model's per-class decision values (signals × classes) of inputs ``u`` (signals ×
    inputs × samples), exact for every readout kind: features for the rms kinds, scores for
    ``linear``. ``outputs``: the read nodes' simulated velocities if already at hand (used by
    ``rms`` only; the continuous kinds integrate the exact state)."""
    if _continuous(model):
        return system_features(model, state_space(model), u, sample_rate_hz)
    return features(model, simulate(model, u, sample_rate_hz) if outputs is None else outputs, sample_rate_hz)


def system_features(model: Model, system: StateSpace, u: np.ndarray, sample_rate_hz: float,
                    time_scale: float = 1.0, out_gain: np.ndarray | float = 1.0, *, modal: bool = False) -> np.ndarray:
    """``model``'s readout applied to the outputs of ``system`` driven by ``u`` (signals × inputs
    × samples, in the system's input units), exactly: per-class decision values (signals ×
    classes), features for the rms kinds, scores for ``linear``.

    ``system``'s outputs are the read nodes (``model.read_nodes`` order: a linear layer's taps, or
    the output resonators) of a circuit's MNA (``time_scale`` circuit seconds per model second,
    outputs ``out_gain`` system units per model unit, a scalar or one per read node) or of the
    model itself. ``modal``: the window integrals (``rms_continuous``, ``linear``) by the gramian
    identity (:func:`r2nn_compiler.numerics.lyapunov_energy.segment_energies_modal`: the same to
    ~1e-12 relative, several times cheaper; what the Monte Carlo uses). Raises SignalError when
    ``u`` ends before the window."""
    if model.readout.kind == LINEAR:
        return scores(model, system_layer_features(model, system, u, sample_rate_hz, time_scale, out_gain,
                                                   modal=modal))
    u = np.asarray(u, dtype=float)
    dt = time_scale / sample_rate_hz
    weights = np.array([o.weight for o in model.outputs])
    ro = model.readout
    if ro.kind != RMS_CONTINUOUS:
        y = simulate_foh(system, u, dt) / np.asarray(out_gain, dtype=float).reshape(-1, 1)
        return features(model, y, sample_rate_hz)
    require_window(model, u.shape[-1], sample_rate_hz)
    window = (ro.start * time_scale, ro.stop * time_scale)
    energy = (segment_energies_modal(system, u, dt, window)[:, :, 0] if modal
              else window_energy(system, u, dt, *window))
    energy /= np.asarray(out_gain, dtype=float) ** 2
    return weights * np.sqrt(energy / ((ro.stop - ro.start) * time_scale))


def feature_taps(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """(node, segment): for every feature of a linear readout (in ``features`` order) the index
    of the resonator it reads in ``model.read_nodes`` and of its segment (from 0)."""
    position = {name: i for i, name in enumerate(model.read_nodes)}
    feats = model.readout.features
    return (np.array([position[f.node] for f in feats], dtype=np.int64),
            np.array([f.segment for f in feats], dtype=np.int64))


def layer_features_from_energies(model: Model, energies: np.ndarray) -> np.ndarray:
    """φ_f = ln(MS_f + ε) (…, features) of a linear readout from ``energies`` (…, read nodes,
    K): ∫ v² dt of each read node (``model.read_nodes`` order, model units² · model seconds)
    over each segment; MS = energy / segment length. Pure: no simulation."""
    ro = model.readout
    if ro.law is not None:
        raise ValueError("a layer under 'law diode' reads its taps' waveforms, not their energies: "
                         "use system_layer_features or trace_layer_features")
    lengths = np.diff(np.asarray(ro.boundaries, dtype=float))
    node, segment = feature_taps(model)
    mean_square = np.asarray(energies, dtype=float)[..., node, segment] / lengths[segment]
    return np.log(mean_square + ro.floor)


def layer_features(model: Model, u: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """The linear readout's features φ (signals × features) of inputs ``u`` (signals × inputs ×
    samples, sample k at k/fs, linear between samples), exact (the model's zero-state response,
    its mean squares integrated in closed form). Raises SignalError when ``u`` ends before the
    sample that closes the window (:func:`samples_needed`)."""
    return system_layer_features(model, state_space(model), u, sample_rate_hz)


def system_layer_features(model: Model, system: StateSpace, u: np.ndarray, sample_rate_hz: float,
                          time_scale: float = 1.0, out_gain: np.ndarray | float = 1.0, *,
                          modal: bool = False) -> np.ndarray:
    """:func:`layer_features` of a system whose outputs are ``model.read_nodes`` (as
    :func:`system_features`: ``time_scale`` system seconds per model second, ``out_gain`` system
    units per model unit, scalar or per read node, ``modal`` the energies' method; a diode law's
    readings ignore it): (signals × features)."""
    u = np.asarray(u, dtype=float)
    if system.n_outputs != len(model.read_nodes):
        raise ValueError(f"the system has {system.n_outputs} outputs; the layer reads {len(model.read_nodes)} nodes")
    require_window(model, u.shape[-1], sample_rate_hz)
    if model.readout.law is not None:
        return diode.system_readings(model, system, u, sample_rate_hz, time_scale, out_gain)
    boundaries = np.asarray(model.readout.boundaries, dtype=float) * time_scale
    energy = (segment_energies_modal if modal else segment_energies)(system, u, time_scale / sample_rate_hz, boundaries)
    gain = np.broadcast_to(np.asarray(out_gain, dtype=float), (system.n_outputs,))
    return layer_features_from_energies(model, energy / (gain[:, None] ** 2 * time_scale))


def trace_layer_features(model: Model, outputs: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """:func:`layer_features` estimated from sampled read-node velocities (…, read nodes,
    samples; sample k at k/fs) by the spline estimate of each segment's integral: (…, features).
    Raises SignalError when the samples end before the window."""
    outputs = np.asarray(outputs, dtype=float)
    require_window(model, outputs.shape[-1], sample_rate_hz)
    if model.readout.law is not None:
        return diode.trace_readings(model, outputs, sample_rate_hz)
    energy = trace_segment_energies(outputs, 1.0 / sample_rate_hz, model.readout.boundaries)
    return layer_features_from_energies(model, energy)


def scores(model: Model, phi: np.ndarray) -> np.ndarray:
    """The linear readout's class scores s_j = β_j + Σ_f A_jf φ_f (…, classes) of features φ
    (…, features, in ``model.readout.features`` order)."""
    _, bias, weights = model.readout.feature_matrix()
    return np.asarray(bias, dtype=float) + np.asarray(phi, dtype=float) @ np.asarray(weights, dtype=float).reshape(
        len(bias), -1).T


def predict(model: Model, feats: np.ndarray) -> np.ndarray:
    """Index of the winning class (in ``model.classes``) for (…, classes) decision values."""
    return np.argmax(feats, axis=-1)
