"""The micropower readout of a diode-law layer (``passes.common.readout_micropower``): what the deck holds
(no ideal controlled source in the model's subcircuit, one 3.3 V supply, control ports), the
design arithmetic, and in ngspice the decisions against the reference's law and the measured
supply energy against the manifest's estimate."""

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from r2nn_compiler.compiler import compile_model, load_model, verify
from r2nn_compiler.errors import CompileError
from r2nn_compiler.model.ir import ClassScore, DiodeLaw
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.passes.common import readout_micropower as mp

from .conftest import ROOT, TOY
from .test_compile_linear_readout import TOY_SIGNALS, linear_toy

#: Gains (V per node unit) putting each toy node's largest peak over the toy signals at 1.2 V.
GAINS = {"a": 0.2575272267570599, "b": 3.710685744190315, "t": 0.7705022401917934}
#: The cells' law: the 1N4148 card with 4.7 nF (k = Is/(C n Vt)), TS12A44515 hold droop.
LAW = DiodeLaw(nvt=0.04343, rate=12.22, clip=1.6, hold=7.75)


def law_toy():
    """The linear toy (its negative coupling made positive: no active part in the network) under
    the diode law, per-node gains (two need dividers), three classes with margins ≥ 0.127 on the
    toy signals: low (chirp, 100 Hz), high (1.2 kHz), rough (noise, 1.6 kHz, by its bias)."""
    toy = linear_toy()
    couplings = tuple(dataclasses.replace(c, value=abs(c.value)) for c in toy.couplings)
    ro = toy.readout
    features = tuple(dataclasses.replace(f, gain=GAINS[f.node]) for f in ro.features)
    classes = (ClassScore("low", 0.0, (("a_early", 1.0), ("a_late", 1.0))),
               ClassScore("high", 0.0, (("b_early", 1.0), ("b_late", 1.0))),
               ClassScore("rough", 0.25, (("t_late", 0.3),)))
    layer = dataclasses.replace(ro, law=LAW, floor=0.0, features=features, classes=classes)
    return dataclasses.replace(toy, couplings=couplings, readout=layer)


@pytest.fixture(scope="module")
def model():
    return law_toy()


def test_the_example_file_is_this_model(model):
    """examples/toy/toy_law.r2nn (the docs' commands use it) holds the model these tests build."""
    shipped = load_model(ROOT / "examples" / "toy" / "toy_law.r2nn")
    assert shipped.readout.law == model.readout.law
    assert [(f.name, f.gain) for f in shipped.readout.features] == [(f.name, f.gain) for f in model.readout.features]
    assert [c.value for c in shipped.couplings] == [c.value for c in model.couplings]


