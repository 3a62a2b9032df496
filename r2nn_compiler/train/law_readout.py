"""Refit a linear readout to the passive diode cell's law: fixed resonators, new layer.

Given a model with a linear readout layer (its features: resonator × segment) and training clips,
:func:`refit_law_readout` returns the same network whose layer reads the diode cell's readings
ψ_f (``law diode``, :mod:`r2nn_compiler.reference.diode`) and whose class weights are fitted to
them: the multinomial logistic fit of :mod:`.volt_fit` on the raw readings (V) of the training
clips, L2 in 1/V² chosen by stratified cross-validation, every |weight| at most ``max_weight``
per volt (:data:`MAX_WEIGHT` by default: a layer the micropower deck can realise).

The taps' gains (V per node unit, :class:`GainMode`):

- ``COMMON``: one gain for every tap, so the largest |tap| over the training clips' windows
  (on the reference's fine grid) is ``peak_v`` — a passive deck has one voltage scale for all
  resonator nodes;
- ``PER_TAP``: per tap, the loudest training clip's window RMS is ``x_rms`` · nvt (the
  micropower study's "level"); each tap then needs its own buffer. Taps clip at ±clip either way.

The resonators are not retrained (the law's gradient through the network is not used here).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from .. import reference
from ..errors import ModelError
from ..model.ir import ClassScore, DiodeLaw, Feature, Model
from ..model.validate import validate_model
from ..reference.diode import TapGrid, readings_on_grid, system_grids
from . import logistic, volt_fit
from .data import Dataset


#: Default bound on every class weight (1/V): a reading error of 1 mV then moves a score by at most
#: 0.008 units per feature. On tactile (docs/diode-law.md) 8/V keeps the held-out accuracy of looser
#: bounds and the largest tolerated reading error; the standardised fit it replaces gave up to 885/V.
MAX_WEIGHT = 8.0


class GainMode(enum.Enum):
    """How the taps' gains are chosen (module docstring)."""

    COMMON = "common"
    PER_TAP = "per-tap"


@dataclass(frozen=True)
class LawOptions:
    """The law (n·Vt in V, rate k in 1/s, clip in V, hold droop τ in s or None) and the gains:
    ``gain`` mode, ``peak_v`` (V, COMMON) or ``x_rms`` (in n·Vt, PER_TAP); ``max_weight`` the bound
    on every |class weight| (1/V; None: L2 alone). ``grid_fraction``: the
    fit's quadrature grid (:func:`reference.diode.system_grids`; 0.4: readings to ≈ 3e-5 relative,
    16× fewer nodes than the reference's exact 0.1)."""

    nvt: float
    rate: float
    clip: float = 1.6
    hold: float | None = None
    max_weight: float | None = MAX_WEIGHT
    gain: GainMode = GainMode.COMMON
    peak_v: float = 1.6
    x_rms: float = 30.0
    seed: int = 0
    grid_fraction: float = 0.4


def recommended_law() -> tuple[float, float, float]:
    """(n·Vt in V, k in 1/s, hold droop τ in s) of docs/micropower.md's recommended cell: the
    D1N4148 card into 4.7 nF on TS12A44515-class switches (τ = Roff·C/2, parts/detectors.py)."""
    from ..parts.catalogue import part
    from ..parts.detectors import Cell, Kind

    cell = Cell(Kind.PASSIVE, "D1N4148", 4.7e-9, switch="TS12A44515")
    return cell.n_vt(), cell.k_per_s(), part(cell.switch).roff_ohm / 2 * cell.cap_f


@dataclass(frozen=True, eq=False)  # holds arrays
class LawFit:
    """The refitted model, the taps' gains (per read node), the L2 weight chosen, the training
    clips' readings (clips × features, V) and accuracy of the fit on them."""

    model: Model
    gains: np.ndarray
    l2: float
    readings: np.ndarray
    train_accuracy: float

    @property
    def max_abs_weight(self) -> float:
        """The largest |class weight| of the fitted layer (1/V)."""
        _, _, matrix = self.model.readout.feature_matrix()
        return float(np.max(np.abs(matrix))) if np.size(matrix) else 0.0


def law_model(model: Model, options: LawOptions, gains: np.ndarray) -> Model:
    """``model`` with its layer under ``options``' law and ``gains`` (per read node; every feature
    of a tap gets its gain), class weights unchanged (the floor kept, unused)."""
    ro = model.readout
    if ro is None or not ro.is_linear:
        raise ModelError("refitting to the diode law needs a model with a linear readout layer (its features "
                         "are the cells); train one with 'r2nn train' first", model.loc)
    position = {name: i for i, name in enumerate(model.read_nodes)}
    features = tuple(Feature(f.name, f.node, f.segment, float(gains[position[f.node]])) for f in ro.features)
    law = DiodeLaw(options.nvt, options.rate, options.clip, options.hold)
    return replace(model, readout=replace(ro, features=features, law=law, floor=0.0))


@dataclass(frozen=True, eq=False)  # holds arrays
class TapLevels:
    """Per read node over a set of clips: the largest |y| and the largest window RMS (node units,
    on the reference's fine grid over the window)."""

    peak: np.ndarray
    rms: np.ndarray


