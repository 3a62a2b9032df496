"""Compile time vs model size: parse → validate → each pass → netlist, per phase.

Models of 8 … 1024 resonators with up to 10k damper couplings (random, stable), written as
.r2nn text and compiled with the exact flow (``--flow hardware`` or ``both`` for the default
hardware flow too). Prints each phase's wall time — parse (text → Model), validate (structural
checks and the stability proof), every pass of the flow (as the compile log timed it), backend
(netlist, testbench, manifest, BOM, files) — the total, the process's CPU time for it all
(BLAS threads included: on a busy machine wall time can be twice the CPU time), then the
same table in CPU seconds (each pass's own; parse and validate together under parse), and under
each size the growth exponent of every phase since the previous size (log t ratio / log
element ratio, elements = resonators + couplings; 1.0 = linear). ``--repeat N`` keeps the
fastest of N runs per size; ``--solves`` lists every sparse shifted solve (pass, unknowns,
frequencies, GMRES cycles, CPU seconds). Targets at 1024 resonators / 10k couplings: exact flow < 5 s;
hardware flow < 5 s with a growth exponent ≤ 1.1 per pass (issue #21; not met yet, see the
README's Performance section).

Usage: python bench/bench_compile.py [--sizes 8:28,64:500,256:2500,1024:10000] [--flow exact|hardware|both]
                                     [--repeat N] [--solves]
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
from r2nn_compiler.numerics import shifted  # noqa: E402
from r2nn_compiler.passes.base import REGISTRY  # noqa: E402
from r2nn_compiler.reference import check_stable  # noqa: E402
from tests.strategies import weakly_coupled_model  # noqa: E402

#: Column titles of the passes (a pass applied twice is summed).
SHORT = {"map_force_current": "map", "map_force_voltage": "map_fv", "scale": "scale", "realise_negative": "neg_R",
         "parasitics": "parasit", "quantise": "quantise", "realise_inductors": "gic", "break_dc_loops": "dc_loops",
         "readout_analog": "readout", "check_reference": "check"}


#: CPU seconds (``time.process_time``, this process) of each pass's transform, by log name.
PASS_CPU: dict[str, float] = {}
#: With --solves: one row per sparse shifted solve (pass, unknowns, kept, frequencies, GMRES
#: frequency-cycles, CPU seconds), and the pass running now.
SOLVES: list[tuple[str, int, int, int, int, float]] = []
_RUNNING = [""]


def _count_solves() -> None:
    """Wrap ``numerics.shifted``'s solve of all frequencies and its GMRES cycle to fill SOLVES."""
    if getattr(shifted._solve_all, "_counted", False):
        return
    solve_all, cycle = shifted._solve_all, shifted.gmres_cycle
    cycles = [0]

    def counted_cycle(system, b, x0, *args):
        cycles[0] += x0.shape[1]
        return cycle(system, b, x0, *args)

    def counted_solve_all(system, s, *args):
        cycles[0], start = 0, time.process_time()
        kept = solve_all(system, s, *args)
        SOLVES.append((_RUNNING[0], system.n, system.keep.size, s.size, cycles[0], time.process_time() - start))
        return kept

    counted_solve_all._counted = True
    shifted._solve_all, shifted.gmres_cycle = counted_solve_all, counted_cycle


def _count_pass_cpu() -> None:
    """Wrap every registered pass's ``transform`` to add its CPU seconds to PASS_CPU (a shared
    machine inflates wall seconds; CPU seconds compare runs side by side)."""
    for cls in REGISTRY.values():
        if getattr(cls.transform, "_timed", False):
            continue

        def timed(self, ctx, _inner=cls.transform):
            start = time.process_time()
            _RUNNING[0] = self.name
            try:
                return _inner(self, ctx)
            finally:
                PASS_CPU[self.name] = PASS_CPU.get(self.name, 0.0) + time.process_time() - start

        timed._timed = True
        cls.transform = timed


