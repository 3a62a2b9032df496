"""A linear-readout model compiles and verifies like any other: one tap per resonator the layer
reads (manifest ``taps``, ports after the inputs), calibrated like outputs, verified in ngspice on
the layer's scores, and decided on the circuit by the behavioural layer (``--readout behavioural``)."""

import dataclasses
import json
import re
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler import reference
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model, load_signals, save_model, verify
from r2nn_compiler.errors import CompileError, VerificationError
from r2nn_compiler.model.ir import LINEAR, ClassScore, Feature, Readout
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.passes.common import readout_linear
from r2nn_compiler.verify.tolerance import analyse
from r2nn_compiler.verify import read_compiled, verify_deck
from r2nn_compiler.verify import decisions as readout
from r2nn_compiler.verify.circuit import CircuitUnderTest
from r2nn_compiler.numerics.window_energy import segment_energies

from .conftest import ROOT, TOY

TOY_SIGNALS = ROOT / "examples" / "toy" / "signals"
E96 = {k: "E96" for k in "RCL"}


def linear_toy(analogy: str = "force_current"):
    """The toy network with a linear layer instead of its outputs: 5 features over 2 segments of
    its 20 ms window, reading all three resonators (in the order a, b, t), 3 classes. On the
    toy signals it decides low (chirp, noise, 100 Hz), high (1.2 kHz) and rough (1.6 kHz)."""
    toy = load_model(TOY)
    features = (Feature("a_early", "a", 0), Feature("b_early", "b", 0), Feature("t_late", "t", 1),
                Feature("b_late", "b", 1), Feature("a_late", "a", 1))
    classes = (ClassScore("low", 0.5, (("a_early", 1.0), ("a_late", 0.8), ("b_early", -0.6))),
               ClassScore("high", 0.0, (("b_early", 1.2), ("b_late", 0.7), ("a_early", -0.5))),
               ClassScore("rough", -0.3, (("t_late", 1.0), ("a_late", -0.2))))
    layer = Readout(LINEAR, 0.0, 0.02, segments=(0.0, 0.01, 0.02), floor=1e-6, features=features, classes=classes)
    return dataclasses.replace(toy, outputs=(), readout=layer, analogy=analogy)


@pytest.fixture(scope="module")
def model():
    return linear_toy()


@pytest.fixture(scope="module")
def signals(model):
    return load_signals(model, [TOY_SIGNALS])


@pytest.fixture(scope="module")
def decks(model, tmp_path_factory):
    """The linear toy compiled five ways: exact, hardware (every part E96, band-power calibration),
    hardware uncalibrated, and the behavioural readout exact and on E96 parts."""
    root = tmp_path_factory.mktemp("linear")
    options = {"exact": CompileOptions(exact=True), "e96": CompileOptions(series=dict(E96)),
               "e96_raw": CompileOptions(series=dict(E96), calibrate=False),
               "behavioural": CompileOptions(exact=True, readout="behavioural"),
               "e96_behavioural": CompileOptions(series=dict(E96), readout="behavioural")}
    return {name: compile_model(model, root / name, options=opt) for name, opt in options.items()}


def test_reference_decides_three_classes_on_the_toy_signals(model, signals):
    """The test model is worth verifying: its decisions differ across the toy signals."""
    decided = {model.classes[int(np.argmax(reference.features_of(model, s.data[None], s.rate_hz)[0]))]
               for s in signals}
    assert decided == {"low", "high", "rough"}


