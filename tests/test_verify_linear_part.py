"""Verify's linear part of a deck whose readout cells hang on its taps (``verify.linear_part``):
which decks it applies to, how the readout's instance is cut out, and in ngspice on the micropower
toy deck that the gated NRMSE is the linear part's, the loaded taps are reported beside it, and a
linear part that ngspice simulates differently from the MNA fails."""

import json
import re
import shutil

import numpy as np
import pytest

from r2nn_compiler.compiler import compile_model, verify
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.verify import decisions, linear_part
from r2nn_compiler.verify.manifest import read_compiled
from r2nn_compiler.verify.metrics import nrmse

from .test_compile_linear_readout import TOY_SIGNALS, linear_toy
from .test_readout_micropower import law_toy

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    out = tmp_path_factory.mktemp("linear_part") / "o"
    compile_model(law_toy(), out, options=CompileOptions(readout="analog"))
    return out


def test_the_micropower_readout_loads_its_taps_a_buffered_one_does_not(deck, tmp_path):
    compiled = read_compiled(deck)
    assert linear_part.loads_taps(decisions.linear_circuit(compiled), compiled.manifest)
    compile_model(linear_toy(), tmp_path / "b", options=CompileOptions(readout="behavioural"))
    buffered = read_compiled(tmp_path / "b")
    circuit = decisions.linear_circuit(buffered)
    assert circuit.graph.readout is not None and not linear_part.loads_taps(circuit, buffered.manifest)


def test_the_linear_part_is_the_deck_without_the_readouts_instance(deck):
    """Netlisted again from the deck read back: the deck's library line for line (up to case,
    which ngspice ignores), less the readout instance's line and the comments; the graph verify
    shares keeps its readout."""
    compiled = read_compiled(deck)
    circuit = decisions.linear_circuit(compiled)
    text = compiled.library_path.read_text()
    part = linear_part.linear_part_library(circuit, compiled.spec.subckt)
    assert circuit.graph.readout is not None
    live = [line for line in part.splitlines() if re.match(r"xreadout\s", line, re.I)]
    assert re.search(r"^Xreadout\s", text, re.M | re.I) and not live
    body = [line.lower() for line in text.splitlines() if not line.startswith("*")]  # ngspice ignores case
    kept = [line.lower() for line in part.splitlines() if not line.startswith("*")]
    dropped = [line for line in body if line not in kept]
    assert len(dropped) == 1 and re.match(r"xreadout\s", dropped[0], re.I)
    assert all(line in body for line in kept)


@needs_ngspice
def test_the_gated_nrmse_is_the_linear_parts_and_the_loaded_taps_are_reported(deck):
    """Toy signals in ngspice: passes; every signal's gated NRMSE is its linear part's against the MNA
    (within the predicted integration error's order), the loaded taps' NRMSE against the MNA is the
    loaded traces' own (recomputed here), and the JSON and the summary carry them under new keys."""
    model = law_toy()
    report = verify(model, deck, [TOY_SIGNALS], run_ac=False)
    assert report.passed, report.failures()
    circuit = decisions.linear_circuit(read_compiled(deck))
    for s in report.signals:
        loaded = s.loaded_taps
        assert loaded is not None and set(loaded.nrmse_vs_circuit) == set(s.nrmse_vs_circuit)
        mna = circuit.outputs_for({}, [s_ for s_ in _signals(model) if s_.path == s.path])[0]
        mna = mna[:, : s.circuit_outputs.shape[1]]
        np.testing.assert_allclose(list(loaded.nrmse_vs_circuit.values()), nrmse(s.circuit_outputs, mna), rtol=1e-9)
        assert max(s.nrmse_vs_circuit.values()) <= 3 * max(s.loaded_taps.linear_part_predicted_nrmse, 1e-4)
        assert 0 <= loaded.score_error < 0.25 * report.decisions["smallest_margin"]
    data = report.to_json()
    summary = data["summary"]["loaded_taps"]
    assert summary["signals"] == 5 and summary["gated"] is False and summary["gated_run"] == "linear_part"
    assert all(s["loaded_taps"]["gated_run"] == "linear_part" and s["loaded_taps"]["linear_part_step_s"] > 0
               for s in data["signals"])
    assert summary["worst_nrmse_vs_circuit"] == max(max(s.loaded_taps.nrmse_vs_circuit.values())
                                                    for s in report.signals)
    assert all("loaded_taps" in s and "nrmse_vs_linear_part" in s["loaded_taps"] for s in data["signals"])
    json.dumps(data)


@needs_ngspice
def test_a_linear_part_ngspice_simulates_differently_from_the_mna_fails(deck, monkeypatch):
    """The gate is the linear part's: a linear part whose ngspice netlist is not the circuit the
    MNA solves (one resonator inductor 10 % off, in the linear part's run only) fails on NRMSE,
    while the decisions (the whole deck's run) are unchanged."""
    model = law_toy()
    original = linear_part.linear_part_run

    def detuned(shared, instance):
        run = original(shared, instance)
        first = re.search(r"^(L\d+ tap\d+ \S+ )(\S+)$", run.library_text, re.M)
        value = float(first.group(2)) * 1.1
        text = run.library_text.replace(first.group(0), f"{first.group(1)}{value:.6g}", 1)
        return type(run)(**{**run.__dict__, "library_text": text})

    monkeypatch.setattr(linear_part, "linear_part_run", detuned)
    report = verify(model, deck, [TOY_SIGNALS], run_ac=False)
    assert report.class_agreement == 1.0
    assert not report.passed
    assert any("NRMSE against the deck's circuit" in f for f in report.failures())
    # the loaded taps (the whole deck, not detuned) still follow the MNA
    assert report.loaded_taps["worst_nrmse_vs_circuit"] < report.tolerances.nrmse


def _signals(model):
    from r2nn_compiler.signals import load_signal, signal_files

    return [load_signal(p, len(model.inputs)) for p in signal_files([TOY_SIGNALS])]


@needs_ngspice
def test_a_step_too_coarse_for_the_limit_fails_on_the_linear_part_and_says_why(deck):
    """An accuracy target above the NRMSE limit: the linear part's run carries the integration
    error the step rule predicted, the gate fails there and the failure names the predicted error."""
    report = verify(law_toy(), deck, [TOY_SIGNALS], run_ac=False, accuracy=0.05, refine=False)
    failed = [f for f in report.failures() if "NRMSE against the deck's circuit" in f]
    assert failed and all("predicted integration error" in f for f in failed)
    worst = max(report.signals, key=lambda s: max(s.nrmse_vs_circuit.values()))
    assert max(worst.nrmse_vs_circuit.values()) > report.tolerances.nrmse
    assert worst.loaded_taps.linear_part_predicted_nrmse > report.tolerances.nrmse
