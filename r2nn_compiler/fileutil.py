"""Atomic file output: every file is written in full and synced beside its target, then renamed
over it, so readers see the old file (or directory) or the new one, never a half-written one."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import CompileError


def _write_synced(path: Path, data: bytes, fd: int | None = None) -> None:
    """Write ``data`` to ``path`` (or to the open descriptor ``fd`` of it) and fsync it."""
    with (os.fdopen(fd, "wb") if fd is not None else open(path, "wb")) as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        _write_synced(Path(tmp), data, fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """:func:`write_bytes_atomic` of ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_directory_atomic(outdir: str | Path, files: dict[str, bytes]) -> None:
    """Replace ``outdir`` with a directory holding exactly ``files`` (name → content): all are
    written into a staging directory beside it, then one rename puts it in place, so an
    interrupted write (killed process, full disk) leaves the previous directory intact.

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
            _write_synced(staging / name, data)
        _replace_directory(staging, outdir, parent)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise CompileError(f"cannot write the output directory: {exc.strerror}", str(outdir)) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _replace_directory(staging: Path, outdir: Path, parent: Path) -> None:
    """Move ``staging`` to ``outdir``, the previous ``outdir`` (if any) aside first and then removed."""
    old = None
    if outdir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=".old", dir=parent))
        os.replace(outdir, old / "previous")
    os.replace(staging, outdir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
