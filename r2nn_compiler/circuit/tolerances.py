"""Part tolerances per kind of part (R, L, C): the text users give and the fractions it means."""

from __future__ import annotations

from ..errors import UsageError

#: The part kinds a tolerance can name.
KINDS = ("R", "L", "C")

#: The tolerances of the parts a default compile buys: E96 resistors (1 %), capacitors (5 %),
#: inductors (10 %), as ``r2nn tolerance`` assumes unless told otherwise.
DEFAULT_TOLERANCES = "R=1%,C=5%,L=10%"


def parse_tolerances(text: str, option: str = "--tol") -> dict[str, float]:
    """``"R=1%,C=5%,L=10%"`` → {"R": 0.01, "C": 0.05, "L": 0.1}; a bare number is a fraction.
    Raises UsageError naming ``option`` and the item at fault."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        kind, sep, value = item.partition("=")
        kind = kind.strip().upper()
        if not sep or kind not in KINDS:
            raise UsageError(f"{option}: expected KIND=PERCENT with KIND in R, L, C, got {item!r}")
        try:
            number = float(value.strip().rstrip("%")) / (100.0 if value.strip().endswith("%") else 1.0)
        except ValueError:
            raise UsageError(f"{option}: expected a percentage like 5%, got {value!r}") from None
        if not 0 <= number < 1:
            raise UsageError(f"{option}: tolerance of {kind} must be between 0% and 100%, got {value!r}")
        out[kind] = number
    return out
