"""One restarted-GMRES cycle run on many frequencies in step (one Krylov basis per frequency,
every operation batched over them)."""

from __future__ import annotations

import numpy as np

from .block_jacobi import BlockJacobi
from .condensed import Condensed
from .explicit import ExplicitBatch


def gmres_cycle(system: Condensed | ExplicitBatch, b: np.ndarray, x0: np.ndarray, s: np.ndarray, sub: BlockJacobi,
                weights: np.ndarray, basis: int, backward_error: float) -> np.ndarray:
    """One GMRES(``basis``) cycle on W·S(s_f)·x = W·b from x0 (kept unknowns × frequencies),
    every frequency on its own but all in step, right-preconditioned by P⁻¹·W⁻¹ (``sub``: P
    for exactly these frequencies; ``weights``: the diagonal of W per frequency, rows ×
    frequencies), so the operator W·S·P⁻¹·W⁻¹ is similar to S·P⁻¹ whatever the weights, until
    every weighted residual is below a tenth of ``backward_error`` (relative to the weighted
    sizes): the correction to add to x0."""
    n, F = x0.shape
    m = basis

    def op(v: np.ndarray) -> np.ndarray:
        return weights * system.apply(sub.apply(v / weights), s)

    r = weights * (b[:, None] - system.apply(x0, s))
    target = 0.1 * backward_error * np.max(np.abs(weights * b[:, None]) + np.abs(r), axis=0)
    beta = np.linalg.norm(r, axis=0)
    V = []  # the basis, grown step by step (a cycle rarely uses all ``basis`` vectors)
    H = np.zeros((F, m + 1, m), dtype=complex)
    cs = np.zeros((m, F), dtype=complex)
    sn = np.zeros((m, F), dtype=complex)
    g = np.zeros((m + 1, F), dtype=complex)
    g[0] = beta
    V.append(r / np.where(beta > 0, beta, 1.0))
    Vc = [V[0].conj()]  # each basis vector's conjugate, taken once (the same products as V[i].conj())
    steps = m
    for j in range(m):
        w = op(V[j])
        for i in range(j + 1):  # modified Gram–Schmidt, each frequency on its own
            h = (Vc[i] * w).sum(axis=0)
            w -= h[None, :] * V[i]
            H[:, i, j] = h
        hn = np.linalg.norm(w, axis=0)
        H[:, j + 1, j] = hn
        V.append(w / np.where(hn > 0, hn, 1.0))
        Vc.append(V[-1].conj())
        for i in range(j):  # earlier rotations on the new column
            hi, hi1 = H[:, i, j].copy(), H[:, i + 1, j].copy()
            H[:, i, j] = cs[i].conj() * hi + sn[i].conj() * hi1
            H[:, i + 1, j] = -sn[i] * hi + cs[i] * hi1
        a, c = H[:, j, j], H[:, j + 1, j]
        rho = np.sqrt(np.abs(a) ** 2 + np.abs(c) ** 2)
        safe = np.where(rho > 0, rho, 1.0)
        cs[j] = np.where(rho > 0, a / safe, 1.0)
        sn[j] = np.where(rho > 0, c / safe, 0.0)
        H[:, j, j] = rho
        H[:, j + 1, j] = 0.0
        g[j + 1] = -sn[j] * g[j]
        g[j] = cs[j].conj() * g[j]
        if np.all(np.abs(g[j + 1]) <= target):
            steps = j + 1
            break
    R = H[:, :steps, :steps]
    diag = np.einsum("fjj->fj", R)
    diag[diag == 0] = 1.0  # a column that broke down early: its later g entries are 0
    y = np.linalg.solve(R, np.moveaxis(g[:steps], 0, 1)[:, :, None])[:, :, 0]
    return sub.apply(np.einsum("jnf,fj->nf", np.stack(V[:steps]), y) / weights)
