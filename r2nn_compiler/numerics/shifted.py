"""Frequency response of large sparse descriptor systems: ``(s·E − A)·X = B`` at many complex
frequencies, by preconditioned GMRES on all of them at once, sparse LU where that does not reach
:data:`SOLVE_BACKWARD_ERROR`. Frequencies in rad/s; see ``docs/numerics.md`` for the method.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from .block_jacobi import BlockJacobi, preconditioner_blocks
from .condensed import Condensed, times
from .downstream import changed_rows, downstream, downstream_guess
from .explicit import ExplicitBatch, ExplicitBlockJacobi, ExplicitPattern
from .gmres import gmres_cycle

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

#: Bytes of GMRES basis held at once; frequencies are processed in chunks that fit.
SOLVE_MEMORY_BYTES = 128e6

#: From this many unknowns left after the elimination, and when the eliminated ones outnumber
#: them EXPLICIT_GONE_RATIO times, S(s) is formed entry by entry for each chunk of frequencies
#: (:mod:`.explicit`): the same solve (same preconditioner, same acceptance test) without the
#: products through the eliminated unknowns. Where few are eliminated it would be slower (one
#: complex product per entry and frequency against the condensed form's real products over
#: all frequencies at once); measurements in docs/numerics.md. Below, the original path, whose
#: results every example deck was compiled with (the largest keeps 92 unknowns).
EXPLICIT_FROM = 200
EXPLICIT_GONE_RATIO = 2.0

#: From this many unknowns left after the elimination, a cold solve checks its first backward
#: error after cycle FIRST_CHECK_CYCLE, not on the preconditioner's guess and after every
#: cycle: on bench_compile's circuits (1024 resonators) no frequency ever passed earlier (the
#: unweighted first cycle leaves small components at 1e-6–1e-3), and a check on the full
#: system costs as much as ~3 GMRES steps. A frequency already accurate costs one step of the
#: next cycle. Below, every cycle is checked, as every example deck was compiled.
LATE_CHECK_FROM = 200
FIRST_CHECK_CYCLE = 2


class WarmStart:
    """Solutions of one :func:`solve_shifted` call kept as the starting guess of the next on
    the same frequencies, unknowns and inputs (a measurement repeated after a small change of
    the circuit, such as an output gain's trim): the guess only saves iterations, the result
    passes the same backward-error test. Holds the kept unknowns' solutions (kept × inputs ×
    frequencies) and the system (E, A, B) they solve, written by each call. When the new system
    differs only in rows that nothing upstream reads (:mod:`.downstream`), the guess is the
    previous solution with those rows' unknowns re-solved exactly, so it usually passes the
    backward-error test without a GMRES step."""

    def __init__(self) -> None:
        self.s: np.ndarray | None = None
        self.keep: np.ndarray | None = None
        self.x: np.ndarray | None = None
        self.matrices: tuple | None = None

    def guess(self, s: np.ndarray, keep: np.ndarray, k: int) -> np.ndarray | None:
        """The stored solutions when they are for these frequencies, kept unknowns and inputs."""
        if self.x is None or self.x.shape[1] != k or not (np.array_equal(self.s, s) and np.array_equal(self.keep, keep)):
            return None
        return self.x

    def refine(self, guess: np.ndarray, system: Condensed, matrices: tuple, s: np.ndarray) -> np.ndarray:
        """``guess`` (from :meth:`guess`) with the unknowns downstream of the rows in which
        ``matrices`` (E, A, B) differ from the stored ones re-solved exactly (``system``: the
        new system condensed); ``guess`` itself when the change reaches too far."""
        if self.matrices is None or any(np.shape(a) != np.shape(b) for a, b in zip(self.matrices, matrices)):
            return guess
        rows = changed_rows(self.matrices, matrices)
        D = downstream(matrices[0], matrices[1], rows) if rows.size else None
        better = None if D is None else downstream_guess(system, D, guess, s)
        return guess if better is None else better


def solve_shifted(E, A, B, s, C=None, warm: WarmStart | None = None) -> np.ndarray:
    """``C·X`` with ``(s_f·E − A)·X_f = B`` at every complex frequency ``s_f`` (rad/s, nonzero).

    ``E``, ``A``: square scipy.sparse matrices (n × n); ``B``: dense (n × k); ``C``: dense or
    sparse (p × n), None for the identity; ``warm``: starting guesses from a previous call,
    updated with this one's solutions. Returns a complex array (p × k × frequencies).
    Intended for large sparse systems (see ``docs/numerics.md``); small ones are faster dense.

    Raises numpy.linalg.LinAlgError when a direct fallback solve finds the matrix singular.
    """
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
    system = Condensed((rows @ E).tocsr(), (rows @ A).tocsr(), rows @ B, samples)
    guess = None if warm is None else warm.guess(s, system.keep, k)
    if guess is not None:
        guess = warm.refine(guess, system, (E, A, B), s)

    def store(col: int, cols: slice, x: np.ndarray) -> None:
        out[:, col, cols] = x if C is None else C @ x

    solutions = _solve_all(system, s, samples, guess, store)
    if warm is not None:
        warm.s, warm.keep, warm.x, warm.matrices = s.copy(), system.keep, solutions, (E, A, B)
    return out


def _solve_all(system: Condensed, s: np.ndarray, samples: np.ndarray, guess: np.ndarray | None,
               store: Callable[[int, slice, np.ndarray], None]) -> np.ndarray:
    """Solve every input column at every frequency chunk by chunk, handing each chunk's full
    solutions to ``store(col, chunk slice, x)``; returns the kept unknowns' solutions (kept ×
    inputs × frequencies). ``samples``: the frequencies the preconditioner's blocks are chosen
    at; ``guess``: starting kept solutions of the same shape, or None."""
    n, k = system.n, system.B.shape[1]
    blocks = preconditioner_blocks([system.explicit(sv) for sv in samples])
    explicit = system.keep.size >= EXPLICIT_FROM and system.gone.size >= EXPLICIT_GONE_RATIO * system.keep.size
    pattern = ExplicitPattern(system) if explicit else None
    if pattern is None:
        chunk = max(1, int(SOLVE_MEMORY_BYTES // (16 * n * (GMRES_BASIS + 4))))
    else:  # the basis lives on the kept unknowns; S's entries, the full x and residuals beside it
        chunk = max(1, int(SOLVE_MEMORY_BYTES // (16 * (system.keep.size * (GMRES_BASIS + 4)
                                                         + pattern.keys.size + 4 * n))))
    kept = np.empty((system.keep.size, k, s.size), dtype=complex)
    for start in range(0, s.size, chunk):
        cols = slice(start, start + chunk)
        batch = None if pattern is None else _LazyBatch(pattern, s[cols])
        for col in range(k):
            x = _solve_chunk(system, col, s[cols], blocks, batch, None if guess is None else guess[:, col, cols])
            kept[:, col, cols] = x[system.keep]
            store(col, cols, x)
    return kept


class _LazyBatch:
    """S formed at a chunk's frequencies (:class:`.explicit.ExplicitBatch`) on first use only:
    a chunk whose guesses all pass the backward-error test never needs it."""

    def __init__(self, pattern: ExplicitPattern, s: np.ndarray) -> None:
        self.pattern, self.s, self.batch = pattern, s, None

    def __call__(self) -> ExplicitBatch:
        if self.batch is None:
            self.batch = ExplicitBatch(self.pattern, self.pattern.values(self.s))
        return self.batch


def _backward_error(system: Condensed, b: np.ndarray, x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The componentwise backward error of full solutions x per frequency (see
    SOLVE_BACKWARD_ERROR), with |M| bounded by |s||E| + |A|."""
    E, A = system.E, system.A
    r = b[:, None] - times(E, x) * s[None, :] + times(A, x)
    ax = np.abs(x)
    size = (system.absE @ ax) * np.abs(s)[None, :] + system.absA @ ax + np.abs(b)[:, None]
    size += SOLVE_FLOOR * size.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(size > 0, np.abs(r) / size, np.where(r != 0, np.inf, 0.0))
    return eta.max(axis=0)


