"""Frequency response H(j2πf) of every output velocity to every input force weight."""

from __future__ import annotations

import numpy as np

from ..model.ir import Model
from .statespace import state_space


def frequency_response(model: Model, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex (outputs × inputs × freqs) array in (m/s) per unit of input."""
    return state_space(model).frequency_response(freqs_hz)


def default_grid(model: Model, points: int = 400) -> np.ndarray:
    """Log-spaced grid over the model's band (or a decade around its resonances), in Hz."""
    if model.band is not None:
        lo, hi = model.band
    else:
        f0 = [r.f0_hz for r in model.resonators]
        lo, hi = min(f0) / 3, max(f0) * 3
    return np.geomspace(lo, hi, points)
