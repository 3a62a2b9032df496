"""On-circuit readout (``--readout analog|behavioural``): decision ports in ngspice agree with the
reference model's argmax, the manifest says where they are, the numpy proof sees the buffers."""

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.circuit import CircuitGraph, Component, Port
from r2nn_compiler.circuit.annotations import opamps as graph_opamps
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.errors import CompileError
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.passes import readout_analog
from r2nn_compiler.passes.common import buffers as buffer_parts, readout as readout_parts
from r2nn_compiler.signals import Signal, load_signal
from r2nn_compiler.sim.rawfile import RawPlot
from r2nn_compiler.verify import read_compiled, verify_deck
from r2nn_compiler.verify import decisions as readout

from .conftest import ROOT, TOY
from .strategies import random_stable_model

TOY_SIGNALS = sorted((ROOT / "examples" / "toy" / "signals").glob("*.wav"))
DECISION_KEYS = {"class", "port", "high_volts", "valid_after_s"}


def noise(n: int, seed: int, seconds: float = 0.02, rate: float = 16_000.0) -> list[Signal]:
    rng = np.random.default_rng(seed)
    return [Signal(0.3 * rng.standard_normal((1, int(seconds * rate) + 1)), rate, f"noise{i}") for i in range(n)]


def assert_decisions_agree(report) -> None:
    """Every signal: exactly one port high, that class is the reference's; figures reported."""
    for s in report.signals:
        d = s.decision
        assert sum(d["high"].values()) == 1, (s.path, d["port_volts"])
        assert d["class"] == s.reference_class, (s.path, d, s.features_reference)
        assert s.agree
    figures = report.decisions
    assert figures["agreement"] == 1.0 and figures["signals"] == len(report.signals)
    assert figures["smallest_margin"] > 0 and figures["worst_detector_error"] is not None
    assert figures["at_risk"] == [] and figures["no_single_decision"] == [] and figures["detectors_clipped"] == []
    assert figures["simulation_limited"] == []
    assert report.to_json()["summary"]["decisions"] == figures
    assert report.passed, report.failures()


def test_behavioural_readout_decides_like_the_reference_on_the_toy(tmp_path):
    model = load_model(TOY)
    compile_model(model, tmp_path / "o", options=CompileOptions(readout="behavioural"))
    report = verify_deck(model, read_compiled(tmp_path / "o"), [load_signal(p, 1) for p in TOY_SIGNALS],
                         run_ac=False)
    assert_decisions_agree(report)
    # B-source detectors integrate exactly: what is left is ngspice's step.
    assert report.decisions["worst_detector_error"] < 1e-3
    # The decision lines over time: the winner's port ends high, its detector ends highest,
    # and the end values are the decision's own; the traces stay out of the JSON report.
    for s in report.signals:
        tr = s.decision_traces
        assert tr["time_s"][-1] >= tr["valid_after_s"] and len(tr["time_s"]) <= readout.TRACE_POINTS
        ends = {c: v[-1] for c, v in tr["port_volts"].items()}
        assert max(ends, key=ends.get) == s.circuit_class
        assert ends[s.circuit_class] == pytest.approx(s.decision["port_volts"][s.circuit_class], rel=1e-3)
        dets = {c: v[-1] for c, v in tr["detector_volts"].items()}
        assert max(dets, key=dets.get) == s.circuit_class
        assert "traces" not in s.decision and "traces" not in json.dumps(s.to_json())
    from r2nn_compiler.verify.plots import write_plots

    written = write_plots(model, report, tmp_path / "plots")
    assert tmp_path / "plots" / "decisions.png" in written and (tmp_path / "plots" / "decisions.png").stat().st_size > 0


