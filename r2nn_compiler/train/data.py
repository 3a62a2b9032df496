"""Labelled datasets for training: a folder of WAV files per class, or one ``.npz``.

A dataset is (clips × inputs × samples) float64 at one sample rate, integer labels into a tuple
of class names, and a deterministic stratified train/validation split.

Clips of different lengths are brought to one length: by default every clip is cropped to the
shortest (keeping its start), so the readout window sees signal in every clip; with
``length_s`` longer clips are cropped and shorter ones zero-padded at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Location, SignalError
from ..signals import load_signal


@dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class Dataset:
    """Clips (clips × inputs × samples, float64), labels (clips, int), classes, rate in Hz; the
    file or folder it was read from (``path``, for error messages), if any."""

    signals: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    sample_rate_hz: float
    name: str = "dataset"
    path: str | None = None

    @property
    def n_inputs(self) -> int:
        return self.signals.shape[1]

    @property
    def duration_s(self) -> float:
        """Time of the last sample, (samples − 1) / fs, in seconds."""
        return (self.signals.shape[2] - 1) / self.sample_rate_hz

    def split(self, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(train, validation)`` clip indices, sorted, stratified by class.

        Each class gives round(validation · count) clips to validation, at least one when it has
        two or more clips and ``validation > 0``, and keeps at least one for training. Seeded, so
        the same dataset, fraction and seed always give the same split.
        Raises ValueError unless 0 ≤ validation < 1.
        """
        if not 0 <= validation < 1:
            raise ValueError(f"validation fraction must be in [0, 1), got {validation!r}")
        rng = np.random.default_rng(seed)
        val: list[np.ndarray] = []
        for c in range(len(self.classes)):
            members = rng.permutation(np.flatnonzero(self.labels == c))
            n_val = int(round(validation * members.size))
            if validation > 0 and members.size >= 2:
                n_val = max(n_val, 1)
            val.append(members[: min(n_val, members.size - 1)])
        val_idx = np.sort(np.concatenate(val)).astype(int)
        return np.setdiff1d(np.arange(self.labels.size), val_idx), val_idx


def dataset_from_arrays(signals, labels, sample_rate_hz: float, classes=None, name: str = "dataset",
                        where: str | None = None) -> Dataset:
    """A Dataset from a (clips × samples) or (clips × inputs × samples) array and labels.

    ``labels`` are class names (classes = their sorted unique values) or ints: indices into
    ``classes`` when given, else 0…K−1 named ``c0…``; ``where``: the file they came from. Raises
    SignalError on shapes, non-finite samples, bad labels or fewer than two classes.
    """
    loc = Location(where) if where else None
    signals = np.asarray(signals)
    if not np.issubdtype(signals.dtype, np.number):
        raise SignalError(f"signals must be numbers, got an array of {signals.dtype}", loc)
    signals = signals.astype(float)
    if signals.ndim == 2:
        signals = signals[:, None, :]
    if signals.ndim != 3 or signals.shape[0] == 0 or signals.shape[2] < 2:
        raise SignalError(f"signals must be (clips × samples) or (clips × inputs × samples) with at least "
                          f"two samples, got shape {signals.shape}", loc)
    if not np.all(np.isfinite(signals)):
        raise SignalError("signals contain NaN or infinite samples", loc)
    if not (np.isfinite(sample_rate_hz) and sample_rate_hz > 0):
        raise SignalError(f"sample rate must be a positive number of Hz, got {sample_rate_hz!r}", loc)
    index, names = _label_indices(np.asarray(labels), classes, signals.shape[0], loc)
    return Dataset(signals, index, names, float(sample_rate_hz), name, where)


def _label_indices(labels: np.ndarray, classes, n_clips: int, loc) -> tuple[np.ndarray, tuple[str, ...]]:
    if labels.shape != (n_clips,):
        raise SignalError(f"expected one label per clip ({n_clips}), got shape {labels.shape}", loc)
    if np.issubdtype(labels.dtype, np.integer):
        names = tuple(str(c) for c in classes) if classes is not None else tuple(
            f"c{i}" for i in range(int(labels.max()) + 1))
        if labels.min() < 0 or labels.max() >= len(names):
            raise SignalError(f"integer labels must lie in 0..{len(names) - 1} (one per class), "
                              f"got {labels.min()}..{labels.max()}", loc)
        index = labels.astype(int)
    elif labels.dtype.kind in "US":
        text = labels.astype(str)
        names = tuple(str(c) for c in classes) if classes is not None else tuple(sorted(set(text)))
        unknown = sorted(set(text) - set(names))
        if unknown:
            raise SignalError(f"labels {unknown[:3]} are not among the classes {list(names)}", loc)
        index = np.array([names.index(t) for t in text], dtype=int)
    else:
        raise SignalError(f"labels must be integers or strings, got {labels.dtype}", loc)
    if len(names) < 2:
        raise SignalError(f"a classifier needs at least two classes, got {list(names)}", loc)
    return index, names


