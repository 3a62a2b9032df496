"""The input spectrum the calibration signals carry, as weights for the sensitivity passes'
band RMS (``common.sensitivity``): with ``--calibrate-signals`` a part matters as much as the
outputs *those signals* excite move, not as a pink input's band RMS would."""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

#: Longest Welch segment (samples): the input's spectrum is smooth next to the resonances
#: the grid resolves, so a few Hz of resolution is plenty; longer clips average more segments.
WELCH_SEGMENT = 4096


def mean_input_psd(signals: list, n_inputs: int, start_s: float, stop_s: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(model Hz, inputs × frequencies): each input's power spectral density (units²/Hz, Welch,
    Hann) over [start_s, stop_s] of every signal (the readout window; the whole signal where it
    is shorter), averaged over the signals. Preconditions: at least one signal, all at one rate,
    each ``n_inputs`` × samples."""
    rate = float(signals[0].rate_hz)
    psds, freqs = [], None
    for sig in signals:
        lo, hi = int(np.floor(start_s * rate)), int(np.ceil(stop_s * rate)) + 1
        data = np.asarray(sig.data, dtype=float)[:n_inputs, lo:hi]
        if data.shape[1] < 8:
            data = np.asarray(sig.data, dtype=float)[:n_inputs]
        freqs, psd = welch(data, fs=rate, nperseg=min(data.shape[1], WELCH_SEGMENT), axis=-1)
        psds.append(psd)
    return freqs, np.mean(psds, axis=0)


def signal_weights(freqs_hz: np.ndarray, log_weights: np.ndarray, psd_freqs: np.ndarray, psd: np.ndarray,
                   time_scale: float) -> np.ndarray:
    """Inputs × frequencies weights for ``circuit.sensitivity.band_power``: the grid's trapezoid
    weights in ln f (``log_weights``, circuit Hz ``freqs_hz``) times f·S_k(f), so Σ w·|H|² is the
    output power the signals' mean spectrum S_k (model Hz: circuit Hz × ``time_scale``) drives
    (∫ S df = ∫ S f d ln f); zero above the signals' Nyquist frequency."""
    model_hz = np.asarray(freqs_hz) * time_scale
    density = np.stack([np.interp(model_hz, psd_freqs, row, right=0.0) for row in np.atleast_2d(psd)])
    return log_weights[None, :] * model_hz[None, :] * density
