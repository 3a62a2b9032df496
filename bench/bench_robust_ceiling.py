"""How far buying tighter parts can take a compiled demo deck's Monte Carlo, and how many parts
the band-RMS proxy (``part_sensitivity``'s ranking) needs to get there.

Reads a deck and its held-out clips as ``examples/tolerance_heldout.py DEMO --out DIR`` leaves
them, then runs the Monte Carlo alone (``--runs`` draws; ``verify.tolerance.monte_carlo_only``: no sensitivity, no ngspice) with every part at its BOM
tolerance except: the top k parts of the proxy's ranking (per_unit × the kind's default
tolerance, largest first) at ``CompileOptions().tight_tolerance``, for each k of ``--top``, and
every part of the kinds in ``--all`` at the tight class. Prints one Markdown table.

``--ranked-top K ...`` instead: the first K parts of the deck's ``robust_parts`` log line (the
decision rule lists them most harmful first) at their BOM class, the rest it lists at the
kind's default tolerance.

Usage: python bench/bench_robust_ceiling.py DEMO DIR [--top 0 7 15 30 60] [--all CL RCL] [--runs 200]
[--ranked-top K ...] [--bom-only]
"""

from __future__ import annotations

import argparse
import json
import re
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from r2nn_compiler import compiler  # noqa: E402
from r2nn_compiler.reference import features_of  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.verify import read_compiled  # noqa: E402
from r2nn_compiler.verify.tolerance import bom_tolerances, labels_for, monte_carlo_only  # noqa: E402

HERE = Path(__file__).resolve().parent


def proxy_order(manifest: dict, loose: dict[str, float]) -> list[tuple[str, str]]:
    """(designator, kind) of the manifest's parts, largest proxy change at the kind's default tolerance first."""
    parts = manifest["part_sensitivity"]["parts"]
    parts = sorted(parts, key=lambda p: -p["per_unit"] * loose[p["kind"]])
    return [(p["designator"], p["kind"]) for p in parts]


def ranked_cases(manifest: dict, bom: dict[str, float], loose: dict[str, float], tops: list[int]) -> list:
    """(label, tolerances) per k of ``tops``: the first k parts the deck's ``robust_parts`` log
    line lists (its order: most harmful first) at their BOM class, the others it lists at the
    kind's default tolerance."""
    summary = next(e["summary"] for e in manifest["log"] if e["pass"] == "robust_parts")
    listed = [name for name, _ in re.findall(r"(\w+) ±\d+% → ±([\d.]+)%", summary)]
    return [(f"first {k} of robust_parts' list tight, the rest loose",
             {n: t if n in listed[:k] or n not in listed else loose[n[0]] for n, t in bom.items()}) for k in tops]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo")
    ap.add_argument("dir", type=Path)
    ap.add_argument("--top", type=int, nargs="*", default=[0, 7, 15, 30, 60])
    ap.add_argument("--all", nargs="*", default=["CL", "RCL"])
    ap.add_argument("--ranked-top", type=int, nargs="*", default=[],
                    help="instead: the first K parts of the deck's robust_parts list tight, the rest loose")
    ap.add_argument("--bom-only", action="store_true", help="only the deck's own BOM (no tightening): its Monte Carlo")
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    model = compiler.load_model(HERE.parent / "examples" / args.demo / "model.r2nn")
    deck = args.dir / "circuit"
    manifest = json.loads((deck / "manifest.json").read_text())
    options = CompileOptions()
    tight, loose = options.tight_tolerance, options.tolerance
    bom = bom_tolerances(deck)
    order = proxy_order(manifest, loose)
    kinds = dict(order)
    clips = compiler.load_signals(model, [args.dir / "heldout"])
    labels = labels_for(model, clips)
    reference_accuracy = float(np.mean([int(np.argmax(features_of(model, s.data[None], s.rate_hz)[0])) == y
                                        for s, y in zip(clips, labels)]))
    cases = [(f"top {k} of the proxy tight", {n for n, _ in order[:k]}) for k in args.top]
    cases += [(f"every {k} tight", {n for n, kind in order if kind in k}) for k in args.all]
    cases = cases[:1] if args.bom_only else cases
    tolerances = {label: {n: min(t, tight[kinds[n]]) if n in chosen and n in kinds else t for n, t in bom.items()}
                  for label, chosen in cases}
    if args.ranked_top:
        tolerances = dict(ranked_cases(manifest, bom, loose, args.ranked_top))
    print("| parts drawn at the tight class | parts tight | agreement mean | 5 % band | accuracy mean | reference | s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, own in tolerances.items():
        t0 = time.perf_counter()
        changed = sum(own[n] < loose[kinds[n]] for n in own if n in kinds)
        agreement, accuracy = monte_carlo_only(model, read_compiled(deck), clips, own, runs=args.runs)
        print(f"| {label} | {changed} | {100 * agreement.mean():.1f} % | {100 * np.percentile(agreement, 5):.1f} % | "
              f"{100 * accuracy.mean():.1f} % | {100 * reference_accuracy:.1f} % | {time.perf_counter() - t0:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
