"""Control ports, supply ports and the supply energy ``r2nn verify`` measures in ngspice."""

import json

import pytest

from r2nn_compiler.backend.manifest import Manifest
from r2nn_compiler.backend.ngspice import NgspiceNetlister, Testbench
from r2nn_compiler.compiler import compile_model, load_model, verify
from r2nn_compiler.errors import VerificationError
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.verify.manifest import read_compiled

from .conftest import ROOT

TONE = ROOT / "examples" / "toy" / "signals" / "tone_100hz.wav"
#: The measurement counts what the estimate leaves out, the op-amps' output currents (the
#: readout's loads: rectifier inputs, integrators, the decision ports); on the toy they add ~4 %.
LOAD_SHARE = 0.10


@pytest.fixture(scope="module")
def analog_toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("analog") / "o"
    compile_model(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), out, options=CompileOptions(readout="analog"))
    return out


def test_readout_timing_is_control_ports_and_its_rails_supply_ports(analog_toy):
    m = json.loads((analog_toy / "manifest.json").read_text())
    assert [c["role"] for c in m["controls"]] == ["window_gate", "reset"]
    assert all(len(p) == 2 for c in m["controls"] for p in c["waveform"])
    assert m["supplies"] == [{"port": "vcc", "volts": 15.0}, {"port": "vee", "volts": -15.0}]
    library = (analog_toy / "toy.lib").read_text()
    assert "pwl(" not in library  # the timing lives in the testbench, driven from the manifest
    assert "V_ctl1 ctl1 0 pwl(" in (analog_toy / "toy.cir").read_text()
    assert m["energy"]["timer_part"].startswith("TPL5010")
    assert m["energy"]["timer_watts"] == pytest.approx(35e-9 * 3.3)
    assert Manifest.from_json(m).to_json() == m


def _measured(out, tmp_path):
    report = verify(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), out, [TONE], run_ac=False,
                    tolerances=None)
    assert report.passed
    data = report.to_json()["summary"]["energy"]
    return report, data


def test_measured_energy_agrees_with_the_estimate(analog_toy, tmp_path):
    report, energy = _measured(analog_toy, tmp_path)
    interval = energy["interval_s"]
    m = json.loads((analog_toy / "manifest.json").read_text())
    assert interval == pytest.approx(max(d["valid_after_s"] for d in m["decisions"]))
    assert energy["estimate_j"] == pytest.approx(m["energy"]["static_power_watts"] * interval)
    assert 1.0 <= energy["measured_over_estimate"] <= 1.0 + LOAD_SHARE
    assert energy["measured_max_j"] == pytest.approx(energy["measured_mean_j"])  # one clip
    assert report.signals[0].decision["supply_energy_j"] == pytest.approx(energy["measured_mean_j"])


def test_measured_energy_follows_the_quiescent_current(analog_toy, tmp_path):
    """Halving every op-amp's quiescent current halves the quiescent part of the measurement:
    the figure comes from the simulated supply currents, not from the manifest."""
    low = tmp_path / "low"
    options = CompileOptions(readout="analog", opamp_params={"quiescent_a": 0.7e-3})
    compile_model(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), low, options=options)
    _, nominal = _measured(analog_toy, tmp_path)
    _, halved = _measured(low, tmp_path)
    assert halved["measured_mean_j"] < 0.6 * nominal["measured_mean_j"]
    assert 1.0 <= halved["measured_over_estimate"] <= 1.0 + 2 * LOAD_SHARE
    # the load currents are the same in both: they are the difference's remainder
    loads = nominal["measured_mean_j"] - nominal["estimate_j"]
    assert halved["measured_mean_j"] - halved["estimate_j"] == pytest.approx(loads, rel=0.2)


def test_testbench_gives_each_copy_its_own_supply_sources():
    text = NgspiceNetlister().testbench(Testbench(
        title="t", library="x.lib", subckt="r2nn_x", n_inputs=1, n_outputs=1, extra_ports=["vcc", "vee"],
        data_file=None, tran=(1e-3, 1e-6), ac=None, instances=2, save_outputs=True, inverted=(0,),
        controls=[{"port": "ctl1", "role": "reset", "waveform": [[0.0, 1.0], [1e-3, 0.0]]}],
        supply_volts={"vcc": 15.0, "vee": -15.0}))
    assert "V_x1_vcc x1_vcc 0 dc 1.5e+01" in text and "V_x2_vee x2_vee 0 dc -1.5e+01" in text
    assert "X2 x2_in1 x2_in1n x2_out1 ctl1 x2_vcc x2_vee r2nn_x" in text
    assert "E_x2_in1n x2_in1n 0 x2_in1 0 -1" in text
    assert text.count("V_ctl1 ctl1 0 pwl(0e+00 1e+00 1e-03 0e+00)") == 1
    assert "i(V_x2_vcc)" in text


def test_bad_control_waveform_is_named(analog_toy, tmp_path):
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(analog_toy, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["controls"][1]["waveform"] = [[0.0, "high"]]
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(VerificationError, match=r"controls\[1\]\.waveform"):
        read_compiled(bad)


def test_cli_reports_the_measured_energy_in_text_and_json(analog_toy, tmp_path):
    from click.testing import CliRunner

    from r2nn_compiler.cli import main

    report = tmp_path / "r.json"
    result = CliRunner().invoke(main, ["verify", str(ROOT / "examples" / "toy" / "toy.r2nn"), str(analog_toy),
                                       "--signals", str(TONE), "--no-ac", "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert "supply energy per decision, measured in ngspice over 0..21 ms: mean" in result.output
    energy = json.loads(report.read_text())["summary"]["energy"]
    assert set(energy) == {"clips", "interval_s", "measured_mean_j", "measured_max_j", "estimate_j", "timer_j",
                           "measured_over_estimate"}
