"""Running ngspice and reading what it writes; knows nothing about neural-network models.

- :func:`read_raw` / :class:`RawPlot`: SPICE3 raw files (binary or ascii, several plots).
- :func:`classify_log` / :class:`LogReport`: errors and warnings in ngspice's output.
- :class:`NgspiceBatch`: the ngspice executable, one process per deck.
- :class:`NgspiceShared`: libngspice in this process (through PySpice).

Both runners return a :class:`SimResult` with the same plots for the same deck.
"""

from r2nn_compiler.sim.batch import NgspiceBatch, SimResult
from r2nn_compiler.sim.messages import LogReport, classify_log
from r2nn_compiler.sim.rawfile import RawPlot, read_raw
from r2nn_compiler.sim.shared import NgspiceShared

__all__ = [
    "LogReport",
    "NgspiceBatch",
    "NgspiceShared",
    "RawPlot",
    "SimResult",
    "classify_log",
    "read_raw",
]
