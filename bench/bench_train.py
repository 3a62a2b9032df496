"""Trainer benchmark: a 32-resonator model on 1000 one-second 16 kHz clips of five classes.

The dataset is synthesised here (seeded): tones (400–800 Hz), chirps (sweeping up across
250 Hz–3 kHz), low noise bands (100–400 Hz), high noise bands (1.5–3 kHz) and harmonic buzzes
(f0 100–200 Hz, five harmonics), each at a random level with white noise at −10 dB. For each
readout (``--readout``: the linear layer, segments chosen by cross-validation and every detector
unless told, and the argmax of one output per class) prints the wall time of ``train`` (target
< 2 min on 2 cores), its stages and accuracies; then the cost of one gradient by the analytic
adjoint against a naive
time-domain gradient (central finite differences of the same cross-entropy through
``reference.simulate``, argmax readout) on a few clips; the naive one is timed on a handful of
parameters and scaled to all of them.

Usage: python bench/bench_train.py [--clips 1000] [--resonators 32] [--steps 300]
       [--readout both|linear|argmax] [--segments K (default: auto)] [--max-features N] [--plot out.png]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.model import validate_model  # noqa: E402
from r2nn_compiler.train import TrainOptions, dataset_from_arrays, plot_history, train  # noqa: E402
from r2nn_compiler.train import freqdomain as fd  # noqa: E402
from r2nn_compiler.train import layer  # noqa: E402
from r2nn_compiler.train.linear import prepare_linear  # noqa: E402
from r2nn_compiler.train.trainer import build_model, prepare, time_domain_rms  # noqa: E402

RATE = 16_000.0
CLASSES = ("tone", "chirp", "low_band", "high_band", "buzz")


def band_noise(rng, n, lo, hi):
    sos = scipy.signal.butter(4, [lo, hi], btype="bandpass", fs=RATE, output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    return x / np.std(x)


def synthesise(clips: int, seed: int = 0):
    """(clips × samples) signals and labels, classes balanced."""
    rng = np.random.default_rng(seed)
    n = int(RATE) + 1
    t = np.arange(n) / RATE
    signals = np.empty((clips, n))
    labels = np.arange(clips) % len(CLASSES)
    for i, label in enumerate(labels):
        phase = rng.uniform(0, 2 * np.pi)
        if label == 0:
            x = np.sin(2 * np.pi * rng.uniform(400, 800) * t + phase)
        elif label == 1:
            x = scipy.signal.chirp(t, rng.uniform(250, 600), t[-1], rng.uniform(1500, 3000), phi=np.degrees(phase))
        elif label == 2:
            x = band_noise(rng, n, *sorted(rng.uniform(100, 400, 2) + [0, 60]))
        elif label == 3:
            x = band_noise(rng, n, *sorted(rng.uniform(1500, 3000, 2) + [0, 200]))
        else:
            f0 = rng.uniform(100, 200)
            x = sum(np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 6))
        x = x / np.sqrt(np.mean(x**2))
        signals[i] = rng.uniform(0.3, 3.0) * (x + np.sqrt(0.1) * rng.standard_normal(n))
    return signals, labels


def time_domain_loss(model, signals, labels, temperature):
    log_r = np.log(time_domain_rms(model, signals, RATE)) + np.log([o.weight for o in model.outputs])
    z = temperature * log_r
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(labels.size), labels])


def gradient_costs(dataset, options, subset: int, fd_params: int):
    """Seconds for one gradient on ``subset`` clips: adjoint vs central differences in time."""
    problem = prepare(dataset, options)
    layout, theta, window = problem.layout, problem.theta, problem.window
    signals, labels = dataset.signals[:subset], dataset.labels[:subset]
    start = time.perf_counter()
    spectra = fd.window_spectra(signals, RATE, *window)
    fd.objective(theta, layout, spectra, labels, options.temperature, 0.0)
    t_adjoint = time.perf_counter() - start

    def loss(th):
        return time_domain_loss(build_model(layout, layout.values(th), dataset, options, problem.band, window),
                                signals, labels, options.temperature)

    picked = np.random.default_rng(1).choice(theta.size, fd_params, replace=False)
    start = time.perf_counter()
    for i in picked:
        step = np.zeros_like(theta)
        step[i] = 1e-6
        loss(theta + step) - loss(theta - step)
    t_fd = (time.perf_counter() - start) * theta.size / fd_params
    return t_adjoint, t_fd, theta.size


def layer_gradient_cost(dataset, options, subset: int) -> float:
    """Seconds for one evaluation of the linear readout's objective and gradient on ``subset``
    clips (segment spectra already computed, as in training)."""
    small = dataset_from_arrays(dataset.signals[:subset], dataset.labels[:subset], RATE, CLASSES)
    problem = prepare_linear(small, dataclasses.replace(options, validation=0.0))
    start = time.perf_counter()
    layer.objective(problem.theta, problem.rho, problem.layout, problem.head, problem.spectra, small.labels,
                    options.group_lasso, options.l1)
    return time.perf_counter() - start


def run(dataset, options, label: str) -> tuple[list[tuple[str, str]], object]:
    """Train with ``options``: the table rows of its figures, and the TrainResult."""
    start = time.perf_counter()
    result = train(dataset, options, progress=True)
    t_train = time.perf_counter() - start
    validate_model(result.model)
    reference.check_stable(result.model)
    m = result.metrics
    rows = [
        (f"[{label}] train wall time (s), target < 120", f"{t_train:.1f}"),
        (f"[{label}] couplings kept", f"{m['couplings']}"),
        (f"[{label}] frequency nodes", f"{m['frequency_nodes']}"),
        (f"[{label}] train accuracy, frequency domain", f"{m['train_accuracy_freq']:.3f}"),
        (f"[{label}] val accuracy, frequency domain", f"{m['val_accuracy_freq']:.3f}"),
    ]
    if options.readout == "linear":
        rows += [
            (f"[{label}] segments" + (" (auto, cross-validated)" if m["segments_auto"] else ""), f"{m['segments']}"),
            (f"[{label}] features (resonator x segment)", f"{m['features']} of "
             f"{options.n_resonators * m['segments']}"),
            (f"[{label}] time-domain stage (s)", f"{m['time_domain_seconds']:.1f}"),
        ]
    else:
        rows.append((f"[{label}] val accuracy, time (before readout tune)",
                     f"{m['val_accuracy_time_before_readout_tune']:.3f}"))
    rows += [
        (f"[{label}] train accuracy, time domain", f"{m['train_accuracy_time']:.3f}"),
        (f"[{label}] val accuracy, time domain (final)", f"{m['val_accuracy_time']:.3f}"),
        (f"[{label}] rejected steps (stability guard)", f"{m['rejected_steps']}"),
    ]
    return rows, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--resonators", type=int, default=32)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--max-couplings", type=int, default=None)
    ap.add_argument("--readout", choices=["both", "linear", "argmax"], default="both")
    ap.add_argument("--segments", type=int, default=None, help="K equal segments (default: auto)")
    ap.add_argument("--max-features", type=int, default=None)
    ap.add_argument("--fd-clips", type=int, default=10)
    ap.add_argument("--fd-params", type=int, default=8)
    ap.add_argument("--plot", default=None, help="loss/accuracy curves of the last readout trained")
    args = ap.parse_args()

    start = time.perf_counter()
    signals, labels = synthesise(args.clips)
    dataset = dataset_from_arrays(signals, labels, RATE, CLASSES, name="bench5")
    t_data = time.perf_counter() - start
    base = TrainOptions(n_resonators=args.resonators, steps=args.steps, max_couplings=args.max_couplings,
                        band=(80.0, 4000.0), segments=args.segments, max_features=args.max_features)
    readouts = ["linear", "argmax"] if args.readout == "both" else [args.readout]
    rows, result, segments = [], None, args.segments or 4
    for readout in readouts:
        new_rows, result = run(dataset, dataclasses.replace(base, readout=readout), readout)
        rows += new_rows
        segments = result.metrics.get("segments", segments)
    print(f"dataset: {args.clips} clips x 1 s at {RATE:g} Hz, {len(CLASSES)} classes (synthesis {t_data:.1f} s)")
    print(f"model: {args.resonators} resonators, {args.steps} steps")
    print()
    print(f"{'quantity':<52} {'value':>12}")
    argmax = dataclasses.replace(base, readout="argmax")
    t_adj, t_fd, n_params = gradient_costs(dataset, argmax, args.fd_clips, args.fd_params)
    rows += [
        (f"adjoint gradient, {args.fd_clips} clips, argmax (s)", f"{t_adj:.3f}"),
        (f"adjoint gradient, {args.fd_clips} clips, linear layer (s)",
         f"{layer_gradient_cost(dataset, dataclasses.replace(base, segments=segments), args.fd_clips):.3f}"),
        (f"finite-difference gradient, {args.fd_clips} clips (s)*", f"{t_fd:.1f}"),
        ("speed-up of the adjoint (argmax)", f"{t_fd / t_adj:.0f}x"),
    ]
    for name, value in rows:
        print(f"{name:<52} {value:>12}")
    print(f"* timed on {args.fd_params} of {n_params} parameters (2 simulations each) and scaled")
    if args.plot:
        plot_history(result.history, args.plot)
        print(f"history plot: {args.plot}")


if __name__ == "__main__":
    main()
