"""A demo decided on the circuit: every held-out clip through ngspice with the on-circuit readout.

Usage: python examples/run_readout.py tactile|speech|bearing [--inductors gic|passive]
       [--readout analog|behavioural] [--budget-minutes M] [--accuracy A] [--workers N]
       [--model FILE]   (another model of the demo, e.g. model_rms_continuous.r2nn)
       python examples/run_readout.py table     (the recorded results of every demo, as Markdown;
                                                 a row recorded on a circuit the compiler no longer
                                                 builds says "an earlier circuit")

1. Compiles the shipped ``examples/<demo>/model_argmax.r2nn`` (or ``--model``'s; every part E96, like
   ``run_demo.py``) with ``--readout`` and ``--inductors``, the output gains calibrated on the
   training clips (``--calibrate-signals``: the held-out clips stay unseen), into
   ``examples/<demo>/build/readout_<inductors>_<readout>[_<model stem>]/``.
2. Takes the same held-out clips as ``run_demo.py`` (its split: test fraction 0.2, seed 1) and
   runs ``r2nn verify`` on them a few at a time: ngspice simulates the whole deck — network,
   GICs, buffers, detectors and winner-take-all — and the circuit's class is read from its
   decision ports at ``valid_after_s``.
3. Records every clip in ``examples/<demo>/readout_<inductors>_<readout>[_<model stem>].json`` after each
   batch (atomically), so an interrupted campaign resumes where it stopped: a parts-level deck
   takes 10 s (tactile) to 2 min (speech) of ngspice per clip. Results recorded for another
   circuit (the SHA-256 of its library and decision times differs) are discarded, not mixed in.

4. ``verify`` runs a clip again, at a quarter of the accuracy (down to NRMSE 1e-4), while its
   margin is within four times ngspice's own error in the features (``simulation_error``: the
   deck's linear part in ngspice against the same circuit's exact MNA solution): such a
   decision is the simulator's step as much as the circuit's. The record keeps the finest run
   and the accuracy it aimed at.

The summary is the share of held-out clips whose decision ports agree with the reference
model's argmax (the issue's ≥ 99 % criterion), the circuit's own accuracy against the labels,
and the smallest winning margin against the detector and feature errors there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.io import wavfile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from r2nn_compiler.compiler import compile_model, load_model, verify  # noqa: E402
from r2nn_compiler.fileutil import write_text_atomic  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.verify.decisions import simulation_limited  # noqa: E402
from demo_data import demo_dataset  # noqa: E402
from run_demo import SEED, TEST_FRACTION, run_script  # noqa: E402  (the same held-out clips)

DEMOS = ["tactile", "speech", "bearing"]
#: Integration accuracy of the campaign's ngspice runs: half the verifier's 0.5 % NRMSE gate
#: (the default, a fifth, takes 1.6× the steps; the NRMSE each clip reached is recorded).
ACCURACY = 2.5e-3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", choices=DEMOS + ["table"])
    ap.add_argument("--inductors", choices=["gic", "passive"], default="gic")
    ap.add_argument("--readout", choices=["analog", "behavioural"], default="analog")
    ap.add_argument("--budget-minutes", type=float, default=float("inf"),
                    help="stop starting batches after this long (the results so far are kept)")
    ap.add_argument("--accuracy", type=float, default=ACCURACY)
    ap.add_argument("--workers", type=int, default=None, help="ngspice processes (default: all cores)")
    ap.add_argument("--model", default="model_argmax.r2nn", metavar="FILE",
                    help="the demo's model file (in examples/<demo>/; default the shipped model_argmax.r2nn: the analog readout is built for argmax models); "
                         "another one's deck and record get its stem as a suffix")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N held-out clips (a quick look; the summary covers all recorded)")
    args = ap.parse_args()
    if args.demo == "table":
        print(TABLE_HEADER)
        for path in sorted(HERE.glob("*/readout_*.json")):
            recorded = json.loads(path.read_text(encoding="utf-8"))
            row = table_row(recorded, summarise(recorded.get("clips", {}), recorded["held_out"],
                                                recorded.get("accuracy")))
            with tempfile.TemporaryDirectory(prefix="r2nn-readout-") as tmp:  # is it today's circuit?
                current = compile_library(load_model(HERE / recorded["demo"] / recorded.get("model", "model.r2nn")),
                                          recorded["inductors"], recorded["readout"], Path(tmp),
                                          training_clips(demo_data(recorded["demo"])))
            if current != recorded.get("library_sha256"):
                row = row.replace(f"| {recorded['readout']} |", f"| {recorded['readout']} (an earlier circuit) |", 1)
            print(row)
        return 0

    folder = HERE / args.demo
    data = demo_data(args.demo)
    _, test_idx = data.split(TEST_FRACTION, SEED + 1)
    to_run = test_idx if args.limit is None else test_idx[: args.limit]
    model_path = folder / args.model
    if model_path.parent != folder or not model_path.is_file():
        ap.error(f"--model: expected a model file in {folder}, got {args.model!r}")
    model = load_model(model_path)
    config = f"{args.inductors}_{args.readout}" + ("" if args.model == "model.r2nn" else f"_{model_path.stem}")
    outdir = folder / "build" / f"readout_{config}"
    digest = compile_library(model, args.inductors, args.readout, outdir, training_clips(data))
    results_path = folder / f"readout_{config}.json"
    results = _load(results_path, digest)
    results.update(demo=args.demo, model=args.model, inductors=args.inductors, readout=args.readout, series="E96",
                   calibration="training clips", library_sha256=digest, held_out=len(test_idx),
                   accuracy=args.accuracy)
    clips = results.setdefault("clips", {})
    todo = [int(i) for i in to_run if str(int(i)) not in clips]
    print(f"{args.demo} ({config}): {len(test_idx)} held-out clips, {len(clips)} recorded, {len(todo)} to run")

    start = time.perf_counter()
    batch_size = args.workers or os.cpu_count() or 1  # one clip per ngspice process
    while todo and (time.perf_counter() - start) / 60 < args.budget_minutes:
        batch, todo = todo[:batch_size], todo[batch_size:]
        with tempfile.TemporaryDirectory(prefix="r2nn-readout-") as tmp:
            paths = {}
            for i in batch:
                path = Path(tmp) / f"clip{i:04d}.wav"
                wavfile.write(path, int(data.sample_rate_hz), data.signals[i, 0].astype(np.float32))
                paths[str(path)] = i
            t0 = time.perf_counter()
            # verify runs a clip again at finer accuracies while its margin is within ngspice's error.
            report = verify(model, outdir, list(paths), run_ac=False, accuracy=args.accuracy, workers=args.workers)
            seconds = (time.perf_counter() - t0) / len(batch)
        for s in report.signals:
            i = paths[s.path]
            d = s.decision or {}
            clips[str(i)] = {
                "label": data.classes[data.labels[i]], "reference_class": s.reference_class,
                "circuit_class": s.circuit_class, "agree": s.agree, "margin": d.get("margin"),
                "detector_error": d.get("detector_error"), "feature_error": d.get("feature_error"),
                "simulation_error": s.simulation_error, "network_error": s.network_error, "accuracy": s.accuracy,
                "at_risk": d.get("at_risk"), "port_volts": d.get("port_volts"),
                "nrmse_vs_circuit": max((s.nrmse_vs_circuit or s.nrmse).values()),
                "step_s": s.step_s, "wall_s_per_clip": seconds,
            }
        results["summary"] = summarise(clips, len(test_idx), args.accuracy)
        write_text_atomic(results_path, json.dumps(results, indent=1) + "\n")
        sm = results["summary"]
        print(f"  {sm['clips_run']}/{len(test_idx)} clips: decisions agree on {sm['agree']}/{sm['clips_run']}, "
              f"{seconds:.0f} s/clip, {sm['refined']} run again finer", flush=True)
    sm = summarise(clips, len(test_idx), args.accuracy)
    print(TABLE_HEADER)
    print(table_row(results, sm))
    return 0 if sm["clips_run"] == len(test_idx) and sm["agreement"] >= 0.99 else 1


def demo_data(demo: str):
    """The demo's default draw (``run_demo.py``'s; generated when absent or stale)."""
    return demo_dataset(demo)[0]


def training_clips(data) -> list[Signal]:
    """The training split's clips (the complement of the held-out ones): what the compiler
    calibrates the output gains on (``--calibrate-signals``; it uses 64 of them)."""
    train_idx, _ = data.split(TEST_FRACTION, SEED + 1)
    return [Signal(data.signals[i].astype(float), data.sample_rate_hz, f"train{i}") for i in train_idx]


def compile_library(model, inductors: str, readout: str, outdir: Path, calibration: list[Signal]) -> str:
    """Compile a demo's ``model`` (every part E96, output gains calibrated on ``calibration``)
    into ``outdir``; the SHA-256 of its library and of the manifest's decisions (the time they
    are read), which keys the recorded results."""
    result = compile_model(model, outdir, options=CompileOptions(
        series={k: "E96" for k in "RCL"}, readout=readout, inductors=inductors, calibration_signals=calibration))
    decisions = json.dumps(result.manifest.get("decisions", []), sort_keys=True).encode()
    return hashlib.sha256(next(outdir.glob("*.lib")).read_bytes() + decisions).hexdigest()


TABLE_HEADER = ("| demo | inductors | readout | held-out clips run in ngspice | decision ports agree with the "
                "reference | agree where the margin exceeds twice the feature error | disagreeing: margin "
                "(feature error there) | circuit / reference accuracy | smallest margin (detector / feature "
                "error there) | clips run again at a finer accuracy (finest NRMSE) | wall s per clip, "
                "2 workers |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|")


def table_row(results: dict, sm: dict) -> str:
    """One Markdown row of a campaign's summary ``sm``."""
    clips = results.get("clips", {})
    misses = ", ".join(f"{100 * clips[str(i)]['margin']:.2f} % ({100 * clips[str(i)]['feature_error']:.2f} %)"
                       for i in sm.get("disagreeing_clips", [])) or "none"
    clear = f"{sm['clear_agree']}/{sm['clear_clips']}" if "clear_clips" in sm else "-"
    model = results.get("model", "model.r2nn")
    demo = results["demo"] + ("" if model == "model.r2nn" else f" ({Path(model).stem})")
    return (f"| {demo} | {results['inductors']} | {results['readout']} | {sm['clips_run']} of "
            f"{sm['held_out']} | {sm['agree']}/{sm['clips_run']} = {100 * sm['agreement']:.1f} % | {clear} | "
            f"{misses} | "
            f"{100 * sm['circuit_accuracy']:.1f} % / {100 * sm.get('reference_accuracy', 0):.1f} % | "
            f"{_margin_text(sm)} | {_refined_text(sm)} | {sm.get('wall_s_per_clip', 0):.0f} |")


