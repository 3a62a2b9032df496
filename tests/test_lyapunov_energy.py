"""Segment energies by the gramian identity (``numerics.lyapunov_energy``) against the Van Loan
quadratic form (``numerics.window_energy``), and the readouts that use them (``modal=True``)."""

import tempfile

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


def test_the_identity_answers_alone_even_for_a_silent_clip(monkeypatch):
    """No clip falls back to the Van Loan form on a well-conditioned system, a silent one included
    (its energies are exactly 0 and nothing is left out: the bound is 0, not 0/0)."""
    system = random_system(0)
    u = np.random.default_rng(20).normal(size=(3, 2, 200))
    u[1] = 0.0
    want = segment_energies(system, u, 0.01, (0.0, 0.5, 1.2))
    calls = []
    monkeypatch.setattr(le, "segment_energies", lambda *a: calls.append(a[1].shape[0]))
    got = le.segment_energies_modal(system, u, 0.01, (0.0, 0.5, 1.2))
    assert calls == []
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)
    assert np.all(got[1] == 0)


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


def recomputed(monkeypatch, system, seed: int) -> list[int]:
    """The clip counts segment_energies_modal hands back to the Van Loan form, on 3 noise clips."""
    u = np.random.default_rng(seed).normal(size=(3, 2, 200))
    calls = []
    original = le.segment_energies
    monkeypatch.setattr(le, "segment_energies", lambda *a: calls.append(a[1].shape[0]) or original(*a))
    le.segment_energies_modal(system, u, 0.01, (0.0, 1.0))
    return calls


def test_clips_whose_energy_cancels_are_computed_again(monkeypatch):
    system = random_system(1)
    monkeypatch.setattr(le, "CANCELLATION_LIMIT", 0.0)  # every clip counts as cancelling
    assert recomputed(monkeypatch, system, seed=3) == [3]


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


def with_leak(system: StateSpace, rate: float = -1e-7, b: float = 1e-9, c: float = 1e-12) -> StateSpace:
    """``system`` with one more mode, nearly DC and barely driven or seen (a leakage path's)."""
    n = system.n_states
    A = np.zeros((n + 1, n + 1))
    A[:n, :n], A[n, n] = system.A, rate
    B = np.vstack([system.B, np.full((1, system.n_inputs), b)])
    C = np.hstack([system.C, np.full((system.n_outputs, 1), c)])
    return StateSpace(A, B, C, system.D)


def test_modes_the_outputs_barely_see_are_left_out_under_a_bound():
    system = with_leak(random_system(2))
    reduced, dropped = le.reduce_modes(system)
    assert reduced.n_states == 4 and np.all(dropped > 0) and np.all(dropped < 1e-18)
    u = np.random.default_rng(4).normal(size=(3, 2, 200))
    np.testing.assert_allclose(le.segment_energies_modal(system, u, 0.01, (0.0, 0.7, 1.5)),
                               segment_energies(system, u, 0.01, (0.0, 0.7, 1.5)), rtol=1e-9, atol=0)
    seen = le.reduce_modes(with_leak(random_system(2), c=1.0))[0]  # the same mode, seen: kept
    assert seen.n_states == 5


def test_clips_whose_bound_on_the_modes_left_out_is_too_loose_are_computed_again(monkeypatch):
    system = with_leak(random_system(2))
    monkeypatch.setattr(le, "TRUNCATION_LIMIT", 0.0)
    assert recomputed(monkeypatch, system, seed=4) == [3]


def test_the_monte_carlo_decides_the_same_by_either_method():
    from r2nn_compiler.compiler import compile_model, load_signals
    from r2nn_compiler.passes import CompileOptions
    from r2nn_compiler.verify import read_compiled
    from r2nn_compiler.verify.tolerance import analyse

    from .test_compile_linear_readout import TOY_SIGNALS, linear_toy

    model = linear_toy()
    signals = load_signals(model, [TOY_SIGNALS])
    with tempfile.TemporaryDirectory() as tmp:
        compile_model(model, tmp, options=CompileOptions(series={k: "E96" for k in "RCL"}, parasitics=True))
        compiled = read_compiled(tmp)
        reports = [analyse(model, compiled, signals, {"R": 0.2, "C": 0.3, "L": 0.4}, runs=12, spot_checks=0,
                           workers=1, modal=modal) for modal in (False, True)]
    slow, fast = reports
    assert (slow.to_json()["method"], fast.to_json()["method"]) == ("van_loan", "modal")
    assert 0 < np.min(slow.agreement) < 1  # tolerances loose enough that some draws flip decisions
    np.testing.assert_array_equal(fast.agreement, slow.agreement)
    assert fast.nominal_agreement == slow.nominal_agreement
    assert [(r["designator"], r["decisions_flipped"]) for r in fast.sensitivity] == \
           [(r["designator"], r["decisions_flipped"]) for r in slow.sensitivity]
    np.testing.assert_allclose([r["feature_change"] for r in fast.sensitivity],
                               [r["feature_change"] for r in slow.sensitivity], rtol=1e-6)
