"""Tolerance-aware training (train/boards.py): the boards' law, the worst board's exact gradient,
and a run that trains against part tolerances."""

import numpy as np
import pytest

from r2nn_compiler.circuit.tolerances import parse_tolerances
from r2nn_compiler.errors import UsageError
from r2nn_compiler.train import TrainOptions, dataset_from_arrays, train
from r2nn_compiler.train import freqdomain as fd
from r2nn_compiler.train.boards import Boards, boards, worst
from r2nn_compiler.train.trainer import prepare

from .test_train import RATE, tones_dataset

TOLERANCES = parse_tolerances("R=1%,C=5%,L=10%")


def small_problem(seed=3):
    rng = np.random.default_rng(seed)
    dataset = dataset_from_arrays(rng.standard_normal((6, 1, 401)), np.arange(6) % 3, RATE)
    options = TrainOptions(n_resonators=5, coupling_kinds=("damper", "spring"), band=(200, 2000))
    return dataset, prepare(dataset, options)


def test_each_value_moves_within_the_tolerance_of_the_part_that_realises_it():
    _, problem = small_problem()
    layout = problem.layout
    drawn = boards(layout, TOLERANCES, draws=4, gaussian=0.0)
    factors = drawn.factors(np.random.default_rng(0))
    assert len(factors) == 4
    n, pairs = layout.n_resonators, len(layout.pairs)
    expected = np.concatenate([np.full(n, 0.05), np.full(n, 0.10), np.full(n, 0.01),
                               *(np.full(pairs, 0.01 if k == "damper" else 0.10) for k in layout.kinds),
                               np.full(n * layout.n_inputs, 0.01), np.full(len(layout.outputs), 0.01)])
    np.testing.assert_array_equal(drawn.relative, expected)
    spread = np.max(np.abs(np.stack(factors) - 1), axis=0)
    assert np.all(spread <= expected) and np.all(spread > 0.3 * expected)  # uniform, not degenerate


def test_the_gaussian_law_draws_one_board_as_before_and_none_means_nominal():
    size = 7
    assert Boards(size).factors(np.random.default_rng(0)) == [None]
    (f,) = Boards(size, gaussian=0.02).factors(np.random.default_rng(5))
    np.testing.assert_array_equal(f, 1 + 0.02 * np.random.default_rng(5).standard_normal(size))


def test_the_worst_board_gives_the_exact_gradient_of_the_largest_loss():
    dataset, problem = small_problem()
    layout, labels = problem.layout, dataset.labels
    theta = problem.theta + 0.05 * np.random.default_rng(1).standard_normal(problem.theta.size)
    factors = boards(layout, TOLERANCES, draws=3, gaussian=0.0).factors(np.random.default_rng(2))

    def evaluate(th, f):
        return fd.objective(th, layout, problem.spectra, labels, 4.0, 0.01, None, f)

    losses = [evaluate(theta, f).loss for f in factors]
    assert sorted(losses)[-1] - sorted(losses)[-2] > 1e-6  # one board strictly worst here
    ev = worst(lambda f: evaluate(theta, f), factors)
    assert ev.loss == max(losses)
    step = 1e-6
    numeric = np.array([(max(evaluate(theta + step * e, f).loss for f in factors)
                         - max(evaluate(theta - step * e, f).loss for f in factors)) / (2 * step)
                        for e in np.eye(theta.size)])
    error = np.linalg.norm(ev.grad - numeric) / np.linalg.norm(numeric)
    assert error < 1e-5, f"worst board's gradient vs finite differences: relative error {error:.2e}"


@pytest.mark.parametrize("readout", ["linear", "argmax"])
def test_training_against_part_tolerances_still_classifies(readout):
    options = TrainOptions(n_resonators=6, tolerances="R=1%,C=5%,L=10%", tolerance_draws=2, steps=120,
                           readout=readout, segments=1 if readout == "linear" else None)
    result = train(tones_dataset(), options, progress=False)
    assert result.metrics["val_accuracy_time"] >= 0.9


def test_bad_tolerances_are_refused_before_training():
    with pytest.raises(UsageError, match="tolerances: expected KIND=PERCENT"):
        train(tones_dataset(per_class=2), TrainOptions(n_resonators=6, tolerances="Q=5%"), progress=False)
    with pytest.raises(UsageError, match="tolerance_draws"):
        train(tones_dataset(per_class=2), TrainOptions(n_resonators=6, tolerances="R=1%", tolerance_draws=0),
              progress=False)


def test_tolerances_and_gaussian_noise_together_are_refused():
    with pytest.raises(UsageError, match="not both"):
        train(tones_dataset(per_class=2), TrainOptions(n_resonators=6, tolerances="R=1%", hardware_aware=0.02),
              progress=False)


@pytest.mark.parametrize("text, sigma, wanted", [(None, 0.0, "R=1%,C=5%,L=10%"), (None, 0.02, None),
                                                 ("none", 0.0, None), ("NONE", 0.02, None),
                                                 ("C=2%", 0.0, "C=2%")])
def test_train_cli_trains_against_the_default_compiles_tolerances_unless_told(text, sigma, wanted):
    from r2nn_compiler.cli import training_tolerances

    assert training_tolerances(text, sigma) == wanted


@pytest.mark.parametrize("text, sigma, words", [("C=2%", 0.02, "not both"), ("Q=1%", 0.0, "KIND=PERCENT")])
def test_train_cli_tolerances_refused_one_line(text, sigma, words):
    from r2nn_compiler.cli import training_tolerances

    with pytest.raises(UsageError, match=words):
        training_tolerances(text, sigma)