def _solve_chunk(system: Condensed, col: int, s: np.ndarray, blocks: list[np.ndarray],
                 batch: Callable[[], ExplicitBatch] | None = None, guess: np.ndarray | None = None) -> np.ndarray:
    """Full solutions x_f of (s_f E − A) x_f = B[:, col] for one chunk of frequencies (unknowns ×
    frequencies): right-preconditioned GMRES on all of them together (on ``batch()``, S formed
    at these frequencies, when given; from the kept solutions ``guess`` when given, else from
    the preconditioner's), direct LU for the rest. Guesses that pass the backward-error test
    are taken before any preconditioner is built."""
    b = system.B[:, col]
    bk = system.Bk[:, col]
    F = s.size
    x = np.zeros((system.n, F), dtype=complex)
    todo = np.arange(F)
    if guess is not None and not np.any(system.diagonal(s) == 0):
        x[:] = system.expand(guess, s)
        todo = todo[_backward_error(system, b, x, s) > SOLVE_BACKWARD_ERROR]
        if todo.size == 0:
            return x
    try:
        P = BlockJacobi(system, s, blocks) if batch is None else ExplicitBlockJacobi(batch(), blocks)
    except np.linalg.LinAlgError:  # a singular block: nothing to iterate with
        P = None
    if P is not None and not np.any(system.diagonal(s) == 0):
        xk = P.apply(np.repeat(bk[:, None].astype(complex), F, axis=1)) if guess is None else guess.copy()
        first_check = FIRST_CHECK_CYCLE if guess is None and system.keep.size >= LATE_CHECK_FROM else int(guess is not None)
        for cycle in range(GMRES_CYCLES + 1):
            if cycle >= first_check:
                x[:, todo] = system.expand(xk[:, todo], s[todo])
                todo = todo[_backward_error(system, b, x[:, todo], s[todo]) > SOLVE_BACKWARD_ERROR]
                if todo.size == 0 or cycle == GMRES_CYCLES:
                    break
            # The first cycle weighs rows alike (unless x is a guess); later ones each by its size in x.
            weighed = cycle or guess is not None
            size = system.size(xk[:, todo], bk, s[todo]) if weighed else np.ones((bk.size, todo.size))
            weights = 1.0 / (size + SOLVE_FLOOR * size.max(axis=0))
            operator = system if batch is None else batch().columns(todo)
            xk[:, todo] += gmres_cycle(operator, bk, xk[:, todo], s[todo], P.columns(todo), weights,
                                       GMRES_BASIS, SOLVE_BACKWARD_ERROR)
    for f in todo:
        try:
            lu = scipy.sparse.linalg.splu((s[f] * system.E - system.A).tocsc())
        except RuntimeError:
            raise np.linalg.LinAlgError(f"singular at s = {s[f]:.6g} rad/s") from None
        x[:, f] = lu.solve(b.astype(complex))
    return x
