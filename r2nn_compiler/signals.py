"""Reading input signals: WAV (any PCM width or float), CSV and .npy.

A signal is (inputs × samples) float64 with its sample rate in Hz. CSV/.npy hold one column per
input (or a 1-D array for one input) and need the rate from the caller; WAV carries its own and
one channel per input. Integer PCM is scaled to [-1, 1). :func:`check_fits` checks a signal
against a model (channels, rate, long enough for its readout window) before anything simulates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import Location, SignalError, UsageError
from .model.ir import LINEAR, RMS_CONTINUOUS, Model

SIGNAL_SUFFIXES = (".wav", ".csv", ".npy")

#: Largest signal file read into memory (bytes). Float64 copies are made while reading, so peak
#: memory is a few times this; longer recordings should be cut into clips.
MAX_SIGNAL_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Signal:
    data: np.ndarray  # inputs × samples
    rate_hz: float
    path: str

    @property
    def duration_s(self) -> float:
        return (self.data.shape[1] - 1) / self.rate_hz


def load_signal(path: str | Path, n_inputs: int, rate_hz: float | None = None) -> Signal:
    """Read a signal for a model with ``n_inputs`` inputs.

    Raises SignalError (unreadable file, wrong number of columns, NaN/inf, empty) and UsageError
    (a CSV/.npy signal without ``--rate``, a WAV with a contradicting ``--rate``).
    """
    path = Path(path)
    where = Location(str(path))
    suffix = path.suffix.lower()
    if suffix not in SIGNAL_SUFFIXES:
        raise SignalError(f"unknown signal type {suffix or '(none)'!r}: expected .wav, .csv or .npy", where)
    if rate_hz is not None and not _valid_rate(rate_hz):
        raise SignalError(f"sample rate (--rate) must be a positive, finite number of Hz, got {rate_hz!r}", where)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SignalError(f"cannot read signal: {exc.strerror}", where) from None
    if size > MAX_SIGNAL_BYTES:
        raise SignalError(f"signal file is {size / 2**20:.0f} MiB: at most {MAX_SIGNAL_BYTES // 2**20} MiB is read "
                          "into memory; cut it into clips", where)
    try:
        if suffix == ".wav":
            data, rate_hz = _read_wav(path, rate_hz)
        else:
            if rate_hz is None:
                raise UsageError(f"{path}: a {suffix} signal needs its sample rate: give --rate HZ")
            data = np.load(path, allow_pickle=False) if suffix == ".npy" else _read_csv(path)
    except (OSError, ValueError) as exc:
        raise SignalError(f"cannot read signal: {' '.join(str(exc).split())}", where) from None
    data = np.asarray(data)
    if not np.issubdtype(data.dtype, np.number):
        raise SignalError(f"expected numbers, got an array of {data.dtype}", where)
    data = data.astype(float)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise SignalError(f"expected one column per input, got an array of shape {data.shape}", where)
    if data.shape[1] != n_inputs:
        raise SignalError(f"expected {n_inputs} column(s), one per model input, got {data.shape[1]}", where)
    if data.shape[0] < 2:
        raise SignalError("a signal needs at least two samples", where)
    if not np.all(np.isfinite(data)):
        raise SignalError("signal contains NaN or infinite samples", where)
    if not _valid_rate(rate_hz):
        raise SignalError(f"sample rate must be a positive, finite number of Hz, got {rate_hz!r}", where)
    return Signal(np.ascontiguousarray(data.T), float(rate_hz), str(path))


def _valid_rate(rate_hz: float | None) -> bool:
    """True for a positive, finite sample rate (numbers only)."""
    return isinstance(rate_hz, (int, float, np.number)) and bool(np.isfinite(rate_hz) and rate_hz > 0)


def check_fits(model: Model, signal: Signal) -> Signal:
    """Return ``signal`` when it can drive ``model``: (inputs × samples) finite data with one row
    per model input, a positive finite rate, and samples up to the end of the readout window
    (the check every feature makes, here before anything is simulated).

    Raises SignalError naming the signal's file (``signal.path``) otherwise.
    """
    from .reference.readout import require_window, samples_needed, window_mask  # the features' own checks

    where = Location(str(getattr(signal, "path", "") or "signal"))
    data = np.asarray(signal.data)
    if data.ndim != 2 or data.shape[0] != len(model.inputs):
        raise SignalError(f"expected {len(model.inputs)} input channel(s), one per model input, got an array of shape "
                          f"{data.shape}", where)
    if not _valid_rate(signal.rate_hz):
        raise SignalError(f"sample rate must be a positive, finite number of Hz, got {signal.rate_hz!r}", where)
    if data.shape[1] < 2:
        raise SignalError("a signal needs at least two samples", where)
    if not np.all(np.isfinite(data)):
        raise SignalError("signal contains NaN or infinite samples", where)
    rate, n = float(signal.rate_hz), data.shape[1]
    try:
        require_window(model, n, rate)
        if model.readout.kind not in (RMS_CONTINUOUS, LINEAR):  # sampled: a sample must fall in the window
            window_mask(model, min(n, samples_needed(model, rate) + 1), rate)
    except SignalError as err:
        raise err.located(where.file) from None
    return signal


def _read_wav(path: Path, rate_hz: float | None):
    from scipy.io import wavfile

    rate, data = wavfile.read(path)
    if rate_hz is not None and rate_hz != rate:
        raise UsageError(f"{path}: --rate {rate_hz:g} contradicts the file's own {rate} Hz")
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        if info.min == 0:  # unsigned 8-bit PCM is offset binary
            data = (data.astype(float) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        else:
            data = data.astype(float) / -float(info.min)
    return data, float(rate)


def _read_csv(path: Path) -> np.ndarray:
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and any(c.isalpha() and c not in "eE" for c in lines[0]):
        lines = lines[1:]  # a header row
    return np.loadtxt(lines, delimiter=",", ndmin=2)


def signal_files(paths: list[str | Path]) -> list[Path]:
    """Expand directories into their signal files, then those of their immediate subfolders
    (class folders: a folder named after a class labels its signals; hidden folders skipped),
    each sorted; plain files are kept as given."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += _signals_in(p)
            files += [f for sub in sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
                      for f in _signals_in(sub)]
        else:
            files.append(p)
    return files


def _signals_in(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in SIGNAL_SUFFIXES)
