"""Run the ngspice executable in batch mode on a deck and read back its raw file.

The command line is always ``ngspice -b -r <raw> -o <log> <deck>`` and nothing else, run in
the deck's directory so that relative ``.include`` and XSPICE ``filesource`` paths resolve.
The raw and log files live in a private temporary directory that is removed on every path
out, timeouts and interrupts included.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from r2nn_compiler.errors import Location, SimulationError
from r2nn_compiler.sim.messages import classify_log
from r2nn_compiler.sim.rawfile import RawPlot, read_raw

INSTALL_HINT = "install it with `apt-get install -y ngspice libngspice0 libngspice0-dev`"
_CONTROL_LINE = re.compile(r"^[ \t]*\.control\b", re.IGNORECASE | re.MULTILINE)
_VERSION = re.compile(r"ngspice-(\S+)")
# Errors quoted in a SimulationError; the rest are in SimResult.log.
_ERRORS_QUOTED = 2


@dataclass
class SimResult:
    """What one simulation produced.

    ``plots`` are in the order ngspice ran the analyses (its own fixed order, e.g. ``.ac``
    before ``.tran``, not deck order). ``log`` is ngspice's console output, ``warnings`` the
    warning lines found in it, ``elapsed_s`` the wall-clock time of the run in seconds.
    """

    plots: list[RawPlot]
    log: str
    warnings: list[str]
    elapsed_s: float

    def plot(self, name: str) -> RawPlot:
        """Return the plot whose plotname is ``name`` or starts with it, case-insensitively.

        ``"tran"`` finds "Transient Analysis", ``"ac"`` finds "AC Analysis". Raises
        SimulationError when no plot, or more than one, matches.
        """
        wanted = name.lower()
        exact = [p for p in self.plots if p.plotname.lower() == wanted]
        found = exact or [p for p in self.plots if p.plotname.lower().startswith(wanted)]
        if len(found) != 1:
            available = ", ".join(repr(p.plotname) for p in self.plots) or "none"
            how_many = "no" if not found else "more than one"
            raise SimulationError(f"{how_many} plot matches '{name}'; plots: {available}")
        return found[0]


def reject_control_block(text: str, where: str) -> None:
    """Raise SimulationError when deck ``text`` has a ``.control`` block.

    The runners run the deck's own analyses and collect every plot; a control block would
    run, write or quit on its own terms and leave them nothing reliable to read.
    """
    match = _CONTROL_LINE.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise SimulationError(
            "deck has a .control block, which the simulation runners do not accept: remove "
            "the .control ... .endc lines and keep the analyses as .tran/.ac cards",
            Location(file=where, line=line),
        )


def _real_scale(plot: RawPlot) -> RawPlot:
    """Zero the imaginary part of a complex plot's scale (its first vector), in place.

    The scale (frequency) is real, but ngspice 39 writes uninitialised memory as its
    imaginary part in complex raw files (seen: -1.1e273 in binary files).
    """
    if plot.is_complex and plot.variables:
        name = plot.variables[0][0].lower()
        plot.data[name] = plot.data[name].real.astype(np.complex128)
    return plot


class NgspiceBatch:
    """The ngspice executable in batch mode: one process per run.

    ``executable`` is a name looked up on PATH or a path; ``timeout_s`` bounds each run in
    seconds, after which the whole process group is killed.
    """

    SWITCHES = ("-b", "-r", "-o")  # the only command-line switches this class ever passes

    def __init__(self, executable: str = "ngspice", timeout_s: float = 600):
        self.executable = executable
        self.timeout_s = timeout_s

    def version(self) -> str:
        """Return ngspice's version as printed in its banner, e.g. ``"39"``.

        Raises SimulationError when ngspice is missing or prints no recognisable banner.
        """
        with tempfile.TemporaryDirectory(prefix="r2nn-ngspice-") as tmp:
            deck = Path(tmp, "version.cir")
            deck.write_text("version probe\n.end\n")
            log = Path(tmp, "version.log")
            # The banner goes to stdout whenever -o is given; no analysis runs.
            out, _, _ = self._execute(["-b", "-o", str(log), str(deck)], Path(tmp), deck, tmp)
            text = out + (log.read_text(errors="replace") if log.exists() else "")
        match = _VERSION.search(text)
        if not match:
            raise SimulationError(
                f"{self.executable} printed no 'ngspice-<version>' banner: check that it is "
                "ngspice"
            )
        return match.group(1)

    def run(self, deck_path: str | os.PathLike, workdir: str | os.PathLike | None = None
            ) -> SimResult:
        """Simulate the deck file at ``deck_path`` and return every plot it produced.

        ngspice runs with ``workdir`` (default: the deck's directory) as its current
        directory. Raises SimulationError when the deck is missing or has a ``.control``
        block, ngspice is missing, times out, is killed by a signal, exits non-zero, logs an
        error, or writes no readable raw file.
        """
        deck = Path(deck_path).resolve()
        if not deck.is_file():
            raise SimulationError("deck file not found", str(deck))
        reject_control_block(deck.read_text(errors="replace"), str(deck))
        cwd = Path(workdir).resolve() if workdir is not None else deck.parent
        if not cwd.is_dir():
            raise SimulationError(f"working directory {cwd} does not exist", str(deck))
        with tempfile.TemporaryDirectory(prefix="r2nn-ngspice-") as tmp:
            raw, log = Path(tmp, "out.raw"), Path(tmp, "out.log")
            start = time.perf_counter()
            out, err, status = self._execute(
                ["-b", "-r", str(raw), "-o", str(log), str(deck)], cwd, deck, tmp
            )
            elapsed = time.perf_counter() - start
            text = out + (log.read_text(errors="replace") if log.exists() else "") + err
            report = classify_log(text)
            if status != 0 or report.errors:
                detail = "; ".join(report.errors[:_ERRORS_QUOTED]) or (
                    f"exit status {status}, last output: {_last_line(text)}"
                )
                raise SimulationError(f"ngspice failed: {detail}", str(deck))
            if not raw.is_file() or raw.stat().st_size == 0:
                raise SimulationError(
                    "ngspice wrote no results: check that the deck has an analysis card "
                    "(.tran, .ac, .op)",
                    str(deck),
                )
            try:
                plots = [_real_scale(p) for p in read_raw(raw)]
            except SimulationError as exc:
                message = f"reading ngspice's output: {exc.message}"
                raise SimulationError(message, str(deck)) from None
        warnings = list(report.warnings)
        if (cwd / ".spiceinit").exists():
            warnings.append(f"{cwd / '.spiceinit'} exists and ngspice ran it before the deck")
        return SimResult(plots, text, warnings, elapsed)

    def run_text(self, deck_text: str, workdir: str | os.PathLike) -> SimResult:
        """Simulate ``deck_text`` as if it were a deck file in ``workdir``.

        The text is written to a temporary file inside ``workdir`` (so relative paths in it
        resolve from there) that is removed afterwards. Raises as :meth:`run` does.
        """
        folder = Path(workdir)
        if not folder.is_dir():
            raise SimulationError(f"working directory {folder} does not exist")
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, prefix=".r2nn-deck-", suffix=".cir", delete=False
        ) as handle:
            handle.write(deck_text)
        try:
            return self.run(handle.name, folder)
        finally:
            os.unlink(handle.name)

    def _execute(self, args: list[str], cwd: Path, deck: Path, home: str
                 ) -> tuple[str, str, int]:
        """Run ngspice with ``args`` in ``cwd``, HOME set to the empty directory ``home``.

        Returns (stdout, stderr, exit status).
        Raises SimulationError when ngspice is missing, times out or is killed by a signal.
        """
        assert all(a in self.SWITCHES for a in args if a.startswith("-")), args
        executable = shutil.which(self.executable)
        if executable is None:
            raise SimulationError(f"{self.executable} not found on PATH: {INSTALL_HINT}")
        env = dict(os.environ)
        env.pop("SPICE_ASCIIRAWFILE", None)  # the reader handles both; binary is exact
        env["HOME"] = home  # keep the user's ~/.spiceinit out of the run
        try:
            proc = subprocess.Popen(
                [executable, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as exc:
            raise SimulationError(f"cannot start {executable}: {exc.strerror}") from None
        try:
            out, err = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise SimulationError(
                f"ngspice timed out after {self.timeout_s:g} s on {deck}: raise timeout_s or "
                "shorten the analysis"
            ) from None
        except BaseException:
            _kill_group(proc)  # e.g. KeyboardInterrupt: leave no ngspice behind
            raise
        if proc.returncode < 0:
            try:
                name = signal.Signals(-proc.returncode).name
            except ValueError:
                name = str(-proc.returncode)
            raise SimulationError(
                f"ngspice was killed by signal {name} while running {deck}: check memory "
                "limits and the deck size, then rerun"
            )
        return out.decode(errors="replace"), err.decode(errors="replace"), proc.returncode


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ngspice and anything it started, then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(none)"
