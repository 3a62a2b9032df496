"""Segment energies by the gramian identity (``numerics.lyapunov_energy``) against the Van Loan
quadratic form (``numerics.window_energy``), and the readouts that use them (``modal=True``)."""

import numpy as np
import pytest

from r2nn_compiler import reference
from r2nn_compiler.compiler import load_model
from r2nn_compiler.numerics import lyapunov_energy as le
from r2nn_compiler.numerics.statespace import StateSpace
from r2nn_compiler.numerics.window_energy import segment_energies

from .conftest import ROOT
from .test_window_energy import random_system


def stiff_system(seed: int) -> StateSpace:
    """A lightly damped pair plus a fast real pole (an op-amp's, 1e6 1/s against dt = 1e-3 s)."""
    rng = np.random.default_rng(seed)
    A = np.array([[0, 1, 0], [-2500, -4, 30], [0, 0, -1e6]], dtype=float)
    return StateSpace(A, rng.normal(size=(3, 1)), rng.normal(size=(3, 3)), 0.2 * rng.normal(size=(3, 1)))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bounds", [(0.0, 0.5, 1.2), (0.013, 0.4567, 0.9, 1.5003), (0.25, 1.9)])
def test_segment_energies_agree_with_the_van_loan_form(seed, bounds):
    system = random_system(seed)
    u = np.random.default_rng(seed + 20).normal(size=(4, 2, 200))
    dt = 0.01
    want = segment_energies(system, u, dt, bounds)
    got = le.segment_energies_modal(system, u, dt, bounds)
    assert le.applicable(system)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


@pytest.mark.parametrize("seed", range(2))
def test_a_stiff_system_with_one_input_agrees(seed):
    system = stiff_system(seed)
    u = np.cumsum(np.random.default_rng(seed).normal(size=(3, 1, 600)), axis=2)
    got = le.segment_energies_modal(system, u, 1e-3, (0.1, 0.35, 0.5985))
    np.testing.assert_allclose(got, segment_energies(system, u, 1e-3, (0.1, 0.35, 0.5985)), rtol=1e-9, atol=0)


def test_without_the_identity_the_van_loan_form_answers():
    undamped = StateSpace(np.array([[0.0, 1.0], [-100.0, 0.0]]), np.array([[0.0], [1.0]]), np.eye(2),
                          np.zeros((2, 1)))
    assert not le.applicable(undamped)
    assert not le.applicable(StateSpace(np.zeros((0, 0)), np.zeros((0, 1)), np.zeros((1, 0)), np.ones((1, 1))))
    u = np.random.default_rng(0).normal(size=(2, 1, 300))
    np.testing.assert_array_equal(le.segment_energies_modal(undamped, u, 0.01, (0.0, 1.0, 2.5)),
                                  segment_energies(undamped, u, 0.01, (0.0, 1.0, 2.5)))


def test_clips_whose_energy_cancels_are_computed_again(monkeypatch):
    system = random_system(1)
    u = np.random.default_rng(3).normal(size=(3, 2, 200))
    monkeypatch.setattr(le, "CANCELLATION_LIMIT", 0.0)  # every clip counts as cancelling
    calls = []
    original = le.segment_energies
    monkeypatch.setattr(le, "segment_energies", lambda *a: calls.append(a[1].shape[0]) or original(*a))
    le.segment_energies_modal(system, u, 0.01, (0.0, 1.0))
    assert calls == [3]


def test_shape_and_window_errors_are_the_van_loan_forms():
    system = random_system(0)
    with pytest.raises(ValueError, match="u must be"):
        le.segment_energies_modal(system, np.zeros((2, 3, 50)), 0.01, (0.0, 0.2))
    with pytest.raises(ValueError, match="after the last sample"):
        le.segment_energies_modal(system, np.zeros((2, 2, 50)), 0.01, (0.0, 0.6))


@pytest.mark.parametrize("demo", ["tactile", "speech"])
def test_a_demo_layers_scores_are_the_same_by_either_method(demo):
    model = load_model(ROOT / "examples" / demo / "model.r2nn")
    n = reference.samples_needed(model, 1000.0) + 3
    u = np.random.default_rng(5).normal(size=(3, len(model.inputs), n))
    system = reference.state_space(model)
    exact = reference.system_features(model, system, u, 1000.0)
    fast = reference.system_features(model, system, u, 1000.0, modal=True)
    np.testing.assert_allclose(fast, exact, rtol=1e-9, atol=1e-9 * np.abs(exact).max())
