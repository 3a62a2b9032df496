"""Output calibration (``calibrate_outputs``): the realised circuit's feature error, with and without.

For each demo's shipped model and its held-out clips (``run_demo.py``'s split), every part E96,
each deck (inductors passive or GIC × readout none or analog) is compiled three times: as before
(``--no-calibrate``, the natural peer), calibrated on the model's band power (the default), and
calibrated on 64 of the demo's *training* clips (``--calibrate-signals``; the held-out clips
stay unseen). The deck's linear part (network and, with the analog readout, the buffers) is read
back from the written library and solved exactly (:meth:`CircuitUnderTest.features_for`); its
features on the held-out clips are set against the reference model's.

Columns: feature error relative to each clip's largest feature (worst and median over clips,
max over outputs), the per-output mean offset over clips (the part a gain trim can remove),
the decisions that differ from the reference's, the smallest ratio of winning margin to feature
error over the clips (below 1 a decision can flip), and the calibration pass's share of the
compile time.

Usage: python bench/bench_calibration.py [tactile speech bearing] [--limit N]
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

from r2nn_compiler import reference  # noqa: E402
from r2nn_compiler.compiler import compile_model, load_model  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.train import load_dataset  # noqa: E402
from r2nn_compiler.verify import read_compiled  # noqa: E402
from r2nn_compiler.verify.circuit import CircuitUnderTest  # noqa: E402
from r2nn_compiler.verify.decisions import linear_circuit  # noqa: E402
from run_demo import SEED, TEST_FRACTION  # noqa: E402  (the same held-out clips)

DEMOS = ("tactile", "speech", "bearing")
DECKS = (("passive", "none"), ("passive", "analog"), ("gic", "none"), ("gic", "analog"))


CALIBRATIONS = ("none", "band power", "training clips")


def held_out(demo: str, limit: int | None) -> tuple[object, list[Signal], list[Signal]]:
    """The demo's model, its held-out clips (the first ``limit``) and its training clips."""
    folder = ROOT / "examples" / demo
    data_dir = folder / "data"
    if not data_dir.is_dir():
        import subprocess

        subprocess.run([sys.executable, str(folder / "make_dataset.py"), "--out", str(data_dir)], check=True)
    data = load_dataset(data_dir)
    train, test = data.split(TEST_FRACTION, SEED + 1)
    test = test if limit is None else test[:limit]

    def signals(idx) -> list[Signal]:
        return [Signal(data.signals[i].astype(float), data.sample_rate_hz, str(i)) for i in idx]

    return load_model(folder / "model_argmax.r2nn"), signals(test), signals(train)


def measure(model, signals: list[Signal], want: np.ndarray, inductors: str, readout: str, calibration: str,
            training: list[Signal]) -> dict:
    with tempfile.TemporaryDirectory(prefix="r2nn-bench-cal-") as tmp:
        t0 = time.perf_counter()
        result = compile_model(model, Path(tmp), options=CompileOptions(
            series={k: "E96" for k in "RCL"}, inductors=inductors, readout=readout, calibrate=calibration != "none",
            calibration_signals=training if calibration == "training clips" else []))
        seconds = time.perf_counter() - t0
        compiled = read_compiled(tmp)
        circuit = linear_circuit(compiled) if readout != "none" else CircuitUnderTest.from_compiled(compiled)
        got = circuit.features_for(model, {}, signals)
    pass_s = sum(e.seconds for e in result.log if e.name == "calibrate_outputs")
    top = want.max(axis=1)
    error = np.abs(got - want).max(axis=1) / top
    ordered = np.sort(want, axis=1)
    margin = 1 - ordered[:, -2] / ordered[:, -1]
    return {"worst": float(error.max()), "median": float(np.median(error)),
            "offset": float(np.max(np.abs(np.mean(got / want, axis=0) - 1))),
            "differ": int(np.sum(got.argmax(1) != want.argmax(1))),
            "margin_ratio": float(np.min(margin / np.maximum(error, 1e-300))),
            "pass_share": pass_s / seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demos", nargs="*", default=list(DEMOS), choices=DEMOS)
    ap.add_argument("--limit", type=int, default=None, help="only the first N held-out clips")
    args = ap.parse_args()
    print("| demo | inductors | readout | calibrated on | worst feature error | median | largest per-output "
          "mean offset | decisions differing | smallest margin / error | calibration's share of compile time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for demo in args.demos:
        model, signals, training = held_out(demo, args.limit)
        training = [training[int(i)] for i in np.linspace(0, len(training) - 1, 64).round()]
        want = np.stack([reference.features_of(model, s.data[None], s.rate_hz)[0] for s in signals])
        for inductors, readout in DECKS:
            for calibration in CALIBRATIONS:
                m = measure(model, signals, want, inductors, readout, calibration, training)
                print(f"| {demo} ({len(signals)} clips) | {inductors} | {readout} | {calibration} | "
                      f"{m['worst']:.2e} | {m['median']:.2e} | {m['offset']:.2e} | {m['differ']} | "
                      f"{m['margin_ratio']:.2f} | {m['pass_share']:.0%} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
