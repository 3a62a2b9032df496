"""Bad input fails before the work: one line naming the file (or option), exit 1, and no
ngspice run, Monte Carlo draw, reference simulation, compile pass or training step started.

"No work started" is shown by counting, not timing: every entry into the expensive work is
replaced by a stub that counts and raises. A command that reached one would exit 3 (internal
error) with the counter above 0; the positive controls show that good input does reach them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.io import wavfile

from r2nn_compiler import cli, compiler
from r2nn_compiler.signals import Signal

from .conftest import ROOT, TOY

TOY_SIGNALS = ROOT / "examples" / "toy" / "signals"
RATE = 16_000
#: Samples of the toy model's readout window (0 to 20 ms) at RATE: sample 320 is at 20 ms.
WINDOW_SAMPLES = 321


class WorkStarted(RuntimeError):
    """Raised by the stubs: expensive work was reached."""


@pytest.fixture
def work(monkeypatch) -> list[str]:
    """Replace every entry into expensive work by a stub that records its name and raises;
    returns the record (empty when nothing started)."""
    from r2nn_compiler import executor, reference
    from r2nn_compiler.sim import batch, shared
    from r2nn_compiler.train import trainer

    started: list[str] = []

    def stub(name: str):
        def run(*args, **kwargs):
            started.append(name)
            raise WorkStarted(name)

        return run

    from r2nn_compiler.train import linear  # the linear-readout trainer's entry

    targets = [(batch.NgspiceBatch, "run"), (shared.NgspiceShared, "run"), (executor.LocalExecutor, "map"),
               (executor.DaskExecutor, "map"), (reference, "simulate"), (compiler, "run_flow"),
               (trainer, "prepare"), (trainer._Run, "optimise"), (linear, "prepare_linear")]
    for owner, attr in targets:
        monkeypatch.setattr(owner, attr, stub(f"{getattr(owner, '__name__', owner)}.{attr}"))
    return started


@pytest.fixture(scope="module")
def deck(tmp_path_factory) -> Path:
    """The toy model compiled with --exact (the CLI, as a user would)."""
    out = tmp_path_factory.mktemp("deck") / "exact"
    result = CliRunner().invoke(cli.main, ["compile", str(TOY), "-o", str(out), "--exact"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def good_wav(tmp_path) -> Path:
    path = tmp_path / "chirp.wav"
    shutil.copy(TOY_SIGNALS / "chirp.wav", path)
    return path


def wav_of(path: Path, samples: int, channels: int = 1) -> Path:
    """A noise WAV of ``samples`` samples at RATE, ``channels`` channels."""
    data = np.random.default_rng(0).uniform(-0.5, 0.5, (samples, channels) if channels > 1 else samples)
    wavfile.write(path, RATE, data.astype(np.float32))
    return path


def npy_of(path: Path, samples: int, channels: int = 1) -> Path:
    data = np.random.default_rng(1).standard_normal((samples, channels) if channels > 1 else samples)
    np.save(path, data)
    return path


def command(name: str, deck: Path, tmp_path: Path, signal: Path, *extra: str) -> list[str]:
    """The argv of ``name`` (verify, tolerance, simulate, calibrate) on ``signal``."""
    argv = {
        "verify": ["verify", TOY, deck, "--signals", signal, "--no-ac", "--workers", "1"],
        "tolerance": ["tolerance", TOY, deck, "--signals", signal, "--runs", "3", "--spot-checks", "1",
                      "--workers", "1"],
        "simulate": ["simulate", TOY, signal],
        "calibrate": ["compile", TOY, "-o", tmp_path / "hw", "--calibrate-signals", signal],
    }[name]
    return [str(a) for a in argv + list(extra)]


def run(argv: list[str]):
    return CliRunner().invoke(cli.main, argv)


def assert_fails_first(result, work: list[str], where: str, *words: str, code: int = 1) -> None:
    """Exit ``code``, one line starting with ``where:`` and holding ``words``, no work started."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == code, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{where}:"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert work == [], f"work started before the input was checked: {work}"


COMMANDS = ["verify", "tolerance", "simulate", "calibrate"]


@pytest.mark.parametrize("name", COMMANDS)
def test_good_input_reaches_the_work(name, deck, tmp_path, good_wav, work):
    """The control: the stubs stand where the work starts, so the tests below can fail."""
    result = run(command(name, deck, tmp_path, good_wav))
    assert result.exit_code == 3 and "WorkStarted" in result.output, result.output
    assert work


@pytest.mark.parametrize("name", COMMANDS)
def test_signal_one_sample_short_of_the_window(name, deck, tmp_path, work):
    short = wav_of(tmp_path / "short.wav", WINDOW_SAMPLES - 1)
    result = run(command(name, deck, tmp_path, short))
    assert_fails_first(result, work, str(short), "readout window ends at 0.02 s", f"{WINDOW_SAMPLES - 1} samples")
    assert not (tmp_path / "hw").exists()


