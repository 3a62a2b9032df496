"""The continuous-time readout (``rms_continuous``): the exact window integral of y², its spline
estimate from samples, and the readout kind through the model, reference, circuit and trainer."""

import dataclasses

import numpy as np
import pytest
from scipy.integrate import simpson

from r2nn_compiler import reference
from r2nn_compiler.compiler import compile_model, load_model, save_model
from r2nn_compiler.errors import ModelError, SignalError, UsageError
from r2nn_compiler.numerics.foh import simulate_foh
from r2nn_compiler.numerics.statespace import StateSpace
from r2nn_compiler.numerics.trace_energy import trace_window_energy
from r2nn_compiler.numerics.window_energy import window_energy
from r2nn_compiler.model import (model_from_json_text, model_from_npz, model_to_json, model_to_text,
                                 parse_model_text)
from r2nn_compiler.signals import Signal
from r2nn_compiler.train import TrainOptions, train
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.verify import read_compiled, verify_deck
from r2nn_compiler.verify.circuit import CircuitUnderTest

from .conftest import ROOT, case_paths
from .test_train import tones_dataset

FINE = 64  # brute force: the same input (linear between samples) simulated at 64× the rate


def random_system(seed: int, inputs: int = 2, outputs: int = 2) -> StateSpace:
    """Two coupled damped oscillators with a direct feedthrough."""
    rng = np.random.default_rng(seed)
    A = np.array([[0, 1, 0, 0], [-400, -3, 10, 0], [0, 0, 0, 1], [5, 0, -900, -2]], dtype=float)
    return StateSpace(A, rng.normal(size=(4, inputs)), rng.normal(size=(outputs, 4)),
                      0.1 * rng.normal(size=(outputs, inputs)))


def brute_force(system: StateSpace, u: np.ndarray, dt: float, i0: int, i1: int) -> np.ndarray:
    """∫ y² from fine sample i0 to i1 (fine period dt/FINE) by Simpson on a 64× simulation
    (the input's slope changes at coarse samples: keep them on panel boundaries, i.e. an even
    number of fine steps from i0)."""
    n = u.shape[-1]
    t = np.arange(n) * dt
    tf = np.arange((n - 1) * FINE + 1) * dt / FINE
    uf = np.stack([[np.interp(tf, t, row) for row in sig] for sig in u])
    y = simulate_foh(system, uf, dt / FINE)
    return simpson(y[..., i0 : i1 + 1] ** 2, dx=dt / FINE, axis=-1)


@pytest.mark.parametrize("seed", range(3))
def test_window_energy_is_the_exact_integral_with_partial_edge_intervals(seed):
    system = random_system(seed)
    u = np.random.default_rng(seed + 10).normal(size=(3, 2, 200))
    dt = 0.01
    i0, i1 = 2002, 11018  # window edges on the fine grid, inside coarse intervals 31 and 172
    got = window_energy(system, u, dt, i0 * dt / FINE, i1 * dt / FINE)
    np.testing.assert_allclose(got, brute_force(system, u, dt, i0, i1), rtol=1e-8)


def test_window_energy_within_a_single_interval():
    system = random_system(4)
    u = np.random.default_rng(3).normal(size=(2, 2, 60))
    dt = 0.01
    got = window_energy(system, u, dt, 1990 / FINE * dt, 2040 / FINE * dt)  # both edges in interval 31
    np.testing.assert_allclose(got, brute_force(system, u, dt, 1990, 2040), rtol=1e-8)


def test_window_energy_rejects_a_window_past_the_samples():
    with pytest.raises(ValueError, match="after the last sample"):
        window_energy(random_system(0), np.zeros((1, 2, 10)), 0.01, 0.0, 0.095)


def test_spline_estimate_of_a_well_sampled_trace():
    system = dataclasses.replace(random_system(1, inputs=1, outputs=1), D=np.zeros((1, 1)))  # a velocity
    dt = 0.002  # resonances near 3 and 5 Hz: ~100 samples a period
    t = np.arange(800) * dt
    u = np.sin(2 * np.pi * 4.1 * t)[None, None, :]
    exact = window_energy(system, u, dt, 0.3033, 1.4)
    estimate = trace_window_energy(simulate_foh(system, u, dt), dt, 0.3033, 1.4)
    np.testing.assert_allclose(estimate, exact, rtol=1e-6)


def continuous(model):
    return dataclasses.replace(model, readout=dataclasses.replace(model.readout, kind="rms_continuous"))


