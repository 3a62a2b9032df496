"""State-space form of a Model and its stability check.

State vector ``[x_0 … x_{N-1}, v_0 … v_{N-1}]`` (displacements in m, velocities in m/s), inputs
in model order, outputs = the velocities of the output resonators in model order (unweighted:
the readout weights apply to features, see :mod:`.readout`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..lti import StateSpace
from ..model.ir import Model


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


def state_space(model: Model) -> StateSpace:
    """The model as ``dx/dt = A x + B u``, ``y = C x`` (outputs: output resonators' velocities)."""
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
    C = np.zeros((len(model.outputs), 2 * n))
    for j, out in enumerate(model.outputs):
        C[j, n + index[out.node]] = 1.0
    return StateSpace(A, B, C, np.zeros((C.shape[0], B.shape[1])))


def stability_margin(model: Model) -> tuple[float, complex]:
    """``(margin, pole)``: −max Re(pole) in 1/s (positive when stable) and the pole attaining it."""
    poles = state_space(model).poles()
    worst = poles[0]
    return -float(worst.real), complex(worst)


def check_representable(model: Model) -> None:
    """Raise ModelError naming the first resonator whose k/m, c/m or coupling/m overflows double
    precision (values each finite, ratios not: e.g. m = 1e-320)."""
    ss = state_space(model)
    if np.all(np.isfinite(ss.A)) and np.all(np.isfinite(ss.B)):
        return
    n = len(model.resonators)
    bad_rows = np.flatnonzero(~np.all(np.isfinite(ss.A[n:]), axis=1) | ~np.all(np.isfinite(ss.B[n:]), axis=1))
    r = model.resonators[int(bad_rows[0])] if bad_rows.size else model.resonators[0]
    raise ModelError(f"resonator {r.name!r}: values overflow double precision (mass {r.mass!r} with stiffness "
                     f"{r.stiffness!r}, damping {r.damping!r}): rescale the model", r.where("mass") or model.loc)


def check_stable(model: Model) -> Model:
    """Return ``model``, or raise ModelError naming the eigenvalue with real part ≥ 0 (or the
    resonator whose values overflow, see :func:`check_representable`)."""
    check_representable(model)
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
    NEAR_UNSTABLE_Q), else None."""
    margin, pole = stability_margin(model)
    if margin <= 0 or pole.imag == 0:
        return None
    q = abs(pole) / (2 * margin)
    if q <= NEAR_UNSTABLE_Q:
        return None
    return (f"model {model.name!r} is nearly unstable: its slowest pole decays at {margin:.4g} 1/s at "
            f"{abs(pole.imag) / (2 * math.pi):.6g} Hz (Q ≈ {q:.0f}); part tolerances may make the circuit oscillate")
