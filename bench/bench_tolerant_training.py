"""Decisions that survive the parts: Gaussian hardware-aware training against tolerance-aware training.

For each draw (run_demo.py's data and split), a model is trained twice on the same clips: with
the demo's SETTINGS (multiplicative Gaussian noise, σ = ``hardware_aware``) and with the same
settings but part tolerances (``tolerances``, the worst of ``tolerance_draws`` boards per step,
:mod:`r2nn_compiler.train.boards`). Each is compiled as run_demo.py compiles it (E96, gains
calibrated on the training clips) and its deck goes through the Monte Carlo of ``r2nn
tolerance`` (the deck's own MNA, every held-out clip, uniform draws within the BOM's default
tolerances): class agreement with the nominal reference and accuracy, mean and 5 % band.

Usage: python bench/bench_tolerant_training.py [tactile|speech|bearing] [--seeds 1] [--runs 200]
                                                [--draws 3] [--steps 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, SETTINGS, TEST_FRACTION, compile_demo, reference_decisions, subset  # noqa: E402

from r2nn_compiler.circuit.tolerances import DEFAULT_TOLERANCES, parse_tolerances  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.train import TrainOptions, train  # noqa: E402
from r2nn_compiler.verify import read_compiled  # noqa: E402
from r2nn_compiler.verify.tolerance import analyse  # noqa: E402


def row(name: str, demo: str, seed: int, data, train_idx, test_idx, settings: dict, steps: int, runs: int,
        workdir: Path) -> str:
    t0 = time.perf_counter()
    model = train(subset(data, train_idx), TrainOptions(steps=steps, seed=seed, name=demo, **settings),
                  progress=False).model
    train_s = time.perf_counter() - t0
    test = subset(data, test_idx)
    accuracy = float(np.mean(reference_decisions(model, test) == test.labels))
    compile_demo(model, subset(data, train_idx), workdir / name)
    signals = [Signal(x.astype(float), data.sample_rate_hz, f"heldout/{data.classes[y]}/{i}.wav")
               for i, (x, y) in enumerate(zip(test.signals, test.labels))]
    report = analyse(model, read_compiled(workdir / name), signals, parse_tolerances(DEFAULT_TOLERANCES),
                     runs=runs, seed=seed, spot_checks=0)
    agree, acc = report.band(report.agreement), report.band(report.accuracy)
    return (f"| {seed} | {name} | {train_s:.0f} | {100 * accuracy:.1f} % | {100 * report.nominal_agreement:.1f} % | "
            f"{100 * agree['mean']:.1f} % ({100 * agree['p5']:.1f}) | {100 * acc['mean']:.1f} % "
            f"({100 * acc['p5']:.1f}) |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", nargs="?", default="tactile", choices=sorted(SETTINGS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    gaussian = dict(SETTINGS[args.demo])
    tolerant = {**gaussian, "hardware_aware": 0.0, "tolerances": DEFAULT_TOLERANCES, "tolerance_draws": args.draws}
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            data, _ = demo_dataset(args.demo, seed, PER_CLASS[args.demo])
            train_idx, test_idx = data.split(TEST_FRACTION, seed + 1)
            for name, settings in ((f"Gaussian σ {gaussian.get('hardware_aware', 0)}", gaussian),
                                   (f"tolerances {DEFAULT_TOLERANCES}, worst of {args.draws}", tolerant)):
                lines.append(row(name, args.demo, seed, data, train_idx, test_idx, settings, args.steps, args.runs,
                                 Path(tmp)))
                print(lines[-1], flush=True)
    print(f"\n{args.demo}: {args.runs} Monte Carlo draws ({DEFAULT_TOLERANCES}, uniform) on every held-out clip\n")
    print("| draw | training | train s | held-out accuracy | nominal deck agreement | MC agreement mean (5 % band) "
          "| MC accuracy mean (5 % band) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
