"""Verification by superposition (verify.superposition): superposed traces are ngspice's direct
ones, the spot checks fall back when they are not, the kernel cache, the CLI flags."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.errors import VerificationError
from r2nn_compiler.executor import LocalExecutor
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.signals import Signal
from r2nn_compiler.verify import kernel_cache, read_compiled, superposition, verify_deck
from r2nn_compiler.verify.superposition import Method
from r2nn_compiler.verify.transient_run import simulate_run

from .conftest import ROOT
from .strategies import random_stable_model

TOY = ROOT / "examples" / "toy" / "toy.r2nn"
TOY_SIGNALS = ROOT / "examples" / "toy" / "signals"


def noise(model, n: int, samples: int = 401, seed: int = 0) -> list[Signal]:
    rng = np.random.default_rng(seed)
    return [Signal(rng.standard_normal((len(model.inputs), samples)), 16_000.0, f"n{i}") for i in range(n)]


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.sqrt(np.mean((a - b) ** 2, -1)) / np.sqrt(np.mean(a**2, -1))))


def both(model, compiled, signals, accuracy=None):
    """Direct runs (all clips in one run: one step, the largest any clip needs, as superposition
    takes) and superposition."""
    kwargs = dict(run_ac=False, refine_close=False, accuracy=accuracy)
    return (verify_deck(model, compiled, signals, method="direct", executor=LocalExecutor(1), **kwargs),
            verify_deck(model, compiled, signals, method="superposition", **kwargs))


@pytest.mark.parametrize("seed, exact", [(0, True), (2, True), (5, False), (3, False)])
def test_superposed_traces_are_ngspice_direct_ones(tmp_path, seed, exact):
    """Within 1e-6 (NRMSE of one against the other; hardware decks: of the largest port) when
    the kernel spans the clips, but for the last sample: ngspice cuts its last step to end on
    the stop time (docs/verify.md)."""
    model = random_stable_model(seed)
    compile_model(model, tmp_path / "o", exact=exact)
    compiled = read_compiled(tmp_path / "o")
    signals = noise(model, 3, seed=seed)
    direct, superposed = both(model, compiled, signals, accuracy=1e-4)  # a kernel as long as the clips
    assert superposed.method.used == "superposition" and not superposed.method.fallback
    assert superposed.method.kernels[0].samples == superposed.signals[0].circuit_outputs.shape[-1]  # the whole clip
    for a, b in zip(direct.signals, superposed.signals, strict=True):
        assert a.step_s == b.step_s  # one clip per rate here, so the same step rule gives one step
        head_a, head_b = a.circuit_outputs[:, :-1], b.circuit_outputs[:, :-1]
        if exact:
            assert relative(head_a, head_b) <= 1e-6
        else:  # ngspice's own rounding with high-gain op-amps: ~1e-9 V on every port (docs/verify.md)
            rms = np.sqrt(np.mean(head_a**2, -1))
            assert np.max(np.sqrt(np.mean((head_a - head_b) ** 2, -1))) <= 1e-6 * np.max(rms)
        assert relative(a.circuit_outputs, b.circuit_outputs) <= 1e-4
        largest = max((x["peak_v"] for x in a.headroom), default=0.0)
        for x, y in zip(a.headroom, b.headroom, strict=True):  # on ngspice's grid; absolute rounding as above
            assert abs(x["peak_v"] - y["peak_v"]) <= 1e-5 * largest and x["ok"] == y["ok"]
        assert a.reference_class == b.reference_class and a.circuit_class == b.circuit_class
    spot = superposed.method.spot[0]
    assert len(spot.paths) == 2 and spot.difference <= 1e-4 and spot.passed
    assert superposed.passed == direct.passed


def test_hardware_deck_has_its_opamps_peaks_and_figures(tmp_path):
    model = random_stable_model(5)
    compile_model(model, tmp_path / "o")
    compiled = read_compiled(tmp_path / "o")
    assert compiled.manifest["opamps"]
    direct, superposed = both(model, compiled, noise(model, 3))
    for a, b in zip(direct.signals, superposed.signals, strict=True):
        assert [r["designator"] for r in a.headroom] == [r["designator"] for r in b.headroom]
        assert b.nrmse_vs_circuit is not None and b.network_error is not None
        assert max(b.nrmse_vs_circuit.values()) <= 0.005


def test_failed_spot_checks_fall_back_to_direct_runs(tmp_path, capsys):
    model = random_stable_model(0)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    method = Method("superposition", spot_checks=1, cache=None, spot_limit=1e-300)
    report = verify_deck(model, compiled, noise(model, 3), run_ac=False, method=method)
    assert method.used == "direct" and method.fallback and "spot checks" in method.reason
    assert "superposition not used" in capsys.readouterr().err
    assert report.to_json()["method"]["fallback"] is True
    assert report.passed


def test_auto_takes_direct_runs_where_they_are_cheaper_and_superposition_where_not(tmp_path):
    model = random_stable_model(0)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    few = verify_deck(model, compiled, noise(model, 2), run_ac=False, method="auto")
    assert few.method.used == "direct" and "cheaper" in few.method.reason
    many = verify_deck(model, compiled, noise(model, 12), run_ac=False, method="auto", accuracy=1e-2)
    assert many.method.used == "superposition", many.method.reason


def test_kernel_is_cached_beside_the_deck_and_invalidated_by_a_new_library(tmp_path):
    model = random_stable_model(2)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    signals = noise(model, 2)
    files = sorted(p.name for p in (tmp_path / "o").iterdir())
    first = verify_deck(model, compiled, signals, run_ac=False, method="superposition")
    again = verify_deck(model, compiled, signals, run_ac=False, method="superposition")
    assert not first.method.kernels[0].cached and again.method.kernels[0].cached
    folder = kernel_cache.cache_dir(tmp_path / "o")
    assert folder == tmp_path / ".o.kernels" and len(list(folder.glob("*.npz"))) == 1
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == files  # the deck's directory untouched
    for a, b in zip(first.signals, again.signals, strict=True):
        np.testing.assert_array_equal(a.circuit_outputs, b.circuit_outputs)
    library = compiled.library_path
    library.write_text(library.read_text() + "* edited\n")
    edited = verify_deck(model, read_compiled(tmp_path / "o"), signals, run_ac=False, method="superposition")
    assert not edited.method.kernels[0].cached
    assert len(list(folder.glob("*.npz"))) == 1  # the old library's kernel removed


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    model = random_stable_model(0)
    compile_model(model, tmp_path / "o", exact=True)
    monkeypatch.setattr(kernel_cache, "cache_dir", lambda outdir: tmp_path / "missing" / "deeper")
    report = verify_deck(model, read_compiled(tmp_path / "o"), noise(model, 2), run_ac=False,
                         method="superposition")
    assert report.method.used == "superposition" and not (tmp_path / "missing").exists()


def test_superposition_refused_for_a_deck_with_an_on_circuit_readout(tmp_path):
    model = load_model(TOY)
    compile_model(model, tmp_path / "o", options=CompileOptions(readout="behavioural"))
    compiled = read_compiled(tmp_path / "o")
    signals = [Signal(s.data, s.rate_hz, s.path) for s in noise(model, 1, samples=4001)]
    with pytest.raises(VerificationError, match="on-circuit readout"):
        verify_deck(model, compiled, signals, run_ac=False, method="superposition")
    report = verify_deck(model, compiled, signals, run_ac=False, method="auto", refine_close=False)
    assert report.method.used == "direct" and "readout" in report.method.reason


@pytest.mark.parametrize("method, spot_checks, match", [("bogus", 2, "unknown method"), ("auto", -1, "whole number")])
def test_bad_method_settings_are_refused_before_ngspice(tmp_path, method, spot_checks, match):
    model = random_stable_model(0)
    compile_model(model, tmp_path / "o", exact=True)
    with pytest.raises(VerificationError, match=match):
        verify_deck(model, read_compiled(tmp_path / "o"), noise(model, 1), method=method, spot_checks=spot_checks)


def test_kernel_length_follows_the_slowest_pole_and_the_accuracy():
    A = np.diag([-10.0, -1000.0])
    short = superposition.kernel_samples(A, 1e-3, 1e-2, 10**6)
    long = superposition.kernel_samples(A, 1e-3, 1e-4, 10**6)
    assert short == int(np.ceil(np.log(1 / (superposition.TAIL_FRACTION * 1e-2)) / (10 * 1e-3))) + 1
    assert long > short
    assert superposition.kernel_samples(A, 1e-3, 1e-4, 50) == 50  # never past the longest clip
    assert superposition.kernel_samples(np.diag([0.0]), 1e-3, 1e-2, 77) == 77


def test_poles_no_port_sees_set_no_kernel_length(tmp_path):
    """A hardware deck's series capacitors hold charge modes of (almost) no decay that no port
    sees: with B and C the kernel follows the slowest pole the ports see, not the longest clip."""
    from r2nn_compiler import reference
    from r2nn_compiler.verify.circuit import CircuitUnderTest

    A, B, C = np.diag([-1e-7, -10.0]), np.array([[1.0], [1.0]]), np.array([[0.0, 1.0]])
    visible = superposition.kernel_samples(A, 1e-3, 1e-2, 10**6, B, C)
    assert visible == superposition.kernel_samples(np.diag([-10.0]), 1e-3, 1e-2, 10**6) < 10**6
    assert superposition.kernel_samples(A, 1e-3, 1e-2, 10**6) == 10**6  # without B, C: every pole
    seen = np.array([[1e-9, 1.0]])  # weak but seen: it counts
    assert superposition.kernel_samples(A, 1e-3, 1e-2, 10**6, B, seen) == 10**6
    model = random_stable_model(5)
    compile_model(model, tmp_path / "o")
    system = CircuitUnderTest.from_compiled(read_compiled(tmp_path / "o")).state_space()
    slowest = np.min(-np.linalg.eigvals(system.A).real)
    assert slowest < 1e-6  # the charge modes (eigenvectors conditioned ~1e9 here)
    decays = superposition.visible_decays(system.A, system.B, system.C)
    own = np.min(-np.linalg.eigvals(reference.state_space(model).A).real)
    assert np.min(decays) == pytest.approx(own, rel=0.05)  # the model's slowest pole, as the circuit realises it


def test_cli_method_flags_json_and_bad_values(tmp_path):
    shutil.copytree(ROOT / "netlists" / "toy", tmp_path / "toy")
    runner = CliRunner()
    args = ["verify", str(TOY), str(tmp_path / "toy"), str(TOY_SIGNALS), "--no-ac"]
    result = runner.invoke(main, args + ["--method", "superposition", "--spot-checks", "1",
                                         "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "transients: superposition" in result.output and "spot checks (1 clips" in result.output
    method = json.loads((tmp_path / "r.json").read_text())["method"]
    assert method["used"] == "superposition" and len(method["spot"][0]["clips"]) == 1
    assert method["kernels"][0]["kernel_samples"] > 0 and method["kernels"][0]["kernel_s"] > 0
    for flag, value in (("--method", "bogus"), ("--spot-checks", "-1"), ("--spot-checks", "x")):
        bad = runner.invoke(main, args + [flag, value])
        assert bad.exit_code == 2 and f"Invalid value for '{flag}'" in bad.output


def test_an_unreadable_cache_file_is_no_kernel_and_does_not_stop_a_store(tmp_path):
    """A truncated or empty kernel file (an interrupted writer, a full disk) counts as absent,
    and storing beside it still works; no temporary file is left behind."""
    import numpy as np

    from r2nn_compiler.verify import kernel_cache as kc

    deck = tmp_path / "deck"
    deck.mkdir()
    key = kc.KernelKey("ab" * 32, 1e-4, 4, 8, ())
    kernel = kc.Kernel(np.ones((1, 2, 1, 8)), np.zeros((1, 2, 0, 0)), np.zeros(0), 0, 1, 4, 1e-4)
    folder = kc.cache_dir(deck)
    folder.mkdir()
    (folder / f"{key.digest()}.npz").write_bytes(b"PK\x03\x04 truncated")
    (folder / "other.npz").write_bytes(b"")
    assert kc.load(deck, key) is None
    assert kc.store(deck, key, kernel)
    loaded = kc.load(deck, key)
    assert loaded is not None and np.array_equal(loaded.outputs, kernel.outputs)
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{key.digest()}.npz", "other.npz"])


def test_a_kernel_shorter_than_the_clips_still_gives_ngspice_direct_traces(tmp_path):
    """The case that pays (README: 64 clips of 1 s, a 0.52 s kernel): the deck's response has
    decayed below the accuracy target before the clip ends, so the kernel is cut there, and the
    superposed traces still agree with direct runs to 1e-6."""
    import dataclasses

    model = random_stable_model(0, f_lo=1000.0)  # decays within tens of ms
    model = dataclasses.replace(model, readout=dataclasses.replace(model.readout, start=0.0, stop=0.25))
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    direct, superposed = both(model, compiled, noise(model, 2, samples=4001, seed=0), accuracy=1e-4)
    assert superposed.method.used == "superposition" and not superposed.method.fallback
    assert superposed.method.kernels[0].samples < superposed.signals[0].circuit_outputs.shape[-1] / 2
    for a, b in zip(direct.signals, superposed.signals, strict=True):
        assert relative(a.circuit_outputs[:, :-1], b.circuit_outputs[:, :-1]) <= 1e-6


def hat_run(tmp_path, seed: int, exact: bool):
    """A kernel's run settings for a random deck at 16 kHz (the step as direct runs choose it)."""
    from dataclasses import replace

    from r2nn_compiler.verify.circuit import CircuitUnderTest
    from r2nn_compiler.verify.run import PortScaling, model_in_circuit_units
    from r2nn_compiler.verify.transient_run import TransientRun, run_step

    model = random_stable_model(seed)
    compile_model(model, tmp_path / "o", exact=exact)
    compiled = read_compiled(tmp_path / "o")
    system = model_in_circuit_units(model, compiled) if exact else CircuitUnderTest.from_compiled(compiled).state_space()
    scaling = PortScaling.of(compiled)
    base = TransientRun.settings(model, compiled, system, 1e-4, "batch", 600.0)
    u = np.random.default_rng(seed).standard_normal((1, len(model.inputs), 401)) * scaling.in_gain[None, :, None]
    period = scaling.time_scale / 16_000.0
    substeps, _ = run_step(base.with_inputs(u, period))
    return replace(base.with_inputs(u[:0], period), substeps=substeps), substeps


