"""Tolerance analysis: Monte Carlo on the MNA of a compiled deck, ngspice spot checks."""

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from r2nn_compiler.backend.spice_reader import read_library, spice_number
from r2nn_compiler.circuit import mna_matrices
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import load_model, tolerance
from r2nn_compiler.errors import CompileError, UsageError
from r2nn_compiler.reference import default_grid, frequency_response
from r2nn_compiler.circuit.tolerances import parse_tolerances

from .conftest import ROOT

GOLDEN = ROOT / "netlists" / "toy"
SIGNALS = ROOT / "examples" / "toy" / "signals"


@pytest.fixture
def labelled(tmp_path):
    for cls, names in {"low": ["tone_100hz", "chirp"], "high": ["tone_1200hz", "tone_1600hz"]}.items():
        (tmp_path / cls).mkdir()
        for name in names:
            shutil.copy(SIGNALS / f"{name}.wav", tmp_path / cls)
    return [tmp_path / "low", tmp_path / "high"]


def test_parse_tolerances():
    assert parse_tolerances("R=1%, C=5%,L=10%") == {"R": 0.01, "C": 0.05, "L": 0.1}
    for bad in ("Q=1%", "R=abc", "R=150%", "R1%"):
        with pytest.raises(UsageError, match="--tol"):
            parse_tolerances(bad)


def test_spice_numbers_follow_spice_not_the_model_language():
    assert spice_number("1M") == 1e-3 and spice_number("1meg") == 1e6 and spice_number("2.2uF") == 2.2e-6


def test_library_reads_back_to_the_same_circuit():
    manifest = json.loads((GOLDEN / "manifest.json").read_text())
    graph = read_library(GOLDEN / "toy.lib", manifest["subckt"], {"in1": "input"})
    model = load_model(ROOT / "examples" / "toy" / "toy.r2nn")
    freqs = default_grid(model, 50)
    h = mna_matrices(graph, ["in1"]).ac(freqs, ["out1", "out2", "out3"])
    ref = frequency_response(model, freqs)
    assert np.max(np.abs(h - ref)) / np.max(np.abs(ref)) < 1e-9
    assert graph.component("L1").origin == "resonator a stiffness"


def test_library_reader_rejects_unknown_elements(tmp_path):
    lib = tmp_path / "x.lib"
    lib.write_text(".subckt s a b\nR1 a b 1k\nQ1 a b 0 npn\n.ends s\n")
    with pytest.raises(CompileError, match=r"x.lib:3: element 'Q1' is outside the supported subset"):
        read_library(lib, "s", {})


def test_zero_tolerance_never_changes_a_decision(labelled):
    model = load_model(ROOT / "examples" / "toy" / "toy.r2nn")
    report = tolerance(model, GOLDEN, labelled, {"R": 0.0, "C": 0.0, "L": 0.0}, runs=8, spot_checks=0, workers=1)
    assert np.all(report.agreement == 1.0) and np.all(report.accuracy == 1.0)
    assert report.sensitivity == []


def test_monte_carlo_reports_bands_sensitivity_and_spot_checks(labelled):
    model = load_model(ROOT / "examples" / "toy" / "toy.r2nn")
    report = tolerance(model, GOLDEN, labelled, {"R": 0.01, "C": 0.05, "L": 0.10}, runs=40, spot_checks=2)
    assert report.agreement.shape == (40,) and report.nominal_agreement == 1.0
    band = report.band(report.agreement)
    assert 0 <= band["p5"] <= band["mean"] <= band["p95"] <= 1
    assert report.sensitivity[0]["kind"] in "RLC" and report.sensitivity[0]["feature_change"] > 0
    changes = [r["feature_change"] for r in report.sensitivity if r["decisions_flipped"] == 0]
    assert changes == sorted(changes, reverse=True)
    for check in report.spot_checks:
        assert check["decisions_agree"] == check["signals"]
        assert check["ngspice_vs_mna_nrmse"] < 0.005


def test_tolerance_cli(labelled, tmp_path):
    result = CliRunner().invoke(main, ["tolerance", str(ROOT / "examples" / "toy" / "toy.r2nn"), str(GOLDEN),
                                       "--signals", str(labelled[0]), str(labelled[1]), "--runs", "10",
                                       "--spot-checks", "1", "--json", str(tmp_path / "t.json")])
    assert result.exit_code == 0, result.output
    assert "class agreement with the reference: mean" in result.output
    assert "ngspice spot check, draw 0: 4/4" in result.output
    assert json.loads((tmp_path / "t.json").read_text())["format"] == "r2nn-tolerance/1"


def test_readout_decks_draw_the_linear_circuit_and_spot_check_the_decision_ports(labelled, tmp_path):
    from r2nn_compiler.compiler import compile_model
    from r2nn_compiler.passes import CompileOptions
    from r2nn_compiler.verify import read_compiled
    from r2nn_compiler.backend.ngspice import NgspiceNetlister
    from r2nn_compiler.verify.decisions import linear_circuit

    model = load_model(ROOT / "examples" / "toy" / "toy.r2nn")
    compile_model(model, tmp_path / "o", options=CompileOptions(readout="analog"))
    compiled = read_compiled(tmp_path / "o")
    # The readout read back apart from the linear circuit, netlisted again, gives the library's elements
    # again (SPICE is case-blind; the reader lower-cases nets).
    def elements(text: str) -> list[str]:
        return [line.lower() for line in text.splitlines() if line and not line.startswith("*")]

    library = (tmp_path / "o" / "toy.lib").read_text()
    graph = linear_circuit(compiled).graph
    assert graph.readout is not None and graph.readout.name == "Xreadout"
    assert elements(NgspiceNetlister().library(graph, compiled.manifest["subckt"], [])) == elements(library)
    assert not any(c.name.lower().startswith("xreadout") for c in graph.components)
    # The Monte Carlo draws the linear circuit (with the buffers); the spot check runs the whole
    # perturbed deck and reads its decision ports.
    report = tolerance(model, tmp_path / "o", labelled, {"R": 0.01, "C": 0.05}, runs=12, spot_checks=1,
                       spot_signals=2, workers=1)
    assert report.nominal_agreement == 1.0 and report.agreement.shape == (12,)
    assert any("buffer" in row["origin"] for row in report.sensitivity)
    (check,) = report.spot_checks
    assert check["signals"] == 2 and check["decisions_agree"] == 2
    assert check["ngspice_vs_mna_nrmse"] < 0.005


def test_a_folder_of_class_folders_gives_its_signals_and_their_labels(tmp_path):
    """``--signals DIR`` where DIR holds one folder per class (as run_demo.py writes its
    held-out clips): every clip found, each labelled by its folder, loose files first."""
    from r2nn_compiler.signals import Signal, signal_files
    from r2nn_compiler.verify.tolerance import labels_for

    for cls, n in (("rough", 2), ("smooth", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            np.save(tmp_path / cls / f"{i}.npy", np.zeros((8, 1)))
    np.save(tmp_path / "loose.npy", np.zeros((8, 1)))
    (tmp_path / "notes.txt").write_text("not a signal")
    files = signal_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["loose.npy", "rough/0.npy", "rough/1.npy",
                                                                    "smooth/0.npy"]

    class Classes:
        classes = ["smooth", "rough"]

    signals = [Signal(np.zeros((1, 8)), 8.0, str(f)) for f in files[1:]]
    assert labels_for(Classes(), signals).tolist() == [1, 1, 0]
