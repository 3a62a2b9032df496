"""``--drive parts``: the input drives as resistors from the input ports (realise_drive)."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from r2nn_compiler.circuit import INVERTED_INPUTS
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model, verify
from r2nn_compiler.model.ir import Input
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, relative_error
from r2nn_compiler.reference import default_grid, frequency_response

from .strategies import random_stable_model

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _negative_weight_model(seed: int):
    """A random model whose input drives at least two resonators, one with a negative weight."""
    model = random_stable_model(seed)
    names = [r.name for r in model.resonators]
    drives = ((names[0], 0.8), (names[1], -0.6)) + tuple((n, 0.3) for n in names[2:3])
    return dataclasses.replace(model, inputs=(Input("u", drives),))


def _h_error(ctx) -> float:
    freqs = default_grid(ctx.model, 300)
    return relative_error(circuit_response(ctx, freqs), frequency_response(ctx.model, freqs))


def test_exact_toy_deck_has_no_vccs_and_keeps_the_transfer(tmp_path, toy_path):
    result = compile_model(load_model(toy_path), tmp_path / "o", exact=True,
                           options=CompileOptions(exact=True, drive="parts"))
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert "G" not in manifest["component_counts"]
    assert result.log[-1].details["h_relative_error"] < 1e-9
    # toy's input drives b with weight -0.5: an inverted port, declared with its input, after the inputs
    assert manifest["inputs"][0]["inverted_port"] == "in1n"
    assert manifest["ports"][:2] == ["in1", "in1n"]
    drive = next(e for e in result.log if e.name == "realise_drive")
    assert manifest["inputs"][0]["volts_per_unit"] == pytest.approx(1 / drive.details["alpha"])


@pytest.mark.parametrize("seed", [1, 4, 7])
def test_exact_random_model_with_negative_weights_keeps_the_transfer(seed):
    model = _negative_weight_model(seed)
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True, drive="parts")),
                   ["map_force_current", "realise_drive"])
    assert not ctx.graph.components_of("G")
    assert ctx.graph.meta[INVERTED_INPUTS] == {"in1n": "in1"}
    assert ctx.inputs[0].inverted == "in1n"
    assert _h_error(ctx) < 1e-9


def test_without_absorbing_the_loading_the_transfer_would_change():
    """The check above can fail: the same resistors with the damping left as it was move H(jω)."""
    model = _negative_weight_model(1)
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True, drive="parts")),
                   ["map_force_current", "realise_drive"])
    plain = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_current"])
    for comp in plain.graph.components:
        if comp.attrs.get("role") == "damping":
            ctx.graph.component(comp.name).value = comp.value
    assert _h_error(ctx) > 1e-3


@pytest.mark.parametrize("seed", [1, 4])
def test_hardware_drive_resistors_are_e96_and_cost_little_accuracy(seed):
    model = _negative_weight_model(seed)
    flow = [p for p in HARDWARE_FLOW if p != "calibrate_outputs"]
    parts = run_flow(CompileContext(model, CompileOptions(drive="parts")), flow)
    ideal = run_flow(CompileContext(model, CompileOptions(drive="ideal")), flow)
    assert not parts.graph.components_of("G") and ideal.graph.components_of("G")
    drives = [c for c in parts.graph.components if c.attrs.get("role") == "drive"]
    assert drives and all(c.kind == "R" and c.part.series == "E96" for c in drives)
    assert _h_error(parts) < _h_error(ideal) + 2e-3


def test_default_drive_follows_the_readout():
    assert CompileOptions(readout="analog").drive_kind() == "parts"
    assert CompileOptions(readout="behavioural").drive_kind() == "ideal"
    assert CompileOptions().drive_kind() == "ideal"
    assert CompileOptions(readout="analog", drive="ideal").drive_kind() == "ideal"


def test_exact_drive_parts_deck_verifies_in_ngspice(tmp_path, toy_path):
    model = load_model(toy_path)
    compile_model(model, tmp_path / "o", exact=True, options=CompileOptions(exact=True, drive="parts"))
    report = verify(model, tmp_path / "o", [ROOT / "examples" / "toy" / "signals"])
    assert report.passed


def test_drive_parts_without_damping_is_one_line(tmp_path):
    src = tmp_path / "m.r2nn"
    src.write_text("model m {\n resonator a (m = 1m, k = 394.8);\n resonator b (f0 = 1.2 kHz, q = 10, m = 1m);\n"
                   " couple a -- b damper (c = 5m);\n input u -> a (1.0);\n output x = a;\n output y = b;\n"
                   " readout rms from 0 s to 20 ms;\n}\n")
    result = CliRunner().invoke(main, ["compile", str(src), "-o", str(tmp_path / "o"), "--drive", "parts"])
    assert result.exit_code == 1
    assert "resonator a has no positive damping" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_force_voltage_refuses_drive_parts(tmp_path, toy_path):
    text = toy_path.read_text().replace("analogy force_current;", "analogy force_voltage;")
    src = tmp_path / "fv.r2nn"
    src.write_text(text)
    result = CliRunner().invoke(main, ["compile", str(src), "-o", str(tmp_path / "o"), "--exact", "--drive", "parts"])
    assert result.exit_code == 1 and "force-voltage drives" in result.output


def test_hardware_drive_parts_deck_verifies_by_superposition_and_its_resistors_are_drawn(tmp_path, toy_path):
    """The inverted input reaches every consumer: the kernels (one testbench copy per input,
    the inverter inside), the spot checks, and the tolerance analysis, which perturbs the drive
    resistors like any part."""
    from r2nn_compiler.compiler import tolerance

    model = load_model(toy_path)
    compile_model(model, tmp_path / "o", options=CompileOptions(drive="parts"))
    signals = [ROOT / "examples" / "toy" / "signals"]
    report = verify(model, tmp_path / "o", signals, run_ac=False, method="superposition")
    assert report.passed and report.method.used == "superposition"
    lines = (tmp_path / "o" / "toy.lib").read_text().splitlines()
    drives = {lines[i + 1].split()[0] for i, line in enumerate(lines) if line.endswith("(drive resistor)")}
    assert len(drives) >= 2  # a and b (each one part or a pair)
    result = tolerance(model, tmp_path / "o", signals, {"R": 0.01}, runs=8, spot_checks=0)
    assert {s["designator"] for s in result.to_json()["sensitivity"]} & drives


def test_inverted_port_must_be_a_port(tmp_path, toy_path):
    from r2nn_compiler.errors import VerificationError
    from r2nn_compiler.verify.manifest import read_compiled

    compile_model(load_model(toy_path), tmp_path / "o", exact=True, options=CompileOptions(exact=True, drive="parts"))
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    m["inputs"][0]["inverted_port"] = "in9n"
    (tmp_path / "o" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(VerificationError, match=r"inputs\[0\]\.inverted_port"):
        read_compiled(tmp_path / "o")


def test_default_drive_falls_back_to_ideal_without_damping(tmp_path):
    """The same model with --readout analog alone (drive left to its default): the drives stay
    ideal and the pass says why, rather than refusing a flag the user never gave."""
    src = tmp_path / "m.r2nn"
    src.write_text("model m {\n resonator a (m = 1m, k = 394.8);\n resonator b (f0 = 1.2 kHz, q = 10, m = 1m);\n"
                   " couple a -- b damper (c = 5m);\n input u -> a (1.0);\n output x = a;\n output y = b;\n"
                   " readout rms from 0 s to 20 ms;\n}\n")
    result = CliRunner().invoke(main, ["compile", str(src), "-o", str(tmp_path / "o"), "--readout", "analog"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    entry = next(e for e in manifest["log"] if e["pass"] == "realise_drive")
    assert not entry["changed"] and "drives stay ideal" in entry["summary"]
    assert manifest["component_counts"].get("G", 0) > 0


def test_unknown_drive_is_refused_before_compiling(tmp_path, toy_path):
    from r2nn_compiler.errors import CompileError
    with pytest.raises(CompileError, match="drive must be 'parts' or 'ideal'"):
        compile_model(load_model(toy_path), tmp_path / "o", options=CompileOptions(drive="part"))


def test_realise_drive_must_run_before_the_readout_and_the_checks():
    from r2nn_compiler.passes import REGISTRY
    for name in ("break_dc_loops", "readout_analog", "calibrate_outputs", "check_reference", "robust_parts",
                 "part_sensitivity"):
        assert "realise_drive" in REGISTRY[name].after, name
