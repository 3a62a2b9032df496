"""RMS readout: features w_j · RMS(v_j) over the window, and the predicted class (argmax)."""

from __future__ import annotations

import numpy as np

from ..errors import SignalError
from ..model.ir import Model

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
    duration = (n_samples - 1) / sample_rate_hz
    if ro.stop > duration + slack:
        raise SignalError(
            f"readout window ends at {ro.stop:g} s but the signal lasts {duration:g} s "
            f"({n_samples} samples at {sample_rate_hz:g} Hz): expected a signal of at least {ro.stop:g} s"
        )
    mask = (t >= ro.start - slack) & (t <= ro.stop + slack)
    if not mask.any():
        raise SignalError(f"readout window {ro.start:g}..{ro.stop:g} s holds no sample at {sample_rate_hz:g} Hz")
    return mask


def samples_needed(model: Model, sample_rate_hz: float) -> int:
    """Samples up to the last one inside the readout window: later samples cannot change a
    feature (the network is causal), so simulations may stop there."""
    return int(np.floor(model.readout.stop * sample_rate_hz * (1 + 1e-12))) + 1


def features(model: Model, outputs: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """``w_j · RMS`` over the window of (…, outputs, samples) velocities → (…, outputs)."""
    mask = window_mask(model, outputs.shape[-1], sample_rate_hz)
    weights = np.array([o.weight for o in model.outputs])
    return weights * np.sqrt(np.mean(outputs[..., mask] ** 2, axis=-1))


def predict(model: Model, feats: np.ndarray) -> np.ndarray:
    """Index of the winning class for (…, outputs) features."""
    return np.argmax(feats, axis=-1)
