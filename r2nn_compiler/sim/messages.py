"""Sort ngspice's console output into errors and warnings.

ngspice's exit status is not enough: it exits 0 after falling back to defaults on some broken
lines (an unreadable value becomes an unknown *model name*), and the shared library has no
exit status at all. So each line is classified by what it says.

Node-voltage tables (``Initial Transient Solution``, ``Last Node Voltages``) are skipped:
their rows are node names and numbers, and a node called ``error_sum`` is not an error.

Some messages span lines: ``Error on line 4 or its substitute:`` is followed by the offending
netlist line and then the reason. A line ending in ``:`` or ``line`` therefore takes up to
two following lines with it, and the whole is classified and reported as one entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lower-case fragments that mark a line as an error. "singular matrix" and "can't find model"
# count as errors although ngspice says "warning" and carries on: it then simulates a circuit
# with a floating node held by gmin, or an element with default parameters, and the numbers
# it returns do not describe the deck.
_ERROR_MARKERS = (
    "error",
    "timestep too small",
    "singular matrix",
    "could not find",
    "can't find",
    "cannot find",
    "unable to find",
    "cannot open",
    "unknown subckt",
    "unknown model",
    "unknown parameter",
    "no such vector",
    "undefined parameter",
    "cannot compute substitute",
    "unimplemented",
    "is invalid",
    "not parsed",
    "not started",
    "aborted",
    "fatal",
    "cannot recover",
)
_WARNING_MARKERS = ("warning",)

# Lines that contain a marker but are harmless: the banner, PySpice's version notice.
_NOISE_PREFIXES = (
    "**",
    "circuit:",
    "note: no compatibility mode selected",
    "comments and warnings go to log-file",
    "simulation output goes to rawfile",
)
_NOISE_FRAGMENTS = ("unsupported ngspice version",)

# A continuation stops at a line that starts a message of its own.
_MESSAGE_STARTS = ("error", "warning", "note:", "circuit:", "netlist line no.", "doanalyses:")
_MAX_CONTINUATION = 2

# Convergence-aid progress is printed without a newline, so the next message is glued to it.
_PROGRESS = re.compile(r"^(?:(?:trying gmin =|supplies reduced to)\s*\S+\s*)+", re.IGNORECASE)

# "Node  Voltage" / "Node  Last Voltage  Previous Iter" start a table; its rows are
# "name value [value] [*]" and its rules are dashes.
_TABLE_HEADER = re.compile(r"^node\s+.*voltage", re.IGNORECASE)
_NUMBER = r"[-+]?(?:nan|inf|\d[\d.]*(?:e[-+]?\d+)?)"
_TABLE_ROW = re.compile(rf"^(?:-+(?:\s+-+)*|\S+(?:\s+{_NUMBER})+(?:\s+\*)?)$", re.IGNORECASE)


@dataclass(frozen=True)
class LogReport:
    """Errors and warnings found in a log, in order of appearance, each reported once."""

    errors: list[str]
    warnings: list[str]


def classify_log(text: str) -> LogReport:
    """Classify every line of ngspice output ``text``; never raises."""
    lines = [_PROGRESS.sub("", line.strip()) for line in text.splitlines()]
    errors: list[str] = []
    warnings: list[str] = []
    in_table = False
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if _TABLE_HEADER.match(line):
            in_table = True
            continue
        in_table = in_table and bool(_TABLE_ROW.match(line))
        if in_table or not line or _is_noise(line):
            continue
        continuation = _continuation(lines, i) if line.endswith((":", "line")) else []
        kind = _kind(" ".join([line, *continuation]))
        if continuation and kind is not None:
            i += len(continuation)
            line = f"{line} {' | '.join(continuation)}"
        else:
            kind = _kind(line)
        target = {"error": errors, "warning": warnings}.get(kind)
        if target is not None and line not in target:
            target.append(line)
    return LogReport(errors, warnings)


def _is_noise(line: str) -> bool:
    lower = line.lower()
    return lower.startswith(_NOISE_PREFIXES) or any(f in lower for f in _NOISE_FRAGMENTS)


def _continuation(lines: list[str], start: int) -> list[str]:
    taken: list[str] = []
    for line in lines[start:]:
        if len(taken) == _MAX_CONTINUATION or not line:
            break
        if line.lower().startswith(_MESSAGE_STARTS) or line.endswith(":") or _is_noise(line):
            break
        taken.append(line)
    return taken


def _kind(text: str) -> str | None:
    lower = text.lower()
    has_error = any(marker in lower for marker in _ERROR_MARKERS)
    if lower.startswith("note:"):
        # Notes describe what ngspice did about a problem and it carried on
        # ("Note: can't find init file."): worth a warning, never an error.
        return "warning" if has_error else None
    if has_error:
        return "error"
    if any(marker in lower for marker in _WARNING_MARKERS):
        return "warning"
    return None
