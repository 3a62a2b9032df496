"""The energy ∫ y(t)² dt of a sampled trace over a window or its segments, estimated through a
cubic spline (for an ngspice waveform, where no system is at hand). Its error is the spline's
interpolation error (see ``docs/numerics.md``): it serves figures that compare like with like,
never the ground truth. Units: seconds; the integral is in y's unit squared times seconds.
"""

from __future__ import annotations

import numpy as np
import scipy.interpolate

from .window import EDGE_TOLERANCE, boundary_positions, segment_bounds, window_intervals

#: Gauss–Legendre nodes and weights on [0, 1]: exact for the square of a cubic.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(4)
_GL_NODES, _GL_WEIGHTS = (_GL_NODES + 1) / 2, _GL_WEIGHTS / 2


def trace_window_energy(y: np.ndarray, dt: float, t0: float, t1: float) -> np.ndarray:
    """∫_{t0}^{t1} y(t)² dt estimated from samples (…, samples) through a cubic spline (error: see
    ``docs/numerics.md``): (…). The one-segment case of :func:`trace_segment_energies`."""
    if not (0 <= t0 < t1):
        raise ValueError(f"window {t0!r}..{t1!r} s: expected 0 <= t0 < t1")
    return trace_segment_energies(y, dt, (t0, t1))[..., 0]


def trace_segment_energies(y: np.ndarray, dt: float,
                           boundaries: tuple[float, ...] | list[float] | np.ndarray) -> np.ndarray:
    """∫_{s_k}^{s_{k+1}} y(t)² dt for every segment of the window cut at ``boundaries`` (seconds,
    as :func:`.window_energy.segment_energies`), estimated from samples y (…, samples; sample k
    at k·dt) through one cubic spline over the window and three samples either side (error: see
    ``docs/numerics.md``): (…, K), in y's unit² · s.

    The spline's square is integrated exactly (4-point Gauss–Legendre) over every piece between
    consecutive samples and boundaries. Raises ValueError on bad boundaries or a window past the
    samples."""
    y = np.asarray(y, dtype=float)
    b = segment_bounds(boundaries)
    k0, k1 = window_intervals(y.shape[-1], dt, float(b[0]), float(b[-1]))
    lo_k = max(k0 - 3, 0)
    hi_k = min(k1 + 4, y.shape[-1])
    spline = scipy.interpolate.CubicSpline(np.arange(lo_k, hi_k) * dt, y[..., lo_k:hi_k], axis=-1)
    starts, lengths, first = _pieces(b, dt, k0, k1)
    nodes = starts[:, None] + lengths[:, None] * _GL_NODES[None, :]
    values = spline(nodes.ravel()).reshape(*y.shape[:-1], *nodes.shape)
    per_piece = np.einsum("...pg,g,p->...p", values ** 2, _GL_WEIGHTS, lengths)
    return np.add.reduceat(per_piece, first, axis=-1)


def _pieces(b: np.ndarray, dt: float, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window [b_0, b_K] cut at every sample and boundary: (starts, lengths, first), first[k]
    the index of segment k's first piece (every segment has at least one; a sample within
    :data:`EDGE_TOLERANCE` of a boundary is the boundary)."""
    m, a = boundary_positions(b, dt)
    edges = m * dt + a
    samples = np.arange(k0, k1 + 1) * dt
    near = np.abs(samples[:, None] - edges[None, :]).min(axis=1) < EDGE_TOLERANCE * dt
    cuts = np.union1d(edges, samples[~near & (samples > edges[0]) & (samples < edges[-1])])
    first = np.searchsorted(cuts, edges[:-1])
    return cuts[:-1], np.diff(cuts), first