def test_part_level_readout_decides_like_the_reference_on_the_toy(tmp_path):
    model = load_model(TOY)
    compile_model(model, tmp_path / "o", options=CompileOptions(readout="analog"))
    # The closest call of the toy's signals (3.2 % margin) and a broadband one.
    picks = [p for p in TOY_SIGNALS if p.stem in ("tone_1600hz", "noise")]
    report = verify_deck(model, read_compiled(tmp_path / "o"), [load_signal(p, 1) for p in picks], run_ac=False)
    assert_decisions_agree(report)
    figures = report.decisions
    assert figures["smallest_margin_signal"].endswith("tone_1600hz.wav")
    assert figures["smallest_margin"] > 2 * figures["feature_error_there"]
    assert figures["worst_detector_error"] < 0.01
    # ngspice's own error in the features (its linear part against the deck's MNA): small, not zero.
    for s in report.signals:
        assert 0 < s.decision["simulation_error"] < s.decision["margin"] / 2, s.decision
        # The error budget: the detected feature's error is within the sum of its parts — the
        # network (exact circuit vs model), the simulator, the window (continuous vs sampled)
        # and the detector (normalised by the largest ideal reading, hence the slack).
        d = s.decision
        parts = d["network_error"] + d["simulation_error"] + d["window_error"] + d["detector_error"]
        assert 0 < d["network_error"] and 0 < d["window_error"] and d["feature_error"] <= 1.05 * parts, d
    assert figures["worst_simulation_error"] == max(s.decision["simulation_error"] for s in report.signals)
    for s in report.signals:  # the high port sits at the divided comparator swing, the others near 0
        high = [v for c, v in s.decision["port_volts"].items() if s.decision["high"][c]]
        assert high[0] == pytest.approx(read_compiled(tmp_path / "o").decisions[0]["high_volts"], rel=0.02)
        assert all(v < 0.5 for c, v in s.decision["port_volts"].items() if not s.decision["high"][c])


@pytest.mark.parametrize("level", ["behavioural", "analog"])
def test_random_model_readout_decides_like_the_reference(tmp_path, level):
    model = random_stable_model(2, n=5)
    compile_model(model, tmp_path / "o", options=CompileOptions(readout=level))
    report = verify_deck(model, read_compiled(tmp_path / "o"), noise(1, seed=2), run_ac=False)
    assert_decisions_agree(report)


def test_manifest_lists_decision_ports_after_outputs(tmp_path):
    result = compile_model(load_model(TOY), tmp_path / "o", options=CompileOptions(readout="analog"))
    m = result.manifest
    # --readout analog drives with parts: toy's negative weight needs the inverted input in1n; the
    # readout's gate and reset are control ports, its ±15 V rails supply ports
    assert m["ports"] == ["in1", "in1n", "out1", "out2", "out3", "dec1", "dec2", "dec3", "ctl1", "ctl2", "vcc", "vee"]
    assert [(c["port"], c["role"]) for c in m["controls"]] == [("ctl1", "window_gate"), ("ctl2", "reset")]
    assert m["supplies"] == [{"port": "vcc", "volts": 15.0}, {"port": "vee", "volts": -15.0}]
    assert [set(d) for d in m["decisions"]] == [DECISION_KEYS] * 3
    assert [d["class"] for d in m["decisions"]] == ["low", "high", "rough"]
    assert all(d["valid_after_s"] > m["readout"]["stop_s"] for d in m["decisions"])
    library = (tmp_path / "o" / "toy.lib").read_text()
    assert ".subckt r2nn_toy in1 in1n out1 out2 out3 dec1 dec2 dec3 ctl1 ctl2 vcc vee\n" in library
    assert "Xreadout out1 out2 out3 dec1 dec2 dec3 det1 det2 det3 ctl1 ctl2 vcc vee r2nn_readout" in library
    testbench = (tmp_path / "o" / "toy.cir").read_text()
    assert "X1 in1 in1n out1 out2 out3 dec1 dec2 dec3 ctl1 ctl2 vcc vee r2nn_toy" in testbench
    assert ".meas tran dec1 FIND v(dec1) AT=" in testbench
    assert read_compiled(tmp_path / "o").decisions == m["decisions"]
    plain = compile_model(load_model(TOY), tmp_path / "p").manifest
    assert plain["decisions"] == [] and plain["readout_circuit"] is None


