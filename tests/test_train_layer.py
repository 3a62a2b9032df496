"""Training with a linear readout layer: gradients, segments, exact features, selection, the CLI."""

import dataclasses

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler import reference
from r2nn_compiler.numerics import window_energy as we
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import load_model, save_model
from r2nn_compiler.errors import UsageError
from r2nn_compiler.model import validate_model
from r2nn_compiler.train import TrainOptions, dataset_from_arrays, train
from r2nn_compiler.train import freqdomain as fd
from r2nn_compiler.train import layer, logistic
from r2nn_compiler.train import segments as seg
from r2nn_compiler.train.linear import network_model, prepare_linear

RATE = 8000.0


def order_dataset(per_class=16, duration_s=0.2, seed=0):
    """Two classes with the same spectrum in a different order: 400 Hz then 1200 Hz ("rising")
    or 1200 Hz then 400 Hz ("falling"), ±3 % in frequency, random phase and level, in noise.
    Only a readout that tells the halves of the window apart can separate them."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE) + 1) / RATE
    first = t < duration_s / 2
    signals, labels = [], []
    for label, (fa, fb) in enumerate(((400.0, 1200.0), (1200.0, 400.0))):
        for _ in range(per_class):
            f = np.where(first, fa, fb) * rng.uniform(0.97, 1.03)
            tone = np.sin(2 * np.pi * np.cumsum(f) / RATE + rng.uniform(0, 2 * np.pi))
            signals.append(rng.uniform(0.5, 1.5) * tone + 0.3 * rng.standard_normal(t.size))
            labels.append(label)
    return dataset_from_arrays(np.array(signals), np.array(labels), RATE, ("rising", "falling"), "order")


def accuracy(model, dataset, index):
    scores = reference.features_of(model, dataset.signals[index], dataset.sample_rate_hz)
    return float(np.mean(np.argmax(scores, axis=1) == dataset.labels[index]))


@pytest.fixture(scope="module")
def trained():
    dataset = order_dataset()
    options = TrainOptions(n_resonators=4, segments=2, steps=60, seed=0)
    return dataset, options, train(dataset, options, progress=False)


@pytest.mark.parametrize("passive", [False, True])
def test_layer_gradient_matches_finite_differences(passive):
    """∂L/∂θ (network) and ∂L/∂ρ (layer) of the whole objective, masked features, L1, barrier
    and hardware factors included, against central differences."""
    rng = np.random.default_rng(3)
    dataset = dataset_from_arrays(rng.standard_normal((6, 2, 401)), np.arange(6) % 3, RATE)
    options = TrainOptions(n_resonators=4, passive=passive, coupling_kinds=("damper", "spring"), band=(200, 2000),
                           segments=3)
    problem = prepare_linear(dataset, options)
    layout = problem.layout
    theta = problem.theta + 0.05 * rng.standard_normal(problem.theta.size)
    head = problem.head.with_mask(np.arange(problem.head.n_features) % 5 != 2)
    rho = rng.standard_normal(problem.rho.size)
    factors = 1 + 0.02 * rng.standard_normal(theta.size)
    decay = fd.decay_rate(layout.values(theta), layout)

    def evaluate(th, rh):
        return layer.objective(th, rh, layout, head, problem.spectra, dataset.labels, 0.05, 0.01,
                               (0.5 * decay, 2 * decay), factors)

    ev = evaluate(theta, rho)
    step = 1e-6
    for grad, size, shift in ((ev.grad_net, theta.size, lambda e: (theta + e, rho)),
                              (ev.grad_layer, rho.size, lambda e: (theta, rho + e))):
        numeric = np.array([(evaluate(*shift(step * e)).loss - evaluate(*shift(-step * e)).loss) / (2 * step)
                            for e in np.eye(size)])
        error = np.linalg.norm(grad - numeric) / np.linalg.norm(numeric)
        assert error < 1e-5, f"analytic vs finite differences: relative error {error:.2e}"


def test_logistic_fit_gradient_and_optimum():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((40, 3))
    labels = (z[:, 0] + 0.3 * rng.standard_normal(40) > 0).astype(int) + (z[:, 1] > 1)
    fit = logistic.fit(z, labels, 3, l2=0.1)
    # At the optimum the gradient of mean CE + l2/2 |A|² vanishes.
    _, d = logistic.softmax_cross_entropy(fit.scores(z), labels)
    assert np.max(np.abs(d.T @ z + 0.1 * fit.weights)) < 1e-4
    assert np.max(np.abs(d.sum(axis=0))) < 1e-4


def test_grafting_picks_the_informative_features_first():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((200, 6))
    labels = (z[:, 4] - 0.5 * z[:, 1] > 0).astype(int)
    assert sorted(logistic.graft(z, labels, 2, 2, l2=1e-3)) == [1, 4]


def test_segment_boundaries():
    assert seg.segment_boundaries((0.1, 0.5), 4) == pytest.approx((0.1, 0.2, 0.3, 0.4, 0.5))
    assert seg.segment_boundaries((0.0, 0.5), (0, 0.15, 0.3, 0.5)) == (0.0, 0.15, 0.3, 0.5)
    for bad in (0, (0.0, 0.3, 0.2, 0.5), (0.1, 0.5), (0.0, 0.4)):
        with pytest.raises(ValueError, match="segment"):
            seg.segment_boundaries((0.0, 0.5), bad)


def test_exact_segment_mean_squares_match_window_energy():
    """The per-segment Gram-matrix sums equal window_energy's quadratic forms (boundaries on and
    between samples)."""
    dataset = order_dataset(per_class=2)
    options = TrainOptions(n_resonators=5, segments=3)
    problem = prepare_linear(dataset, options)
    system = seg.velocity_system(network_model(problem.layout, problem.theta, dataset, options, problem))
    for bounds in (problem.boundaries, (0.0, 0.05003, 0.1, 0.1999)):
        ours = seg.segment_mean_squares(system, dataset.signals, RATE, bounds)
        theirs = np.stack([we.window_energy(system, dataset.signals, 1 / RATE, a, b) / (b - a)
                           for a, b in zip(bounds, bounds[1:])], axis=1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_exact_segment_mean_squares_without_the_modal_form(monkeypatch):
    """Ill-conditioned eigenvectors: the states are simulated directly, same result."""
    dataset = order_dataset(per_class=1)
    options = TrainOptions(n_resonators=3, segments=2)
    problem = prepare_linear(dataset, options)
    system = seg.velocity_system(network_model(problem.layout, problem.theta, dataset, options, problem))
    modal = seg.segment_mean_squares(system, dataset.signals, RATE, problem.boundaries)
    monkeypatch.setattr(seg.foh, "modal_ok", lambda a: False)
    direct = seg.segment_mean_squares(system, dataset.signals, RATE, problem.boundaries)
    np.testing.assert_allclose(modal, direct, rtol=1e-9)


def test_frequency_domain_segment_features_track_the_exact_ones():
    """With fast-decaying resonators the per-segment approximation (state carried across
    boundaries ignored) is close to the exact mean squares."""
    dataset = order_dataset(per_class=3, duration_s=0.4)
    options = TrainOptions(n_resonators=5, segments=2, band=(300, 2000), q_range=(3.0, 3.0))
    problem = prepare_linear(dataset, options)
    p = problem.layout.values(problem.theta)
    resp, _ = layer.state_response(problem.layout.unpack(p), problem.layout, problem.spectra.freqs_hz)
    approx = layer.spectral_mean_squares(resp, problem.spectra)
    system = seg.velocity_system(network_model(problem.layout, problem.theta, dataset, options, problem))
    exact = seg.segment_mean_squares(system, dataset.signals, RATE, problem.boundaries)
    assert np.median(np.abs(np.log(approx / exact))) < 0.05


def test_small_training_writes_a_valid_linear_model_that_beats_chance(trained, tmp_path):
    dataset, options, result = trained
    model = result.model
    validate_model(model)
    reference.check_stable(model)
    ro = model.readout
    assert ro.is_linear and model.outputs == () and model.classes == ["rising", "falling"]
    assert ro.boundaries == pytest.approx((0.0, 0.1, 0.2)) and ro.floor == result.metrics["floor"] > 0
    assert [f.name for f in ro.features] == [f"f{i}" for i in range(len(ro.features))]
    _, val_idx = dataset.split(options.validation, options.seed)
    assert accuracy(model, dataset, val_idx) == pytest.approx(result.metrics["val_accuracy_time"])
    assert result.metrics["val_accuracy_time"] >= 0.9
    assert len(result.history.loss) == options.steps
    path = tmp_path / "order.r2nn"
    save_model(model, path)
    assert load_model(path) == model


def test_one_segment_cannot_tell_the_order_two_can(trained):
    """The readout's segments are what separates the classes of the order dataset."""
    dataset, options, two = trained
    one = train(dataset, dataclasses.replace(options, segments=1), progress=False)
    assert one.metrics["val_accuracy_time"] <= 0.75 < two.metrics["val_accuracy_time"]


