"""Monte Carlo cost per draw: the Van Loan window integrals (``modal=False``, the method before
issue 23's speed-up) against the gramian identity over a modal recursion (``modal=True``, what
``r2nn tolerance`` uses now), side by side on the same draws of a demo's default deck.

The deck and clips are ``examples/tolerance_heldout.py``'s (the demo's held-out clips, the
default compile; ``--deck DIR`` reuses one that script wrote with ``--out DIR``). Each draw is
one set of part values within the BOM's own tolerances (seeded); both methods evaluate it in
turn, from a cold cache (a draw's system is new to both; the clips' own tables, computed once
per run, are kept). Printed: wall and CPU seconds per draw
(median), their ratio, the largest feature difference relative to the largest feature, whether
every decision is the same, and what one ``r2nn tolerance`` run costs at that rate: 1 + runs
draws plus the sensitivity's two shifts per toleranced part, serially. ``uptime`` before and
after: the machine may be shared.

Usage: python bench/bench_tolerance.py [tactile|speech|bearing] [--draws 6] [--deck DIR] [--runs 200]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from r2nn_compiler import compiler  # noqa: E402
from r2nn_compiler.circuit.tolerances import KINDS  # noqa: E402
from r2nn_compiler.compiler import load_signals  # noqa: E402
from r2nn_compiler.numerics import memo  # noqa: E402
from r2nn_compiler.verify import read_compiled  # noqa: E402
from r2nn_compiler.verify.circuit import CircuitUnderTest  # noqa: E402
from r2nn_compiler.verify.decisions import decision_ports, linear_circuit  # noqa: E402
from r2nn_compiler.verify.tolerance import bom_tolerances  # noqa: E402


def prepare(demo: str, out: Path) -> None:
    """The held-out clips and the default deck, as tolerance_heldout.py writes them."""
    from run_demo import subset
    from tolerance_heldout import compile_deck
    from verify_heldout import write_heldout

    data, train_idx, _ = write_heldout(demo, out / "heldout")
    compile_deck(compiler.load_model(ROOT / "examples" / demo / "model.r2nn"), subset(data, train_idx),
                 out / "circuit", False, True)


def timed(fn) -> tuple[object, float, float]:
    for name in list(memo._CACHES):  # each draw is a new system to either method; the clips'
        if name != "lyapunov_tables":  # tables are computed once per clip set, as in a run
            memo._CACHES[name].clear()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", nargs="?", default="tactile", choices=("tactile", "speech", "bearing"))
    ap.add_argument("--draws", type=int, default=6)
    ap.add_argument("--runs", type=int, default=200, help="draws of the r2nn tolerance run the last column prices")
    ap.add_argument("--deck", type=Path, default=None, help="a folder tolerance_heldout.py --out wrote")
    args = ap.parse_args()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    with tempfile.TemporaryDirectory(prefix="r2nn-bench-tol-") as tmp:
        root = args.deck or Path(tmp)
        if args.deck is None:
            prepare(args.demo, root)
        model = compiler.load_model(ROOT / "examples" / args.demo / "model.r2nn")
        compiled = read_compiled(root / "circuit")
        signals = load_signals(model, [root / "heldout"], None)
        cut = linear_circuit(compiled) if decision_ports(compiled.manifest) else CircuitUnderTest.from_compiled(compiled)
        own = bom_tolerances(root / "circuit")
        nominal = {c.name: c.value for c in cut.graph.components if c.kind in KINDS}
        rng = np.random.default_rng(0)
        rows = {False: [], True: []}
        worst, same = 0.0, True
        for _ in range(args.draws):
            values = {n: v * (1 + rng.uniform(-own.get(n, 0.0), own.get(n, 0.0))) for n, v in nominal.items()}
            out = {}
            for modal in (False, True):
                out[modal], wall, cpu = timed(lambda: cut.features_for(model, values, signals, modal=modal))
                rows[modal].append((wall, cpu))
            worst = max(worst, float(np.max(np.abs(out[True] - out[False])) / np.max(np.abs(out[False]))))
            same &= bool(np.array_equal(np.argmax(out[True], -1), np.argmax(out[False], -1)))
    system = cut.state_space()
    evaluations = 1 + args.runs + 2 * sum(1 for n in nominal if own.get(n, 0.0) > 0)
    print(f"\n{args.demo}: {len(signals)} clips × {signals[0].data.shape[1]} samples, {system.n_states} states, "
          f"{system.n_outputs} observed ports; {args.draws} draws; one r2nn tolerance run = {evaluations} evaluations")
    print("| method | wall s / draw | CPU s / draw | one run, serial CPU (min) |")
    print("|---|---:|---:|---:|")
    for modal, label in ((False, "Van Loan (before)"), (True, "gramian identity, modal (now)")):
        wall, cpu = np.median(np.array(rows[modal]), axis=0)
        print(f"| {label} | {wall:.3f} | {cpu:.3f} | {evaluations * cpu / 60:.1f} |")
    ratio = np.median(np.array(rows[False]), axis=0) / np.median(np.array(rows[True]), axis=0)
    print(f"ratio before/now: wall {ratio[0]:.1f}×, CPU {ratio[1]:.1f}×; features: max |Δ| / max |f| = {worst:.1e}; "
          f"decisions {'all the same' if same else 'DIFFER'}")
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
