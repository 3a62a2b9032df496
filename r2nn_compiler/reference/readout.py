"""RMS readout: features w_j · RMS(v_j) over the window, and the predicted class (argmax).

Two readout kinds (:data:`r2nn_compiler.model.ir.READOUT_KINDS`): ``rms`` averages v² over the
window's samples, ``rms_continuous`` over the continuous-time waveform (what an analog detector
integrates). :func:`features_of` computes either exactly from the input; :func:`features` works
from sampled outputs, exactly for ``rms`` and as a spline estimate for ``rms_continuous`` (see
:mod:`r2nn_compiler.window_energy`), for traces that come without their system (ngspice's).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SignalError
from ..lti import StateSpace, simulate_foh
from ..model.ir import RMS_CONTINUOUS, Model
from ..window_energy import trace_window_energy, window_energy
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
    _require_window(model, n_samples, sample_rate_hz)
    mask = (t >= ro.start - slack) & (t <= ro.stop + slack)
    if not mask.any():
        raise SignalError(f"readout window {ro.start:g}..{ro.stop:g} s holds no sample at {sample_rate_hz:g} Hz")
    return mask


def _require_window(model: Model, n_samples: int, sample_rate_hz: float) -> None:
    """Raises SignalError when the signal ends before the window (for ``rms_continuous``, before
    the sample that closes the window's last interval)."""
    ro = model.readout
    duration = (n_samples - 1) / sample_rate_hz
    needed = samples_needed(model, sample_rate_hz)
    last = (needed - 1) / sample_rate_hz
    if ro.stop > duration + EDGE_TOLERANCE / sample_rate_hz or n_samples < needed:
        raise SignalError(
            f"readout window ends at {ro.stop:g} s but the signal lasts {duration:g} s "
            f"({n_samples} samples at {sample_rate_hz:g} Hz): expected a signal of at least {max(ro.stop, last):g} s"
        )


def samples_needed(model: Model, sample_rate_hz: float) -> int:
    """Samples up to the last one a feature depends on (the last inside the window, or for
    ``rms_continuous`` the first at or after its end): later samples cannot change a feature
    (the network is causal), so simulations may stop there."""
    position = model.readout.stop * sample_rate_hz
    if model.readout.kind == RMS_CONTINUOUS:
        return int(math.ceil(position - EDGE_TOLERANCE)) + 1
    return int(np.floor(position * (1 + 1e-12))) + 1


def features(model: Model, outputs: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """``w_j · RMS`` over the window of (…, outputs, samples) velocities → (…, outputs).

    For ``rms_continuous`` this is the spline estimate from the samples; :func:`features_of`
    is exact."""
    weights = np.array([o.weight for o in model.outputs])
    ro = model.readout
    if ro.kind == RMS_CONTINUOUS:
        _require_window(model, outputs.shape[-1], sample_rate_hz)
        energy = trace_window_energy(outputs, 1.0 / sample_rate_hz, ro.start, ro.stop)
        return weights * np.sqrt(energy / (ro.stop - ro.start))
    mask = window_mask(model, outputs.shape[-1], sample_rate_hz)
    return weights * np.sqrt(np.mean(outputs[..., mask] ** 2, axis=-1))


def features_of(model: Model, u: np.ndarray, sample_rate_hz: float, outputs: np.ndarray | None = None) -> np.ndarray:
    """The model's features (signals × outputs) of inputs ``u`` (signals × inputs × samples),
    exact for either readout kind; ``outputs``: their simulated outputs if already at hand."""
    if model.readout.kind == RMS_CONTINUOUS:
        return system_features(model, state_space(model), u, sample_rate_hz)
    return features(model, simulate(model, u, sample_rate_hz) if outputs is None else outputs, sample_rate_hz)


def system_features(model: Model, system: StateSpace, u: np.ndarray, sample_rate_hz: float,
                    time_scale: float = 1.0, out_gain: np.ndarray | float = 1.0) -> np.ndarray:
    """``model``'s readout applied to the outputs of ``system`` driven by ``u`` (signals × inputs
    × samples, in the system's input units), exactly: a circuit's MNA (``time_scale`` circuit
    seconds per model second, outputs ``out_gain`` system units per model unit) or the model
    itself (signals × outputs)."""
    u = np.asarray(u, dtype=float)
    dt = time_scale / sample_rate_hz
    weights = np.array([o.weight for o in model.outputs])
    ro = model.readout
    if ro.kind != RMS_CONTINUOUS:
        y = simulate_foh(system, u, dt) / np.asarray(out_gain, dtype=float).reshape(-1, 1)
        return features(model, y, sample_rate_hz)
    _require_window(model, u.shape[-1], sample_rate_hz)
    energy = window_energy(system, u, dt, ro.start * time_scale, ro.stop * time_scale)
    energy /= np.asarray(out_gain, dtype=float) ** 2
    return weights * np.sqrt(energy / ((ro.stop - ro.start) * time_scale))


def predict(model: Model, feats: np.ndarray) -> np.ndarray:
    """Index of the winning class for (…, outputs) features."""
    return np.argmax(feats, axis=-1)
