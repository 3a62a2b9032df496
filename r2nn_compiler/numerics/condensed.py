"""The shifted pencil ``M(s) = s·E − A`` with low-degree unknowns eliminated exactly (a Schur
complement over a diagonal block, applied as sparse products, never formed): what the GMRES
solve of :mod:`.shifted` iterates on. Frequencies ``s`` in rad/s (complex); see ``docs/numerics.md``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

#: Unknowns with at most this many neighbours (the same in their row and column, no input
#: entry) may be eliminated before iterating, if their diagonal entry is at least
#: ELIMINATE_PIVOT times their row's largest other entry at the sample frequencies: recovering
#: them divides by it (the current of a milliohm DC-loop breaker is better left to the iteration).
ELIMINATE_DEGREE = 2
ELIMINATE_PIVOT = 1e-3


class Condensed:
    """``M(s) = s·E − A`` (rows scaled) with an independent set ``gone`` of low-degree unknowns
    eliminated: over the ``kept`` ones S(s) = M_kk − M_kg·D⁻¹·M_gk, D = diag(M_gg) (no entries
    join two gone unknowns). Gone unknowns carry no input, so x_g = −D⁻¹·M_gk·x_k.

    S's rows are scaled again to a largest entry of 1 at the ``samples`` frequencies: the
    elimination of a tiny series resistance (a DC-loop breaker) puts its huge conductance into
    the rows of its nets, which would otherwise drown the other rows' residuals (GMRES would
    stall at a backward error of ~1e-6)."""

    def __init__(self, E, A, B: np.ndarray, samples: np.ndarray) -> None:
        self.E, self.A, self.B = E, A, B
        self.absE, self.absA = abs(E), abs(A)
        self._diagonal: tuple[np.ndarray, np.ndarray] | None = None
        n = E.shape[0]
        gone = eliminable(E, A, B, samples)
        keep = np.setdiff1d(np.arange(n), gone)
        self.n, self.keep, self.gone = n, keep, gone
        Ek, Ak, Eg, Ag = E[keep], A[keep], E[gone], A[gone]
        self.Ekk, self.Akk = Ek[:, keep].tocsr(), Ak[:, keep].tocsr()
        self.Ekg, self.Akg = Ek[:, gone].tocsr(), Ak[:, gone].tocsr()
        self.Egk, self.Agk = Eg[:, keep].tocsr(), Ag[:, keep].tocsr()
        self.egg, self.agg = E.diagonal()[gone], A.diagonal()[gone]
        # (gone, kept p, kept q) for every pair of a gone unknown's neighbours: where the
        # elimination adds −M_pg·M_gq/M_gg to S_pq.
        pattern = (abs(self.Ekg) + abs(self.Akg)).tocsc()
        triples = [(g, p, q) for g in range(gone.size)
                   for p in pattern.indices[pattern.indptr[g] : pattern.indptr[g + 1]]
                   for q in pattern.indices[pattern.indptr[g] : pattern.indptr[g + 1]]]
        self.triples = np.array(triples, dtype=np.intp).reshape(-1, 3)
        self.Bk = B[keep]
        top = np.zeros(keep.size)
        for sv in samples:
            top = np.maximum(top, abs(self.explicit(sv)).max(axis=1).toarray().ravel())
        rescale = scipy.sparse.diags_array(1.0 / np.where(top > 0, top, 1.0))
        self.Ekk, self.Akk = (rescale @ self.Ekk).tocsr(), (rescale @ self.Akk).tocsr()
        self.Ekg, self.Akg = (rescale @ self.Ekg).tocsr(), (rescale @ self.Akg).tocsr()
        self.Bk = rescale @ self.Bk
        g, p, q = self.triples.T
        self.e_pg, self.a_pg = self.Ekg[p, g], self.Akg[p, g]
        self.e_gq, self.a_gq = self.Egk[g, q], self.Agk[g, q]

    def diagonal(self, s: np.ndarray) -> np.ndarray:
        """M_gg at every frequency (gone × frequencies). The last result is kept: a GMRES cycle
        applies S at the same frequencies tens of times."""
        last = self._diagonal
        if last is not None and last[0].shape == s.shape and np.array_equal(last[0], s):
            return last[1]
        d = self.egg[:, None] * s - self.agg[:, None]
        self._diagonal = (s.copy(), d)
        return d

    def apply(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """S(s_f)·x_f for x (kept × frequencies)."""
        y = times(self.Ekk, x) * s - times(self.Akk, x)
        if self.gone.size:
            t = (times(self.Egk, x) * s - times(self.Agk, x)) / self.diagonal(s)
            y -= times(self.Ekg, t) * s - times(self.Akg, t)
        return y

    def expand(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The full solution (unknowns × frequencies) from its kept part."""
        full = np.empty((self.n, x.shape[1]), dtype=complex)
        full[self.keep] = x
        if self.gone.size:
            full[self.gone] = -(times(self.Egk, x) * s - times(self.Agk, x)) / self.diagonal(s)
        return full

    def size(self, x: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
        """(|S||x| + |b|) row by row (kept × frequencies), |S| bounded entry by entry."""
        ax = np.abs(x)
        ms = np.abs(s)[None, :]
        out = abs(self.Ekk) @ ax * ms + abs(self.Akk) @ ax + np.abs(b)[:, None]
        if self.gone.size:
            inner = (abs(self.Egk) @ ax * ms + abs(self.Agk) @ ax) / np.abs(self.diagonal(s))
            out += abs(self.Ekg) @ inner * ms + abs(self.Akg) @ inner
        return out

    def explicit(self, sv: complex):
        """S at one frequency, as a sparse matrix."""
        S = (sv * self.Ekk - self.Akk).tocsr()
        if self.gone.size:
            d = scipy.sparse.diags_array(1.0 / (sv * self.egg - self.agg))
            S = (S - (sv * self.Ekg - self.Akg) @ d @ (sv * self.Egk - self.Agk)).tocsr()
        return S

    def blocks_at(self, idx: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The diagonal blocks ``S[idx[b]][:, idx[b]]`` at every frequency (blocks × size ×
        size × frequencies)."""
        m = _gather(self.Ekk, idx)[..., None] * s - _gather(self.Akk, idx)[..., None]
        if self.triples.size:
            nb, k = idx.shape
            block_of = np.full(self.keep.size, -1)
            slot = np.zeros(self.keep.size, dtype=np.intp)
            block_of[idx.ravel()] = np.repeat(np.arange(nb), k)
            slot[idx.ravel()] = np.tile(np.arange(k), nb)
            g, p, q = self.triples.T
            inside = (block_of[p] >= 0) & (block_of[p] == block_of[q])
            if inside.any():
                g, p, q = g[inside], p[inside], q[inside]
                value = ((self.e_pg[inside, None] * s - self.a_pg[inside, None])
                         * (self.e_gq[inside, None] * s - self.a_gq[inside, None]) / self.diagonal(s)[g])
                np.add.at(m, (block_of[p], slot[p], slot[q]), -value)
        return m


def times(M, x: np.ndarray) -> np.ndarray:
    """``M @ x`` for a real sparse ``M`` and a complex dense ``x`` (rows × columns), through x's
    real view: one real product instead of upcasting M, the same sums in the same order."""
    if not np.iscomplexobj(x) or x.ndim != 2:
        return M @ x
    real = np.ascontiguousarray(x).view(float)
    return (M @ real).view(complex)


def eliminable(E, A, B: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """An independent set of unknowns (sorted) with no input, the same at most
    ELIMINATE_DEGREE neighbours in their row and column, and a diagonal entry of at least
    ELIMINATE_PIVOT times the row's other entries at every sample frequency (greedy, in index
    order)."""
    pattern = (abs(E) + abs(A)).tocsr()
    pattern.data[:] = 1.0
    off = (pattern - scipy.sparse.diags_array(pattern.diagonal())).tocsr()
    off.eliminate_zeros()
    degree = np.diff(off.indptr)
    symmetric = abs(off - off.T).sum(axis=1) == 0
    pivot = np.ones(E.shape[0], dtype=bool)
    for sv in samples:
        M = abs((sv * E - A).tocsr())
        d = M.diagonal()
        others = (M - scipy.sparse.diags_array(d)).max(axis=1).toarray().ravel()
        pivot &= d >= ELIMINATE_PIVOT * others
        pivot &= d > 0
    candidates = np.flatnonzero(pivot & symmetric & (degree <= ELIMINATE_DEGREE) & ~np.any(B != 0, axis=1))
    taken = []
    blocked = np.zeros(E.shape[0], dtype=bool)
    for i in candidates.tolist():
        if not blocked[i]:
            taken.append(i)
            blocked[off.indices[off.indptr[i] : off.indptr[i + 1]]] = True
    return np.array(taken, dtype=np.intp)


def _gather(M, idx: np.ndarray) -> np.ndarray:
    """The dense diagonal blocks ``M[idx[b]][:, idx[b]]`` as (blocks × size × size)."""
    nb, k = idx.shape
    block_of = np.full(M.shape[0], -1)
    slot = np.zeros(M.shape[0], dtype=np.intp)
    block_of[idx.ravel()] = np.repeat(np.arange(nb), k)
    slot[idx.ravel()] = np.tile(np.arange(k), nb)
    coo = M.tocoo()
    inside = (block_of[coo.row] >= 0) & (block_of[coo.row] == block_of[coo.col])
    out = np.zeros((nb, k, k))
    np.add.at(out, (block_of[coo.row[inside]], slot[coo.row[inside]], slot[coo.col[inside]]), coo.data[inside])
    return out
