"""Fuzz the model readers: mutated and random .r2nn texts, mutated JSON, random .npz archives.

Every case must give a valid model or one R2nnError line starting with the file name; anything
else is a failure, printed with its seed so it can be replayed. Prints a table per generator.

Usage: python bench/fuzz.py [--cases 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import check_case, mutate_json, mutate_text, random_npz, random_text  # noqa: E402

GENERATORS = {
    "mutated .r2nn": (".r2nn", mutate_text),
    "token soup .r2nn": (".r2nn", random_text),
    "mutated JSON": (".json", mutate_json),
    "random .npz": (".npz", random_npz),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000, help="total cases, split evenly over generators")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    per = max(1, args.cases // len(GENERATORS))
    failures = []
    print(f"{'generator':<18}{'cases':>8}{'valid':>8}{'errors':>8}{'failures':>10}{'cases/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (suffix, gen) in GENERATORS.items():
            counts: Counter[str] = Counter()
            start = time.perf_counter()
            for i in range(per):
                seed = args.seed * 1_000_003 + i
                path = Path(tmp) / f"case{suffix}"
                try:
                    counts[check_case(path, gen(random.Random(seed)))] += 1
                except AssertionError as exc:
                    counts["failure"] += 1
                    failures.append(f"{name} seed {seed}: {exc}")
            rate = per / (time.perf_counter() - start)
            print(f"{name:<18}{per:>8}{counts['ok']:>8}{counts['error']:>8}{counts['failure']:>10}{rate:>10.0f}")
    for f in failures[:20]:
        print("FAIL", f)
    print(f"total {per * len(GENERATORS)} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
