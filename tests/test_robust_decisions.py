"""robust_parts with calibration clips: the parts are chosen for the decisions (each part's
tolerance-edge shift of the class scores relative to each clip's margin, greedy, most harmful
first, until a Monte Carlo of those shifts predicts the targets), the choice is what the real
Monte Carlo needs, and the BOM and the manifest say which parts and why."""

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest

from r2nn_compiler import compiler
from r2nn_compiler.compiler import load_model, load_signals
from r2nn_compiler.passes import HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.sensitivity import DecisionTable, bought_parts, decision_table
from r2nn_compiler.passes.robust_parts import LOOSE_TOLERANCE, decision_choice, meets, targets
from r2nn_compiler.verify.tolerance import bom_tolerances

from .conftest import TOY

UNTIL_ROBUST = HARDWARE_FLOW[: HARDWARE_FLOW.index("robust_parts")]
SIGNALS = TOY.parent / "signals"


def toy_options(**kw) -> CompileOptions:
    model = load_model(TOY)
    return CompileOptions(calibration_signals=load_signals(model, [SIGNALS]), **{"robust_rule": "decisions", **kw})


def robust_entry(ctx):
    return next(e for e in ctx.log if e.name == "robust_parts")


def test_the_toy_tightens_l2_first_which_the_band_rms_proxy_misses():
    # README: the toy's decisions hinge on L2 (its ±10 % flips a tone); the proxy ranks it lower.
    decided = robust_entry(run_flow(CompileContext(load_model(TOY), toy_options()), HARDWARE_FLOW))
    proxy = robust_entry(run_flow(CompileContext(load_model(TOY), CompileOptions()), HARDWARE_FLOW))
    assert decided.details["rule"] == "decisions" and proxy.details["rule"] == "band_rms"
    assert decided.details["tightened"][0]["designator"] == "L2"
    assert decided.details["tightened"][0]["reason"] == "decisions"
    assert proxy.details["tightened"][0]["designator"] != "L2"
    predicted = decided.details["predicted_agreement"]
    assert predicted["met"] and predicted["before"]["mean"] < targets()[0] <= predicted["after"]["mean"]


def test_the_greedy_choice_stops_once_the_prediction_is_met():
    ctx = run_flow(CompileContext(load_model(TOY), toy_options()), UNTIL_ROBUST)
    signals = list(ctx.options.calibration_signals)
    table = decision_table(ctx, signals, bought_parts(ctx.graph))
    tight = ctx.options.tight_tolerance
    choice = decision_choice(table, tight)
    assert choice.met and choice.chosen and meets(choice.after) and not meets(choice.before)
    ratio = np.array([min(1.0, tight[c.kind] / t) for c, t in zip(table.parts, table.tolerance)])
    scale = np.ones(len(table.parts))
    scale[choice.chosen[:-1]] = ratio[choice.chosen[:-1]]
    assert not meets(table.predicted_agreement(scale))  # one part fewer would not do
    assert choice.harm == sorted(choice.harm, reverse=True)  # a part's harm depends on its own class only


def test_out_of_reach_targets_aim_at_the_ceiling_instead_of_tightening_every_part():
    # Three clips, two classes. Part 0 (L, already in its tightest class) flips clip 0 below a
    # third of its lower edge: beyond tightening. Part 1 (C) moves clip 1's margin by half, part 2
    # (C) flips clip 2 the way part 0 flips clip 0. Only part 2 is worth buying tighter.
    parts = [SimpleNamespace(name="L1", kind="L"), SimpleNamespace(name="C1", kind="C"),
             SimpleNamespace(name="C2", kind="C")]
    base = np.array([[1.0, 0.0]] * 3)
    low = np.zeros((3, 3, 2))
    low[0, 0, 0], low[1, 1, 0], low[2, 2, 0] = -3.0, -0.5, -3.0
    table = DecisionTable(parts, np.array([0.02, 0.05, 0.05]), base, low, -low, np.zeros(3, dtype=int), 3)
    choice = decision_choice(table, {"L": 0.02, "C": 0.01})
    assert choice.chosen == [2] and choice.met and not choice.targets_met
    assert np.mean(choice.ceiling) == pytest.approx(1 - 1 / 9, abs=0.03)  # clip 0 flips in a third of the draws
    assert np.mean(choice.after) == pytest.approx(np.mean(choice.ceiling))
    assert np.mean(choice.before) < np.mean(choice.after) - 0.05