@pytest.mark.parametrize("name", ["exact", "e96", "behavioural"])
def test_manifest_lists_one_tap_per_read_resonator_after_the_outputs(decks, model, name):
    manifest = decks[name].manifest
    keys = list(manifest)
    assert manifest["outputs"] == [] and keys.index("taps") == keys.index("outputs") + 1
    assert [t["node"] for t in manifest["taps"]] == model.read_nodes == ["a", "b", "t"]
    assert [t["port"] for t in manifest["taps"]] == ["tap1", "tap2", "tap3"]
    assert all(set(t) == {"node", "port", "volts_per_unit_velocity"} for t in manifest["taps"])
    decisions = [d["port"] for d in manifest["decisions"]]
    controls = [c["port"] for c in manifest.get("controls", [])]
    assert manifest["ports"] == (["in1", "tap1", "tap2", "tap3"] + decisions + controls
                                 + [s["port"] for s in manifest["supplies"]])
    assert manifest["readout"]["segments_s"] == pytest.approx([0.0, 0.01 * manifest["time_scale"],
                                                               0.02 * manifest["time_scale"]])
    library = (decks[name].outdir / manifest["library"]).read_text()
    subckt = next(line for line in library.splitlines() if line.startswith(f".subckt {manifest['subckt']} "))
    assert subckt.split()[2:] == manifest["ports"]
    # User names reach the deck only in comments.
    names = {"low", "high", "rough", "a_early", "b_late", "t_late"}
    assert not names & {w for line in library.splitlines() if not line.startswith("*") for w in re.split(r"\W+", line)}


def test_exact_taps_are_the_read_nodes_velocities(decks):
    manifest = decks["exact"].manifest
    assert all(t["volts_per_unit_velocity"] == 1.0 for t in manifest["taps"]) and manifest["time_scale"] == 1.0
    check = next(e for e in decks["exact"].log if e.name == "check_reference")
    assert check.details["h_relative_error"] < 1e-9


def test_force_voltage_taps_are_proven_too(tmp_path):
    result = compile_model(linear_toy("force_voltage"), tmp_path / "fv", exact=True)
    assert [t["port"] for t in result.manifest["taps"]] == ["tap1", "tap2", "tap3"]
    assert next(e for e in result.log if e.name == "check_reference").details["h_relative_error"] < 1e-9


def test_old_kind_manifest_has_no_taps(tmp_path):
    """The rms readouts' decks are as they were: no ``taps``, outputs ``out<j>``, one RMS per output."""
    result = compile_model(load_model(TOY), tmp_path / "toy", exact=True)
    assert "taps" not in result.manifest and "segments_s" not in result.manifest["readout"]
    assert [o["port"] for o in result.manifest["outputs"]] == ["out1", "out2", "out3"]
    assert re.findall(r"^\.meas tran (\S+)", result.files["toy.cir"], re.M) == ["rms_out1", "rms_out2", "rms_out3"]


def test_shipped_testbench_measures_each_taps_mean_square_per_segment(decks, model, tmp_path):
    """Plain ``ngspice -b`` on the shipped testbench prints each tap's RMS over each segment: its
    square over the tap's gain² is the mean square the layer's features take (the chirp input)."""
    import shutil

    shutil.copytree(decks["e96"].outdir, tmp_path / "deck")
    run = subprocess.run(["ngspice", "-b", "toy.cir"], cwd=tmp_path / "deck", capture_output=True, text=True,
                         timeout=300)
    measured = {k: float(v) for k, v in re.findall(r"^(rms_tap\d_s\d)\s+=\s+(\S+)", run.stdout, re.M)}
    assert len(measured) == 6, run.stdout[-2000:]
    manifest = decks["e96"].manifest
    rate = manifest["testbench_signal"]["sample_rate_hz"] * manifest["time_scale"]
    data = np.loadtxt(tmp_path / "deck" / "toy_input.txt")[:, 1:].T / manifest["inputs"][0]["volts_per_unit"]
    energy = segment_energies(reference.state_space(model), data[None], 1 / rate, model.readout.boundaries)[0]
    for i, tap in enumerate(manifest["taps"]):
        for k in range(2):
            ms = energy[i, k] / 0.01
            got = measured[f"rms_tap{i + 1}_s{k + 1}"] ** 2 / tap["volts_per_unit_velocity"] ** 2
            assert got == pytest.approx(ms, rel=5e-3), (tap["node"], k)


