"""Reader for SPICE3/ngspice raw files (binary and ascii, one or several plots per file).

A raw file is a sequence of plots. Each plot is a text header (``Title:``, ``Date:``,
``Plotname:``, ``Flags:``, ``No. Variables:``, ``No. Points:``, ``Variables:`` and a table
of ``index name type [attr=...]`` lines) followed by either ``Binary:`` and little-endian
float64 values, or ``Values:`` and text values. Values are stored point by point: for each
point, one value per variable (two float64, real then imaginary, in complex plots).

In an *unpadded* plot (flag ``unpadded``) a variable shorter than ``No. Points`` (its
length given by a ``dims=`` attribute) simply stops contributing values after its last
point; in a padded plot (the default) it is padded with zeros, which are dropped here.

This module knows the file format only, nothing about simulators or circuits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from r2nn_compiler.errors import SimulationError

# A header line is "Key: value"; the keys are matched case-insensitively.
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z. ]*?):\s*(.*)$")
# A plot's header starts with one of these keys (ngspice always writes Title: first).
_PLOT_START = re.compile(rb"(?i)(title|plotname):")
# In the ascii data section, the next plot's header is the first line starting with a letter;
# value lines start with a digit, a sign, or white space.
_NEXT_HEADER = re.compile(rb"\n(?=[A-Za-z])")
_LITTLE_F8 = np.dtype("<f8")


@dataclass
class RawPlot:
    """One plot (one analysis) of a raw file.

    ``variables`` lists ``(name, type)`` in file order, the scale (``time``, ``frequency``...)
    first. ``data`` maps each lower-cased name to its values: float64 in a real plot,
    complex128 in a complex plot (the scale included, as the file stores it).
    """

    title: str
    date: str
    plotname: str
    flags: set[str]
    variables: list[tuple[str, str]]
    data: dict[str, np.ndarray] = field(repr=False)

    @property
    def is_complex(self) -> bool:
        return "complex" in self.flags

    def get(self, name: str) -> np.ndarray:
        """Return the vector called ``name`` (case-insensitive, e.g. ``"V(out)"``).

        Raises SimulationError naming the missing vector and listing the available ones.
        """
        try:
            return self.data[name.lower()]
        except KeyError:
            available = ", ".join(n for n, _ in self.variables) or "none"
            raise SimulationError(
                f"no vector '{name}' in plot '{self.plotname}'; available: {available}"
            ) from None


@dataclass
class _Header:
    title: str = ""
    date: str = ""
    plotname: str = ""
    flags: set[str] = field(default_factory=set)
    n_variables: int | None = None
    n_points: int | None = None
    variables: list[tuple[str, str]] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)  # per variable, from dims= or n_points
    binary: bool = True


def read_raw(path: str | Path) -> list[RawPlot]:
    """Read every plot of the raw file at ``path``, in file order.

    Raises SimulationError when the file cannot be read, is empty, has a malformed header,
    is truncated (fewer points than ``No. Points``), or has data left over after a plot
    (what an interrupted ngspice run leaves: it writes ``No. Points: 0`` until it finishes).
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise SimulationError(f"cannot read raw file: {exc.strerror}", str(path)) from None
    plots: list[RawPlot] = []
    pos = _skip_space(blob, 0)
    if pos == len(blob):
        raise SimulationError("raw file is empty: the simulation wrote no data", str(path))
    while pos < len(blob):
        if not _PLOT_START.match(blob, pos):
            if not plots:
                raise SimulationError(
                    "not a raw file: it does not start with 'Title:' or 'Plotname:'", str(path)
                )
            raise SimulationError(
                f"raw file has {len(blob) - pos} unexpected bytes after plot "
                f"'{plots[-1].plotname}'; the simulation was probably interrupted: rerun it",
                str(path),
            )
        header, pos = _read_header(blob, pos, path, len(plots) + 1)
        reader = _read_binary if header.binary else _read_ascii
        data, pos = reader(blob, pos, header, path)
        plots.append(
            RawPlot(header.title, header.date, header.plotname, header.flags,
                    header.variables, data)
        )
        pos = _skip_space(blob, pos)
    return plots


def _skip_space(blob: bytes, pos: int) -> int:
    while pos < len(blob) and blob[pos] in b" \t\r\n\0":
        pos += 1
    return pos


def _next_line(blob: bytes, pos: int) -> tuple[str | None, int]:
    """Return the line starting at ``pos`` (without its newline) and where the next starts."""
    if pos >= len(blob):
        return None, pos
    end = blob.find(b"\n", pos)
    end = len(blob) if end < 0 else end
    return blob[pos:end].rstrip(b"\r").decode("utf-8", "replace"), end + 1


def _read_header(blob: bytes, pos: int, path: Path, number: int) -> tuple[_Header, int]:
    """Parse one plot header up to and including its ``Binary:``/``Values:`` line."""
    header = _Header()
    where = str(path)

    def bad(what: str) -> SimulationError:
        return SimulationError(f"raw file plot {number} header {what}", where)

    while True:
        line, pos = _next_line(blob, pos)
        if line is None:
            raise bad("ends before its 'Binary:' or 'Values:' line (file is truncated)")
        if not line.strip():
            continue
        match = _HEADER_LINE.match(line)
        if not match:
            raise bad(f"has a line that is not 'Key: value': {line[:60]!r}")
        key = match.group(1).strip().lower()
        value = match.group(2).strip()
        if key == "title":
            header.title = value
        elif key == "date":
            header.date = value
        elif key == "plotname":
            header.plotname = value
        elif key == "flags":
            header.flags = {flag.lower() for flag in value.split()}
        elif key == "no. variables":
            header.n_variables = _count(value, "No. Variables", bad)
        elif key == "no. points":
            header.n_points = _count(value, "No. Points", bad)
        elif key == "variables":
            pos = _read_variables(blob, pos, value, header, bad)
        elif key in ("binary", "values"):
            header.binary = key == "binary"
            break
        # Other keys (Command:, Option:, Dimensions:, Offset: ...) do not change the layout.
    if header.n_points is None or header.n_variables is None or not header.variables:
        raise bad("lacks 'No. Points:', 'No. Variables:' or 'Variables:' before its data")
    return header, pos


