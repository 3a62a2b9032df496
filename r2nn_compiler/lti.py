"""Continuous-time linear time-invariant systems: exact sampled simulation and frequency response.

Pure numpy/scipy, knows nothing about models or circuits; both the reference model and the
circuit-level MNA lower to a :class:`StateSpace` and share this simulator, so a mismatch between
them is a mismatch of the systems, never of two integrators.

Units: time in seconds, frequency in hertz; the system's own units otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.linalg

#: Above this eigenvector condition number the modal simulator is not trusted to 1e-9 and the
#: (slower, always exact) state recursion is used instead.
MODAL_CONDITION_LIMIT = 1e6


@dataclass(frozen=True)
class StateSpace:
    """``dx/dt = A x + B u``, ``y = C x + D u`` with real float64 matrices."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray

    @property
    def n_states(self) -> int:
        return self.A.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.B.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.C.shape[0]

    def poles(self) -> np.ndarray:
        """Eigenvalues of ``A`` (rad/s), sorted by decreasing real part."""
        eig = np.linalg.eigvals(self.A)
        return eig[np.argsort(-eig.real, kind="stable")]

    def frequency_response(self, freqs_hz: np.ndarray) -> np.ndarray:
        """H(j 2π f) as a complex array (outputs × inputs × freqs)."""
        freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
        n = self.n_states
        out = np.empty((self.n_outputs, self.n_inputs, freqs.size), dtype=complex)
        # Solve in batches of frequencies: stacked solves are fast, memory stays ~32 MB a batch.
        batch = max(1, int(2e6 // max(n * n, 1)))
        eye = np.eye(n)
        for start in range(0, freqs.size, batch):
            f = freqs[start : start + batch]
            pencil = (2j * np.pi * f)[:, None, None] * eye - self.A
            x = np.linalg.solve(pencil, np.broadcast_to(self.B, (f.size, n, self.n_inputs)))
            out[:, :, start : start + batch] = np.einsum("pn,fnk->pkf", self.C, x) + self.D[:, :, None]
        return out


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


# -- frequency response of large sparse descriptor systems ------------------------------------
#
# A dense solve per frequency costs O(n³); the networks compiled here couple hundreds of
# resonators at random, so even sparse LU fills in to nearly dense (a 1024-resonator network
# with 10k couplings: ~0.3 s per frequency). Instead:
#
# 1. rows are scaled to a largest entry of 1 over the band, so KCL rows (amperes) and branch
#    rows (volts) weigh alike;
# 2. an independent set of unknowns with at most ELIMINATE_DEGREE neighbours (an inductor's
#    branch current, the middle net of two parts in series) is eliminated exactly: a Schur
#    complement over a diagonal block, applied as sparse products, never formed;
# 3. every frequency of a batch is solved at once by GMRES on what is left, preconditioned by
#    the exact inverses of small diagonal blocks (unknowns grouped with those they are strongly
#    and mutually coupled to, see BLOCK_COUPLING);
# 4. a result is accepted only when its componentwise backward error in the full system is below
#    SOLVE_BACKWARD_ERROR (after the first cycle GMRES weighs each row by its size, so small
#    responses are resolved as well as large ones); the frequencies that do not get there are
#    solved directly (sparse LU).

#: Componentwise backward error an iterative solution must reach, max_i |b − M x|_i / ((|M||x| +
#: |b|)_i + SOLVE_FLOOR·max_j (|M||x| + |b|)_j): it is then the exact solution of a system each of
#: whose entries differs from the true one by at most this, relatively. Componentwise, so a
#: net far from every input (|H| 1e-8 of the loudest) is as accurate as the loud ones; the
#: floor keeps exact zeros (an unloaded buffer's current) from demanding an exact zero.
SOLVE_BACKWARD_ERROR = 1e-13
SOLVE_FLOOR = 1e-15

#: GMRES basis size per restart cycle, and the number of cycles before falling back to LU.
GMRES_BASIS = 30
GMRES_CYCLES = 3

#: Unknowns i, j share a preconditioner block when |S_ij·S_ji| ≥ BLOCK_COUPLING²·|S_ii·S_jj| at
#: the batch's lowest, middle or highest frequency (a zero diagonal counts as strongly
#: coupled), up to BLOCK_MAX unknowns per block (the strongest couplings are grouped first).
BLOCK_COUPLING = 0.01
BLOCK_MAX = 24

#: Unknowns with at most this many neighbours (the same in their row and column, no input
#: entry) may be eliminated before iterating, if their diagonal entry is at least
#: ELIMINATE_PIVOT times their row's largest other entry at the sample frequencies: recovering
#: them divides by it (the current of a milliohm DC-loop breaker is better left to the iteration).
ELIMINATE_DEGREE = 2
ELIMINATE_PIVOT = 1e-3

#: Bytes of GMRES basis held at once; frequencies are processed in chunks that fit.
SOLVE_MEMORY_BYTES = 128e6


def solve_shifted(E, A, B, s, C=None) -> np.ndarray:
    """``C·X`` with ``(s_f·E − A)·X_f = B`` at every complex frequency ``s_f`` (rad/s, nonzero).

    ``E``, ``A``: square scipy.sparse matrices (n × n); ``B``: dense (n × k); ``C``: dense or
    sparse (p × n), None for the identity. Returns a complex array (p × k × frequencies).
    Intended for large sparse systems (see the comment above); small ones are faster dense.

    Raises numpy.linalg.LinAlgError when a direct fallback solve finds the matrix singular.
    """
    import scipy.sparse

    E = scipy.sparse.csr_array(E, dtype=float)
    A = scipy.sparse.csr_array(A, dtype=float)
    B = np.asarray(B, dtype=float)
    s = np.atleast_1d(np.asarray(s, dtype=complex))
    n, k = B.shape
    p = n if C is None else C.shape[0]
    out = np.zeros((p, k, s.size), dtype=complex)
    if n == 0 or s.size == 0 or k == 0:
        return out
    magnitude = abs(E) * float(np.abs(s).max()) + abs(A)
    row_max = magnitude.max(axis=1).toarray().ravel()
    rows = scipy.sparse.diags_array(1.0 / np.where(row_max > 0, row_max, 1.0))
    samples = s[np.argsort(np.abs(s))[[0, s.size // 2, -1]]]
    system = _Condensed((rows @ E).tocsr(), (rows @ A).tocsr(), rows @ B, samples)
    blocks = _preconditioner_blocks([system.explicit(sv) for sv in samples])
    chunk = max(1, int(SOLVE_MEMORY_BYTES // (16 * n * (GMRES_BASIS + 4))))
    for start in range(0, s.size, chunk):
        sc = s[start : start + chunk]
        for col in range(k):
            x = _solve_chunk(system, col, sc, blocks)
            out[:, col, start : start + chunk] = x if C is None else C @ x
    return out


class _Condensed:
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
        n = E.shape[0]
        gone = _eliminable(E, A, B, samples)
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
        import scipy.sparse

        rescale = scipy.sparse.diags_array(1.0 / np.where(top > 0, top, 1.0))
        self.Ekk, self.Akk = (rescale @ self.Ekk).tocsr(), (rescale @ self.Akk).tocsr()
        self.Ekg, self.Akg = (rescale @ self.Ekg).tocsr(), (rescale @ self.Akg).tocsr()
        self.Bk = rescale @ self.Bk
        g, p, q = self.triples.T
        self.e_pg, self.a_pg = self.Ekg[p, g], self.Akg[p, g]
        self.e_gq, self.a_gq = self.Egk[g, q], self.Agk[g, q]

    def diagonal(self, s: np.ndarray) -> np.ndarray:
        """M_gg at every frequency (gone × frequencies)."""
        return self.egg[:, None] * s - self.agg[:, None]

    def apply(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """S(s_f)·x_f for x (kept × frequencies)."""
        y = (self.Ekk @ x) * s - self.Akk @ x
        if self.gone.size:
            t = ((self.Egk @ x) * s - self.Agk @ x) / self.diagonal(s)
            y -= (self.Ekg @ t) * s - self.Akg @ t
        return y

    def expand(self, x: np.ndarray, s: np.ndarray) -> np.ndarray:
        """The full solution (unknowns × frequencies) from its kept part."""
        full = np.empty((self.n, x.shape[1]), dtype=complex)
        full[self.keep] = x
        if self.gone.size:
            full[self.gone] = -((self.Egk @ x) * s - self.Agk @ x) / self.diagonal(s)
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
        import scipy.sparse

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


def _eliminable(E, A, B: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """An independent set of unknowns (sorted) with no input, the same at most
    ELIMINATE_DEGREE neighbours in their row and column, and a diagonal entry of at least
    ELIMINATE_PIVOT times the row's other entries at every sample frequency (greedy, in index
    order)."""
    import scipy.sparse

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


def _preconditioner_blocks(samples: list) -> list[np.ndarray]:
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


class _BlockJacobi:
    """Exact inverses of the diagonal blocks of S(s_f) for every frequency of a chunk, each
    stored (blocks × size × size × frequencies) so applying them is one broadcast product."""

    def __init__(self, system: _Condensed, s: np.ndarray, blocks: list[np.ndarray]) -> None:
        self.blocks = blocks
        self.inverses = [_inverse(system.blocks_at(idx, s)) for idx in blocks]

    def columns(self, keep: np.ndarray) -> "_BlockJacobi":
        """The same preconditioner for the frequencies ``keep`` (indices into the chunk) only."""
        sub = object.__new__(_BlockJacobi)
        sub.blocks = self.blocks
        sub.inverses = [inv[..., keep] for inv in self.inverses]
        return sub

    def apply(self, v: np.ndarray) -> np.ndarray:
        """P⁻¹ v for v (unknowns × frequencies)."""
        out = np.empty_like(v)
        for idx, inv in zip(self.blocks, self.inverses):
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


def _backward_error(system: _Condensed, b: np.ndarray, x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The componentwise backward error of full solutions x per frequency (see
    SOLVE_BACKWARD_ERROR), with |M| bounded by |s||E| + |A|."""
    E, A = system.E, system.A
    r = b[:, None] - (E @ x) * s[None, :] + A @ x
    ax = np.abs(x)
    size = (system.absE @ ax) * np.abs(s)[None, :] + system.absA @ ax + np.abs(b)[:, None]
    size += SOLVE_FLOOR * size.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(size > 0, np.abs(r) / size, np.where(r != 0, np.inf, 0.0))
    return eta.max(axis=0)


def _solve_chunk(system: _Condensed, col: int, s: np.ndarray, blocks: list[np.ndarray]) -> np.ndarray:
    """Full solutions x_f of (s_f E − A) x_f = B[:, col] for one chunk of frequencies (unknowns ×
    frequencies): right-preconditioned GMRES on all of them together, direct LU for the rest."""
    import scipy.sparse.linalg

    b = system.B[:, col]
    bk = system.Bk[:, col]
    F = s.size
    try:
        P = _BlockJacobi(system, s, blocks)
    except np.linalg.LinAlgError:  # a singular block: nothing to iterate with
        P = None
    x = np.zeros((system.n, F), dtype=complex)
    todo = np.arange(F)
    if P is not None and not np.any(system.diagonal(s) == 0):
        xk = P.apply(np.repeat(bk[:, None].astype(complex), F, axis=1))
        for cycle in range(GMRES_CYCLES + 1):
            x[:, todo] = system.expand(xk[:, todo], s[todo])
            todo = todo[_backward_error(system, b, x[:, todo], s[todo]) > SOLVE_BACKWARD_ERROR]
            if todo.size == 0 or cycle == GMRES_CYCLES:
                break
            # The first cycle weighs rows alike; later ones each by its size in the current x.
            size = system.size(xk[:, todo], bk, s[todo]) if cycle else np.ones((bk.size, todo.size))
            weights = 1.0 / (size + SOLVE_FLOOR * size.max(axis=0))
            xk[:, todo] += _gmres_cycle(system, bk, xk[:, todo], s[todo], P.columns(todo), weights)
    for f in todo:
        try:
            lu = scipy.sparse.linalg.splu((s[f] * system.E - system.A).tocsc())
        except RuntimeError:
            raise np.linalg.LinAlgError(f"singular at s = {s[f]:.6g} rad/s") from None
        x[:, f] = lu.solve(b.astype(complex))
    return x


def _gmres_cycle(system: _Condensed, b: np.ndarray, x0: np.ndarray, s: np.ndarray, sub: _BlockJacobi,
                 weights: np.ndarray) -> np.ndarray:
    """One GMRES(GMRES_BASIS) cycle on W·S(s_f)·x = W·b from x0 (kept unknowns × frequencies),
    every frequency on its own but all in step, right-preconditioned by P⁻¹·W⁻¹ (``sub``: P
    for exactly these frequencies; ``weights``: the diagonal of W per frequency, rows ×
    frequencies), so the operator W·S·P⁻¹·W⁻¹ is similar to S·P⁻¹ whatever the weights, until
    every weighted residual is below a tenth of SOLVE_BACKWARD_ERROR (relative to the weighted
    sizes): the correction to add to x0."""
    n, F = x0.shape
    m = GMRES_BASIS

    def op(v: np.ndarray) -> np.ndarray:
        return weights * system.apply(sub.apply(v / weights), s)

    r = weights * (b[:, None] - system.apply(x0, s))
    target = 0.1 * SOLVE_BACKWARD_ERROR * np.max(np.abs(weights * b[:, None]) + np.abs(r), axis=0)
    beta = np.linalg.norm(r, axis=0)
    V = np.zeros((m + 1, n, F), dtype=complex)
    H = np.zeros((F, m + 1, m), dtype=complex)
    cs = np.zeros((m, F), dtype=complex)
    sn = np.zeros((m, F), dtype=complex)
    g = np.zeros((m + 1, F), dtype=complex)
    g[0] = beta
    V[0] = r / np.where(beta > 0, beta, 1.0)
    steps = m
    for j in range(m):
        w = op(V[j])
        for i in range(j + 1):  # modified Gram–Schmidt, each frequency on its own
            h = (V[i].conj() * w).sum(axis=0)
            w -= h[None, :] * V[i]
            H[:, i, j] = h
        hn = np.linalg.norm(w, axis=0)
        H[:, j + 1, j] = hn
        V[j + 1] = w / np.where(hn > 0, hn, 1.0)
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
    return sub.apply(np.einsum("jnf,fj->nf", V[:steps], y) / weights)
