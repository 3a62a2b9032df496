"""What the three dataset generators share: writing the clips, the manifest and the summary.

Layout: ``OUT/<class>/<class>_<i>.wav`` (mono float32 WAV) and ``OUT/dataset.json`` (the
generator's manifest, its ``fingerprint`` and one entry per file with its parameters).

The fingerprint names the data a figure was measured on: SHA-256 over every clip (its path
relative to OUT, a NUL byte, its samples as little-endian float32), in sorted path order, so the
same draw gives the same digest whatever wrote or read it; beside it the versions of the
libraries (and programs) that shaped the samples, so a changed digest can be traced.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy
from scipy.io import wavfile

#: The one default seed of every generator and of ``run_demo.py`` (the draw the shipped models
#: were trained and scored on).
DEFAULT_SEED = 0
#: ``nominal``: the conditions a model is trained on; ``shifted``: another operating condition
#: (each generator's ``SHIFTED`` says which), drawn to test generalisation, never to train.
CONDITIONS = ("nominal", "shifted")


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
    digest = clip_digest((f["file"], y) for f, (_, _, y, _) in zip(files, clips, strict=True))
    fingerprint = {"sha256": digest, "clips": len(files),
                   "libraries": {**library_versions(), **manifest.get("synthesisers", {})}}
    (out / "dataset.json").write_text(json.dumps({**manifest, "fingerprint": fingerprint, "files": files},
                                                 indent=1) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return files, {c: float(np.mean(v)) for c, v in centroids.items()}, size


def clip_digest(clips: Iterable[tuple[str, np.ndarray]]) -> str:
    """SHA-256 (hex) over (relative path, samples) pairs, taken in sorted path order."""
    h = hashlib.sha256()
    for rel, y in sorted(clips, key=lambda item: item[0]):
        h.update(rel.encode() + b"\0")
        h.update(np.ascontiguousarray(y, dtype="<f4").tobytes())
    return h.hexdigest()


def folder_digest(root: Path) -> str:
    """:func:`clip_digest` of the WAV clips under ``root/<class>/`` as they are on disk."""
    return clip_digest((f"{p.parent.name}/{p.name}", wavfile.read(p)[1])
                       for p in Path(root).glob("*/*.wav"))


def library_versions() -> dict[str, str]:
    """Versions of what shapes the samples in every generator (numpy's generator, scipy's filters)."""
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}


def add_common_arguments(parser, here: Path, duration: float, rate: int, rate_help: str = "sample rate in Hz",
                         per_class_help: str = "clips per class") -> None:
    """The options every generator takes: --out, --per-class, --seed, --duration, --rate."""
    parser.add_argument("--out", type=Path, default=here / "data", help="output directory")
    parser.add_argument("--per-class", type=int, default=60, help=per_class_help)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed -> same bytes)")
    parser.add_argument("--duration", type=float, default=duration, help="clip length in seconds")
    parser.add_argument("--rate", type=int, default=rate, help=rate_help)
    parser.add_argument("--condition", choices=CONDITIONS, default=CONDITIONS[0],
                        help="nominal: the training conditions; shifted: conditions no training clip has "
                             "(see the generator's SHIFTED), to measure generalisation")


def manifest_header(name: str, generator: str, version: str, classes: list[str], args) -> dict:
    """The manifest keys every dataset has (its own parameters are added by the generator)."""
    return {
        "name": name, "generator": generator, "generator_version": version,
        "classes": list(classes), "rate": args.rate, "duration": args.duration,
        "samples": int(round(args.duration * args.rate)), "format": "WAV mono float32",
        "per_class": args.per_class, "seed": args.seed, "condition": args.condition,
    }


def clips_by_class(classes: list[str], args, make_clip) -> list[tuple[str, int, np.ndarray, dict]]:
    """``make_clip(cls, rng, args) -> (samples, parameters)`` for every class and index; clip i
    of a class depends only on (seed, class index, i) and the condition (:func:`clip_rng`), so a
    larger --per-class only adds clips."""
    return [(cls, i, *make_clip(cls, clip_rng(args, ci, i), args))
            for ci, cls in enumerate(classes) for i in range(args.per_class)]


def clip_rng(args, class_index: int, i: int) -> np.random.Generator:
    """The random stream of clip ``i`` of a class: (seed, class, i) for the nominal condition; the
    shifted condition draws from streams of its own, so none of its clips shares a draw (a contact
    resonance, a noise) with a nominal clip of the same seed."""
    key = [args.seed, class_index, i] + ([CONDITIONS.index(args.condition)] if args.condition != "nominal" else [])
    return np.random.default_rng(key)