@pytest.mark.parametrize("model_path, expected_path", case_paths(), ids=lambda p: p.name)
def test_continuous_features_of_the_conformance_models(model_path, expected_path):
    model = load_model(model_path)
    expected = np.load(expected_path)
    rate, u = float(expected["sample_rate"]), expected["u"]
    cont = continuous(model)
    got = reference.features_of(cont, u[None], rate)[0]
    # The same integral by brute force from the reference's own outputs at 64× the rate.
    ro, dt = model.readout, 1.0 / rate
    i0, i1 = round(ro.start * rate * FINE), round(ro.stop * rate * FINE)
    assert np.allclose([i0, i1], [ro.start * rate * FINE, ro.stop * rate * FINE])
    system = reference.state_space(model)
    energy = brute_force(system, u[None], dt, i0, i1)[0]
    weights = np.array([o.weight for o in model.outputs])
    np.testing.assert_allclose(got, weights * np.sqrt(energy / (ro.stop - ro.start)), rtol=1e-7)
    # Continuous and sampled readouts of one waveform differ, but only by window-edge terms.
    assert np.max(np.abs(got - expected["features"]) / expected["features"].max()) < 0.05
    assert not np.allclose(got, expected["features"], rtol=1e-9)
    # The estimate from sampled outputs is close to the exact value, and for 'rms' features_of is
    # the conformance definition.
    outputs = reference.simulate(model, u, rate)
    np.testing.assert_allclose(reference.features(cont, outputs, rate), got, rtol=2e-2)
    np.testing.assert_allclose(reference.features_of(model, u[None], rate)[0], expected["features"], rtol=1e-6)


def test_continuous_window_needs_the_sample_that_closes_it():
    model = continuous(load_model(case_paths()[0][0]))
    rate = 1000.0
    stop = 0.0105
    model = dataclasses.replace(model, readout=dataclasses.replace(model.readout, start=0.0, stop=stop))
    assert reference.samples_needed(model, rate) == 12  # samples 0..11: 11 ms closes the window
    n_in = len(model.inputs)
    assert reference.features_of(model, np.ones((1, n_in, 12)), rate).shape == (1, len(model.outputs))
    with pytest.raises(SignalError, match="readout window ends at 0.0105 s"):
        reference.features_of(model, np.ones((1, n_in, 11)), rate)


def test_readout_kind_round_trips_through_text_and_json(toy_path):
    text = toy_path.read_text().replace("readout rms from", "readout rms_continuous from")
    model = parse_model_text(text, "toy.r2nn")
    assert model.readout.kind == "rms_continuous"
    assert model_from_json_text(model_to_json(model)).readout.kind == "rms_continuous"
    assert parse_model_text(model_to_text(model)) == model


def test_exact_circuit_features_match_the_continuous_reference(toy_path, tmp_path):
    model = continuous(load_model(toy_path))
    save_model(model, tmp_path / "toy.r2nn")
    compile_model(load_model(tmp_path / "toy.r2nn"), tmp_path / "deck", exact=True)
    cut = CircuitUnderTest.from_compiled(read_compiled(tmp_path / "deck"))
    rate = 16000.0
    u = np.random.default_rng(0).normal(size=(2, 1, 400))
    got = cut.features_for(model, {}, [Signal(x, rate, f"s{i}") for i, x in enumerate(u)])
    np.testing.assert_allclose(got, reference.features_of(model, u, rate), rtol=1e-8)


def test_trainer_fits_the_readout_weights_to_the_continuous_feature():
    dataset = tones_dataset()
    common = dict(n_resonators=6, steps=60, fine_tune_steps=0, seed=0, readout="argmax")
    sampled = train(dataset, TrainOptions(**common), progress=False).model
    cont = train(dataset, TrainOptions(readout_kind="rms_continuous", **common), progress=False).model
    assert cont.readout.kind == "rms_continuous" and sampled.readout.kind == "rms"
    assert cont.resonators == sampled.resonators  # the frequency-domain training is the same
    w_s = np.array([o.weight for o in sampled.outputs])
    w_c = np.array([o.weight for o in cont.outputs])
    assert np.max(np.abs(w_c / w_s - 1)) > 1e-6  # refit to another feature
    with pytest.raises(UsageError, match="readout_kind"):
        train(dataset, TrainOptions(readout_kind="peak", **common), progress=False)


def test_behavioural_detector_computes_the_continuous_feature(toy_path, tmp_path):
    """One deck (exact network, B-source readout), verified against the toy as ``rms`` and as
    ``rms_continuous``: the detectors match the continuous feature to ngspice's step, and miss the
    sampled one by the window-edge terms (320 samples in the window: ~1e-3)."""
    toy = load_model(toy_path)
    cont = continuous(toy)
    compile_model(cont, tmp_path / "o", options=CompileOptions(exact=True, readout="behavioural"))
    rng = np.random.default_rng(0)
    signals = [Signal(0.3 * rng.standard_normal((1, 321)), 16000.0, f"noise{i}") for i in range(3)]
    errors = {}
    for model in (cont, toy):
        report = verify_deck(model, read_compiled(tmp_path / "o"), signals, run_ac=False)
        errors[model.readout.kind] = [s.decision["feature_error"] for s in report.signals]
    assert max(errors["rms_continuous"]) < 2e-4
    assert min(errors["rms"]) > 3 * max(errors["rms_continuous"])