@pytest.mark.parametrize("name", ["exact", "e96"])
def test_deck_verifies_in_ngspice_on_the_layers_scores(decks, model, name):
    report = verify(model, decks[name].outdir, [TOY_SIGNALS])
    assert report.passed, report.failures()
    assert report.class_agreement == 1.0
    assert {s.reference_class for s in report.signals} == {"low", "high", "rough"}
    assert report.worst_nrmse < 0.005
    for s in report.signals:
        assert list(s.nrmse) == model.read_nodes  # one NRMSE per tap, against that node's velocity
        assert list(s.layer_features_reference) == [f.name for f in model.readout.features]
        assert max(abs(s.layer_features_circuit[f] - v) for f, v in s.layer_features_reference.items()) < 1e-2
        assert max(abs(s.features_circuit[c] - v) for c, v in s.features_reference.items()) < 1e-2
    data = report.to_json()
    signal = data["signals"][0]
    assert set(signal["features_reference"]) == set(model.classes)  # the scores
    assert set(signal["layer_features_reference"]) == {"a_early", "b_early", "t_late", "b_late", "a_late"}
    assert [(a["node"], a["input"]) for a in data["ac"]] == [("a", "u"), ("b", "u"), ("t", "u")]
    if name == "e96":
        assert not report.exact and set(report.signals[0].nrmse_vs_circuit) == {"a", "b", "t"}
        assert all(s.network_error is not None and s.network_error < 1e-2 for s in report.signals)


def test_calibration_trims_each_taps_band_power(decks, model):
    """Uncalibrated, the E96 taps are ~1e-4 off the model's band power; calibrated, to rounding."""
    from r2nn_compiler.passes.calibrate_outputs import calibration_grid
    from r2nn_compiler.passes.common.response import reference_response
    from scipy.integrate import trapezoid

    freqs = calibration_grid(model)
    model_power = trapezoid(np.sum(np.abs(reference_response(model, freqs)) ** 2, axis=1), freqs, axis=-1)

    def gains(name: str) -> np.ndarray:
        cut = CircuitUnderTest.from_compiled(read_compiled(decks[name].outdir))
        power = trapezoid(np.sum(np.abs(cut.response(freqs)) ** 2, axis=1), freqs, axis=-1)
        return np.sqrt(power / model_power)

    assert np.max(np.abs(gains("e96_raw") - 1)) > 2e-5
    assert np.max(np.abs(gains("e96") - 1)) < 1e-9


def test_calibration_on_signals_matches_each_taps_energy_over_its_segments(model, signals, tmp_path):
    """With --calibrate-signals each tap's energy over the segments its features read, summed
    over the signals, is the model's (measured on the written deck, exactly)."""
    result = compile_model(model, tmp_path / "cal", options=CompileOptions(series=dict(E96),
                                                                           calibration_signals=signals))
    assert "tap energies" in next(e for e in result.log if e.name == "calibrate_outputs").summary
    cut = CircuitUnderTest.from_compiled(read_compiled(tmp_path / "cal"))
    u = np.stack([s.data for s in signals])
    rate, ts = signals[0].rate_hz, cut.time_scale
    bounds = np.asarray(model.readout.boundaries)
    circuit = segment_energies(cut.state_space(), u * cut.in_gain[None, :, None], ts / rate, bounds * ts)
    circuit /= cut.out_gain[None, :, None] ** 2 * ts
    ideal = segment_energies(reference.state_space(model), u, 1 / rate, bounds)
    used = np.zeros((3, 2))
    node, segment = reference.feature_taps(model)
    used[node, segment] = 1
    ratio = np.sum(circuit * used, axis=(0, 2)) / np.sum(ideal * used, axis=(0, 2))
    assert np.max(np.abs(ratio - 1)) < 1e-9


