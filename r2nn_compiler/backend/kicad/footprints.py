"""Footprints of the schematic's symbols: a default per part class and ``--footprints FILE``.

The file has one ``KEY FOOTPRINT`` per line (``#`` starts a comment, blank lines are skipped):
``KEY`` is a part class (:data:`DEFAULTS`' keys: ``R``, ``C``, ``L``, ``opamp``, ``nettie``,
``diode``, ``bjt``, ``switch``, ``reference``) or a
designator (``R12``, ``X1``), ``FOOTPRINT`` a KiCad ``Library:Footprint`` name. A designator's
line wins over its class's. Simulation-only elements (ideal sources, DC paths, modelled
losses) are not on the board and get no footprint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import Location, UsageError

#: Default footprint per part class (KiCad 9's standard libraries).
DEFAULTS = {
    "R": "Resistor_SMD:R_0603_1608Metric",
    "C": "Capacitor_SMD:C_0805_2012Metric",
    "L": "Inductor_SMD:L_Bourns_SRR1260",  # a shielded SMD power inductor class
    "opamp": "Package_SO:SOIC-8_3.9x4.9mm_P1.27mm",  # single op-amp, pads as symbols.OPAMP
    "nettie": "NetTie:NetTie-2_SMD_Pad0.5mm",
    "diode": "Diode_SMD:D_SOD-323",  # 1N4148WS; Diode_SMD:D_MiniMELF for the LL4148
    "bjt": "Package_TO_SOT_SMD:SOT-23",  # MMBT3904, pads as symbols.NPN
    "switch": "Package_TO_SOT_SMD:SOT-23-6",  # single SPST analog switch, pads as symbols.SWITCH
    "reference": "Package_TO_SOT_SMD:SOT-23",  # shunt reference (LM4040 class), pads as symbols.REFERENCE
}

_FOOTPRINT = re.compile(r"[A-Za-z0-9_.+\-]+:[A-Za-z0-9_.+\-]+")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")


@dataclass(frozen=True)
class Footprints:
    """Footprint names by part class and by designator (overrides)."""

    by_class: dict[str, str] = field(default_factory=lambda: dict(DEFAULTS))
    by_designator: dict[str, str] = field(default_factory=dict)

    def of(self, designator: str, part_class: str) -> str:
        """The footprint of part ``designator`` of class ``part_class`` ("" if none is known)."""
        return self.by_designator.get(designator, self.by_class.get(part_class, ""))


def parse_footprints(text: str, source: str = "--footprints") -> Footprints:
    """Read an override file's text over :data:`DEFAULTS`. Raises UsageError naming the
    option and line for a malformed line."""
    by_class, by_designator = dict(DEFAULTS), {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split("#", 1)[0].replace("=", " ").split()
        if not words:
            continue
        if len(words) != 2 or not _KEY.fullmatch(words[0]) or not _FOOTPRINT.fullmatch(words[1]):
            raise UsageError(f"line {number}: expected KEY Library:Footprint, got {line.strip()!r}",
                             Location(parameter=source))
        key, footprint = words
        (by_class if key in DEFAULTS else by_designator)[key] = footprint
    return Footprints(by_class, by_designator)


def load_footprints(path: str | Path | None) -> Footprints:
    """The defaults, with the file at ``path`` applied (None: the defaults alone). Raises
    UsageError for an unreadable or malformed file."""
    if path is None:
        return Footprints()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UsageError(f"cannot read {path}: {reason}", Location(parameter="--footprints")) from None
    return parse_footprints(text)
