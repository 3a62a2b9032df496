"""The repository's copy of the conformance vectors is complete, and identical to the published
ones where those sit beside the clone."""

import hashlib

import pytest

from .conftest import BUNDLED_CASES, UPSTREAM_CASES


def _digests(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.name.startswith("case") or p.name == "README.md"}


def test_bundled_cases_are_complete():
    names = set(_digests(BUNDLED_CASES))
    cases = {n[:-5] for n in names if n.endswith(".json")}
    assert len(cases) >= 3 and "README.md" in names
    assert {f"{c}_expected.npz" for c in cases} <= names


@pytest.mark.skipif(not UPSTREAM_CASES.is_dir(), reason="no published cases beside this clone (a user's clone)")
def test_bundled_cases_equal_the_published_ones():
    assert _digests(BUNDLED_CASES) == _digests(UPSTREAM_CASES)
