"""The public Python API: the same verbs as the CLI, for scripts and notebooks.

``load_model`` → ``simulate`` / ``response`` (reference model); ``compile_model`` and ``verify``
join when the circuit stages are present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import reference
from .errors import Location, ModelError
from .model import Model, model_from_json_text, model_from_npz, model_to_json, model_to_text, parse_model_text
from .signals import Signal, load_signal

MODEL_SUFFIXES = (".r2nn", ".json", ".npz")


def load_model(path: str | Path) -> Model:
    """Read, validate and stability-check a model (.r2nn, .json or .npz by suffix).

    Raises ModelSyntaxError / ModelError carrying file:line:col or file: parameter.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(f"unknown model type {suffix or '(none)'!r}: expected .r2nn, .json or .npz", Location(name))
    if suffix == ".npz":
        model = model_from_npz(name)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read model: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}",
                             Location(name)) from None
        model = parse_model_text(text, name) if suffix == ".r2nn" else model_from_json_text(text, name)
    return reference.check_stable(model)


def save_model(model: Model, path: str | Path) -> None:
    """Write ``model`` as .r2nn text or r2nn-model/1 JSON by suffix, atomically."""
    from .fileutil import write_text_atomic

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".r2nn":
        write_text_atomic(path, model_to_text(model))
    elif suffix == ".json":
        write_text_atomic(path, model_to_json(model))
    else:
        raise ModelError(f"cannot write {suffix or '(no suffix)'!r}: expected .r2nn or .json", Location(str(path)))


@dataclass(frozen=True)
class SimulationResult:
    """Reference simulation of one signal: output velocities, features, predicted class."""

    model: Model
    signal: Signal
    outputs: np.ndarray  # outputs × samples, m/s
    features: np.ndarray  # outputs
    predicted: str

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.outputs.shape[1]) / self.signal.rate_hz

    def feature_map(self) -> dict[str, float]:
        return {c: float(f) for c, f in zip(self.model.classes, self.features)}


def simulate(model: Model, signal: Signal | str | Path, rate_hz: float | None = None) -> SimulationResult:
    """Run the reference model on one signal (a Signal or a signal file)."""
    if not isinstance(signal, Signal):
        signal = load_signal(signal, len(model.inputs), rate_hz)
    outputs = reference.simulate(model, signal.data, signal.rate_hz)
    feats = reference.features(model, outputs, signal.rate_hz)
    return SimulationResult(model, signal, outputs, feats, model.classes[int(reference.predict(model, feats))])
