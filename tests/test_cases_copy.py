"""The repository's copy of the conformance vectors is complete and unchanged since it was taken
(the digests of the published files are recorded in ``SHA256SUMS`` beside them)."""

import hashlib

from .conftest import BUNDLED_CASES


def _recorded() -> dict[str, str]:
    lines = (BUNDLED_CASES / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_bundled_cases_are_complete():
    names = set(_recorded())
    cases = {n[:-5] for n in names if n.endswith(".json")}
    assert len(cases) >= 3 and "README.md" in names
    assert {f"{c}_expected.npz" for c in cases} <= names
    on_disk = {p.name for p in BUNDLED_CASES.iterdir() if p.name.startswith("case")}
    assert on_disk == {n for n in names if n.startswith("case")}


def test_bundled_cases_have_their_recorded_digests():
    for name, digest in _recorded().items():
        assert hashlib.sha256((BUNDLED_CASES / name).read_bytes()).hexdigest() == digest, name