def test_compile_says_when_the_readout_computes_another_feature_than_the_model(toy_path, tmp_path):
    toy = load_model(toy_path)
    notes = {}
    for model in (toy, continuous(toy)):
        result = compile_model(model, tmp_path / model.readout.kind, options=CompileOptions(readout="behavioural"))
        notes[model.readout.kind] = next(e.summary for e in result.log if e.name == "readout_analog")
    assert "window_error" in notes["rms"] and "--readout-kind rms_continuous" in notes["rms"]
    assert "window_error" not in notes["rms_continuous"]


@pytest.mark.parametrize("kind, error", [("rms_continuous", None), ("peak", "readout kind must be one of"),
                                         (3.0, "expected a string")])
def test_npz_import_takes_the_readout_kind(tmp_path, kind, error):
    path = tmp_path / "trained.npz"
    np.savez(path, mass=[1e-3, 2e-3], stiffness=[400.0, 5e4], damping=[0.02, 0.5],
             coupling=[[0, 0.01], [0.01, 0]], drive=[[1.0, 0.0]], outputs=[1, 0], window=[0.0, 0.05],
             readout_kind=kind)
    if error is None:
        assert model_from_npz(str(path)).readout.kind == kind
    else:
        with pytest.raises(ModelError, match=f"readout_kind.*{error}|{error}.*"):
            model_from_npz(str(path))


def test_window_energy_of_a_stiff_system():
    """An op-amp-like pole at 1e7 1/s behind a 100 Hz resonator, 0.1 ms samples (Van Loan's
    block alone overflows here): the output is the resonator's, 0.1 µs late, so its energy is the
    resonator's to ~1e-6."""
    w0, q, p = 2 * np.pi * 100.0, 10.0, 1e7
    slow = StateSpace(np.array([[0.0, 1.0], [-w0 * w0, -w0 / q]]), np.array([[0.0], [1.0]]),
                      np.array([[0.0, 1.0]]), np.zeros((1, 1)))
    stiff = StateSpace(np.array([[0.0, 1.0, 0.0], [-w0 * w0, -w0 / q, 0.0], [0.0, p, -p]]),
                       np.array([[0.0], [1.0], [0.0]]), np.array([[0.0, 0.0, 1.0]]), np.zeros((1, 1)))
    u = np.random.default_rng(5).normal(size=(2, 1, 400))
    dt = 1e-4
    fast = window_energy(stiff, u, dt, 0.0053, 0.0371)
    assert np.all(np.isfinite(fast)) and np.all(fast > 0)
    np.testing.assert_allclose(fast, window_energy(slow, u, dt, 0.0053, 0.0371), rtol=1e-5)


def test_check_prints_the_readout_kind():
    from click.testing import CliRunner

    from r2nn_compiler.cli import main

    path = ROOT / "examples" / "tactile" / "model_rms_continuous.r2nn"
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "readout rms_continuous from 0 s to 0.49975 s" in result.output


def test_verify_splits_a_continuous_readout_decks_error_exactly(toy_path, tmp_path):
    """An E96 deck with the parts readout (TL072 buffers: poles near 1e7 1/s), verified as
    ``rms_continuous``: network_error is the realised circuit's continuous features against the
    model's, here checked by brute force on the circuit's own MNA (64× the rate, Simpson)."""
    from r2nn_compiler.verify.decisions import feature_deviation, linear_circuit

    model = continuous(load_model(toy_path))
    compile_model(model, tmp_path / "o", options=CompileOptions(readout="analog"))
    deck = read_compiled(tmp_path / "o")
    rate = 16000.0
    signals = [Signal(0.3 * np.random.default_rng(seed).standard_normal((1, 321)), rate, f"n{seed}")
               for seed in range(3)]
    report = verify_deck(model, deck, signals, run_ac=False)
    cut = linear_circuit(deck)
    ro, ts = model.readout, cut.time_scale
    weights = np.array([o.weight for o in model.outputs])
    for s, signal in zip(report.signals, signals):
        u = signal.data[None] * cut.in_gain[None, :, None]
        energy = brute_force(cut.state_space(), u, ts / rate, round(ro.start * rate * FINE),
                             round(ro.stop * rate * FINE))[0] / cut.out_gain ** 2
        circuit = dict(zip(model.classes, weights * np.sqrt(energy / ((ro.stop - ro.start) * ts))))
        ref = dict(zip(model.classes, reference.features_of(model, signal.data[None], rate)[0]))
        assert s.network_error == pytest.approx(feature_deviation(circuit, ref, ref), rel=1e-4, abs=1e-7)
