"""Reading a compile output directory back: ``manifest.json`` and the files it names."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NoReturn

from ..backend.manifest import FORMAT, Manifest
from ..backend.netlister import SAFE_NAME
from ..errors import Location, VerificationError
from .deckcheck import check_deck

REQUIRED = ("format", "subckt", "library", "ports", "inputs", "outputs", "time_scale")
_NET = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,120}")


@dataclass(frozen=True)
class CompiledDeck:
    """A compile output directory: ``manifest`` the JSON object of its ``manifest.json`` (as
    :func:`read_compiled` checked it), ``spec`` the same as a typed :class:`Manifest`."""

    outdir: Path
    manifest: dict

    @cached_property
    def spec(self) -> Manifest:
        return Manifest.from_json(self.manifest)

    @property
    def library_path(self) -> Path:
        return self.outdir / self.spec.library

    @property
    def decisions(self) -> list[dict]:
        """The on-circuit readout's decision ports ({class, port, high_volts, valid_after_s}) as
        the JSON lists them; [] for a deck without one."""
        return self.manifest.get("decisions") or []


def observed_ports(manifest: dict) -> list[dict]:
    """The ports a deck is observed at, each ``{node, port, volts_per_unit_velocity}``: a linear
    readout layer's ``taps`` (one per resonator it reads, in ``model.read_nodes`` order), else
    the ``outputs`` (one per class, which also carry ``class``)."""
    return list(manifest.get("taps") or manifest["outputs"])


def read_compiled(outdir: str | Path, trust_deck: bool = False) -> CompiledDeck:
    """Read and check ``OUTDIR/manifest.json`` and the library it names. Raises
    VerificationError naming what is missing, or — unless ``trust_deck`` — a line of the library
    that could act on the machine (see :mod:`.deckcheck`)."""
    outdir = Path(outdir)
    path = outdir / "manifest.json"
    manifest = _read_json(path, outdir)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise VerificationError(f"expected format {FORMAT!r}", Location(str(path), parameter="format"))
    for key in REQUIRED:
        if key not in manifest:
            raise VerificationError(f"missing key {key!r}", Location(str(path), parameter=key))
    _check_library(manifest["library"], outdir, path)
    _check_ports(manifest, path)
    _check_decisions(manifest, path)
    compiled = CompiledDeck(outdir, manifest)
    try:
        compiled.spec
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise VerificationError(f"malformed manifest: {type(exc).__name__}: {exc}", Location(str(path))) from None
    if not trust_deck:
        check_deck(outdir / manifest["library"], outdir)
    return compiled


def _read_json(path: Path, outdir: Path):
    """The JSON value of ``path``; VerificationError when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VerificationError(f"no manifest.json in {outdir}: expected the output of 'r2nn compile'",
                                Location(str(path))) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"unreadable manifest: {exc}", Location(str(path))) from None


def _check_library(lib, outdir: Path, path: Path) -> None:
    """``library``: a plain file name of a file in ``outdir``. Raises VerificationError."""
    if not isinstance(lib, str) or not _FILE.fullmatch(lib) or ".." in lib:
        raise VerificationError(f"library must be a plain file name in {outdir}, got {lib!r}",
                                Location(str(path), parameter="library"))
    if not (outdir / lib).is_file():
        raise VerificationError(f"library file {lib} named by the manifest is missing from {outdir}",
                                Location(str(path), parameter="library"))


def check_matches(compiled: CompiledDeck, model) -> None:
    """Raise VerificationError unless ``compiled`` was compiled from ``model``: the manifest's
    ``model`` (when recorded) is its name and the deck has one input port per model input and one
    output port per class (a linear readout layer: one tap per resonator it reads, and decisions,
    if any, for its classes)."""
    spec = compiled.spec
    if spec.model not in (None, model.name):
        raise VerificationError(f"the deck was compiled from model {spec.model!r}, not {model.name!r}",
                                Location(str(compiled.outdir / "manifest.json"), parameter="model"))
    linear = model.readout.is_linear
    if linear:
        observed_match = [t.node for t in spec.taps or []] == model.read_nodes
    else:
        observed_match = not spec.taps and len(spec.outputs) == len(model.outputs)
    if len(spec.inputs) != len(model.inputs) or not observed_match:
        raise VerificationError(f"{compiled.outdir}: the deck's ports do not match the model's inputs and "
                                + ("the resonators its readout layer reads" if linear else "outputs"))
    decided = [d.cls for d in compiled.spec.decisions]
    if decided and decided != model.classes:
        raise VerificationError(f"{compiled.outdir}: the deck decides classes {decided}, the model {model.classes}")