def test_max_features_and_explicit_boundaries():
    dataset = order_dataset()
    options = TrainOptions(n_resonators=4, segments=(0.02, 0.1, 0.18), max_features=3, steps=40,
                           fine_tune_steps=20)
    result = train(dataset, options, progress=False)
    ro = result.model.readout
    assert (ro.start, ro.stop, ro.segments) == (0.02, 0.18, (0.02, 0.1, 0.18))
    assert len(ro.features) == result.metrics["features"] <= 3
    assert result.history.fine_tune_start == 40 and len(result.history.loss) == 60
    assert result.metrics["val_accuracy_time"] >= 0.9


def test_argmax_readout_still_gives_one_output_per_class():
    dataset = order_dataset(per_class=6)
    result = train(dataset, TrainOptions(n_resonators=4, steps=20, readout="argmax"), progress=False)
    model = result.model
    assert model.readout.kind == "rms" and [o.cls for o in model.outputs] == ["rising", "falling"]


@pytest.mark.parametrize("options, name", [
    (dict(readout="softmax"), "readout"), (dict(segments=0), "segments"), (dict(max_features=0), "max_features"),
    (dict(floor=-1.0), "floor"), (dict(group_lasso=-1.0), "group_lasso"),
    (dict(segments=(0.0, 0.3, 0.2)), "segments"), (dict(segments=(0.0, 0.1), window=(0.0, 0.2)), "segments"),
    (dict(readout_kind="rms_continuous"), "readout_kind"),
])
def test_bad_layer_options_are_usage_errors(options, name):
    with pytest.raises(UsageError, match=name):
        train(order_dataset(per_class=2), TrainOptions(n_resonators=4, steps=1, **options), progress=False)


