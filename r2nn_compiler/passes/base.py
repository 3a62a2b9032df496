"""The pass framework: a registry, flows as plain lists of pass names, and the compile log.

A pass is a small class with a ``name``, a docstring stating its preconditions and when it is
safe, ``match(ctx)`` (does it apply here?) and ``transform(ctx)`` returning a
:class:`PassResult` whose ``changed`` says whether the circuit graph changed. Passes mutate only
``ctx.graph`` (and the port gains kept beside it); they never parse text or run simulators.
The driver applies the flow in order and records every applied pass in ``ctx.log``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..circuit import CircuitGraph
from ..errors import CompileError
from ..model import Model


@dataclass
class CompileOptions:
    """Knobs the passes read. ``exact``: ideal elements, no scaling or quantisation."""

    exact: bool = False
    check_freqs: int = 200
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PortMap:
    """Where a model quantity appears on the circuit, and with what gain.

    Inputs: the model input ``name`` is applied as a voltage ``volts_per_unit · u`` on ``net``.
    Outputs: ``net`` carries ``volts_per_unit_velocity · v_node``.
    """

    name: str
    net: str
    gain: float = 1.0
    node: str | None = None


@dataclass
class CompileContext:
    """Everything a pass may read (model, options) or change (graph, port maps, time scale)."""

    model: Model
    options: CompileOptions
    graph: CircuitGraph | None = None
    inputs: list[PortMap] = field(default_factory=list)
    outputs: list[PortMap] = field(default_factory=list)
    time_scale: float = 1.0
    sense: str = "node voltage"
    log: list["LogEntry"] = field(default_factory=list)

    def require_graph(self, pass_name: str) -> CircuitGraph:
        if self.graph is None:
            raise CompileError(f"pass {pass_name!r} needs a circuit graph: put a mapping pass before it in the flow")
        return self.graph


@dataclass
class PassResult:
    changed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogEntry:
    name: str
    changed: bool
    summary: str
    details: dict[str, Any]
    seconds: float


class Pass:
    """Base class. Subclasses set ``name`` and implement ``match`` and ``transform``."""

    name: ClassVar[str] = ""

    def match(self, ctx: CompileContext) -> bool:
        return True

    def transform(self, ctx: CompileContext) -> PassResult:  # pragma: no cover - abstract
        raise NotImplementedError


REGISTRY: dict[str, type[Pass]] = {}


def register(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make a pass available to flows under ``cls.name``."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"pass name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def run_flow(ctx: CompileContext, flow: list[str]) -> CompileContext:
    """Apply each named pass whose ``match`` holds, in order, logging what it did.

    Raises CompileError for an unknown pass name (listing the known ones) and lets the passes'
    own CompileErrors through.
    """
    unknown = [n for n in flow if n not in REGISTRY]
    if unknown:
        raise CompileError(f"unknown pass {unknown[0]!r}; known passes: {', '.join(sorted(REGISTRY))}")
    for name in flow:
        p = REGISTRY[name]()
        if not p.match(ctx):
            continue
        start = time.perf_counter()
        result = p.transform(ctx)
        ctx.log.append(LogEntry(name, result.changed, result.summary, result.details, time.perf_counter() - start))
    return ctx