def test_bom_lists_the_readout_parts(tmp_path):
    import csv
    import io

    result = compile_model(load_model(TOY), tmp_path / "o", options=CompileOptions(readout="analog"))
    rows = list(csv.DictReader(io.StringIO(result.files["bom.csv"])))
    description = result.context.graph.meta["readout"]
    counted = description["parts"]
    listed: dict[str, int] = {}
    for row in rows:
        for name in row["designator"].split():
            if name.startswith("Xreadout."):
                listed[name[9]] = listed.get(name[9], 0) + 1
    # Every readout element is a BOM line, under its instance's prefix.
    assert listed == {"X": counted["op-amps"], "D": counted["diodes"], "Q": counted["transistors"],
                      "S": counted["switches"], "R": counted["resistors"], "C": counted["capacitors"],
                      "V": counted["voltage references"]}
    assert "timing sources" not in counted  # the gate and reset are control ports, driven from outside
    by_value = {(r["kind"], r["value"]): r for r in rows}
    assert by_value[("D", "1N4148")]["series"] == by_value[("Q", "2N3904")]["series"] == "part"
    assert by_value[("X", "opamp_clamp")]["series"] == "op-amp"
    assert ("V", "timing source") not in by_value
    # Buffer op-amps count as op-amps; every readout resistor is an E96 value.
    buffers = [op.designator for op in graph_opamps(result.context.graph) if op.realises == "output buffer"]
    assert buffers and all(any(b in r["designator"].split() and r["series"] == "op-amp" for r in rows)
                           for b in buffers)
    from r2nn_compiler import eseries

    for r in rows:
        if r["kind"] == "R" and "Xreadout." in r["designator"]:
            assert r["series"] == "E96" and eseries.nearest(float(r["value"]), "E96") == pytest.approx(float(r["value"]))
    # The manifest's part count is the BOM's, readout included.
    assert result.manifest["parts"] == sum(int(r["quantity"]) for r in rows if r["series"] != "ideal")


def test_low_voltage_opamps_scale_the_buffers_and_refuse_the_parts_readout(tmp_path):
    toy = load_model(TOY)
    low = {"supply_v": 1.65}  # swing 1.485 V
    with pytest.raises(CompileError, match=r"parts-level readout needs op-amps that swing ±12 V.*swings ±1.485 V"):
        compile_model(toy, tmp_path / "a", options=CompileOptions(readout="analog", opamp_params=low))
    assert not (tmp_path / "a").exists()
    result = compile_model(toy, tmp_path / "b", options=CompileOptions(readout="behavioural", opamp_params=low))
    details = next(e for e in result.log if e.name == "readout_analog").details
    assert details["buffer_peak_v"] == pytest.approx(0.75 * 1.485)
    default = compile_model(toy, tmp_path / "c", options=CompileOptions(readout="behavioural"))
    assert next(e for e in default.log if e.name == "readout_analog").details["buffer_peak_v"] == pytest.approx(10.0)


def test_decision_ports_come_before_supplies():
    graph = CircuitGraph()
    for port in (Port("in1", "input"), Port("out1", "output"), Port("vcc", "supply"), Port("dec1", "decision")):
        graph.add_port(port)
    graph.add(Component("R1", "R", ("dec1", "0"), 1e4))
    graph.add(Component("R2", "R", ("vcc", "0"), 1e4))
    ordered = readout_parts.decisions_before_supplies(graph)
    assert [p.name for p in ordered.ports] == ["in1", "out1", "dec1", "vcc"]
    assert [c.name for c in ordered.components] == ["R1", "R2"]


