"""The verifier's timestep: the trapezoidal rule's error predicted in numpy, then met by ngspice."""

import math

import numpy as np
import pytest

from r2nn_compiler.backend import NgspiceNetlister
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.numerics.statespace import StateSpace
from r2nn_compiler.reference import state_space
from r2nn_compiler.sim import NgspiceBatch
from r2nn_compiler.sim.stepsize import (MIN_STEPS_PER_RESONANCE, choose_substeps, integration_error,
                                        simulate_discretisation, trapezoidal_discretisation)

from .conftest import TOY
from .strategies import random_stable_model

RATE = 16_000.0


def noise(n: int, samples: int = 801, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 1, samples))


def test_discretisation_is_the_trapezoidal_rule_stepped_by_hand():
    system = state_space(random_stable_model(1))
    u = noise(1, 6)[0]
    dt, k = 1 / RATE, 7
    h = dt / k
    x = np.zeros(system.n_states)
    eye = np.eye(system.n_states)
    states = [x]
    for n in range(u.shape[1] - 1):
        for j in range(k):  # the input is linear between samples
            u0 = u[:, n] + (u[:, n + 1] - u[:, n]) * j / k
            u1 = u[:, n] + (u[:, n + 1] - u[:, n]) * (j + 1) / k
            x = np.linalg.solve(eye - h / 2 * system.A, (eye + h / 2 * system.A) @ x + h / 2 * system.B @ (u0 + u1))
        states.append(x)
    by_hand = system.C @ np.stack(states, axis=1) + system.D @ u
    disc = trapezoidal_discretisation(system.A, system.B, dt, k)
    np.testing.assert_allclose(simulate_discretisation(system, disc, u[None])[0], by_hand, rtol=1e-9, atol=1e-12)


def test_trapezoidal_error_falls_as_the_square_of_the_step():
    system = state_space(random_stable_model(2))
    u = noise(2)
    coarse = np.max(integration_error(system, u, 1 / RATE, 20))
    fine = np.max(integration_error(system, u, 1 / RATE, 40))
    assert 0 < fine < coarse
    assert coarse / fine == pytest.approx(4.0, rel=0.05)


@pytest.mark.parametrize("accuracy", [1e-2, 1e-3])
def test_chosen_step_is_the_longest_that_meets_the_target(accuracy):
    system = state_space(random_stable_model(3))
    u = noise(2)
    k, predicted = choose_substeps(system, u, 1 / RATE, accuracy)
    assert predicted == pytest.approx(np.max(integration_error(system, u, 1 / RATE, k)))
    assert predicted <= accuracy
    assert k == 1 or np.max(integration_error(system, u, 1 / RATE, k - 1)) > accuracy


def test_step_resolves_the_highest_resonance_whatever_the_error():
    system = state_space(random_stable_model(3))
    t = np.arange(801) / RATE
    slow = np.sin(2 * np.pi * 20 * t)[None, None, :]  # far below every resonance: tiny error at any step
    f_max = 5000.0
    k, _ = choose_substeps(system, slow, 1 / RATE, 0.1, f_max_hz=f_max)
    assert k == math.ceil(MIN_STEPS_PER_RESONANCE * f_max / RATE)


def test_unreachable_accuracy_is_refused():
    with pytest.raises(ValueError, match="needs more than"):
        choose_substeps(state_space(random_stable_model(3)), noise(1), 1 / RATE, 1e-13)
    with pytest.raises(ValueError, match="must be positive"):
        choose_substeps(StateSpace(np.eye(1) * -1, np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1))),
                        noise(1), 1 / RATE, 0.0)


def test_fixed_step_decks_take_every_step_at_tmax(tmp_path):
    compile_model(load_model(TOY), tmp_path, exact=True)
    u = noise(1, 321)[0, 0]
    t = np.arange(u.size) / RATE
    np.savetxt(tmp_path / "in.txt", np.column_stack([t, u]))
    tmax = 1 / RATE / 10
    spacings = {}
    for fixed in (False, True):
        deck = NgspiceNetlister().testbench(title="steps", library="toy.lib", subckt="r2nn_toy", n_inputs=1,
                                            n_outputs=3, extra_ports=[], data_file=["in.txt"],
                                            tran=(float(t[-1]), tmax), ac=None, save_outputs=True, fixed_step=fixed)
        assert ("xtrtol=" in deck) is fixed
        spacings[fixed] = np.diff(NgspiceBatch().run_text(deck, tmp_path).plot("tran").get("time"))
    steady = spacings[True][20:-1]  # after ngspice's short first steps, before the last
    np.testing.assert_allclose(steady, tmax, rtol=1e-6)
    assert np.min(spacings[False][20:-1]) < 0.9 * tmax  # its own step control shortens steps


def test_modal_and_recursive_simulations_agree():
    from r2nn_compiler.sim.stepsize import simulate_trapezoidal

    system = state_space(random_stable_model(4))
    u = noise(2)
    by_modes = simulate_trapezoidal(system, u, 1 / RATE, 9)
    by_states = simulate_discretisation(system, trapezoidal_discretisation(system.A, system.B, 1 / RATE, 9), u)
    np.testing.assert_allclose(by_modes, by_states, rtol=0, atol=1e-9 * np.max(np.abs(by_states)))
