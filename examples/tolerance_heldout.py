"""A demo's held-out split under Monte Carlo over the parts: the shipped model, compiled as
run_demo.py does, every part drawn within its own BOM tolerance (``r2nn tolerance --tol bom``).

Writes the held-out clips of run_demo.py's default draw and split as WAV class folders, compiles
``examples/<demo>/model.r2nn`` for hardware (E96, gains calibrated on the training clips; the
default compile, or with ``--ideal-parts`` / ``--no-robust-parts``), then runs the Monte Carlo
(``--runs`` draws, ``--spot-checks`` of them also in ngspice on the first clips) and prints one
Markdown row: nominal agreement, agreement mean and 5 % band, accuracy mean and 5 % band against
the reference's, the parts tightened, the spot checks, wall time.

``--tight-all KINDS`` (e.g. ``CL``) is the ceiling of buying tighter parts: the Monte Carlo
draws every part of those kinds within ``CompileOptions.tight_tolerance`` (when tighter than its
BOM's), the deck unchanged.

Usage: python examples/tolerance_heldout.py DEMO [--runs 200] [--ideal-parts] [--no-robust-parts] [--nominal-only]
[--tight-all KINDS] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# The Monte Carlo runs one worker process per core; a threaded BLAS in each on top of that
# oversubscribes the cores (on a shared machine the draws' small products then spin-wait).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from run_demo import PER_CLASS, circuit_agreement, reference_decisions, run_script, subset  # noqa: E402
from verify_heldout import write_heldout  # noqa: E402

from r2nn_compiler import compiler  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.verify.tolerance import bom_tolerances  # noqa: E402


def compile_deck(model, training, outdir: Path, ideal_parts: bool, robust: bool):
    """run_demo.compile_demo's deck (E96, gains calibrated on the training clips), with or
    without the parts' parasitics and the tighter class for the parts that move the decisions
    on the training clips (``--robust-parts-by decisions``)."""
    options = CompileOptions(series={kind: "E96" for kind in "RCL"}, parasitics=not ideal_parts, robust_parts=robust,
                             robust_rule="decisions",
                             calibration_signals=[Signal(x.astype(float), training.sample_rate_hz, f"train{i}")
                                                  for i, x in enumerate(training.signals)])
    return compiler.compile_model(model, outdir, options=options)


def drawn_tolerances(outdir: Path, graph, tight_kinds: str) -> dict[str, float]:
    """Designator → tolerance the Monte Carlo draws: the BOM's, except parts of ``tight_kinds``
    (a string of R, L, C) at ``CompileOptions().tight_tolerance`` where that is tighter."""
    tolerances = bom_tolerances(outdir)
    tight = CompileOptions().tight_tolerance
    kinds = {c.name: c.kind for c in graph.components}
    chosen = {name for name, kind in kinds.items() if kind in tight and kind in tight_kinds}
    return {name: min(tol, tight[kinds[name]]) if name in chosen else tol for name, tol in tolerances.items()}


def row(demo: str, flags: str, clips: int, report, tightened: int, wall_s: float) -> str:
    a, acc = report.band(report.agreement), report.band(report.accuracy)
    spots = "; ".join(f"{c['decisions_agree']}/{c['signals']}" for c in report.spot_checks) or "none"
    return (f"| {demo} | {flags} | {clips} | {report.runs} | {100 * report.nominal_agreement:.1f} % | "
            f"{100 * a['mean']:.1f} % | {100 * a['p5']:.1f} % | {100 * acc['mean']:.1f} % ({100 * acc['p5']:.1f} %) | "
            f"{100 * report.reference_accuracy:.1f} % | {tightened} | {spots} | {wall_s:.0f} |")


def nominal(demo: str, flags: str, model, result, test, deck: Path, t0: float) -> int:
    """Print the compile's parasitics, quantise, check_reference and robust_parts lines and the
    nominal deck's class agreement with the reference on the held-out clips (exact, its MNA)."""
    for entry in result.log:
        if entry.name in ("parasitics", "quantise", "check_reference"):
            print(f"  {entry.name}: {entry.summary}")
    agreement = circuit_agreement(deck, model, test, reference_decisions(model, test))
    print(f"{demo} ({flags}): nominal agreement, circuit MNA, {len(test.labels)} held-out clips: "
          f"{100 * agreement:.1f} % ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", choices=sorted(PER_CLASS))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--spot-checks", type=int, default=2)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--ideal-parts", action="store_true", help="compile without the parts' parasitics")
    ap.add_argument("--no-robust-parts", action="store_true", help="every part in its kind's default class")
    ap.add_argument("--nominal-only", action="store_true",
                    help="no Monte Carlo: the compile's log lines and the nominal deck's agreement (its MNA)")
    ap.add_argument("--tight-all", default="", metavar="KINDS",
                    help="draw every part of these kinds (e.g. CL) at the tight class: the ceiling of tightening")
    ap.add_argument("--out", type=Path, default=None, help="where to keep the clips and the deck (default: a temporary folder)")
    args = ap.parse_args()
    flags = " ".join(f for f, on in (("--ideal-parts", args.ideal_parts), ("--no-robust-parts", args.no_robust_parts))
                     if on) or "default"
    flags += f" (all {args.tight_all} tight)" if args.tight_all else ""
    with tempfile.TemporaryDirectory(prefix=f"r2nn-{args.demo}-") as tmp:
        out = args.out or Path(tmp)
        data, train_idx, test_idx = write_heldout(args.demo, out / "heldout")
        model = compiler.load_model(HERE / args.demo / "model.r2nn")
        t0 = time.perf_counter()
        result = compile_deck(model, subset(data, train_idx), out / "circuit", args.ideal_parts, not args.no_robust_parts)
        tightened = next((len(e.details["tightened"]) for e in result.log if e.name == "robust_parts"), 0)
        print(next((f"  robust_parts ({e.seconds:.0f} s): {e.summary}" for e in result.log if e.name == "robust_parts"), "  robust_parts: off"),
              flush=True)
        if args.nominal_only:
            return nominal(args.demo, flags, model, result, subset(data, test_idx), out / "circuit", t0)
        report = compiler.tolerance(model, out / "circuit", [out / "heldout"], {}, runs=args.runs,
                                    spot_checks=args.spot_checks, workers=args.workers,
                                    part_tolerances=drawn_tolerances(out / "circuit", result.context.graph, args.tight_all))
        print("\n| demo | compile | held-out clips | draws | nominal agreement | agreement mean | agreement 5 % band | "
              "accuracy mean (5 % band) | reference accuracy | parts tightened | ngspice spot checks | wall s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        print(row(args.demo, flags, len(test_idx), report, tightened, time.perf_counter() - t0), flush=True)
    return 0


if __name__ == "__main__":
    run_script(main)