@pytest.mark.parametrize("name", ["behavioural", "e96_behavioural"])
def test_behavioural_layer_decides_like_the_reference(decks, model, name):
    report = verify(model, decks[name].outdir, [TOY_SIGNALS], run_ac=False)
    assert report.passed, report.failures()
    for s in report.signals:
        d = s.decision
        assert sum(d["high"].values()) == 1 and d["class"] == s.reference_class, (s.path, d["port_volts"])
        assert len(d["tap_energy"]) == 3 and all(len(row) == 2 for row in d["tap_energy"])
        # The score nets hold the layer's scores (1 V per unit), within ngspice's step control.
        assert d["feature_error"] < 2e-2 and d["detector_error"] < 2e-2
        assert d["margin"] == pytest.approx(np.diff(np.sort(list(s.features_reference.values()))[-2:])[0])
    figures = report.decisions
    assert figures["margins"] == "absolute" and figures["agreement"] == 1.0
    assert figures["at_risk"] == [] and figures["no_single_decision"] == []
    assert {s.circuit_class for s in report.signals} == {"low", "high", "rough"}


def test_behavioural_layer_is_declared_ideal(decks, model):
    """Per feature a detector (B) and its log (B), per class a score (B) and a WTA output (B),
    all ideal in the manifest's counts and the BOM; per segment a gate, a control port the host drives."""
    manifest = decks["behavioural"].manifest
    circuit = manifest["readout_circuit"]
    n_features, n_classes = len(model.readout.features), len(model.classes)
    assert circuit["parts"] == {"B-sources": 2 * n_features + 2 * n_classes, "capacitors": n_features}
    assert [(c["port"], c["role"]) for c in manifest["controls"]] == [("ctl1", "segment_gate_1"),
                                                                     ("ctl2", "segment_gate_2")]
    assert [d["net"] for d in circuit["detectors"]] == ["sc1", "sc2", "sc3"]
    assert circuit["buffers"] == []
    assert [d["valid_after_s"] for d in manifest["decisions"]] == [pytest.approx(0.02 + 1e-5)] * 3
    bom = (decks["behavioural"].outdir / "bom.csv").read_text().splitlines()
    readout_rows = [row for row in bom if "Xreadout." in row]
    assert readout_rows and all(",ideal," in row for row in readout_rows)
    library = (decks["behavioural"].outdir / manifest["library"]).read_text()
    assert "Bphi1 phi1 0 V=ln(max(v(ms1),0)+1e-06)" in library
    assert "Bsc3 sc3 0 V=-3e-01+1e+00*v(phi3)-2e-01*v(phi5)" in library


