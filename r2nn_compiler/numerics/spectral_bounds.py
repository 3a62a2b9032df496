"""Cheap spectral facts about sparse symmetric matrices: a positive-definiteness test with a margin
and Gershgorin bounds on the eigenvalues of ``diag(m)⁻¹·S``. Dimensionless apart from ``S``'s
own units (the bounds are in S's units per unit of ``m``)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse


def positive_definite(S: scipy.sparse.csr_array, margin: float) -> bool:
    """True when the symmetric ``S`` is positive definite with its unit-diagonal form's smallest
    eigenvalue at least ``margin`` (so rounding cannot fake it). Gershgorin's discs first (rows of
    diag(S)⁻¹·S and of the unit-diagonal form, both centred on 1), a dense Cholesky factorisation
    only when they do not decide."""
    d = S.diagonal()
    if not (np.all(np.isfinite(S.data)) and np.all(d > 0)):
        return False
    scale = scipy.sparse.diags_array(1.0 / np.sqrt(d))
    unit = scale @ S @ scale
    # A positive diagonal plus a strictly dominated couplings' Laplacian passes the first.
    radii = (abs(S).sum(axis=1) / d - 1.0, abs(unit).sum(axis=1) - 1.0)
    if any(np.all(r <= 1.0 - margin) for r in radii):
        return True
    try:
        np.linalg.cholesky(unit.toarray() - margin * np.eye(unit.shape[0]))
    except np.linalg.LinAlgError:
        return False
    return True


def gershgorin_bounds(S: scipy.sparse.csr_array, masses: np.ndarray) -> tuple[float, float]:
    """(lower, upper) bounds on the (real) eigenvalues of M⁻¹S for symmetric S and M = diag(masses)
    (masses > 0): the tighter of Gershgorin's discs over the rows of M⁻¹S, of S·M⁻¹ and of
    M^-½·S·M^-½, all similar matrices with the centres S_ii/m_i. O(nonzeros)."""
    centre = S.diagonal() / masses
    magnitude = abs(S)
    sqrt_m = np.sqrt(masses)
    lower, upper = -math.inf, math.inf
    for radius in (magnitude @ np.ones_like(masses) / masses, magnitude @ (1.0 / masses),
                   magnitude @ (1.0 / sqrt_m) / sqrt_m):
        radius = radius - np.abs(centre)
        lower, upper = max(lower, float(np.min(centre - radius))), min(upper, float(np.max(centre + radius)))
    return lower, upper
