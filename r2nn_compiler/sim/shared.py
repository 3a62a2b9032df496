"""Run decks in-process with libngspice, through PySpice's ``NgSpiceShared``.

libngspice is one global simulator per process, and PySpice hands out one instance per id,
so this module keeps a single engine for the whole process and serialises runs with a lock.
Each run loads the deck (``load_circuit``), runs its analyses (``run``), reads every plot
and then destroys the plots and removes the circuit, so runs do not see each other.

Results match :class:`~r2nn_compiler.sim.batch.NgspiceBatch`: vectors are renamed the way
ngspice's raw files name them (node ``out`` -> ``v(out)``, branch ``v1#branch`` -> ``i(v1)``)
and plots are listed in the order ngspice ran them.

After a *fatal* ngspice error (e.g. an undefined ``{parameter}``) libngspice asks to be
unloaded and cannot run again in this process (reloading it crashes); every later run then
raises SimulationError pointing to a process restart or to the batch runner.

There is no timeout: the analysis runs in the calling thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from r2nn_compiler.errors import SimulationError
from r2nn_compiler.sim.batch import SimResult, reject_control_block
from r2nn_compiler.sim.messages import classify_log
from r2nn_compiler.sim.rawfile import RawPlot

_LIBRARY_HINT = "install it with `apt-get install -y libngspice0 libngspice0-dev`"
_PYSPICE_LOGGER = "PySpice.Spice.NgSpice.Shared"
_ERRORS_QUOTED = 2

_lock = threading.Lock()  # libngspice is not re-entrant
_engine = None  # the process's PySpice NgSpiceShared subclass instance, made on first use
_broken: str | None = None  # why libngspice cannot run again in this process, once it cannot


class NgspiceShared:
    """The in-process ngspice library. Instances are cheap; they all share one engine."""

    def version(self) -> str:
        """Return libngspice's version, e.g. ``"39"``; raises SimulationError if unavailable."""
        with _lock, _quiet_pyspice():
            return str(_get_engine().ngspice_version)

    def run(self, deck: str | os.PathLike, workdir: str | os.PathLike | None = None
            ) -> SimResult:
        """Simulate ``deck`` and return every plot it produced.

        ``deck`` is a path (an ``os.PathLike``, or a ``str`` without newlines) or the deck
        text itself. The run happens with ``workdir`` as the current directory (default: the
        deck's directory, or the current one for text) so relative ``.include`` and
        ``filesource`` paths resolve; the previous directory is restored afterwards.
        Raises SimulationError when PySpice or libngspice is missing, the deck is missing or
        has a ``.control`` block, ngspice reports an error, or it produces no plot.
        """
        text, where, folder = _deck_text(deck, workdir)
        reject_control_block(text, where)
        with _lock, _quiet_pyspice():
            engine = _get_engine()
            if _broken is not None:
                raise SimulationError(
                    "libngspice cannot run more decks in this process after an earlier fatal "
                    f"error ({_broken}): restart the process or use NgspiceBatch"
                )
            with _working_directory(folder):
                start = time.perf_counter()
                try:
                    log, plots = _simulate(engine, text, where)
                finally:
                    _clear(engine)
                elapsed = time.perf_counter() - start
        return SimResult(plots, log, classify_log(log).warnings, elapsed)


def _deck_text(deck: str | os.PathLike, workdir) -> tuple[str, str, Path]:
    """Return (deck text, name for messages, working directory)."""
    if isinstance(deck, os.PathLike) or "\n" not in deck:
        path = Path(deck).resolve()
        if not path.is_file():
            raise SimulationError("deck file not found", str(path))
        text, where, default = path.read_text(errors="replace"), str(path), path.parent
    else:
        text, where, default = deck, "<deck text>", Path.cwd()
    folder = Path(workdir).resolve() if workdir is not None else default
    if not folder.is_dir():
        raise SimulationError(f"working directory {folder} does not exist", where)
    return text, where, folder


def _simulate(engine, text: str, where: str) -> tuple[str, list[RawPlot]]:
    """Load and run ``text``; return (log, plots). Raises SimulationError on any error."""
    engine.lines.clear()
    engine.exit_status = None
    for step in (lambda: engine.load_circuit(_circuit_text(text)), engine.run):
        failure = _attempt(step)
        log = "\n".join(engine.lines)
        _check(engine, log, failure, where)
    plots = [_read_plot(engine, name) for name in reversed(engine.plot_names) if name != "const"]
    if not plots:
        raise SimulationError(
            "ngspice produced no results: check that the deck has an analysis card "
            "(.tran, .ac, .op)",
            where,
        )
    return log, plots


def _attempt(step) -> str | None:
    """Run one PySpice call; return its failure message when libngspice itself failed.

    PySpice also raises when ngspice's output merely contains "error" (a title like "error
    amplifier") or anything on stderr (gmin-stepping notes); those guesses are ignored and
    the caller judges the captured log instead. A non-zero return code from libngspice
    comes as a plain NameError and is kept.
    """
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

    try:
        step()
    except (NgSpiceCircuitError, NgSpiceCommandError):
        return None
    except NameError as exc:
        return str(exc)
    return None


