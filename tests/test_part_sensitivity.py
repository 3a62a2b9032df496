"""part_sensitivity: the adjoint log-derivatives of each observed port's band RMS, held against a
brute-force perturbation of every part, and the manifest key that lists them."""

import json

import numpy as np
import pytest

from r2nn_compiler.backend.manifest import Manifest
from r2nn_compiler.circuit import mna_matrices
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.sensitivity import bought_parts, dominant_set, sensitivities, sensitivity_grid

from .conftest import TOY
from .strategies import random_stable_model


def band_rms(ctx, freqs, weights) -> np.ndarray:
    h = mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).ac(freqs, [p.net for p in ctx.outputs])
    return np.sqrt(np.sum(np.abs(h) ** 2 * weights, axis=(1, 2)))


def brute_force(ctx, name: str, relative: float) -> np.ndarray:
    """ln(band RMS) change of every output when part ``name`` alone is scaled by 1 + relative."""
    freqs, weights = sensitivity_grid(ctx)  # the nominal circuit's grid, as the pass uses
    comp = ctx.graph.component(name)
    value, base = comp.value, band_rms(ctx, freqs, weights)
    comp.value = value * (1 + relative)
    try:
        return np.log(band_rms(ctx, freqs, weights) / base)
    finally:
        comp.value = value


@pytest.mark.parametrize("model", [load_model(TOY), random_stable_model(3, n=5)], ids=["toy", "random"])
@pytest.mark.parametrize("parasitics", [False, True])
def test_adjoint_matches_a_brute_force_perturbation_of_every_part(model, parasitics):
    ctx = run_flow(CompileContext(model, CompileOptions(parasitics=parasitics)), HARDWARE_FLOW[:-2])
    rows = sensitivities(ctx)
    assert {r.designator for r in rows} == {c.name for c in bought_parts(ctx.graph)}
    step = 1e-6  # central differences in ln(value): a high-Q peak curves some responses sharply
    for row in rows:
        measured = np.abs(brute_force(ctx, row.designator, np.expm1(step))
                          - brute_force(ctx, row.designator, np.expm1(-step))) / (2 * step)
        assert row.per_unit == pytest.approx(float(np.max(measured)), rel=1e-3, abs=1e-5), row


@pytest.mark.parametrize("parasitics", [False, True])
def test_the_edge_figure_is_the_exact_change_at_the_tolerance_edge(parasitics):
    ctx = run_flow(CompileContext(load_model(TOY), CompileOptions(parasitics=parasitics)), HARDWARE_FLOW[:-2])
    for row in sensitivities(ctx):
        edges = np.abs([brute_force(ctx, row.designator, s * row.tolerance) for s in (-1, 1)])
        assert row.across_tolerance == pytest.approx(float(np.max(edges)), rel=1e-6, abs=1e-12), row
        assert row.output == ctx.outputs[int(np.argmax(np.max(edges, axis=0)))].name or row.across_tolerance < 1e-9


def test_dominant_parts_hold_half_the_variance():
    assert dominant_set([0.1, 0.05, 0.3, 0.01]) == {2}
    assert dominant_set([0.1, 0.1, 0.1, 0.1]) == {0, 1}
    assert dominant_set([0.0, 0.0]) == set()


def test_the_manifest_lists_every_bought_part_and_reads_back(tmp_path):
    compile_model(load_model(TOY), tmp_path / "hw")
    data = json.loads((tmp_path / "hw" / "manifest.json").read_text())
    parts = data["part_sensitivity"]["parts"]
    assert len(parts) == len({p["designator"] for p in parts}) and parts
    spreads = [p["across_tolerance"] for p in parts]
    assert spreads == sorted(spreads, reverse=True) and parts[0]["dominant"]
    assert set(parts[0]) == {"designator", "kind", "value", "series", "tolerance", "per_unit", "across_tolerance",
                             "output", "dominant"}
    assert Manifest.from_json(data).part_sensitivity == data["part_sensitivity"]
    compile_model(load_model(TOY), tmp_path / "exact", exact=True)
    assert "part_sensitivity" not in json.loads((tmp_path / "exact" / "manifest.json").read_text())
