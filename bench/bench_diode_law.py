"""The diode law's reference on the tactile demo: cost beside the log law's, and how far the
trace estimate (what verify computes from sampled traces) is from the exact readings.

On ``--clips`` held-out clips of run_demo.py's split, with examples/tactile/micropower.r2nn:

- seconds per clip of the exact readings (``reference.layer_features``) beside the same call on
  the shipped log-mean-square model (examples/tactile/model.r2nn), side by side in one run;
- the trace estimate (``reference.trace_layer_features``) from the taps sampled at the model's
  rate × 1, 4, 16 (the input resampled linearly, i.e. the same input): largest absolute and
  relative reading error, and decision agreement with the exact scores.

Usage: python bench/bench_diode_law.py [--clips N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import load_model  # noqa: E402


def held_out(clips: int):
    from demo_data import demo_dataset
    from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset

    data, _ = demo_dataset("tactile", SEED, PER_CLASS["tactile"])
    _, test_idx = data.split(TEST_FRACTION, SEED + 1)
    test = subset(data, test_idx)
    pick = np.linspace(0, len(test_idx) - 1, min(clips, len(test_idx))).round().astype(int)
    return np.asarray(test.signals, dtype=float)[pick], test.sample_rate_hz


def upsampled(u: np.ndarray, factor: int) -> np.ndarray:
    n = (u.shape[-1] - 1) * factor + 1
    grid = np.arange(n) / factor
    return np.stack([[np.interp(grid, np.arange(u.shape[-1]), row) for row in clip] for clip in u])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=10)
    args = ap.parse_args()
    law = load_model(ROOT / "examples" / "tactile" / "micropower.r2nn")
    log = load_model(ROOT / "examples" / "tactile" / "model.r2nn")
    u, fs = held_out(args.clips)
    t0 = time.perf_counter()
    psi = reference.layer_features(law, u, fs)
    t_law = (time.perf_counter() - t0) / len(u)
    t0 = time.perf_counter()
    reference.layer_features(log, u, fs)
    t_log = (time.perf_counter() - t0) / len(u)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(u)} held-out tactile clips")
    print("| reference, exact | s per clip | ratio |\n|---|---:|---:|")
    print(f"| log law, ln(MS + ε) (model.r2nn) | {t_log:.3f} | 1 |")
    print(f"| diode law (micropower.r2nn) | {t_law:.3f} | {t_law / t_log:.1f}× |")
    exact = reference.scores(law, psi)
    print("\n| traces at | largest error (V) | largest relative error | decisions as exact |\n|---|---:|---:|---:|")
    for factor in (1, 4, 16):
        y = reference.simulate(law, upsampled(u, factor), fs * factor)
        est = reference.trace_layer_features(law, y, fs * factor)
        same = np.mean(np.argmax(reference.scores(law, est), 1) == np.argmax(exact, 1))
        print(f"| {fs * factor / 1e3:g} kHz (×{factor}) | {np.max(np.abs(est - psi)):.3g} | "
              f"{np.max(np.abs(est - psi) / np.abs(psi)):.3g} | {100 * same:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
