"""Energy per decision of a demo's on-circuit readout deck: the manifest's estimate against the
supply energy ngspice measures.

For each demo the shipped ``model_argmax.r2nn`` is compiled with ``--readout analog`` (the
±15 V TL072 readout, every part E96, inputs driven by resistors: ``--drive parts`` is its
default) and ``r2nn verify`` runs the first ``--clips`` held-out clips (``run_demo.py``'s
split) in ngspice, integrating each supply's V·I from 0 to ``valid_after_s``
(``verify/energy.py``). The estimate is the manifest's static power (op-amps × quiescent
current × rails) over the same interval; the peer row is that estimate. The control ports'
timer (TPL5010-class, not simulated) is shown beside.

``--designs micropower`` adds, side by side, the micropower readout (docs/micropower.md): the
demo's ``micropower.r2nn`` (its layer under ``law diode``, when the demo has one) compiled with
``--readout analog`` (passive diode cells, power-gated sums and comparators, one 3.3 V supply)
and verified the same way at ``--accuracy`` (the default 0.01 keeps a 0.5 s clip to ~10 s of CPU;
docs/micropower.md, "Simulation cost") without refinement.

Usage: python bench/bench_energy.py [--demos tactile] [--clips 4] [--designs tl072 micropower]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from r2nn_compiler.compiler import compile_model, load_model, verify  # noqa: E402
from r2nn_compiler.passes import CompileOptions  # noqa: E402
from r2nn_compiler.signals import Signal  # noqa: E402
from r2nn_compiler.train import load_dataset  # noqa: E402
from r2nn_compiler.units import format_si  # noqa: E402
from run_demo import SEED, TEST_FRACTION  # noqa: E402  (the same held-out clips)

DEMOS = ("tactile", "speech", "bearing")


def held_out(demo: str, limit: int) -> list[Signal]:
    """The first ``limit`` held-out clips of ``demo`` (its dataset made first when missing)."""
    folder = ROOT / "examples" / demo
    if not (folder / "data").is_dir():
        subprocess.run([sys.executable, str(folder / "make_dataset.py"), "--out", str(folder / "data")], check=True)
    data = load_dataset(folder / "data")
    _, test = data.split(TEST_FRACTION, SEED + 1)
    return [Signal(data.signals[i].astype(float), data.sample_rate_hz, f"{demo}/{i}") for i in test[:limit]]


#: Per readout design: the demo's model file and verify's accuracy target (None: its default).
DESIGNS = {"tl072": ("model_argmax.r2nn", None), "micropower": ("micropower.r2nn", 0.01)}


def measure(demo: str, clips: int, design: str = "tl072") -> dict | None:
    """Compile ``demo``'s model for ``design`` with ``--readout analog`` and verify ``clips``
    held-out clips; None when the demo has no model for that design."""
    name, accuracy = DESIGNS[design]
    path = ROOT / "examples" / demo / name
    if not path.exists():
        return None
    model = load_model(path)
    signals = held_out(demo, clips)
    with tempfile.TemporaryDirectory(prefix="r2nn-bench-energy-") as tmp:
        out = Path(tmp) / "deck"
        compile_model(model, out, options=CompileOptions(series={k: "E96" for k in "RCL"}, readout="analog"))
        parts = sum(int(v) for k, v in _readout_parts(out).items() if k != "resistors")
        clip_dir = Path(tmp) / "clips"
        clip_dir.mkdir()
        for s in signals:
            np.save(clip_dir / f"{s.path.replace('/', '_')}.npy", s.data.T)
        t0 = time.perf_counter()
        report = verify(model, out, [clip_dir], rate_hz=signals[0].rate_hz, run_ac=False, accuracy=accuracy,
                        refine=accuracy is None)
        seconds = time.perf_counter() - t0
    energy = report.to_json()["summary"]["energy"]
    return {"demo": demo, "design": design, "parts": parts, "agreement": report.class_agreement,
            "seconds": seconds, **energy}


def _readout_parts(out: Path) -> dict:
    import json

    return json.loads((out / "manifest.json").read_text())["readout_circuit"]["parts"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demos", nargs="+", default=["tactile"], choices=DEMOS)
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--designs", nargs="+", default=["tl072"], choices=sorted(DESIGNS))
    args = ap.parse_args()
    rows = [r for demo in args.demos for d in args.designs if (r := measure(demo, args.clips, d)) is not None]
    print("| demo | readout | parts (no resistors) | clips | interval (s) | estimate | measured mean | measured max | "
          "measured ÷ estimate | control timer (not simulated) | decisions agree | ngspice wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['demo']} | {r['design']} | {r['parts']} | {r['clips']} | {r['interval_s']:.4g} | "
              f"{format_si(r['estimate_j'], 'J')} | "
              f"{format_si(r['measured_mean_j'], 'J')} | {format_si(r['measured_max_j'], 'J')} | "
              f"{r['measured_over_estimate']:.4f} | {format_si(r['timer_j'], 'J')} | {100 * r['agreement']:.0f} % | "
              f"{r['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