def summarise(clips: dict, held_out: int, accuracy: float | None = None) -> dict:
    """Agreement, accuracy and the smallest margin over the recorded clips (``accuracy``: the
    campaign's, which refined clips went below)."""
    rows = list(clips.values())
    if not rows:
        return {"clips_run": 0, "held_out": held_out, "agree": 0, "agreement": 0.0, "circuit_accuracy": 0.0}
    closest = min(rows, key=lambda r: r["margin"] if r["margin"] is not None else np.inf)
    return {
        "clips_run": len(rows), "held_out": held_out, "agree": int(sum(r["agree"] for r in rows)),
        "agreement": float(np.mean([r["agree"] for r in rows])),
        "circuit_accuracy": float(np.mean([r["circuit_class"] == r["label"] for r in rows])),
        "reference_accuracy": float(np.mean([r["reference_class"] == r["label"] for r in rows])),
        "disagreeing_clips": sorted(int(k) for k, r in clips.items() if not r["agree"]),
        "smallest_margin": closest["margin"], "detector_error_there": closest["detector_error"],
        "feature_error_there": closest["feature_error"],
        "worst_detector_error": max((r["detector_error"] or 0.0) for r in rows),
        "worst_feature_error": max((r["feature_error"] or 0.0) for r in rows),
        "at_risk": int(sum(bool(r["at_risk"]) for r in rows)),
        # Clips whose margin exceeds twice the feature error there: a decision the circuit can hold.
        "clear_clips": int(sum(not r["at_risk"] for r in rows)),
        "clear_agree": int(sum(r["agree"] and not r["at_risk"] for r in rows)),
        "worst_nrmse_vs_circuit": max(r["nrmse_vs_circuit"] for r in rows),
        # Clips run again at a finer accuracy (their margin was within ngspice's own error), the
        # finest accuracy used, and clips still decided within it at the finest.
        "refined": int(sum(accuracy is not None and r.get("accuracy", accuracy) < accuracy for r in rows)),
        "finest_accuracy": min((r["accuracy"] for r in rows if "accuracy" in r), default=None),
        "simulation_limited": sorted(int(k) for k, r in clips.items()
                                     if simulation_limited(r.get("simulation_error"), r["margin"])),
        "wall_s_per_clip": float(np.mean([r["wall_s_per_clip"] for r in rows])),
    }


def _refined_text(sm: dict) -> str:
    if sm.get("finest_accuracy") is None:
        return "-"
    text = f"{sm['refined']} ({sm['finest_accuracy']:.2g})"
    if sm.get("simulation_limited"):
        text += f"; still within ngspice's error: {', '.join(map(str, sm['simulation_limited']))}"
    return text


def _margin_text(sm: dict) -> str:
    if sm.get("smallest_margin") is None:
        return "-"
    text = f"{100 * sm['smallest_margin']:.2f} %"
    if sm.get("detector_error_there") is not None:
        text += f" ({100 * sm['detector_error_there']:.2f} % / {100 * sm['feature_error_there']:.2f} %)"
    return text


def _load(path: Path, digest: str) -> dict:
    """Recorded results for the library with ``digest``; {} when none (or for another circuit)."""
    if not path.is_file():
        return {}
    recorded = json.loads(path.read_text(encoding="utf-8"))
    if recorded.get("library_sha256") != digest:
        print(f"{path.name}: recorded for another circuit; starting again", file=sys.stderr)
        return {}
    return recorded


if __name__ == "__main__":
    run_script(main)
