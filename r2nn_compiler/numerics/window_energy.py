"""The energy ∫ y(t)² dt of a linear system's outputs over a time window or its segments, exact in
continuous time for an input linear between samples (first-order hold), from the zero state at
t = 0: one quadratic form of each interval's start state (Van Loan's gramians; the derivation is
in ``docs/numerics.md``).

Units: seconds; the integral is in the output's unit squared times seconds.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from . import memo
from .foh import simulate_foh
from .statespace import StateSpace
from .window import boundary_positions, segment_bounds, window_intervals

#: Bytes of states (signals × states × samples, float64) held at once.
STATE_MEMORY_BYTES = 64e6

#: Van Loan's block exponential is taken over a step in which the fastest mode decays by at
#: most e^this (its −Mᵀ corner grows as much, and the product loses that much precision);
#: longer lengths are reached by doubling (see :func:`gramians`).
VAN_LOAN_DECAY = 1.0


def gramians(system: StateSpace, dt: float, lengths: list[float]) -> np.ndarray:
    """W_j(a) for every output j and length a (lengths × outputs × d × d), d = states + 2·inputs;
    read-only, computed once per system, ``dt`` and lengths (``memo``: verification asks for the
    same ones for every clip). Method: :func:`_gramians`."""
    return memo.cached("gramians", memo.system_key(system, float(dt), tuple(map(float, lengths))),
                       lambda: _gramians(system, dt, lengths))


def _gramians(system: StateSpace, dt: float, lengths: list[float]) -> np.ndarray:
    """W_j(a) for every output j and length a (lengths × outputs × d × d), d = states + 2·inputs.

    Van Loan's block [[−Mᵀ, ĉᵀĉ], [0, M]] grows like e^{σa} in its −Mᵀ corner (σ: the fastest
    decay rate of A), which a stiff system (a circuit's op-amp poles, 1e7 1/s, over a 1e-4 s
    sample) overflows. So it is taken over a₀ = a/2^k with σ·a₀ ≤ :data:`VAN_LOAN_DECAY`, and
    doubled k times: W(2h) = W(h) + e^{Mᵀh} W(h) e^{Mh}, stable for a stable M."""
    n, m = system.n_states, system.n_inputs
    d = n + 2 * m
    M = np.zeros((d, d))
    M[:n, :n] = system.A
    M[:n, n : n + m] = system.B
    M[n : n + m, n + m :] = np.eye(m) / dt
    c_hat = np.zeros((system.n_outputs, d))
    c_hat[:, :n] = system.C
    c_hat[:, n : n + m] = system.D
    sigma = float(np.max(np.abs(np.linalg.eigvals(system.A).real))) if n else 0.0
    out = np.zeros((len(lengths), system.n_outputs, d, d))
    for i, a in enumerate(lengths):
        if a <= 0:
            continue
        if a in lengths[:i]:  # the window's edges on samples: whole intervals again
            out[i] = out[lengths.index(a)]
            continue
        growth = sigma * a
        doublings = int(math.ceil(math.log2(growth / VAN_LOAN_DECAY))) if growth > VAN_LOAN_DECAY else 0
        step = a / 2.0 ** doublings
        phi = None
        for j in range(system.n_outputs):
            block = np.zeros((2 * d, 2 * d))
            block[:d, :d] = -M.T
            block[:d, d:] = np.outer(c_hat[j], c_hat[j])
            block[d:, d:] = M
            e = scipy.linalg.expm(block * step)
            phi = e[d:, d:]
            out[i, j] = phi.T @ e[:d, d:]
        for _ in range(doublings):
            out[i] += phi.T @ out[i] @ phi  # every output at once (matmul broadcasts)
            phi = phi @ phi
        out[i] = (out[i] + np.swapaxes(out[i], 1, 2)) / 2
    return out


def window_setup(system: StateSpace, u, dt: float, boundaries):
    """What both segment-energy forms start from: ``u`` as floats (signals × inputs × samples),
    the boundaries (:func:`segment_bounds`), the window's first and last intervals
    (:func:`window_intervals`) and each boundary's interval and offset (:func:`boundary_positions`).
    Raises ValueError on a shape mismatch, bad boundaries or a window past the samples."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 3 or u.shape[1] != system.n_inputs:
        raise ValueError(f"u must be (signals, {system.n_inputs}, samples); got {u.shape}")
    b = segment_bounds(boundaries)
    k0, k1 = window_intervals(u.shape[2], dt, float(b[0]), float(b[-1]))
    m, a = boundary_positions(b, dt)
    return u, b, k0, k1, m, a


