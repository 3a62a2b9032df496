"""Figures of merit comparing a circuit's traces and responses with the reference model."""

from __future__ import annotations

import numpy as np


def nrmse(circuit: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMS of the difference over RMS of the reference, along the last axis.

    Where the reference is identically zero the plain RMS of the difference is returned, so a
    silent output that the circuit also keeps silent scores 0.
    """
    err = np.sqrt(np.mean((circuit - reference) ** 2, axis=-1))
    scale = np.sqrt(np.mean(reference**2, axis=-1))
    return np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), err)


def peak(freqs_hz: np.ndarray, h: np.ndarray) -> tuple[float, float]:
    """(frequency, |H|) of the largest magnitude on the grid, refined by a parabola in log f."""
    mag = np.abs(h)
    i = int(np.argmax(mag))
    if 0 < i < mag.size - 1 and np.all(mag[i - 1 : i + 2] > 0) and np.all(np.isfinite(mag[i - 1 : i + 2])):
        x = np.log(freqs_hz[i - 1 : i + 2])
        y = np.log(mag[i - 1 : i + 2])
        a, b, c = np.polyfit(x - x[1], y, 2)
        if a < 0:
            dx = -b / (2 * a)
            return float(np.exp(x[1] + dx)), float(np.exp(c - b * b / (4 * a)))
    return float(freqs_hz[i]), float(mag[i])


def response_errors(freqs_hz: np.ndarray, h_circuit: np.ndarray, h_reference: np.ndarray) -> dict[str, float]:
    """Peak frequency and peak magnitude relative errors, and the worst |ΔH| relative to the
    reference peak, for one transfer function on one grid."""
    f_c, m_c = peak(freqs_hz, h_circuit)
    f_r, m_r = peak(freqs_hz, h_reference)
    scale = np.max(np.abs(h_reference)) or 1.0
    return {
        "peak_hz_reference": f_r,
        "peak_hz_circuit": f_c,
        "peak_freq_error": abs(f_c - f_r) / f_r,
        "peak_mag_error": abs(m_c - m_r) / m_r if m_r > 0 else abs(m_c),
        "max_rel_error": float(np.max(np.abs(h_circuit - h_reference)) / scale),
    }
