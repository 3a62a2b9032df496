"""Exact time simulation of a Model: zero initial state, input linear between samples (FOH).

Batched: one call simulates every signal of a (signals × inputs × samples) array in float64.
"""

from __future__ import annotations

import numpy as np

from ..model.ir import Model
from ..numerics.foh import simulate_foh
from .statespace import state_space


def simulate(model: Model, u: np.ndarray, sample_rate_hz: float, method: str = "convolution") -> np.ndarray:
    """Velocities (m/s) of the resonators the readout reads (``model.read_nodes``: the output
    resonators in model order, or for a linear readout the resonators its features read, once
    each in order of first use) at every sample.

    ``u``: (signals × inputs × samples), (inputs × samples) or, for a one-input model, a 1-D
    array of samples. Returns (signals × read nodes × samples), or (read nodes × samples) for a single
    signal. Sample k is at t = k / sample_rate_hz. Raises ValueError on a shape mismatch.
    """
    u = np.asarray(u, dtype=float)
    if u.ndim == 1:
        u = u[None, :]
    return simulate_foh(state_space(model), u, 1.0 / sample_rate_hz, method=method)
