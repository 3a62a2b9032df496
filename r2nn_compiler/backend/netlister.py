"""Netlister base: a CircuitGraph as SPICE text. Dialects subclass and override what differs.

The netlister writes what the graph holds: it never rounds, renames or invents values. Values go
out in exponent notation with full double precision (SPICE reads ``M`` as milli, so prefixes
are never used). Net names and designators come from the compiler, never from the user, and are
still checked against a strict pattern; free text (titles, origins) passes through
:func:`safe_comment`, so nothing a model file says can become a SPICE line.
"""

from __future__ import annotations

import math
import re

from ..circuit import CircuitGraph, Component, SubcircuitDef
from ..circuit.devices import MODEL_TYPES, DeviceModel
from ..errors import CompileError
from ..units import format_spice

SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}|0")
_COMMENT_UNSAFE = re.compile(r"[^A-Za-z0-9_ .,:;=()<>+\-/]")
COMMENT_LIMIT = 100
#: B-source expressions the compiler builds: node voltages, numbers, + - * /, u(), ln() and max().
_EXPRESSION = re.compile(r"[A-Za-z0-9_.()*+\-/,]{1,4000}")
#: Device model parameter names.
_PARAM = re.compile(r"[a-z]{1,8}")


def spice_number(value: float) -> str:
    """``units.format_spice(value)`` (the shortest exponent notation that reads back as exactly
    ``value``), found in one step: Python's ``repr`` already has the shortest round-trip digits,
    and the correctly rounded exponent form with that many digits is the answer whenever it
    round-trips too (it does except at rare power-of-two boundaries, where format_spice's
    search decides). Several times faster on full-precision values, which a compiled graph is
    full of.

    Raises ValueError for NaN or infinite values, as format_spice does.
    """
    if not math.isfinite(value):
        return format_spice(value)
    mantissa = repr(float(value)).partition("e")[0].lstrip("-").replace(".", "").strip("0")
    text = f"{value:.{max(len(mantissa), 1) - 1}e}"
    return text if float(text) == value else format_spice(value)


def safe_comment(text: str) -> str:
    """Printable ASCII only, one line, length-capped: safe after ``* `` in any SPICE deck."""
    flat = _COMMENT_UNSAFE.sub("_", " ".join(str(text).split()))
    return flat if len(flat) <= COMMENT_LIMIT else flat[: COMMENT_LIMIT - 3] + "..."


def safe_identifier(text: str, fallback: str = "model") -> str:
    """A file/subcircuit name derived from user text: lower-case [a-z0-9_], starts with a letter."""
    name = re.sub(r"[^a-z0-9_]", "_", str(text).lower())[:40].strip("_")
    if not name or not name[0].isalpha():
        name = f"{fallback}_{name}".rstrip("_")
    return name


class Netlister:
    """Generic SPICE element syntax (Berkeley SPICE 3 letters)."""

    def name(self, name: str) -> str:
        if not SAFE_NAME.fullmatch(name):
            raise CompileError(f"internal net or designator name {name!r} is not netlist-safe")
        return name

    def value(self, value: float) -> str:
        try:
            return spice_number(value)
        except ValueError:
            raise CompileError(f"value {value!r} cannot be written to a netlist (must be finite)") from None

    def element(self, comp: Component) -> str:
        """One element line.

        ``Rxx n+ n- 4.7e+03`` · ``Lxx n+ n- 1e-02`` · ``Cxx n+ n- 1e-06`` ·
        ``Gxx out+ out- ctrl+ ctrl- gm`` · ``Exx out+ out- ctrl+ ctrl- gain`` ·
        ``Vxx n+ n- dc`` · ``Hxx out+ out- Vctrl transresistance`` · ``Xxx n1 n2 ... subckt``;
        non-linear (see :mod:`r2nn_compiler.circuit.devices`): ``Dxx a k model`` ·
        ``Qxx c b e model`` · ``Sxx n+ n- c+ c- model`` · ``Bxx n+ n- I=expr`` ·
        ``Vxx n+ n- dc 2.5e+00`` · ``Vxx n+ n- pwl(t v ...)``.

        Raises CompileError for an unsafe name or value, ValueError for an unsafe B expression.
        """
        head = f"{self.name(comp.name)} {' '.join(self.name(n) for n in comp.nodes)}"
        if comp.kind == "X":
            return f"{head} {self.name(comp.subckt)}"
        if comp.kind == "H":
            return f"{head} {self.name(comp.attrs['control'])} {self.value(comp.value)}"
        if comp.model is not None:
            return f"{head} {self.name(comp.model)}"
        if comp.behaviour is not None:
            law = comp.behaviour
            if law.quantity not in ("V", "I") or not _EXPRESSION.fullmatch(law.expr):
                raise ValueError(f"unsafe B-source expression: {law.expr!r}")
            return f"{head} {law.quantity}={law.expr}"
        if comp.waveform is not None and comp.waveform.pwl:
            return f"{head} pwl({' '.join(f'{self.value(t)} {self.value(v)}' for t, v in comp.waveform.pwl)})"
        if comp.waveform is not None:
            return f"{head} dc {self.value(comp.value)}"
        return f"{head} {self.value(comp.value)}"

    def device_model(self, model: DeviceModel) -> str:
        """``.model name TYPE(key=value ...)``; ValueError for an unknown type."""
        kind = model.type.upper()
        if kind not in MODEL_TYPES:
            raise ValueError(f"unknown device model type {kind!r}")
        params = " ".join(f"{key}={self.value(float(v))}" for key, v in model.params if _PARAM.fullmatch(key))
        return f".model {self.name(model.name)} {kind}({params})"

    def comment(self, text: str) -> str:
        return f"* {safe_comment(text)}" if text else "*"

    def subcircuit(self, defn: SubcircuitDef) -> list[str]:
        lines = [self.comment(defn.doc) if defn.doc else "*",
                 f".subckt {self.name(defn.name)} {' '.join(self.name(p) for p in defn.ports)}"]
        lines += [self.device_model(m) for m in defn.models]
        lines += [self.element(c) for c in defn.components]
        lines.append(f".ends {self.name(defn.name)}")
        return lines

    def library(self, graph: CircuitGraph, subckt: str, header: list[str]) -> str:
        """The graph as one ``.subckt`` (ports in the graph's port order) plus its helpers: the
        subcircuit definitions in the graph's order, then the model's ``.subckt`` with its
        components and, last, the on-circuit readout's instance (``graph.readout``), so its
        decision and detector nets are the instance's nodes."""
        lines = [self.comment(h) for h in header]
        for defn in graph.subcircuits.values():
            lines += self.subcircuit(defn)
        ports = " ".join(self.name(p.name) for p in graph.ports)
        lines.append(f".subckt {self.name(subckt)} {ports}")
        for p in graph.ports:
            lines.append(self.comment(f"port {p.name}: {p.role} {p.label}"))
        for comp in graph.components:
            if comp.origin:
                lines.append(self.comment(comp.origin))
            lines.append(self.element(comp))
        if graph.readout is not None:
            lines += [self.comment(graph.readout.origin), self.element(graph.readout)]
        lines.append(f".ends {self.name(subckt)}")
        return "\n".join(lines) + "\n"
