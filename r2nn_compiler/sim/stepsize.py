"""ngspice's timestep for a transient run, chosen from an accuracy target.

ngspice integrates with the trapezoidal rule. Run with a fixed step ``h = Ts / k`` (``k`` steps
per input sample period ``Ts``; ``NgspiceNetlister.testbench(fixed_step=True)``) on a linear
circuit ``dx/dt = A x + B u`` driven by an input linear between samples, the rule is itself a
linear discrete system from the samples to the state at the sample times: the augmented state
``(x, u, Δu)`` obeys a linear ODE whose input part the rule integrates exactly, so one
trapezoidal step is ``(I − hA'/2)⁻¹ (I + hA'/2)`` of the augmented matrix ``A'`` and a sample
period is its ``k``-th power. Simulating that system next to the exact first-order-hold one
gives the NRMSE ngspice will show *before* running it; its error falls as ``k⁻²``.

Measured (8 all-coupled resonators up to 3.1 kHz, Q up to 30, 1 s of white noise at 16 kHz,
ngspice 39, fixed step): predicted NRMSE 2.235e-2, 5.588e-3, 1.397e-3, 3.49e-4 at k = 10, 20,
40, 80; ngspice's own 2.24e-2, 5.60e-3, 1.40e-3, 3.50e-4. ngspice's time points do not fall on
the sample times (its first steps are shorter) and its traces are interpolated there; both
effects are far below the integration error. On the random test models (seeds 0–7, exact
decks against the model, hardware decks against their MNA) ngspice came within 0.6 % of the
prediction, within 3.4 % at the coarsest step chosen (k = 5).

Units: time in seconds, the system's own units otherwise. Knows nothing about models.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from ..numerics.foh import FohDiscretisation, modal_ok, simulate_foh
from ..numerics.statespace import StateSpace

#: Fewest fixed steps per period of the system's highest resonance, whatever the error says:
#: traces (op-amp peaks) stay resolved where the outputs are smooth, e.g. for a slow tone.
MIN_STEPS_PER_RESONANCE = 8

#: Most steps per sample the search will choose; a target needing more is refused.
MAX_SUBSTEPS = 4096

#: Steps per sample of the first trial: where audio-band models at ~16 kHz are in the k⁻²
#: regime, so the second trial usually lands on the answer.
FIRST_TRIAL = 16


def trapezoidal_discretisation(A: np.ndarray, B: np.ndarray, dt: float, substeps: int) -> FohDiscretisation:
    """The trapezoidal rule with ``substeps`` equal steps per sample period ``dt`` (s), for an
    input linear between samples, in the FOH form ``x[k+1] = Φ x[k] + Γ1 u[k] + Γ2 (u[k+1] − u[k])``."""
    n, m = B.shape
    augmented = np.zeros((n + 2 * m, n + 2 * m))
    augmented[:n, :n] = A
    augmented[:n, n : n + m] = B
    augmented[n : n + m, n + m :] = np.eye(m) / dt  # u(t) = u[k] + (t/dt)·Δu within the period
    h = dt / substeps
    eye = np.eye(n + 2 * m)
    step = np.linalg.solve(eye - 0.5 * h * augmented, eye + 0.5 * h * augmented)
    period = np.linalg.matrix_power(step, substeps)
    return FohDiscretisation(period[:n, :n], period[:n, n : n + m], period[:n, n + m :])


def simulate_discretisation(system: StateSpace, disc: FohDiscretisation, u: np.ndarray) -> np.ndarray:
    """Outputs (signals × outputs × samples) of ``disc`` (with ``system``'s C and D) from zero
    state, for ``u`` (signals × inputs × samples)."""
    n_sig, _, n_t = u.shape
    x = np.zeros((n_sig, system.n_states))
    y = np.empty((n_sig, system.n_outputs, n_t))
    y[:, :, 0] = 0.0
    phi = disc.Phi.T
    g1, g2 = (disc.Gamma1 - disc.Gamma2).T, disc.Gamma2.T
    chunk = 1024  # bounds the memory of the precomputed input terms
    for start in range(0, n_t - 1, chunk):
        stop = min(start + chunk, n_t - 1)
        drive = (np.einsum("skt,kn->tsn", u[:, :, start:stop], g1)
                 + np.einsum("skt,kn->tsn", u[:, :, start + 1 : stop + 1], g2))
        states = np.empty((stop - start, n_sig, system.n_states))
        for i in range(stop - start):
            x = x @ phi + drive[i]
            states[i] = x
        y[:, :, start + 1 : stop + 1] = np.einsum("pn,tsn->spt", system.C, states)
    return y + np.einsum("pk,skt->spt", system.D, u)


def simulate_trapezoidal(system: StateSpace, u: np.ndarray, dt: float, substeps: int) -> np.ndarray:
    """What :func:`simulate_discretisation` of :func:`trapezoidal_discretisation` gives, computed
    over the eigenmodes of ``A`` (one first-order filter each, run by scipy in C: ~10× faster
    than the state recursion in Python) when they are well conditioned, else by that recursion."""
    if not modal_ok(system.A):
        return simulate_discretisation(system, trapezoidal_discretisation(system.A, system.B, dt, substeps), u)
    lam, V = np.linalg.eig(system.A)
    keep = lam.imag >= 0  # a conjugate pair is one mode, counted twice
    weight = np.where(lam.imag > 0, 2.0, 1.0)[keep]
    lam = lam[keep]
    Bm = np.linalg.solve(V, system.B.astype(complex))[keep]  # modes × inputs
    Cm = (system.C @ V)[:, keep] * weight[None, :]  # outputs × modes
    # Each mode's trapezoidal period, from its augmented 3 × 3 system (state, input, slope).
    h = dt / substeps
    aug = np.zeros((lam.size, 3, 3), dtype=complex)
    aug[:, 0, 0], aug[:, 0, 1], aug[:, 1, 2] = lam, 1.0, 1.0 / dt
    eye = np.eye(3)
    period = np.linalg.matrix_power(np.linalg.solve(eye - 0.5 * h * aug, eye + 0.5 * h * aug), substeps)
    a, g1, g2 = period[:, 0, 0], period[:, 0, 1], period[:, 0, 2]
    n_sig, _, n_t = u.shape
    y = np.zeros((n_sig, system.n_outputs, n_t))
    chunk = 16  # modes at a time: bounds the memory of their complex traces
    for start in range(0, lam.size, chunk):
        modes = range(start, min(start + chunk, lam.size))
        v = np.tensordot(Bm[modes.start : modes.stop], u.astype(complex), axes=([1], [1]))  # modes × signals × t
        x = np.empty_like(v)
        for i, m in enumerate(modes):
            # x[t] = a x[t-1] + g2 v[t] + (g1 - g2) v[t-1] from x[0] = 0: the filter's initial
            # condition cancels its first output, g2 v[0].
            x[i], _ = scipy.signal.lfilter([g2[m], g1[m] - g2[m]], [1.0, -a[m]], v[i], axis=-1,
                                           zi=-g2[m] * v[i, :, :1])
        y += np.moveaxis(np.tensordot(Cm[:, modes.start : modes.stop], x, axes=([1], [0])).real, 0, 1)
    return y + np.einsum("pk,skt->spt", system.D, u)


def _nrmse(y: np.ndarray, exact: np.ndarray) -> np.ndarray:
    err = np.sqrt(np.mean((y - exact) ** 2, axis=-1))
    scale = np.sqrt(np.mean(exact**2, axis=-1))
    return np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), err)


def integration_error(system: StateSpace, u: np.ndarray, dt: float, substeps: int,
                      exact: np.ndarray | None = None) -> np.ndarray:
    """NRMSE (signals × outputs) of the trapezoidal rule at ``dt/substeps`` against the exact
    solution (``exact``, or simulated here) at the sample times."""
    if exact is None:
        exact = simulate_foh(system, u, dt)
    return _nrmse(simulate_trapezoidal(system, u, dt, substeps), exact)


def choose_substeps(system: StateSpace, u: np.ndarray, dt: float, accuracy: float, f_max_hz: float = 0.0
                    ) -> tuple[int, float]:
    """Fewest steps per sample period ``dt`` (s) whose predicted NRMSE on every signal and
    output of ``u`` (signals × inputs × samples) is at most ``accuracy``, and at least
    MIN_STEPS_PER_RESONANCE per period of ``f_max_hz``. Returns ``(substeps, predicted NRMSE)``.

    The error falls as k⁻² once the steps resolve the resonances, so each trial says where to
    look next (from FIRST_TRIAL, usually two or three trials); the best guess that holds wins,
    else the guess is raised by 10 % until it holds. Raises ValueError for an accuracy that is
    not positive or would need more than MAX_SUBSTEPS.
    """
    if not accuracy > 0:
        raise ValueError(f"accuracy must be positive, got {accuracy!r}")
    exact = simulate_foh(system, u, dt)
    errors: dict[int, float] = {}

    def trial(k: int) -> float:
        if k not in errors:
            errors[k] = float(np.max(integration_error(system, u, dt, k, exact), initial=0.0))
        return errors[k]

    floor = max(1, math.ceil(MIN_STEPS_PER_RESONANCE * f_max_hz * dt - 1e-9))
    k = max(floor, FIRST_TRIAL)
    trial(k)
    for _ in range(3):
        k = min(MAX_SUBSTEPS, max(floor, math.ceil(k * math.sqrt(errors[k] / accuracy) * (1 - 1e-12))))
        if k in errors:
            break
        trial(k)
    good = [k for k, e in errors.items() if e <= accuracy]
    if good:
        return min(good), errors[min(good)]
    k = max(errors)
    while k < MAX_SUBSTEPS:
        k = min(MAX_SUBSTEPS, math.ceil(k * 1.1))
        if trial(k) <= accuracy:
            return k, errors[k]
    raise ValueError(f"an accuracy of {accuracy:g} needs more than {MAX_SUBSTEPS} steps per sample")
