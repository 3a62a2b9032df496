"""The condensed pencil S(s) (:class:`.condensed.Condensed`) formed entry by entry on its fixed
sparsity pattern at every frequency of a batch, so that a product S(s_f)·x_f costs one gather
and one multiply per nonzero (instead of six sparse products through the eliminated unknowns),
and its diagonal blocks are read off instead of summed. What the large-system path of
:func:`.shifted.solve_shifted` iterates on; frequencies ``s`` in rad/s (complex).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .block_jacobi import BlockJacobi, _inverse
from .condensed import Condensed, times


class ExplicitPattern:
    """The pattern of S (kept × kept, CSR order, every diagonal entry present) and, per entry,
    what it is made of: ``e·s − a`` from the kept block, minus the eliminated unknowns' terms
    (M_pg·M_gq / M_gg, summed onto their entry by ``scatter``)."""

    def __init__(self, system: Condensed) -> None:
        n = system.keep.size
        pattern = (abs(system.Ekk) + abs(system.Akk) + scipy.sparse.eye_array(n)).tocoo()
        rows, cols = [pattern.row], [pattern.col]
        if system.triples.size:
            rows.append(system.triples[:, 1])
            cols.append(system.triples[:, 2])
        keys = np.unique(np.concatenate(rows).astype(np.int64) * n + np.concatenate(cols))
        self.system, self.n, self.keys = system, n, keys
        self.rows, self.cols = keys // n, keys % n
        self.indptr = np.searchsorted(self.rows, np.arange(n + 1))
        self.diag = self.position(np.arange(n), np.arange(n))
        self.e, self.a = self._on_pattern(system.Ekk), self._on_pattern(system.Akk)
        self.scatter = None
        if system.triples.size:
            at = self.position(system.triples[:, 1], system.triples[:, 2])
            self.scatter = scipy.sparse.csr_array((np.ones(at.size), (at, np.arange(at.size))),
                                                  shape=(keys.size, at.size))
            self._factors(system)

    def _factors(self, system: Condensed) -> None:
        """Each triple's two factors M_pg and M_gq/M_gg are shared by the triples of the same
        (g, p) or (g, q): index them once per pair (``left``, ``right``: per triple, an index into
        the pairs' coefficients), so ``values`` evaluates each factor once per pair, not per triple."""
        g, p, q = system.triples.T
        n = self.n
        _, first, self.left = np.unique(g.astype(np.int64) * n + p, return_index=True, return_inverse=True)
        self.e_left, self.a_left = system.e_pg[first], system.a_pg[first]
        _, first, self.right = np.unique(g.astype(np.int64) * n + q, return_index=True, return_inverse=True)
        self.e_right, self.a_right, self.g_right = system.e_gq[first], system.a_gq[first], g[first]

    def position(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Index into the pattern of each (row, col); −1 where the entry is structurally zero."""
        key = np.asarray(row, dtype=np.int64) * self.n + np.asarray(col)
        at = np.minimum(np.searchsorted(self.keys, key), self.keys.size - 1)
        return np.where(self.keys[at] == key, at, -1)

    def _on_pattern(self, M) -> np.ndarray:
        coo = M.tocoo()
        return np.bincount(self.position(coo.row, coo.col), weights=coo.data, minlength=self.keys.size)

    def values(self, s: np.ndarray) -> np.ndarray:
        """S(s_f)'s entries on the pattern at every frequency (entries × frequencies)."""
        data = self.e[:, None] * s - self.a[:, None]
        if self.scatter is not None:
            left = self.e_left[:, None] * s - self.a_left[:, None]
            right = self.e_right[:, None] * s - self.a_right[:, None]
            right /= self.system.diagonal(s)[self.g_right]
            term = left[self.left]
            term *= right[self.right]
            data -= times(self.scatter, term)
        return data


class ExplicitBatch:
    """S(s_f) for the frequencies of one batch, with the same ``apply`` as
    :meth:`Condensed.apply` (the ``s`` argument only has to match the batch's columns): one
    block-diagonal sparse matrix holds every frequency's S, so a product is one sparse
    matrix-vector product."""

    def __init__(self, pattern: ExplicitPattern, data: np.ndarray) -> None:
        self.pattern, self.data = pattern, data
        n, F = pattern.n, data.shape[1]
        nnz = pattern.keys.size
        indptr = (pattern.indptr[None, :-1] + nnz * np.arange(F)[:, None]).ravel()
        indices = (pattern.cols[None, :] + n * np.arange(F)[:, None]).ravel()
        self.matrix = scipy.sparse.csr_array((data.T.ravel(), indices, np.append(indptr, nnz * F)),
                                             shape=(n * F, n * F))

    def columns(self, keep: np.ndarray) -> "ExplicitBatch":
        """The same matrices for the frequencies ``keep`` (indices into the batch) only."""
        return ExplicitBatch(self.pattern, self.data[:, keep])

    def apply(self, x: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
        """S(s_f)·x_f for x (kept × the batch's frequencies)."""
        n, F = x.shape
        return (self.matrix @ np.ascontiguousarray(x.T).ravel()).reshape(F, n).T


class ExplicitBlockJacobi(BlockJacobi):
    """The block-Jacobi preconditioner of :class:`.block_jacobi.BlockJacobi` (the same blocks
    and exact inverses), its blocks read off an :class:`ExplicitBatch`. Raises
    numpy.linalg.LinAlgError when a block is singular. ``columns`` and ``apply`` are the base's."""

    def __init__(self, batch: ExplicitBatch, blocks: list[np.ndarray]) -> None:
        self.blocks = blocks
        self.inverses = []
        p = batch.pattern
        for idx in blocks:
            k = idx.shape[1]
            at = p.position(np.repeat(idx, k, axis=1), np.tile(idx, (1, k)))  # blocks × k²
            values = np.where((at >= 0)[..., None], batch.data[np.maximum(at, 0)], 0.0)
            self.inverses.append(_inverse(values.reshape(idx.shape[0], k, k, -1)))
