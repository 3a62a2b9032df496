"""Shared fixtures: paths to the bundled examples and the conformance cases.

The conformance cases are the repository's own copy (``tests/data/cases``, provenance in its
``PROVENANCE.md``); nothing in the suite reads outside the clone. ``R2NN_CASES`` points the
suite at another copy (e.g. a newer drop of the independent vectors).
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_CASES = ROOT / "tests" / "data" / "cases"
CASES = Path(os.environ.get("R2NN_CASES", BUNDLED_CASES))

TOY = ROOT / "examples" / "toy" / "toy.r2nn"


@pytest.fixture
def toy_path() -> Path:
    return TOY


def case_paths() -> list[tuple[Path, Path]]:
    found = sorted(CASES.glob("case*.json"))
    assert found, f"conformance cases not found in {CASES}"
    return [(p, p.with_name(p.stem + "_expected.npz")) for p in found]