def _count(value: str, key: str, bad) -> int:
    try:
        count = int(value.split()[0])
    except (ValueError, IndexError):
        raise bad(f"has a non-integer '{key}: {value}'") from None
    if count < 0:
        raise bad(f"has a negative '{key}: {value}'")
    return count


def _read_variables(blob: bytes, pos: int, first: str, header: _Header, bad) -> int:
    """Read the ``No. Variables`` variable lines; ``first`` is text after ``Variables:``."""
    if header.n_variables is None or header.n_points is None:
        raise bad("has 'Variables:' before 'No. Variables:' and 'No. Points:'")
    lines = [first] if first else []
    while len(lines) < header.n_variables:
        line, pos = _next_line(blob, pos)
        if line is None:
            raise bad("ends inside its variable list (file is truncated)")
        if line.strip():
            lines.append(line)
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            raise bad(f"has a malformed variable line: {line.strip()!r}")
        name, kind, attrs = fields[1], fields[2], fields[3:]
        length = header.n_points
        for attr in attrs:
            if attr.lower().startswith("dims="):
                try:
                    length = math.prod(int(d) for d in attr[5:].split(","))
                except ValueError:
                    raise bad(f"has a malformed '{attr}' for variable {name}") from None
        header.variables.append((name, kind))
        header.lengths.append(min(length, header.n_points))
    names = [name.lower() for name, _ in header.variables]
    if len(set(names)) != len(names):
        raise bad("names the same variable twice")
    return pos


def _presence(header: _Header) -> np.ndarray:
    """Boolean (points, variables) table of which values the file stores, in file order."""
    lengths = np.asarray(header.lengths)
    if "unpadded" in header.flags:
        return np.arange(header.n_points)[:, None] < lengths[None, :]
    return np.ones((header.n_points, len(lengths)), dtype=bool)


def _vectors(table: np.ndarray, header: _Header) -> dict[str, np.ndarray]:
    """Split a (points, variables) table into vectors, dropping any padding."""
    return {
        name.lower(): table[:length, k].copy()
        for k, ((name, _), length) in enumerate(zip(header.variables, header.lengths))
    }


def _truncated(header: _Header, per_point: np.ndarray, found: int, path: Path):
    """Error for a data section holding ``found`` values where ``per_point`` are needed."""
    complete = int(np.searchsorted(np.cumsum(per_point), found, side="right"))
    return SimulationError(
        f"raw file is truncated: plot '{header.plotname}' expected {header.n_points} points, "
        f"found {complete}; rerun the simulation",
        str(path),
    )


def _read_binary(blob: bytes, pos: int, header: _Header, path: Path):
    present = _presence(header)
    width = 2 if "complex" in header.flags else 1  # float64 values per stored value
    per_point = present.sum(axis=1) * width
    needed = int(per_point.sum())
    available = (len(blob) - pos) // _LITTLE_F8.itemsize
    if available < needed:
        raise _truncated(header, per_point, available, path)
    flat = np.frombuffer(blob, dtype=_LITTLE_F8, count=needed, offset=pos).astype(np.float64)
    if width == 2:
        flat = flat[0::2] + 1j * flat[1::2]
    table = np.zeros(present.shape, dtype=flat.dtype)
    table[present] = flat  # boolean assignment fills row by row, i.e. in file order
    return _vectors(table, header), pos + needed * _LITTLE_F8.itemsize


def _read_ascii(blob: bytes, pos: int, header: _Header, path: Path):
    end = _NEXT_HEADER.search(blob, max(pos - 1, 0))  # from the newline ending "Values:"
    end = len(blob) if end is None else end.start() + 1
    section = blob[pos:end]
    complex_plot = "complex" in header.flags
    if complex_plot:
        section = section.replace(b",", b" ")  # "re,im" -> two tokens
    tokens = section.split()
    present = _presence(header)
    width = 2 if complex_plot else 1
    # Each point is stored as its index followed by its values.
    layout = np.concatenate(
        [np.ones((header.n_points, 1), dtype=bool), np.repeat(present, width, axis=1)], axis=1
    )
    per_point = layout.sum(axis=1)
    if len(tokens) < int(per_point.sum()):
        raise _truncated(header, per_point, len(tokens), path)
    if len(tokens) > int(per_point.sum()):
        raise SimulationError(
            f"raw file plot '{header.plotname}' has {len(tokens) - int(per_point.sum())} more "
            f"values than its {header.n_points} points hold; the simulation was probably "
            "interrupted: rerun it",
            str(path),
        )
    try:
        values = np.array(tokens).astype(np.float64) if tokens else np.zeros(0)
    except ValueError:
        raise SimulationError(
            f"raw file plot '{header.plotname}' has a value that is not a number", str(path)
        ) from None
    table = np.zeros(layout.shape)
    table[layout] = values
    if not np.array_equal(table[:, 0], np.arange(header.n_points)):
        raise SimulationError(
            f"raw file plot '{header.plotname}' has out-of-sequence point indices; the file is "
            "corrupt",
            str(path),
        )
    data = table[:, 1:]
    if complex_plot:
        data = data[:, 0::2] + 1j * data[:, 1::2]
    return _vectors(data, header), end
