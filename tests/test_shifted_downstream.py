"""Re-solves after a change of rows nothing upstream reads (numerics/downstream.py), and the
large-system path's late first backward-error check, against dense solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from r2nn_compiler.numerics import downstream, shifted


def _dense(E, A, B, s):
    E, A = E.toarray(), A.toarray()
    return np.stack([np.linalg.solve(sv * E - A, B) for sv in s], axis=-1)


def _network_with_driver(seed: int, n: int = 50):
    """A random stable descriptor network (unknowns 0..n−1) whose unknown 3 drives an output
    stage: row n is a VCVS branch ``x[n+1] − g·x[3] = 0`` with current x[n] into net n+1,
    loaded by a conductance (row n+1: x[n] + G·x[n+1] = 0). Nothing in the network reads n, n+1."""
    rng = np.random.default_rng(seed)
    A = scipy.sparse.random(n, n, density=0.08, random_state=rng) - 6 * scipy.sparse.identity(n)
    A = scipy.sparse.block_diag([A, scipy.sparse.csr_array((2, 2))]).tolil()
    A[n, n + 1], A[n, 3] = -1.0, 2.0  # A holds −M's static part: row n reads −(x[n+1] − 2·x[3])
    A[n + 1, n], A[n + 1, n + 1] = -1.0, -0.5
    E = scipy.sparse.diags(np.concatenate([rng.uniform(0.5, 2.0, n), [0.0, 0.0]]))
    B = np.zeros((n + 2, 1))
    B[:n, 0] = rng.standard_normal(n)
    return E.tocsr(), A.tocsr(), B


def test_downstream_set_is_the_driver_and_its_load(monkeypatch):
    E, A, B = _network_with_driver(1)
    n = A.shape[0] - 2
    changed = A.tolil()
    changed[n, 3] = 2.5
    rows = downstream.changed_rows((E, A, B), (E, changed.tocsr(), B))
    assert rows.tolist() == [n]
    assert downstream.downstream(E, changed.tocsr(), rows).tolist() == [n, n + 1]
    # A change in the network itself reaches everything that reads it (all but 37, which
    # nothing reads in this draw), too far once that exceeds DOWNSTREAM_MAX.
    assert downstream.downstream(E, A, np.array([3])).size == n + 1
    monkeypatch.setattr(downstream, "DOWNSTREAM_MAX", 10)
    assert downstream.downstream(E, A, np.array([3])) is None


def test_warm_re_solve_after_a_driver_change_is_the_dense_solution_without_gmres(monkeypatch):
    E, A, B = _network_with_driver(2)
    n = A.shape[0] - 2
    s = 2j * np.pi * np.geomspace(0.1, 10, 30)
    monkeypatch.setattr(shifted, "LATE_CHECK_FROM", 0)
    warm = shifted.WarmStart()
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s, warm=warm), _dense(E, A, B, s), rtol=1e-10,
                               atol=1e-12)
    changed = A.tolil()
    changed[n, 3] = 1.7  # the trim: only the driver's row
    changed = changed.tocsr()

    def no_gmres(*args, **kwargs):
        raise AssertionError("the downstream re-solve should pass the backward-error test")

    monkeypatch.setattr(shifted, "gmres_cycle", no_gmres)
    warm_result = shifted.solve_shifted(E, changed, B, s, warm=warm)
    np.testing.assert_allclose(warm_result, _dense(E, changed, B, s), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("largest", [10, 64])
def test_warm_re_solve_after_an_upstream_change_still_converges(monkeypatch, largest):
    monkeypatch.setattr(downstream, "DOWNSTREAM_MAX", largest)  # 10: GMRES from the guess; 64: dense
    E, A, B = _network_with_driver(3)
    s = 2j * np.pi * np.geomspace(0.1, 10, 20)
    warm = shifted.WarmStart()
    shifted.solve_shifted(E, A, B, s, warm=warm)
    changed = A.tolil()
    changed[3, 3] *= 1.05  # a network entry: downstream of it is everything, so GMRES from the guess
    changed = changed.tocsr()
    np.testing.assert_allclose(shifted.solve_shifted(E, changed, B, s, warm=warm), _dense(E, changed, B, s),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("late", [0, 10**9])
def test_late_first_check_gives_the_dense_solution(monkeypatch, late):
    rng = np.random.default_rng(4)
    n = 80
    A = scipy.sparse.random(n, n, density=0.06, random_state=rng) - 5 * scipy.sparse.identity(n)
    E = scipy.sparse.diags(rng.uniform(0.5, 2.0, n))
    B = rng.standard_normal((n, 2))
    s = 2j * np.pi * np.geomspace(0.1, 10, 25)
    monkeypatch.setattr(shifted, "LATE_CHECK_FROM", late)
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s), _dense(E, A, B, s), rtol=1e-10, atol=1e-12)


def test_refine_leaves_a_guess_for_a_system_of_another_size_alone():
    E, A, B = _network_with_driver(5)
    s = 2j * np.pi * np.geomspace(0.1, 10, 5)
    warm = shifted.WarmStart()
    warm.matrices = (E[:-1, :-1], A[:-1, :-1], B[:-1])
    guess = np.ones((3, 1, s.size), dtype=complex)
    assert warm.refine(guess, None, (E, A, B), s) is guess
