"""The trainer: adjoint gradients, the frequency-domain approximation, training, datasets."""

import numpy as np
import pytest
from scipy.io import wavfile

from r2nn_compiler import reference
from r2nn_compiler.compiler import load_model, save_model
from r2nn_compiler.errors import SignalError, UsageError
from r2nn_compiler.model import validate_model
from r2nn_compiler.train import TrainOptions, dataset_from_arrays, load_dataset, plot_history, train
from r2nn_compiler.train import freqdomain as fd
from r2nn_compiler.train.trainer import build_model, prepare

RATE = 8000.0


def tones_dataset(per_class=20, duration_s=0.1, seed=0):
    """Three classes: tones near 300, 700 and 1500 Hz (±5 %, random phase and level) in noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * RATE) + 1) / RATE
    signals, labels = [], []
    for label, f in enumerate((300.0, 700.0, 1500.0)):
        for _ in range(per_class):
            tone = np.sin(2 * np.pi * f * rng.uniform(0.95, 1.05) * t + rng.uniform(0, 2 * np.pi))
            signals.append(rng.uniform(0.5, 1.5) * tone + 0.5 * rng.standard_normal(t.size))
            labels.append(label)
    return dataset_from_arrays(np.array(signals), np.array(labels), RATE, ("low", "mid", "high"), "tones")


def time_domain_accuracy(model, dataset, index):
    outputs = reference.simulate(model, dataset.signals[index], dataset.sample_rate_hz)
    feats = reference.features(model, outputs, dataset.sample_rate_hz)
    return float(np.mean(reference.predict(model, feats) == dataset.labels[index]))


@pytest.fixture(scope="module")
def trained():
    dataset = tones_dataset()
    options = TrainOptions(n_resonators=6, seed=0)
    return dataset, options, train(dataset, options, progress=False)


@pytest.mark.parametrize("passive", [False, True])
def test_adjoint_gradient_matches_finite_differences(passive):
    rng = np.random.default_rng(3)
    dataset = dataset_from_arrays(rng.standard_normal((6, 2, 401)), np.arange(6) % 3, RATE)
    options = TrainOptions(n_resonators=5, passive=passive, coupling_kinds=("damper", "spring"), band=(200, 2000))
    problem = prepare(dataset, options)
    layout = problem.layout
    theta = problem.theta + 0.05 * rng.standard_normal(problem.theta.size)  # off the symmetric start
    decay = fd.decay_rate(layout.values(theta), layout)
    labels = dataset.labels

    def loss_grad(th):
        ev = fd.objective(th, layout, problem.spectra, labels, 4.0, 0.01, (0.5 * decay, 2 * decay))
        return ev.loss, ev.grad

    _, grad = loss_grad(theta)
    step = 1e-6
    numeric = np.array([(loss_grad(theta + step * e)[0] - loss_grad(theta - step * e)[0]) / (2 * step)
                        for e in np.eye(theta.size)])
    error = np.linalg.norm(grad - numeric) / np.linalg.norm(numeric)
    assert error < 1e-5, f"adjoint vs finite differences: relative error {error:.2e}"


def test_frequency_domain_features_match_time_domain_on_a_long_window():
    rng = np.random.default_rng(4)
    n = int(2.0 * RATE) + 1
    t = np.arange(n) / RATE
    signals = rng.standard_normal((4, n))
    signals[1] += 3 * np.sin(2 * np.pi * 700 * t)
    dataset = dataset_from_arrays(signals, np.arange(4) % 2, RATE)
    options = TrainOptions(n_resonators=6, band=(200, 2000))
    problem = prepare(dataset, options)
    p = problem.layout.values(problem.theta)
    approx = np.exp(fd.log_features(p, problem.layout, problem.spectra))
    model = build_model(problem.layout, p, dataset, options, problem.band, problem.window)
    exact = reference.features(model, reference.simulate(model, dataset.signals, RATE), RATE)
    assert np.max(np.abs(approx / exact - 1)) < 0.03


def test_frequency_response_agrees_with_the_reference_model():
    dataset = tones_dataset(per_class=2)
    options = TrainOptions(n_resonators=6, coupling_kinds=("damper", "spring"))
    problem = prepare(dataset, options)
    p = problem.layout.values(problem.theta)
    model = build_model(problem.layout, p, dataset, options, problem.band, problem.window)
    freqs = np.geomspace(100, 3000, 7)
    ours = fd.response(problem.layout.unpack(p), problem.layout, freqs).H  # freqs × classes × inputs
    np.testing.assert_allclose(np.moveaxis(ours, 0, 2), reference.frequency_response(model, freqs), rtol=1e-9)


def test_three_tones_reach_90_percent_validation_accuracy_in_time_domain(trained):
    dataset, options, result = trained
    _, val_idx = dataset.split(options.validation, options.seed)
    accuracy = time_domain_accuracy(result.model, dataset, val_idx)
    assert accuracy >= 0.9
    assert result.metrics["val_accuracy_time"] == pytest.approx(accuracy)


def test_trained_model_is_valid_stable_and_named_after_the_dataset(trained):
    dataset, _, result = trained
    model = result.model
    validate_model(model)
    reference.check_stable(model)
    assert model.name == "tones"
    assert model.classes == ["low", "mid", "high"]
    assert model.band is not None and model.readout.stop == pytest.approx(dataset.duration_s)
    assert len(result.history.loss) == len(result.history.val_acc) == TrainOptions().steps


def test_result_round_trips_through_r2nn(trained, tmp_path):
    _, _, result = trained
    path = tmp_path / "tones.r2nn"
    save_model(result.model, path)
    assert load_model(path) == result.model


def test_passive_training_gives_all_positive_parameters():
    result = train(tones_dataset(), TrainOptions(n_resonators=6, passive=True, steps=100), progress=False)
    model = result.model
    assert all(r.mass > 0 and r.stiffness > 0 and r.damping > 0 for r in model.resonators)
    assert all(c.value > 0 for c in model.couplings)
    assert all(w > 0 for inp in model.inputs for _, w in inp.drives)
    assert all(o.weight > 0 for o in model.outputs)


def test_max_couplings_is_respected():
    result = train(tones_dataset(), TrainOptions(n_resonators=6, max_couplings=3, steps=100, fine_tune_steps=50),
                   progress=False)
    assert len(result.model.couplings) <= 3
    assert result.history.fine_tune_start == 100
    reference.check_stable(result.model)


def test_hardware_aware_training_still_classifies():
    options = TrainOptions(n_resonators=6, hardware_aware=0.03, steps=150)
    result = train(tones_dataset(), options, progress=False)
    assert result.metrics["val_accuracy_time"] >= 0.9


def test_plot_history_writes_a_png(trained, tmp_path):
    path = tmp_path / "history.png"
    plot_history(trained[2].history, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_split_is_stratified_and_deterministic():
    dataset = tones_dataset(per_class=10)
    train_idx, val_idx = dataset.split(0.2, seed=5)
    assert np.array_equal(val_idx, dataset.split(0.2, seed=5)[1])
    assert not set(train_idx) & set(val_idx) and len(train_idx) + len(val_idx) == 30
    assert np.bincount(dataset.labels[val_idx]).tolist() == [2, 2, 2]


def write_wav(path, rate, samples):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, (samples * 20000).astype(np.int16))


def test_wav_folders_load_one_class_per_folder_cropped_to_the_shortest(tmp_path):
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "dog" / "a.wav", 8000, rng.uniform(-1, 1, 900))
    write_wav(tmp_path / "dog" / "b.wav", 8000, rng.uniform(-1, 1, 800))
    write_wav(tmp_path / "cat" / "c.wav", 8000, rng.uniform(-1, 1, 1000))
    dataset = load_dataset(tmp_path)
    assert dataset.classes == ("cat", "dog")
    assert dataset.labels.tolist() == [0, 1, 1]
    assert dataset.signals.shape == (3, 1, 800) and dataset.sample_rate_hz == 8000
    padded = load_dataset(tmp_path, length_s=0.125)
    assert padded.signals.shape == (3, 1, 1001) and np.all(padded.signals[1, 0, 900:] == 0)


def test_wav_folders_with_different_rates_are_rejected(tmp_path):
    write_wav(tmp_path / "a" / "x.wav", 8000, np.zeros(100))
    write_wav(tmp_path / "b" / "y.wav", 16000, np.zeros(100))
    with pytest.raises(SignalError, match="same rate"):
        load_dataset(tmp_path)


def test_npz_dataset_with_string_labels(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, signals=np.zeros((4, 2, 50)), labels=np.array(["yes", "no", "yes", "no"]), sample_rate=1000.0)
    dataset = load_dataset(path)
    assert dataset.classes == ("no", "yes") and dataset.labels.tolist() == [1, 0, 1, 0]
    assert dataset.n_inputs == 2 and dataset.name == "set"


def test_npz_dataset_without_sample_rate_is_rejected(tmp_path):
    path = tmp_path / "set.npz"
    np.savez(path, signals=np.zeros((2, 50)), labels=np.array([0, 1]))
    with pytest.raises(SignalError, match="sample_rate"):
        load_dataset(path)


def test_train_cli_writes_a_model_that_checks(tmp_path):
    from click.testing import CliRunner
    from scipy.io import wavfile

    from r2nn_compiler.cli import main

    rate, rng = 4000, np.random.default_rng(0)
    t = np.arange(int(0.25 * rate)) / rate
    for cls, f in (("low", 200.0), ("high", 800.0)):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(8):
            u = np.sin(2 * np.pi * f * (1 + 0.02 * rng.standard_normal()) * t) + 0.2 * rng.standard_normal(t.size)
            wavfile.write(tmp_path / "data" / cls / f"{i}.wav", rate, u.astype(np.float32))
    out = tmp_path / "m.r2nn"
    result = CliRunner().invoke(main, ["train", str(tmp_path / "data"), "-o", str(out), "--resonators", "4",
                                       "--steps", "60", "--plot", str(tmp_path / "h.png")])
    assert result.exit_code == 0, result.output
    assert "val_accuracy_time" in result.output and (tmp_path / "h.png").stat().st_size > 1000
    assert "part noise: the worst of 3 boards per step within R=1%,C=5%,L=10%" in result.output
    assert CliRunner().invoke(main, ["check", str(out)]).exit_code == 0


def test_too_few_resonators_for_the_classes_is_a_usage_error():
    with pytest.raises(UsageError, match="n_resonators"):
        train(tones_dataset(per_class=2), TrainOptions(n_resonators=2), progress=False)


def test_initial_frequencies_place_the_first_resonators():
    dataset = tones_dataset(per_class=4)
    options = TrainOptions(n_resonators=6, band=(200, 2000), frequencies=(333.0, 1234.0))
    problem = prepare(dataset, options)
    p = problem.layout.unpack(problem.layout.values(problem.theta))
    f0 = np.sqrt(p.stiffness / p.mass) / (2 * np.pi)
    for wanted in (333.0, 1234.0):
        assert np.min(np.abs(f0 / wanted - 1)) < 1e-9
    rest = np.sort(f0[np.min(np.abs(f0[:, None] / np.array([333.0, 1234.0]) - 1), axis=1) > 1e-9])
    np.testing.assert_allclose(rest, np.geomspace(200, 2000, 4), rtol=1e-9)


@pytest.mark.parametrize("frequencies", [(0.0,), (5000.0,), tuple(np.linspace(100, 900, 7))])
def test_bad_initial_frequencies_are_usage_errors(frequencies):
    with pytest.raises(UsageError, match="frequencies"):
        prepare(tones_dataset(per_class=2), TrainOptions(n_resonators=6, frequencies=frequencies))
