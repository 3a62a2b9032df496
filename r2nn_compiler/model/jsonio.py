"""The "r2nn-model/1" JSON weights format (import and export) and NumPy ``.npz`` import.

JSON values are SI (kg, N/m, N·s/m, seconds, hertz). Errors name the file and the JSON path of
the offending value (``resonators[1].mass``), or line:column for malformed JSON.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Location, ModelError
from .ir import DIODE, LINEAR, READOUT_KINDS, ClassScore, Coupling, DiodeLaw, Feature, Input, Model, Output, Readout, Resonator
from .validate import layer_field_message, validate_model

FORMAT = "r2nn-model/1"
_ANALOGY_IN = {"force-current": "force_current", "force_current": "force_current",
               "force-voltage": "force_voltage", "force_voltage": "force_voltage"}


def model_to_json_dict(model: Model) -> dict[str, Any]:
    """The JSON object of ``model`` (exact floats; key order as in the format's example)."""
    data: dict[str, Any] = {"format": FORMAT, "name": model.name, "analogy": model.analogy.replace("_", "-")}
    if model.band is not None:
        data["band"] = list(model.band)
    data["resonators"] = [
        {"name": r.name, "mass": r.mass, "stiffness": r.stiffness, "damping": r.damping} for r in model.resonators
    ]
    data["couplings"] = [{"between": [c.a, c.b], "kind": c.kind, "value": c.value} for c in model.couplings]
    data["inputs"] = [{"name": i.name, "drives": dict(i.drives)} for i in model.inputs]
    data["outputs"] = [{"class": o.cls, "node": o.node, "weight": o.weight} for o in model.outputs]
    ro = model.readout
    if ro is not None:
        data["readout"] = {"kind": ro.kind, "start": ro.start, "stop": ro.stop}
        if ro.is_linear:
            data["readout"].update(_layer_json(ro))
    return data


def _layer_json(ro: Readout) -> dict[str, Any]:
    """A linear readout's keys: without a law exactly as before the law existed; with one,
    ``floor`` only when nonzero, ``law`` after it and every feature's ``gain``."""
    layer: dict[str, Any] = {"segments": list(ro.boundaries)}
    if ro.law is None or ro.floor != 0:
        layer["floor"] = ro.floor
    features = [{"name": f.name, "node": f.node, "segment": f.segment} for f in ro.features]
    if ro.law is not None:
        law = ro.law
        layer["law"] = {"kind": law.kind, "nvt": law.nvt, "rate": law.rate, "clip": law.clip}
        if law.hold is not None:
            layer["law"]["hold"] = law.hold
        for entry, f in zip(features, ro.features):
            entry["gain"] = f.gain
    layer["features"] = features
    layer["classes"] = [{"class": c.cls, "bias": c.bias, "weights": dict(c.weights)} for c in ro.classes]
    return layer


def model_to_json(model: Model) -> str:
    return json.dumps(model_to_json_dict(model), indent=1) + "\n"


class _Reader:
    """Typed access into a parsed JSON document, every failure located by its JSON path."""

    def __init__(self, filename: str):
        self.filename = filename

    def at(self, path: str) -> Location:
        return Location(self.filename, parameter=path)

    def fail(self, path: str, message: str) -> ModelError:
        return ModelError(message, self.at(path))

    def get(self, obj: dict, key: str, path: str, kind: type | tuple, required: bool = True, default=None):
        if key not in obj:
            if required:
                raise self.fail(path, f"missing key {key!r}")
            return default
        return self.typed(obj[key], f"{path}.{key}" if path else key, kind)

    def typed(self, value, path: str, kind):
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(path, f"expected a number, got {type(value).__name__}")
            value = float(value)
            if not math.isfinite(value):
                raise self.fail(path, f"expected a finite number, got {value!r}")
            return value
        if not isinstance(value, kind):
            names = {str: "a string", list: "a list", dict: "an object"}
            raise self.fail(path, f"expected {names.get(kind, kind)}, got {type(value).__name__}")
        return value


def _reject_constants(token: str) -> float:
    raise ValueError(f"{token} is not a finite number")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict; a key given twice is an error (json would keep the last silently)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def model_from_json_text(text: str, filename: str = "<json>") -> Model:
    """Parse and validate an "r2nn-model/1" document. Raises ModelError (one line)."""
    try:
        doc = json.loads(text, parse_constant=_reject_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise ModelError(f"malformed JSON: {exc.msg}", Location(filename, exc.lineno, exc.colno)) from None
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"malformed JSON: {exc}", Location(filename)) from None
    return model_from_json_dict(doc, filename)


def model_from_json_dict(doc: Any, filename: str = "<json>") -> Model:
    """Validate a parsed "r2nn-model/1" document into a :class:`Model`. Raises ModelError
    naming the JSON path of the first offending value (the keys are read in document order:
    format, name, analogy, band, resonators, couplings, inputs, outputs, readout)."""
    rd = _Reader(filename)
    if not isinstance(doc, dict):
        raise ModelError("expected a JSON object with \"format\": \"r2nn-model/1\"", Location(filename))
    fmt = rd.get(doc, "format", "", str)
    if fmt != FORMAT:
        raise rd.fail("format", f"expected {FORMAT!r}, got {fmt!r}")
    name = rd.get(doc, "name", "", str)
    analogy_text = rd.get(doc, "analogy", "", str, required=False, default="force-current")
    if analogy_text not in _ANALOGY_IN:
        raise rd.fail("analogy", f"expected force-current or force-voltage, got {analogy_text!r}")
    band = None
    if doc.get("band") is not None:
        band_list = rd.get(doc, "band", "", list)
        if len(band_list) != 2:
            raise rd.fail("band", "expected [low_hz, high_hz]")
        band = tuple(rd.typed(v, f"band[{i}]", float) for i, v in enumerate(band_list))
    resonators, couplings, inputs = _read_resonators(rd, doc), _read_couplings(rd, doc), _read_inputs(rd, doc)
    ro_doc = doc.get("readout")
    outputs = _read_outputs(rd, doc, linear=isinstance(ro_doc, dict) and ro_doc.get("kind") == LINEAR)
    readout = _read_readout(rd, doc) if "readout" in doc else None
    model = Model(name, resonators, couplings, inputs, outputs, readout,
                  analogy=_ANALOGY_IN[analogy_text], band=band, loc=Location(filename), source=filename)
    return validate_model(model)


def _read_resonators(rd: _Reader, doc: dict) -> tuple[Resonator, ...]:
    """``resonators``: name, mass, stiffness and damping (default 0) of each."""
    resonators = []
    for i, r in enumerate(rd.get(doc, "resonators", "", list)):
        p = f"resonators[{i}]"
        rd.typed(r, p, dict)
        locs = {k: rd.at(f"{p}.{k}") for k in ("mass", "stiffness", "damping")}
        resonators.append(Resonator(
            rd.get(r, "name", p, str), rd.get(r, "mass", p, float), rd.get(r, "stiffness", p, float),
            rd.get(r, "damping", p, float, required=False, default=0.0), loc=rd.at(p), field_locs=locs))
    return tuple(resonators)


def _read_couplings(rd: _Reader, doc: dict) -> tuple[Coupling, ...]:
    """``couplings`` (optional): the two resonators ``between``, ``kind`` and ``value`` of each."""
    couplings = []
    for i, c in enumerate(rd.get(doc, "couplings", "", list, required=False, default=[])):
        p = f"couplings[{i}]"
        rd.typed(c, p, dict)
        between = rd.get(c, "between", p, list)
        if len(between) != 2:
            raise rd.fail(f"{p}.between", "expected two resonator names")
        a, b = (rd.typed(v, f"{p}.between[{j}]", str) for j, v in enumerate(between))
        locs = {"a": rd.at(f"{p}.between[0]"), "b": rd.at(f"{p}.between[1]"), "kind": rd.at(f"{p}.kind"),
                "value": rd.at(f"{p}.value")}
        couplings.append(Coupling(a, b, rd.get(c, "kind", p, str), rd.get(c, "value", p, float),
                                  loc=rd.at(p), field_locs=locs))
    return tuple(couplings)


def _read_inputs(rd: _Reader, doc: dict) -> tuple[Input, ...]:
    """``inputs``: the name and the ``drives`` (resonator → gain) of each."""
    inputs = []
    for i, inp in enumerate(rd.get(doc, "inputs", "", list)):
        p = f"inputs[{i}]"
        rd.typed(inp, p, dict)
        drives = rd.get(inp, "drives", p, dict)
        pairs = tuple((node, rd.typed(w, f"{p}.drives.{node}", float)) for node, w in drives.items())
        locs = {f"{key}{j}": rd.at(f"{p}.drives.{n}") for j, (n, _) in enumerate(pairs) for key in ("drive", "weight")}
        inputs.append(Input(rd.get(inp, "name", p, str), pairs, loc=rd.at(p), field_locs=locs))
    return tuple(inputs)


def _read_outputs(rd: _Reader, doc: dict, linear: bool) -> tuple[Output, ...]:
    """``outputs`` (optional with a ``linear`` readout layer): class, node and weight (default 1)."""
    outputs = []
    for i, o in enumerate(rd.get(doc, "outputs", "", list, required=not linear, default=[])):
        p = f"outputs[{i}]"
        rd.typed(o, p, dict)
        locs = {"node": rd.at(f"{p}.node"), "weight": rd.at(f"{p}.weight")}
        outputs.append(Output(rd.get(o, "class", p, str), rd.get(o, "node", p, str),
                              rd.get(o, "weight", p, float, required=False, default=1.0),
                              loc=rd.at(p), field_locs=locs))
    return tuple(outputs)


def _read_readout(rd: _Reader, doc: dict) -> Readout:
    """``readout``: kind (default ``rms``), start and stop (s), and a linear layer's fields
    (which other kinds must not have)."""
    ro = rd.get(doc, "readout", "", dict)
    locs = {k: rd.at(f"readout.{k}") for k in ("kind", "start", "stop", *_LAYER_KEYS)}
    kind = rd.get(ro, "kind", "readout", str, required=False, default="rms")
    start, stop = rd.get(ro, "start", "readout", float), rd.get(ro, "stop", "readout", float)
    layer = {}
    if kind == LINEAR:
        layer = _read_layer(rd, ro, start, stop, locs)
    elif kind in READOUT_KINDS:
        for key in _LAYER_KEYS:
            if key in ro:
                raise rd.fail(f"readout.{key}", layer_field_message(key, kind))
    return Readout(kind, start, stop, **layer, loc=rd.at("readout"), field_locs=locs)


_LAYER_KEYS = ("segments", "floor", "law", "features", "classes")


def _read_law(rd: _Reader, ro: dict, locs: dict) -> DiodeLaw | None:
    """``readout.law`` (optional): ``kind`` "diode", ``nvt`` (V), ``rate`` (1/s), ``clip`` (V),
    ``hold`` (s, optional); signs are checked by validation."""
    if "law" not in ro:
        return None
    law = rd.get(ro, "law", "readout", dict)
    kind = rd.get(law, "kind", "readout.law", str)
    if kind != DIODE:
        raise rd.fail("readout.law.kind", f"expected {DIODE!r}, got {_short(kind)!r}")
    unknown = [k for k in law if k not in ("kind", "nvt", "rate", "clip", "hold")]
    if unknown:
        raise rd.fail(f"readout.law.{_short(unknown[0])}", "unknown key (expected kind, nvt, rate, clip, hold)")
    field_locs = {k: rd.at(f"readout.law.{k}") for k in ("nvt", "rate", "clip", "hold")}
    locs["law"] = rd.at("readout.law")
    return DiodeLaw(rd.get(law, "nvt", "readout.law", float), rd.get(law, "rate", "readout.law", float),
                    rd.get(law, "clip", "readout.law", float),
                    rd.get(law, "hold", "readout.law", float, required=False, default=None),
                    loc=rd.at("readout.law"), field_locs=field_locs)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _read_layer(rd: _Reader, ro: dict, start: float, stop: float, locs: dict) -> dict[str, Any]:
    """The fields of a linear readout (``readout.segments`` ... ``readout.classes``)."""
    boundaries: tuple[float, ...] = (start, stop)
    if "segments" in ro:
        values = rd.get(ro, "segments", "readout", list)
        if not values:
            raise rd.fail("readout.segments", "expected the K + 1 segment boundaries [start, ..., stop]")
        boundaries = tuple(rd.typed(v, f"readout.segments[{i}]", float) for i, v in enumerate(values))
        locs.update({f"boundary{i}": rd.at(f"readout.segments[{i}]") for i in range(len(values))})
    law = _read_law(rd, ro, locs)
    floor = rd.get(ro, "floor", "readout", float, required=law is None, default=0.0)
    n_segments = len(boundaries) - 1
    features = []
    for i, f in enumerate(rd.get(ro, "features", "readout", list)):
        p = f"readout.features[{i}]"
        rd.typed(f, p, dict)
        if "segment" in f:
            segment = f["segment"]
            integral = isinstance(segment, int) or (isinstance(segment, float) and segment.is_integer())
            if isinstance(segment, bool) or not integral:
                shown = repr(segment) if isinstance(segment, (int, float)) else type(segment).__name__
                raise rd.fail(f"{p}.segment", f"expected an integer (segments count from 0), got {shown}")
            segment = int(segment)
        elif n_segments <= 1:
            segment = 0
        else:
            raise rd.fail(p, f"missing key 'segment' (the window has {n_segments} segments)")
        gain = rd.get(f, "gain", p, float, required=False, default=1.0)
        features.append(Feature(rd.get(f, "name", p, str), rd.get(f, "node", p, str), segment, gain, loc=rd.at(p),
                                field_locs={"node": rd.at(f"{p}.node"), "segment": rd.at(f"{p}.segment"),
                                            "gain": rd.at(f"{p}.gain")}))
    classes = []
    for i, c in enumerate(rd.get(ro, "classes", "readout", list)):
        p = f"readout.classes[{i}]"
        rd.typed(c, p, dict)
        weights = rd.get(c, "weights", p, dict, required=False, default={})
        pairs = tuple((name, rd.typed(w, f"{p}.weights.{name}", float)) for name, w in weights.items())
        wlocs = {f"{key}{j}": rd.at(f"{p}.weights.{name}") for j, (name, _) in enumerate(pairs)
                 for key in ("feature", "weight")}
        classes.append(ClassScore(rd.get(c, "class", p, str), rd.get(c, "bias", p, float, required=False, default=0.0),
                                  pairs, loc=rd.at(p), field_locs={"bias": rd.at(f"{p}.bias"), **wlocs}))
    return {"segments": boundaries, "floor": floor, "features": tuple(features), "classes": tuple(classes),
            "law": law}


def model_from_npz(path: str, name: str | None = None) -> Model:
    """Import matrices from training code: ``mass``, ``stiffness``, ``damping`` (N),
    ``coupling`` (N×N symmetric damper matrix, zero = no coupling), ``drive`` (inputs×N),
    ``outputs`` (resonator indices), ``window`` ([start_s, stop_s]). Optional: ``weights``
    (per output), ``band`` ([low_hz, high_hz]). Resonators are named r0…, inputs u0…, classes c0….
    """
    rd = _Reader(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k]) for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # np.load raises all of these for truncated, empty or non-archive files
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelError(f"cannot read NumPy archive (expected an .npz of arrays): {detail}", Location(path)) from None
    m = _NpzArrays.check(rd, arrays)
    n = m.mass.size
    names = [f"r{i}" for i in range(n)]
    resonators = tuple(Resonator(names[i], m.mass[i], m.stiffness[i], m.damping[i], loc=rd.at(f"mass[{i}]"))
                       for i in range(n))
    couplings = tuple(Coupling(names[i], names[j], "damper", m.coupling[i, j], loc=rd.at(f"coupling[{i}, {j}]"))
                      for i in range(n) for j in range(i + 1, n) if m.coupling[i, j] != 0)
    inputs = tuple(Input(f"u{k}", tuple((names[i], m.drive[k, i]) for i in range(n) if m.drive[k, i] != 0),
                         loc=rd.at(f"drive[{k}]")) for k in range(m.drive.shape[0]))
    outputs = tuple(Output(f"c{j}", names[int(i)], float(m.weights[j]), loc=rd.at(f"outputs[{j}]"))
                    for j, i in enumerate(m.outputs))
    readout = Readout(_npz_readout_kind(rd, arrays), float(m.window[0]), float(m.window[1]), loc=rd.at("window"),
                      field_locs={"kind": rd.at("readout_kind")})
    stem = name or _stem(path)
    return validate_model(Model(stem, resonators, couplings, inputs, outputs, readout, band=m.band,
                                loc=Location(path), source=path))


