"""The reference model: conformance vectors, scipy's lsim, the analytic resonator, stability."""

import math

import numpy as np
import pytest
import scipy.signal

from r2nn_compiler import reference
from r2nn_compiler.compiler import load_model
from r2nn_compiler.errors import ModelError, SignalError
from r2nn_compiler.model import Input, Model, Output, Readout, Resonator

from .conftest import case_paths
from .strategies import random_stable_model


@pytest.mark.parametrize("model_path, expected_path", case_paths(), ids=lambda p: p.name)
def test_conformance_outputs_and_features(model_path, expected_path):
    model = load_model(model_path)
    expected = np.load(expected_path)
    rate = float(expected["sample_rate"])
    np.testing.assert_allclose(expected["t"], np.arange(expected["u"].shape[1]) / rate, rtol=1e-12, atol=1e-15)
    outputs = reference.simulate(model, expected["u"], rate)
    rms = np.sqrt(np.mean(expected["outputs"] ** 2, axis=-1, keepdims=True))
    assert np.max(np.abs(outputs - expected["outputs"]) / rms) < 1e-6
    np.testing.assert_allclose(reference.features(model, outputs, rate), expected["features"], rtol=1e-6)
    assert list(expected["classes"]) == model.classes


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["convolution", "recursion"])
def test_agrees_with_lsim_to_1e9(seed, method):
    model = random_stable_model(seed)
    rate = 16_000.0
    u = np.random.default_rng(seed).standard_normal(1600)
    ss = reference.state_space(model)
    t = np.arange(u.size) / rate
    _, want, _ = scipy.signal.lsim((ss.A, ss.B, ss.C, ss.D), u, t, interp=True)
    got = reference.simulate(model, u, rate, method=method)
    scale = np.sqrt(np.mean(want**2, axis=0))
    assert np.max(np.abs(got.T - want) / scale) < 1e-9


def test_batch_equals_one_by_one():
    model = random_stable_model(3)
    u = np.random.default_rng(1).standard_normal((5, 1, 800))
    batch = reference.simulate(model, u, 8000.0)
    for s in range(5):
        np.testing.assert_allclose(batch[s], reference.simulate(model, u[s], 8000.0), rtol=1e-12, atol=1e-15)


def single(f0=1000.0, q=20.0, m=1e-3) -> Model:
    w0 = 2 * math.pi * f0
    return Model("one", (Resonator("r", m, m * w0 * w0, m * w0 / q),), (), (Input("u", (("r", 1.0),)),),
                 (Output("o", "r"),), Readout("rms", 0, 0.01))


def test_single_resonator_peak_and_bandwidth_are_analytic():
    f0, q = 1000.0, 20.0
    model = single(f0, q)
    freqs = np.linspace(900, 1100, 40_001)
    mag = np.abs(reference.frequency_response(model, freqs)[0, 0])
    peak = freqs[np.argmax(mag)]
    assert abs(peak - f0) / f0 < 1e-3
    above = freqs[mag >= mag.max() / math.sqrt(2)]
    bandwidth = above[-1] - above[0]
    assert abs(bandwidth - f0 / q) / (f0 / q) < 1e-3
    # velocity response of m v' = F - c v - k x peaks at exactly 1/c
    assert mag.max() == pytest.approx(1 / model.resonators[0].damping, rel=1e-6)


def test_single_resonator_impulse_ringdown_decays_at_half_bandwidth():
    model = single(500.0, 10.0)
    rate = 48_000.0
    u = np.zeros(4800)
    u[1] = 1.0
    y = reference.simulate(model, u, rate)[0]
    envelope = np.abs(scipy.signal.hilbert(y))
    t = np.arange(y.size) / rate
    sel = (t > 0.002) & (t < 0.05)
    slope = np.polyfit(t[sel], np.log(envelope[sel]), 1)[0]
    assert slope == pytest.approx(-math.pi * 500.0 / 10.0, rel=0.02)


def test_features_use_inclusive_window_and_weights():
    model = single()
    rate = 1000.0
    y = np.arange(20, dtype=float)[None, :]  # t = 0 .. 19 ms; window 0..10 ms holds 11 samples
    want = math.sqrt(np.mean(np.arange(11.0) ** 2))
    assert reference.features(model, y, rate)[0] == pytest.approx(want)


def test_window_after_signal_end_is_an_error():
    with pytest.raises(SignalError, match="readout window ends at 0.01 s but the signal lasts"):
        reference.features(single(), np.zeros((1, 5)), 1000.0)


def test_unstable_model_names_its_eigenvalue():
    model = single(q=-20.0)
    with pytest.raises(ModelError, match=r"unstable: eigenvalue 157\.0\d+\+6281\.\d+j rad/s grows at 157.0\d+ 1/s at 999.\d+ Hz"):
        reference.check_stable(model)


def test_lossless_model_is_rejected_as_not_strictly_stable():
    w0 = 2 * math.pi * 100
    model = Model("lossless", (Resonator("r", 1.0, w0 * w0, 0.0),), (), (Input("u", (("r", 1.0),)),),
                  (Output("o", "r"),), Readout("rms", 0, 0.01))
    with pytest.raises(ModelError, match="unstable"):
        reference.check_stable(model)


def test_negative_coupling_sign_matters():
    base = random_stable_model(7, n=3, negative=False, springs=False)
    flipped = Model(base.name, base.resonators, tuple(type(c)(c.a, c.b, c.kind, -c.value) for c in base.couplings),
                    base.inputs, base.outputs, base.readout)
    f = np.geomspace(100, 4000, 50)
    assert not np.allclose(reference.frequency_response(base, f), reference.frequency_response(flipped, f))
