"""Exact sampled simulation of a :class:`StateSpace` for an input linear between samples
(first-order hold, FOH): the discretisation, the modal impulse responses and the simulator.

Both the reference model and the circuit-level MNA lower to a :class:`StateSpace` and share this
simulator (see ``docs/numerics.md``). Units: time in seconds; the system's own units otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.linalg

from . import memo
from .statespace import StateSpace

#: Above this eigenvector condition number the modal simulator is not trusted to 1e-9 and the
#: (slower, always exact) state recursion is used instead.
MODAL_CONDITION_LIMIT = 1e6


@dataclass(frozen=True)
class FohDiscretisation:
    """Exact discretisation for an input linear between samples (first-order hold).

    ``x[k+1] = Phi x[k] + Gamma1 u[k] + Gamma2 (u[k+1] - u[k])`` (the form scipy's ``lsim``
    uses with ``interp=True``).
    """

    Phi: np.ndarray
    Gamma1: np.ndarray
    Gamma2: np.ndarray

    @classmethod
    def of(cls, A: np.ndarray, B: np.ndarray, dt: float) -> "FohDiscretisation":
        n, m = B.shape
        block = np.zeros((n + 2 * m, n + 2 * m))
        block[:n, :n] = A * dt
        block[:n, n : n + m] = B * dt
        block[n : n + m, n + m :] = np.eye(m)
        expd = scipy.linalg.expm(block)
        return cls(expd[:n, :n], expd[:n, n : n + m], expd[:n, n + m :])


def simulate_foh(system: StateSpace, u: np.ndarray, dt: float, method: str = "convolution") -> np.ndarray:
    """Simulate from zero state with the input linear between samples.

    Parameters
    ----------
    u : array (signals × inputs × samples) or (inputs × samples); sample k is at t = k·dt.
    dt : sample period in seconds.
    method : ``"convolution"`` (default: the exact discrete impulse response, FFT-convolved with
        every signal; cost independent of the number of states once the response is known) or
        ``"recursion"`` (the state recursion step by step; slower, kept as an independent check).

    Returns
    -------
    y : array (signals × outputs × samples) (or outputs × samples for 2-D ``u``), float64, with
        ``y[..., 0] = D u[..., 0]`` (zero initial state).

    Raises ValueError when the shapes do not fit the system.
    """
    u = np.asarray(u, dtype=float)
    squeeze = u.ndim == 2
    if squeeze:
        u = u[None]
    if u.ndim != 3 or u.shape[1] != system.n_inputs:
        raise ValueError(f"u must be (signals, {system.n_inputs}, samples); got {u.shape}")
    if not dt > 0:
        raise ValueError("dt must be positive")
    if method == "convolution":
        y = _simulate_convolution(system, u, dt)
    elif method == "recursion":
        y = _simulate_recursion(system, u, dt)
    else:
        raise ValueError(f"unknown method {method!r}")
    y += np.einsum("pk,skt->spt", system.D, u)
    return y[0] if squeeze else y


def modal_ok(A: np.ndarray) -> bool:
    """True when A diagonalises with eigenvectors conditioned well enough for 1e-9 accuracy."""
    if A.shape[0] == 0:
        return False
    _, v = np.linalg.eig(A)
    return bool(np.linalg.cond(v) < MODAL_CONDITION_LIMIT)


def _simulate_recursion(system: StateSpace, u: np.ndarray, dt: float) -> np.ndarray:
    disc = FohDiscretisation.of(system.A, system.B, dt)
    n_sig, _, n_t = u.shape
    x = np.zeros((n_sig, system.n_states))
    states = np.empty((n_t, n_sig, system.n_states))
    states[0] = 0.0
    ut = np.moveaxis(u, 2, 0)  # samples × signals × inputs
    g1 = (disc.Gamma1 - disc.Gamma2).T
    g2 = disc.Gamma2.T
    phi = disc.Phi.T
    for k in range(n_t - 1):
        x = x @ phi + ut[k] @ g1 + ut[k + 1] @ g2
        states[k + 1] = x
    return np.einsum("pn,tsn->spt", system.C, states)


def impulse_responses(system: StateSpace, dt: float, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """The FOH-discretised system as a convolution: ``(h, g)``, each (outputs × inputs × n_t),
    read-only, computed once per system, ``dt`` and ``n_t`` (``memo``: verification asks for the
    same ones for every clip). Method: :func:`_impulse_responses`."""
    return memo.cached("impulse_responses", memo.system_key(system, float(dt), int(n_t)),
                       lambda: _impulse_responses(system, dt, n_t))


def _impulse_responses(system: StateSpace, dt: float, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """The FOH-discretised system as a convolution: ``(h, g)``, each (outputs × inputs × n_t).

    For zero state at t = 0 the sampled output is ``y = h ∗ u − u[0] · g`` (plus ``D u``): ``h``
    is the impulse response of the causal filter ``x[k+1] = Φ x[k] + Γ1 u[k] + Γ2 (u[k+1]−u[k])``
    started from rest before sample 0 (so ``x[0] = Γ2 u[0]``); ``g[n] = C Φⁿ Γ2`` removes that
    initial kick. Computed in closed form over the eigenvalues (complex pairs taken once and
    doubled) when A diagonalises well, else by the state recursion.
    """
    n_out, n_in = system.n_outputs, system.n_inputs
    h = np.zeros((n_out, n_in, n_t))
    g = np.zeros((n_out, n_in, n_t))
    if system.n_states == 0 or n_t == 0:
        return h, g
    if not modal_ok(system.A):
        disc = FohDiscretisation.of(system.A, system.B, dt)
        x_h = disc.Gamma2.copy()
        x_g = disc.Gamma2.copy()
        kick = disc.Gamma1 - disc.Gamma2
        for k in range(n_t):
            h[:, :, k] = system.C @ x_h
            g[:, :, k] = system.C @ x_g
            x_h = disc.Phi @ x_h + (kick if k == 0 else 0.0)
            x_g = disc.Phi @ x_g
        return h, g
    lam, V = np.linalg.eig(system.A)
    keep = lam.imag >= 0
    weight = np.where(lam.imag > 0, 2.0, 1.0)[keep]
    lam = lam[keep]
    Bm = np.linalg.solve(V, system.B.astype(complex))[keep]  # modes × inputs
    Cm = (system.C @ V)[:, keep]  # outputs × modes
    z = lam * dt
    a = np.exp(z)
    small = np.abs(z) < 1e-8
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = np.where(small, dt * (1 + z / 2), (a - 1) / np.where(small, 1, lam))
        g2 = np.where(small, dt * (0.5 + z / 6), (a - 1 - z) / np.where(small, 1, lam * z))
    residues = weight[None, :, None] * Cm[:, :, None] * Bm[None, :, :]  # outputs × modes × inputs
    n = np.arange(n_t)
    # Chunk the modes so the (modes × samples) table of powers stays near 64 MB.
    chunk = max(1, int(4e6 // n_t))
    for start in range(0, lam.size, chunk):
        sl = slice(start, start + chunk)
        powers = np.exp(np.outer(z[sl], n))  # aⁿ, exact to rounding at any n
        g += np.real(np.einsum("pmk,mt->pkt", residues[:, sl] * g2[sl][None, :, None], powers))
        shifted = np.real(np.einsum("pmk,mt->pkt", residues[:, sl] * (g1 - g2)[sl][None, :, None], powers))
        h[:, :, 1:] += shifted[:, :, :-1]
    h += g
    return h, g


def _simulate_convolution(system: StateSpace, u: np.ndarray, dt: float) -> np.ndarray:
    n_sig, n_in, n_t = u.shape
    h, g = impulse_responses(system, dt, n_t)
    nfft = scipy.fft.next_fast_len(2 * n_t - 1, real=True)
    U = scipy.fft.rfft(u, nfft, axis=-1)  # signals × inputs × freqs
    H = scipy.fft.rfft(h, nfft, axis=-1)  # outputs × inputs × freqs
    y = scipy.fft.irfft(np.einsum("skf,pkf->spf", U, H), nfft, axis=-1)[..., :n_t]
    y -= np.einsum("sk,pkt->spt", u[:, :, 0], g)
    return y
