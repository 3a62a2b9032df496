"""House rule: no function in r2nn_compiler/ over 60 lines (signature and body) unless its
docstring says why, with the words "long because"."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "r2nn_compiler"
LIMIT = 60


def long_functions(root: Path = PACKAGE) -> list[str]:
    """``path:line name (n lines)`` of every function over :data:`LIMIT` lines (from ``def`` to
    its last line, decorators excluded) whose docstring lacks "long because" (any case)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > LIMIT and "long because" not in (ast.get_docstring(node) or "").lower():
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_is_over_sixty_lines_without_a_reason():
    assert long_functions() == []


def test_the_check_sees_a_long_function_and_its_reason(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "long.py").write_text(f"def f():\n{body}\n")
    (tmp_path / "excused.py").write_text(f'def g():\n    """Long because a table."""\n{body}\n')
    assert [line.split(" ", 1)[1] for line in long_functions(tmp_path)] == [f"f ({LIMIT + 1} lines)"]
