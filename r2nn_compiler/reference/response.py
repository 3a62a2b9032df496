"""Frequency response H(j2πf) of every output velocity to every input force weight."""

from __future__ import annotations

import numpy as np

from ..model.ir import Model
from .statespace import mechanical_matrices


def frequency_response(model: Model, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (outputs × inputs × freqs) array in (m/s) per unit of input.

    Solves the mechanical impedance form ``(jω M + Cd + K/(jω)) v = Bf u`` (N×N per frequency,
    an eighth of the work of the 2N-state form), frequencies in batches.
    """
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    M, Cd, K, Bf = mechanical_matrices(model)
    index = {r.name: i for i, r in enumerate(model.resonators)}
    rows = [index[o.node] for o in model.outputs]
    n = M.shape[0]
    out = np.empty((len(rows), Bf.shape[1], freqs.size), dtype=complex)
    batch = max(1, int(2e6 // max(n * n, 1)))
    for start in range(0, freqs.size, batch):
        w = 2j * np.pi * freqs[start : start + batch]
        Z = w[:, None, None] * M + Cd + K / w[:, None, None]
        v = np.linalg.solve(Z, np.broadcast_to(Bf.astype(complex), (w.size, n, Bf.shape[1])))
        out[:, :, start : start + batch] = np.moveaxis(v[:, rows, :], 0, -1)
    return out


def default_grid(model: Model, points: int = 400) -> np.ndarray:
    """Log-spaced grid over the model's band (or a decade around its resonances), in Hz."""
    if model.band is not None:
        lo, hi = model.band
    else:
        f0 = [r.f0_hz for r in model.resonators]
        lo, hi = min(f0) / 3, max(f0) * 3
    return np.geomspace(lo, hi, points)
