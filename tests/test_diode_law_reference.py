"""The reference's readings under ``law diode`` (issue 20, part A): the quadrature against closed
forms on sines (Bessel series unclipped, adaptive quadrature clipped), against the detector
cells' own law, and the two entry points (exact from the input, estimated from traces) against
each other; gain, hold droop and scores as the format says."""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special

from r2nn_compiler import reference
from r2nn_compiler.model import parse_model_text
from r2nn_compiler.numerics import diode_law
from r2nn_compiler.parts.detectors import Cell, Kind, passive_law

NVT, RATE = 0.0475, 12.2

TOY = """model toy {
    resonator a (f0 = 180 Hz, q = 8, m = 1m);
    resonator b (f0 = 900 Hz, q = 12, m = 1m);
    couple a -- b damper (c = 5m);
    input u -> a (1.0), b (-0.5);
    readout linear from 10 ms to 90 ms {
        segments 10 ms, SPLIT, 90 ms;
        law diode (nvt = 47.5 mV, rate = 12.2 Hz, clip = CLIP V HOLD);
        feature f0 = a (segment = 0, gain = GAIN);
        feature f1 = b (segment = 1, gain = 30);
        feature f2 = a (segment = 1, gain = GAIN);
        class x (bias = 0.1) <- f0 (1.5), f1 (-2.0);
        class y <- f1 (0.7), f2 (1.1);
    }
}
"""
FS = 8000.0


def toy(split="50 ms", clip="1.6", hold="", gain="40"):
    return parse_model_text(TOY.replace("SPLIT", split).replace("CLIP", clip).replace("HOLD", hold)
                            .replace("GAIN", gain))


def signal(n_signals=2, seconds=0.1, seed=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_signals, 1, int(seconds * FS) + 2)) * 0.05


def sine_nodes(amp, omega, seconds, n):
    t = np.linspace(0.0, seconds, n)
    return t, amp * np.sin(omega * t), amp * omega * np.cos(omega * t)


def bessel_integral(a, omega, seconds, rate):
    """∫_0^T e^{−k(T−t)} (e^{a sin ωt} − 1) dt from e^{a sin θ} = Σ_n (−i)^n I_n(a) e^{inθ}."""
    n = np.arange(-int(a) - 60, int(a) + 61)
    c = (-1j) ** n * scipy.special.iv(np.abs(n), a)
    terms = c * (np.exp(1j * n * omega * seconds) - np.exp(-rate * seconds)) / (rate + 1j * n * omega)
    return float(np.sum(terms).real) - (1 - math.exp(-rate * seconds)) / rate


@pytest.mark.parametrize("x_peak, rate", [(2.0, 12.2), (12.0, 12.2), (25.0, 400.0)])
def test_unclipped_sine_matches_the_bessel_series(x_peak, rate):
    omega, seconds = 2 * math.pi * 1000.0, 0.0173  # not whole periods
    m = diode_law.substeps_per_interval(seconds, omega, x_peak)
    t, v, dv = sine_nodes(x_peak * NVT, omega, seconds, m * 40 + 1)
    got = diode_law.substep_integral(t, v, dv, 10.0, NVT, rate, seconds)
    assert got == pytest.approx(bessel_integral(x_peak, omega, seconds, rate), rel=1e-7)


def test_clipped_sine_matches_adaptive_quadrature():
    """The clip's kinks are split exactly: 1e-7 relative against quad given the crossings."""
    amp, clip, omega, seconds = 1.6, 1.0, 2 * math.pi * 250.0, 0.0095
    t, v, dv = sine_nodes(amp, omega, seconds, 2000 + 1)
    got = diode_law.substep_integral(t, v, dv, clip, NVT, RATE, seconds)
    theta = math.asin(clip / amp)
    kinks = sorted(tc for p in range(4) for tc in ((theta + 2 * math.pi * p) / omega,
                                                    (math.pi - theta + 2 * math.pi * p) / omega,
                                                    (math.pi + theta + 2 * math.pi * p) / omega,
                                                    (2 * math.pi - theta + 2 * math.pi * p) / omega) if tc < seconds)

    def f(s):
        return math.exp(-RATE * (seconds - s)) * math.expm1(max(-clip, min(clip, amp * math.sin(omega * s))) / NVT)

    edges = [0.0, *kinks, seconds]
    want = sum(scipy.integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] for lo, hi in zip(edges, edges[1:]))
    assert got == pytest.approx(want, rel=1e-7)
    # without splitting at the kinks (the plain Simpson rule on the same nodes) it is far worse
    plain = diode_law.substep_integral(t, np.clip(v, -clip, clip), np.where(np.abs(v) < clip, dv, 0.0), 1e9, NVT,
                                       RATE, seconds)
    assert abs(plain / want - 1) > 10 * abs(got / want - 1)


