"""Verification in ngspice (real simulations): exact decks reproduce the reference model."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model, verify
from r2nn_compiler.errors import VerificationError
from r2nn_compiler.signals import Signal, load_signal
from r2nn_compiler.verify import read_compiled, verify_deck

from .conftest import ROOT, case_paths
from .strategies import random_stable_model

TOY_SIGNALS = ROOT / "examples" / "toy" / "signals"


def noise_signals(n: int, seconds: float = 0.025, rate: float = 16_000.0, seed: int = 0) -> list[Signal]:
    rng = np.random.default_rng(seed)
    return [Signal(rng.standard_normal((1, int(seconds * rate) + 1)), rate, f"noise{i}") for i in range(n)]


@pytest.mark.parametrize("seed", range(8))
def test_random_exact_decks_verify_within_half_a_percent(tmp_path, seed):
    model = random_stable_model(seed)
    assert any(c.kind == "spring" for c in model.couplings) or any(c.value < 0 for c in model.couplings)
    compile_model(model, tmp_path / "o", exact=True)
    report = verify_deck(model, read_compiled(tmp_path / "o"), noise_signals(3, seed=seed))
    assert report.passed, report.failures()
    assert report.worst_nrmse <= 0.005
    assert report.class_agreement == 1.0
    assert max(a.errors["max_rel_error"] for a in report.ac) < 1e-4  # ngspice numerics around the DC breakers


@pytest.mark.parametrize("model_path, expected_path", case_paths(), ids=lambda p: p.name)
def test_conformance_cases_reproduced_by_ngspice(tmp_path, model_path, expected_path):
    model = load_model(model_path)
    expected = np.load(expected_path)
    compile_model(model, tmp_path / "o", exact=True)
    signal = Signal(expected["u"], float(expected["sample_rate"]), "case")
    report = verify_deck(model, read_compiled(tmp_path / "o"), [signal], run_ac=False)
    circuit = report.signals[0].circuit_outputs
    rms = np.sqrt(np.mean(expected["outputs"] ** 2, axis=-1))
    nrmse = np.sqrt(np.mean((circuit - expected["outputs"]) ** 2, axis=-1)) / rms
    assert np.all(nrmse < 0.005), nrmse
    assert report.signals[0].circuit_class == list(expected["classes"])[int(np.argmax(expected["features"]))]


def test_batch_and_shared_engines_give_identical_traces(tmp_path):
    model = random_stable_model(4)
    compile_model(model, tmp_path / "o", exact=True)
    signals = noise_signals(2)
    batch = verify_deck(model, read_compiled(tmp_path / "o"), signals, engine="batch", run_ac=False)
    shared = verify_deck(model, read_compiled(tmp_path / "o"), signals, engine="shared", run_ac=False)
    for a, b in zip(batch.signals, shared.signals, strict=True):
        np.testing.assert_array_equal(a.circuit_outputs, b.circuit_outputs)


GOLDEN = {"toy": True, "toy_e96": False}  # netlists/<name>: compiled with --exact or not


@pytest.mark.parametrize("name, exact", GOLDEN.items())
def test_golden_netlists_are_current(tmp_path, name, exact):
    golden = ROOT / "netlists" / name
    compile_model(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), tmp_path / name, exact=exact)
    for path in golden.iterdir():
        fresh = (tmp_path / name / path.name).read_text()
        assert same_but_rounding(fresh, path.read_text()), \
            f"{path} is stale: recompile with 'r2nn compile ... -o netlists/{name}'"


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def same_but_rounding(a: str, b: str, rel: float = 1e-12) -> bool:
    """Equal texts, except that numbers may differ in their last digits (rel. 1e-12): a CPU's
    libm (pow, sin in the testbench chirp) is free to round differently, nothing else is."""
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return False
    pairs = zip(NUMBER.findall(a), NUMBER.findall(b), strict=True)
    return all(x == y or abs(float(x) - float(y)) <= rel * max(abs(float(x)), abs(float(y))) for x, y in pairs)


def test_same_but_rounding_tells_rounding_from_change():
    assert same_but_rounding("R1 n1 0 1.0000000000000002e+03", "R1 n1 0 1e+03")
    assert not same_but_rounding("R1 n1 0 1.0000001e+03", "R1 n1 0 1e+03")
    assert not same_but_rounding("R1 n1 0 1e+03", "R2 n1 0 1e+03") and not same_but_rounding("C1 1", "L1 1")


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_netlists_verify_in_ngspice(tmp_path, name):
    report = verify(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), ROOT / "netlists" / name, [TOY_SIGNALS])
    assert len(report.signals) == 5
    assert report.passed, report.failures()
    assert report.class_agreement == 1.0
    assert {s.reference_class for s in report.signals} == {"low", "high"}


@pytest.mark.parametrize("name", GOLDEN)
def test_shipped_testbench_runs_with_plain_ngspice(tmp_path, name):
    import subprocess

    from r2nn_compiler.sim import NgspiceBatch

    shutil.copytree(ROOT / "netlists" / name, tmp_path / name)
    result = NgspiceBatch().run(tmp_path / name / "toy.cir")
    assert {p.plotname for p in result.plots} == {"AC Analysis", "Transient Analysis"}
    assert result.plot("tran").get("v(out2)").size > 1000
    plain = subprocess.run(["ngspice", "-b", "toy.cir"], cwd=tmp_path / name, capture_output=True, text=True,
                           timeout=120)
    log = plain.stdout + plain.stderr
    assert plain.returncode == 0 and "warning" not in log.lower() and "error" not in log.lower(), log[-2000:]
    measured = dict(re.findall(r"^(rms_out\d)\s+=\s+(\S+)", log, re.M))
    assert sorted(measured) == ["rms_out1", "rms_out2", "rms_out3"] and all(float(v) > 0 for v in measured.values())


def test_altered_component_fails_verification_with_the_figure(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    lib = out / "toy.lib"
    text = lib.read_text()
    value = re.search(r"^C2 n2 0 (\S+)$", text, re.M).group(1)
    lib.write_text(text.replace(f"C2 n2 0 {value}", f"C2 n2 0 {float(value) * 1.02!r}"))
    result = CliRunner().invoke(main, ["verify", str(toy_path), str(out), "--signals", str(TOY_SIGNALS)])
    assert result.exit_code == 1, result.output
    assert re.search(r"FAIL .*output high NRMSE \d\.\d+e?-?\d* > 0\.005", result.output), result.output
    assert "AC high<-u: peak frequency off by" in result.output


def test_verify_cli_writes_report_and_plots(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    result = CliRunner().invoke(main, ["verify", str(toy_path), str(out), "--signals",
                                       str(TOY_SIGNALS / "chirp.wav"), str(TOY_SIGNALS / "noise.wav"),
                                       "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    assert "PASS: 2 signals, class agreement 100.0 %" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["format"] == "r2nn-verify/1" and report["passed"] is True
    assert [Path(s["path"]).name for s in report["signals"]] == ["chirp.wav", "noise.wav"]
    assert report["summary"]["worst_nrmse"] < 0.005
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["bode.png", "chirp.png", "noise.png"]


def test_verify_without_manifest_is_clear(tmp_path, toy_path):
    with pytest.raises(VerificationError, match="no manifest.json .*expected the output of 'r2nn compile'"):
        verify(load_model(toy_path), tmp_path, [TOY_SIGNALS])


def test_verify_refuses_deck_of_another_model(tmp_path, toy_path):
    compile_model(random_stable_model(1), tmp_path / "o", exact=True)
    result = CliRunner().invoke(main, ["verify", str(toy_path), str(tmp_path / "o"), "--signals", str(TOY_SIGNALS)])
    assert result.exit_code == 1
    assert "was compiled from model 'rand1', not 'toy'" in result.output


def test_force_voltage_decks_verify_like_force_current(tmp_path):
    import dataclasses

    from .test_map_force_voltage import planar_seeds

    for seed in planar_seeds(4):
        model = dataclasses.replace(random_stable_model(seed), analogy="force_voltage")
        compile_model(model, tmp_path / f"fv{seed}", exact=True)
        report = verify_deck(model, read_compiled(tmp_path / f"fv{seed}"), noise_signals(2, seed=seed))
        assert report.passed, (seed, report.failures())
        assert report.worst_nrmse <= 0.005


def test_shipped_testbench_of_spring_coupled_models_runs_without_warnings(tmp_path):
    import dataclasses

    from r2nn_compiler.sim import NgspiceBatch

    from .test_map_force_voltage import planar_seeds

    seed = next(s for s in planar_seeds(20) if any(c.kind == "spring" for c in random_stable_model(s).couplings))
    for analogy in ("force_current", "force_voltage"):
        model = dataclasses.replace(random_stable_model(seed), analogy=analogy)
        result = compile_model(model, tmp_path / analogy, exact=True)
        assert result.log[-2].name == "break_dc_loops" and result.log[-2].changed
        run = NgspiceBatch().run(tmp_path / analogy / f"{result.manifest['testbench']}")
        assert run.warnings == [] and {p.plotname for p in run.plots} == {"AC Analysis", "Transient Analysis"}


@pytest.mark.parametrize("line", [".control", "shell touch /tmp/x", ".include /etc/passwd", ".lib ../../secret.lib",
                                  "+.endc"])
def test_verify_refuses_foreign_deck_commands(tmp_path, toy_path, line):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    lib = out / "toy.lib"
    lib.write_text(lib.read_text().replace(".ends r2nn_toy", f"{line}\n.ends r2nn_toy"))
    result = CliRunner().invoke(main, ["verify", str(toy_path), str(out), "--signals", str(TOY_SIGNALS)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{lib}:") and "refusing" in result.output and "--trust-deck" in result.output


def test_trust_deck_lets_a_harmless_include_through(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    (tmp_path / "empty.inc").write_text("* nothing\n")
    lib = out / "toy.lib"
    lib.write_text(".include ../empty.inc\n" + lib.read_text())
    args = ["verify", str(toy_path), str(out), "--signals", str(TOY_SIGNALS / "chirp.wav"), "--no-ac"]
    assert CliRunner().invoke(main, args).exit_code == 1
    assert CliRunner().invoke(main, args + ["--trust-deck"]).exit_code == 0


def test_hardware_deck_reports_opamp_headroom(tmp_path):
    model = random_stable_model(5)
    compile_model(model, tmp_path / "o")
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["opamps"], "seed 5 has negative elements to realise"
    report = verify_deck(model, read_compiled(tmp_path / "o"), noise_signals(1), run_ac=False)
    rows = report.signals[0].headroom
    assert [r["designator"] for r in rows] == [op["designator"] for op in manifest["opamps"]]
    assert all(0 < r["peak_v"] < r["swing_v"] and r["ok"] for r in rows)
    loud = [Signal(s.data * 1e4, s.rate_hz, "loud") for s in noise_signals(1)]
    clipped = verify_deck(model, read_compiled(tmp_path / "o"), loud, run_ac=False)
    assert any("would clip" in f for f in clipped.failures())


@pytest.mark.parametrize("seed", [0, 3, 6])
def test_random_models_compiled_for_hardware_verify_in_ngspice(tmp_path, seed):
    model = random_stable_model(seed)
    compile_model(model, tmp_path / "o")  # default flow: scale, op-amps, E96/E24/E12 retune
    report = verify_deck(model, read_compiled(tmp_path / "o"), noise_signals(4, seed=seed))
    assert not report.exact
    assert report.worst_nrmse_vs_circuit <= 0.005
    assert report.class_agreement >= 0.99
    assert report.passed, report.failures()


def test_ac_frequency_vector_stray_values_are_repaired_and_garbage_refused():
    from r2nn_compiler.errors import SimulationError
    from r2nn_compiler.verify.run import sweep_frequencies

    sweep = np.geomspace(100.0, 4000.0, 161)
    stray = sweep.copy()
    stray[5], stray[9] = 0.0, np.nan
    np.testing.assert_array_equal(sweep_frequencies(stray, 100.0, 4000.0), sweep)
    with pytest.raises(SimulationError, match="does not follow the requested sweep"):
        sweep_frequencies(sweep * 1.01, 100.0, 4000.0)


def test_ngspice_meets_the_accuracy_target_it_was_stepped_for(tmp_path):
    model = random_stable_model(7)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    signals = noise_signals(2, seed=7)
    reports = {a: verify_deck(model, compiled, signals, run_ac=False, accuracy=a) for a in (4e-3, 1e-3)}
    for accuracy, report in reports.items():
        assert report.worst_nrmse <= accuracy
        for s in report.signals:  # the prediction is what ngspice does, not a loose bound
            assert s.worst_nrmse == pytest.approx(s.predicted_nrmse, rel=0.1)
    coarse, fine = (reports[a].signals[0].step_s for a in (4e-3, 1e-3))
    assert coarse > 1.5 * fine  # error ∝ step²: a quarter of the error needs about half the step


def test_default_accuracy_is_a_fifth_of_the_nrmse_tolerance(tmp_path, toy_path):
    from r2nn_compiler.verify import Tolerances

    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    report = verify(load_model(toy_path), out, [TOY_SIGNALS / "chirp.wav"], run_ac=False,
                    tolerances=Tolerances(nrmse=0.01))
    assert report.accuracy == pytest.approx(0.002)
    assert report.to_json()["summary"]["accuracy"] == pytest.approx(0.002)
    simulation = report.to_json()["signals"][0]["simulation"]
    assert 0 < simulation["predicted_nrmse"] <= 0.002 and simulation["step_s"] > 0


def test_verify_cli_accuracy_option(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out, exact=True)
    args = ["verify", str(toy_path), str(out), str(TOY_SIGNALS / "chirp.wav"), "--no-ac", "--json",
            str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, args + ["--accuracy", "3e-3", "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["accuracy"] == 3e-3 and report["summary"]["worst_nrmse"] <= 3e-3
    for bad in ("0", "1.5"):
        result = CliRunner().invoke(main, args + ["--accuracy", bad])
        assert result.exit_code == 2 and "--accuracy" in result.output


def test_signals_decided_within_ngspice_error_are_simulated_again_finer(tmp_path, toy_path):
    """A hardware deck at a coarse accuracy (5 %): the 1600 Hz tone, whose reference margin is
    3.2 %, comes out of ngspice with a feature error over a quarter of that, so verify runs it
    again at a quarter of the accuracy; the signals with wide margins keep their first run."""
    from r2nn_compiler.verify import decisions

    model = load_model(toy_path)
    compile_model(model, tmp_path / "o")
    compiled = read_compiled(tmp_path / "o")
    signals = [load_signal(TOY_SIGNALS / f"{n}.wav", 1) for n in ("tone_1600hz", "chirp", "tone_100hz")]
    plain = verify_deck(model, compiled, signals, run_ac=False, accuracy=0.05, refine_close=False)
    heard = []
    refined = verify_deck(model, compiled, signals, run_ac=False, accuracy=0.05,
                          progress=lambda n, more=0: heard.append((n, more)))
    # Progress: three signals done, one more to run, and that one done.
    assert sum(n for n, _ in heard) == 4 and sum(m for _, m in heard) == 1
    close = plain.signals[0]
    margin = decisions.winning_margin(close.features_reference)
    assert close.simulation_error > decisions.SIMULATION_SHARE * margin  # what triggers it
    assert [s.accuracy for s in plain.signals] == [0.05] * 3
    assert [s.accuracy for s in refined.signals] == [pytest.approx(0.0125), 0.05, 0.05]
    again = refined.signals[0]
    assert again.step_s < close.step_s and again.simulation_error < decisions.SIMULATION_SHARE * margin
    assert refined.to_json()["signals"][0]["simulation"]["accuracy"] == pytest.approx(0.0125)
    summary = refined.to_json()["summary"]
    assert summary["refined"] == [again.path] and summary["finest_accuracy"] == pytest.approx(0.0125)
    assert plain.to_json()["summary"]["refined"] == [] and plain.to_json()["summary"]["finest_accuracy"] == 0.05
    for s in plain.signals[1:]:
        assert s.simulation_error < decisions.SIMULATION_SHARE * decisions.winning_margin(s.features_reference)


def test_refinement_stops_at_the_finest_accuracy(monkeypatch):
    """A signal whose simulated features never get within a quarter of its margin is run at
    0.25×, 0.0625×, … of the accuracy down to FINEST_ACCURACY, then left as it is."""
    from r2nn_compiler.verify import run

    calls = []

    def fake_transient(model, compiled, signals, *, accuracy, **kwargs):
        calls.append((len(signals), accuracy))
        return [result(accuracy) for _ in signals]

    def result(accuracy):
        return run.SignalResult(path="s", nrmse={"a": 0.0}, features_reference={"a": 1.0, "b": 0.99},
                                features_circuit={"a": 1.0, "b": 0.99}, reference_class="a", circuit_class="a",
                                circuit_outputs=np.zeros(1), reference_outputs=np.zeros(1), accuracy=accuracy,
                                simulation_error=0.01)

    monkeypatch.setattr(run, "transient", fake_transient)
    first = [result(1e-3)]
    out = run.refine(None, None, [None], first, 1e-3)
    assert [a for _, a in calls] == pytest.approx([2.5e-4])  # 6.25e-5 would be past the finest, 1e-4
    assert out[0].accuracy == pytest.approx(2.5e-4)
    calls.clear()
    clear = dict(vars(first[0]), simulation_error=1e-4)
    assert run.refine(None, None, [None], [run.SignalResult(**clear)], 1e-3)[0].accuracy == 1e-3 and not calls


def test_verify_cli_says_which_signals_ran_again_and_no_refine_turns_it_off(tmp_path, toy_path):
    out = tmp_path / "o"
    compile_model(load_model(toy_path), out)
    args = ["verify", str(toy_path), str(out), str(TOY_SIGNALS / "tone_1600hz.wav"), "--no-ac", "--accuracy", "0.05", "--nrmse", "0.1",
            "--workers", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "1 signal(s) simulated again at a finer accuracy (down to 0.0125)" in result.output
    result = CliRunner().invoke(main, args + ["--no-refine"])
    assert result.exit_code == 0, result.output
    assert "simulated again" not in result.output
