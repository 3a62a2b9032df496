"""Compiling: pass framework, force-current mapping, numpy proof, deck/manifest/BOM contents."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.circuit import mna_matrices
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.errors import CompileError
from r2nn_compiler.passes import REGISTRY, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, relative_error
from r2nn_compiler.reference import default_grid, frequency_response, simulate

from .strategies import random_stable_model


@pytest.mark.parametrize("seed", range(25))
def test_force_current_mna_equals_reference_to_1e9(seed):
    model = random_stable_model(seed)
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_current"])
    freqs = default_grid(model, 300)
    assert relative_error(circuit_response(ctx, freqs), frequency_response(model, freqs)) < 1e-9


def test_force_current_mna_transient_equals_reference():
    model = random_stable_model(11)
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_current"])
    u = np.random.default_rng(0).standard_normal((2, 1, 800))
    system = mna_matrices(ctx.graph, [p.net for p in ctx.inputs])
    y_circuit = system.transient(u, 1 / 16000, [p.net for p in ctx.outputs])
    y_model = simulate(model, u, 16000.0)
    scale = np.sqrt(np.mean(y_model**2, axis=-1, keepdims=True))
    assert np.max(np.abs(y_circuit - y_model) / scale) < 1e-9


def test_mapping_uses_positional_names_only(toy_path):
    ctx = run_flow(CompileContext(load_model(toy_path), CompileOptions(exact=True)), ["map_force_current"])
    nets = set(ctx.graph.nets())
    assert nets == {"0", "n1", "n2", "n3", "in1", "out1", "out2", "out3"}
    assert [p.name for p in ctx.graph.ports] == ["in1", "out1", "out2", "out3"]


def test_flow_log_records_each_pass(toy_path):
    ctx = run_flow(CompileContext(load_model(toy_path), CompileOptions(exact=True)),
                   ["map_force_current", "map_force_voltage", "check_reference"])
    assert [e.name for e in ctx.log] == ["map_force_current", "check_reference"]  # force_voltage did not match
    assert ctx.log[0].changed and not ctx.log[1].changed
    assert ctx.log[1].details["h_relative_error"] < 1e-9


def test_unknown_pass_is_named():
    with pytest.raises(CompileError, match="unknown pass 'frobnicate'; known passes: .*map_force_current"):
        run_flow(CompileContext(random_stable_model(0), CompileOptions()), ["frobnicate"])


def test_check_reference_catches_a_changed_circuit(toy_path):
    ctx = run_flow(CompileContext(load_model(toy_path), CompileOptions(exact=True)), ["map_force_current"])
    cap = ctx.graph.components_of("C")[0]
    cap.value *= 1.02
    with pytest.raises(CompileError, match="circuit MNA differs from the reference model"):
        run_flow(ctx, ["check_reference"])


def test_every_registered_pass_documents_itself():
    import sys

    for name, cls in REGISTRY.items():
        doc = sys.modules[cls.__module__].__doc__ or ""
        assert f"``{name}``" in doc, name


def test_compile_writes_contract_files(tmp_path, toy_path):
    out = tmp_path / "toy_out"
    result = runner().invoke(main, ["compile", str(toy_path), "-o", str(out), "--exact"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["bom.csv", "manifest.json", "toy.cir", "toy.lib",
                                                     "toy_input.txt"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "r2nn-netlist/1"
    assert m["subckt"] == "r2nn_toy" and m["library"] == "toy.lib"
    assert m["ports"] == ["in1", "out1", "out2", "out3"]
    assert m["inputs"] == [{"name": "u", "port": "in1", "volts_per_unit": 1.0}]
    assert [(o["class"], o["node"], o["port"], o["volts_per_unit_velocity"]) for o in m["outputs"]] == [
        ("low", "a", "out1", 1.0), ("high", "b", "out2", 1.0), ("rough", "t", "out3", 1.0)]
    assert m["time_scale"] == 1.0 and m["exact"] is True
    assert m["flow"][0] == "map_force_current" and m["component_counts"]["C"] == 3
    lib = (out / "toy.lib").read_text()
    assert ".subckt r2nn_toy in1 out1 out2 out3" in lib
    cir = (out / "toy.cir").read_text()
    assert ".include toy.lib" in cir and "filesource" in cir and ".tran" in cir and ".ac" in cir


def test_deck_values_are_exponent_notation(tmp_path, toy_path):
    compile_model(load_model(toy_path), tmp_path / "o", exact=True)
    for line in (tmp_path / "o" / "toy.lib").read_text().splitlines():
        if line[:1] in "RLCGE":
            value = line.split()[-1]
            assert "e" in value and float(value) != 0, line


def test_bom_lists_every_component(tmp_path, toy_path):
    result = compile_model(load_model(toy_path), tmp_path / "o", exact=True)
    rows = (tmp_path / "o" / "bom.csv").read_text().splitlines()
    assert rows[0] == "designator,kind,value,unit,series,tolerance,quantity"
    quantity = sum(int(r.rsplit(",", 1)[1]) for r in rows[1:])
    assert quantity + sum(result.manifest["not_in_bom"].values()) == len(result.context.graph.components)
    assert any(",ideal," in r and r.startswith("R5") for r in rows)  # the negative coupling resistor


def test_recompile_replaces_output_atomically(tmp_path, toy_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    compile_model(load_model(toy_path), out, exact=True)
    assert not (out / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_failed_compile_keeps_previous_output(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    before = (out / "toy.lib").read_text()
    with pytest.raises(CompileError):
        compile_model(load_model(toy_path), out, flow=["map_force_current", "nope"])
    assert (out / "toy.lib").read_text() == before


def test_cli_compile_bad_flow_is_one_line(tmp_path, toy_path):
    result = runner().invoke(main, ["compile", str(toy_path), "-o", str(tmp_path / "o"), "--flow", "x,y"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("unknown pass 'x'")


def test_list_passes():
    result = runner().invoke(main, ["compile", "--list-passes"])
    assert result.exit_code == 0
    assert "map_force_current" in result.output and "check_reference" in result.output


def runner():
    return CliRunner()


@pytest.mark.parametrize("seed", range(10))
def test_whole_exact_flow_stays_within_1e9_of_the_reference(tmp_path, seed):
    result = compile_model(random_stable_model(seed), tmp_path / "o", exact=True)
    check = result.log[-1]
    assert check.name == "check_reference"
    assert check.details["h_relative_error"] < 1e-9


# -- bill of materials and build information in the manifest ---------------------------------

BUILD_FLOW = ["map_force_current", "scale", "parasitics", "break_dc_loops", "check_reference"]


def bom_table(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_bom_leaves_out_wiring_and_parasitics_which_the_manifest_counts(tmp_path, toy_path):
    options = CompileOptions(parasitics=True, band_hz=(1e3, 40e3))
    result = compile_model(load_model(toy_path), tmp_path / "o", flow=BUILD_FLOW, options=options)
    rows = bom_table(result.files["bom.csv"])
    listed = {name for row in rows for name in row["designator"].split()}
    graph = result.context.graph
    modelled = {c.name for c in graph.components if c.attrs.get("role") in ("wiring", "parasitic")}
    assert modelled and not listed & modelled
    m = result.manifest
    assert m["not_in_bom"] == {"wiring": 0, "parasitic": len(modelled)}
    assert sum(int(r["quantity"]) for r in rows) + sum(m["not_in_bom"].values()) == m["total_components"]
    assert m["parts"] == sum(int(r["quantity"]) for r in rows if r["series"] != "ideal")


def test_bom_shows_the_series_and_tolerance_of_quantised_parts():
    from r2nn_compiler.backend import bom_rows
    from r2nn_compiler.circuit import CircuitGraph, Component
    from r2nn_compiler.circuit.annotations import PartInfo

    graph = CircuitGraph()
    graph.add(Component("R1", "R", ("a", "0"), 1.02e3, part=PartInfo("E96", 0.01)))
    graph.add(Component("R2", "R", ("b", "0"), 1.02e3, part=PartInfo("E96", 0.01)))
    graph.add(Component("C1", "C", ("a", "0"), 4.7e-9, part=PartInfo("E24", 0.05)))
    graph.add(Component("L1", "L", ("b", "0"), 1.234e-3))
    rows = bom_rows(graph)
    assert [(r["designator"], r["series"], r["tolerance"], r["quantity"]) for r in rows] == [
        ("R1 R2", "E96", "1%", "2"), ("C1", "E24", "5%", "1"), ("L1", "exact", "", "1")]


def test_bom_groups_opamps_into_one_row_per_model():
    from r2nn_compiler.backend import bom_rows
    from r2nn_compiler.circuit import CircuitGraph, Component

    graph = CircuitGraph()
    for name, model in [("X1", "opamp_macro"), ("X2", "opamp_macro"), ("X3", "opamp_ideal")]:
        graph.add(Component(name, "X", ("a", "b", name.lower()), subckt=model,
                            attrs={"role": "active", "element": name}))
    graph.add(Component("R1", "R", ("a", "0"), 1e4, attrs={"role": "active"}))
    rows = [(r["designator"], r["kind"], r["value"], r["series"], r["quantity"]) for r in bom_rows(graph)]
    assert rows == [("X1 X2", "X", "opamp_macro", "op-amp", "2"), ("X3", "X", "opamp_ideal", "op-amp", "1"),
                    ("R1", "R", "1e+04", "exact", "1")]


def test_manifest_adds_build_information_and_keeps_the_contract(tmp_path, toy_path):
    options = CompileOptions(band_hz=(1e3, 40e3), ranges={"R": (10.0, 10e6), "C": (10e-12, 10e-6), "L": (1e-6, 1e-3)})
    result = compile_model(load_model(toy_path), tmp_path / "o", flow=BUILD_FLOW, options=options)
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    scale = next(e for e in result.log if e.name == "scale")
    assert m["out_of_range"] == json.loads(json.dumps(scale.details["out_of_range"])) != []
    assert m["opamps"] == [] and m["opamp_model"] is None
    for key in ("format", "inputs", "outputs", "time_scale", "flow", "log", "component_counts", "total_components"):
        assert key in m
    gain = scale.details["drive_scale"] * scale.details["readout_scale"]
    assert [o["volts_per_unit_velocity"] for o in m["outputs"]] == pytest.approx([gain] * 3)
    assert m["time_scale"] == pytest.approx(0.1)


def test_manifest_copies_the_opamps_the_graph_records(tmp_path, toy_path):
    from r2nn_compiler.backend import build_manifest

    from r2nn_compiler.circuit import Component

    ctx = run_flow(CompileContext(load_model(toy_path), CompileOptions(exact=True)), ["map_force_current"])

    def manifest() -> dict:
        return build_manifest(model=ctx.model, graph=ctx.graph, subckt="s", library="l", testbench="t",
                              input_file="i", inputs=ctx.inputs, outputs=ctx.outputs, time_scale=1.0, sense="",
                              flow=[], log=ctx.log, exact=True, sample_rate_hz=1.0, tstop_s=1.0, tmax_s=1.0,
                              version="0")

    m = manifest()
    assert m["out_of_range"] == [] and m["parts"] == 11  # 4 R, 4 L, 3 C: R5 < 0, the G and E are ideal
    # The op-amps are the graph's: an X of role active (what a realisation pass places).
    ctx.graph.add(Component("X1", "X", ("n1", "x1_div", "x1_out"), subckt="opamp_macro",
                            attrs={"role": "active", "element": "a", "realises": "damping"}))
    ctx.graph.meta.update(opamp_model={"kind": "macro"})
    m = manifest()
    assert m["opamps"] == [{"designator": "X1", "element": "a", "realises": "damping", "output_net": "x1_out"}]
    assert m["opamp_model"] == {"kind": "macro"}