@pytest.fixture(scope="module")
def deck(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("micropower") / "o"
    compile_model(model, out, options=CompileOptions(readout="analog"))
    return out


def _main_subckt(deck, name: str) -> list[str]:
    text = (deck / f"{name}.lib").read_text()
    body = text.split(f".subckt r2nn_{name} ", 1)[1].split(f".ends r2nn_{name}", 1)[0]
    return [line for line in body.splitlines()[1:] if line and not line.startswith("*")]


def test_deck_has_no_ideal_controlled_source_and_one_supply(deck, model):
    m = json.loads((deck / "manifest.json").read_text())
    kinds = {line[0].upper() for line in _main_subckt(deck, m["subckt"][len("r2nn_"):])}
    assert not kinds & set("EGHBFI"), kinds
    assert m["supplies"] == [{"port": "vdd", "volts": 3.3}]
    assert [c["role"] for c in m["controls"]] == ["segment_gate_1", "segment_gate_2", "reset", "power"]
    assert all(0.0 <= v <= 3.3 for c in m["controls"] for _, v in c["waveform"])
    assert m["ports"][-5:] == ["ctl1", "ctl2", "ctl3", "ctl4", "vdd"]
    assert [d["high_volts"] for d in m["decisions"]] == [3.3] * 3
    circuit = m["readout_circuit"]
    assert circuit["design"] == "micropower" and circuit["scores_up_to_common_offset"] is True
    # 5 followers, 3 sums, the lift's follower; two channels per cell, the power's, the lift's: one per
    # segment and its follower's
    assert circuit["parts"]["op-amps"] == 5 + 3 + 1 and circuit["parts"]["comparators"] == 9
    assert circuit["parts"]["switch channels"] == 2 * 5 + 1 + 2 + 1
    assert m["energy"]["readout_design"] == "micropower" and m["energy"]["opamps"] == 0
    assert m["energy"]["ideal_sources"] == 0


def test_cells_hang_on_the_resonator_nodes_through_dividers_of_the_gain_ratio(deck, model):
    m = json.loads((deck / "manifest.json").read_text())
    lines = _main_subckt(deck, m["subckt"][len("r2nn_"):])
    # the tap port is the resonator's own net: its mass capacitor sits on it
    assert any(re.match(r"C\d+ tap2 ", line) for line in lines)
    features = {f["name"]: f for f in m["readout_circuit"]["features"]}
    top = max(GAINS.values())
    for f in model.readout.features:
        assert features[f.name]["gain_ratio"] == pytest.approx(f.gain / top, rel=1e-9)
    # feature 1 reads node a through its divider: the realised ratio within E96 pairs' reach
    ohms = {tuple(line.split()[1:3]): float(line.split()[3]) for line in lines if line.startswith("R")}
    top_r = sum(v for (a, b), v in ohms.items() if a.startswith(("tap1", "dv1_")) and b.startswith("dv1"))
    bottom = ohms[("dv1", "0")]
    assert bottom / (top_r + bottom) == pytest.approx(GAINS["a"] / top, rel=2e-3)
    lib = (deck / f"{m['subckt'][len('r2nn_'):]}.lib").read_text()
    assert re.search(r"^C1 c1 cl 4\.7e-09$", lib, re.M)  # on the lift (lift_elements)


def _outputs(net, psi):
    """The sums' outputs (V) on readings ``psi``: the followers read v_s + ψ (the lifted cells)."""
    rail = np.where(net.to_rail, 3.3, 0.0)
    return net.vsum * (1 + net.w.sum(axis=1)) - net.w @ (psi + net.vsum) - net.b * (rail - net.vsum)


def test_score_network_keeps_the_score_differences_and_the_rails():
    rng = np.random.default_rng(3)
    weights, biases = rng.normal(size=(5, 12)), rng.normal(size=5)
    net = mp.score_network(biases, weights, 1.6, 1.25, 3.3)
    assert net.rule is mp.ScaleRule.WORST_CASE and net.to_json()["rule"] == "worst_case"
    for psi in rng.uniform(0, 1.6, size=(50, 12)).tolist() + [[0.0] * 12, [1.6] * 12]:
        psi = np.array(psi)
        out = _outputs(net, psi)
        scores = biases + weights @ psi
        assert np.allclose(out - out[0], net.a * (scores - scores[0]), atol=1e-12)
        assert np.all(out >= mp.HEADROOM_V - 1e-9) and np.all(out <= 3.3 - mp.HEADROOM_V + 1e-9)
    assert np.all(net.w >= 0) and np.all(net.b >= 0)


def test_calibrated_scale_spans_the_rails_on_the_calibration_readings():
    """With calibration readings the sums' interval is theirs widened by the stated margin: the
    extreme outputs sit exactly that margin inside the headroom, the scale is larger than the
    worst case's, and score differences are kept."""
    rng = np.random.default_rng(5)
    weights, biases = rng.normal(size=(4, 10)), rng.normal(size=4)
    psi = rng.uniform(0.2, 0.6, size=(30, 10))
    worst = mp.score_network(biases, weights, 1.6, 1.25, 3.3)
    net = mp.score_network(biases, weights, 1.6, 1.25, 3.3, readings=psi, rule=mp.ScaleRule.CALIBRATION)
    assert net.rule is mp.ScaleRule.CALIBRATION and net.a > 3 * worst.a
    out = np.array([_outputs(net, p) for p in psi])
    inner = (3.3 - 2 * mp.HEADROOM_V) * mp.CALIBRATION_MARGIN / (1 + 2 * mp.CALIBRATION_MARGIN)
    assert out.min() == pytest.approx(mp.HEADROOM_V + inner, abs=1e-9)
    assert out.max() == pytest.approx(3.3 - mp.HEADROOM_V - inner, abs=1e-9)
    scores = psi @ weights.T + biases
    assert np.allclose(out - out[:, :1], net.a * (scores - scores[:, :1]), atol=1e-12)
    assert np.all(net.w >= 0) and np.all(net.b >= 0)
    assert net.to_json()["mv_per_unit_score"] == pytest.approx(net.a * 1e3)


def test_design_constants():
    assert mp.and_threshold(5, 3.3) == pytest.approx(3.3 * 7 / 8)
    assert mp.and_threshold(2, 3.3) == pytest.approx(1.65)
    assert mp.cap_for(12.22, LAW.nvt, "E24") == pytest.approx(4.7e-9)


@pytest.mark.parametrize("readout, message", [("analog-tl072", "does not compute the diode law"),
                                              ("behavioural", "not built for the diode law")])
def test_other_readouts_refuse_the_law(model, tmp_path, readout, message):
    with pytest.raises(CompileError, match=message):
        compile_model(model, tmp_path / "o", options=CompileOptions(readout=readout))


def test_micropower_by_name_needs_the_law(tmp_path):
    with pytest.raises(CompileError, match="needs a linear readout layer with 'law diode"):
        compile_model(load_model(TOY), tmp_path / "o", options=CompileOptions(readout="analog-micropower"))


def test_force_voltage_is_refused(model, tmp_path):
    with pytest.raises(CompileError, match="force_current"):
        compile_model(dataclasses.replace(model, analogy="force_voltage"), tmp_path / "o",
                      options=CompileOptions(readout="analog", drive="ideal"))


def test_a_law_the_cells_diode_does_not_compute_is_refused(model, tmp_path):
    other = dataclasses.replace(model.readout, law=dataclasses.replace(LAW, nvt=0.0475))
    with pytest.raises(CompileError, match="n·Vt = 43.4.* mV at 27 °C: refit the layer with --nvt"):
        compile_model(dataclasses.replace(model, readout=other), tmp_path / "o", options=CompileOptions(readout="analog"))


def test_every_divider_is_at_least_the_resistance_asked_for(deck):
    m = json.loads((deck / "manifest.json").read_text())
    lines = _main_subckt(deck, m["subckt"][len("r2nn_"):])
    ohms = {tuple(line.split()[1:3]): float(line.split()[3]) for line in lines if line.startswith("R")}
    mids = [a for (a, b) in ohms if b == "0" and re.fullmatch(r"dv\d+", a)]
    assert len(mids) >= 2  # the toy's features on nodes a and t read through dividers
    for mid in mids:
        chain = {mid} | {n for pair in ohms for n in pair if n.startswith(mid + "_")}
        top = sum(v for (a, b), v in ohms.items() if b in chain)
        assert top + ohms[(mid, "0")] >= mp.DIVIDER_OHM, mid


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")
def test_decisions_agree_with_the_law_and_energy_is_measured(model, deck):
    """The toy signals in ngspice: every decision port agrees with the reference's argmax of the
    law's scores; the score nets follow the law's scores within a quarter of the smallest margin
    (what is left is mostly the LPV802-class models' 3.5 mV offsets, the same in every part);
    the supply energy is measured, within what the estimate leaves out (the resistor networks)."""
    report = verify(model, deck, [TOY_SIGNALS], run_ac=False)
    assert report.passed and report.class_agreement == 1.0
    summary = report.to_json()["summary"]
    worst = max(s.decision["feature_error"] for s in report.signals)
    assert worst < 0.25 * summary["decisions"]["smallest_margin"]
    energy = summary["energy"]
    assert energy["clips"] == 5
    assert 1.0 <= energy["measured_over_estimate"] <= 1.6, energy
    m = json.loads((deck / "manifest.json").read_text())
    window = m["readout_circuit"]["window_s"]
    # the window itself costs only the switches' quiescent current: most of the estimate comes after it
    assert m["energy"]["readout_static_watts"] * (window[1] - window[0]) < 0.5 * energy["estimate_j"]


def _cell_deck(clamped: bool) -> str:
    """One compiled cell (feature 1, segment 1) on a ±1.5 V 50 Hz tap: gate open for 40 ms, then
    closed for 20 ms; with or without its clamp (and the clamp's bias)."""
    from r2nn_compiler.backend.ngspice import NgspiceNetlister
    from r2nn_compiler.circuit import SubcircuitDef
    from r2nn_compiler.parts import part as catalogue_part
    from r2nn_compiler.parts.models import definition

    elements = mp.cell_elements(1, "tap", 0, 4.7e-9)
    elements = [e for e in elements if clamped or e.kind != "Q"] + (mp.clamp_bias_elements() if clamped else [])
    models = (definition(catalogue_part(mp.DIODE)), definition(catalogue_part(mp.CLAMP)))
    cell = SubcircuitDef("cell", ["tap", "gate1", "rst", "vp", "vdd"], elements, "one cell", models)
    netlister = NgspiceNetlister()
    lines = ["* one micropower cell"]
    for name in (mp.SWITCH, mp.OPAMP):
        lines += netlister.subcircuit(definition(catalogue_part(name)))
    lines += netlister.subcircuit(cell)
    lines += ["Vdd vdd 0 dc 3.3", "Vt tap 0 sin(0 1.5 50)", "Vg gate1 0 pwl(0 0 40m 0 40.001m 3.3)",
              "Vr rst 0 dc 0", "Vp vp 0 dc 0", "X1 tap gate1 rst vp vdd cell",
              ".tran 5e-6 60e-3 0 5e-6 uic", ".end"]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")
def test_the_clamp_keeps_an_open_gates_input_within_the_switchs_rating(tmp_path):
    """While the gate is open the node between the diode and the switch follows the tap's negative
    half-waves (below −1 V without the clamp); the clamp holds it above the TS12A44515's −0.3 V
    absolute maximum (near its bias less one V_BE at nA), and the reading the cell takes once
    the gate closes is unchanged."""
    from r2nn_compiler.sim import NgspiceBatch

    out = {}
    for clamped in (False, True):
        plot = NgspiceBatch(timeout_s=300).run_text(_cell_deck(clamped), tmp_path).plot("tran")
        t = np.real(plot.get("time"))
        a, c = np.real(plot.get("v(x1.a1)")), np.real(plot.get("v(x1.c1)"))
        out[clamped] = (float(a[t < 40e-3].min()), float(np.interp(60e-3, t, c)))
    assert out[False][0] < -1.0
    assert -0.3 < out[True][0] < -0.1
    assert out[True][1] > 0.5 and out[True][1] == pytest.approx(out[False][1], abs=1e-3)


def test_calibration_signals_set_the_sums_scale_and_the_manifest_says_so(model, deck, tmp_path):
    """Without calibration signals the worst-case rule (the deck the other tests check); with
    them the scale comes from the reference's readings on those signals (a larger a), named in
    the manifest's readout_circuit.score_scale with its mV per score unit."""
    from r2nn_compiler.compiler import load_signals
    from r2nn_compiler.reference import layer_features

    worst = json.loads((deck / "manifest.json").read_text())["readout_circuit"]["score_scale"]
    assert worst["rule"] == "worst_case" and worst["calibration_margin"] is None
    signals = load_signals(model, [TOY_SIGNALS])
    out = tmp_path / "cal"
    compile_model(model, out, options=CompileOptions(readout="analog", calibration_signals=signals))
    scale = json.loads((out / "manifest.json").read_text())["readout_circuit"]["score_scale"]
    assert scale["rule"] == "calibration" and scale["calibration_margin"] == mp.CALIBRATION_MARGIN
    assert scale["linear_volts"] == [mp.HEADROOM_V / 2, pytest.approx(3.3 - mp.HEADROOM_V / 2)]
    assert scale["mv_per_unit_score"] == pytest.approx(1e3 * scale["volts_per_unit_score"])
    assert scale["volts_per_unit_score"] > 2 * worst["volts_per_unit_score"]
    # the interval is the readings' u_j range widened by the margin (readings from the exact reference)
    psi = np.concatenate([layer_features(model, s.data[None], s.rate_hz) for s in signals])
    _, biases, matrix = model.readout.feature_matrix()
    a = np.array(matrix)
    u = psi @ (a - a.max(axis=0)).T + np.array(biases)
    low, high = scale["score_interval"]
    extra = mp.CALIBRATION_MARGIN * np.ptp(u)
    assert low == pytest.approx(u.min() - extra, abs=1e-3 * np.ptp(u))
    assert high == pytest.approx(u.max() + extra, abs=1e-3 * np.ptp(u))


def test_the_sums_reference_level_weakens_the_largest_bias():
    """sum_reference: a level divided from the reference (E96 divider, the realised level) whose
    largest bias ratio is no larger than about the reference itself, and much smaller when the
    sums' constant is far below vref·(1 + W_j) (the calibrated tactile case)."""
    total, level = np.array([12.6, 13.1, 12.3, 8.8, 12.7]), np.array([2.6, 2.7, 2.5, 2.9, 2.7])
    vsum, divider = mp.sum_reference(total, level, 1.25, 3.3)
    assert divider is not None and vsum == pytest.approx(1.25 * divider[1] / sum(divider))
    assert sum(divider) == pytest.approx(mp.SUM_DIVIDER_OHM, rel=0.02)
    at_ref = mp._bias_ratios(total, level, 1.25, 3.3)[0]
    here = mp._bias_ratios(total, level, vsum, 3.3)[0]
    assert here.max() < 0.2 * at_ref.max()
    # a constant that vref already balances keeps vref and needs no divider
    assert mp.sum_reference(np.array([1.0, 1.0]), np.array([2.5, 2.5]), 1.25, 3.3) == (1.25, None)


def test_a_level_within_an_e96_step_of_the_reference_is_the_reference():
    """sum_reference never asks for a divider whose upper resistor rounds to nothing (speech's
    refitted layer did: its sums' W_j and levels below, the lower resistor rounding to the whole
    divider): within an E96 step of vref it keeps vref."""
    total = np.array([1.58400155, 1.45634433, 1.38148631, 1.81231516, 1.74764485, 1.32303921])
    level = np.array([3.1, 3.09930202, 3.09973334, 3.09970425, 3.0998389, 3.09947927])
    assert mp.sum_reference(total, level, 1.25, 3.3) == (1.25, None)


def test_the_calibrated_scale_is_never_below_the_worst_case():
    """score_network with calibration readings wider than the worst case's interval (readings at 0
    and at the clip, plus the margin, would give a smaller a) keeps the worst case."""
    biases, weights = np.array([0.3, -0.2, 0.0]), np.array([[2.0, -1.0, 0.5], [-1.5, 3.0, 1.0], [0.0, 0.5, -2.0]])
    worst = mp.score_network(biases, weights, 1.6, 1.25, 3.3)
    extremes = np.array([[0.0, 0.0, 0.0], [1.6, 1.6, 1.6], [0.0, 1.6, 0.0], [1.6, 0.0, 0.0], [0.0, 0.0, 1.6],
                         [1.6, 1.6, 0.0], [1.6, 0.0, 1.6], [0.0, 1.6, 1.6]])
    wide = mp.score_network(biases, weights, 1.6, 1.25, 3.3, extremes, mp.ScaleRule.CALIBRATION)
    assert wide.rule is mp.ScaleRule.WORST_CASE and wide.a == worst.a


def test_the_top_scale_maps_each_clips_top_two_sums_onto_the_rails():
    """calibration_top (--score-scale calibration_top): the interval is the range of each
    clip's two largest u_j widened by the margin, so those sums span the headroom less the margin,
    a is larger than the all-classes calibration's, and the losers below may leave the rails."""
    rng = np.random.default_rng(7)
    weights, biases = rng.normal(size=(5, 10)), rng.normal(size=5)
    psi = rng.uniform(0.2, 0.6, size=(40, 10))
    every = mp.score_network(biases, weights, 1.6, 1.25, 3.3, readings=psi, rule=mp.ScaleRule.CALIBRATION)
    net = mp.score_network(biases, weights, 1.6, 1.25, 3.3, readings=psi, rule=mp.ScaleRule.CALIBRATION_TOP)
    assert net.rule is mp.ScaleRule.CALIBRATION_TOP and net.to_json()["rule"] == "calibration_top"
    assert net.a > 1.2 * every.a
    out = np.array([_outputs(net, p) for p in psi])
    top = np.sort(out, axis=1)[:, -2:]
    inner = (3.3 - 2 * mp.HEADROOM_V) * mp.CALIBRATION_MARGIN / (1 + 2 * mp.CALIBRATION_MARGIN)
    assert top.min() == pytest.approx(mp.HEADROOM_V + inner, abs=1e-9)
    assert top.max() == pytest.approx(3.3 - mp.HEADROOM_V - inner, abs=1e-9)
    assert out.min() < mp.LINEAR_VOLTS[0]  # some loser saturates at the low rail
    u = psi @ (weights - weights.max(axis=0)).T + biases
    assert mp.top_interval(u) == (pytest.approx(np.sort(u, axis=1)[:, -2].min()), pytest.approx(u.max()))
    assert net.to_json()["calibration_margin"] == mp.CALIBRATION_MARGIN


def test_a_saturated_loser_changes_no_decision():
    """The arithmetic of the comparators' WTA on clipped sums: for readings whose winner's u lies
    in the top scale's interval, every sum clipped to the op-amp's swing (10 mV from each rail)
    leaves the winner's output the largest, by a·margin or by its distance to the low rail."""
    rng = np.random.default_rng(11)
    weights, biases = rng.normal(size=(5, 10)), rng.normal(size=5)
    net = mp.score_network(biases, weights, 1.6, 1.25, 3.3, readings=rng.uniform(0.2, 0.6, size=(40, 10)),
                           rule=mp.ScaleRule.CALIBRATION_TOP)
    psi = rng.uniform(0.0, 0.9, size=(4000, 10))  # wider than the calibration: some sums saturate
    u = psi @ (weights - weights.max(axis=0)).T + biases
    inside = (u.max(axis=1) >= net.low) & (u.max(axis=1) <= net.high)
    out = np.array([_outputs(net, p) for p in psi[inside]])
    clipped = np.clip(out, 0.01, 3.3 - 0.01)
    assert np.mean(out.min(axis=1) < 0.01) > 0.2  # the case in question happens often
    scores = psi[inside] @ weights.T + biases
    assert np.array_equal(clipped.argmax(axis=1), scores.argmax(axis=1))
    ordered = np.sort(scores, axis=1)
    gap = np.sort(clipped, axis=1)
    expected = np.minimum(net.a * (ordered[:, -1] - ordered[:, -2]), gap[:, -1] - 0.01)
    assert np.all(gap[:, -1] - gap[:, -2] >= expected - 1e-9)


def test_verify_scores_only_the_sums_in_their_linear_range():
    """score_figures with a manifest stating linear_volts: the common offset and the score error
    come from the sums within them; a saturated one is named, not scored; with fewer than two
    scored sums the error is unknown (None); a manifest without linear_volts scores every sum."""
    from r2nn_compiler.verify.decisions import score_figures

    circuit = {"scores_up_to_common_offset": True, "score_scale": {"linear_volts": [0.1, 3.2]},
               "detectors": [{"class": c, "volts_per_unit_score": 0.1} for c in "abc"]}
    reference = {"a": 2.0, "b": 1.5, "c": -30.0}
    decision = {"detector_volts": {"a": 2.3, "b": 2.25, "c": 0.01}}  # c: clipped at the low rail
    figures = score_figures({"readout_circuit": circuit}, decision, reference, None, None)
    assert figures["scored_classes"] == ["a", "b"] and figures["saturated_classes"] == ["c"]
    assert figures["feature_error"] == pytest.approx(0.0, abs=1e-9)
    old = {"readout_circuit": {**circuit, "score_scale": {}}}
    assert score_figures(old, decision, reference, None, None)["feature_error"] > 5  # c counted, wrongly
    alone = {"detector_volts": {"a": 2.3, "b": 0.02, "c": 0.01}}
    lone = score_figures({"readout_circuit": circuit}, alone, reference, None, None)
    assert lone["scored_classes"] == ["a"] and lone["feature_error"] is None
    assert lone["at_risk"] is True and lone["risk"] == "deciding_sum_saturated"  # b, the runner-up, clipped
    assert figures["at_risk"] is False and "risk" not in figures  # only a loser clipped


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")
def test_losers_saturated_by_the_top_scale_change_no_decision_in_ngspice(model, tmp_path):
    """The toy calibrated (calibration_top) on four of its signals: on the fifth, tone_1200hz,
    the two losing sums' design outputs are below ground (about −3 V and −2.3 V) and saturate at
    the low rail; every decision port still agrees with the law's argmax, verify names the
    saturated sums and scores the others within a quarter of the smallest margin."""
    from r2nn_compiler.compiler import load_signals

    paths = sorted(p for p in TOY_SIGNALS.iterdir() if p.suffix == ".wav")
    signals = load_signals(model, [p for p in paths if p.stem != "tone_1200hz"])
    out = tmp_path / "top"
    compile_model(model, out, options=CompileOptions(readout="analog", calibration_signals=signals,
                                                     score_scale="calibration_top"))
    assert json.loads((out / "manifest.json").read_text())["readout_circuit"]["score_scale"]["rule"] == \
        "calibration_top"
    report = verify(model, out, [TOY_SIGNALS], run_ac=False)
    assert report.class_agreement == 1.0
    saturated = {Path(s.path).stem: s.decision.get("saturated_classes") for s in report.signals}
    assert [k for k, v in saturated.items() if v] == ["tone_1200hz"], saturated
    assert sorted(saturated["tone_1200hz"]) == ["low", "rough"]
    summary = report.to_json()["summary"]["decisions"]
    assert [p for p in summary["sums_saturated"]] and "tone_1200hz" in summary["sums_saturated"][0]
    errors = [s.decision["feature_error"] for s in report.signals if s.decision["feature_error"] is not None]
    assert len(errors) == 4 and max(errors) < 0.25 * summary["smallest_margin"]


def test_the_cells_plate_is_grounded_in_the_window_and_lifted_after(deck):
    """Every cell capacitor and reset switch sits on the plate cl; a channel per segment gate
    grounds it while the window runs; after it a follower of the sums' level drives it through
    a channel on the power control; the sums' + inputs are on it (so the level cancels)."""
    m = json.loads((deck / "manifest.json").read_text())
    lib = (deck / f"{m['subckt'][len('r2nn_'):]}.lib").read_text()
    readout = lib.split(".subckt r2nn_readout")[1].split(".ends")[0].splitlines()
    caps = [line.split() for line in readout if re.match(r"C\d+ c\d+ ", line)]
    assert len(caps) == 5 and all(c[2] == mp.LIFT for c in caps)
    assert all(line.split()[2] == mp.LIFT for line in readout if re.match(r"Xr\d+ ", line))
    grounds = sorted(line.split()[3] for line in readout if re.match(r"Xl\d+ cl 0 ", line))
    assert grounds == ["gate1", "gate2"]
    assert any(re.fullmatch(r"Xlb (vr|vs) lb lb vp 0 LPV802", line) for line in readout)
    assert "Xlp lb lr pwr vdd 0 TS12A44515" in readout
    assert [float(line.split()[3]) for line in readout if line.startswith("Rl lr cl ")] == [mp.ISOLATION_OHM]
    assert all(line.split()[1] == mp.LIFT for line in readout if re.match(r"Xs\d+ ", line))
