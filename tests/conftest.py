"""Shared fixtures: paths to the bundled examples and the independent conformance cases."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# shared/ sits beside the clone (in CI too); R2NN_CASES points elsewhere, e.g. from a worktree.
CASES = Path(os.environ.get("R2NN_CASES", ROOT.parent / "shared" / "cases"))

TOY = ROOT / "examples" / "toy" / "toy.r2nn"


@pytest.fixture
def toy_path() -> Path:
    return TOY


def case_paths() -> list[tuple[Path, Path]]:
    found = sorted(CASES.glob("case*.json"))
    assert found, f"conformance cases not found in {CASES}"
    return [(p, p.with_name(p.stem + "_expected.npz")) for p in found]
