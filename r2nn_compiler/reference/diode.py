"""The readings ψ of a linear readout under ``law diode`` (:class:`~r2nn_compiler.model.ir.DiodeLaw`).

Feature f (read node i, segment [t0, t1], gain g_f) reads

    ψ_f = nvt · ln(1 + k ∫_{t0}^{t1} e^{−k (t1 − t)} (e^{x(t)} − 1) dt) · e^{−(T − t1)/hold},
    x(t) = clip(g_f y_i(t), ±clip)/nvt,   T the window's stop (no droop factor without ``hold``).

Both entry points evaluate y_i and dy_i/dt at the nodes of a grid that cuts every sample interval
into M equal sub-steps (and holds every segment boundary as a node), then integrate with
:func:`r2nn_compiler.numerics.diode_law.substep_integral` (a cubic Hermite piece per sub-step,
Simpson's rule, split exactly at ±clip crossings). M is the power of two that makes the
sub-step at most a tenth of the width σ = 1/(ω √X) of e^{x}'s peaks (X = clip/nvt), so
Simpson's relative error ≈ (h/σ)⁴/1000 ≤ 1e-7:

- :func:`system_readings`, exact: y and dy/dt from the exact first-order-hold state of each
  interval, z_m = [x_m; u_m; u_{m+1} − u_m], through e^{Mτ} of the augmented matrix at every
  node offset τ (ω: the largest |Im λ| of the system);
- :func:`trace_readings`, an estimate from sampled traces (what verify has of ngspice's run):
  a not-a-knot cubic spline through the samples gives y and dy/dt (ω: the Nyquist rate π·fs).
  Its error is the spline's, amplified X times in the exponent: small for traces sampled well
  above the taps' band (docs/diode-law.md measures it).

Units: model seconds and model units in, volts out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.interpolate
import scipy.linalg

from ..model.ir import Model
from ..numerics import diode_law, memo
from ..numerics.foh import simulate_foh
from ..numerics.statespace import StateSpace
from ..numerics.window import EDGE_TOLERANCE, segment_bounds, window_intervals

#: Bytes of fine-grid values (signals × outputs × nodes, float64, values and slopes) at once.
GRID_MEMORY_BYTES = 96e6


def _taps(model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, segment, gain) of every feature (node: its index in ``model.read_nodes``)."""
    position = {name: i for i, name in enumerate(model.read_nodes)}
    feats = model.readout.features
    return (np.array([position[f.node] for f in feats], dtype=np.int64),
            np.array([f.segment for f in feats], dtype=np.int64), np.array([f.gain for f in feats], dtype=float))


