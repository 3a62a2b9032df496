"""A small writer of KiCad's S-expression files (``.kicad_sch``, ``.kicad_sym``).

A node is a :class:`Node`: a head keyword and its items (numbers, :class:`Atom` keywords,
strings, nested nodes). :func:`dumps` writes it the way KiCad 9 does (one node per line,
tab-indented, strings always quoted), so a file KiCad saves again differs little from ours.
Nothing here knows what a schematic is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


class Atom(str):
    """An unquoted token (a keyword such as ``yes`` or ``passive``)."""


@dataclass(frozen=True)
class Node:
    """``(head item ...)``."""

    head: str
    items: tuple

    def __init__(self, head: str, *items) -> None:
        object.__setattr__(self, "head", head)
        object.__setattr__(self, "items", tuple(i for i in items if i is not None))


def node(head: str, *items) -> Node:
    """``(head item ...)``; ``None`` items are dropped (optional parts of a node)."""
    return Node(head, *items)


def yes_no(flag: bool) -> Atom:
    return Atom("yes" if flag else "no")


def quote(text: str) -> str:
    """A KiCad string: double-quoted, with backslash, quote, newline, carriage return and tab
    escaped, any other control character dropped."""
    escaped = (str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r").replace("\t", "\\t"))
    escaped = "".join(ch for ch in escaped if ch >= " ")
    return f'"{escaped}"'


def number(value: float) -> str:
    """A coordinate or size in mm as KiCad writes it: at most 4 decimals (the schematic's
    internal unit is 100 nm), no trailing zeros, never exponent notation."""
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} into a KiCad file")
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _token(item) -> str:
    if isinstance(item, Atom):
        return str(item)
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, (int, float)):
        return number(float(item)) if isinstance(item, float) else str(item)
    return quote(item)


def _is_leaf(n: Node) -> bool:
    return not any(isinstance(i, Node) for i in n.items)


def _lines(n: Node, depth: int, out: list[str]) -> None:
    pad = "\t" * depth
    if _is_leaf(n):
        out.append(pad + "(" + " ".join([n.head] + [_token(i) for i in n.items]) + ")")
        return
    head = [n.head]
    rest = list(n.items)
    while rest and not isinstance(rest[0], Node):  # leading atoms stay on the head's line
        head.append(_token(rest.pop(0)))
    out.append(pad + "(" + " ".join(head))
    for item in rest:
        if isinstance(item, Node):
            _lines(item, depth + 1, out)
        else:
            out.append("\t" * (depth + 1) + _token(item))
    out.append(pad + ")")


def dumps(root: Node) -> str:
    """The file text of ``root`` (ending in a newline)."""
    out: list[str] = []
    _lines(root, 0, out)
    return "\n".join(out) + "\n"


_TOKEN = re.compile(r'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


def loads(text: str) -> Node:
    """Read one S-expression (a KiCad file, e.g. a netlist ``kicad-cli`` exported): strings
    unescaped, other tokens as :class:`Atom`. Raises ValueError on unbalanced parentheses."""
    stack: list[list] = [[]]
    for match in _TOKEN.finditer(text):
        opening, closing, string, atom = match.groups()
        if opening:
            stack.append([])
        elif closing:
            if len(stack) < 2 or not stack[-1]:
                raise ValueError("unbalanced ')' in S-expression")
            head, *items = stack.pop()
            stack[-1].append(Node(str(head), *items))
        elif string is not None:
            stack[-1].append(re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), string))
        elif atom is not None:
            stack[-1].append(Atom(atom))
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("unbalanced '(' in S-expression")
    return stack[0][0]


def children(n: Node, head: str) -> list[Node]:
    """The direct sub-nodes of ``n`` named ``head``."""
    return [i for i in n.items if isinstance(i, Node) and i.head == head]
