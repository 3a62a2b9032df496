"""State-space form of a Model and its stability check.

State vector ``[x_0 … x_{N-1}, v_0 … v_{N-1}]`` (displacements in m, velocities in m/s), inputs
in model order, outputs = the velocities of the resonators the readout reads,
:attr:`Model.read_nodes <r2nn_compiler.model.ir.Model.read_nodes>`: the output resonators in
model order (unweighted: the readout weights apply to features, see :mod:`.readout`), or for a
linear readout each resonator its features read, once, in order of first use.

What each check costs and which cheaper argument it tries first: ``docs/numerics.md``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse

from ..errors import ModelError
from ..model.ir import Model
from ..numerics.spectral_bounds import gershgorin_bounds, positive_definite
from ..numerics.statespace import StateSpace

#: Up to this many states (128 resonators) :func:`largest_pole_magnitude` and
#: :func:`ringing_frequencies_hz` take every eigenvalue (dense, exact to rounding, ~0.05 s);
#: above, a bound from Gershgorin discs and each resonator's own frequency (see there).
DENSE_EIG_STATES = 256

#: The energy certificate accepts a symmetric matrix as positive definite only when, scaled to a
#: unit diagonal, its smallest eigenvalue is at least this (so rounding cannot fake it).
CERTIFICATE_MARGIN = 1e-9


def mechanical_matrices(model: Model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(M, Cd, K, Bf)``: mass (diagonal), damping and stiffness matrices (N×N, with the
    couplings' graph Laplacians) and the force-per-input matrix (N × inputs), so that
    ``M v' = Bf u − Cd v − K x``."""
    n = len(model.resonators)
    index = {r.name: i for i, r in enumerate(model.resonators)}
    M = np.diag([r.mass for r in model.resonators])
    Cd = np.diag([r.damping for r in model.resonators])
    K = np.diag([r.stiffness for r in model.resonators])
    for c in model.couplings:
        i, j = index[c.a], index[c.b]
        target = Cd if c.kind == "damper" else K
        target[i, i] += c.value
        target[j, j] += c.value
        target[i, j] -= c.value
        target[j, i] -= c.value
    Bf = np.zeros((n, len(model.inputs)))
    for k, inp in enumerate(model.inputs):
        for node, weight in inp.drives:
            Bf[index[node], k] += weight
    return M, Cd, K, Bf


def sparse_mechanical_matrices(model: Model) -> tuple[np.ndarray, scipy.sparse.csr_array, scipy.sparse.csr_array,
                                                       np.ndarray]:
    """``(m, Cd, K, Bf)`` as :func:`mechanical_matrices` but with the masses as a vector and the
    damping and stiffness matrices sparse (N × N CSR; O(N + couplings) memory)."""
    n = len(model.resonators)
    index = {r.name: i for i, r in enumerate(model.resonators)}
    masses = np.array([r.mass for r in model.resonators], dtype=float)
    rows = {"damper": [list(range(n)), [r.damping for r in model.resonators]],
            "spring": [list(range(n)), [r.stiffness for r in model.resonators]]}
    cols = {"damper": list(range(n)), "spring": list(range(n))}
    for c in model.couplings:
        i, j = index[c.a], index[c.b]
        r, v = rows[c.kind]
        r += [i, j, i, j]
        cols[c.kind] += [i, j, j, i]
        v += [c.value, c.value, -c.value, -c.value]
    Cd, K = (scipy.sparse.csr_array((np.array(rows[k][1], dtype=float), (rows[k][0], cols[k])), shape=(n, n))
             for k in ("damper", "spring"))
    Bf = np.zeros((n, len(model.inputs)))
    for k, inp in enumerate(model.inputs):
        for node, weight in inp.drives:
            Bf[index[node], k] += weight
    return masses, Cd, K, Bf


def descriptor_matrices(model: Model) -> tuple[scipy.sparse.csr_array, scipy.sparse.csr_array, np.ndarray,
                                                scipy.sparse.csr_array]:
    """``(E, A, B, C)``, sparse, with ``E dx/dt = A x + B u``, ``y = C x`` the same system as
    :func:`state_space` (same states, inputs and outputs) without dividing by the masses:
    ``E = diag(I, M)``, ``A = [[0, I], [−K, −Cd]]``, ``B = [0; Bf]``."""
    masses, Cd, K, Bf = sparse_mechanical_matrices(model)
    n = masses.size
    eye = scipy.sparse.identity(n, format="csr")
    E = scipy.sparse.block_diag([eye, scipy.sparse.diags_array(masses)], format="csr")
    A = scipy.sparse.block_array([[None, eye], [-K, -Cd]], format="csr")
    B = np.vstack([np.zeros_like(Bf), Bf])
    index = {r.name: i for i, r in enumerate(model.resonators)}
    cols = [n + index[node] for node in model.read_nodes]
    C = scipy.sparse.csr_array((np.ones(len(cols)), (np.arange(len(cols)), cols)), shape=(len(cols), 2 * n))
    return E, A, B, C


