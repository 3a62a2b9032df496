"""Compile-time cost of ``robust_parts``'s two rules on a demo, side by side: the band-RMS proxy
(no calibration clips: the rule before the decision-aware choice) against the decision-aware
choice (the training clips as ``--calibrate-signals``, as ``examples/tolerance_heldout.py``
compiles).

The flow up to ``robust_parts`` runs once per rule (the demo's default compile with parasitics,
E96, gains calibrated on the training clips); then the pass alone is timed, the proxy rule with
the calibration clips removed from the options just before it. Printed: the flow's seconds up
to the pass, each rule's seconds, their ratio, the parts each tightened, the decision rule's
predicted agreement (mean / 5 % band, on the calibration clips) and the load average.

Usage: python bench/bench_robust_parts.py [tactile|speech|bearing ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))

from demo_data import demo_dataset  # noqa: E402
from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset  # noqa: E402

from r2nn_compiler import compiler  # noqa: E402
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402

UNTIL = HARDWARE_FLOW[: HARDWARE_FLOW.index("robust_parts")]


def timed_rule(model, clips: list[Signal], decisions: bool) -> tuple[float, float, dict]:
    """(seconds of the flow up to robust_parts, seconds of the pass, its log details)."""
    options = CompileOptions(series={kind: "E96" for kind in "RCL"}, parasitics=True, calibration_signals=clips)
    t0 = time.perf_counter()
    ctx = run_flow(CompileContext(model, options), UNTIL)
    t1 = time.perf_counter()
    ctx.options.robust_rule = "decisions" if decisions else "band_rms"
    run_flow(ctx, ["robust_parts"])
    t2 = time.perf_counter()
    entry = next((e for e in ctx.log if e.name == "robust_parts"), None)
    return t1 - t0, t2 - t1, entry.details if entry else {}


def main() -> int:
    demos = sys.argv[1:] or ["tactile"]
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print("| demo | flow up to robust_parts s | band-RMS rule s (parts) | decision rule s (parts) | ratio | "
          "predicted agreement, calibration clips: mean / 5 % band, before → after |")
    print("|---|---:|---:|---:|---:|---|")
    for demo in demos:
        data, _ = demo_dataset(demo, SEED, PER_CLASS[demo])  # verify_heldout.write_heldout's draw and split
        train_idx, _ = data.split(TEST_FRACTION, SEED + 1)
        training = subset(data, train_idx)
        clips = [Signal(x.astype(float), training.sample_rate_hz, f"train{i}") for i, x in enumerate(training.signals)]
        model = compiler.load_model(ROOT / "examples" / demo / "model.r2nn")
        flow_s, proxy_s, proxy = timed_rule(model, clips, False)
        _, decide_s, decided = timed_rule(model, clips, True)
        p = decided.get("predicted_agreement", {})
        pred = (f"{100 * p['before']['mean']:.1f} / {100 * p['before']['p5']:.1f} → {100 * p['after']['mean']:.1f} / "
                f"{100 * p['after']['p5']:.1f} % ({len(decided['tightened'])} parts, met: {p['met']})") if p else "—"
        print(f"| {demo} | {flow_s:.1f} | {proxy_s:.1f} ({len(proxy.get('tightened', []))}) | "
              f"{decide_s:.1f} ({len(decided.get('tightened', []))}) | {decide_s / max(proxy_s, 1e-9):.1f} | {pred} |",
              flush=True)
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