def write_dataset(root):
    from scipy.io import wavfile

    dataset = order_dataset(per_class=8)
    for i, (signal, label) in enumerate(zip(dataset.signals, dataset.labels)):
        folder = root / dataset.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        wavfile.write(folder / f"{i}.wav", int(RATE), (0.3 * signal[0]).astype(np.float32))


def test_train_cli_linear_readout(tmp_path):
    write_dataset(tmp_path / "data")
    out = tmp_path / "m.r2nn"
    result = CliRunner().invoke(main, ["train", str(tmp_path / "data"), "-o", str(out), "--resonators", "4",
                                       "--steps", "30", "--segments", "0,0.1,0.2", "--max-features", "3",
                                       "--floor", "1e-9"])
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert model.readout.is_linear and model.readout.floor == 1e-9 and len(model.readout.features) <= 3
    assert model.readout.boundaries == (0.0, 0.1, 0.2)
    assert CliRunner().invoke(main, ["check", str(out)]).exit_code == 0


@pytest.mark.parametrize("args", [["--segments", "0"], ["--segments", "0.3,0.1"], ["--segments", "two"],
                                  ["--max-features", "0"], ["--floor", "0"], ["--readout", "max"]])
def test_train_cli_bad_layer_values_are_one_line_usage_errors(tmp_path, args):
    write_dataset(tmp_path / "data")
    result = CliRunner().invoke(main, ["train", str(tmp_path / "data"), "-o", str(tmp_path / "m.r2nn"), *args])
    assert result.exit_code == 2
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1


def stationary_dataset(per_class=16, duration_s=0.2, seed=0):
    """Two classes of weak steady tones (500 or 1100 Hz ±3 %) in loud noise: nothing changes in
    time, and the classes overlap a little."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE) + 1) / RATE
    signals, labels = [], []
    for label, f in enumerate((500.0, 1100.0)):
        for _ in range(per_class):
            tone = np.sin(2 * np.pi * f * rng.uniform(0.97, 1.03) * t + rng.uniform(0, 2 * np.pi))
            signals.append(rng.uniform(0.1, 0.3) * tone + rng.standard_normal(t.size))
            labels.append(label)
    return dataset_from_arrays(np.array(signals), np.array(labels), RATE, ("low", "high"), "steady")


def test_auto_segments_split_the_window_only_where_the_classes_change_in_time():
    options = TrainOptions(n_resonators=4, segments=None)
    order = prepare_linear(order_dataset(), options)
    steady = prepare_linear(stationary_dataset(per_class=30), options)
    assert set(order.segment_losses) == set(steady.segment_losses) == {1, 2, 3, 4, 6, 12}
    assert len(order.boundaries) - 1 > 1 and order.segment_losses[1] > 2 * min(order.segment_losses.values())
    assert len(steady.boundaries) - 1 == 1


def test_layer_options_with_the_argmax_readout_are_refused():
    from r2nn_compiler.errors import UsageError
    from r2nn_compiler.train.trainer import _check_options

    _check_options(TrainOptions(readout="argmax"))
    with pytest.raises(UsageError, match="max_features applies to the linear readout only"):
        _check_options(TrainOptions(readout="argmax", max_features=4))