def test_numpy_proof_sees_the_buffers_loading(tmp_path, monkeypatch):
    model = load_model(TOY)
    # Exact flow: ideal buffers, the proof holds to 1e-6.
    exact = compile_model(model, tmp_path / "e", options=CompileOptions(exact=True, readout="behavioural"))
    assert exact.log[-1].name == "check_reference" and exact.log[-1].details["h_relative_error"] < 1e-6
    # Hardware flow: the buffer's input resistance sits on the resonator net in the graph, so a
    # low one shows up in the proof's error.
    def error(r_in: float) -> float:
        monkeypatch.setattr(readout_analog, "INPUT_RESISTANCE_OHM", r_in)
        log = compile_model(model, tmp_path / "h", options=CompileOptions(readout="analog")).log
        return next(e for e in log if e.name == "check_reference").details["h_relative_error"]

    assert error(1e12) < 0.02
    assert error(1e3) > 0.1


def test_buffer_gains_realise_the_weights():
    for gain in (1.5, 20.0, 24.0, 137.3, 29.9):
        rf, rg, achieved = buffer_parts.gain_pair(gain)
        assert abs(achieved / gain - 1) <= buffer_parts.GAIN_TARGET
        assert achieved == pytest.approx(1 + sum(rf) / rg)
    with pytest.raises(CompileError):
        buffer_parts.gain_pair(1.0)


def test_multi_stage_buffers_realise_the_whole_weight(tmp_path):
    """Tactile's buffers need two and three stages (gains 570..1640): each stage aims at the
    gain still missing, so the product, not just each stage, is within GAIN_TARGET (equal
    stages of one E96 ratio each compounded to 2e-4 on the 'rough' class). Uncalibrated: the
    calibration moves the ratio on purpose (see test_calibrate_outputs)."""
    model = load_model(ROOT / "examples" / "tactile" / "model_argmax.r2nn")
    result = compile_model(model, tmp_path / "o", options=CompileOptions(
        series={k: "E96" for k in "RCL"}, readout="analog", inductors="gic", calibrate=False))
    buffers = result.manifest["readout_circuit"]["buffers"]
    assert max(len(b["stages"]) for b in buffers) == 3
    for b in buffers:
        assert b["gain"] == pytest.approx(np.prod([s["gain"] for s in b["stages"]]), rel=1e-12)
        assert abs(b["gain"] / b["ideal_gain"] - 1) <= buffer_parts.GAIN_TARGET, b


def test_unknown_readout_is_a_one_line_error(tmp_path):
    with pytest.raises(CompileError, match="unknown readout 'digital'"):
        compile_model(load_model(TOY), tmp_path / "o", options=CompileOptions(readout="digital"))


def fake_plot(volts: list[float], dets: list[float], at: float = 0.021) -> RawPlot:
    t = np.array([0.0, 0.01, 0.02, at])
    data = {"time": t}
    for j, (v, d) in enumerate(zip(volts, dets), start=1):
        data[f"v(dec{j})"] = np.full(4, v)
        data[f"v(x1.det{j})"] = np.array([0.0, d / 2, d, d])
        data[f"v(out{j})"] = np.full(4, np.sqrt(d))
    return RawPlot("t", "", "Transient Analysis", {"real"}, [(k, "v") for k in data], data)


MANIFEST = {"decisions": [{"class": c, "port": f"dec{j}", "high_volts": 5.0, "valid_after_s": 0.021}
                          for j, c in enumerate("abc", start=1)],
            "readout_circuit": {"window_s": [0.0, 0.02], "volts_per_mean_square": 1.0,
                                "detectors": [{"class": c, "net": f"det{j}", "volts_per_feature_squared": 1.0}
                                              for j, c in enumerate("abc", start=1)]}}


@pytest.mark.parametrize("volts, decided", [([5.0, 0.0, 0.0], "a"), ([0.0, 4.9, -0.6], "b"),
                                            ([0.0, 0.1, 0.0], readout.NONE), ([5.0, 5.0, 0.0], readout.AMBIGUOUS)])
