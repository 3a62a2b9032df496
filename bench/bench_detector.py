"""The on-circuit readout's mean-square detector on sines: parts level against the behavioural one.

Each point drives detector 1 of a two-class readout (``readout_analog.readout_description``,
TL072-like op-amps, 1N4148, 2N3904, E96; the second class idles at 0 V) with a sine of the
given peak (V, at the buffer output the detector sees) and frequency over a readout window, and
reads ``det1`` after the window. Both levels are compared with the exact mean square of the same
sine (numpy), in relative mean-square error (det / (volts_per_mean_square · MS) − 1). The
behavioural detector (B-source squarer into a capacitor) is the peer: its error is ngspice's
own, so the difference is what the parts add. A level- or frequency-dependent error moves a
decision when two classes' features are closer than it; an error common to all points does not.

Usage: python bench/bench_detector.py [--levels 0.02,0.05,0.1,0.2,0.4,1] [--freqs 100,300,1000,4000]
                                      [--window 0.05] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler.backend.ngspice import NgspiceNetlister  # noqa: E402
from r2nn_compiler.circuit.opamp import from_options  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.passes import readout_analog  # noqa: E402
from r2nn_compiler.sim import NgspiceBatch  # noqa: E402

#: ngspice settings of a point: a step far below the sine's period, tight tolerances.
MAX_STEP_S = 2e-7
OPTIONS = ".options reltol=1e-4 abstol=1e-12 vntol=1e-6 chgtol=1e-16"


def deck(level: str, peak_v: float, freq_hz: float, window_s: float) -> tuple[str, float]:
    """The testbench of one point and the detector's volts per mean square (V per V²)."""
    desc = readout_analog.readout_description(level, 2, 0.0, window_s, from_options(CompileOptions()), "E96")
    net = NgspiceNetlister()
    lines = [f"* r2nn detector bench: {level}, {peak_v:g} V peak, {freq_hz:g} Hz"]
    for sub in desc["subcircuits"]:
        lines += net.subcircuit(sub)
    lines += [f"Vb1 b1 0 sin(0 {peak_v:.6e} {freq_hz:.6e})", "Vb2 b2 0 dc 0",
              f"Xr b1 b2 dec1 dec2 det1 det2 {' '.join(desc.get('supplies', {}))} {desc['subckt']}",
              *(f"V{net} {net} 0 dc {volts:g}" for net, volts in desc.get("supplies", {}).items()),
              "Rl1 dec1 0 1e4", "Rl2 dec2 0 1e4",
              f".tran {MAX_STEP_S:.3e} {window_s * 1.01:.6e} 0 {MAX_STEP_S:.3e}", OPTIONS, ".end"]
    return "\n".join(lines) + "\n", float(desc["volts_per_mean_square"])


def point(level: str, peak_v: float, freq_hz: float, window_s: float) -> float:
    """Relative mean-square error of ``level``'s detector on one sine."""
    text, vpms = deck(level, peak_v, freq_hz, window_s)
    with tempfile.TemporaryDirectory(prefix="r2nn-detector-") as tmp:
        plot = NgspiceBatch().run_text(text, Path(tmp)).plot("tran")
    t, det = np.real(plot.get("time")), np.real(plot.get("v(det1)"))
    measured = float(np.interp(window_s * 1.005, t, det))
    grid = np.linspace(0.0, window_s, 400_001)
    mean_square = float(np.trapezoid((peak_v * np.sin(2 * np.pi * freq_hz * grid)) ** 2, grid) / window_s)
    return measured / (vpms * mean_square) - 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="0.02,0.05,0.1,0.2,0.4,1", help="sine peaks (V), comma-separated")
    ap.add_argument("--freqs", default="100,300,1000,4000", help="frequencies (Hz), comma-separated")
    ap.add_argument("--window", type=float, default=0.05, help="readout window (s)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    levels = [float(v) for v in args.levels.split(",")]
    freqs = [float(v) for v in args.freqs.split(",")]
    jobs = [(lvl, a, f) for f in freqs for a in levels for lvl in ("parts", "behavioural")]
    with ThreadPoolExecutor(args.workers) as pool, tqdm(total=len(jobs), unit="run", desc="ngspice") as bar:
        futures = [pool.submit(point, lvl, a, f, args.window) for lvl, a, f in jobs]
        errors = {}
        for job, fut in zip(jobs, futures):
            errors[job] = fut.result()
            bar.update()
    print(f"mean-square error of the readout's detector on sines, {args.window:g} s window "
          "(relative to the exact mean square)")
    print(f"{'f (Hz)':>8} {'peak (V)':>9} {'parts':>11} {'behavioural':>12} {'parts - behav.':>15}")
    for f in freqs:
        for a in levels:
            p, b = errors[("parts", a, f)], errors[("behavioural", a, f)]
            print(f"{f:>8g} {a:>9g} {p:>+11.2e} {b:>+12.2e} {p - b:>+15.2e}")
    spread = [errors[("parts", a, f)] - errors[("behavioural", a, f)] for f in freqs for a in levels]
    print(f"parts - behavioural over all points: {min(spread):+.2e} .. {max(spread):+.2e} "
          f"(a decision flips where two features are closer than half the spread that applies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