def test_readout_analog_on_a_linear_model_is_a_one_line_error(model, tmp_path):
    path = tmp_path / "linear.r2nn"
    save_model(model, path)
    result = CliRunner().invoke(main, ["compile", str(path), "-o", str(tmp_path / "o"), "--readout", "analog"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "--readout analog" in result.output
    assert not (tmp_path / "o").exists()
    with pytest.raises(CompileError, match="linear readout layer"):
        compile_model(model, tmp_path / "o", options=CompileOptions(readout="analog"))


def test_verify_refuses_a_deck_of_the_other_readout(decks, model, signals):
    with pytest.raises(VerificationError, match="resonators its readout layer reads"):
        verify_deck(model, read_compiled(ROOT / "netlists" / "toy"), signals[:1])
    with pytest.raises(VerificationError, match="outputs"):
        verify_deck(load_model(TOY), read_compiled(decks["exact"].outdir), signals[:1])


def test_tolerance_runs_on_a_linear_deck(decks, model, signals):
    report = analyse(model, read_compiled(decks["e96"].outdir), signals, {"R": 0.01, "C": 0.01, "L": 0.01},
                     runs=6, spot_checks=1, spot_signals=2, workers=1)
    assert report.nominal_agreement == 1.0 and report.agreement.shape == (6,)
    assert report.sensitivity and all(r["feature_change"] >= 0 for r in report.sensitivity)
    assert report.spot_checks[0]["decisions_agree"] == 2
    assert report.spot_checks[0]["ngspice_vs_mna_nrmse"] < 5e-3


def test_score_margins_and_errors_are_absolute():
    scores = {"a": -3.0, "b": -1.5, "c": -1.0}
    assert readout.winning_margin(scores, absolute=True) == pytest.approx(0.5)
    assert readout.feature_deviation({"a": -3.0, "b": -1.4, "c": -1.0}, scores, scores, absolute=True) == \
        pytest.approx(0.1)
    manifest = {"taps": [{}], "readout_circuit": {"detectors": [
        {"class": c, "net": f"sc{j}", "volts_per_unit_score": 1.0} for j, c in enumerate(scores, 1)]}}
    decision = {"detector_volts": {"a": -3.0, "b": -1.45, "c": -1.02}}
    figures = readout.margin_figures(manifest, decision, scores, {"a": -3.0, "b": -1.5, "c": -1.0},
                                     {"a": -3.0, "b": -1.46, "c": -1.0})
    assert figures["margin"] == pytest.approx(0.5)
    assert figures["feature_error"] == pytest.approx(0.05)
    assert figures["detector_error"] == pytest.approx(0.02)
    assert figures["window_error"] == pytest.approx(0.04)
    assert figures["at_risk"] is False


def test_segment_gates_hand_over_and_scores_skip_zero_weights():
    gates = readout_linear.segment_gates([0.0, 0.01, 0.03], 1e-6)
    assert gates[0] == [[0.0, 1.0], [0.01, 1.0], [0.01 + 1e-6, 0.0]]
    assert gates[1] == [[0.0, 0.0], [0.01, 0.0], [0.01 + 1e-6, 1.0], [0.03, 1.0], [0.03 + 1e-6, 0.0]]
    assert readout_linear.score_expression(-0.5, [2.0, 0.0, -1.0], lambda v: f"{v:g}") == "-0.5+2*v(phi1)-1*v(phi3)"


def test_check_json_of_a_verified_linear_deck(decks, model, tmp_path):
    """``r2nn verify --json`` of a behavioural deck: per signal the scores, the features φ, the
    NRMSE per tap and the decision's absolute figures."""
    path = tmp_path / "linear.r2nn"
    save_model(model, path)
    result = CliRunner().invoke(main, ["verify", str(path), str(decks["behavioural"].outdir), "--signals",
                                       str(TOY_SIGNALS / "tone_1200hz.wav"), "--no-ac", "--json",
                                       str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "(score)" in result.output
    data = json.loads((tmp_path / "r.json").read_text())
    signal = data["signals"][0]
    assert set(signal["nrmse"]) == {"a", "b", "t"} and signal["decision"]["class"] == "high"
    assert data["summary"]["decisions"]["margins"] == "absolute"


def wide_toy():
    """The toy network read by a layer of 36 features (three resonators × 12 segments): the
    first class weighs all 36, more than one B-source sums (``TERMS_PER_SOURCE``)."""
    toy = load_model(TOY)
    bounds = tuple(0.02 * k / 12 for k in range(13))
    features = tuple(Feature(f"{n}{k}", n, k) for k in range(12) for n in "abt")
    rng = np.random.default_rng(3)
    wide = ClassScore("low", 0.2, tuple((f.name, float(w)) for f, w in zip(features, rng.uniform(0.05, 0.2, 36))))
    classes = (wide, ClassScore("high", 0.0, (("b3", 1.5), ("b9", 1.0))), ClassScore("rough", 0.0, (("t11", 2.0),)))
    layer = Readout(LINEAR, 0.0, 0.02, segments=bounds, floor=1e-6, features=features, classes=classes)
    return dataclasses.replace(toy, outputs=(), readout=layer)


def test_a_class_of_many_weights_is_summed_in_parts_and_decides_like_the_reference(tmp_path):
    from r2nn_compiler.passes.common.readout_linear import TERMS_PER_SOURCE

    model = wide_toy()
    assert len(model.readout.features) > TERMS_PER_SOURCE
    compiled = compile_model(model, tmp_path / "wide", options=CompileOptions(exact=True, readout="behavioural"))
    lib = (tmp_path / "wide" / compiled.manifest["library"]).read_text()
    assert "Bsc1_1 " in lib and "Bsc1_2 " in lib and "Bsc2_1 " not in lib
    report = verify(model, tmp_path / "wide", [TOY_SIGNALS], run_ac=False)
    assert report.passed, report.failures()
    assert all(s.decision["class"] == s.reference_class for s in report.signals)
    assert max(s.decision["feature_error"] for s in report.signals) < 2e-2
