"""The large-system path of the shifted solve (S(s) formed entry by entry, numerics/explicit.py)
against dense solves, against the original path, and piece by piece against Condensed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from r2nn_compiler.circuit import mna, mna_matrices
from r2nn_compiler.numerics import shifted
from r2nn_compiler.numerics.block_jacobi import BlockJacobi, preconditioner_blocks
from r2nn_compiler.numerics.condensed import Condensed
from r2nn_compiler.numerics.explicit import ExplicitBatch, ExplicitBlockJacobi, ExplicitPattern
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, relative_error
from r2nn_compiler.reference import default_grid

from .strategies import random_stable_model, weakly_coupled_model


def _dense_response(E, A, B, C, s):
    E, A = E.toarray(), A.toarray()
    return np.stack([C @ np.linalg.solve(sv * E - A, B) for sv in s], axis=-1)


def _quantised_system(n: int, couplings: int):
    model = weakly_coupled_model(n, couplings)
    ctx = run_flow(CompileContext(model, CompileOptions()), ["map_force_current", "scale", "quantise",
                                                              "break_dc_loops"])
    return model, ctx


def test_explicit_path_equals_dense_solves_on_a_random_descriptor_system(monkeypatch):
    rng = np.random.default_rng(1)
    n = 60
    A = scipy.sparse.random(n, n, density=0.08, random_state=rng) - 8 * scipy.sparse.identity(n)
    E = scipy.sparse.diags(rng.uniform(0.5, 2.0, n))
    B = rng.standard_normal((n, 2))
    C = rng.standard_normal((3, n))
    s = 2j * np.pi * np.geomspace(0.1, 10, 40)
    monkeypatch.setattr(shifted, "EXPLICIT_FROM", 0)
    monkeypatch.setattr(shifted, "EXPLICIT_GONE_RATIO", 0.0)
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s, C), _dense_response(E, A, B, C, s), rtol=1e-10,
                               atol=1e-12)


def test_explicit_path_falls_back_to_lu_when_gmres_cannot_converge(monkeypatch):
    rng = np.random.default_rng(2)
    n = 40
    A = scipy.sparse.random(n, n, density=0.3, random_state=rng) - 2 * scipy.sparse.identity(n)
    E = scipy.sparse.identity(n)
    B = rng.standard_normal((n, 1))
    s = 2j * np.pi * np.geomspace(0.1, 10, 7)
    monkeypatch.setattr(shifted, "EXPLICIT_FROM", 0)
    monkeypatch.setattr(shifted, "EXPLICIT_GONE_RATIO", 0.0)
    monkeypatch.setattr(shifted, "GMRES_BASIS", 1)
    monkeypatch.setattr(shifted, "GMRES_CYCLES", 1)
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s), _dense_response(E, A, B, np.eye(n), s), rtol=1e-10)


def test_explicit_products_and_blocks_equal_the_condensed_ones():
    _, ctx = _quantised_system(30, 60)
    system = mna_matrices(ctx.graph, [p.net for p in ctx.inputs])
    s = 2j * np.pi * np.geomspace(0.05, 2.0, 9) / ctx.time_scale
    cond = Condensed(system.E_sparse, system.A_sparse, system.B, s[[0, 4, 8]])
    assert cond.gone.size > 0
    pattern = ExplicitPattern(cond)
    batch = ExplicitBatch(pattern, pattern.values(s))
    x = np.random.default_rng(3).standard_normal((cond.keep.size, s.size)) * (1 + 1j)
    np.testing.assert_allclose(batch.apply(x), cond.apply(x, s), rtol=1e-12, atol=1e-12 * np.abs(cond.apply(x, s)).max())
    for f in (0, 5):
        dense = cond.explicit(s[f]).toarray()
        np.testing.assert_allclose(batch.columns(np.array([f])).apply(x[:, [f]])[:, 0], dense @ x[:, f], rtol=1e-12,
                                   atol=1e-12 * np.abs(dense @ x[:, f]).max())
    blocks = preconditioner_blocks([cond.explicit(sv) for sv in s[[0, 4, 8]]])
    v = x + 0.5j
    np.testing.assert_allclose(ExplicitBlockJacobi(batch, blocks).apply(v), BlockJacobi(cond, s, blocks).apply(v),
                               rtol=1e-10)


@pytest.mark.parametrize("negative", [False, True])
def test_explicit_ac_equals_dense_and_the_original_path(monkeypatch, negative):
    if negative:  # op-amps: zero diagonals, 2×2 blocks
        model = random_stable_model(4, n=8, negative=True)
        ctx = run_flow(CompileContext(model, CompileOptions()), ["map_force_current", "scale", "realise_negative"])
    else:
        model, ctx = _quantised_system(24, 50)
    freqs = default_grid(model, 50)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 10**9)
    dense = circuit_response(ctx, freqs)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 0)
    monkeypatch.setattr(shifted, "EXPLICIT_FROM", 10**9)
    original = circuit_response(ctx, freqs * (1 + 1e-15))  # another grid: not the cached result
    monkeypatch.setattr(shifted, "EXPLICIT_FROM", 0)
    monkeypatch.setattr(shifted, "EXPLICIT_GONE_RATIO", 0.0)
    explicit = circuit_response(ctx, freqs)
    assert relative_error(explicit, dense) < 1e-10
    assert relative_error(explicit, original) < 1e-10


@pytest.mark.parametrize("explicit", [False, True])
def test_warm_start_gives_the_cold_solution_of_the_changed_system(monkeypatch, explicit):
    _, ctx = _quantised_system(24, 50)
    system = mna_matrices(ctx.graph, [p.net for p in ctx.inputs])
    E, A, B = system.E_sparse, system.A_sparse, system.B
    s = 2j * np.pi * default_grid(ctx.model, 30) / ctx.time_scale
    if explicit:
        monkeypatch.setattr(shifted, "EXPLICIT_FROM", 0)
        monkeypatch.setattr(shifted, "EXPLICIT_GONE_RATIO", 0.0)
    warm = shifted.WarmStart()
    shifted.solve_shifted(E, A, B, s, warm=warm)
    assert warm.x is not None and warm.x.shape[2] == s.size
    changed = A.tolil()
    row, col = changed.nonzero()
    changed[row[0], col[0]] *= 1.01  # a small change of one entry, like an output gain's trim
    changed = changed.tocsr()
    cold = shifted.solve_shifted(E, changed, B, s)
    np.testing.assert_allclose(shifted.solve_shifted(E, changed, B, s, warm=warm), cold, rtol=1e-9,
                               atol=1e-12 * np.abs(cold).max())
    assert warm.guess(s[:-1], warm.keep, B.shape[1]) is None  # other frequencies: no guess
