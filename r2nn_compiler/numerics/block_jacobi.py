"""The block-Jacobi preconditioner of the shifted solve: unknowns grouped with those they are
strongly and mutually coupled to, each group's diagonal block inverted exactly at every frequency.
"""

from __future__ import annotations

import numpy as np

from .condensed import Condensed


#: Unknowns i, j share a preconditioner block when |S_ij·S_ji| ≥ BLOCK_COUPLING²·|S_ii·S_jj| at
#: the batch's lowest, middle or highest frequency (a zero diagonal counts as strongly
#: coupled), up to BLOCK_MAX unknowns per block (the strongest couplings are grouped first).
BLOCK_COUPLING = 0.01
BLOCK_MAX = 24


def preconditioner_blocks(samples: list) -> list[np.ndarray]:
    """Groups of unknowns the block-Jacobi preconditioner inverts exactly, as one (blocks ×
    size) index array per block size; see BLOCK_COUPLING. ``samples``: the matrix at a few
    frequencies (sparse, complex)."""
    n = samples[0].shape[0]
    found_i, found_j, found_r = [], [], []
    for M in samples:
        d = np.abs(M.diagonal())
        mutual = M.multiply(M.T).tocoo()
        upper = mutual.row < mutual.col
        i, j, v = mutual.row[upper], mutual.col[upper], np.abs(mutual.data[upper])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = v / (d[i] * d[j])
        found_i.append(i)
        found_j.append(j)
        found_r.append(np.where(np.isnan(ratio), np.inf, ratio))
    i, j, r = np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_r)
    strong = r >= BLOCK_COUPLING**2
    order = np.argsort(-r[strong], kind="stable")
    i, j = i[strong][order], j[strong][order]
    parent = np.arange(n)
    size = np.ones(n, dtype=int)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(i.tolist(), j.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb and size[ra] + size[rb] <= BLOCK_MAX:
            parent[ra] = rb
            size[rb] += size[ra]
    roots = np.array([find(u) for u in range(n)])
    members = np.argsort(roots, kind="stable")
    _, first, counts = np.unique(roots[members], return_index=True, return_counts=True)
    groups: dict[int, list[np.ndarray]] = {}
    for f, c in zip(first, counts):
        groups.setdefault(int(c), []).append(members[f : f + c])
    return [np.array(g, dtype=np.intp) for _, g in sorted(groups.items())]


class BlockJacobi:
    """Exact inverses of the diagonal blocks of S(s_f) for every frequency of a chunk, each
    stored (blocks × size × size × frequencies) so applying them is one broadcast product."""

    def __init__(self, system: Condensed, s: np.ndarray, blocks: list[np.ndarray]) -> None:
        self.blocks = blocks
        self.inverses = [_inverse(system.blocks_at(idx, s)) for idx in blocks]

    def columns(self, keep: np.ndarray) -> "BlockJacobi":
        """The same preconditioner for the frequencies ``keep`` (indices into the chunk) only."""
        sub = object.__new__(type(self))
        sub.blocks = self.blocks
        sub.inverses = [inv[..., keep] for inv in self.inverses]
        return sub

    def apply(self, v: np.ndarray) -> np.ndarray:
        """P⁻¹ v for v (unknowns × frequencies); 1 × 1 blocks as one elementwise product."""
        out = np.empty_like(v)
        for idx, inv in zip(self.blocks, self.inverses):
            if idx.shape[1] == 1:
                out[idx[:, 0]] = inv[:, 0, 0] * v[idx[:, 0]]
            else:
                out[idx] = np.einsum("bijf,bjf->bif", inv, v[idx])
        return out


def _inverse(m: np.ndarray) -> np.ndarray:
    """Inverses of the (size × size) matrices ``m[b, :, :, f]``; 1×1 and 2×2 in closed form.
    Raises numpy.linalg.LinAlgError when one is singular."""
    k = m.shape[1]
    if k == 1:
        if np.any(m == 0):
            raise np.linalg.LinAlgError("singular block")
        return 1.0 / m
    if k == 2:
        a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
        det = a * d - b * c
        if np.any(det == 0):
            raise np.linalg.LinAlgError("singular block")
        return np.stack([np.stack([d, -b], axis=1), np.stack([-c, a], axis=1)], axis=1) / det[:, None, None]
    return np.ascontiguousarray(np.moveaxis(np.linalg.inv(np.moveaxis(m, -1, 0)), 0, -1))
