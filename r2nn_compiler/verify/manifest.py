"""Reading a compile output directory back: ``manifest.json`` and the files it names."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import Location, VerificationError
from .deckcheck import check_deck

REQUIRED = ("format", "subckt", "library", "ports", "inputs", "outputs", "time_scale")
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
    if not trust_deck:
        check_deck(outdir / lib, outdir)
    return CompiledDeck(outdir, manifest)
