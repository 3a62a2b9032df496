"""Per-part sensitivity of a circuit's H(jω): the first-order derivative (adjoint) and the exact
change when one part alone moves to the edge of its tolerance (rank-one update), from one sparse
LU per frequency.

With M(s) = sE − A and H = S·M⁻¹·B (S selects the observed nets), let x = M⁻¹B and
λ = M⁻ᵀSᵀ. A two-terminal R or C between nets a, b, or an inductor with branch current b,
changes M by α·u·uᵀ (u = e_a − e_b, or e_b): α = s·C·t (C scaled by 1 + t), s·L·t (L), and
−t/((1 + t)·R) (R, stamped as a conductance). Then, exactly (Sherman–Morrison),
ΔH = −α·(λᵀu)(uᵀx) / (1 + α·uᵀM⁻¹u), and dH/d ln(value) is its slope at t = 0. Parts without
such a stamp (a resistor below ``mna.BRANCH_FORM_BELOW_OHM``, a self-loop) get the derivative
from the MNA stamped again with the value scaled by 1 + ``STEP``, and a first-order edge change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg

from .graph import GROUND, CircuitGraph, Component
from .mna import MnaSystem, is_branch, mna_matrices

#: Relative step of the value for a part without a rank-one stamp (its derivative by stamping
#: the MNA again; a resistor's conductance is not linear in R: the error is of this order).
STEP = 1e-7


@dataclass(frozen=True)
class PartResponses:
    """H (outputs × inputs × freqs), and per part (first axis, in the order asked for):
    ``slope`` = dH/d ln(value) and ``edges`` = ΔH with the part at (1 − t) and (1 + t) times its
    value (2 × outputs × inputs × freqs each)."""

    h: np.ndarray
    slope: np.ndarray
    edges: np.ndarray


def part_responses(graph: CircuitGraph, inputs: list[str], outputs: list[str], freqs_hz: np.ndarray,
                   parts: list[tuple[str, float]]) -> PartResponses:
    """:class:`PartResponses` of ``graph`` from ``inputs`` to ``outputs`` (nets) at ``freqs_hz``
    (circuit Hz) for ``parts`` = [(top-level designator, relative tolerance t)]. The graph is
    left as it was."""
    base = mna_matrices(graph, inputs)
    position = {unknown: i for i, unknown in enumerate(base.unknowns)}
    s = 2j * np.pi * np.asarray(freqs_hz, dtype=float)
    n, k, o, p = base.n_unknowns, base.B.shape[1], len(outputs), len(parts)
    observed = np.array([base.index(net) for net in outputs], dtype=np.intp)
    select = np.zeros((n, o))
    select[observed, np.arange(o)] = 1.0
    stamps = [_rank_one(graph.component(name), position) for name, _ in parts]
    # u of each part as two (index, sign) entries (sign 0 pads a one-entry u or a part without one):
    # index arithmetic instead of products with a dense U, which a loaded BLAS makes slow.
    index = np.zeros((p, 2), dtype=np.intp)
    sign = np.zeros((p, 2))
    for col, stamp in enumerate(stamps):
        if stamp is not None:
            index[col, : stamp[0].size], sign[col, : stamp[0].size] = stamp
    touched = np.unique(index[sign != 0])
    where = np.zeros(n, dtype=np.intp)
    where[touched] = np.arange(touched.size)
    unit = np.zeros((n, touched.size))
    unit[touched, np.arange(touched.size)] = 1.0
    x_all, lam_all, inverse = _solves(base, s, select, unit)  # each f × n × (k, o, touched)
    h = np.transpose(x_all[:, observed, :], (1, 2, 0))
    left = np.einsum("pe,fpeo->pof", sign, lam_all[:, index, :])  # λᵀu
    right = np.einsum("pe,fpek->pkf", sign, x_all[:, index, :])  # uᵀx
    gamma = np.zeros((p, s.size), dtype=complex)  # uᵀM⁻¹u
    for a in range(2):
        for b in range(2):
            gamma += (sign[:, a] * sign[:, b])[:, None] * inverse[:, index[:, a], where[index[:, b]]].T
    slope = np.empty((p, o, k, s.size), dtype=complex)
    edges = np.empty((p, 2, o, k, s.size), dtype=complex)
    for col, ((name, tol), stamp) in enumerate(zip(parts, stamps)):
        comp = graph.component(name)
        if stamp is None:
            slope[col] = _restamped_slope(graph, comp, inputs, base, x_all, lam_all, s)
            edges[col] = np.stack([-tol * slope[col], tol * slope[col]])
            continue
        outer = left[col][:, None, :] * right[col][None, :, :]
        slope[col] = -_alpha(comp, s, None) * outer
        for e, t in enumerate((-tol, tol)):
            alpha = _alpha(comp, s, t)
            edges[col, e] = -alpha * outer / (1.0 + alpha * gamma[col])
    return PartResponses(h, slope, edges)


#: Up to this many unknowns the solves are dense and batched over the frequencies (LAPACK per
#: small matrix, no per-frequency Python loop); above, one sparse LU per frequency.
DENSE_UNKNOWNS = 100


def _solves(base: MnaSystem, s: np.ndarray, select: np.ndarray, unit: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """M⁻¹B, M⁻ᵀ·select and M⁻¹·unit at every s (frequency first), M = sE − A."""
    n = base.n_unknowns
    if n <= DENSE_UNKNOWNS:
        M = s[:, None, None] * base.E - base.A
        stack = lambda a: np.broadcast_to(a.astype(complex), (s.size, *a.shape))  # noqa: E731
        return (np.linalg.solve(M, stack(base.B)), np.linalg.solve(np.transpose(M, (0, 2, 1)), stack(select)),
                np.linalg.solve(M, stack(unit)))
    x = np.empty((s.size, n, base.B.shape[1]), dtype=complex)
    lam = np.empty((s.size, n, select.shape[1]), dtype=complex)
    inverse = np.empty((s.size, n, unit.shape[1]), dtype=complex)
    for i, sk in enumerate(s):  # one sparse LU per frequency: direct, adjoint and part solves
        lu = scipy.sparse.linalg.splu((sk * base.E_sparse - base.A_sparse).tocsc())
        x[i], lam[i], inverse[i] = _solve(lu, base.B), _solve(lu, select, "T"), _solve(lu, unit)
    return x, lam, inverse


#: Right-hand sides per SuperLU call: measured 500× faster than one call with 318 columns
#: (tactile demo, 124 unknowns; SciPy 1.17), and 10× faster than column by column.
SOLVE_BLOCK = 16


def _solve(lu, rhs: np.ndarray, trans: str = "N") -> np.ndarray:
    """``lu.solve`` of a dense (n × m) right-hand side, complex, in blocks of SOLVE_BLOCK columns."""
    out = np.empty(rhs.shape, dtype=complex)
    for start in range(0, rhs.shape[1], SOLVE_BLOCK):
        block = np.asfortranarray(rhs[:, start:start + SOLVE_BLOCK], dtype=complex)
        out[:, start:start + SOLVE_BLOCK] = lu.solve(block, trans=trans)
    return out


def _rank_one(comp: Component, position: dict[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(indices, entries) of u for ``comp``'s rank-one stamp, or None without one."""
    if comp.kind == "L":
        names = [comp.name, *(comp.part.pair_parts if comp.part is not None else ())]
        branch = next((position[f"i({n})"] for n in names if f"i({n})" in position), None)
        return None if branch is None else (np.array([branch]), np.array([1.0]))
    if comp.kind not in "RC" or is_branch(comp) or comp.nodes[0] == comp.nodes[1]:
        return None
    ends = [(position.get(f"v({net})"), sign) for net, sign in zip(comp.nodes[:2], (1.0, -1.0)) if net != GROUND]
    if any(index is None for index, _ in ends):
        return None
    return np.array([i for i, _ in ends]), np.array([sign for _, sign in ends])


