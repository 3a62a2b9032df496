"""Refuse foreign decks that could act on the user's machine.

``r2nn verify`` simulates a library it may not have generated (a CI system hands it a directory).
ngspice's ``.control`` blocks run interpreter commands (``shell`` among them) and ``.include`` /
``.lib`` read arbitrary files, so before anything is simulated the library is scanned and any of
these is refused, unless the user says ``--trust-deck``: a ``.control``/``.endc`` block, a
``shell`` line, or an include whose path resolves outside the output directory.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import Location, VerificationError

_INCLUDE = re.compile(r"^\.(include|inc|lib)\s+(.+)$", re.I)
_COMMANDS = {".control", ".endc", "shell", ".exec"}


def deck_problems(path: Path, outdir: Path) -> list[VerificationError]:
    """Every refused line of the deck at ``path`` (continuations count as their own line)."""
    problems = []
    root = outdir.resolve()
    for number, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        line = raw.strip().lstrip("+").strip()
        if not line or line.startswith("*"):
            continue
        where = Location(str(path), number)
        head = line.split()[0].lower()
        if head in _COMMANDS:
            problems.append(VerificationError(
                f"refusing a deck with {head!r} (it can run commands): use --trust-deck if you trust it", where))
            continue
        include = _INCLUDE.match(line)
        if include:
            target = include[2].strip().strip("'\"").split()[0]
            resolved = (path.parent / target).resolve()
            if resolved != root and root not in resolved.parents:
                problems.append(VerificationError(
                    f"refusing .{include[1].lower()} of {target!r} outside {outdir}: use --trust-deck if you trust it",
                    where))
    return problems


def check_deck(path: Path, outdir: Path) -> None:
    """Raise the first problem of :func:`deck_problems` (``all`` lists every one)."""
    problems = deck_problems(path, outdir)
    if problems:
        first = problems[0]
        first.all = problems
        raise first
