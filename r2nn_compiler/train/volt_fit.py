"""The multinomial logistic fit with weights bounded in the readings' own units (1/V for volts).

A readout realised by analog sums computes s_j = β_j + Σ_f A_jf ψ_f on readings ψ that carry
errors in volts (op-amp offsets, comparator hysteresis, the cells' law errors), so a weight's
size in 1/V is what the hardware pays: an error δψ_f moves the score by A_jf δψ_f. This fit
works on the raw readings (centred; the bias takes the mean), so its L2 penalty (l2/2)·‖A‖² is
in 1/V², and it bounds every |A_jf| by ``max_weight`` (box constraints, L-BFGS-B); the problem
stays convex. :func:`choose_l2` picks l2 by stratified cross-validation (the folds of
:func:`.logistic.folds`) with the same bound in every fold. (A fit on standardised readings
gives a feature that varies by mV over the clips hundreds per volt: docs/diode-law.md.)
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from . import logistic
from .logistic import LinearScores

#: L2 weights (per V² of weight, against a mean cross-entropy) :func:`choose_l2` tries.
L2_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
#: L-BFGS-B iterations per fit, and its projected-gradient tolerance.
MAX_ITERATIONS = 20000
GRADIENT_TOLERANCE = 1e-9


def fit(x: np.ndarray, labels: np.ndarray, n_classes: int, l2: float, max_weight: float | None,
        start: LinearScores | None = None) -> LinearScores:
    """(weights, bias) minimising mean cross-entropy + (l2/2)·‖weights‖² on the readings ``x``
    (clips × features, in their units, e.g. V), every |weight| ≤ ``max_weight`` (per unit; None:
    unbounded). The readings are centred inside (the bias returned is for the raw readings)."""
    n_feat = x.shape[1]
    mean = x.mean(axis=0)
    z = x - mean
    x0 = np.zeros(n_classes * (n_feat + 1))
    if start is not None:
        x0 = np.concatenate([start.weights.ravel(), start.bias + start.weights @ mean])

    unpack, loss = logistic.objective(z, labels, n_classes, l2)
    box = (-max_weight, max_weight) if max_weight is not None else (None, None)
    bounds = [box] * (n_classes * n_feat) + [(None, None)] * n_classes
    if max_weight is not None:
        x0[: n_classes * n_feat] = np.clip(x0[: n_classes * n_feat], -max_weight, max_weight)
    v = scipy.optimize.minimize(loss, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": MAX_ITERATIONS, "maxfun": 2 * MAX_ITERATIONS,
                                         "gtol": GRADIENT_TOLERANCE, "ftol": 1e-15}).x
    out = unpack(v)
    return LinearScores(out.weights, out.bias - out.weights @ mean)


def choose_l2(x: np.ndarray, labels: np.ndarray, n_classes: int, max_weight: float | None, seed: int = 0,
              grid: tuple[float, ...] = L2_GRID, n_folds: int = logistic.FOLDS) -> float:
    """The grid value of l2 whose bounded fits (:func:`fit`) have the lowest mean cross-entropy
    on held-out stratified folds (seeded; the first on ties); the first grid value when there
    are too few clips to fold."""
    parts = logistic.folds(labels, max(2, min(n_folds, int(np.bincount(labels).max()))), seed)
    if len(parts) < 2:
        return grid[0]
    losses = {l2: 0.0 for l2 in grid}
    for held in parts:
        keep = np.setdiff1d(np.arange(labels.size), held)
        model = None
        for l2 in sorted(grid, reverse=True):
            model = fit(x[keep], labels[keep], n_classes, l2, max_weight, model)
            scores = model.scores(x[held])
            log_prob = scores - scores.max(axis=1, keepdims=True)
            log_prob -= np.log(np.exp(log_prob).sum(axis=1, keepdims=True))
            losses[l2] -= float(np.sum(log_prob[np.arange(held.size), labels[held]]))
    return min(grid, key=lambda l2: losses[l2])


__all__ = ["GRADIENT_TOLERANCE", "L2_GRID", "MAX_ITERATIONS", "choose_l2", "fit"]
