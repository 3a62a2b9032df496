"""robust_parts: the dominant parts bought in a tighter class lower the Monte Carlo spread of the
outputs' band RMS as the pass predicts, and the BOM says so."""

import csv
import io
from types import SimpleNamespace

import numpy as np
import pytest

from r2nn_compiler.circuit import mna_matrices
from r2nn_compiler.compiler import load_model
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.sensitivity import bought_parts, sensitivity_grid
from r2nn_compiler.passes.robust_parts import LOOSE_TOLERANCE, worth_tightening
from r2nn_compiler.backend.bom import bom_csv

from .conftest import TOY
from .strategies import random_stable_model

UNTIL_ROBUST = HARDWARE_FLOW[: HARDWARE_FLOW.index("robust_parts")]


def measured_spread(ctx, grid, draws: int = 200, seed: int = 1) -> np.ndarray:
    """Standard deviation over ``draws`` boards (every part uniform within its own tolerance)
    of ln(band RMS) per observed port, on the pass's grid (the nominal circuit's)."""
    freqs, weights = grid
    parts = bought_parts(ctx.graph)
    nominal = [c.value for c in parts]
    rng = np.random.default_rng(seed)
    logs = []
    try:
        for _ in range(draws):
            for comp, value in zip(parts, nominal):
                comp.value = value * (1 + rng.uniform(-comp.part.tolerance, comp.part.tolerance))
            h = mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).ac(freqs, [p.net for p in ctx.outputs])
            logs.append(0.5 * np.log(np.sum(np.abs(h) ** 2 * weights, axis=(1, 2))))
    finally:
        for comp, value in zip(parts, nominal):
            comp.value = value
    return np.std(logs, axis=0)


@pytest.mark.parametrize("model", [load_model(TOY), random_stable_model(3, n=5)], ids=["toy", "random"])
def test_tightening_lowers_the_monte_carlo_spread_it_claims_to(model):
    ctx = run_flow(CompileContext(model, CompileOptions()), UNTIL_ROBUST)
    grid = sensitivity_grid(ctx)
    before = measured_spread(ctx, grid)
    run_flow(ctx, ["robust_parts"])
    entry = ctx.log[-1]
    assert entry.name == "robust_parts" and entry.details["tightened"]
    after = measured_spread(ctx, grid)
    worst = int(np.argmax(before))
    assert np.max(after) < 0.6 * np.max(before), (before, after)
    claims = entry.details["predicted_spread"]
    for j, port in enumerate(ctx.outputs):
        claim = claims[port.name]
        # The prediction (each part linear through its worse edge, parts independent) is within
        # a factor 1.6 of the measured σ where the spread matters.
        if before[j] > 0.2 * before[worst]:
            assert 1 / 1.6 < claim["before"] / before[j] < 1.6, (port.name, claim, before[j])
        if after[j] > 0.2 * after[worst]:
            assert 1 / 1.6 < claim["after"] / after[j] < 1.6, (port.name, claim, after[j])


def test_the_bom_prints_the_tighter_class_and_only_for_the_parts_chosen():
    ctx = run_flow(CompileContext(load_model(TOY), CompileOptions()), HARDWARE_FLOW)
    tightened = {t["designator"]: t for t in next(e for e in ctx.log if e.name == "robust_parts").details["tightened"]}
    rows = list(csv.DictReader(io.StringIO(bom_csv(ctx.graph))))
    for comp in bought_parts(ctx.graph):
        row = next(r for r in rows if comp.name in r["designator"].split())
        if comp.name in tightened:
            assert comp.attrs[LOOSE_TOLERANCE] == tightened[comp.name]["from"]
            assert row["tolerance"] == f"{100 * ctx.options.tight_tolerance[comp.kind]:g}%"
        else:
            assert LOOSE_TOLERANCE not in comp.attrs
            assert row["tolerance"] == f"{100 * ctx.options.tolerance[comp.kind]:g}%"


def test_off_when_asked_and_values_never_change():
    loose = run_flow(CompileContext(load_model(TOY), CompileOptions(robust_parts=False)), HARDWARE_FLOW)
    robust = run_flow(CompileContext(load_model(TOY), CompileOptions()), HARDWARE_FLOW)
    assert "robust_parts" not in [e.name for e in loose.log]
    assert [(c.name, c.value) for c in loose.graph.components] == [(c.name, c.value) for c in robust.graph.components]



def test_dominant_parts_are_chosen_among_those_a_tighter_class_exists_for():
    # L1 holds most of the variance but has no tighter class: the capacitors that dominate the
    # rest are bought tighter instead of nothing.
    part = lambda name, kind, tol: SimpleNamespace(name=name, kind=kind, part=SimpleNamespace(tolerance=tol))
    parts = [part("L1", "L", 0.10), part("C1", "C", 0.05), part("C2", "C", 0.05), part("R1", "R", 0.01)]
    spread = np.array([0.30, 0.07, 0.07, 0.05])
    tight = {"R": 0.001, "C": 0.01, "L": 0.10}
    assert worth_tightening(parts, spread, tight) == [1, 2]  # R1 at 0.05 is eligible but not needed
    assert worth_tightening(parts, spread, {**tight, "L": 0.02}) == [0]
    assert worth_tightening(parts, spread * 0.1, tight) == []  # below ROBUST_ABOVE