@pytest.mark.parametrize("seed, exact", [(0, True), (5, False)])
def test_sample_1s_own_response_over_a_window_then_the_shifted_regular_one(tmp_path, seed, exact, monkeypatch):
    """Sample 1's hat shares ngspice's first steps: its own response runs over a window and the
    shifted regular one continues it once they agree (three runs, at once); when they do not,
    its own runs over the whole kernel (a fourth run) and the kernel is the whole-window one."""
    run, substeps = hat_run(tmp_path, seed, exact)
    calls = []
    monkeypatch.setattr(superposition, "simulate_run", lambda r: calls.append(r.inputs.shape[-1])
                        or simulate_run(r))
    whole = superposition.build_kernel(run, substeps, 400, LocalExecutor(1))  # 400 ≤ HAT1_WHOLE_BELOW
    assert len(calls) == 3 and calls[2] == 402 and whole.prefix == superposition.regular_hat(substeps) == 2
    monkeypatch.setattr(superposition, "HAT1_WHOLE_BELOW", 40)
    monkeypatch.setattr(superposition, "HAT1_TAIL", 1.0)  # accept the splice whatever the tail
    calls.clear()
    spliced = superposition.build_kernel(run, substeps, 400, LocalExecutor(1))
    assert calls == [403, 403, 102]  # sample 0 and the regular hat over the kernel, sample 1 over 100 + 2
    peak = np.max(np.abs(whole.outputs[:, 2]))
    np.testing.assert_array_equal(spliced.outputs[:, [0, 2]], whole.outputs[:, [0, 2]])
    np.testing.assert_array_equal(spliced.outputs[:, 1, :, :100], whole.outputs[:, 1, :, :100])
    assert 0 < np.max(np.abs(spliced.outputs[:, 1] - whole.outputs[:, 1])) <= 1e-4 * peak  # the shifted tail
    if not exact:
        assert spliced.opamps.shape == whole.opamps.shape
        np.testing.assert_array_equal(spliced.opamps[:, [0, 2]], whole.opamps[:, [0, 2]])
    monkeypatch.setattr(superposition, "HAT1_TAIL", 0.0)  # never met: sample 1's own over the whole kernel
    calls.clear()
    again = superposition.build_kernel(run, substeps, 400, LocalExecutor(1))
    assert calls == [403, 403, 102, 402]
    np.testing.assert_array_equal(again.outputs, whole.outputs)
    np.testing.assert_array_equal(again.opamps, whole.opamps)


