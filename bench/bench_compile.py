"""Compile time vs model size: parse → validate → stability → map → numpy proof → deck.

Models of 8 … 1024 resonators with up to 10k damper couplings (random, stable), written as
.r2nn text and compiled with the exact flow. Prints each stage's time, the total, and the
growth exponent between sizes (1.0 = linear in the number of elements). Target: < 5 s at
1024 resonators / 10k couplings.

Usage: python bench/bench_compile.py [--sizes 8:28,64:500,256:2500,1024:10000]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler.compiler import compile_model, load_model  # noqa: E402
from r2nn_compiler.model import Coupling, Input, Model, Output, Readout, Resonator, model_to_text  # noqa: E402


def sparse_model(n: int, couplings: int, seed: int = 0) -> Model:
    """A stable audio-band model: positive dampers only (diagonally dominant damping)."""
    rng = np.random.default_rng(seed)
    f0 = np.geomspace(100, 4000, n)
    m = rng.uniform(1e-4, 1e-2, n)
    w0 = 2 * np.pi * f0
    res = tuple(Resonator(f"r{i}", m[i], m[i] * w0[i] ** 2, m[i] * w0[i] / 10) for i in range(n))
    pairs = set()
    while len(pairs) < min(couplings, n * (n - 1) // 2):
        i, j = sorted(rng.integers(0, n, 2))
        if i != j:
            pairs.add((int(i), int(j)))
    coup = tuple(Coupling(f"r{i}", f"r{j}", "damper", 0.01 * min(res[i].damping, res[j].damping))
                 for i, j in sorted(pairs))
    return Model(f"bench{n}", res, coup, (Input("u", (("r0", 1.0), (f"r{n // 2}", -0.5))),),
                 tuple(Output(f"c{k}", f"r{k * (n - 1) // 3}") for k in range(3)), Readout("rms", 0, 0.02),
                 band=(100.0, 4000.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8:28,64:500,256:2500,1024:10000")
    args = ap.parse_args()
    rows = []
    print(f"{'resonators':>10}{'couplings':>10}{'load s':>9}{'compile s':>10}{'total s':>9}{'growth':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.sizes.split(","):
            n, c = map(int, item.split(":"))
            path = Path(tmp) / f"m{n}.r2nn"
            path.write_text(model_to_text(sparse_model(n, c)))
            t0 = time.perf_counter()
            model = load_model(path)
            t1 = time.perf_counter()
            compile_model(model, Path(tmp) / f"out{n}", exact=True)
            t2 = time.perf_counter()
            elements = n + c
            growth = ""
            if rows:
                e0, tt0 = rows[-1]
                growth = f"{math.log((t2 - t0) / tt0) / math.log(elements / e0):.2f}"
            rows.append((elements, t2 - t0))
            print(f"{n:>10}{c:>10}{t1 - t0:>9.2f}{t2 - t1:>10.2f}{t2 - t0:>9.2f}{growth:>8}")


if __name__ == "__main__":
    main()