def _check_ports(manifest: dict, path: Path) -> None:
    """The keys the simulations read: ``subckt`` an identifier, ``ports`` net names, every input,
    output (or tap) and supply a port of the deck, at least one input and one output or tap, the
    gains finite and non-zero, ``time_scale`` > 0. Raises VerificationError naming the key."""
    def fail(key: str, message: str) -> NoReturn:
        raise VerificationError(message, Location(str(path), parameter=key))

    if not isinstance(manifest["subckt"], str) or not SAFE_NAME.fullmatch(manifest["subckt"]):
        fail("subckt", f"expected a subcircuit name (a letter, then letters, digits, _), got {manifest['subckt']!r}")
    ports = manifest["ports"]
    if not isinstance(ports, list) or not all(isinstance(p, str) and SAFE_NAME.fullmatch(p) for p in ports):
        fail("ports", "expected a list of port names (a letter, then letters, digits, _)")
    gains = {"inputs": "volts_per_unit", "outputs": "volts_per_unit_velocity", "taps": "volts_per_unit_velocity",
             "controls": None, "supplies": None}
    for key, gain in gains.items():
        entries = manifest.get(key, [])
        if not isinstance(entries, list):
            fail(key, "expected a list of ports")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or entry.get("port") not in ports:
                fail(f"{key}[{i}]", f"expected an object whose 'port' is one of the deck's ports {ports}")
            value = entry.get(gain) if gain else 1.0
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
                fail(f"{key}[{i}].{gain}", f"expected a finite, non-zero number, got {value!r}")
    for i, entry in enumerate(manifest.get("controls") or []):
        waveform = entry.get("waveform")
        if not isinstance(waveform, list) or not waveform or not all(
                isinstance(p, list) and len(p) == 2 and all(_finite(x) for x in p) for p in waveform):
            fail(f"controls[{i}].waveform", "expected a list of [seconds, volts] pairs of finite numbers")
    for i, entry in enumerate(manifest["inputs"]):
        if entry.get("inverted_port") is not None and entry["inverted_port"] not in ports:
            fail(f"inputs[{i}].inverted_port", f"expected one of the deck's ports {ports}, got {entry['inverted_port']!r}")
    if not manifest["inputs"] or not (manifest["outputs"] or manifest.get("taps")):
        fail("inputs" if not manifest["inputs"] else "outputs",
             "expected at least one input and one output (or tap) port")
    scale = manifest["time_scale"]
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
        fail("time_scale", f"expected a positive, finite number (circuit seconds per model second), got {scale!r}")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_decisions(manifest: dict, path: Path) -> None:
    """The ``decisions`` key, when present: one entry per output class, in class order, each
    port a port of the deck after the outputs, ``high_volts`` > 0 and ``valid_after_s`` >= 0;
    with decisions, ``readout_circuit`` names one detector per class. Raises VerificationError."""
    decisions = manifest.get("decisions") or []
    if not decisions:
        return
    where = Location(str(path), parameter="decisions")
    if not isinstance(decisions, list) or not all(isinstance(d, dict) for d in decisions):
        raise VerificationError("decisions must be a list of objects", where)
    # A linear readout layer's classes are its own (the deck has taps, no outputs).
    classes = [d.get("class") for d in decisions] if manifest.get("taps") else \
        [o.get("class") for o in manifest["outputs"]]
    if [d.get("class") for d in decisions] != classes:
        raise VerificationError(f"decisions must list the output classes {classes} in order", where)
    ports = list(manifest["ports"])
    after = max((ports.index(o.get("port")) for o in observed_ports(manifest) if o.get("port") in ports),
                default=-1)
    for d in decisions:
        port, high, valid = d.get("port"), d.get("high_volts"), d.get("valid_after_s")
        if port not in ports or ports.index(port) <= after:
            raise VerificationError(f"decision port {port!r} of class {d['class']!r} is not a port after the "
                                    "outputs (or taps)", where)
        if not (isinstance(high, (int, float)) and high > 0 and isinstance(valid, (int, float)) and valid >= 0):
            raise VerificationError(f"decision of class {d['class']!r}: high_volts must be > 0 and valid_after_s "
                                    f">= 0, got {high!r} and {valid!r}", where)
    detectors = (manifest.get("readout_circuit") or {}).get("detectors", [])
    if [x.get("class") for x in detectors] != classes or not all(_NET.fullmatch(str(x.get("net", "")))
                                                                 for x in detectors):
        raise VerificationError("readout_circuit.detectors must give one detector net per output class, in order",
                                Location(str(path), parameter="readout_circuit"))
