"""What the three dataset generators share: writing the clips, the manifest and the summary.

Layout: ``OUT/<class>/<class>_<i>.wav`` (mono float32 WAV) and ``OUT/dataset.json`` (the
generator's manifest plus one entry per file with its parameters).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.io import wavfile


def spectral_centroid(x: np.ndarray, fs: float) -> float:
    """Power-weighted mean frequency (Hz) of a Hann-windowed clip."""
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    f = np.fft.rfftfreq(x.size, 1 / fs)
    return float((f * mag ** 2).sum() / max((mag ** 2).sum(), 1e-30))


def write_dataset(out: Path, rate: int, clips: list[tuple[str, int, np.ndarray, dict]], manifest: dict,
                  classes: list[str]) -> tuple[list[dict], dict[str, float], int]:
    """Write ``clips`` (class, index, samples, parameters) and ``dataset.json`` (``manifest`` plus
    ``files``). Returns the file entries, the mean spectral centroid per class (Hz) and the
    bytes written."""
    out.mkdir(parents=True, exist_ok=True)
    files, centroids = [], {c: [] for c in classes}
    for cls, i, y, params in clips:
        (out / cls).mkdir(exist_ok=True)
        rel = f"{cls}/{cls}_{i:03d}.wav"
        wavfile.write(out / rel, rate, y)
        centroids[cls].append(spectral_centroid(y, rate))
        files.append({"file": rel, "class": cls, **params})
    (out / "dataset.json").write_text(json.dumps({**manifest, "files": files}, indent=1) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return files, {c: float(np.mean(v)) for c, v in centroids.items()}, size


def add_common_arguments(parser, here: Path, duration: float, rate: int, rate_help: str = "sample rate in Hz",
                         per_class_help: str = "clips per class") -> None:
    """The options every generator takes: --out, --per-class, --seed, --duration, --rate."""
    parser.add_argument("--out", type=Path, default=here / "data", help="output directory")
    parser.add_argument("--per-class", type=int, default=60, help=per_class_help)
    parser.add_argument("--seed", type=int, default=2026, help="random seed (same seed -> same bytes)")
    parser.add_argument("--duration", type=float, default=duration, help="clip length in seconds")
    parser.add_argument("--rate", type=int, default=rate, help=rate_help)


def manifest_header(name: str, generator: str, version: str, classes: list[str], args) -> dict:
    """The manifest keys every dataset has (its own parameters are added by the generator)."""
    return {
        "name": name, "generator": generator, "generator_version": version,
        "classes": list(classes), "rate": args.rate, "duration": args.duration,
        "samples": int(round(args.duration * args.rate)), "format": "WAV mono float32",
        "per_class": args.per_class, "seed": args.seed,
    }


def clips_by_class(classes: list[str], args, make_clip) -> list[tuple[str, int, np.ndarray, dict]]:
    """``make_clip(cls, rng, args) -> (samples, parameters)`` for every class and index; clip i
    of a class depends only on (seed, class index, i), so a larger --per-class only adds clips."""
    return [(cls, i, *make_clip(cls, np.random.default_rng([args.seed, ci, i]), args))
            for ci, cls in enumerate(classes) for i in range(args.per_class)]
