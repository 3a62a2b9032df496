"""numerics.memo: per-system results computed once, keyed on the matrices' content, read-only."""

import numpy as np
import pytest

from r2nn_compiler.numerics import foh, memo, window_energy
from r2nn_compiler.numerics.statespace import StateSpace


def system(scale: float = 1.0) -> StateSpace:
    A = np.array([[0.0, 1.0], [-(2 * np.pi * 300) ** 2, -200.0]]) * scale
    return StateSpace(A, np.array([[0.0], [1.0]]), np.array([[0.0, 1.0]]), np.zeros((1, 1)))


def test_gramians_and_impulse_responses_are_computed_once_per_system_and_read_only():
    a = window_energy.gramians(system(), 1e-4, [1e-4, 3e-5])
    again = window_energy.gramians(StateSpace(*(m.copy() for m in (system().A, system().B, system().C, system().D))),
                                   1e-4, [1e-4, 3e-5])
    assert again is a  # equal content, another object: the same entry
    np.testing.assert_array_equal(a, window_energy._gramians(system(), 1e-4, [1e-4, 3e-5]))
    with pytest.raises(ValueError):
        a[0, 0, 0, 0] = 1.0
    other = window_energy.gramians(system(1.01), 1e-4, [1e-4, 3e-5])
    assert other is not a and not np.array_equal(other, a)
    h, g = foh.impulse_responses(system(), 1e-4, 50)
    assert foh.impulse_responses(system(), 1e-4, 50)[0] is h and foh.impulse_responses(system(), 1e-4, 51)[0] is not h
    assert not h.flags.writeable and not g.flags.writeable


def test_the_cache_keeps_the_most_recent_entries():
    calls = []
    for i in range(memo.SIZE + 1):
        memo.cached("test", (i,), lambda i=i: calls.append(i) or np.zeros(1))
    memo.cached("test", (memo.SIZE,), lambda: calls.append("again") or np.zeros(1))  # still kept
    memo.cached("test", (0,), lambda: calls.append("dropped") or np.zeros(1))  # the oldest, dropped
    assert calls == list(range(memo.SIZE + 1)) + ["dropped"]