def state_space(model: Model) -> StateSpace:
    """The model as ``dx/dt = A x + B u``, ``y = C x``; outputs: the velocities of
    ``model.read_nodes`` (the output resonators, or the resonators a linear readout reads)."""
    M, Cd, K, Bf = mechanical_matrices(model)
    n = M.shape[0]
    with np.errstate(over="ignore"):
        minv = 1.0 / np.diag(M)
    A = np.zeros((2 * n, 2 * n))
    A[:n, n:] = np.eye(n)
    with np.errstate(over="ignore", invalid="ignore"):  # check_representable names the culprit
        A[n:, :n] = -minv[:, None] * K
        A[n:, n:] = -minv[:, None] * Cd
    B = np.zeros((2 * n, Bf.shape[1]))
    with np.errstate(over="ignore", invalid="ignore"):
        B[n:] = minv[:, None] * Bf
    index = {r.name: i for i, r in enumerate(model.resonators)}
    read = model.read_nodes
    C = np.zeros((len(read), 2 * n))
    for j, node in enumerate(read):
        C[j, n + index[node]] = 1.0
    return StateSpace(A, B, C, np.zeros((C.shape[0], B.shape[1])))


def stability_margin(model: Model) -> tuple[float, complex]:
    """``(margin, pole)``: −max Re(pole) in 1/s (positive when stable) and the pole attaining it."""
    poles = state_space(model).poles()
    worst = poles[0]
    return -float(worst.real), complex(worst)


def check_representable(model: Model) -> None:
    """Raise ModelError naming the first resonator whose k/m, c/m or coupling/m overflows double
    precision (values each finite, ratios not: e.g. m = 1e-320). O(N + couplings): the rows
    of :func:`state_space`'s A and B that would hold a non-finite entry, found on the sparse
    matrices (an infinite 1/m spoils its whole row, zeros included, as inf·0 = nan would)."""
    masses, Cd, K, Bf = sparse_mechanical_matrices(model)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        minv = 1.0 / masses
        bad = ~np.isfinite(minv) | ~np.all(np.isfinite(minv[:, None] * Bf), axis=1)
        for S in (K, Cd):
            coo = S.tocoo()
            spoiled = ~np.isfinite(minv[coo.row] * coo.data)
            bad[coo.row[spoiled]] = True
    if not bad.any():
        return
    r = model.resonators[int(np.flatnonzero(bad)[0])]
    raise ModelError(f"resonator {r.name!r}: values overflow double precision (mass {r.mass!r} with stiffness "
                     f"{r.stiffness!r}, damping {r.damping!r}): rescale the model", r.where("mass") or model.loc)


def passive_certificate(model: Model) -> bool:
    """True when the model is provably stable by its energy: masses positive and the damping and
    stiffness matrices positive definite (by :data:`CERTIFICATE_MARGIN`). Then every eigenvalue
    λ with eigenvector v solves m·λ² + c·λ + k = 0 with m = v*Mv, c = v*Cd·v, k = v*Kv all
    positive (the matrices are symmetric), whose roots have negative real parts. False says
    nothing (negative couplings, an undamped resonator): the eigenvalues must decide.

    Cost: two Cholesky factorisations of N × N matrices (dense; O(N³/3), ~0.1 s at N = 1024).
    """
    masses, Cd, K, _ = sparse_mechanical_matrices(model)
    if not (np.all(np.isfinite(masses)) and np.all(masses > 0)):
        return False
    return all(positive_definite(S, CERTIFICATE_MARGIN) for S in (Cd, K))