def _alpha(comp: Component, s: np.ndarray, t: float | None) -> np.ndarray:
    """The weight α of u·uᵀ in ΔM with ``comp`` scaled by 1 + t; t None: dα/dt at t = 0."""
    v = comp.value
    if comp.kind == "R":
        return np.full(s.shape, -1.0 / v if t is None else -t / ((1.0 + t) * v), dtype=complex)
    return s * v * (1.0 if t is None else t)


def _restamped_slope(graph: CircuitGraph, comp: Component, inputs: list[str], base: MnaSystem,
                     x: np.ndarray, lam: np.ndarray, s: np.ndarray) -> np.ndarray:
    """dH/d ln(value) of ``comp`` from the MNA stamped again with its value × (1 + STEP)."""
    value = comp.value
    comp.value = value * (1.0 + STEP)
    try:
        moved = mna_matrices(graph, inputs)
    finally:
        comp.value = value
    e_rows, e_cols, d_e = _changed(moved.stamps_E, base.stamps_E)
    a_rows, a_cols, d_a = _changed(moved.stamps_A, base.stamps_A)
    rows, cols = np.r_[e_rows, a_rows], np.r_[e_cols, a_cols]
    dm = s[:, None] * np.r_[d_e, np.zeros(d_a.size)][None, :] - np.r_[np.zeros(d_e.size), d_a][None, :]
    return -np.einsum("feo,fe,fek->okf", lam[:, rows, :], dm, x[:, cols, :]) / STEP


