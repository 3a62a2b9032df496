"""Reading a compile output directory back: ``manifest.json`` and the files it names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import Location, VerificationError
from .deckcheck import check_deck

REQUIRED = ("format", "subckt", "library", "ports", "inputs", "outputs", "time_scale")
_NET = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,120}")


@dataclass(frozen=True)
class CompiledDeck:
    outdir: Path
    manifest: dict

    @property
    def library_path(self) -> Path:
        return self.outdir / self.manifest["library"]

    @property
    def supplies(self) -> list[dict]:
        return self.manifest.get("supplies", [])

    @property
    def decisions(self) -> list[dict]:
        """The on-circuit readout's decision ports ({class, port, high_volts, valid_after_s});
        [] for a deck without one."""
        return self.manifest.get("decisions") or []


def read_compiled(outdir: str | Path, trust_deck: bool = False) -> CompiledDeck:
    """Read and check ``OUTDIR/manifest.json`` and the library it names. Raises
    VerificationError naming what is missing, or — unless ``trust_deck`` — a line of the library
    that could act on the machine (see :mod:`.deckcheck`)."""
    outdir = Path(outdir)
    path = outdir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationError(f"no manifest.json in {outdir}: expected the output of 'r2nn compile'",
                                Location(str(path))) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"unreadable manifest: {exc}", Location(str(path))) from None
    if not isinstance(manifest, dict) or manifest.get("format") != "r2nn-netlist/1":
        raise VerificationError("expected format 'r2nn-netlist/1'", Location(str(path), parameter="format"))
    for key in REQUIRED:
        if key not in manifest:
            raise VerificationError(f"missing key {key!r}", Location(str(path), parameter=key))
    lib = manifest["library"]
    if not isinstance(lib, str) or not _FILE.fullmatch(lib) or ".." in lib:
        raise VerificationError(f"library must be a plain file name in {outdir}, got {lib!r}",
                                Location(str(path), parameter="library"))
    if not (outdir / lib).is_file():
        raise VerificationError(f"library file {lib} named by the manifest is missing", Location(str(outdir)))
    _check_decisions(manifest, path)
    if not trust_deck:
        check_deck(outdir / lib, outdir)
    return CompiledDeck(outdir, manifest)


def _check_decisions(manifest: dict, path: Path) -> None:
    """The ``decisions`` key, when present: one entry per output class, in class order, each
    port a port of the deck after the outputs, ``high_volts`` > 0 and ``valid_after_s`` >= 0;
    with decisions, ``readout_circuit`` names one detector per class. Raises VerificationError."""
    decisions = manifest.get("decisions") or []
    if not decisions:
        return
    where = Location(str(path), parameter="decisions")
    classes = [o.get("class") for o in manifest["outputs"]]
    if not isinstance(decisions, list) or [d.get("class") if isinstance(d, dict) else None
                                           for d in decisions] != classes:
        raise VerificationError(f"decisions must list the output classes {classes} in order", where)
    ports = list(manifest["ports"])
    after = max((ports.index(o.get("port")) for o in manifest["outputs"] if o.get("port") in ports), default=-1)
    for d in decisions:
        port, high, valid = d.get("port"), d.get("high_volts"), d.get("valid_after_s")
        if port not in ports or ports.index(port) <= after:
            raise VerificationError(f"decision port {port!r} of class {d['class']!r} is not a port after the outputs",
                                    where)
        if not (isinstance(high, (int, float)) and high > 0 and isinstance(valid, (int, float)) and valid >= 0):
            raise VerificationError(f"decision of class {d['class']!r}: high_volts must be > 0 and valid_after_s "
                                    f">= 0, got {high!r} and {valid!r}", where)
    detectors = (manifest.get("readout_circuit") or {}).get("detectors", [])
    if [x.get("class") for x in detectors] != classes or not all(_NET.fullmatch(str(x.get("net", "")))
                                                                 for x in detectors):
        raise VerificationError("readout_circuit.detectors must give one detector net per output class, in order",
                                Location(str(path), parameter="readout_circuit"))
