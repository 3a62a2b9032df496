"""A demo's whole held-out split verified in ngspice: the shipped model, compiled as run_demo.py does.

Writes the held-out clips of run_demo.py's default draw and split as WAV class folders, compiles
``examples/<demo>/model.r2nn`` for hardware (E96, gains calibrated on the training clips) and runs
``r2nn verify`` on every held-out clip with each ``--methods`` (no AC sweep), timing each, then
prints one Markdown row per method.

``--phases`` also prints the wall time of each phase of the verification (docs/verify.md,
"Where the time went"): the step choice, the spot clips' exact margins, the kernel (with the
spot runs sent beside it), the scoring (convolutions included) and the wait for the spot runs.

Usage: python examples/verify_heldout.py DEMO [--methods auto direct] [--out DIR] [--phases]
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, SEED, TEST_FRACTION, compile_demo, run_script, subset, write_clips  # noqa: E402

from r2nn_compiler import compiler  # noqa: E402


def write_heldout(demo: str, folder: Path):
    """The draw, its training and held-out indices; the held-out clips written to ``folder``
    (class folders, :func:`run_demo.write_clips`)."""
    data, _ = demo_dataset(demo, SEED, PER_CLASS[demo])
    train_idx, test_idx = data.split(TEST_FRACTION, SEED + 1)
    write_clips(subset(data, test_idx), range(len(test_idx)), folder)
    return data, train_idx, test_idx


def row(demo: str, clips: int, method: str, report, wall_s: float) -> str:
    used = report.method.used if report.method else method
    kernel = ", ".join(f"{k.kernel_s:.2g} s" for k in report.method.kernels) if report.method else ""
    return (f"| {demo} | {clips} | {method} | {used}{f' (kernel {kernel})' if kernel else ''} | "
            f"{100 * report.class_agreement:.1f} % | {report.worst_nrmse_vs_circuit or report.worst_nrmse:.2e} | "
            f"{wall_s:.1f} |")


#: (module, function, label) of the phases ``--phases`` times; a function a version lacks is skipped.
PHASES = (("run", "run_step", "step choice"), ("run", "_spot_clips", "spot clips' exact margins"),
          ("run", "_kernel_for", "kernel (step choice and hats; spot runs sent beside them)"),
          ("run", "_score_batch", "scoring"), ("superposition", "superpose_outputs", "of which convolutions"),
          ("run", "_spot_check", "spot checks (waiting for their runs, comparing)"))


def time_phases() -> dict[str, float]:
    """Wrap the functions of PHASES so that each call adds its wall time (s) to the returned
    dict under its label (nested calls count in both)."""
    from r2nn_compiler.verify import run, superposition

    modules, spent = {"run": run, "superposition": superposition}, {}
    for module, name, label in PHASES:
        inner = getattr(modules[module], name, None)
        if inner is None:
            continue

        def timed(*args, _inner=inner, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _inner(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - start

        setattr(modules[module], name, functools.wraps(inner)(timed))
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", choices=sorted(PER_CLASS))
    ap.add_argument("--methods", nargs="+", default=["auto", "direct"], choices=["auto", "direct", "superposition"])
    ap.add_argument("--out", type=Path, default=None, help="where to keep the clips and the deck (default: a temporary folder)")
    ap.add_argument("--phases", action="store_true", help="print the wall time of each phase of each verification")
    args = ap.parse_args()
    spent = time_phases() if args.phases else {}
    with tempfile.TemporaryDirectory(prefix=f"r2nn-{args.demo}-") as tmp:
        out = args.out or Path(tmp)
        data, train_idx, test_idx = write_heldout(args.demo, out / "heldout")
        model = compiler.load_model(HERE / args.demo / "model.r2nn")
        compile_demo(model, subset(data, train_idx), out / "circuit")
        lines = []
        for method in args.methods:
            t0 = time.perf_counter()
            report = compiler.verify(model, out / "circuit", [out / "heldout"], run_ac=False, method=method)
            lines.append(row(args.demo, len(test_idx), method, report, time.perf_counter() - t0))
            print(lines[-1], flush=True)
            for label, seconds in spent.items():
                print(f"  {label}: {seconds:.1f} s", flush=True)
            spent.clear()
    print("\n| demo | held-out clips | --method | transients | class agreement | worst NRMSE vs the deck's circuit | wall s |")
    print("|---|---:|---|---|---:|---:|---:|")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_script(main)