def _changed(moved, base) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, differences) of the stamps that differ between two stampings of one graph
    (same stamps in the same order: only values change)."""
    if moved.data.shape != base.data.shape:  # a resistor crossed the branch-form threshold
        diff = (moved.tocsr() - base.tocsr()).tocoo()
        return diff.row, diff.col, diff.data
    delta = moved.data - base.data
    keep = np.nonzero(delta)[0]
    return base.row[keep], base.col[keep], delta[keep]


def band_power(h: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ over inputs and frequencies of weight·|H|², per output: the band power (the RMS squared,
    up to a constant) of an input whose spectrum the weights sample."""
    return np.sum(np.abs(h) ** 2 * weights, axis=(-2, -1))


def rms_log_slope(h: np.ndarray, slope: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """d ln(band RMS) / d ln(value), parts × outputs: Re Σ w·conj(H)·dH / Σ w·|H|²."""
    power = band_power(h, weights)
    power = np.where(power > 0, power, 1.0)
    return np.real(np.einsum("okf,pokf,f->po", np.conj(h), slope, weights)) / power[None, :]


def rms_log_edges(h: np.ndarray, edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ln(band RMS with the part at each edge / nominal), parts × 2 × outputs."""
    power = band_power(h, weights)
    power = np.where(power > 0, power, 1.0)
    return 0.5 * np.log(band_power(h[None, None] + edges, weights) / power[None, None, :])


def resolving_grid(lo_hz: float, hi_hz: float, poles: np.ndarray, points: int, reach: float,
                   most: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in Hz, trapezoid weights in ln f) over [lo_hz, hi_hz]: ``points`` log-spaced,
    plus, around every pole whose frequency lies in the band, points every ζ/2 (relative; ζ =
    its damping ratio; at most 24 a side, spread wider where that is too few) over
    ±max(4ζ, ``reach``) (at most ±50 %), so a resonance is resolved where it is and where a
    part's tolerance may move it, in the order given, while the total stays within ``most``.
    Weights: equal power per octave (a pink input)."""
    grid = [np.geomspace(lo_hz, hi_hz, points)]
    for pole in poles:
        f0, zeta = abs(pole) / (2 * np.pi), -pole.real / max(abs(pole), 1e-300)
        if pole.imag <= 0 or not lo_hz <= f0 <= hi_hz or zeta <= 0:
            continue
        step = max(zeta / 2, 1e-4)
        span = min(max(4 * zeta, reach), 0.5)
        count = min(int(np.ceil(span / step)), 24)
        if sum(g.size for g in grid) + 2 * count + 1 > most:
            break
        grid.append(f0 * np.exp(np.linspace(-span, span, 2 * count + 1)))
    freqs = np.unique(np.clip(np.concatenate(grid), lo_hz, hi_hz))
    x = np.log(freqs)
    weights = np.zeros(freqs.size)
    if freqs.size > 1:
        gaps = np.diff(x)
        weights[:-1] += gaps / 2
        weights[1:] += gaps / 2
    else:
        weights[:] = 1.0
    return freqs, weights
