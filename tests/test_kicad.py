"""``r2nn compile --kicad``: the schematic, checked by KiCad itself (``kicad-cli``, KiCad 9).

ERC has no errors; the board netlist KiCad exports has the deck's elements, values and nets
(the ideal and wiring elements kept off the board excepted and listed); the SPICE netlist
KiCad exports reproduces the shipped testbench's outputs to 1e-6 relative in ngspice. On the
toy model and the tactile demo. ``make system-deps`` / ``.ci/run`` install KiCad; the tests
are skipped (with the reason shown by ``-ra``) on a machine without ``kicad-cli``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from r2nn_compiler.backend.kicad import Footprints, parse_footprints
from r2nn_compiler.backend.kicad.check import check_compiled, kicad_cli
from r2nn_compiler.backend.kicad.parts import si_value
from r2nn_compiler.backend.kicad.sexpr import Atom, dumps, loads, node
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.errors import UsageError
from r2nn_compiler.passes import CompileOptions

from .conftest import ROOT, TOY
from .test_verify import same_but_rounding

needs_kicad = pytest.mark.skipif(kicad_cli() is None, reason="kicad-cli (KiCad 9) not installed: make system-deps")
GOLDEN = ROOT / "netlists" / "toy_kicad"


def test_sexpr_writes_and_reads_back():
    tree = node("a", Atom("b"), 1.5, 'x"y\\z', node("c", 1, 2), node("d", node("e", "f")))
    text = dumps(tree)
    assert text == '(a b 1.5 "x\\"y\\\\z"\n\t(c 1 2)\n\t(d\n\t\t(e "f")\n\t)\n)\n'
    back = loads(text)
    assert back.items[2] == 'x"y\\z' and back.items[4].items[0].items == ("f",)


def test_si_values_keep_every_digit():
    assert si_value(1.13e6) == "1.13M" and si_value(9.1e-5, "F") == "91uF" and si_value(2.2, "H") == "2.2H"
    assert si_value(3.5185837720205684e-08) == "35.185837720205684n" and si_value(-5e3) == "-5k"


def test_footprint_file_overrides_classes_and_designators():
    fp = parse_footprints("# mine\nR Resistor_SMD:R_0805_2012Metric\nX1 = Package_SO:SOIC-8_3.9x4.9mm_P1.27mm\n")
    assert fp.of("R7", "R") == "Resistor_SMD:R_0805_2012Metric" and fp.of("C1", "C") == Footprints().of("C1", "C")
    assert fp.of("X1", "opamp").startswith("Package_SO:")
    with pytest.raises(UsageError, match="line 1"):
        parse_footprints("R not-a-footprint")


def test_compile_kicad_matches_golden_files(tmp_path):
    compile_model(load_model(TOY), tmp_path / "o", kicad=Footprints())
    for path in GOLDEN.iterdir():
        fresh = (tmp_path / "o" / path.name).read_text()
        assert same_but_rounding(fresh, path.read_text()), \
            f"{path} is stale: recompile with 'r2nn compile examples/toy/toy.r2nn --kicad -o netlists/toy_kicad'"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(p.name for p in GOLDEN.iterdir())


def test_cli_kicad_flag_and_footprints_file(tmp_path):
    (tmp_path / "fp.txt").write_text("C Capacitor_SMD:C_1206_3216Metric\n")
    runner = CliRunner()
    result = runner.invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "o"), "--footprints", str(tmp_path / "fp.txt")])
    assert result.exit_code == 0, result.output
    assert "toy.kicad_sch" in result.output and "C_1206_3216Metric" in (tmp_path / "o" / "toy.kicad_sch").read_text()
    plain = runner.invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "p")])
    assert plain.exit_code == 0 and not list((tmp_path / "p").glob("*.kicad_*"))
    (tmp_path / "bad.txt").write_text("R\n")
    bad = runner.invoke(main, ["compile", str(TOY), "-o", str(tmp_path / "b"), "--footprints", str(tmp_path / "bad.txt")])
    assert bad.exit_code == 2 and "--footprints" in bad.output and not (tmp_path / "b").exists()


def _checked(outdir: Path, fraction: float = 1.0):
    report = check_compiled(outdir, fraction)
    assert report.erc == []
    assert report.graph.equal, report.graph
    assert report.graph.board_only == ["J1"]
    assert report.spice_difference <= 1e-6
    return report


@needs_kicad
def test_toy_schematic_is_checked_by_kicad(tmp_path):
    compile_model(load_model(TOY), tmp_path / "toy", kicad=Footprints())
    report = _checked(tmp_path / "toy")
    # off the board: the ideal drives and buffers, and the DC paths of the floating mid nets
    assert report.graph.simulation_only == ["E1", "E2", "E3", "G1", "G2", "R17", "R18", "R19"]


@needs_kicad
def test_toy_analog_readout_is_drawn_part_by_part_and_checked_by_kicad(tmp_path):
    """``--readout analog``: every op-amp, diode, transistor, switch, reference, R and C of the
    readout is a symbol, each class's detector on its own hierarchical sheet; the decisions
    reproduce too. ngspice over half the testbench's time."""
    compile_model(load_model(TOY), tmp_path / "a", options=CompileOptions(readout="analog"), kicad=Footprints())
    report = _checked(tmp_path / "a", fraction=0.5)
    # the controller's timing is no part of the circuit: control ports ctl1, ctl2 the host drives
    assert not {"Vgate", "Vreset"} & set(report.graph.simulation_only)
    sheets = {p.name: p.read_text() for p in (tmp_path / "a").glob("*.kicad_sch")}
    assert {f"toy_readout_class_{k}.kicad_sch" for k in (1, 2, 3)} <= set(sheets)
    root, class1 = sheets["toy.kicad_sch"], sheets["toy_readout_class_1.kicad_sch"]
    assert '(sheet\n' in root and '"Sheetfile" "toy_readout_class_1.kicad_sch"' in root and '"Reference" "Vref"' in root
    for ref, footprint in [("Dpos1", "D_SOD-323"), ("Qlog1", "SOT-23"), ("Sgate1", "SOT-23-6"), ("Xhw1", "SOIC-8")]:
        assert f'"Reference" "{ref}"' in class1 and footprint in class1
    # the window gate and reset are the control ports, the op-amps' rails the supply ports (global labels)
    assert '(global_label "ctl1"' in class1 and '(global_label "vcc"' in class1 and '"readout class 1 (low)"' in class1
    assert 'lib=\\"toy_models.lib\\"' in class1 and ".model d1n4148 D(" in (tmp_path / "a" / "toy_models.lib").read_text()