def _grids(model: Model, dataset: Dataset, options: LawOptions, progress: str | None) -> Iterator[TapGrid]:
    """The exact fine grid of every clip's taps (unit gains), one clip at a time (the grid's
    spacing follows the law's clip/nvt). Raises SignalError for clips that end before the window."""
    probe = law_model(model, options, np.ones(len(model.read_nodes)))
    u = np.asarray(dataset.signals, dtype=float)
    reference.require_window(probe, u.shape[-1], dataset.sample_rate_hz)
    system = reference.state_space(probe)
    for i in tqdm(range(u.shape[0]), desc=progress, unit="clip", disable=progress is None, leave=False):
        yield from system_grids(probe, system, u[i : i + 1], dataset.sample_rate_hz, fraction=options.grid_fraction)


def tap_levels(model: Model, dataset: Dataset, options: LawOptions, progress: bool = False) -> TapLevels:
    """:class:`TapLevels` of ``model``'s taps over ``dataset``'s clips."""
    peak, rms = np.zeros(len(model.read_nodes)), np.zeros(len(model.read_nodes))
    for grid in _grids(model, dataset, options, "tap levels" if progress else None):
        window = grid.window()
        peak = np.maximum(peak, np.max(np.abs(window), axis=(0, 2)))
        rms = np.maximum(rms, np.sqrt(np.mean(window ** 2, axis=2)).max(axis=0))
    return TapLevels(peak, rms)


def choose_gains(levels: TapLevels, options: LawOptions) -> np.ndarray:
    """Per read node, the gain (V per node unit) that ``options.gain`` asks for (module docstring)."""
    if options.gain is GainMode.COMMON:
        return np.full(levels.peak.shape, options.peak_v / float(np.max(levels.peak)))
    return options.x_rms * options.nvt / np.where(levels.rms > 0, levels.rms, 1.0)


def readings(models: list[Model], dataset: Dataset, options: LawOptions, progress: bool = False) -> list[np.ndarray]:
    """ψ (clips × features, V) of each of ``models`` (the same network and law clip/nvt as
    ``options``, any gains and weights) on ``dataset``'s clips: one fine grid per clip serves all."""
    out: list[list[np.ndarray]] = [[] for _ in models]
    for grid in _grids(models[0], dataset, options, "law readings" if progress else None):
        for rows, m in zip(out, models):
            rows.append(readings_on_grid(m, grid))
    return [np.concatenate(rows) for rows in out]


def fit_weights(model: Model, psi: np.ndarray, labels: np.ndarray, seed: int = 0,
                max_weight: float | None = MAX_WEIGHT) -> tuple[Model, float]:
    """``model`` (under its law) with class biases and weights fitted to the readings ``psi``
    (clips × features, V) of labelled clips (:func:`.volt_fit.fit`: raw readings, L2 in 1/V²,
    every |weight| ≤ ``max_weight`` per volt); and the L2 weight chosen by cross-validation.
    Features that read the same on every clip get no weight."""
    n_classes = len(model.readout.classes)
    mean, std = psi.mean(axis=0), psi.std(axis=0)
    live = std > 1e-12 * np.maximum(np.abs(mean), 1e-300)
    l2 = volt_fit.choose_l2(psi[:, live], labels, n_classes, max_weight, seed)
    fit = volt_fit.fit(psi[:, live], labels, n_classes, l2, max_weight)
    weights = np.zeros((n_classes, psi.shape[1]))
    weights[:, live] = fit.weights
    names = [f.name for f in model.readout.features]
    classes = tuple(ClassScore(c.cls, float(b), tuple((n, float(w)) for n, w in zip(names, row) if w != 0))
                    for c, b, row in zip(model.readout.classes, fit.bias, weights))
    return validate_model(replace(model, readout=replace(model.readout, classes=classes))), l2


def refit_law_readout(model: Model, dataset: Dataset, options: LawOptions, progress: bool = False) -> LawFit:
    """``model``'s network with a layer under the diode law, gains chosen on and weights fitted
    to ``dataset``'s clips (classes named as ``model``'s). Raises ModelError for a
    model without a linear layer, SignalError for clips that end before the window."""
    labels = model_labels(model, dataset)
    gains = choose_gains(tap_levels(model, dataset, options, progress), options)
    candidate = law_model(model, options, gains)
    (psi,) = readings([candidate], dataset, options, progress)
    fitted, l2 = fit_weights(candidate, psi, labels, options.seed, options.max_weight)
    acc = logistic.accuracy(reference.scores(fitted, psi), labels)
    return LawFit(fitted, gains, l2, psi, acc)


def model_labels(model: Model, dataset: Dataset) -> np.ndarray:
    """``dataset``'s labels as indices into ``model.classes`` (the same names, any order).
    Raises ModelError when the names differ."""
    names = [str(c) for c in dataset.classes]
    if model.readout is not None and model.readout.is_linear and sorted(names) != sorted(model.classes):
        raise ModelError(f"the data's classes {names} are not the model's {model.classes}", model.loc)
    order = {c: i for i, c in enumerate(model.classes)}
    return np.array([order.get(names[k], k) for k in np.asarray(dataset.labels)], dtype=np.int64)


__all__ = ["MAX_WEIGHT", "GainMode", "LawFit", "LawOptions", "TapLevels", "choose_gains", "fit_weights", "law_model", "readings",
           "model_labels", "refit_law_readout", "tap_levels"]
