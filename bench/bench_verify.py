"""Verification throughput: a naive hand-written deck vs the project's verifier, same models and signals.

Naive: what a user would write — the input as an inline PWL source, default ngspice options and
step (``.tran 1/fs T``), one ngspice process per signal. Ours: ``verify_deck`` on the exact
compile (filesource input, step from the sample rate and the highest resonance, several signals
per run, runs on every core, only outputs saved, simulation stopped at the readout window).
Both are compared with the reference model (NRMSE over the simulated span). Prints signal-seconds
per wall-second and the ratio. Target: ≥ 10× at equal or better accuracy.

Usage: python bench/bench_verify.py [--signals 8] [--seconds 0.1] [--sizes 4,8]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import compile_model  # noqa: E402
from r2nn_compiler.model import Readout  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.sim import NgspiceBatch  # noqa: E402
from r2nn_compiler.verify import read_compiled, verify_deck  # noqa: E402
from r2nn_compiler.verify.metrics import nrmse  # noqa: E402
from tests.strategies import random_stable_model  # noqa: E402


def naive(outdir: Path, manifest: dict, signal: Signal, steps_per_sample: int | None = None
          ) -> tuple[np.ndarray, float]:
    """One hand-written deck per signal: PWL input, default step control (or a step limit of
    ``1/(fs·steps_per_sample)``, what a careful user adds to get accuracy)."""
    t = np.arange(signal.data.shape[1]) / signal.rate_hz
    pwl = " ".join(f"{ti:.9g} {ui:.9g}" for ti, ui in zip(t, signal.data[0]))
    outs = [o["port"] for o in manifest["outputs"]]
    deck = "\n".join([
        "* naive testbench", f".include {outdir / manifest['library']}", f"Vin in1 0 PWL({pwl})",
        f"X1 in1 {' '.join(outs)} {manifest['subckt']}", f".tran {1 / signal.rate_hz:.9g} {t[-1]:.9g}"
        + (f" 0 {1 / (signal.rate_hz * steps_per_sample):.9g}" if steps_per_sample else "") + " uic", ".end"])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        plot = NgspiceBatch().run_text(deck, tmp).plot("tran")
    elapsed = time.perf_counter() - start
    time_c = np.real(plot.get("time"))
    return np.stack([np.interp(t, time_c, np.real(plot.get(f"v({o})"))) for o in outs]), elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signals", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=0.1)
    ap.add_argument("--rate", type=float, default=16_000.0)
    ap.add_argument("--sizes", default="4,8")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = int(args.seconds * args.rate) + 1
    signals = [Signal(rng.standard_normal((1, n)), args.rate, f"s{i}") for i in range(args.signals)]
    total = args.signals * args.seconds
    print(f"{args.signals} signals of {args.seconds} s at {args.rate:g} Hz")
    print(f"{'N':>4} {'deck':<32}{'signal-s/s':>11} {'worst NRMSE':>12} {'ours vs it':>11}")
    for size in (int(s) for s in args.sizes.split(",")):
        model = dataclasses.replace(random_stable_model(size, n=size), readout=Readout("rms", 0.0, args.seconds))
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "deck"
            compile_model(model, out, exact=True)
            compiled = read_compiled(out)
            start = time.perf_counter()
            report = verify_deck(model, compiled, signals, run_ac=False)
            ours_s = time.perf_counter() - start
            rows = [("ours (r2nn verify)", ours_s, report.worst_nrmse)]
            for label, steps in (("naive: PWL, default step", None), ("naive: PWL, step Ts/20", 20)):
                errors, spent = [], 0.0
                for s in signals:
                    y, elapsed = naive(out, compiled.manifest, s, steps)
                    spent += elapsed
                    errors.append(np.max(nrmse(y, reference.simulate(model, s.data, s.rate_hz))))
                rows.append((label, spent, max(errors)))
        for label, spent, err in rows:
            print(f"{size:>4} {label:<32}{total / spent:>11.3f} {err:>12.2e} {spent / ours_s:>10.2f}x")


if __name__ == "__main__":
    main()
