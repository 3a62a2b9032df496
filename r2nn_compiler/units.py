"""SI-prefixed quantities: parse ``4.7n``, ``1.2 kHz``, ``10 meg``; format for humans and SPICE.

Prefixes are case-sensitive (``m`` milli, ``M`` mega, ``meg`` mega as SPICE users write it).
SPICE itself reads ``M`` as milli, so values bound for a netlist never use prefixes at all:
:func:`format_spice` writes exponent notation only.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from dataclasses import dataclass

#: Prefix → power of ten (exact: values are scaled in decimal, so ``4.7n`` is the double nearest
#: 4.7e-9, not 4.7 × 1e-9).
PREFIXES: dict[str, int] = {
    "f": -15,
    "p": -12,
    "n": -9,
    "u": -6,
    "µ": -6,
    "μ": -6,  # GREEK SMALL LETTER MU looks the same as MICRO SIGN; accept both
    "m": -3,
    "k": 3,
    "M": 6,
    "meg": 6,
    "G": 9,
}

#: Unit symbols the model language knows, mapped to their canonical spelling.
UNITS: dict[str, str] = {"Hz": "Hz", "s": "s", "F": "F", "H": "H", "Ω": "ohm", "ohm": "ohm", "V": "V"}

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_PREFIX = r"(?:meg|[fpnuµμmkMG])"
_UNIT = r"(?:Hz|s|F|H|Ω|ohm|V)"
#: A number, then either a prefix glued to it or an optional prefix and a unit (glued or after
#: blanks). Used verbatim by the lark grammar so both agree on what a quantity is.
QUANTITY_PATTERN = (
    rf"{_NUMBER}(?:[ \t]*{_PREFIX}?{_UNIT}(?![A-Za-z0-9_])|{_PREFIX}(?![A-Za-z0-9_]))?"
)
_SPLIT = re.compile(
    rf"^(?P<num>{_NUMBER})(?:[ \t]*(?P<prefix>{_PREFIX})?(?P<unit>{_UNIT})|(?P<bare>{_PREFIX}))?$"
)


@dataclass(frozen=True)
class Quantity:
    """A parsed value in SI base units, with the unit symbol written (canonical) or ``None``."""

    value: float
    unit: str | None


def parse_quantity(text: str) -> Quantity:
    """Parse ``"1.2 kHz"`` → ``Quantity(1200.0, "Hz")``.

    Raises ValueError (with what was expected) when ``text`` is not a number with an optional
    SI prefix and unit, or the value is not finite.
    """
    match = _SPLIT.match(text.strip())
    if not match:
        raise ValueError(
            f"expected a number with an optional SI prefix and unit (e.g. 4.7n, 1.2 kHz), got {text!r}"
        )
    prefix = match["prefix"] or match["bare"]
    value = float(Decimal(match["num"]).scaleb(PREFIXES[prefix] if prefix else 0))
    if not math.isfinite(value):
        raise ValueError(f"value {text!r} is not a finite number")
    unit = UNITS[match["unit"]] if match["unit"] else None
    return Quantity(value, unit)


def format_spice(value: float) -> str:
    """Exponent notation SPICE cannot misread, full double precision: ``4.7e-09``.

    Raises ValueError for NaN or infinite values (SPICE has no spelling for them).
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} into a netlist")
    for precision in range(17):
        text = f"{value:.{precision}e}"
        if float(text) == value:
            return text
    return f"{value:.16e}"


_ENG = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f")]


def format_si(value: float, unit: str = "", digits: int = 4) -> str:
    """Human-readable engineering notation: ``format_si(4.7e-9, "F")`` → ``"4.7 nF"``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}".strip()
    mag = abs(value)
    for scale, prefix in _ENG:
        if mag >= scale * (1 - 1e-12):
            break
    unit_text = "Ω" if unit == "ohm" else unit
    return f"{value / scale:.{digits}g} {prefix}{unit_text}".strip()
