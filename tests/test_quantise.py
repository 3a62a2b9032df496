"""quantise: every positive passive part becomes a series value, and the log says what it cost."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler import eseries
from r2nn_compiler.errors import CompileError
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response
from r2nn_compiler.reference import default_grid

from .strategies import random_stable_model
from .test_map_force_voltage import hand_model, planar_seeds

ALL_E24 = {"R": "E24", "C": "E24", "L": "E24"}


def quantised(model, mapping="map_force_current", **options) -> CompileContext:
    return run_flow(CompileContext(model, CompileOptions(**options)), [mapping, "quantise"])


def ideal(model, mapping="map_force_current") -> CompileContext:
    return run_flow(CompileContext(model, CompileOptions()), [mapping])


def report(ctx: CompileContext) -> dict:
    assert ctx.log[-1].name == "quantise"
    return ctx.log[-1].details


def assert_every_positive_part_in_its_series(ctx: CompileContext, options: CompileOptions) -> None:
    for comp in ctx.graph.components:
        if comp.kind in "RLC" and comp.value > 0:
            name = options.series_overrides.get(comp.name, options.series[comp.kind])
            assert comp.part.series == name, comp
            assert eseries.is_in_series(comp.value, name), comp
            assert comp.part.tolerance == options.tolerance[comp.kind]
            assert comp.part.ideal_value > 0


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 500), st.sampled_from(["nearest", "pair", "retune"]))
def test_every_positive_passive_part_lands_in_its_series_with_attrs(seed, strategy):
    ctx = quantised(random_stable_model(seed), strategy=strategy)
    assert_every_positive_part_in_its_series(ctx, ctx.options)


def test_negative_coupling_resistors_stay_ideal_and_are_listed():
    model = random_stable_model(1)
    before = {c.name: c for c in ideal(model).graph.components}
    negative = [name for name, c in before.items() if c.kind == "R" and c.value < 0]
    assert negative, "seed 1 should have negative damper couplings"
    ctx = quantised(model)
    for name in negative:
        comp = ctx.graph.component(name)
        assert comp.value == before[name].value and comp.part is None
    listed = {u["designator"]: u["reason"] for u in report(ctx)["unquantised"]}
    assert all("negative" in listed[name] for name in negative)
    assert all(listed[c.name] for c in ctx.graph.components if c.kind in "GE")


def test_nearest_parts_are_within_half_a_step_of_their_ideal_values():
    ctx = quantised(random_stable_model(2), strategy="nearest")
    for comp in ctx.graph.components:
        if comp.part is not None:
            ratio = comp.value / comp.part.ideal_value
            assert abs(np.log(ratio)) <= np.log(eseries.step(comp.part.series)) / 2 + 1e-12


def test_the_log_reports_value_f0_q_and_h_errors():
    ctx = quantised(random_stable_model(3), strategy="nearest")
    details = report(ctx)
    worst = details["worst_value_error"]
    assert worst["relative"] == max(p["relative_error"] for p in details["parts"].values())
    assert worst["designator"] in details["parts"]
    assert set(details["resonators"]) == {r.name for r in ctx.model.resonators}
    for shift in details["resonators"].values():
        assert shift["topology"] == "parallel" and shift["q_shift"] is not None
    assert details["h_relative_error_before"] < 1e-8 < details["h_relative_error_after"]
    summary = ctx.log[-1].summary
    for text in ("parts to E96/E24/E12 (nearest)", f"({worst['designator']})", "worst f0 shift", "worst Q shift",
                 "H(jω) error"):
        assert text in summary


def test_resonator_shifts_come_from_its_own_parts():
    ctx = quantised(random_stable_model(4), strategy="nearest")
    graph = ctx.graph
    for name, shift in report(ctx)["resonators"].items():
        parts = {c.attrs["role"]: c for c in graph.components if c.attrs.get("element") == name}
        c, l, r = parts["mass"].value, parts["stiffness"].value, parts["damping"].value
        assert shift["f0_hz"][1] == pytest.approx(1 / (2 * np.pi * np.sqrt(l * c)))
        assert shift["q"][1] == pytest.approx(r * np.sqrt(c / l))


def worst_f0_shift(model, strategy: str, series: dict[str, str]) -> float:
    return abs(report(quantised(model, strategy=strategy, series=series))["worst_f0_shift"]["relative"])


def test_e24_retune_restores_f0_better_than_e24_nearest():
    models = [random_stable_model(seed) for seed in range(8)]
    nearest = np.mean([worst_f0_shift(m, "nearest", ALL_E24) for m in models])
    retuned = np.mean([worst_f0_shift(m, "retune", ALL_E24) for m in models])
    assert retuned < 0.75 * nearest


def test_retune_restores_q_with_the_damping_resistor():
    model = random_stable_model(5)
    nearest = report(quantised(model, strategy="nearest", series=ALL_E24))
    retuned = report(quantised(model, strategy="retune", series=ALL_E24))
    assert abs(retuned["worst_q_shift"]["relative"]) < abs(nearest["worst_q_shift"]["relative"])


@pytest.mark.parametrize("target", [1e-3, 1e-2])
def test_pair_strategy_meets_the_target_for_every_part_it_pairs(target):
    ctx = quantised(random_stable_model(6), strategy="pair", pair_target=target)
    parts = report(ctx)["parts"]
    paired = {name: p for name, p in parts.items() if p["connection"] != "single"}
    assert paired and report(ctx)["pairs"] == len(paired)
    for name, p in parts.items():
        assert p["relative_error"] <= target or p["connection"] == "single"
    for name, p in paired.items():
        first, second = (ctx.graph.component(d) for d in ctx.graph.component(name).part.pair_parts)
        assert first.part.pair == second.part.pair == p["connection"]
        assert [first.value, second.value] == p["parts"]
        assert first.part.ideal_value == second.part.ideal_value == p["ideal"]


def test_pairs_are_wired_to_realise_their_combined_value():
    model = random_stable_model(7)
    paired = quantised(model, strategy="pair", pair_target=1e-2)
    parts = report(paired)["parts"]
    assert {p["connection"] for p in parts.values()} >= {"series", "parallel"}
    # The same circuit with one ideal part per pair at the value the pair achieves.
    single = ideal(model)
    for name, p in parts.items():
        single.graph.replace(name, dataclasses.replace(single.graph.component(name), value=p["achieved"]))
    freqs = default_grid(model, 50)
    np.testing.assert_allclose(circuit_response(paired, freqs), circuit_response(single, freqs), rtol=1e-9,
                               atol=1e-12 * np.abs(circuit_response(single, freqs)).max())


@pytest.mark.parametrize("seed", planar_seeds(3))
@pytest.mark.parametrize("strategy", ["nearest", "pair", "retune"])
def test_force_voltage_graphs_are_quantised_as_series_resonators(seed, strategy):
    model = dataclasses.replace(random_stable_model(seed), analogy="force_voltage")
    ctx = quantised(model, "map_force_voltage", strategy=strategy)
    assert_every_positive_part_in_its_series(ctx, ctx.options)
    details = report(ctx)
    assert {s["topology"] for s in details["resonators"].values()} == {"series"}
    assert not details["resonators_not_analysed"]


def test_force_voltage_q_uses_the_series_formula():
    ctx = quantised(hand_model([("r0", "r1", "damper", 0.1)]), "map_force_voltage", strategy="retune")
    details = report(ctx)
    for name, shift in details["resonators"].items():
        # a part realised as a pair appears under its first designator with the pair's value
        achieved = {c.attrs["role"]: details["parts"][c.name]["achieved"] for c in ctx.graph.components
                    if c.attrs.get("element") == name and c.name in details["parts"]}
        l, c, r = achieved["mass"], achieved["stiffness"], achieved["damping"]
        assert shift["q"][1] == pytest.approx(np.sqrt(l / c) / r)


def test_an_undamped_resonator_reports_f0_only():
    model = random_stable_model(8)
    undamped = dataclasses.replace(model.resonators[0], damping=0.0)
    model = dataclasses.replace(model, resonators=(undamped, *model.resonators[1:]))
    shift = report(quantised(model, strategy="retune"))["resonators"][undamped.name]
    assert shift["q_shift"] is None and shift["f0_shift"] is not None


def test_a_designator_override_picks_its_own_series():
    ctx = quantised(random_stable_model(9), series_overrides={"C1": "E6"})
    assert ctx.graph.component("C1").part.series == "E6"
    assert eseries.is_in_series(ctx.graph.component("C1").value, "E6")


@pytest.mark.parametrize("options, parameter", [
    (dict(series={"R": "E5", "C": "E24", "L": "E12"}), "series[R]"),
    (dict(series_overrides={"C99": "E6"}), "series_overrides"),
    (dict(strategy="closest"), "strategy"),
])
def test_bad_options_are_compile_errors_naming_the_parameter(options, parameter):
    with pytest.raises(CompileError, match=parameter.replace("[", r"\[")):
        quantised(random_stable_model(0), **options)


def test_exact_flows_are_not_quantised():
    ctx = run_flow(CompileContext(random_stable_model(0), CompileOptions(exact=True)),
                   ["map_force_current", "quantise"])
    assert [e.name for e in ctx.log] == ["map_force_current"]


def test_quantise_runs_once():
    ctx = run_flow(CompileContext(random_stable_model(0), CompileOptions()),
                   ["map_force_current", "quantise", "quantise"])
    assert [e.name for e in ctx.log] == ["map_force_current", "quantise"]


def _inductors_by_element(ctx: CompileContext) -> dict[str, list]:
    groups: dict[str, list] = {}
    for comp in ctx.graph.components_of("L"):
        groups.setdefault(comp.attrs["element"], []).append(comp)
    return groups


@pytest.mark.parametrize("seed", [3, 11])
def test_retune_trims_inductors_with_a_series_pair_and_restores_each_spring(seed):
    model = random_stable_model(seed)
    ideal_l = {c.attrs["element"]: c.value for c in ideal(model).graph.components_of("L")
               if c.attrs.get("role") == "stiffness"}
    ctx = quantised(model, series={"R": "E96", "C": "E24", "L": "E12"})
    groups = _inductors_by_element(ctx)
    for element, target in ideal_l.items():
        parts = [c for c in groups[element] if c.attrs.get("role") == "stiffness"]
        assert all((c.part.pair or "single") in ("single", "series") for c in parts)  # never parallel
        total = sum(c.value for c in parts)
        assert abs(total / target - 1) <= 0.01, (element, [c.value for c in parts], target)
        assert all(eseries.is_in_series(c.value, "E12") for c in parts)
    # A series pair leaves a net only its two inductors touch; the MNA merges the chain exactly.
    assert any(len(v) == 2 for v in groups.values())
    freqs = default_grid(model, 50)
    h = circuit_response(ctx, freqs)
    assert np.all(np.isfinite(h))


def test_single_inductors_when_pairing_is_off_and_pairing_is_closer_to_the_model():
    model = random_stable_model(5)
    paired = quantised(model)
    single = quantised(model, pair_inductors=False)
    assert all((c.part.pair or "single") == "single" for c in single.graph.components_of("L"))
    assert any(c.part.pair == "series" for c in paired.graph.components_of("L"))
    assert report(paired)["h_relative_error_after"] < report(single)["h_relative_error_after"]


def test_series_only_pairs_are_never_parallel():
    for value in np.geomspace(1e-6, 5.0, 97):
        pair = eseries.best_pair(float(value), "E12", 1e-3, ("series",))
        assert pair.kind in ("single", "series")