def phases(text: str, outdir: Path, exact: bool) -> tuple[dict[str, float], dict[str, float]]:
    """(wall seconds, CPU seconds) of every phase of ``r2nn compile`` on ``text``, in order."""
    _count_pass_cpu()
    PASS_CPU.clear()
    c0 = time.process_time()
    t0 = time.perf_counter()
    model = parse_model_text(text, "bench.r2nn")  # parses, then validates the structure
    t1 = time.perf_counter()
    validate_model(model)  # again, to time it apart from parsing
    t2 = time.perf_counter()
    check_stable(model)
    t3 = time.perf_counter()
    c3 = time.process_time()
    result = compile_model(model, outdir, exact=exact)
    t4 = time.perf_counter()
    times = {"parse": (t1 - t0) - (t2 - t1), "validate": (t2 - t1) + (t3 - t2)}
    cpu = {"parse": c3 - c0}  # parse and validate together
    for entry in result.log:
        key = SHORT.get(entry.name, entry.name[:8])
        times[key] = times.get(key, 0.0) + entry.seconds
    for name, seconds in PASS_CPU.items():
        cpu[SHORT.get(name, name[:8])] = seconds
    times["backend"] = (t4 - t3) - sum(e.seconds for e in result.log)
    cpu["backend"] = (time.process_time() - c3) - sum(PASS_CPU.values())
    times["total"] = t4 - t0
    times["cpu"] = cpu["total"] = time.process_time() - c0
    return times, cpu


def report(flow: str, sizes: list[tuple[int, int]], tmp: Path, repeat: int, solves: bool = False) -> None:
    rows, cpu_rows = [], []
    for n, c in sizes:
        text = model_to_text(weakly_coupled_model(n, c, name="bench"))
        runs = []
        for _ in range(repeat):
            SOLVES.clear()
            runs.append(phases(text, tmp / f"{flow}{n}", exact=flow == "exact"))
        if solves:
            print_solves(f"{flow} flow, {n} resonators / {c} couplings (last run)")
        wall, cpu = min(runs, key=lambda t: t[0]["total"])
        rows.append((n, c, wall))
        cpu_rows.append((n, c, cpu))
    table(f"{flow} flow: wall seconds per phase", rows)
    table(f"{flow} flow: CPU seconds per phase (this process, BLAS threads included)", cpu_rows)


def print_solves(title: str) -> None:
    """The sparse shifted solves of the last compile, one line each, and their total."""
    print(f"\n{title}: sparse shifted solves (cycles: GMRES cycles summed over frequencies)")
    print(f"{'pass':>18}{'unknowns':>9}{'kept':>6}{'freqs':>7}{'cycles':>8}{'cpu s':>8}{'ms/freq':>9}")
    for name, n, kept, freqs, cycles, seconds in SOLVES:
        print(f"{name:>18}{n:>9}{kept:>6}{freqs:>7}{cycles:>8}{seconds:>8.2f}{1e3 * seconds / max(freqs, 1):>9.2f}")
    print(f"{'total':>18}{'':>15}{sum(r[3] for r in SOLVES):>7}{sum(r[4] for r in SOLVES):>8}"
          f"{sum(r[5] for r in SOLVES):>8.2f}")


def table(title: str, rows: list[tuple[int, int, dict[str, float]]]) -> None:
    """Print one row per size and, under each, the growth exponents since the previous size."""
    columns = list(dict.fromkeys(k for _, _, t in rows for k in t))
    print(f"\n{title} (growth: exponent since the previous size)")
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
    ap.add_argument("--solves", action="store_true", help="list every sparse shifted solve per size")
    args = ap.parse_args()
    sizes = [tuple(map(int, item.split(":"))) for item in args.sizes.split(",")]
    flows = ["exact", "hardware"] if args.flow == "both" else [args.flow]
    if args.solves:
        _count_solves()
    with tempfile.TemporaryDirectory() as tmp:
        for flow in flows:
            report(flow, sizes, Path(tmp), max(1, args.repeat), args.solves)


if __name__ == "__main__":
    main()
