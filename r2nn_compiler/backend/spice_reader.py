"""Read a SPICE library back into a CircuitGraph: the subset r2nn writes (R L C G E V H X,
``.subckt``/``.ends``, ``*`` comments, ``+`` continuations; inside a subcircuit also its
``.model`` cards and the D Q S naming them, B-sources and ``dc``/``pwl`` V sources, which is
what the on-circuit readout is built of).

Used to analyse a compiled deck again (tolerance analysis on the circuit-level MNA) without
re-running the compiler. Numbers follow SPICE, not the model language: suffixes are case-blind
and ``m`` is milli, ``meg`` mega (r2nn itself only writes exponent notation). Anything outside
the subset is an error naming the file and line, never silently skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..circuit import CircuitGraph, Component, Port, SubcircuitDef
from ..circuit.devices import DEVICE_NODE_COUNTS, MODEL_KINDS, Behaviour, DeviceModel, Waveform
from ..circuit.graph import CONTROL
from ..errors import CompileError, Location

_SUFFIX = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_NUMBER = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(meg|[tgkmunpf])?[a-z]*$", re.I)
_NODES = {"R": 2, "L": 2, "C": 2, "V": 2, "H": 2, "G": 4, "E": 4, **DEVICE_NODE_COUNTS}
_MODEL_CARD = re.compile(r"([A-Za-z]+)\((.*)\)")
_BEHAVIOUR = re.compile(r"([VI])=(\S+)", re.I)


def spice_number(text: str) -> float:
    """``4.7e-9`` → 4.7e-09, ``10k`` → 1e4, ``1M`` → 1e-3 (SPICE: M is milli). Raises ValueError."""
    match = _NUMBER.match(text)
    if not match:
        raise ValueError(f"expected a SPICE number, got {text!r}")
    return float(match[1]) * _SUFFIX.get((match[2] or "").lower(), 1.0)


def _logical_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, text, comment just before it) with continuations joined; the comment is
    how r2nn records each element's origin. The first line of a deck is a title only for
    decks, not libraries, so nothing is skipped here."""
    lines: list[tuple[int, str, str]] = []
    comment = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0].strip()
        if line.startswith("*"):
            comment = line[1:].strip()
            continue
        if not line:
            continue
        if line.startswith("+") and lines:
            lines[-1] = (lines[-1][0], f"{lines[-1][1]} {line[1:].strip()}", lines[-1][2])
        else:
            lines.append((number, line, comment))
        comment = ""
    return lines


def read_library(path: str | Path, main: str, roles: dict[str, str]) -> CircuitGraph:
    """Parse ``path``: subcircuit ``main`` becomes the graph (ports get ``roles`` by name,
    default 'output'), every other ``.subckt`` a SubcircuitDef. Raises CompileError
    (file:line) for anything outside the subset."""
    path = Path(path)
    blocks: dict[str, tuple[list[str], list[Component], list[DeviceModel]]] = {}
    current: str | None = None
    for number, line, comment in _logical_lines(path.read_text(encoding="utf-8")):
        where = Location(str(path), number)
        words = line.split()
        head = words[0].lower()
        if head == ".subckt":
            if current is not None or len(words) < 2:
                raise CompileError("nested or nameless .subckt", where)
            current = words[1].lower()
            blocks[current] = ([w.lower() for w in words[2:]], [], [])
        elif head == ".ends":
            current = None
        elif current is None:
            raise CompileError(f"expected only .subckt blocks in a library, got {words[0]!r}", where)
        elif head == ".model":
            blocks[current][2].append(_model_card(line, where))
        else:
            component = _component(words, where, {m.name for m in blocks[current][2]})
            component.origin = comment
            blocks[current][1].append(component)
    if main.lower() not in blocks:
        raise CompileError(f"subcircuit {main!r} not found", Location(str(path)))
    graph = CircuitGraph(title=f"read from {path.name}")
    for name, (ports, comps, models) in blocks.items():
        if name != main.lower():
            graph.define_subcircuit(SubcircuitDef(name, tuple(ports), comps, models=tuple(models)))
    ports, comps, _ = blocks[main.lower()]
    for port in ports:
        graph.add_port(Port(port, roles.get(port, "output"), port))
    for comp in comps:
        graph.add(comp)
    return graph


def _model_card(line: str, where: Location) -> DeviceModel:
    """``.model name TYPE(key=value ...)`` as a DeviceModel."""
    words = line.split(None, 2)
    card = _MODEL_CARD.fullmatch(words[2].strip()) if len(words) == 3 else None
    if card is None:
        raise CompileError(f"cannot read the .model card {line!r}", where)
    try:
        params = tuple((key.lower(), spice_number(value)) for key, _, value in
                       (item.partition("=") for item in card[2].split()))
    except ValueError as exc:
        raise CompileError(f"cannot read the .model card {words[1]!r}: {exc}", where) from None
    return DeviceModel(words[1].lower(), card[1].upper(), params)


def _component(words: list[str], where: Location, models: set[str]) -> Component:
    """One element line; D/Q/S must name a device model of ``models`` (their subcircuit's)."""
    name = words[0]
    kind = name[0].upper()
    try:
        if kind == "X":
            return Component(name, "X", tuple(w.lower() for w in words[1:-1]), subckt=words[-1].lower())
        count = _NODES.get(kind)
        if count is None or (kind in MODEL_KINDS and (len(words) != count + 2 or words[-1].lower() not in models)):
            raise CompileError(f"element {name!r} is outside the supported subset (R L C G E V H X; D Q S with a "
                               ".model card of their subcircuit; B)", where)
        nodes = tuple(w.lower() for w in words[1 : 1 + count])
        rest = words[1 + count :]
        if kind in MODEL_KINDS:
            return Component(name, kind, nodes, model=rest[0].lower())
        if kind == "B":
            law = _BEHAVIOUR.fullmatch("".join(rest))
            if law is None:
                raise ValueError(f"expected V=expr or I=expr, got {' '.join(rest)!r}")
            return Component(name, "B", nodes, behaviour=Behaviour(law[1].upper(), law[2]))
        if kind == "H":
            return Component(name, "H", nodes, spice_number(rest[1]), attrs={CONTROL: rest[0]})
        if kind == "V":
            return _voltage_source(name, nodes, rest)
        if len(rest) != 1:
            raise CompileError(f"expected one value after the nodes of {name!r}", where)
        return Component(name, kind, nodes, spice_number(rest[0]))
    except (ValueError, IndexError) as exc:
        raise CompileError(f"cannot read element {name!r}: {exc}", where) from None


def _voltage_source(name: str, nodes: tuple[str, ...], rest: list[str]) -> Component:
    """``V n+ n- value`` (plain), ``... dc value`` or ``... pwl(t v ...)`` (with a Waveform)."""
    text = " ".join(rest)
    if text.lower().startswith("pwl"):
        numbers = [spice_number(w) for w in text[3:].strip().strip("()").split()]
        if not numbers or len(numbers) % 2:
            raise ValueError(f"a pwl needs time-value pairs, got {text!r}")
        return Component(name, "V", nodes, waveform=Waveform(tuple(zip(numbers[::2], numbers[1::2]))))
    value = spice_number(rest[-1] if rest else "0")
    dc = bool(rest) and rest[0].lower() == "dc"
    return Component(name, "V", nodes, value, waveform=Waveform() if dc else None)
