"""Signal-aware sensitivity weights (``passes/common/signal_spectrum``): Σ w·|H|² over the
grid is the output power the calibration signals drive, and the sensitivity passes use them
when ``--calibrate-signals`` is given."""

import numpy as np
import pytest
from scipy import signal as sps

from r2nn_compiler.circuit.sensitivity import band_power, resolving_grid
from r2nn_compiler.compiler import load_model
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.signal_spectrum import mean_input_psd, signal_weights
from r2nn_compiler.passes.common.sensitivity import input_weights, sensitivity_grid, sensitivity_table
from r2nn_compiler.signals import Signal

from .conftest import TOY

RATE = 16_000.0


def _resonance(f0: float, q: float):
    """A band-pass biquad in model time: (ω0/q)s / (s² + (ω0/q)s + ω0²)."""
    w0 = 2 * np.pi * f0
    return sps.TransferFunction([w0 / q, 0.0], [1.0, w0 / q, w0 ** 2])


@pytest.mark.parametrize("time_scale", [1.0, 4.0])
def test_weighted_band_power_is_the_output_power_the_signals_drive(time_scale):
    rng = np.random.default_rng(3)
    noise = sps.lfilter([1.0], [1.0, -0.9], rng.standard_normal((1, 64_000)))  # coloured, 4 s
    signals = [Signal(noise[:, i * 16_000:(i + 1) * 16_000], RATE, f"s{i}") for i in range(4)]
    system = _resonance(700.0, 5.0)
    _, y, _ = sps.lsim(system, noise[0], np.arange(noise.shape[1]) / RATE)
    measured = np.mean(y[4000:] ** 2)
    # The grid is in circuit Hz: model Hz / time_scale.
    freqs_model, log_w = resolving_grid(10.0, 7900.0, np.array([]), 4000, 0.06)
    psd_f, psd = mean_input_psd(signals, 1, 0.0, 1.0)
    weights = signal_weights(freqs_model / time_scale, log_w, psd_f, psd, time_scale)
    _, h = sps.freqresp(system, 2 * np.pi * freqs_model)
    predicted = band_power(h[None, None, :], weights)[0]
    assert predicted == pytest.approx(measured, rel=0.1)


def test_a_tone_weights_only_its_own_frequency():
    t = np.arange(16_000) / RATE
    tone = Signal(np.sin(2 * np.pi * 1000.0 * t)[None, :], RATE, "tone")
    freqs, log_w = resolving_grid(100.0, 4000.0, np.array([]), 400, 0.06)
    psd_f, psd = mean_input_psd([tone], 1, 0.0, 1.0)
    weights = signal_weights(freqs, log_w, psd_f, psd, 1.0)[0]
    near = np.abs(freqs - 1000.0) < 30.0
    assert weights[near].sum() > 0.99 * weights.sum()


def test_the_passes_weigh_by_the_calibration_signals_when_given(tmp_path):
    model = load_model(TOY)
    until = HARDWARE_FLOW[: HARDWARE_FLOW.index("robust_parts")]
    t = np.arange(int(0.02 * RATE) + 1) / RATE
    tone = Signal(np.sin(2 * np.pi * 1200.0 * t)[None, :], RATE, "tone")
    plain = run_flow(CompileContext(model, CompileOptions()), until)
    tuned = run_flow(CompileContext(model, CompileOptions(calibration_signals=[tone])), until)
    freqs, weights = sensitivity_grid(tuned)
    assert input_weights(plain, freqs, weights) is weights
    tuned_w = input_weights(tuned, freqs, weights)
    assert tuned_w.shape == (1, freqs.size)
    # A 1.2 kHz tone sees resonator b (f0 1.2 kHz): a part tuning b dominates, where under a pink
    # input resonator a's inductor does.
    def top(ctx):
        table = sensitivity_table(ctx)
        return table.parts[int(np.argmax(np.max(table.edges, axis=1)))]
    assert top(plain).attrs["element"] != "b"
    assert top(tuned).attrs["element"] == "b" and top(tuned).attrs["role"] in ("stiffness", "mass")
