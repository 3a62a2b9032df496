"""Refitting a linear readout to the diode law (issue 20, part A): the gains each mode promises,
weights that classify the training clips and give the written model's own scores, the CLI verb
and its errors."""

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler import reference
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import load_model
from r2nn_compiler.errors import ModelError
from r2nn_compiler.model import parse_model_text
from r2nn_compiler.train import dataset_from_arrays
from r2nn_compiler.train.law_readout import (
    GainMode, LawOptions, choose_gains, law_model, recommended_law, refit_law_readout, tap_levels,
)

LAYER = """model pair {
    resonator a (f0 = 180 Hz, q = 8, m = 1m);
    resonator b (f0 = 900 Hz, q = 12, m = 1m);
    couple a -- b damper (c = 5m);
    input u -> a (1.0), b (-0.5);
    readout linear from 10 ms to 90 ms {
        segments 10 ms, 50 ms, 90 ms;
        floor 1p;
        feature fa0 = a (segment = 0);
        feature fa1 = a (segment = 1);
        feature fb1 = b (segment = 1);
        class low <- fa0 (1.0);
        class high <- fb1 (1.0);
    }
}
"""
FS = 8000.0


def clips(per_class=8, seed=1):
    """Two classes: tones near each resonance (random phase and level) in noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.1 * FS) + 2) / FS
    signals, labels = [], []
    for label, f in ((0, 180.0), (1, 900.0)):
        for _ in range(per_class):
            tone = rng.uniform(0.5, 1.5) * np.sin(2 * np.pi * f * rng.uniform(0.95, 1.05) * t + rng.uniform(0, 6))
            signals.append(0.1 * tone + 0.02 * rng.standard_normal(t.size))
            labels.append(label)
    return dataset_from_arrays(np.array(signals), np.array(labels), FS, classes=("low", "high"))


def options(**kw):
    nvt, rate, hold = recommended_law()
    return LawOptions(nvt=nvt, rate=rate, clip=1.6, hold=hold, **kw)


def test_common_gain_puts_the_loudest_tap_at_the_peak():
    model, data = parse_model_text(LAYER), clips()
    opts = options(gain=GainMode.COMMON, peak_v=1.2)
    levels = tap_levels(model, data, opts)
    gains = choose_gains(levels, opts)
    assert gains[0] == gains[1] and float(np.max(levels.peak * gains)) == pytest.approx(1.2, rel=1e-12)
    # the peak is over the fine grid: at least the samples' peak over the window
    y = reference.simulate(model, data.signals, FS)[:, :, 80:721]
    assert float(np.max(np.abs(y))) <= float(np.max(levels.peak)) * (1 + 1e-9)


def test_per_tap_gains_put_each_taps_loudest_rms_at_the_level():
    model, data = parse_model_text(LAYER), clips()
    opts = options(gain=GainMode.PER_TAP, x_rms=20.0)
    levels = tap_levels(model, data, opts)
    np.testing.assert_allclose(levels.rms * choose_gains(levels, opts), 20.0 * opts.nvt, rtol=1e-12)


@pytest.mark.parametrize("gain", [GainMode.COMMON, GainMode.PER_TAP])
def test_refit_classifies_and_the_written_model_scores_alike(tmp_path, gain):
    model, data = parse_model_text(LAYER), clips()
    fit = refit_law_readout(model, data, options(gain=gain, peak_v=1.6, x_rms=20.0))
    out = fit.model
    assert out.readout.law is not None and out.resonators == model.resonators and out.couplings == model.couplings
    assert fit.train_accuracy >= 0.9
    # the fit's quadrature grid (coarser than the reference's) moves no reading by more than 1e-4
    np.testing.assert_allclose(fit.readings, reference.layer_features(out, data.signals, FS), rtol=1e-4)
    assert [f.name for f in out.readout.features] == ["fa0", "fa1", "fb1"]
    # the model as written and read back scores the clips from their input as the fit did
    path = tmp_path / "law.r2nn"
    from r2nn_compiler.compiler import save_model
    save_model(out, path)
    again = load_model(path)
    assert again == out
    scores = reference.features_of(again, data.signals, FS)
    np.testing.assert_allclose(scores, reference.scores(out, fit.readings), rtol=1e-5, atol=1e-9)
    assert np.mean(np.argmax(scores, axis=1) == data.labels) == pytest.approx(fit.train_accuracy)


def test_refit_needs_a_linear_layer_and_the_models_classes():
    data = clips(2)
    argmax = LAYER.split("    readout linear")[0] + "    output low = a;\n    output high = b;\n    readout rms from 0 s to 90 ms;\n}\n"
    with pytest.raises(ModelError, match="needs a model with a linear readout layer"):
        refit_law_readout(parse_model_text(argmax), data, options())
    other = dataset_from_arrays(data.signals, data.labels, FS, classes=("high", "middle"))
    with pytest.raises(ModelError, match="are not the model's"):
        refit_law_readout(parse_model_text(LAYER), other, options())


def test_law_model_keeps_the_network_and_sets_gains():
    model = parse_model_text(LAYER)
    lm = law_model(model, options(), np.array([2.0, 3.0]))
    assert [f.gain for f in lm.readout.features] == [2.0, 2.0, 3.0] and lm.readout.floor == 0.0


def write_npz(tmp_path, data):
    path = tmp_path / "clips.npz"
    np.savez(path, signals=data.signals, labels=np.array(data.classes)[data.labels], sample_rate=FS)
    return path


def test_cli_refit_readout(tmp_path):
    src = tmp_path / "pair.r2nn"
    src.write_text(LAYER)
    out = tmp_path / "law.r2nn"
    result = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips())), "-o", str(out),
                                       "--peak-v", "1.2", "--hold", "none", "--nvt", "40mV"])
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert model.readout.law.hold is None and model.readout.law.nvt == 0.04
    assert "train_accuracy" in result.output and f"wrote {out}" in result.output


@pytest.mark.parametrize("args, code, fragment", [
    (["--peak-v", "2"], 2, "--peak-v: 2 V is beyond --clip 1.6 V"),
    (["--nvt", "-1"], 2, "--nvt: expected a value > 0 in V"),
    (["--hold", "3 V"], 2, "--hold: expected a value > 0 in s"),
    (["--law-rate", "fast"], 2, "--law-rate: expected a number"),
])
def test_cli_refit_readout_errors(tmp_path, args, code, fragment):
    src = tmp_path / "pair.r2nn"
    src.write_text(LAYER)
    result = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips(2))),
                                       "-o", str(tmp_path / "o.r2nn"), *args])
    assert result.exit_code == code, result.output
    assert fragment in result.output and "Traceback" not in result.output


def test_cli_refit_readout_refuses_an_argmax_model(tmp_path):
    src = tmp_path / "argmax.r2nn"
    src.write_text(LAYER.split("    readout linear")[0] + "    output low = a;\n    output high = b;\n"
                   "    readout rms from 0 s to 90 ms;\n}\n")
    result = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips(2))),
                                       "-o", str(tmp_path / "o.r2nn")])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and "linear readout layer" in result.output


def test_cli_peak_v_binds_only_the_common_gain(tmp_path):
    src = tmp_path / "pair.r2nn"
    src.write_text(LAYER)
    result = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips())), "-o",
                                       str(tmp_path / "o.r2nn"), "--gain", "per-tap", "--peak-v", "2"])
    assert result.exit_code == 0, result.output


def test_volt_fit_bound_holds_and_the_fit_is_the_optimum_within_it():
    """The bounded fit: every |weight| ≤ the bound (some at it when the bound binds), and no
    feasible step along the gradient lowers the objective (a KKT check of the box constraints)."""
    from r2nn_compiler.train import volt_fit
    from r2nn_compiler.train.logistic import softmax_cross_entropy

    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(3), 30)
    centres = rng.normal(size=(3, 6)) * np.array([1.0, 1.0, 0.01, 0.01, 0.3, 0.3])  # two quiet features
    x = centres[labels] + rng.normal(size=(90, 6)) * np.array([0.5, 0.5, 0.005, 0.005, 0.1, 0.1]) + 0.7
    free = volt_fit.fit(x, labels, 3, 1e-6, None)
    assert np.max(np.abs(free.weights)) > 20  # the quiet features want large weights
    bounded = volt_fit.fit(x, labels, 3, 1e-6, 5.0)
    assert np.max(np.abs(bounded.weights)) <= 5.0 + 1e-12
    assert np.sum(np.isclose(np.abs(bounded.weights), 5.0)) >= 1
    _, d = softmax_cross_entropy(bounded.scores(x), labels)
    grad = d.T @ (x - x.mean(axis=0)) + 1e-6 * bounded.weights
    at_top, at_bottom = np.isclose(bounded.weights, 5.0), np.isclose(bounded.weights, -5.0)
    inside = ~(at_top | at_bottom)
    assert np.max(np.abs(grad[inside])) < 1e-5
    assert np.all(grad[at_top] <= 1e-5) and np.all(grad[at_bottom] >= -1e-5)
    assert np.abs(d.sum(axis=0)).max() < 1e-6  # biases free: their gradient vanishes
    assert np.mean(np.argmax(bounded.scores(x), axis=1) == labels) >= 0.9


@pytest.mark.parametrize("bound", [None, 3.0])
def test_refit_bounds_the_weights_per_volt_and_classifies(bound):
    model, data = parse_model_text(LAYER), clips(12)
    fit = refit_law_readout(model, data, options(gain=GainMode.COMMON, peak_v=1.6, max_weight=bound))
    _, _, matrix = fit.model.readout.feature_matrix()
    assert fit.max_abs_weight == pytest.approx(float(np.max(np.abs(matrix))))
    if bound is not None:
        assert fit.max_abs_weight <= bound * (1 + 1e-12)
    assert fit.train_accuracy >= 0.9
    held = clips(12, seed=7)
    scores = reference.features_of(fit.model, held.signals, FS)
    assert np.mean(np.argmax(scores, axis=1) == held.labels) >= 0.9


def test_cli_max_weight(tmp_path):
    src = tmp_path / "pair.r2nn"
    src.write_text(LAYER)
    out = tmp_path / "law.r2nn"
    result = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips())), "-o", str(out),
                                       "--max-weight", "2.5"])
    assert result.exit_code == 0, result.output
    _, _, matrix = load_model(out).readout.feature_matrix()
    assert np.max(np.abs(matrix)) <= 2.5 * (1 + 1e-12)
    assert "max_abs_weight_per_v" in result.output
    bad = CliRunner().invoke(main, ["refit-readout", str(src), str(write_npz(tmp_path, clips(2))), "-o",
                                    str(tmp_path / "o.r2nn"), "--max-weight", "-1"])
    assert bad.exit_code == 2 and "--max-weight: expected a number > 0" in bad.output
    assert "Traceback" not in bad.output
