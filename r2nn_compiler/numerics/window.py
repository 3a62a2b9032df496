"""Where a readout window and its segment boundaries fall on a sampled signal (sample k at k·dt,
seconds): the sample intervals they cover and each boundary's offset within its interval."""

from __future__ import annotations

import math

import numpy as np

#: Window edges within this fraction of a sample period of a sample count as on it.
EDGE_TOLERANCE = 1e-6


def window_intervals(n_samples: int, dt: float, t0: float, t1: float) -> tuple[int, int]:
    """Indices [k0, k1) of the sample intervals [k·dt, (k+1)·dt] that overlap [t0, t1].

    Raises ValueError when the window does not lie within the samples or is empty."""
    if not (0 <= t0 < t1):
        raise ValueError(f"window {t0!r}..{t1!r} s: expected 0 <= t0 < t1")
    k0 = int(math.floor(t0 / dt + EDGE_TOLERANCE))
    k1 = int(math.ceil(t1 / dt - EDGE_TOLERANCE))
    if k1 > n_samples - 1:
        raise ValueError(f"window ends at {t1:g} s after the last sample ({(n_samples - 1) * dt:g} s)")
    return k0, max(k1, k0 + 1)


def segment_bounds(boundaries: tuple[float, ...] | list[float] | np.ndarray) -> np.ndarray:
    """``boundaries`` as a float array, checked: at least two, finite, 0 ≤ s_0 < s_1 < … (seconds).

    Raises ValueError otherwise."""
    b = np.asarray(boundaries, dtype=float).reshape(-1)
    if b.size < 2 or not np.all(np.isfinite(b)) or b[0] < 0 or np.any(np.diff(b) <= 0):
        raise ValueError(f"segment boundaries {list(b)!r}: expected at least two, 0 <= s_0 < s_1 < ...")
    return b


def boundary_positions(b: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(m, a): for every boundary, the sample interval m holding it and its offset a ∈ [0, dt)
    within it (seconds); a boundary within :data:`EDGE_TOLERANCE` of a sample lies on it (a = 0)."""
    m = np.floor(b / dt + EDGE_TOLERANCE).astype(np.int64)
    a = b - m * dt
    a[np.abs(a) < EDGE_TOLERANCE * dt] = 0.0
    return m, np.maximum(a, 0.0)