def test_the_real_monte_carlo_meets_the_targets_the_proxy_choice_misses(tmp_path):
    model = load_model(TOY)
    reports = {}
    for name, options in (("decisions", toy_options()), ("proxy", CompileOptions()),
                          ("loose", CompileOptions(robust_parts=False))):
        out = tmp_path / name
        result = compiler.compile_model(model, out, options=options)
        reports[name] = (result, compiler.tolerance(model, out, [SIGNALS], {}, runs=200, spot_checks=0, workers=1,
                                                    part_tolerances=bom_tolerances(out)))
    decided, proxy, loose = (reports[name][1].agreement for name in ("decisions", "proxy", "loose"))
    assert np.mean(decided) >= 0.97 and np.percentile(decided, 5) >= 0.93
    assert np.mean(proxy) < 0.97
    # The prediction (a Monte Carlo of each part's edge shifts on the clips, linear per part) is
    # within 3 points of the real Monte Carlo, before (every part in its default class) and after.
    predicted = robust_entry(reports["decisions"][0]).details["predicted_agreement"]
    assert predicted["before"]["mean"] == pytest.approx(np.mean(loose), abs=0.03)
    assert predicted["after"]["mean"] == pytest.approx(np.mean(decided), abs=0.03)


def test_the_bom_and_the_manifest_record_each_part_and_why(tmp_path):
    model = load_model(TOY)
    result = compiler.compile_model(model, tmp_path, options=toy_options())
    entry = robust_entry(result)
    tightened = {t["designator"]: t for t in entry.details["tightened"]}
    rows = {name: row for row in csv.DictReader((tmp_path / "bom.csv").open()) for name in row["designator"].split()}
    for comp in bought_parts(result.context.graph):
        if comp.name in tightened:
            assert comp.attrs[LOOSE_TOLERANCE] == tightened[comp.name]["from"]
            assert rows[comp.name]["tolerance"] == f"{100 * result.context.options.tight_tolerance[comp.kind]:g}%"
        else:
            assert rows[comp.name]["tolerance"] == f"{100 * result.context.options.tolerance[comp.kind]:g}%"
    logged = next(e for e in json.loads((tmp_path / "manifest.json").read_text())["log"] if e["pass"] == "robust_parts")
    assert "for the decisions on the calibration clips" in logged["summary"]
    for name, t in tightened.items():
        assert f"{name} ±{t['from']:.0%} → ±{t['to']:.1%} (margin harm" in logged["summary"]


def test_the_monte_carlo_alone_draws_what_the_full_analysis_draws(tmp_path):
    from r2nn_compiler.verify import read_compiled
    from r2nn_compiler.verify.tolerance import monte_carlo_only

    model = load_model(TOY)
    compiler.compile_model(model, tmp_path, options=CompileOptions(robust_parts=False))
    own = bom_tolerances(tmp_path)
    full = compiler.tolerance(model, tmp_path, [SIGNALS], {}, runs=40, seed=3, spot_checks=0, workers=1,
                              part_tolerances=own)
    agreement, accuracy = monte_carlo_only(model, read_compiled(tmp_path), load_signals(model, [SIGNALS]), own,
                                           runs=40, seed=3, workers=1)
    assert accuracy is None and np.array_equal(agreement, full.agreement)
    assert 0 < np.mean(agreement) < 1  # the toy's L2 flips a tone in some draws: the comparison means something


def test_the_decision_rule_is_chosen_and_needs_clips(tmp_path):
    """Clips alone keep the band-RMS proxy (the cheap default); --robust-parts-by decisions without
    --calibrate-signals is a one-line usage error before any work."""
    from click.testing import CliRunner

    from r2nn_compiler.cli import main

    ctx = run_flow(CompileContext(load_model(TOY), toy_options(robust_rule="band_rms")), HARDWARE_FLOW)
    assert robust_entry(ctx).details["rule"] == "band_rms"
    result = CliRunner().invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "o"), "--robust-parts-by", "decisions"])
    assert result.exit_code != 0 and "needs --calibrate-signals" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("options, words", [(dict(robust_rule="decision"), "robust_rule must be"),
                                            (dict(robust_rule="decisions"), "needs calibration_signals"),
                                            (dict(score_scale="top"), "score_scale must be")])
def test_bad_rule_options_are_refused_before_any_pass(options, words, tmp_path):
    from r2nn_compiler.errors import CompileError

    with pytest.raises(CompileError, match=words):
        compiler.compile_model(load_model(TOY), tmp_path / "o", options=CompileOptions(**options))
    assert not (tmp_path / "o").exists()