def test_clips_superposed_and_scored_a_chunk_at_a_time_give_the_same_report(tmp_path, monkeypatch):
    """Work arrays hold SCORE_CHUNK clips at a time (memory for 10,000 clips: docs/verify.md);
    chunks of 2 give the same traces and figures as one chunk."""
    model = random_stable_model(0)
    compile_model(model, tmp_path / "o", exact=True)
    compiled = read_compiled(tmp_path / "o")
    signals = noise(model, 5)
    whole = verify_deck(model, compiled, signals, run_ac=False, method="superposition", spot_checks=0)
    monkeypatch.setattr(superposition, "SCORE_CHUNK", 2)
    chunked = verify_deck(model, compiled, signals, run_ac=False, method="superposition", spot_checks=0)
    assert chunked.method.kernels[0].cached
    for a, b in zip(whole.signals, chunked.signals, strict=True):
        assert a.path == b.path
        np.testing.assert_allclose(b.circuit_outputs, a.circuit_outputs, rtol=1e-12, atol=1e-15)
        assert a.nrmse == pytest.approx(b.nrmse, rel=1e-9) and a.circuit_class == b.circuit_class


class RecordingExecutor(LocalExecutor):
    """Local processes that note what each ``map`` call was given (inputs' lengths per run)."""

    def __init__(self, workers=None):
        super().__init__(workers)
        self.calls = []

    def map(self, fn, items):
        items = list(items)
        self.calls.append([item.inputs.shape[-1] for item in items])
        return super().map(fn, items)


