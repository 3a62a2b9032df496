"""Energy and latency estimate: op-amp count × quiescent current × supply, per decision and in time."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from r2nn_compiler import cli
from r2nn_compiler.circuit import CircuitGraph, Component, Port, SubcircuitDef
from r2nn_compiler.circuit.opamp import OpampModel, subcircuit
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.energy import DECISION_SETTLING, EnergyEstimate, count_opamps, estimate
from r2nn_compiler.passes import CompileOptions

MANIFEST_KEYS = {"opamps", "supply_volts", "quiescent_amps_per_opamp", "static_power_watts",
                 "energy_per_decision_joules", "latency_seconds"}


def graph_with_opamps(direct: int, blocks: int, per_block: int) -> CircuitGraph:
    """``direct`` op-amp instances plus ``blocks`` instances of a subcircuit holding
    ``per_block`` op-amps."""
    graph = CircuitGraph("count")
    graph.add_port(Port("in1", "input"))
    opamp = graph.define_subcircuit(subcircuit(OpampModel()))
    block = SubcircuitDef("block", ("a",), [Component(f"X{k + 1}", "X", ("a", "0", f"o{k}"), subckt=opamp.name)
                                            for k in range(per_block)])
    graph.define_subcircuit(block)
    for k in range(direct):
        graph.add(Component(f"X{k + 1}", "X", ("in1", "0", f"out{k}"), subckt=opamp.name))
    for k in range(blocks):
        graph.add(Component(f"X{direct + k + 1}", "X", ("in1",), subckt="block"))
    return graph


def test_counts_opamps_inside_subcircuits_once_per_instance():
    assert count_opamps(graph_with_opamps(3, 2, 4)) == 3 + 2 * 4
    assert count_opamps(CircuitGraph()) == 0


def test_counts_the_decision_stage_op_amps_described_outside_the_graph():
    graph = graph_with_opamps(2, 0, 0)
    graph.meta["readout"] = {"level": "analog", "parts": {"op-amps": 36, "diodes": 20}}
    assert count_opamps(graph) == 2 + 36


def test_static_power_is_count_times_quiescent_current_times_both_rails(toy_path):
    model = load_model(toy_path)
    graph = graph_with_opamps(5, 0, 0)
    tl072 = OpampModel()
    e = estimate(graph, model, 1.0, tl072)
    assert e.static_power_watts == pytest.approx(5 * 1.4e-3 * 30.0)  # 42 mW per TL072 at ±15 V
    assert tl072.static_power_w == pytest.approx(42e-3)
    window = model.readout.stop - model.readout.start
    assert e.window_seconds == pytest.approx(window)
    assert e.energy_per_decision_joules == pytest.approx(e.static_power_watts * window)
    assert e.latency_seconds == pytest.approx(model.readout.stop)


def test_time_scale_and_decision_settling_stretch_window_and_latency(toy_path):
    model = load_model(toy_path)
    graph = graph_with_opamps(2, 0, 0)
    graph.meta[DECISION_SETTLING] = 1e-3
    micro = OpampModel(quiescent_a=1e-6, supply_v=1.5, swing_v=1.4)
    e = estimate(graph, model, 0.25, micro)
    assert e.static_power_watts == pytest.approx(2 * 1e-6 * 3.0)
    assert e.window_seconds == pytest.approx(0.25 * (model.readout.stop - model.readout.start))
    assert e.latency_seconds == pytest.approx(0.25 * model.readout.stop + 1e-3)
    assert EnergyEstimate(**e.as_dict()) == e


def test_manifest_records_energy_of_the_compiled_circuit(toy_path, tmp_path):
    model = load_model(toy_path)  # its negative damper is realised by two op-amps
    result = compile_model(model, tmp_path / "o", options=CompileOptions(band_hz=(1e3, 40e3)))
    energy = result.manifest["energy"]
    assert MANIFEST_KEYS <= set(energy)
    assert energy["opamps"] == len(result.manifest["opamps"]) == 2
    assert energy["static_power_watts"] == pytest.approx(2 * 1.4e-3 * 30.0)
    ts = result.manifest["time_scale"]
    assert ts == pytest.approx(0.1)  # the band moved up tenfold: decisions come ten times sooner
    assert energy["latency_seconds"] == pytest.approx(model.readout.stop * ts)
    assert energy["energy_per_decision_joules"] == pytest.approx(
        energy["static_power_watts"] * (model.readout.stop - model.readout.start) * ts)
    assert json.loads(result.files["manifest.json"])["energy"] == energy
    counts = result.manifest["component_counts"]
    assert energy["ideal_sources"] == sum(counts.get(k, 0) for k in "GEH") > 0  # drives and buffers, not counted


def test_gic_op_amps_are_counted(toy_path, tmp_path):
    toy = load_model(toy_path)
    model = dataclasses.replace(toy, couplings=tuple(c for c in toy.couplings if c.kind == "damper"))
    result = compile_model(model, tmp_path / "o", options=CompileOptions(inductors="gic"))
    assert result.manifest["energy"]["opamps"] == 2 + 2 * len(model.resonators)


def test_compile_prints_the_energy_line(toy_path, tmp_path):
    run = CliRunner().invoke(cli.main, ["compile", str(toy_path), "-o", str(tmp_path / "o")])
    assert run.exit_code == 0, run.output
    line = next(line for line in run.output.splitlines() if line.strip().startswith("energy"))
    assert "2 op-amp(s)" in line and "84 mW static" in line and "per decision" in line and "latency" in line


def test_compile_refuses_gic_with_exact(toy_path, tmp_path):
    run = CliRunner().invoke(cli.main, ["compile", str(toy_path), "-o", str(tmp_path / "o"), "--exact",
                                        "--inductors", "gic"])
    assert run.exit_code == 2
    assert "--inductors gic" in run.output


def test_a_lower_supply_lowers_the_swing_and_a_swing_past_the_rail_is_refused():
    from types import SimpleNamespace

    from r2nn_compiler.circuit.opamp import from_options
    from r2nn_compiler.errors import CompileError

    low = from_options(SimpleNamespace(opamp="macro", opamp_params={"supply_v": 1.65}))
    assert low.swing_v == pytest.approx(1.65 * 13.5 / 15) and low.supply_v == 1.65
    given = from_options(SimpleNamespace(opamp="macro", opamp_params={"supply_v": 2.5, "swing_v": 2.45}))
    assert given.swing_v == 2.45
    with pytest.raises(CompileError, match="swing_v 3 V exceeds its supply_v 2.5 V"):
        OpampModel(supply_v=2.5, swing_v=3.0)