def test_the_decision_is_the_one_port_high(volts, decided):
    assert readout.evaluate(fake_plot(volts, [1.0, 0.5, 0.25]), MANIFEST, 0, 1)["class"] == decided


def test_feature_deviation_is_the_worst_over_classes_relative_to_the_largest_feature():
    ref = {"a": 2.0, "b": 1.0}
    assert readout.feature_deviation({"a": 2.0, "b": 1.1}, {"a": 2.0, "b": 1.0}, ref) == pytest.approx(0.05)
    assert readout.feature_deviation({"a": 1.9, "b": 1.1}, {"a": 2.0, "b": 1.0}, ref) == pytest.approx(0.05)
    assert readout.feature_deviation(ref, ref, ref) == 0.0
    rows = [("x", {"class": "a", "agree": True, "margin": 0.01, "simulation_error": 0.006}),
            ("y", {"class": "a", "agree": True, "margin": 0.2, "simulation_error": 0.006})]
    summary = readout.summarise(rows)
    assert summary["simulation_limited"] == ["x"] and summary["worst_simulation_error"] == 0.006
    assert summary["simulation_error_there"] == 0.006


def test_margin_is_set_against_the_detector_and_feature_errors():
    decision = readout.evaluate(fake_plot([5.0, 0.0, 0.0], [1.0, 0.81, 0.25]), MANIFEST, 0, 1)
    figures = readout.margin_figures(MANIFEST, decision, {"a": 1.0, "b": 0.95, "c": 0.5})
    assert figures["margin"] == pytest.approx(0.05)
    assert figures["detector_error"] == pytest.approx(0.0, abs=1e-12)  # det = vpms · MS of its input
    assert figures["features_detected"]["b"] == pytest.approx(0.9)
    assert figures["feature_error"] == pytest.approx(0.05)
    assert figures["at_risk"]  # 5 % margin against 5 % feature error: could flip
    assert "window_error" not in figures
    # The sampled features of the same ports: b's continuous mean square reads 0.9, its samples 0.92.
    sampled = readout.margin_figures(MANIFEST, decision, {"a": 1.0, "b": 0.95, "c": 0.5},
                                     {"a": 1.0, "b": 0.92, "c": 0.5})
    assert sampled["window_error"] == pytest.approx(0.02)


