"""Re-solving ``(s·E − A)·x = b`` after a change confined to a few rows that nothing upstream
reads (an output driver's gain trimmed): the unknowns split into U, whose rows are unchanged and
read no unknown of D, and the small set D holding the changed rows, so x_U is the previous
solution's and x_D solves the small system M_DD·x_D = b_D − M_DU·x_U exactly (dense, per
frequency). What :class:`.shifted.WarmStart` hands :func:`.shifted.solve_shifted` as its
guess, which accepts it only through the same backward-error test as any solution.
Frequencies ``s`` in rad/s; see ``docs/numerics.md``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .condensed import Condensed

#: Largest D (unknowns) solved densely; a change that more unknowns depend on is left to GMRES.
DOWNSTREAM_MAX = 64


def changed_rows(old: tuple, new: tuple) -> np.ndarray:
    """Rows in which any of the (E, A, B) triples differ (sorted); E, A sparse, B dense."""
    rows = [np.flatnonzero(np.any(np.asarray(old[2]) != np.asarray(new[2]), axis=1))]
    for a, b in zip(old[:2], new[:2]):
        diff = (scipy.sparse.csr_array(a) - scipy.sparse.csr_array(b)).tocoo()
        rows.append(diff.row[diff.data != 0])
    return np.unique(np.concatenate(rows)).astype(np.intp)


def downstream(E, A, rows: np.ndarray) -> np.ndarray | None:
    """The smallest set D ⊇ ``rows`` (sorted unknown indices) such that no row outside D has an
    entry in a column of D, or None when it exceeds :data:`DOWNSTREAM_MAX`."""
    pattern = (abs(scipy.sparse.csc_array(E)) + abs(scipy.sparse.csc_array(A))).tocsc()
    inside = np.zeros(pattern.shape[0], dtype=bool)
    inside[rows] = True
    frontier = np.asarray(rows, dtype=np.intp)
    while frontier.size:
        readers = np.unique(np.concatenate([pattern.indices[pattern.indptr[c] : pattern.indptr[c + 1]]
                                            for c in frontier.tolist()] + [np.empty(0, dtype=np.int32)]))
        frontier = readers[~inside[readers]]
        inside[frontier] = True
        if np.count_nonzero(inside) > DOWNSTREAM_MAX:
            return None
    return np.flatnonzero(inside)


def downstream_guess(system: Condensed, D: np.ndarray, kept: np.ndarray, s: np.ndarray) -> np.ndarray | None:
    """Kept solutions (kept × inputs × frequencies) of ``system`` from the previous ones ``kept``
    (those of a system that differed only in D's rows, with the same kept unknowns): x_U as
    before, x_D re-solved densely per frequency. None when an M_DD is singular."""
    out = kept.copy()
    E, A = system.E.tocsr()[D], system.A.tocsr()[D]
    M = E[:, D].toarray()[None] * s[:, None, None] - A[:, D].toarray()[None]  # frequencies × D × D
    outside = np.ones(system.n, dtype=bool)
    outside[D] = False
    read = np.flatnonzero(outside & ((abs(E) + abs(A)).sum(axis=0) > 0))  # the x_U that D's rows read
    Edu, Adu = E[:, read].tocsr(), A[:, read].tocsr()
    keep_at = _positions(system.keep, D)
    for col in range(kept.shape[1]):
        x = _solution_at(system, read, kept[:, col, :], s)
        rhs = system.B[D, col][:, None] - (Edu @ x) * s[None, :] + Adu @ x  # D × frequencies
        try:
            xd = np.linalg.solve(M, rhs.T[:, :, None])[:, :, 0].T
        except np.linalg.LinAlgError:
            return None
        out[keep_at[keep_at >= 0], col, :] = xd[keep_at >= 0]
    return out


def _positions(sorted_set: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Index of each item in ``sorted_set``, −1 where absent."""
    at = np.minimum(np.searchsorted(sorted_set, items), max(sorted_set.size - 1, 0))
    return np.where((sorted_set.size > 0) & (sorted_set[at] == items), at, -1)


def _solution_at(system: Condensed, unknowns: np.ndarray, xk: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The full solution's entries ``unknowns`` (× frequencies) from its kept part ``xk``, as
    :meth:`Condensed.expand` gives them, without expanding every unknown."""
    out = np.empty((unknowns.size, s.size), dtype=complex)
    k = _positions(system.keep, unknowns)
    out[k >= 0] = xk[k[k >= 0]]
    g = _positions(system.gone, unknowns)
    if np.any(g >= 0):
        g = g[g >= 0]
        d = system.egg[g, None] * s - system.agg[g, None]
        out[k < 0] = -((system.Egk[g] @ xk) * s - system.Agk[g] @ xk) / d
    return out
