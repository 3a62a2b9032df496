"""The passes' layering: a pass module imports ``.base`` and ``.common`` only, never another pass
module; ``passes/common`` imports no pass module."""

from __future__ import annotations

import ast
from pathlib import Path

import r2nn_compiler.passes as passes_package

PASSES = Path(passes_package.__file__).parent
#: Modules of ``passes/`` that are not passes.
NOT_PASSES = {"__init__", "base", "common"}
PASS_MODULES = sorted(p.stem for p in PASSES.glob("*.py") if p.stem not in NOT_PASSES)


def imported_pass_modules(path: Path, depth: int) -> list[str]:
    """The pass modules ``path`` imports (relative imports resolved; ``depth``: how many
    packages ``path`` sits below ``passes/``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == depth + 1:
            head = (node.module or "").split(".")[0]
            names = [head] if head else [alias.name for alias in node.names]
            found += [name for name in names if name in PASS_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("r2nn_compiler.passes."):
            head = node.module.split(".")[2]
            found += [head] if head in PASS_MODULES else []
    return found


def test_the_passes_are_found():
    assert {"check_reference", "readout_analog", "realise_inductors", "scale"} <= set(PASS_MODULES)


def test_no_pass_module_imports_another():
    offenders = {name: imported_pass_modules(PASSES / f"{name}.py", 0) for name in PASS_MODULES}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_common_imports_no_pass_module():
    offenders = {p.name: imported_pass_modules(p, 1) for p in (PASSES / "common").glob("*.py")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_shipped_flows_keep_every_pass_order():
    from r2nn_compiler.passes import EXACT_FLOW, HARDWARE_FLOW, check_order

    check_order(EXACT_FLOW)
    check_order(HARDWARE_FLOW)


def test_a_misordered_flow_is_refused_before_it_runs():
    import pytest

    from r2nn_compiler.compiler import load_model
    from r2nn_compiler.errors import CompileError
    from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow

    from .conftest import TOY

    ctx = CompileContext(load_model(TOY), CompileOptions())
    with pytest.raises(CompileError, match="^flow: pass 'quantise' must run after 'scale'") as err:
        run_flow(ctx, ["map_force_current", "quantise", "scale"])
    assert "\n" not in str(err.value) and ctx.log == []
    with pytest.raises(CompileError, match="^flow: pass 'check_reference' must run after 'readout_analog': "
                                           "put 'readout_analog' before it$"):
        run_flow(ctx, ["map_force_current", "check_reference", "readout_analog"])
