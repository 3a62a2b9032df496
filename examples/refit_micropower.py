"""A demo's shipped network with its layer refitted to the passive diode cell's law, as
``r2nn refit-readout --law diode`` does it (defaults: one common gain, |weight| ≤ 8/V), scored
on the demo's held-out clips, and its micropower deck's energy estimate.

Writes OUT (default ``DEMO_micropower.r2nn`` in the current folder) and prints the held-out
accuracy of the shipped log-mean-square model and of the refitted one (the exact reference, the
split of run_demo.py), then ``r2nn compile OUT --readout analog``'s energy line when ``--compile
DIR`` is given. ``examples/tactile/make_micropower.py`` is tactile's richer version (gain rows,
bound rows); this one serves every demo.

Usage: python examples/refit_micropower.py DEMO [--out FILE] [--max-weight PER_V|none] [--gain common|per-tap]
       [--x-rms X] [--compile DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset  # noqa: E402

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import load_model, save_model  # noqa: E402
from r2nn_compiler.train.law_readout import GainMode, LawOptions, model_labels, recommended_law, refit_law_readout  # noqa: E402


def held_out_accuracy(model, test) -> float:
    """Fraction of ``test``'s clips whose exact reference decision is their label."""
    features = reference.features_of(model, test.signals, test.sample_rate_hz)
    return float(np.mean(np.argmax(features, axis=1) == model_labels(model, test)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", choices=sorted(PER_CLASS))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--max-weight", type=_bound, default=8.0, help="bound on every |class weight| (1/V), or none")
    ap.add_argument("--gain", choices=[m.value for m in GainMode], default=GainMode.COMMON.value,
                    help="common: one gain, the largest training tap at the 1.6 V clip; per-tap: --x-rms")
    ap.add_argument("--x-rms", type=float, default=30.0, help="--gain per-tap: each tap's loudest window RMS (n·Vt)")
    ap.add_argument("--compile", type=Path, default=None, help="also compile OUT --readout analog into this folder")
    args = ap.parse_args()
    out = args.out or Path(f"{args.demo}_micropower.r2nn")
    data, record = demo_dataset(args.demo, SEED, PER_CLASS[args.demo])
    train_idx, test_idx = data.split(TEST_FRACTION, SEED + 1)
    train, test = subset(data, train_idx), subset(data, test_idx)
    shipped = load_model(HERE / args.demo / "model.r2nn")
    nvt, rate, hold = recommended_law()
    options = LawOptions(nvt=nvt, rate=rate, clip=1.6, hold=hold, gain=GainMode(args.gain), peak_v=1.6,
                         x_rms=args.x_rms, max_weight=args.max_weight)
    t0 = time.perf_counter()
    fit = refit_law_readout(shipped, train, options, progress=True)
    save_model(fit.model, out)
    print(f"{args.demo}, data seed {record.seed} ({record.sha256[:12]}): {len(train_idx)} training, "
          f"{len(test_idx)} held-out clips")
    print(f"shipped log-mean-square model: held out {100 * held_out_accuracy(shipped, test):.1f} %")
    print(f"diode law, {args.gain} gain(s) {fit.gains.min():.3g} … {fit.gains.max():.3g} V per node unit, |A| ≤ {fit.max_abs_weight:.3g}/V: "
          f"train {100 * fit.train_accuracy:.1f} %, held out {100 * held_out_accuracy(load_model(out), test):.1f} % "
          f"({time.perf_counter() - t0:.0f} s); wrote {out}")
    if args.compile is not None:
        from click.testing import CliRunner
        from r2nn_compiler.cli import main as cli
        result = CliRunner().invoke(cli, ["compile", str(out), "-o", str(args.compile), "--readout", "analog"])
        if result.exit_code:
            print(result.output, file=sys.stderr)
            return result.exit_code
        print("\n".join(line for line in result.output.splitlines() if "energy" in line or "wrote" in line))
        print("(the sums' scale is the worst case: no --calibrate-signals)")
    return 0


def _bound(text: str) -> float | None:
    """``--max-weight``: a positive number (1/V) or ``none``."""
    if text.strip().lower() == "none":
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive or none, got {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