@pytest.mark.parametrize("seed, exact", [(0, True), (5, False)])
def test_spot_checks_are_the_smallest_exact_margins_and_run_beside_the_kernel(tmp_path, seed, exact):
    """The spot clips are known before ngspice (smallest winning margin of the compared
    system's exact decision values: the MNA of a hardware deck, the model of an exact one),
    so their direct runs go to the workers in the kernel's own batch; the figures are those of
    separate runs (superposed within 1e-6 of direct ones), and a hardware deck's network error
    is the one computed clip by clip."""
    from r2nn_compiler import reference
    from r2nn_compiler.verify import decisions
    from r2nn_compiler.verify.circuit import CircuitUnderTest
    from r2nn_compiler.verify.run import PortScaling, model_in_circuit_units

    model = random_stable_model(seed)
    compile_model(model, tmp_path / "o", exact=exact)
    compiled = read_compiled(tmp_path / "o")
    signals = noise(model, 5, seed=seed)
    executor = RecordingExecutor(2)
    report = verify_deck(model, compiled, signals, run_ac=False, accuracy=1e-4, executor=executor,
                         refine_close=False, method=Method("superposition", 2, None))
    assert report.method.used == "superposition" and not report.method.fallback
    samples = report.method.kernels[0].samples
    assert executor.calls[0][:3] == [samples + 3, samples + 3, samples + 2]  # the three hats ...
    clip = report.signals[0].circuit_outputs.shape[-1]  # up to the readout window's end
    assert executor.calls[0][3:] == [clip, clip] and len(executor.calls) == 1  # ... and both spot clips, at once
    scaling = PortScaling.of(compiled)
    system = model_in_circuit_units(model, compiled) if exact else CircuitUnderTest.from_compiled(compiled).state_space()
    u = np.stack([s.data[:, :clip] for s in signals]) * scaling.in_gain[None, :, None]
    values = reference.system_features(model, system, u, 16_000.0, scaling.time_scale, scaling.out_gain)
    margins = [decisions.winning_margin(dict(zip(model.classes, v))) for v in values]
    assert report.method.spot[0].paths == [signals[i].path for i in np.argsort(margins, kind="stable")[:2]]
    assert report.method.spot[0].difference <= 1e-6 and report.method.spot[0].passed
    if not exact:  # reusing the exact values up front changes no figure
        again = verify_deck(model, compiled, signals, run_ac=False, accuracy=1e-4, executor=LocalExecutor(1),
                            refine_close=False, method=Method("superposition", 0, None))
        for a, b in zip(report.signals, again.signals, strict=True):
            assert a.network_error == pytest.approx(b.network_error, rel=1e-9, abs=1e-15)