@pytest.mark.parametrize("name", COMMANDS)
def test_rate_that_makes_the_signal_too_short(name, deck, tmp_path, work):
    exact = npy_of(tmp_path / "u.npy", WINDOW_SAMPLES)
    assert run(command(name, deck, tmp_path, exact, "--rate", str(RATE))).exit_code == 3  # long enough
    work.clear()
    result = run(command(name, deck, tmp_path, exact, "--rate", str(2 * RATE)))
    assert_fails_first(result, work, str(exact), "readout window", f"at {2 * RATE} Hz")


@pytest.mark.parametrize("rate", ["0", "-16000", "nan", "inf"])
@pytest.mark.parametrize("name", COMMANDS)
def test_rate_that_is_not_a_positive_number(name, rate, deck, tmp_path, work):
    signal = npy_of(tmp_path / "u.npy", 4 * WINDOW_SAMPLES)
    result = run(command(name, deck, tmp_path, signal, "--rate", rate))
    assert_fails_first(result, work, str(signal), "--rate", "positive, finite")


@pytest.mark.parametrize("name", COMMANDS)
def test_missing_rate_is_a_usage_error_before_the_work(name, deck, tmp_path, work):
    signal = npy_of(tmp_path / "u.npy", 4 * WINDOW_SAMPLES)
    assert_fails_first(run(command(name, deck, tmp_path, signal)), work, str(signal), "--rate", code=2)


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("kind", ["wav", "npy"])
def test_wrong_channel_count(name, kind, deck, tmp_path, work):
    make = wav_of if kind == "wav" else npy_of
    signal = make(tmp_path / f"two.{kind}", 4 * WINDOW_SAMPLES, channels=2)
    extra = ["--rate", str(RATE)] if kind == "npy" else []
    result = run(command(name, deck, tmp_path, signal, *extra))
    assert_fails_first(result, work, str(signal), "expected 1 column(s), one per model input, got 2")


@pytest.mark.parametrize("name", COMMANDS)
def test_unreadable_signal(name, deck, tmp_path, work):
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"RIFF\x00\x00not a wave file at all")
    assert_fails_first(run(command(name, deck, tmp_path, garbage)), work, str(garbage), "cannot read signal")


