"""A demo's accuracy over several draws of its dataset: the mean and spread behind the README's figures.

Usage: python examples/run_seeds.py tactile|speech|bearing [--seeds 0 1 2] [--steps N] [--per-class N] [--out FILE]
       python examples/run_seeds.py table        (every demo's recorded seeds.json, as Markdown)

For each seed S: the generator's draw with seed S (``demo_data.py``), ``run_demo.py``'s split of it
(held-out 20 %, split seed S + 1), a model trained with seed S on the rest (the demo's SETTINGS),
its held-out reference accuracy and its accuracy on the shifted condition's draw S (another
operating condition, which no model trains on), and the compiled circuit's own MNA (E96, output gains calibrated
on the training clips) deciding every held-out clip: class agreement with the reference. No
ngspice: ``run_demo.py`` does that on one draw. Written to ``examples/<demo>/seeds.json`` with each
draw's fingerprint; the summary is the mean, the sample standard deviation and the range.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from demo_data import DEMOS, demo_dataset  # noqa: E402
from run_demo import (  # noqa: E402
    PER_CLASS,
    SETTINGS,
    TEST_FRACTION,
    circuit_agreement,
    compile_demo,
    reference_decisions,
    run_script,
    shifted_score,
    subset,
    train_demo,
)

from r2nn_compiler.fileutil import write_text_atomic  # noqa: E402
from r2nn_compiler.train import TrainOptions  # noqa: E402


def run_seed(demo: str, seed: int, per_class: int, steps: int, settings: dict) -> dict:
    """Train (with ``settings``: TrainOptions fields) and score one draw; the row recorded in seeds.json."""
    data, record = demo_dataset(demo, seed, per_class)
    train_idx, test_idx = data.split(TEST_FRACTION, seed + 1)
    build = HERE / demo / "build" / f"seed{seed}"
    model, train_s, metrics = train_demo(demo, subset(data, train_idx), steps, seed, build, settings)
    test = subset(data, test_idx)
    decided = reference_decisions(model, test)
    compiled = compile_demo(model, subset(data, train_idx), build / "circuit")
    return {"seed": seed, "data": record.to_json(), "held_out": len(test_idx),
            "reference_accuracy": float(np.mean(decided == test.labels)),
            "shifted": shifted_score(demo, seed, model),
            "mna_agreement_all_held_out": circuit_agreement(build / "circuit", model, test, decided),
            "train_s": train_s, "parts": compiled.manifest.get("parts"), "readout": model.readout.kind,
            "features": len(model.readout.features), "segments": len(model.readout.boundaries) - 1,
            "resonators": len(model.resonators), "train_metrics": metrics}


def with_overrides(settings: dict, overrides: list[str], ap: argparse.ArgumentParser) -> dict:
    """``settings`` with each ``KEY=VALUE`` of ``overrides`` applied (VALUE parsed as JSON, lists
    as tuples); an unknown key or a malformed pair is a usage error naming it."""
    fields = {f.name for f in dataclasses.fields(TrainOptions)} - {"steps", "seed", "name"}
    out = dict(settings)
    for pair in overrides:
        key, sep, text = pair.partition("=")
        if not sep or key not in fields:
            ap.error(f"--set {pair}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            ap.error(f"--set {pair}: VALUE is not JSON (e.g. 4, 0.02, true, [1000, 5000])")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def summary(values: list[float]) -> dict:
    """Mean, sample standard deviation (0 for one value) and range."""
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values)}


def table_row(recorded: dict) -> str:
    acc, agree = recorded["reference_accuracy"], recorded["mna_agreement_all_held_out"]
    shifted = recorded["shifted_accuracy"]
    seeds = ", ".join(str(r["seed"]) for r in recorded["runs"])
    first = recorded["runs"][0]
    return (f"| {recorded['demo']} | {seeds} | {100 * acc['mean']:.1f} ± {100 * acc['std']:.1f} % "
            f"({100 * acc['min']:.1f}–{100 * acc['max']:.1f}) | {100 * shifted['mean']:.1f} ± {100 * shifted['std']:.1f} % | "
            f"{100 * agree['min']:.1f} % | "
            f"{first['resonators']} | {first['readout']} | "
            + ", ".join(f"{r['features']} × {r['segments']}" for r in recorded["runs"]) + " |")


HEADER = ("| demo | seeds | held-out reference accuracy, mean ± s.d. (range) | shifted condition, mean ± s.d. | "
          "circuit MNA agreement, worst seed | resonators | readout | features × segments, per seed |\n"
          "|---|---|---|---|---|---|---|---|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", choices=[*DEMOS, "table"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--per-class", type=int, default=None, help="default: the demo's PER_CLASS (run_demo.py)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None, help="where to write (default examples/<demo>/seeds.json)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override one of the demo's SETTINGS (a TrainOptions field; VALUE as JSON, "
                         "e.g. --set segments=4 --set n_resonators=48); repeatable")
    args = ap.parse_args()
    if args.demo == "table":
        print(HEADER)
        for demo in DEMOS:
            path = HERE / demo / "seeds.json"
            if path.is_file():
                print(table_row(json.loads(path.read_text())))
        return 0
    if len(args.seeds) < 1 or len(set(args.seeds)) != len(args.seeds):
        ap.error("--seeds: distinct seeds, at least one")
    if args.overrides and args.out is None:
        ap.error("--set: give --out too (examples/<demo>/seeds.json records the demo's own settings)")
    args.per_class = args.per_class or PER_CLASS[args.demo]
    settings = with_overrides(SETTINGS[args.demo], args.overrides, ap)
    t0 = time.perf_counter()
    runs = []
    for seed in args.seeds:
        runs.append(run_seed(args.demo, seed, args.per_class, args.steps, settings))
        print(f"{args.demo} seed {seed}: held-out reference accuracy {100 * runs[-1]['reference_accuracy']:.1f} %, "
              f"circuit MNA agreement {100 * runs[-1]['mna_agreement_all_held_out']:.1f} %", flush=True)
    recorded = {"demo": args.demo, "command": f"python examples/run_seeds.py {args.demo} --seeds "
                + " ".join(map(str, args.seeds)) + f" --steps {args.steps} --per-class {args.per_class}"
                + "".join(f" --set {shlex.quote(o)}" for o in args.overrides),
                "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
                "reference_accuracy": summary([r["reference_accuracy"] for r in runs]),
                "shifted_accuracy": summary([r["shifted"]["reference_accuracy"] for r in runs]),
                "mna_agreement_all_held_out": summary([r["mna_agreement_all_held_out"] for r in runs]),
                "wall_s": time.perf_counter() - t0, "runs": runs}
    write_text_atomic(args.out or HERE / args.demo / "seeds.json", json.dumps(recorded, indent=1) + "\n")
    print(HEADER)
    print(table_row(recorded))
    return 0


if __name__ == "__main__":
    run_script(main)
