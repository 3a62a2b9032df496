"""Frequency response H(j2πf) of every output velocity to every input force weight."""

from __future__ import annotations

import numpy as np

from ..model.ir import Model
from ..numerics.shifted import solve_shifted
from .statespace import descriptor_matrices, mechanical_matrices

#: Up to this many resonators H(jω) is solved dense (N × N per frequency); above, iteratively on
#: the sparse 2N-state descriptor form (:func:`..numerics.shifted.solve_shifted`), O(couplings) per frequency.
DENSE_RESONATORS = 50


def frequency_response(model: Model, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (outputs × inputs × freqs) array in (m/s) per unit of input: dense up to
    :data:`DENSE_RESONATORS` resonators (:func:`dense_frequency_response`), else the same
    system sparse (agreeing to 1e-11, tested)."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if len(model.resonators) <= DENSE_RESONATORS:
        return dense_frequency_response(model, freqs)
    E, A, B, C = descriptor_matrices(model)
    return solve_shifted(E, A, B, 2j * np.pi * freqs, C)


def dense_frequency_response(model: Model, freqs_hz: np.ndarray) -> np.ndarray:
    """:func:`frequency_response` by the mechanical impedance form
    ``(jω M + Cd + K/(jω)) v = Bf u`` (N×N per frequency, an eighth of the work of the 2N-state
    form), frequencies in batches."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    M, Cd, K, Bf = mechanical_matrices(model)
    index = {r.name: i for i, r in enumerate(model.resonators)}
    rows = [index[node] for node in model.read_nodes]
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
