"""examples/run_readout.py: the held-out readout campaign's bookkeeping (resume, summary, table)."""

import importlib.util
import json

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def campaign():
    spec = importlib.util.spec_from_file_location("run_readout", ROOT / "examples" / "run_readout.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def clip(label, reference, circuit, margin, feature_error, at_risk):
    return {"label": label, "reference_class": reference, "circuit_class": circuit, "agree": reference == circuit,
            "margin": margin, "detector_error": feature_error / 2, "feature_error": feature_error,
            "at_risk": at_risk, "nrmse_vs_circuit": 1e-3, "wall_s_per_clip": 10.0}


def test_summary_counts_agreement_and_clear_decisions(campaign):
    clips = {"3": clip("a", "a", "a", 0.30, 1e-3, False), "7": clip("b", "a", "a", 0.10, 1e-3, False),
             "9": clip("a", "b", "a", 5e-4, 8e-4, True)}
    sm = campaign.summarise(clips, held_out=5)
    assert (sm["clips_run"], sm["held_out"], sm["agree"]) == (3, 5, 2)
    assert sm["agreement"] == pytest.approx(2 / 3) and sm["disagreeing_clips"] == [9]
    assert (sm["clear_clips"], sm["clear_agree"]) == (2, 2)
    assert sm["circuit_accuracy"] == pytest.approx(2 / 3) and sm["reference_accuracy"] == pytest.approx(1 / 3)
    assert sm["smallest_margin"] == 5e-4 and sm["feature_error_there"] == 8e-4
    row = campaign.table_row({"demo": "tactile", "inductors": "gic", "readout": "analog", "clips": clips}, sm)
    assert "| 3 of 5 | 2/3 = 66.7 % | 2/2 | 0.05 % (0.08 %) |" in row
    assert row.startswith("| tactile | gic |")
    other = campaign.table_row({"demo": "tactile", "model": "model_rms_continuous.r2nn", "inductors": "gic",
                                "readout": "analog", "clips": clips}, sm)
    assert other.startswith("| tactile (model_rms_continuous) | gic |")
    assert campaign.summarise({}, 4)["clips_run"] == 0


def test_results_of_another_circuit_are_discarded(campaign, tmp_path, capsys):
    path = tmp_path / "readout_gic_analog.json"
    path.write_text(json.dumps({"library_sha256": "abc", "clips": {"1": {}}}))
    assert campaign._load(path, "abc")["clips"] == {"1": {}}
    assert campaign._load(path, "def") == {}
    assert "recorded for another circuit" in capsys.readouterr().err
    assert campaign._load(tmp_path / "missing.json", "abc") == {}


def test_summary_counts_refined_clips_and_those_still_within_ngspice_error(campaign):
    base = campaign.ACCURACY
    # Run again down to 1e-4 and still within four times ngspice's error there: named.
    close = {**clip("a", "a", "a", 1e-3, 1e-3, True), "simulation_error": 6e-4, "accuracy": 1e-4}
    clear = {**clip("b", "b", "b", 0.2, 1e-3, False), "simulation_error": 1e-4, "accuracy": base}
    sm = campaign.summarise({"1": close, "2": clear}, held_out=2, accuracy=base)
    assert sm["refined"] == 1 and sm["finest_accuracy"] == 1e-4
    assert sm["simulation_limited"] == [1]
    row = campaign.table_row({"demo": "tactile", "inductors": "gic", "readout": "analog", "clips": {}}, sm)
    assert "| 1 (0.0001); still within ngspice's error: 1 |" in row
    assert campaign.summarise({"2": clear}, 1, base)["simulation_limited"] == []
