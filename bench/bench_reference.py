"""Reference simulator vs scipy.signal.lsim on a batch of signals.

For N in {8, 32, 128} resonators (dense random couplings), a batch of 64 one-second 16 kHz noise
signals: the project's batched exact FOH simulator against scipy.signal.lsim (same FOH input, one
call per signal). Prints signal-seconds per wall-second, the worst deviation and the ratio.
Target: >= 20x lsim on the batch. lsim is timed on a subset and scaled (it is linear in signals).

Usage: python bench/bench_reference.py [--signals 64] [--lsim-signals 4] [--sizes 8,32,128]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.numerics.foh import modal_ok  # noqa: E402
from strategies import random_stable_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signals", type=int, default=64)
    ap.add_argument("--lsim-signals", type=int, default=4)
    ap.add_argument("--sizes", default="8,32,128")
    ap.add_argument("--rate", type=float, default=16_000.0)
    args = ap.parse_args()
    rate = args.rate
    n_t = int(rate)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((args.signals, 1, n_t))
    print(f"batch: {args.signals} signals x 1 s at {rate:g} Hz; lsim timed on {args.lsim_signals} and scaled")
    print(f"{'N':>5} {'method':>10} {'ours s':>9} {'ours sig-s/s':>13} {'lsim s':>9} {'lsim sig-s/s':>13}"
          f" {'ratio':>7} {'max rel err':>12}")
    for n in (int(s) for s in args.sizes.split(",")):
        model = random_stable_model(100 + n, n=n)
        ss = reference.state_space(model)
        t0 = time.perf_counter()
        ours = reference.simulate(model, u, rate)
        t_ours = time.perf_counter() - t0
        t = np.arange(n_t) / rate
        t0 = time.perf_counter()
        errs = []
        for s in range(args.lsim_signals):
            _, want, _ = scipy.signal.lsim((ss.A, ss.B, ss.C, ss.D), u[s, 0], t, interp=True)
            scale = np.sqrt(np.mean(want**2, axis=0))
            errs.append(np.max(np.abs(ours[s].T - want) / scale))
        t_lsim = (time.perf_counter() - t0) * args.signals / args.lsim_signals
        method = "modal" if modal_ok(ss.A) else "recursion"
        print(f"{n:>5} {method:>10} {t_ours:>9.3f} {args.signals / t_ours:>13.1f} {t_lsim:>9.2f}"
              f" {args.signals / t_lsim:>13.2f} {t_lsim / t_ours:>6.1f}x {max(errs):>12.2e}")








if __name__ == "__main__":
    main()
