"""The superposition kernel of a deck and its cache beside the deck.

A kernel (:class:`Kernel`) is what ngspice answered to one unit hat per input and leading
sample (``verify.superposition``); it depends only on the library, the sample period, the
fixed step, its length and the op-amp vectors it saved, so it is cached under a key of those
(:class:`KernelKey`, the library by its SHA-256) in the hidden directory ``.<deck>.kernels``
beside the deck's directory (never inside it: the deck's files stay the compiler's). The key
also holds what shapes the hat testbench (:data:`TESTBENCH_SETTINGS`: the compiler's version and
ngspice's solver options), so a kernel of another compiler is never reused. A changed library
has another digest: its old kernels are removed when a new one is stored. A cache file that
cannot be read (truncated, foreign, being written) counts as absent; one that cannot be written
is skipped; the verification never depends on it. Method notes: docs/verify.md, "Superposition".
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..backend.ngspice import FIXED_STEP_XTRTOL, OPTIONS

#: Bump when the stored arrays change meaning.
FORMAT = 1

#: What else shapes a kernel: the compiler that wrote the hat testbench and its solver options.
TESTBENCH_SETTINGS = f"r2nn-compiler {__version__}; {OPTIONS}; xtrtol={FIXED_STEP_XTRTOL}"


@dataclass(frozen=True)
class KernelKey:
    """What a kernel depends on (times in circuit seconds)."""

    library_sha256: str
    sample_period_s: float
    substeps: int
    samples: int
    vectors: tuple[str, ...]  # the op-amp output vectors whose grid traces it holds

    def digest(self) -> str:
        text = json.dumps({"format": FORMAT, "testbench": TESTBENCH_SETTINGS, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Kernel:
    """ngspice's responses to unit hats (volts per volt).

    ``outputs``: inputs × (prefix + 1) hats × observed ports × ``samples``, at the sample times;
    hat j < prefix is input sample j's (``superposition.build_kernel``: sample 0's own, sample
    1's own over a window), hat ``prefix`` stands for every later sample, shifted. ``opamps``: the same hats' op-amp outputs on ngspice's time grid (inputs × hats ×
    op-amps × grid points, ``grid_s`` the grid's times; empty without op-amps): regular, one
    step apart, from ``regular_from`` on."""

    outputs: np.ndarray
    opamps: np.ndarray
    grid_s: np.ndarray
    regular_from: int
    prefix: int
    substeps: int
    sample_period_s: float

    @property
    def samples(self) -> int:
        return int(self.outputs.shape[-1])


def library_digest(library_text: str) -> str:
    return hashlib.sha256(library_text.encode("utf-8")).hexdigest()


def cache_dir(outdir: Path) -> Path:
    """``<parent>/.<name>.kernels`` for the deck directory ``<parent>/<name>``."""
    outdir = Path(outdir).resolve()
    return outdir.parent / f".{outdir.name}.kernels"


def load(outdir: Path, key: KernelKey) -> Kernel | None:
    """The cached kernel of ``key``, or None (absent or unreadable)."""
    path = cache_dir(outdir) / f"{key.digest()}.npz"
    try:
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if (meta.get("key") != json.loads(json.dumps(asdict(key))) or meta.get("format") != FORMAT
                    or meta.get("testbench") != TESTBENCH_SETTINGS):
                return None
            return Kernel(data["outputs"], data["opamps"], data["grid_s"], int(meta["regular_from"]),
                          int(meta["prefix"]), key.substeps, key.sample_period_s)
    except Exception:  # noqa: BLE001  (any unreadable file, e.g. a truncated zip, is no kernel)
        return None


def store(outdir: Path, key: KernelKey, kernel: Kernel) -> bool:
    """Write ``kernel`` under ``key`` and remove kernels of other libraries; False when the
    directory cannot be written (the cache is then skipped)."""
    folder = cache_dir(outdir)
    meta = {"format": FORMAT, "testbench": TESTBENCH_SETTINGS, "key": asdict(key),
            "regular_from": kernel.regular_from, "prefix": kernel.prefix}
    tmp = None
    try:
        folder.mkdir(exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key.digest()}.", suffix=".part")
        with os.fdopen(handle, "wb") as out:  # a name of its own: concurrent writers never share a file
            np.savez(out, outputs=kernel.outputs, opamps=kernel.opamps, grid_s=kernel.grid_s, meta=json.dumps(meta))
        os.replace(tmp, folder / f"{key.digest()}.npz")
        tmp = None
        for old in folder.glob("*.npz"):
            if old.name != f"{key.digest()}.npz" and _library_of(old) not in (None, key.library_sha256):
                old.unlink(missing_ok=True)
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _library_of(path: Path) -> str | None:
    try:
        with np.load(path) as data:
            return json.loads(str(data["meta"]))["key"]["library_sha256"]
    except Exception:  # noqa: BLE001  (unreadable: not ours to judge, left alone)
        return None