@needs_kicad
def test_toy_behavioural_readout_is_simulation_only(tmp_path):
    compile_model(load_model(TOY), tmp_path / "b", options=CompileOptions(readout="behavioural"), kicad=Footprints())
    report = _checked(tmp_path / "b", fraction=0.5)
    assert {"Bsq1", "Bwta1"} <= set(report.graph.simulation_only) and "Vgate" not in report.graph.simulation_only


@needs_kicad
def test_golden_toy_schematic_is_checked_by_kicad(tmp_path):
    import shutil

    shutil.copytree(GOLDEN, tmp_path / "toy")
    _checked(tmp_path / "toy")


@needs_kicad
def test_tactile_schematic_is_checked_by_kicad(tmp_path):
    """The tactile demo compiled with defaults (319 parts); ngspice over a quarter of the
    testbench's time (the whole takes a minute per run)."""
    compile_model(load_model(ROOT / "examples" / "tactile" / "model.r2nn"), tmp_path / "t", kicad=Footprints())
    report = _checked(tmp_path / "t", fraction=0.25)
    assert len(report.graph.simulation_only) == 41  # 16 drives, 16 tap buffers, 9 DC paths


def test_op_amp_stages_get_their_own_sheets(tmp_path):
    """The toy's two NIC couplings (an op-amp and its three resistors each) are hierarchical
    sheets; the root sheet has a sheet symbol for each, with a pin per net it shares."""
    compile_model(load_model(TOY), tmp_path / "o", kicad=Footprints())
    stage = (tmp_path / "o" / "toy_damper_coupling_b_t_end_n2.kicad_sch").read_text()
    assert all(f'"Reference" "{ref}"' in stage for ref in ("X1", "R6", "R7", "R8"))
    assert '(hierarchical_label "n3"' in stage and '(hierarchical_label "x1_inn"' not in stage
    root = (tmp_path / "o" / "toy.kicad_sch").read_text()
    assert '"Sheetfile" "toy_damper_coupling_b_t_end_n2.kicad_sch"' in root and '"Reference" "X1"' not in root
    assert '(paper "A3")' in root


@needs_kicad
def test_tactile_gic_stages_are_sheets_checked_by_kicad(tmp_path):
    """``--inductors gic``: each of the 16 GICs (two op-amps and their R, C) on its own sheet."""
    compile_model(load_model(ROOT / "examples" / "tactile" / "model_argmax.r2nn"), tmp_path / "g",
                  options=CompileOptions(inductors="gic"), kicad=Footprints())
    assert len(list((tmp_path / "g").glob("tactile_GIC_for_resonator_*.kicad_sch"))) == 16
    _checked(tmp_path / "g", fraction=0.25)