def largest_pole_magnitude(model: Model) -> float:
    """max |pole| in rad/s (0 for a model without states), for choosing a simulation step.

    Up to DENSE_EIG_STATES states (and for models without the :func:`passive_certificate`)
    from every eigenvalue, exact to rounding. Above, an upper bound in O(N + couplings): a pole
    solves m·λ² + c·λ + k = 0 (see :func:`passive_certificate`), so |λ| = √(k/m) ≤ √κ when
    complex and |λ| ≤ c/m ≤ ρ when real, κ and ρ the largest eigenvalues of M⁻¹K and M⁻¹Cd,
    bounded in turn by Gershgorin's discs (:func:`..numerics.spectral_bounds.gershgorin_bounds`).
    The bound is tight when the couplings are weak against each resonator's own spring; a step
    chosen from it is never too long.
    """
    n = len(model.resonators)
    if 2 * n > DENSE_EIG_STATES and passive_certificate(model):
        masses, Cd, K, _ = sparse_mechanical_matrices(model)
        kappa, rho = (gershgorin_bounds(S, masses)[1] for S in (K, Cd))
        return max(math.sqrt(kappa), rho)
    poles = state_space(model).poles()
    return float(np.abs(poles).max(initial=0.0))


def ringing_frequencies_hz(model: Model) -> np.ndarray:
    """|Im λ| / 2π in Hz for every pole λ (a complex pair twice, a real pole as 0), up to
    DENSE_EIG_STATES states. Above (every pole would cost O(N³)), one per resonator: its damped
    natural frequency with its couplings' share on the diagonal, √(K_ii/m_i − (Cd_ii/2m_i)²)/2π
    (0 when overdamped), exact without couplings and close while they are weak."""
    n = len(model.resonators)
    if 2 * n <= DENSE_EIG_STATES:
        return np.abs(state_space(model).poles().imag) / (2 * math.pi)
    masses, Cd, K, _ = sparse_mechanical_matrices(model)
    w2 = K.diagonal() / masses - (Cd.diagonal() / (2 * masses)) ** 2
    return np.sqrt(np.maximum(w2, 0.0)) / (2 * math.pi)


def check_stable(model: Model) -> Model:
    """Return ``model``, or raise ModelError naming the eigenvalue with real part ≥ 0 (or the
    resonator whose values overflow, see :func:`check_representable`).

    Models with the :func:`passive_certificate` skip the eigenvalues (O(N³) either way, but a
    Cholesky factorisation of N × N is ~100× cheaper than the eigenvalues of 2N × 2N)."""
    check_representable(model)
    if passive_certificate(model):
        return model
    margin, pole = stability_margin(model)
    if margin <= 0:
        freq = abs(pole.imag) / (2 * math.pi)
        raise ModelError(
            f"model {model.name!r} is unstable: eigenvalue {pole.real:.6g}{pole.imag:+.6g}j rad/s "
            f"grows at {pole.real:.6g} 1/s at {freq:.6g} Hz (every eigenvalue needs real part < 0)",
            model.loc,
        )
    return model


#: A slowest pole with a quality factor above this draws a "nearly unstable" warning: part
#: tolerances of a few percent then move it across the axis easily.
NEAR_UNSTABLE_Q = 500.0


def stability_warning(model: Model) -> str | None:
    """A one-line warning when the model is stable but only just (slowest pole's Q above
    NEAR_UNSTABLE_Q), else None.

    With the :func:`passive_certificate`, no pole's Q exceeds √κ/γ, κ the largest eigenvalue of
    M⁻¹K and γ the smallest of M⁻¹Cd (a pole's Q is √(mk)/c for the quadratic there, or ½
    when it is real), both bounded by Gershgorin's discs; when that bound is below
    NEAR_UNSTABLE_Q the answer is None in O(N + couplings), else the eigenvalues decide."""
    if _q_bound(model) <= NEAR_UNSTABLE_Q:
        return None
    margin, pole = stability_margin(model)
    if margin <= 0 or pole.imag == 0:
        return None
    q = abs(pole) / (2 * margin)
    if q <= NEAR_UNSTABLE_Q:
        return None
    return (f"model {model.name!r} is nearly unstable: its slowest pole decays at {margin:.4g} 1/s at "
            f"{abs(pole.imag) / (2 * math.pi):.6g} Hz (Q ≈ {q:.0f}); part tolerances may make the circuit oscillate")


def _q_bound(model: Model) -> float:
    """An upper bound on every pole's Q (see :func:`stability_warning`); inf when the model
    has no passive certificate or the bound is not finite."""
    if not passive_certificate(model):
        return math.inf
    masses, Cd, K, _ = sparse_mechanical_matrices(model)
    kappa, gamma = gershgorin_bounds(K, masses)[1], gershgorin_bounds(Cd, masses)[0]
    return math.sqrt(kappa) / gamma if gamma > 0 else math.inf