def segment_energies(system: StateSpace, u: np.ndarray, dt: float,
                     boundaries: tuple[float, ...] | list[float] | np.ndarray) -> np.ndarray:
    """∫_{s_k}^{s_{k+1}} y_j(t)² dt, exact, for every output j and segment k of the window cut at
    ``boundaries`` s_0 < … < s_K (seconds; K ≥ 1; anywhere, on samples or between them), for the
    response from zero state at t = 0 to ``u`` (signals × inputs × samples, sample k at k·dt,
    linear between samples): (signals × outputs × K), in output units² · s.

    One state simulation per chunk of signals (memory bounded by :data:`STATE_MEMORY_BYTES`)
    serves every segment: each whole sample interval's energy z_kᵀW(dt)z_k, summed per segment,
    plus, at every boundary inside an interval, the partial z_mᵀW(a)z_m moved from the segment
    before it to the one after (one gramian per distinct offset a).

    Raises ValueError on a shape mismatch, bad boundaries or a window past the samples (the
    signal must reach the first sample at or after s_K)."""
    u, b, k0, k1, m, a = window_setup(system, u, dt, boundaries)
    offsets = sorted({float(x) for x in a if x > 0})
    w = gramians(system, dt, [dt] + offsets)
    partial = {x: w[i + 1] for i, x in enumerate(offsets)}
    n, n_in = system.n_states, system.n_inputs
    energy = np.zeros((u.shape[0], system.n_outputs, b.size - 1))
    chunk = max(1, int(STATE_MEMORY_BYTES // (8 * (n + 2 * n_in) * (k1 + 1))))
    for s in range(0, u.shape[0], chunk):
        z = _interval_states(system, u[s : s + chunk, :, : k1 + 1], dt, k0, k1)
        energy[s : s + chunk] = segment_sums(z, w[0], partial, m - k0, a)
    return energy


def _interval_states(system: StateSpace, u: np.ndarray, dt: float, k0: int, k1: int) -> np.ndarray:
    """z_k = [x_k; u_k; u_{k+1} − u_k] for the intervals k0 ≤ k < k1 (signals × d × (k1 − k0)),
    x from one zero-state simulation of ``u`` (signals × inputs × ≥ k1 + 1 samples)."""
    n, n_in = system.n_states, system.n_inputs
    states = StateSpace(system.A, system.B, np.eye(n), np.zeros((n, n_in)))
    x = simulate_foh(states, u, dt) if n else np.zeros((u.shape[0], 0, u.shape[2]))
    return np.concatenate([x[:, :, k0:k1], u[:, :, k0:k1], np.diff(u[:, :, k0 : k1 + 1], axis=2)], axis=1)


def segment_sums(z: np.ndarray, w_full: np.ndarray, partial: dict[float, np.ndarray],
                  m: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Per-segment energies (signals × outputs × K) from the interval states z (signals × d ×
    L), the whole-interval gramians W_j (outputs × d × d), the partial ones by offset, and the
    boundaries' intervals m (relative to z's first) and offsets a.

    Σ_k z_kᵀ W_j z_k over a segment's whole intervals is ⟨W_j, P⟩ with P = Σ_k z_k z_kᵀ: one
    d × d Gram matrix per signal and segment serves every output; a boundary inside an interval
    moves z_mᵀ W_j(a) z_m from the segment after it to the one before."""
    n_out = w_full.shape[0]
    heads = np.zeros((z.shape[0], n_out, m.size))  # ∫ from each boundary's interval start to it
    for i, (mi, ai) in enumerate(zip(m, a)):
        if ai > 0:
            heads[:, :, i] = np.einsum("sd,jde,se->sj", z[:, :, mi], partial[float(ai)], z[:, :, mi])
    flat_w = w_full.reshape(n_out, -1)
    out = np.empty((z.shape[0], n_out, m.size - 1))
    for k in range(m.size - 1):
        zk = z[:, :, m[k] : m[k + 1]]
        gram = np.matmul(zk, np.swapaxes(zk, 1, 2))  # signals × d × d
        out[:, :, k] = gram.reshape(z.shape[0], -1) @ flat_w.T - heads[:, :, k] + heads[:, :, k + 1]
    return out


def window_energy(system: StateSpace, u: np.ndarray, dt: float, t0: float, t1: float) -> np.ndarray:
    """∫_{t0}^{t1} y_j(t)² dt, exact, for the response from zero state at t = 0 to ``u``
    (signals × inputs × samples, sample k at k·dt, linear between samples): (signals × outputs).
    The one-segment case of :func:`segment_energies`.

    Raises ValueError on a shape mismatch or a window outside the samples."""
    if not (0 <= t0 < t1):
        raise ValueError(f"window {t0!r}..{t1!r} s: expected 0 <= t0 < t1")
    return segment_energies(system, u, dt, (t0, t1))[:, :, 0]
