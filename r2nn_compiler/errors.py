"""One error hierarchy for everything a user can get wrong or a simulator can break.

Every error carries *where* (``file:line:col``, ``file``, or a parameter name) and *what*
was expected or is wrong; ``str(err)`` is the single line the CLI prints. Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in a user file (1-based line and column) or a named parameter."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    parameter: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file)
            if self.line is not None:
                parts.append(str(self.line))
                if self.column is not None:
                    parts.append(str(self.column))
        where = ":".join(parts)
        if self.parameter is not None:
            where = f"{where}: {self.parameter}" if where else self.parameter
        return where

    def with_file(self, file: str | None) -> "Location":
        if file is None or self.file is not None:
            return self
        return Location(file, self.line, self.column, self.parameter)


class R2nnError(Exception):
    """Base of every error r2nn-compiler raises on purpose.

    ``message`` says what is wrong or what was expected; ``where`` says where. The one-line
    form is ``where: message`` (newlines in either are flattened so the line stays one line).
    """

    exit_code = 1

    def __init__(self, message: str, where: Location | str | None = None):
        if isinstance(where, str):
            where = Location(file=where)
        self.message = message
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = f"{self.where}: {self.message}" if self.where and str(self.where) else self.message
        return " ".join(text.split())

    def located(self, file: str | None) -> "R2nnError":
        """Return this error with ``file`` filled in when it had no file yet."""
        if file is None:
            return self
        where = self.where.with_file(file) if self.where else Location(file=file)
        clone = type(self).__new__(type(self))
        R2nnError.__init__(clone, self.message, where)
        return clone

    def __str__(self) -> str:
        return self.one_line()


class ModelSyntaxError(R2nnError):
    """The model text does not follow the grammar."""


class ModelError(R2nnError):
    """The model is well-formed but means something invalid (unknown name, m <= 0, unstable...)."""


class SignalError(R2nnError):
    """A signal file cannot be read or does not fit the model."""


class CompileError(R2nnError):
    """The model cannot be lowered to a circuit under the requested options."""


class CircuitError(R2nnError):
    """A circuit graph is inconsistent (dangling net, duplicate designator, singular MNA...)."""


class SimulationError(R2nnError):
    """The simulator is missing, failed, timed out, or produced unreadable output."""


class VerificationError(R2nnError):
    """A verification run could not be carried out (not: a figure out of tolerance)."""


class UsageError(R2nnError):
    """The command was called wrongly (exit code 2)."""

    exit_code = 2