@dataclass(frozen=True)
class _NpzArrays:
    """The numeric arrays of an ``.npz`` model, shapes checked against each other (float)."""

    mass: np.ndarray
    stiffness: np.ndarray
    damping: np.ndarray
    coupling: np.ndarray
    drive: np.ndarray
    outputs: np.ndarray
    window: np.ndarray
    weights: np.ndarray
    band: tuple[float, ...] | None

    @classmethod
    def check(cls, rd: _Reader, arrays: dict[str, np.ndarray]) -> _NpzArrays:
        """Read and check ``arrays``; ModelError naming the first array that is missing, not
        numeric and finite, or of the wrong shape."""

        def need(key: str, ndim: int) -> np.ndarray:
            if key not in arrays:
                raise rd.fail(key, f"missing array {key!r} (expected mass, stiffness, damping, coupling, drive, outputs, window)")
            arr = arrays[key]
            if arr.ndim != ndim or not np.issubdtype(arr.dtype, np.number):
                raise rd.fail(key, f"expected a numeric {ndim}-D array, got shape {arr.shape} of {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise rd.fail(key, "contains NaN or infinite values")
            return arr.astype(float)

        mass, stiffness, damping = need("mass", 1), need("stiffness", 1), need("damping", 1)
        n = mass.size
        for key, arr in (("stiffness", stiffness), ("damping", damping)):
            if arr.size != n:
                raise rd.fail(key, f"expected {n} values (one per resonator), got {arr.size}")
        coupling = need("coupling", 2)
        if coupling.shape != (n, n):
            raise rd.fail("coupling", f"expected shape ({n}, {n}), got {coupling.shape}")
        if not np.allclose(coupling, coupling.T, rtol=1e-12, atol=0):
            raise rd.fail("coupling", "must be symmetric")
        drive = need("drive", 2)
        if drive.shape[1] != n:
            raise rd.fail("drive", f"expected shape (inputs, {n}), got {drive.shape}")
        out_idx = need("outputs", 1)
        if np.any(out_idx != np.round(out_idx)) or np.any(out_idx < 0) or np.any(out_idx >= n):
            raise rd.fail("outputs", f"expected resonator indices in 0..{n - 1}")
        window = need("window", 1)
        if window.size != 2:
            raise rd.fail("window", "expected [start_s, stop_s]")
        weights = need("weights", 1) if "weights" in arrays else np.ones(out_idx.size)
        if weights.size != out_idx.size:
            raise rd.fail("weights", f"expected {out_idx.size} values (one per output)")
        band = tuple(need("band", 1)) if "band" in arrays else None
        return cls(mass, stiffness, damping, coupling, drive, out_idx, window, weights, band)


def _npz_readout_kind(rd: _Reader, arrays: dict[str, np.ndarray]) -> str:
    """The optional ``readout_kind`` string array (default ``rms``)."""
    if "readout_kind" not in arrays:
        return "rms"
    kind_arr = arrays["readout_kind"]
    if kind_arr.ndim != 0 or not np.issubdtype(kind_arr.dtype, np.str_):
        raise rd.fail("readout_kind", f"expected a string, one of {', '.join(READOUT_KINDS)}")
    return str(kind_arr)


def _stem(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem) or "model"
    return stem if not stem[0].isdigit() else f"m_{stem}"
