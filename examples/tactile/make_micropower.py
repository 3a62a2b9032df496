"""The tactile readout trained on the passive diode cell's law: writes examples/tactile/micropower.r2nn.

The shipped network (examples/tactile/model.r2nn, resonators unchanged) gets a layer under
``law diode`` (the recommended cell of docs/micropower.md: D1N4148 card, 4.7 nF, TS12A44515-class
switches: n·Vt, k and the hold droop τ = Roff·C/2 from parts/detectors.py; taps clip at ±1.6 V),
its weights refitted on the 240 training clips of run_demo.py's split (``law_readout.fit_weights``:
raw readings, every |weight| ≤ ``--max-weight`` per volt); the 60 held-out clips score it. It
prints one row per gain choice — one common gain at several peak levels (the
largest |tap| over the training clips' windows, in V) and per-tap gains at x_rms = 30 — then
writes the model of ``--pick`` (default: the common gain at the clip, 1.6 V) and scores it again
with the exact reference (the rows' readings are on the fit's coarser quadrature grid).

``--bounds`` also prints, for the picked gain, one row per bound on the weights (1/V; "none": L2
alone), with the decisions' robustness to reading errors in volts (docs/diode-law.md).

Usage: python examples/tactile/make_micropower.py [--peaks 0.4,0.8,1.2,1.6] [--per-tap 30]
       [--pick common:1.6] [--max-weight 8] [--bounds none,20,12,8,5,3]
       [--out examples/tactile/micropower.r2nn]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parents[1]))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset  # noqa: E402

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import load_model, save_model  # noqa: E402
from r2nn_compiler.train.law_readout import (  # noqa: E402
    MAX_WEIGHT, GainMode, LawOptions, choose_gains, fit_weights, law_model, readings, recommended_law, tap_levels,
)

CLIP_V = 1.6


def cell_options(gain: GainMode, level: float) -> LawOptions:
    """The recommended cell's law (``law_readout.recommended_law``) at a gain choice."""
    nvt, rate, hold = recommended_law()
    return LawOptions(nvt=nvt, rate=rate, clip=CLIP_V, hold=hold, gain=gain,
                      peak_v=level if gain is GainMode.COMMON else CLIP_V,
                      x_rms=level if gain is GainMode.PER_TAP else 30.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peaks", default="0.4,0.8,1.2,1.6", help="common-gain peak levels (V) to score")
    ap.add_argument("--per-tap", type=float, default=30.0, help="per-tap x_rms level to score (0: none)")
    ap.add_argument("--pick", default="common:1.6", help="the row written: common:PEAK_V or per-tap:X_RMS")
    ap.add_argument("--max-weight", default=str(MAX_WEIGHT), help="bound on |weight| (1/V) of every row; none: L2 alone")
    ap.add_argument("--bounds", default="", help="bounds (1/V, or none) to compare on the picked gain")
    ap.add_argument("--out", type=Path, default=HERE / "micropower.r2nn")
    args = ap.parse_args()

    data, record = demo_dataset("tactile", SEED, PER_CLASS["tactile"])
    train_idx, test_idx = data.split(TEST_FRACTION, SEED + 1)
    train, test = subset(data, train_idx), subset(data, test_idx)
    shipped = load_model(HERE / "model.r2nn")
    shipped_acc = float(np.mean(np.argmax(reference.features_of(shipped, test.signals, test.sample_rate_hz), 1)
                                == test.labels))
    t0 = time.perf_counter()
    probe = cell_options(GainMode.COMMON, CLIP_V)
    levels = tap_levels(shipped, train, probe, progress=True)
    print(f"tactile, data seed {record.seed} ({record.sha256[:12]}): {len(train_idx)} training, {len(test_idx)} "
          f"held-out clips; shipped log-mean-square model: held out {100 * shipped_acc:.1f} %")
    print(f"law: n·Vt = {probe.nvt * 1e3:.2f} mV, k = {probe.rate:.3f} 1/s, clip ±{CLIP_V} V, "
          f"hold τ = {probe.hold:.3g} s")
    rows = [(GainMode.COMMON, float(p)) for p in args.peaks.split(",") if p]
    rows += [(GainMode.PER_TAP, args.per_tap)] if args.per_tap > 0 else []
    options = [cell_options(mode, level) for mode, level in rows]
    gains = [choose_gains(levels, o) for o in options]
    models = [law_model(shipped, o, g) for o, g in zip(options, gains)]
    psi_train = readings(models, train, probe, progress=True)
    psi_test = readings(models, test, probe, progress=True)
    print("| gains | level | gains (V per node unit) | largest training tap, unclipped (V) | L2 | train acc. | "
          "held-out acc. |")
    print("|---|---|---|---:|---:|---:|---:|")
    chosen = {}
    for (mode, level), model, g, tr, te in zip(rows, models, gains, psi_train, psi_test):
        fitted, l2 = fit_weights(model, tr, np.asarray(train.labels), max_weight=_bound(args.max_weight))
        level_text = f"{level:g} V peak" if mode is GainMode.COMMON else f"x_rms {level:g}"
        print(f"| {mode.value} | {level_text} | {g.min():.3g} … {g.max():.3g} | {float(np.max(levels.peak * g)):.3g} "
              f"| {l2:g} | {100 * _accuracy(fitted, tr, train.labels):.1f} % | "
              f"{100 * _accuracy(fitted, te, test.labels):.1f} % |")
        chosen[f"{mode.value}:{level:g}"] = fitted
    if args.pick not in chosen:
        print(f"--pick {args.pick}: not among the rows ({', '.join(chosen)})", file=sys.stderr)
        return 2
    pick = [f"{m.value}:{level:g}" for m, level in rows].index(args.pick)
    if args.bounds:
        bound_rows(models[pick], psi_train[pick], psi_test[pick], train.labels, test.labels, args.bounds)
    save_model(chosen[args.pick], args.out)
    written = load_model(args.out)
    exact = np.argmax(reference.features_of(written, test.signals, test.sample_rate_hz), axis=1)
    print(f"wrote {args.out} ({args.pick}): held-out accuracy {100 * np.mean(exact == test.labels):.1f} % "
          f"from the exact reference ({len(test_idx)} clips); total {time.perf_counter() - t0:.0f} s")
    return 0


def _bound(text: str) -> float | None:
    return None if text.strip().lower() == "none" else float(text)


def bound_rows(model, tr: np.ndarray, te: np.ndarray, train_labels, test_labels, bounds: str) -> None:
    """One row per bound on the weights: largest |A|, L2, accuracies, and on the held-out clips the
    reading error (mV, the same on every feature against the decision) the decision tolerates:
    margin / Σ_f |A_top,f − A_second,f|, its 5th percentile and median."""
    print("| bound (1/V) | largest |A| (1/V) | L2 (CV) | train acc. | held-out acc. | tolerated reading error, "
          "p5 / median (mV) |")
    print("|---|---:|---:|---:|---:|---:|")
    for text in bounds.split(","):
        fitted, l2 = fit_weights(model, tr, np.asarray(train_labels), max_weight=_bound(text))
        _, _, matrix = fitted.readout.feature_matrix()
        a = np.array(matrix)
        s = reference.scores(fitted, te)
        order = np.argsort(s, axis=1)
        top, second = order[:, -1], order[:, -2]
        rows = np.arange(len(s))
        tolerated = (s[rows, top] - s[rows, second]) / np.abs(a[top] - a[second]).sum(axis=1) * 1e3
        print(f"| {text} | {np.abs(a).max():.3g} | {l2:g} | {100 * _accuracy(fitted, tr, train_labels):.1f} % | "
              f"{100 * _accuracy(fitted, te, test_labels):.1f} % | {np.percentile(tolerated, 5):.2g} / "
              f"{np.median(tolerated):.2g} |")


def _accuracy(model, psi: np.ndarray, labels) -> float:
    return float(np.mean(np.argmax(reference.scores(model, psi), axis=1) == np.asarray(labels)))


if __name__ == "__main__":
    sys.exit(main())