@pytest.mark.parametrize("name", ["verify", "tolerance", "calibrate"])
def test_one_bad_signal_among_good_ones_stops_them_all(name, deck, tmp_path, work):
    folder = tmp_path / "signals"
    shutil.copytree(TOY_SIGNALS, folder)
    short = wav_of(folder / "zz_short.wav", WINDOW_SAMPLES // 2)
    assert_fails_first(run(command(name, deck, tmp_path, folder)), work, str(short), "readout window")


def broken_deck(deck: Path, tmp_path: Path, edit) -> Path:
    """A copy of ``deck`` whose manifest ``edit(manifest)`` changed (or whose files it changed)."""
    out = tmp_path / "broken"
    shutil.copytree(deck, out)
    manifest = json.loads((out / "manifest.json").read_text())
    edit(manifest, out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


BAD_DECKS = {
    "missing library": (lambda m, out: m.update(library="gone.lib"), "manifest.json", "library", "gone.lib"),
    "library deleted": (lambda m, out: (out / m["library"]).unlink(), "manifest.json", "library", "missing"),
    "wrong format": (lambda m, out: m.update(format="spice/9"), "manifest.json", "format", "r2nn-netlist/1"),
    "time scale": (lambda m, out: m.update(time_scale="fast"), "manifest.json", "time_scale", "positive"),
    "gain": (lambda m, out: m["inputs"][0].update(volts_per_unit=None), "manifest.json", "volts_per_unit", "number"),
    "port": (lambda m, out: m["outputs"][0].update(port="nowhere"), "manifest.json", "outputs[0]", "port"),
    "subckt": (lambda m, out: m.update(subckt="x\n.control"), "manifest.json", "subckt", "subcircuit name"),
    "unsafe deck": (lambda m, out: (out / m["library"]).write_text(
        (out / m["library"]).read_text() + "\n.include /etc/passwd\n"), "toy.lib", "refusing", "--trust-deck"),
    "another model": (lambda m, out: m.update(model="other"), "manifest.json", "model",
                      "was compiled from model 'other', not 'toy'"),
}


@pytest.mark.parametrize("case", sorted(BAD_DECKS))
@pytest.mark.parametrize("name", ["verify", "tolerance"])
def test_bad_compiled_output(name, case, deck, tmp_path, good_wav, work):
    edit, file, *words = BAD_DECKS[case]
    broken = broken_deck(deck, tmp_path, edit)
    result = run(command(name, broken, tmp_path, good_wav))
    assert_fails_first(result, work, str(broken / file), *words)


def test_verify_checks_its_report_path_before_ngspice(deck, tmp_path, good_wav, work):
    report = tmp_path / "no" / "such" / "dir" / "report.json"
    result = run(command("verify", deck, tmp_path, good_wav, "--json", str(report)))
    assert_fails_first(result, work, "--json", "does not exist", code=2)


def test_verify_checks_its_settings_before_ngspice(deck, tmp_path, good_wav, work):
    result = run(command("verify", deck, tmp_path, good_wav, "--timeout", "-1"))
    assert_fails_first(result, work, "timeout", "positive number of seconds")


def test_api_checks_signals_before_simulating(deck, tmp_path, work):
    model = compiler.load_model(TOY)
    short = Signal(np.zeros((1, WINDOW_SAMPLES - 1)), RATE, "clip7")
    two = Signal(np.zeros((2, 4 * WINDOW_SAMPLES)), RATE, "stereo")
    from r2nn_compiler.verify import tolerance
    from r2nn_compiler.errors import R2nnError
    from r2nn_compiler.passes import CompileOptions
    from r2nn_compiler.verify import read_compiled, verify_deck

    compiled = read_compiled(deck)
    for signal, words in ((short, "readout window ends"), (two, "expected 1 input channel(s)")):
        calls = [lambda s=signal: verify_deck(model, compiled, [s]),
                 lambda s=signal: tolerance.analyse(model, compiled, [s], {"R": 0.01}, runs=2),
                 lambda s=signal: compiler.simulate(model, s),
                 lambda s=signal: compiler.compile_model(model, tmp_path / "o",
                                                         options=CompileOptions(calibration_signals=[s]))]
        for call in calls:
            with pytest.raises(R2nnError, match=re.escape(words)) as caught:  # compile: a CompileError
                call()
            assert str(caught.value).startswith(f"{signal.path}:")
    assert work == []


# --- train ---------------------------------------------------------------------------------


def dataset_npz(path: Path, samples: int, rate: float = 1000.0) -> Path:
    rng = np.random.default_rng(2)
    np.savez(path, signals=rng.standard_normal((6, samples)), labels=np.arange(6) % 2, sample_rate=rate)
    return path


def train(data: Path, out: Path, *extra: str):
    return run(["train", str(data), "-o", str(out), "--resonators", "2", "--steps", "2", *extra])


def test_train_good_dataset_reaches_the_work(tmp_path, work):
    result = train(dataset_npz(tmp_path / "d.npz", 200), tmp_path / "m.r2nn")
    assert result.exit_code == 3 and "WorkStarted" in result.output, result.output
    assert work


@pytest.mark.parametrize("samples", [2, 10])
def test_train_dataset_too_short(samples, tmp_path, work):
    data = dataset_npz(tmp_path / "short.npz", samples)
    result = train(data, tmp_path / "m.r2nn")
    assert_fails_first(result, work, str(data), "too short to train on", f"{samples} samples")
    assert not (tmp_path / "m.r2nn").exists()


def test_train_band_beyond_nyquist(tmp_path, work):
    data = dataset_npz(tmp_path / "d.npz", 200)
    result = train(data, tmp_path / "m.r2nn", "--band-hz", "10:600")
    assert_fails_first(result, work, f"{data}: band", "fs/2 = 500 Hz", code=2)


@pytest.mark.parametrize("out, words, code", [("m.txt", ["expected .r2nn or .json"], 1),
                                              ("missing/m.r2nn", ["-o", "does not exist"], 2)])
def test_train_output_checked_before_training(out, words, code, tmp_path, work):
    result = train(dataset_npz(tmp_path / "d.npz", 200), tmp_path / out)
    where = str(tmp_path / out) if code == 1 else "-o"
    assert_fails_first(result, work, where, *words, code=code)


def test_train_api_window_with_no_samples(tmp_path, work):
    from r2nn_compiler.errors import UsageError
    from r2nn_compiler.train import TrainOptions, load_dataset
    from r2nn_compiler.train import train as train_api

    data = dataset_npz(tmp_path / "d.npz", 200)
    with pytest.raises(UsageError, match="holds fewer than two samples") as caught:
        train_api(load_dataset(data), TrainOptions(n_resonators=2, window=(0.0101, 0.0102)), progress=False)
    assert str(caught.value).startswith(f"{data}: window:")
    assert work == []


# --- output formatting -----------------------------------------------------------------------


def test_train_summary_keeps_long_keys_apart_from_their_values():
    metrics = {"train_seconds": 12.345678, "val_accuracy_time_before_readout_tune": 0.8154, "readout_tuned": True,
               "couplings": 7}
    lines = cli.metric_lines(metrics)
    assert len(lines) == len(metrics)
    longest = max(map(len, metrics))
    for line, (key, _) in zip(lines, metrics.items()):
        assert line.startswith("  " + key + " ")
        assert line.index(line.split()[1]) == 2 + longest + 2  # every value starts in one column
    assert lines[1].split() == ["val_accuracy_time_before_readout_tune", "0.8154"]
    assert lines[0].split() == ["train_seconds", "12.35"]


def test_table_columns_fit_their_widest_cell():
    rows = [["class", "peak |H|"], ["a_class_name_longer_than_sixteen", "-1.234e+05"], ["b", "1"]]
    lines = cli.table_lines(rows, "<>")
    assert [line.split() for line in lines] == [["class", "peak", "|H|"],
                                                ["a_class_name_longer_than_sixteen", "-1.234e+05"], ["b", "1"]]
    assert len({len(line) for line in lines}) == 1  # right-aligned last column: equal widths
