"""Compile time vs model size: parse → validate → each pass → netlist, per phase.

Models of 8 … 1024 resonators with up to 10k damper couplings (random, stable), written as
.r2nn text and compiled with the exact flow (``--flow hardware`` or ``both`` for the default
hardware flow too). Prints each phase's wall time — parse (text → Model), validate (structural
checks and the stability proof), every pass of the flow (as the compile log timed it), backend
(netlist, testbench, manifest, BOM, files) — the total, the process's CPU time for it all
(BLAS threads included: on a busy machine wall time can be twice the CPU time), and under
each size the growth exponent of every phase since the previous size (log t ratio / log
element ratio, elements = resonators + couplings; 1.0 = linear). ``--repeat N`` keeps the
fastest of N runs per size. Targets at 1024 resonators / 10k couplings: exact flow < 5 s;
hardware flow < 5 s with a growth exponent ≤ 1.1 per pass (issue #21; not met yet, see the
README's Performance section).

Usage: python bench/bench_compile.py [--sizes 8:28,64:500,256:2500,1024:10000] [--flow exact|hardware|both]
                                     [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler.compiler import compile_model  # noqa: E402
from r2nn_compiler.model import model_to_text  # noqa: E402
from r2nn_compiler.model import parse_model_text  # noqa: E402
from r2nn_compiler.model.validate import validate_model  # noqa: E402
from r2nn_compiler.reference import check_stable  # noqa: E402
from tests.strategies import weakly_coupled_model  # noqa: E402

#: Column titles of the passes (a pass applied twice is summed).
SHORT = {"map_force_current": "map", "map_force_voltage": "map_fv", "scale": "scale", "realise_negative": "neg_R",
         "parasitics": "parasit", "quantise": "quantise", "realise_inductors": "gic", "break_dc_loops": "dc_loops",
         "readout_analog": "readout", "check_reference": "check"}


def phases(text: str, outdir: Path, exact: bool) -> dict[str, float]:
    """Wall seconds of every phase of ``r2nn compile`` on ``text``, in order."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    model = parse_model_text(text, "bench.r2nn")  # parses, then validates the structure
    t1 = time.perf_counter()
    validate_model(model)  # again, to time it apart from parsing
    t2 = time.perf_counter()
    check_stable(model)
    t3 = time.perf_counter()
    result = compile_model(model, outdir, exact=exact)
    t4 = time.perf_counter()
    times = {"parse": (t1 - t0) - (t2 - t1), "validate": (t2 - t1) + (t3 - t2)}
    for entry in result.log:
        key = SHORT.get(entry.name, entry.name[:8])
        times[key] = times.get(key, 0.0) + entry.seconds
    times["backend"] = (t4 - t3) - sum(e.seconds for e in result.log)
    times["total"] = t4 - t0
    times["cpu"] = time.process_time() - c0
    return times


def report(flow: str, sizes: list[tuple[int, int]], tmp: Path, repeat: int) -> None:
    rows = []
    for n, c in sizes:
        text = model_to_text(weakly_coupled_model(n, c, name="bench"))
        runs = [phases(text, tmp / f"{flow}{n}", exact=flow == "exact") for _ in range(repeat)]
        rows.append((n, c, min(runs, key=lambda t: t["total"])))
    columns = list(dict.fromkeys(k for _, _, t in rows for k in t))
    print(f"\n{flow} flow: wall seconds per phase (growth: exponent since the previous size)")
    print(f"{'resonators':>10}{'couplings':>10}" + "".join(f"{k:>9}" for k in columns))
    previous = None
    for n, c, times in rows:
        print(f"{n:>10}{c:>10}" + "".join(f"{times.get(k, 0.0):>9.3f}" for k in columns))
        if previous is not None:
            pn, pc, pt = previous
            ratio = math.log((n + c) / (pn + pc))
            cells = []
            for k in columns:
                a, b = pt.get(k, 0.0), times.get(k, 0.0)
                cells.append(f"{math.log(b / a) / ratio:>9.2f}" if a > 1e-3 and b > 1e-3 else f"{'':>9}")
            print(f"{'growth':>20}" + "".join(cells))
        previous = (n, c, times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8:28,64:500,256:2500,1024:10000")
    ap.add_argument("--flow", choices=["exact", "hardware", "both"], default="exact")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size; the fastest is shown")
    args = ap.parse_args()
    sizes = [tuple(map(int, item.split(":"))) for item in args.sizes.split(",")]
    flows = ["exact", "hardware"] if args.flow == "both" else [args.flow]
    with tempfile.TemporaryDirectory() as tmp:
        for flow in flows:
            report(flow, sizes, Path(tmp), max(1, args.repeat))


if __name__ == "__main__":
    main()
