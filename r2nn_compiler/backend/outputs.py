"""Writing a compile's files: all into a temporary directory, then one rename into place.

An interrupted compile (killed process, full disk) leaves the previous output directory intact:
the new one only replaces it once every file is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import CompileError


def write_directory_atomic(outdir: str | Path, files: dict[str, bytes]) -> None:
    """Replace ``outdir`` with a directory holding exactly ``files`` (name → content).

    Raises CompileError when ``outdir`` exists and is not a directory, or cannot be written.
    """
    outdir = Path(outdir)
    parent = outdir.resolve().parent
    if outdir.exists() and not outdir.is_dir():
        raise CompileError(f"output {outdir} exists and is not a directory", str(outdir))
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise CompileError(f"cannot create the output directory: {exc.strerror}", str(outdir)) from None
    try:
        for name, data in files.items():
            path = staging / name
            with open(path, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        old = None
        if outdir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".old", dir=parent))
            os.replace(outdir, old / "previous")
        os.replace(staging, outdir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise CompileError(f"cannot write the output directory: {exc.strerror}", str(outdir)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
