"""The r2nn command line: verbs, JSON outputs, plots and exit codes."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.io import wavfile

from r2nn_compiler.cli import main
from r2nn_compiler.compiler import load_model, simulate


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def chirp_wav(tmp_path):
    rate = 16_000
    t = np.arange(int(0.03 * rate)) / rate
    path = tmp_path / "chirp.wav"
    wavfile.write(path, rate, (0.5 * np.sin(2 * np.pi * (100 + 20_000 * t) * t) * 32767).astype(np.int16))
    return path


def test_check_prints_summary(toy_path):
    result = run("check", toy_path)
    assert result.exit_code == 0
    assert "model toy: 3 resonators, 3 couplings" in result.output
    assert "1.2 kHz" in result.output


def test_check_json_has_f0_and_margin(toy_path):
    result = run("check", toy_path, "--json")
    data = json.loads(result.output)
    assert data["resonators"][1]["f0_hz"] == pytest.approx(1200.0)
    assert data["stability_margin_per_s"] > 0


@pytest.mark.parametrize("suffix", [".json", ".r2nn"])
def test_convert_round_trips(tmp_path, toy_path, suffix):
    out = tmp_path / f"toy{suffix}"
    assert run("convert", toy_path, "-o", out).exit_code == 0
    assert load_model(out) == load_model(toy_path)


def test_convert_refuses_unknown_suffix_and_writes_nothing(tmp_path, toy_path):
    out = tmp_path / "toy.yaml"
    result = run("convert", toy_path, "-o", out)
    assert result.exit_code == 1 and "expected .r2nn or .json" in result.output
    assert not out.exists()


def test_simulate_json_matches_api(toy_path, chirp_wav):
    result = run("simulate", toy_path, chirp_wav, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    api = simulate(load_model(toy_path), chirp_wav)
    assert data["predicted"] == api.predicted
    assert data["features"] == pytest.approx(api.feature_map(), rel=1e-12)


def test_simulate_reads_csv_and_npy_with_rate(tmp_path, toy_path):
    u = np.random.default_rng(0).standard_normal(480)
    np.save(tmp_path / "u.npy", u)
    np.savetxt(tmp_path / "u.csv", u[:, None], delimiter=",", header="u", comments="")
    a = json.loads(run("simulate", toy_path, tmp_path / "u.npy", "--rate", 16000, "--json").output)
    b = json.loads(run("simulate", toy_path, tmp_path / "u.csv", "--rate", 16000, "--json").output)
    assert a["features"] == pytest.approx(b["features"], rel=1e-12)


def test_simulate_without_rate_is_usage_error(tmp_path, toy_path):
    np.save(tmp_path / "u.npy", np.zeros(480))
    result = run("simulate", toy_path, tmp_path / "u.npy")
    assert result.exit_code == 2 and "--rate" in result.output


def test_simulate_short_signal_is_bad_input(tmp_path, toy_path):
    np.save(tmp_path / "u.npy", np.zeros(100))
    result = run("simulate", toy_path, tmp_path / "u.npy", "--rate", 16000)
    assert result.exit_code == 1 and "readout window ends at 0.02 s" in result.output


def test_simulate_plot_writes_png(tmp_path, toy_path, chirp_wav):
    out = tmp_path / "w.png"
    assert run("simulate", toy_path, chirp_wav, "--plot", out).exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_response_json_and_plot(tmp_path, toy_path):
    out = tmp_path / "bode.png"
    result = run("response", toy_path, "--json", "--points", 50, "--plot", out)
    data = json.loads(result.output)
    assert len(data["freqs_hz"]) == 50 and data["freqs_hz"][0] == pytest.approx(100.0)
    assert {r["class"] for r in data["responses"]} == {"low", "high", "rough"}
    assert out.stat().st_size > 1000


def test_response_table_finds_peak(toy_path):
    result = run("response", toy_path, "--fmin", 50, "--fmax", 5000)
    assert result.exit_code == 0
    assert "high" in result.output and "kHz" in result.output


def test_unknown_option_is_usage_error(toy_path):
    assert run("check", toy_path, "--frobnicate").exit_code == 2


@pytest.mark.parametrize("argv", [
    ["compile", "{toy}", "-o", "{tmp}/out", "--band-hz", "bad"],
    ["compile", "{toy}", "-o", "{tmp}/out", "--band-hz", "5:1"],
])
def test_bad_option_values_found_inside_a_command_are_usage_errors(tmp_path, argv):
    """Exit 2 with click's usage line, never 'internal error' (exit 3)."""
    toy = Path(__file__).resolve().parents[1] / "examples" / "toy" / "toy.r2nn"
    result = CliRunner().invoke(main, [a.format(tmp=tmp_path, toy=toy) for a in argv])
    assert result.exit_code == 2, result.output
    assert "internal error" not in result.output and "--band-hz" in result.output
    assert not (tmp_path / "out").exists()


def test_opamp_params_and_single_inductors_reach_the_compile(tmp_path):
    toy = Path(__file__).resolve().parents[1] / "examples" / "toy" / "toy.r2nn"
    runner = CliRunner()
    paired = runner.invoke(main, ["compile", str(toy), "-o", str(tmp_path / "a"),
                                  "--opamp-param", "quiescent_a=60u", "--opamp-param", "supply_v=1.65"])
    single = runner.invoke(main, ["compile", str(toy), "-o", str(tmp_path / "b"), "--single-inductors"])
    assert paired.exit_code == 0 and single.exit_code == 0, paired.output + single.output
    energy = json.loads((tmp_path / "a" / "manifest.json").read_text())["energy"]
    assert energy["quiescent_amps_per_opamp"] == pytest.approx(60e-6) and energy["supply_volts"] == 1.65
    n_inductors = [sum(line.startswith("L") for line in (tmp_path / d / "toy.lib").read_text().splitlines())
                   for d in ("a", "b")]
    assert n_inductors[0] > n_inductors[1]  # series trim inductors only when pairing
    bad = runner.invoke(main, ["compile", str(toy), "-o", str(tmp_path / "c"), "--opamp-param", "a0"])
    assert bad.exit_code == 2 and not (tmp_path / "c").exists()


def test_response_checks_its_plot_path_before_the_work(tmp_path, toy_path):
    result = CliRunner().invoke(main, ["response", str(toy_path), "--plot", str(tmp_path / "missing" / "bode.png")])
    assert result.exit_code == 2 and "--plot" in result.output and "Traceback" not in result.output
