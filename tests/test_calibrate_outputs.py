"""calibrate_outputs: each output's band power trimmed to the model's, in the graph and the manifest."""

import numpy as np
import pytest
from scipy.integrate import trapezoid
from click.testing import CliRunner

from r2nn_compiler import reference
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.passes import CompileOptions, calibrate_outputs, readout_analog
from r2nn_compiler.passes.common import buffers
from r2nn_compiler.passes.common.response import reference_response
from r2nn_compiler.signals import Signal
from r2nn_compiler.verify import read_compiled
from r2nn_compiler.verify.circuit import CircuitUnderTest
from r2nn_compiler.verify.decisions import linear_circuit

from .conftest import ROOT, TOY

TACTILE = ROOT / "examples" / "tactile" / "model_argmax.r2nn"
E96 = {k: "E96" for k in "RCL"}


def deck_band_gains(outdir, model, readout: str) -> np.ndarray:
    """g_j of a compiled deck, measured on what was written (the library read back and the
    manifest's port gains), independently of the pass's own bookkeeping."""
    compiled = read_compiled(outdir)
    cut = linear_circuit(compiled) if readout != "none" else CircuitUnderTest.from_compiled(compiled)
    freqs = calibrate_outputs.calibration_grid(model)
    power = [trapezoid(np.sum(np.abs(h) ** 2, axis=1), freqs, axis=-1)
             for h in (cut.response(freqs), reference_response(model, freqs))]
    return np.sqrt(power[0] / power[1])


@pytest.fixture(scope="module")
def tactile(tmp_path_factory):
    """Tactile (E96, passive inductors) compiled with each readout, with and without calibration:
    ``(model, {readout: (folder, {"cal": result, "raw": result})})``."""
    model = load_model(TACTILE)
    decks = {}
    for readout in ("none", "analog"):
        folder = tmp_path_factory.mktemp(f"tactile_{readout}")
        decks[readout] = (folder, {name: compile_model(model, folder / name, options=CompileOptions(
            series=dict(E96), calibrate=flag, readout=readout)) for name, flag in (("cal", True), ("raw", False))})
    return model, decks


@pytest.mark.parametrize("readout", ["none", "analog"])
def test_the_written_deck_reads_the_models_level_per_output(tactile, readout):
    """Uncalibrated outputs are 1e-4..3e-4 off in band power (inductor trims, and the op-amps'
    gain shortfall in the analog readout's buffers); calibrated, every one is within the trim
    target (ideal readout elements: to rounding)."""
    model, decks = tactile
    folder, _ = decks[readout]
    raw = deck_band_gains(folder / "raw", model, readout)
    cal = deck_band_gains(folder / "cal", model, readout)
    assert np.max(np.abs(raw - 1)) > 1e-4
    limit = 1e-9 if readout == "none" else 4 * calibrate_outputs.TRIM_TARGET
    assert np.max(np.abs(cal - 1)) < limit, cal - 1


def test_calibration_shrinks_the_feature_error(tactile):
    """The point of the pass: the analog deck's linear part, its exact features against the
    model's on noise clips, median over clips and outputs."""
    model, decks = tactile
    folder, _ = decks["analog"]
    rng = np.random.default_rng(3)
    u = rng.standard_normal((6, 1, 4000))

    signals = [Signal(x, 4000.0, f"noise{i}") for i, x in enumerate(u)]
    want = reference.features_of(model, u, 4000.0)
    errors = {}
    for name in ("cal", "raw"):
        got = linear_circuit(read_compiled(folder / name)).features_for(model, {}, signals)
        errors[name] = float(np.median(np.abs(got / want - 1)))
    assert errors["cal"] < 0.6 * errors["raw"], errors


def test_buffers_keep_their_design_gain_in_the_manifest_and_their_parts_in_the_bom(tactile):
    _, decks = tactile
    folder, results = decks["analog"]
    cal, raw = results["cal"], results["raw"]
    entry = next(e for e in cal.log if e.name == "calibrate_outputs")
    assert entry.details["uncalibrated"] == []
    for c, r in zip(cal.manifest["outputs"], raw.manifest["outputs"]):
        buffer = next(b for b in cal.manifest["readout_circuit"]["buffers"] if b["port"] == c["port"])
        design = r["volts_per_unit_velocity"] * buffer["ideal_gain"] / next(
            b for b in raw.manifest["readout_circuit"]["buffers"] if b["port"] == c["port"])["gain"]
        assert c["volts_per_unit_velocity"] == pytest.approx(design, rel=1e-12)
        # The resistor ratio now exceeds the design gain by the op-amps' shortfall (~1e-4 per stage).
        assert 0 < buffer["gain"] / buffer["ideal_gain"] - 1 < 1e-3
        assert buffer["gain"] == pytest.approx(np.prod([s["gain"] for s in buffer["stages"]]), rel=1e-12)
    library = (folder / "cal" / "tactile.lib").read_text()
    bom = (folder / "cal" / "bom.csv").read_text()
    for buffer in cal.manifest["readout_circuit"]["buffers"]:
        last = buffer["stages"][-1]
        for name, value in zip(last["rf"] + [last["rg"]], last["rf_ohm"] + [last["rg_ohm"]]):
            line = next(x for x in library.splitlines() if x.split()[:1] == [name])
            assert float(line.split()[3]) == pytest.approx(value, rel=1e-12)
            assert name in bom


