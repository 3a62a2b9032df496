"""What log mean-square detectors can reach on a demo: fixed resonator banks against an envelope bank.

The readout layer classifies on φ = ln(mean square + ε) of resonator velocities over segments.
Whatever a trained *linear* network can learn, a bank of fixed second-order resonators (peaking
filters, ``scipy.signal.iirpeak``) with as many detectors and more, followed by the same convex
readout (:mod:`r2nn_compiler.train.logistic`: standardised features, L2 weight by 5-fold
cross-validation on the training clips), bounds from below what the network's powers carry. The
envelope rows put a square-law stage first (band-pass around the structural resonance, square,
then the same fixed bank and readout): the features of a demodulating front end, which a linear
network cannot compute. Every row uses run_demo.py's draws and splits (seed s: held out
``data.split(0.2, s + 1)``), so its figures compare with ``examples/<demo>/seeds.json``.

Usage: python bench/bench_layer_ceiling.py [bearing|tactile|speech] [--seeds 0 1 2] [--per-class N]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, TEST_FRACTION  # noqa: E402

from r2nn_compiler.train import logistic  # noqa: E402

FLOOR = 1e-12


@dataclass(frozen=True)
class Bank:
    """Fixed detectors: ``groups`` of (n resonators log-spaced over [lo, hi] Hz, Q); ``envelope``
    (lo, hi) Hz band-passes and squares the signal first (None: linear)."""

    name: str
    groups: tuple[tuple[int, float, float, float], ...]
    segments: int = 1
    envelope: tuple[float, float] | None = None

    @property
    def detectors(self) -> int:
        return sum(g[0] for g in self.groups) * self.segments


def banks(demo: str) -> list[Bank]:
    """The rows for ``demo``: the demo network's own layout as fixed banks, denser and sharper
    banks, and (bearing) an envelope bank."""
    lo, hi = (60.0, 400.0) if demo == "bearing" else (50.0, 1800.0)
    sharp_hi, top = (500.0, 5500.0) if demo == "bearing" else (hi, 1900.0)
    dense = ((96, 50.0, top, 20.0),)
    rows = [Bank("fixed, the demo's low group (16, Q 5)", ((16, lo, hi, 5.0),)),
            Bank("fixed, 64 sharp (Q 30)", ((64, 50.0 if demo == "bearing" else lo, sharp_hi, 30.0),)),
            Bank("fixed, 96 over the band (Q 20)", dense),
            Bank("fixed, 96 over the band (Q 20), 4 segments", dense, segments=4)]
    if demo == "bearing":
        rows.insert(1, Bank("fixed, the demo's layout (16 Q 5 + 8 over 1–5 kHz Q 3)",
                            ((16, lo, hi, 5.0), (8, 1000.0, 5000.0, 3.0))))
        rows.append(Bank("envelope (2–4.5 kHz, squared), 32 over 5–400 Hz (Q 20)", ((32, 5.0, 400.0, 20.0),),
                         envelope=(2000.0, 4500.0)))
    return rows


def responses(x: np.ndarray, bank: Bank, rate_hz: float) -> np.ndarray:
    """(clips × detectors' resonators × samples) outputs of ``bank`` driven by clips ``x``."""
    if bank.envelope is not None:
        b, a = scipy.signal.butter(4, bank.envelope, "bandpass", fs=rate_hz)
        x = scipy.signal.lfilter(b, a, x, axis=1) ** 2
    out = []
    for n, lo, hi, q in bank.groups:
        for f in np.geomspace(lo, hi, n):
            b, a = scipy.signal.iirpeak(f, q, rate_hz)
            out.append(scipy.signal.lfilter(b, a, x, axis=1))
    return np.stack(out, 1)


def features(v: np.ndarray, segments: int) -> np.ndarray:
    """φ = ln(mean square + ε) per resonator and segment (equal segments over the clip)."""
    parts = np.array_split(np.arange(v.shape[2]), segments)
    return np.concatenate([np.log(np.mean(v[:, :, p] ** 2, axis=2) + FLOOR) for p in parts], axis=1)


def held_out_accuracy(z: np.ndarray, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
                      n_classes: int) -> float:
    """The convex readout fitted on ``train`` (standardised on it, L2 by cross-validation), scored on ``test``."""
    z = (z - z[train].mean(0)) / (z[train].std(0) + 1e-12)
    l2 = logistic.choose_l2(z[train], labels[train], n_classes)
    fitted = logistic.fit(z[train], labels[train], n_classes, l2)
    return logistic.accuracy(fitted.scores(z[test]), labels[test])


def run(demo: str, seeds: list[int], per_class: int) -> dict[str, list[float]]:
    rows = banks(demo)
    result: dict[str, list[float]] = {b.name: [] for b in rows}
    with tqdm(total=len(seeds) * len(rows), desc=demo, unit="bank") as bar:
        for seed in seeds:
            data, _ = demo_dataset(demo, seed, per_class)
            train, test = data.split(TEST_FRACTION, seed + 1)
            x = data.signals[:, 0, :].astype(float)
            for bank in rows:
                z = features(responses(x, bank, data.sample_rate_hz), bank.segments)
                result[bank.name].append(held_out_accuracy(z, data.labels, train, test, len(data.classes)))
                bar.update()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", nargs="?", default="bearing", choices=sorted(PER_CLASS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-class", type=int, default=None, help="default: run_demo.py's PER_CLASS")
    args = ap.parse_args()
    result = run(args.demo, args.seeds, args.per_class or PER_CLASS[args.demo])
    recorded = ROOT / "examples" / args.demo / "seeds.json"
    print(f"\n{args.demo}, draws {args.seeds}, held-out accuracy of the convex readout on fixed detectors\n")
    print("| detectors | features | held out, mean ± s.d. | per draw |")
    print("|---|---:|---:|---|")
    for bank in banks(args.demo):
        acc = np.array(result[bank.name])
        print(f"| {bank.name} | {bank.detectors} | {100 * acc.mean():.1f} ± {100 * acc.std(ddof=1 if acc.size > 1 else 0):.1f} % | "
              + ", ".join(f"{100 * a:.1f}" for a in acc) + " |")
    if recorded.is_file():
        trained = json.loads(recorded.read_text())
        ref = trained["reference_accuracy"]
        print(f"| the trained network ({recorded.relative_to(ROOT)}, draws "
              f"{[r['seed'] for r in trained['runs']]}) | – | {100 * ref['mean']:.1f} ± {100 * ref['std']:.1f} % | – |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