def _grid(dt: float, k0: int, k1: int, m_sub: int, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """The nodes: M per sample interval k0 ≤ m < k1 and the end, plus every boundary that is
    not already a node. Returns (times (n,), node index of each boundary, inserted boundaries as
    (position in the final grid, interval m, offset a))."""
    regular = (k0 + np.arange((k1 - k0) * m_sub + 1) / m_sub) * dt
    tol = EDGE_TOLERANCE * dt / m_sub
    index, inserted = [], []
    for b in bounds:
        p = int(np.searchsorted(regular, b - tol))
        if p < regular.size and abs(regular[p] - b) <= tol:
            index.append(p + len(inserted))
        else:
            m = min(int(math.floor(b / dt)), k1 - 1)
            inserted.append((p + len(inserted), m, float(b - m * dt)))
            index.append(inserted[-1][0])
    times = np.insert(regular, [p - i for i, (p, _, _) in enumerate(inserted)], [m * dt + a for _, m, a in inserted])
    return times, np.array(index, dtype=np.int64), inserted


@dataclass(frozen=True, eq=False)  # holds arrays
class TapGrid:
    """The read nodes' values ``y`` and slopes ``dy`` (signals × read nodes × n; model units and
    model units per model second) at nodes ``t`` (n; model s, increasing) that hold the segment
    boundaries at ``bound_index`` (K + 1): what :func:`readings_on_grid` integrates."""

    t: np.ndarray
    y: np.ndarray
    dy: np.ndarray
    bound_index: np.ndarray

    def window(self) -> np.ndarray:
        """The values from the window's start to its stop (signals × read nodes × nodes)."""
        return self.y[..., self.bound_index[0] : self.bound_index[-1] + 1]


def readings_on_grid(model: Model, grid: TapGrid) -> np.ndarray:
    """ψ (signals × features, V) of ``model``'s layer (its law and gains) on ``grid``."""
    law, ro = model.readout.law, model.readout
    t, y, dy, bound_index = grid.t, grid.y, grid.dy, grid.bound_index
    node, segment, gain = _taps(model)
    out = np.empty((y.shape[0], node.size))
    for f, (i, k, g) in enumerate(zip(node, segment, gain)):
        a, b = bound_index[k], bound_index[k + 1] + 1
        t_end = t[b - 1]
        integral = diode_law.substep_integral(t[a:b], g * y[:, i, a:b], g * dy[:, i, a:b], law.clip, law.nvt,
                                              law.rate, t_end)
        out[:, f] = diode_law.reading(integral, law.nvt, law.rate)
        if law.hold is not None:
            out[:, f] *= math.exp(-(ro.stop - ro.boundaries[k + 1]) / law.hold)
    return out


def _augmented(system: StateSpace, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """(M, ĉ): the FOH interval's augmented matrix (d × d, d = states + 2·inputs; state
    [x; u_m; u_{m+1} − u_m]) and the output row map [C, D, 0]."""
    n, m = system.n_states, system.n_inputs
    aug = np.zeros((n + 2 * m, n + 2 * m))
    aug[:n, :n], aug[:n, n : n + m] = system.A, system.B
    aug[n : n + m, n + m :] = np.eye(m) / dt
    c_hat = np.zeros((system.n_outputs, n + 2 * m))
    c_hat[:, :n], c_hat[:, n : n + m] = system.C, system.D
    return aug, c_hat


def _row_maps(system: StateSpace, dt: float, m_sub: int, extra: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(ĉ e^{Mτ}, ĉ M e^{Mτ}) (offsets × outputs × d each) for τ = j·dt/M, j = 0..M (powers of one
    exponential), then each offset in ``extra``; cached per system (verify asks for every clip)."""
    def compute() -> tuple[np.ndarray, np.ndarray]:
        aug, c_hat = _augmented(system, dt)
        step = scipy.linalg.expm(aug * (dt / m_sub))
        exps = [np.eye(aug.shape[0])]
        for _ in range(m_sub):
            exps.append(exps[-1] @ step)
        exps += [scipy.linalg.expm(aug * tau) for tau in extra]
        rows = np.stack([c_hat @ e for e in exps])
        return rows, np.stack([c_hat @ aug @ e for e in exps])

    return memo.cached("diode_rows", memo.system_key(system, float(dt), m_sub, extra), compute)


def system_readings(model: Model, system: StateSpace, u: np.ndarray, sample_rate_hz: float,
                    time_scale: float = 1.0, out_gain: np.ndarray | float = 1.0) -> np.ndarray:
    """ψ (signals × features, V) of a system whose outputs are ``model.read_nodes`` (``time_scale``
    system seconds per model second, ``out_gain`` system units per model unit) driven by ``u``
    (signals × inputs × samples, linear between samples), exactly up to the quadrature (module
    docstring). The caller checks that ``u`` reaches the window's end."""
    grids = system_grids(model, system, u, sample_rate_hz, time_scale, out_gain)
    return np.concatenate([readings_on_grid(model, grid) for grid in grids])


def system_grids(model: Model, system: StateSpace, u: np.ndarray, sample_rate_hz: float,
                 time_scale: float = 1.0, out_gain: np.ndarray | float = 1.0,
                 fraction: float = diode_law.SUBSTEP_FRACTION) -> Iterator[TapGrid]:
    """The exact :class:`TapGrid` of :func:`system_readings` (same arguments), a chunk of signals
    at a time (memory: :data:`GRID_MEMORY_BYTES`); the grid depends on the law's clip/nvt only.
    ``fraction``: the sub-step over σ (:func:`diode_law.substeps_per_interval`; larger is coarser
    and faster: 0.4 gives ≈ 3e-5 relative)."""
    u = np.asarray(u, dtype=float)
    law, dt = model.readout.law, time_scale / sample_rate_hz
    bounds = segment_bounds(model.readout.boundaries) * time_scale
    k0, k1 = window_intervals(u.shape[-1], dt, float(bounds[0]), float(bounds[-1]))
    eig = np.linalg.eigvals(system.A) if system.n_states else np.zeros(1)
    m_sub = diode_law.substeps_per_interval(dt, float(np.max(np.abs(eig.imag))) or float(np.max(np.abs(eig))),
                                            law.clip / law.nvt, fraction=fraction)
    t, bound_index, inserted = _grid(dt, k0, k1, m_sub, bounds)
    rows, slopes = _row_maps(system, dt, m_sub, tuple(a for _, _, a in inserted))
    gain = np.broadcast_to(np.asarray(out_gain, dtype=float), (system.n_outputs,))[None, :, None]
    per_signal = 16 * system.n_outputs * t.size
    chunk = max(1, int(GRID_MEMORY_BYTES // per_signal))
    for s in range(0, u.shape[0], chunk):
        z = _interval_states(system, u[s : s + chunk, :, : k1 + 1], k0, k1, dt)
        y, dy = (_nodes(r, z, m_sub, k0, inserted) for r in (rows, slopes))
        yield TapGrid(t / time_scale, y / gain, dy * time_scale / gain, bound_index)


def _interval_states(system: StateSpace, u: np.ndarray, k0: int, k1: int, dt: float) -> np.ndarray:
    """z_m = [x_m; u_m; u_{m+1} − u_m] for k0 ≤ m < k1 (signals × d × (k1 − k0))."""
    n = system.n_states
    states = StateSpace(system.A, system.B, np.eye(n), np.zeros((n, system.n_inputs)))
    x = simulate_foh(states, u, dt) if n else np.zeros((u.shape[0], 0, u.shape[2]))
    return np.concatenate([x[:, :, k0:k1], u[:, :, k0:k1], np.diff(u[:, :, k0 : k1 + 1], axis=2)], axis=1)


def _nodes(rows: np.ndarray, z: np.ndarray, m_sub: int, k0: int, inserted: list) -> np.ndarray:
    """Values at every node (signals × outputs × n) from the row maps (regular offsets 0..M, then
    one per inserted boundary) and the states ``z`` of the intervals k0, k0 + 1, …"""
    n_sig, n_out = z.shape[0], rows.shape[1]
    flat = np.matmul(rows[:m_sub].reshape(-1, rows.shape[2]), z)  # signals × (M·outputs) × intervals
    regular = flat.reshape(n_sig, m_sub, n_out, -1).transpose(0, 2, 3, 1).reshape(n_sig, n_out, -1)
    last = np.einsum("od,sd->so", rows[m_sub], z[:, :, -1])[:, :, None]
    values = np.concatenate([regular, last], axis=2)
    for i, (p, m, _) in enumerate(inserted):
        values = np.insert(values, p, np.einsum("od,sd->so", rows[m_sub + 1 + i], z[:, :, m - k0]), axis=2)
    return values


def trace_readings(model: Model, outputs: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """ψ (…, features, V) estimated from the read nodes' samples (…, read nodes, samples; model
    units, sample k at k/fs): a not-a-knot cubic spline through the samples gives the values and
    slopes at the grid's nodes (module docstring). The caller checks that the samples reach the
    window's end."""
    outputs = np.asarray(outputs, dtype=float)
    lead = outputs.shape[:-2]
    flat = outputs.reshape(-1, *outputs.shape[-2:])
    law, dt = model.readout.law, 1.0 / sample_rate_hz
    bounds = segment_bounds(model.readout.boundaries)
    k0, k1 = window_intervals(flat.shape[-1], dt, float(bounds[0]), float(bounds[-1]))
    m_sub = diode_law.substeps_per_interval(dt, math.pi * sample_rate_hz, law.clip / law.nvt)
    t, bound_index, _ = _grid(dt, k0, k1, m_sub, bounds)
    spline = scipy.interpolate.CubicSpline(np.arange(flat.shape[-1]) * dt, flat, axis=-1)
    return readings_on_grid(model, TapGrid(t, spline(t), spline(t, 1), bound_index)).reshape(*lead, -1)