def load_dataset(path: str | Path, length_s: float | None = None) -> Dataset:
    """Read a dataset: a directory with one sub-directory of ``.wav`` files per class (class =
    sub-directory name), or an ``.npz`` with ``signals``, ``labels``, ``sample_rate`` and
    optionally ``classes``. See the module docstring for clips of different lengths.

    Raises SignalError (unreadable or inconsistent files: sample rates, channel counts).
    """
    path = Path(path)
    if path.is_dir():
        clips, labels, classes, rate = _read_wav_folders(path)
    elif path.suffix.lower() == ".npz":
        return _read_npz(path, length_s)
    else:
        raise SignalError("expected a directory of class folders of .wav files, or an .npz", Location(str(path)))
    data = _common_length(clips, rate, length_s, str(path))
    return dataset_from_arrays(data, np.array(labels), rate, classes, path.name, str(path))


def _read_npz(path: Path, length_s: float | None) -> Dataset:
    where = Location(str(path))
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("signals", "labels") if k not in npz]
            if missing:
                raise SignalError(f"missing array(s) {', '.join(missing)}: expected signals, labels, "
                                  f"sample_rate", where)
            if "sample_rate" not in npz:
                raise SignalError("missing sample_rate (Hz)", where)
            signals, labels = npz["signals"], npz["labels"]
            rate = float(npz["sample_rate"])
            classes = list(npz["classes"].astype(str)) if "classes" in npz else None
    except (OSError, ValueError) as exc:
        raise SignalError(f"cannot read dataset: {' '.join(str(exc).split())}", where) from None
    if length_s is not None:
        signals = _common_length(list(np.asarray(signals, dtype=float)), rate, length_s, str(path))
    return dataset_from_arrays(signals, labels, rate, classes, path.stem, str(path))


def _read_wav_folders(root: Path) -> tuple[list[np.ndarray], list[int], list[str], float]:
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    clips, labels, classes = [], [], []
    rate = n_inputs = None
    first = None
    for folder in folders:
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".wav")
        if not files:
            continue
        classes.append(folder.name)
        for f in files:
            if n_inputs is None:
                first = f
                n_inputs = _channels(f)
            signal = load_signal(f, n_inputs)
            if rate is None:
                rate = signal.rate_hz
            elif signal.rate_hz != rate:
                raise SignalError(f"sample rate {signal.rate_hz:g} Hz differs from {rate:g} Hz of {first}: "
                                  f"every clip needs the same rate (resample first)", Location(str(f)))
            clips.append(signal.data)
            labels.append(len(classes) - 1)
    if not clips:
        raise SignalError("no class folders with .wav files found", Location(str(root)))
    return clips, labels, classes, rate


def _channels(path: Path) -> int:
    from scipy.io import wavfile

    try:
        _, data = wavfile.read(path)
    except (OSError, ValueError) as exc:
        raise SignalError(f"cannot read signal: {' '.join(str(exc).split())}", Location(str(path))) from None
    return 1 if data.ndim == 1 else data.shape[1]


def _common_length(clips: list[np.ndarray], rate: float, length_s: float | None, where: str) -> np.ndarray:
    """Stack (inputs × samples) clips: crop to the shortest, or crop/zero-pad to ``length_s``."""
    if length_s is None:
        n = min(c.shape[-1] for c in clips)
    else:
        n = int(round(length_s * rate)) + 1
        if n < 2:
            raise SignalError(f"clip length {length_s!r} s holds fewer than two samples at {rate:g} Hz",
                              Location(where))
    out = np.zeros((len(clips), clips[0].shape[0] if clips[0].ndim == 2 else 1, n))
    for i, c in enumerate(clips):
        c = np.atleast_2d(c)[:, :n]
        out[i, :, : c.shape[1]] = c
    return out