def test_the_detector_cells_law_is_the_same_law():
    """parts.detectors.passive_law (trapezoid on samples) converges to the reference's quadrature."""
    cell = Cell(Kind.PASSIVE, "D1N4148", 4.7e-9)
    nvt, k = cell.n_vt(), cell.k_per_s()
    omega, seconds = 2 * math.pi * 200.0, 0.05
    t, v, dv = sine_nodes(8 * nvt, omega, seconds, 20001)
    exact = diode_law.reading(diode_law.substep_integral(t, v, dv, 10.0, nvt, k, seconds), nvt, k)
    trapezoid = passive_law(v, t[1] - t[0], cell, factor=1)
    assert trapezoid == pytest.approx(exact, rel=1e-5)
    assert diode_law.passive_law(v, t[1] - t[0], k, nvt, factor=1) == trapezoid


def fine_input(u, up):
    n = (u.shape[-1] - 1) * up + 1
    return np.stack([np.interp(np.arange(n) / up, np.arange(u.shape[-1]), row) for row in u[:, 0]])[:, None]


@pytest.mark.parametrize("split", ["50 ms", "47.3 ms"], ids=["boundary on a sample", "boundary between samples"])
def test_exact_readings_match_dense_traces(split):
    """An input linear between samples is the same input at 16× the rate: the trace estimate on
    that dense simulation converges to the exact readings."""
    model, u = toy(split), signal()
    exact = reference.system_layer_features(model, reference.state_space(model), u, FS)
    dense = reference.trace_layer_features(model, reference.simulate(model, fine_input(u, 16), 16 * FS), 16 * FS)
    assert np.all(exact > 0.01)  # the taps drive the diodes hard (x up to the clip)
    np.testing.assert_allclose(dense, exact, rtol=2e-6)
    coarse = reference.trace_layer_features(model, reference.simulate(model, u, FS), FS)
    np.testing.assert_allclose(coarse, exact, rtol=0.05)


def test_clipping_gain_and_hold():
    u = signal(1)
    base = toy(clip="20", gain="1")
    ss = reference.state_space(base)
    y = reference.simulate(base, fine_input(u, 16), 16 * FS)
    loud = toy(clip="1.6", gain="40")
    # the gain scales the tap before the law: the same readings from traces scaled by hand
    scaled = reference.trace_layer_features(loud, y, 16 * FS)
    by_hand = reference.trace_layer_features(toy(clip="1.6", gain="1"), y * 40, 16 * FS)
    np.testing.assert_allclose(scaled[:, [0, 2]], by_hand[:, [0, 2]], rtol=1e-12)
    louder = reference.system_layer_features(loud, ss, u, FS) > reference.system_layer_features(base, ss, u, FS)
    assert louder[:, [0, 2]].all()
    held = toy(hold=", hold = 0.2 s")
    droop = np.exp(-np.array([40e-3, 0.0, 0.0]) / 0.2)
    np.testing.assert_allclose(reference.system_layer_features(held, ss, u, FS),
                               reference.system_layer_features(toy(), ss, u, FS) * droop, rtol=1e-12)


def test_entry_points_give_scores_of_the_readings():
    model, u = toy(), signal(3)
    psi = reference.layer_features(model, u, FS)
    s = reference.features_of(model, u, FS)
    np.testing.assert_allclose(s, reference.scores(model, psi), rtol=1e-12)
    np.testing.assert_allclose(s[:, 0], 0.1 + 1.5 * psi[:, 0] - 2.0 * psi[:, 1], rtol=1e-12)
    dense = reference.features(model, reference.simulate(model, fine_input(u, 16), 16 * FS), 16 * FS)
    np.testing.assert_allclose(dense, s, rtol=1e-5, atol=1e-7)
    assert (np.argmax(dense, axis=1) == np.argmax(s, axis=1)).all()


def test_energies_cannot_give_a_diode_law():
    with pytest.raises(ValueError, match="law diode"):
        reference.layer_features_from_energies(toy(), np.ones((1, 2, 2)))


def test_signal_ending_before_the_window_is_refused():
    from r2nn_compiler.errors import SignalError
    with pytest.raises(SignalError):
        reference.features_of(toy(), signal(1, seconds=0.05), FS)