def test_retrim_changes_the_last_stage_by_the_factor():
    from r2nn_compiler.circuit import CircuitGraph, Component, Port
    from r2nn_compiler.circuit.opamp import from_options

    graph = CircuitGraph("t")
    for name, role in (("in1", "input"), ("out1", "output")):
        graph.add_port(Port(name, role, name))
    graph.add(Component("E1", "E", ("out1", "0", "in1", "0"), 137.3))
    graph.add(Component("R1", "R", ("in1", "0"), 1e3))

    class Ctx:  # the two things _buffer reads from the context
        options = CompileOptions(series=dict(E96))
        outputs = [type("P", (), {"node": "n", "name": "c"})()]

    record = readout_analog._buffer(graph, Ctx, 0, "out1", 137.3, from_options(Ctx.options))
    before = record["gain"]
    parts = len(graph.components)
    assert buffers.retrim_buffer(graph, record, 1 + 3e-4, 1e-5)
    assert record["gain"] / before == pytest.approx(1 + 3e-4, abs=2e-5)
    last = record["stages"][-1]
    values = [graph.component(n).value for n in last["rf"]]
    assert 1 + sum(values) / graph.component(last["rg"]).value == pytest.approx(last["gain"], rel=1e-12)
    assert abs(len(graph.components) - parts) <= 1  # one Rf part more or fewer at most
    assert not buffers.retrim_buffer(graph, {"port": "out1", "stages": []}, 1.1, 1e-5)


def test_exact_flows_and_no_calibrate_skip_the_pass(tmp_path):
    model = load_model(TOY)
    exact = compile_model(model, tmp_path / "e", options=CompileOptions(exact=True))
    assert "calibrate_outputs" not in [e.name for e in exact.log]
    result = CliRunner().invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "n"), "--no-calibrate"])
    assert result.exit_code == 0, result.output
    assert "calibrate_outputs" not in result.output
    result = CliRunner().invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "c")])
    assert "calibrate_outputs" in result.output and "output gains calibrated" in result.output


def test_force_voltage_readouts_are_calibrated_too(tmp_path):
    """The planar dual reads each output through a CCVS (H): its transresistance takes the trim.
    Three coupled resonators with the default E12 inductors leave outputs ~1e-3 off in band power."""
    from .test_map_force_voltage import hand_model

    model = hand_model([("r0", "r1", "damper", 0.02), ("r1", "r2", "damper", 0.01)])
    for name, flag in (("cal", True), ("raw", False)):
        result = compile_model(model, tmp_path / name, options=CompileOptions(calibrate=flag))
        assert any(c.startswith("H") for c in result.manifest["component_counts"]), result.manifest["component_counts"]
    raw = deck_band_gains(tmp_path / "raw", model, "none")
    cal = deck_band_gains(tmp_path / "cal", model, "none")
    assert np.max(np.abs(raw - 1)) > 1e-3
    assert np.max(np.abs(cal - 1)) < 1e-9, cal - 1


def noise_signals(count: int, seconds: float = 0.6, rate: float = 4000.0, seed: int = 5) -> list[Signal]:
    rng = np.random.default_rng(seed)
    return [Signal(rng.standard_normal((1, int(seconds * rate))), rate, f"noise{i}") for i in range(count)]


@pytest.mark.parametrize("readout", ["none", "analog"])
def test_calibration_signals_make_the_circuits_features_the_models_on_them(tmp_path, readout):
    """On the signals it is given, the calibrated circuit's features match the model's in power:
    exactly with ideal readout elements, to the buffers' trim target with parts."""
    model = load_model(TACTILE)
    signals = noise_signals(4)
    result = compile_model(model, tmp_path / "o", options=CompileOptions(
        series=dict(E96), readout=readout, calibration_signals=signals))
    entry = next(e for e in result.log if e.name == "calibrate_outputs")
    assert "features on 4 signal(s)" in entry.summary
    compiled = read_compiled(tmp_path / "o")
    circuit = linear_circuit(compiled) if readout != "none" else CircuitUnderTest.from_compiled(compiled)
    got = circuit.features_for(model, {}, signals)
    want = reference.features_of(model, np.stack([s.data for s in signals]), 4000.0)
    ratio = np.sqrt(np.sum(got ** 2, axis=0) / np.sum(want ** 2, axis=0))
    limit = 1e-9 if readout == "none" else 4 * calibrate_outputs.TRIM_TARGET
    assert np.max(np.abs(ratio - 1)) < limit, ratio - 1


def test_bad_calibration_signals_are_one_line_errors(tmp_path):
    from r2nn_compiler.errors import CompileError

    model = load_model(TACTILE)
    two_channels = [Signal(np.zeros((2, 4000)), 4000.0, "two.wav")]
    with pytest.raises(CompileError, match="two.wav: expected 1 input channel"):
        compile_model(model, tmp_path / "a", options=CompileOptions(calibration_signals=two_channels))
    short = noise_signals(1, seconds=0.1)
    with pytest.raises(CompileError, match="readout window ends at"):
        compile_model(model, tmp_path / "b", options=CompileOptions(calibration_signals=short))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_cli_calibrates_on_signal_files(tmp_path):
    signals = ROOT / "examples" / "toy" / "signals"
    result = CliRunner().invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "o"), "--calibrate-signals",
                                       str(signals)])
    assert result.exit_code == 0, result.output
    assert "calibrated to the model's features on 5 signal(s)" in result.output
    result = CliRunner().invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "p"), "--calibrate-signals",
                                       str(tmp_path / "missing.wav")])
    assert result.exit_code == 1 and "missing.wav: no such file or directory" in result.output
    assert not (tmp_path / "p").exists()