def _check(engine, log: str, failure: str | None, where: str) -> None:
    """Raise SimulationError if the log so far has errors, ``failure`` is set, or ngspice
    asked to exit (then also mark the library unusable for the rest of the process)."""
    global _broken
    errors = classify_log(log).errors
    detail = "; ".join(errors[:_ERRORS_QUOTED]) or failure
    if engine.exit_status is not None:
        _broken = detail or f"exit status {engine.exit_status}"
        raise SimulationError(
            f"libngspice hit a fatal error: {_broken}; it cannot run again in this process "
            "(an ngspice limitation): fix the deck, then restart the process or use "
            "NgspiceBatch",
            where,
        )
    if detail:
        raise SimulationError(f"ngspice failed: {detail}", where)


def _circuit_text(text: str) -> str:
    # PySpice and libngspice drop blank lines, which would make the first element of a deck
    # with an empty title line its title; so that line becomes a "*" title.
    lines = text.splitlines()
    if lines and not lines[0].strip():
        lines[0] = "*"
    return "\n".join(lines)


def _read_plot(engine, name: str) -> RawPlot:
    """Build a RawPlot from the library plot ``name`` (e.g. ``tran1``)."""
    _command(engine, f"setplot {name}")
    plotname, title, date = (
        _command(engine, f"echo ${var}") for var in ("curplotname", "curplottitle", "curplotdate")
    )
    # The library lists vectors newest first; reversed, that is raw-file order, scale first.
    # Vector._data/_type are PySpice 1.5 internals: its public accessors attach units.
    vectors = list(engine.plot(None, name).items())[::-1]
    is_complex = any(np.iscomplexobj(vector._data) for _, vector in vectors)
    dtype = np.complex128 if is_complex else np.float64
    variables: list[tuple[str, str]] = []
    data: dict[str, np.ndarray] = {}
    for vector_name, vector in vectors:
        kind = str(vector._type)
        raw_name = _raw_file_name(vector_name, kind)
        variables.append((raw_name, kind))
        data[raw_name.lower()] = np.array(vector._data, dtype=dtype)
    flags = {"complex" if is_complex else "real"}
    return RawPlot(title, date, plotname, flags, variables, data)


def _command(engine, command: str) -> str:
    """Run an ngspice command and return what it printed, whatever the text says."""
    start = len(engine.lines)
    failure = _attempt(lambda: engine.exec_command(command))
    if failure:
        raise SimulationError(f"libngspice failed on '{command}': {failure}")
    return "\n".join(engine.lines[start:]).strip()


def _raw_file_name(name: str, kind: str) -> str:
    """Name a library vector the way ngspice's raw-file writer does."""
    if kind == "voltage" and "(" not in name:
        return f"v({name})"
    if kind == "current" and "#branch" in name:
        return f"i({name.split('#')[0]})"
    return name


def _clear(engine) -> None:
    """Drop this run's plots and circuit so that the next run starts clean."""
    for command in ("destroy all", "remcirc"):
        _attempt(lambda: engine.exec_command(command))  # failing on no circuit is fine here
    engine.lines.clear()


def _get_engine():
    """Return the process's engine, starting libngspice on first use."""
    global _engine
    if _engine is None:
        _engine = _start_engine()
    return _engine


def _start_engine():
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as exc:
        raise SimulationError(
            f"PySpice is not available ({exc}): install it with `pip install PySpice==1.5`"
        ) from None

    class Engine(NgSpiceShared):
        """Keeps ngspice's output in order and notices when ngspice asks to exit."""

        def __init__(self, **kwargs):
            self.lines: list[str] = []  # filled during PySpice's own initialisation already
            self.exit_status: int | None = None
            super().__init__(**kwargs)

        def send_char(self, message, ngspice_id):
            prefix, _, content = message.partition(" ")
            line = content if prefix in ("stdout", "stderr") else message
            self.lines.append(line.rstrip("\r\n"))  # progress messages end in "\r"
            return 0

        @staticmethod
        def _exit(exit_status, immediate_unloading, quit_exit, ngspice_id, user_data):
            ffi.from_handle(user_data).exit_status = exit_status
            return exit_status

    # libngspice runs ./.spiceinit at start-up (it ignored ~/.spiceinit in tests with
    # ngspice 39); start it in an empty directory so no stray file changes its options.
    with tempfile.TemporaryDirectory(prefix="r2nn-ngspice-") as empty, \
            _working_directory(Path(empty)):
        try:
            engine = Engine.new_instance()
        except OSError as exc:
            raise SimulationError(f"libngspice cannot be loaded ({exc}): {_LIBRARY_HINT}") \
                from None
        except NameError as exc:
            raise SimulationError(f"libngspice failed to start ({exc}): {_LIBRARY_HINT}") \
                from None
    if not isinstance(engine, Engine):
        raise SimulationError(
            "libngspice is already driven by other PySpice code in this process; "
            "NgspiceShared needs it to itself: use NgspiceBatch instead"
        )
    return engine


@contextlib.contextmanager
def _quiet_pyspice():
    """Silence PySpice's logging (its 'Unsupported Ngspice version' notice, and every
    ngspice stderr line logged as an error): the output is captured and classified here."""
    logger = logging.getLogger(_PYSPICE_LOGGER)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _working_directory(folder: Path):
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)
