"""A demo's dataset, drawn by its generator with a given seed, and the fingerprint of what was read.

``demo_dataset("tactile")`` is the default draw in ``examples/tactile/data`` (seed
:data:`dataset_io.DEFAULT_SEED`, 60 clips per class); another seed or size lives in
``examples/<demo>/build/data-seed<S>-n<N>`` (``-shifted`` for the shifted condition, which no
model trains on: it measures generalisation). A folder whose ``dataset.json`` records another
seed, size, condition or generator version (or no fingerprint) is deleted and drawn again, so a
figure is never measured on a stale draw: keep nothing of your own in these folders. The
fingerprint returned is recomputed from the files on disk: it names the data actually scored,
and equals the generator's record only if nothing changed them since.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from dataset_io import DEFAULT_SEED, folder_digest  # noqa: E402

from r2nn_compiler.train import load_dataset  # noqa: E402
from r2nn_compiler.train.data import Dataset  # noqa: E402

DEMOS = ("tactile", "bearing", "speech")
DEFAULT_PER_CLASS = 60
#: Clips per class of the shifted condition's draw (it is only scored).
SHIFTED_PER_CLASS = 20


@dataclass(frozen=True)
class DataRecord:
    """Which draw a figure was measured on: the generator's seed and size, the SHA-256 of the
    clips as read (see ``dataset_io.clip_digest``) and the generator's own record of it."""

    seed: int
    per_class: int
    condition: str
    sha256: str
    generator_sha256: str | None
    libraries: dict

    def to_json(self) -> dict:
        return asdict(self)


def data_folder(demo: str, seed: int = DEFAULT_SEED, per_class: int = DEFAULT_PER_CLASS,
                condition: str = "nominal") -> Path:
    """Where the draw (demo, seed, per_class, condition) is kept."""
    if (seed, per_class, condition) == (DEFAULT_SEED, DEFAULT_PER_CLASS, "nominal"):
        return HERE / demo / "data"
    suffix = "" if condition == "nominal" else f"-{condition}"
    return HERE / demo / "build" / f"data-seed{seed}-n{per_class}{suffix}"


def _recorded(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "dataset.json").read_text())
    except (OSError, ValueError):
        return None


def generator_version(demo: str) -> str:
    """``GENERATOR_VERSION`` of ``examples/<demo>/make_dataset.py`` (read from its source)."""
    for line in (HERE / demo / "make_dataset.py").read_text().splitlines():
        if line.startswith("GENERATOR_VERSION"):
            return line.split("=", 1)[1].strip().strip('"')
    raise ValueError(f"examples/{demo}/make_dataset.py has no GENERATOR_VERSION")


def _is_draw(record: dict | None, demo: str, seed: int, per_class: int, condition: str) -> bool:
    return (record is not None and record.get("seed") == seed and record.get("per_class") == per_class
            and record.get("condition", "nominal") == condition and "fingerprint" in record
            and record.get("generator_version") == generator_version(demo))


def generate(demo: str, folder: Path, seed: int, per_class: int, condition: str = "nominal") -> None:
    """Run ``examples/<demo>/make_dataset.py`` into a fresh ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([sys.executable, str(HERE / demo / "make_dataset.py"), "--out", str(folder),
                    "--per-class", str(per_class), "--seed", str(seed), "--condition", condition],
                   check=True, stdout=subprocess.DEVNULL)


def demo_dataset(demo: str, seed: int = DEFAULT_SEED, per_class: int = DEFAULT_PER_CLASS,
                 folder: Path | None = None, condition: str = "nominal") -> tuple[Dataset, DataRecord]:
    """The draw (demo, seed, per_class, condition), generated when absent or stale, and its record."""
    folder = folder or data_folder(demo, seed, per_class, condition)
    if not _is_draw(_recorded(folder), demo, seed, per_class, condition):
        generate(demo, folder, seed, per_class, condition)
    fingerprint = _recorded(folder)["fingerprint"]
    return load_dataset(folder), DataRecord(seed, per_class, condition, folder_digest(folder),
                                            fingerprint["sha256"], fingerprint["libraries"])


def shifted_dataset(demo: str, seed: int = DEFAULT_SEED) -> tuple[Dataset, DataRecord]:
    """The shifted condition's draw for ``seed`` (:data:`SHIFTED_PER_CLASS` clips per class)."""
    return demo_dataset(demo, seed, SHIFTED_PER_CLASS, condition="shifted")