def test_cli_compiles_with_readout_and_reports_the_margin(tmp_path):
    runner = CliRunner()
    out = tmp_path / "o"
    result = runner.invoke(main, ["compile", str(TOY), "-o", str(out), "--readout", "behavioural"])
    assert result.exit_code == 0, result.output
    assert "readout_analog" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [d["port"] for d in manifest["decisions"]] == ["dec1", "dec2", "dec3"]
    result = runner.invoke(main, ["verify", str(TOY), str(out), str(TOY_SIGNALS[-1]), "--no-ac",
                                  "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "smallest winning margin" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["signals"][0]["decision"]["class"] == report["signals"][0]["reference_class"]
    assert "decisions" in report["summary"]


WTA_PREFIXES = ("Rmax", "Xmax", "Dmax", "Rmx", "Dlose", "Xcmp", "Rdec", "Dclamp")


def test_settling_is_a_hundredth_of_the_window_within_bounds():
    assert readout_parts.settling_s("parts", 0.02) == 1e-3  # the toy: the shortest
    assert readout_parts.settling_s("parts", 0.3) == pytest.approx(3e-3)
    assert readout_parts.settling_s("parts", 0.5) == 5e-3  # the demos
    assert readout_parts.settling_s("parts", 10.0) == 5e-3
    assert readout_parts.settling_s("behavioural", 0.5) == 1e-5


def wta_ends(tmp_path, overtake: bool, gap: float, settle: float) -> tuple[list[float], float]:
    """The parts-level winner-take-all alone, driven by two detector voltages that rise together
    over a 0.1 s window and end ``gap`` apart at det ≈ 1.6 V, det2 overtaking det1 in the last
    2 % of the window (or staying behind): the two decision ports ``settle`` after the window,
    and the nominal high level."""
    from r2nn_compiler.backend.ngspice import NgspiceNetlister
    from r2nn_compiler.circuit.opamp import from_options
    from r2nn_compiler.sim import NgspiceBatch

    t1, top = 0.1, 1.6
    desc = readout_analog.readout_description("parts", 2, 0.0, t1, from_options(CompileOptions()), "E96")
    clamp, readout_sub = desc["subcircuits"][0], desc["subcircuits"][-1]
    wta = dataclasses.replace(readout_sub, ports=("det1", "det2", "dec1", "dec2", "vcc", "vee"),
                              components=[e for e in readout_sub.components if e.name.startswith(WTA_PREFIXES)])
    net = NgspiceNetlister()
    lines = ["* wta resolution"] + net.subcircuit(clamp) + net.subcircuit(wta)
    lines += [f"Xwta det1 det2 dec1 dec2 vcc vee {wta.name}", "Vcc vcc 0 dc 15", "Vee vee 0 dc -15"]
    end2 = top + gap if overtake else top - gap
    lines += [f"Vdet1 det1 0 pwl(0 0 {t1} {top})",
              f"Vdet2 det2 0 pwl(0 0 {0.98 * t1} {0.99 * 0.98 * top} {t1} {end2})",
              f".tran 1e-6 {t1 + settle}", ".options reltol=1e-4", ".end"]
    plot = NgspiceBatch().run_text("\n".join(lines) + "\n", tmp_path).plot("tran")
    return [float(np.real(plot.get(f"v(dec{j})"))[-1]) for j in (1, 2)], desc["high_volts"]


@pytest.mark.parametrize("overtake", [True, False])
@pytest.mark.parametrize("gap, settle", [(4e-4, 1e-3), (5e-5, 5e-3)])
def test_wta_resolves_a_late_overtake(tmp_path, overtake, gap, settle):
    """0.4 mV (a 0.012 % feature difference) within 1 ms, 50 µV (0.0016 %) within 5 ms: port 2
    alone high when det2 overtook det1, port 1 alone when it stayed behind. A max follower that
    saturates when losing (no Dlose/Rmx) needs ~2 ms to come back from the rail with 0.4 mV of
    overdrive and keeps port 1 high."""
    ends, high = wta_ends(tmp_path, overtake, gap, settle)
    winner, loser = (1, 0) if overtake else (0, 1)
    assert ends[winner] > 0.5 * high and ends[loser] < 0.5 * high, ends


def test_a_50_microvolt_overtake_is_not_resolved_within_a_millisecond(tmp_path):
    """Why long windows get 5 ms (settling_s): 1 ms after the window both ports are still high,
    as tactile clip 58's passive deck left them (detectors 50 µV apart)."""
    ends, high = wta_ends(tmp_path, True, 5e-5, 1e-3)
    assert min(ends) > 0.5 * high, ends


def test_a_decision_row_zooms_on_a_stage_that_runs_after_the_window():
    """The micropower readout decides 4.7 ms after a 0.5 s window: the row shows that stage and as
    much of the window's end; a readout deciding during or well after the window shows everything."""
    from r2nn_compiler.verify.plots import decision_span

    t = np.linspace(0.0, 0.51, 5101)
    shown = decision_span({"valid_after_s": 0.5047, "window_s": [0.0, 0.5]}, t)
    assert t[shown][0] == pytest.approx(0.5047 - 2 * 0.0047, abs=1e-4) and t[shown][-1] == t[-1]
    assert decision_span({"valid_after_s": 0.505, "window_s": [0.0, 0.2]}, t).all()
    assert decision_span({"valid_after_s": 0.4}, t).all()
