"""The batch runner and the log classifier, on real ngspice runs."""

import math
import os
import re
import tempfile

import numpy as np
import pytest

from r2nn_compiler.errors import SimulationError
from r2nn_compiler.sim import NgspiceBatch, classify_log

TAU = 1.5915494309189535e-4  # s; R*C, so the RC corner is 1/(2*pi*TAU) = 1 kHz exactly
RC_DECK = f"""rc step and ac
V1 in 0 PULSE(0 1 0 1e-9 1e-9 1 2) AC 1
R1 in out {TAU / 1e-6!r}
C1 out 0 1e-6
.tran 2e-6 1e-3
.ac dec 10 10 1e5
.end
"""
# A piecewise-linear source read from a file relative to the deck: 0 V, then a 1 V step
# at 1 ms (1 us rise).
FILESOURCE_DECK = """filesource drives an rc
a1 %vd([in 0]) filesrc
.model filesrc filesource (file="input.txt" amploffset=[0] amplscale=[1] timeoffset=0
+ timescale=1 timerelative=false amplstep=false)
R1 in out 1e3
C1 out 0 1e-6
.tran 1e-5 3e-3
.end
"""
FILESOURCE_DATA = "0 0\n1e-3 0\n1.001e-3 1\n3e-3 1\n"
LONG_DECK = """runs for minutes
V1 in 0 SIN(0 1 1e3)
R1 in out 1e3
C1 out 0 1e-6
.tran 1e-9 10
.end
"""


def write_deck(folder, text, name="deck.cir"):
    path = folder / name
    path.write_text(text)
    return path


def write_filesource_deck(folder):
    (folder / "input.txt").write_text(FILESOURCE_DATA)
    return write_deck(folder, FILESOURCE_DECK)


@pytest.fixture(scope="module")
def rc_result(tmp_path_factory):
    return NgspiceBatch().run(write_deck(tmp_path_factory.mktemp("rc"), RC_DECK))


def test_version():
    assert re.fullmatch(r"\d+\S*", NgspiceBatch().version())


def test_rc_step_matches_analytic(rc_result):
    tran = rc_result.plot("tran")
    t = tran.get("time")
    np.testing.assert_allclose(tran.get("v(out)"), 1 - np.exp(-t / TAU), atol=1e-3, rtol=0)
    assert rc_result.warnings == [] and rc_result.elapsed_s > 0
    assert "Circuit: rc step and ac" in rc_result.log


def test_ac_is_complex_and_half_power_at_the_corner(rc_result):
    ac = rc_result.plot("AC Analysis")
    assert ac.is_complex and ac.get("v(out)").dtype == np.complex128
    frequency = ac.get("frequency")
    assert np.all(frequency.imag == 0)  # the runner repairs ngspice's garbage imaginary part
    h = ac.get("v(out)") / ac.get("v(in)")
    corner = np.argmin(abs(frequency.real - 1e3))
    assert frequency[corner].real == pytest.approx(1e3)
    assert abs(h[corner]) == pytest.approx(1 / math.sqrt(2), abs=1e-3)
    np.testing.assert_allclose(np.angle(h[corner]), -math.pi / 4, atol=1e-3)


def test_plot_lookup_errors(rc_result):
    with pytest.raises(SimulationError, match="no plot matches 'noise'.*'AC Analysis'"):
        rc_result.plot("noise")


def test_filesource_relative_to_the_deck(tmp_path):
    result = NgspiceBatch().run(write_filesource_deck(tmp_path))
    tran = result.plot("tran")
    t, v_in, v_out = tran.get("time"), tran.get("v(in)"), tran.get("v(out)")
    np.testing.assert_allclose(v_in[t <= 1e-3], 0, atol=1e-9)
    np.testing.assert_allclose(v_in[t >= 1.001e-3], 1, atol=1e-9)
    late = t >= 1.2e-3
    # RC = 1 ms driven by a step at ~1.0005 ms (the middle of the 1 us ramp).
    np.testing.assert_allclose(v_out[late], 1 - np.exp(-(t[late] - 1.0005e-3) / 1e-3), atol=2e-3)


def test_run_text_resolves_relative_includes_and_cleans_up(tmp_path):
    (tmp_path / "parts.inc").write_text("R1 in out 1e3\nC1 out 0 1e-6\n")
    text = (
        "include test\nV1 in 0 PULSE(0 1 0 1e-9 1e-9 1 2)\n.include parts.inc\n"
        ".tran 1e-5 1e-3\n.end\n"
    )
    result = NgspiceBatch().run_text(text, tmp_path)
    assert result.plot("tran").get("v(out)")[-1] == pytest.approx(1 - math.exp(-1), abs=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["parts.inc"]


@pytest.mark.parametrize(
    "line, message",
    [
        ("X1 in out nosuchsub", "unknown subckt: x1 in out nosuchsub"),
        ("R2 in out 1k foo=3", r"Error on line 5 .*r2 in out 1k foo=3 \| unknown parameter"),
        ("C2 out 0 1x-6zz", "can't find model '1x-6zz'"),  # ngspice alone would exit 0
        ("R2 float1 float2 1k", "singular matrix: check node float1"),  # ngspice exits 0 too
        (".tran abc", "TSTEP is invalid"),
    ],
)
def test_deck_errors(tmp_path, line, message):
    deck = write_deck(tmp_path, RC_DECK.replace("C1 out 0 1e-6", f"C1 out 0 1e-6\n{line}"))
    with pytest.raises(SimulationError, match=rf"deck.cir: ngspice failed: .*{message}"):
        NgspiceBatch().run(deck)


def test_deck_without_analysis(tmp_path):
    deck = write_deck(tmp_path, "no analysis\nV1 in 0 1\nR1 in 0 1k\n.end\n")
    with pytest.raises(SimulationError, match="wrote no results.*analysis card"):
        NgspiceBatch().run(deck)


def test_control_block_refused(tmp_path):
    deck = write_deck(tmp_path, RC_DECK.replace(".end", ".control\nrun\n.endc\n.end"))
    with pytest.raises(SimulationError, match=r"deck.cir:7: deck has a .control block"):
        NgspiceBatch().run(deck)


def test_timeout_kills_ngspice_and_leaves_no_files(tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    work = tmp_path / "work"
    work.mkdir()
    deck = write_deck(work, LONG_DECK)
    with pytest.raises(SimulationError, match=rf"ngspice timed out after 0.5 s on {deck}"):
        NgspiceBatch(timeout_s=0.5).run(deck)
    assert list(scratch.iterdir()) == []
    assert list(work.iterdir()) == [deck]
    with pytest.raises(SimulationError, match="timed out"):
        NgspiceBatch(timeout_s=0.5).run_text(LONG_DECK, work)
    assert list(scratch.iterdir()) == [] and list(work.iterdir()) == [deck]


def test_missing_executable_gives_install_hint(tmp_path):
    deck = write_deck(tmp_path, RC_DECK)
    with pytest.raises(SimulationError) as caught:
        NgspiceBatch(executable="ngspice-not-installed").run(deck)
    assert str(caught.value) == (
        "ngspice-not-installed not found on PATH: install it with "
        "`apt-get install -y ngspice libngspice0 libngspice0-dev`"
    )


def _fake_ngspice(folder, body):
    script = folder / "fake-ngspice"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_killed_by_signal(tmp_path):
    fake = _fake_ngspice(tmp_path, "kill -SEGV $$")
    with pytest.raises(SimulationError, match="killed by signal SIGSEGV"):
        NgspiceBatch(executable=fake).run(write_deck(tmp_path, RC_DECK))


def test_silent_nonzero_exit(tmp_path):
    fake = _fake_ngspice(tmp_path, "echo starting; exit 3")
    with pytest.raises(SimulationError, match="exit status 3, last output: starting"):
        NgspiceBatch(executable=fake).run(write_deck(tmp_path, RC_DECK))


def test_missing_deck(tmp_path):
    with pytest.raises(SimulationError, match="deck file not found"):
        NgspiceBatch().run(tmp_path / "absent.cir")


def test_user_spiceinit_is_ignored(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    # Would make every run fail if ngspice read it.
    (home / ".spiceinit").write_text("echo Error: user spiceinit was read\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SPICE_ASCIIRAWFILE", "1")
    work = tmp_path / "work"
    work.mkdir()
    result = NgspiceBatch().run(write_deck(work, RC_DECK))
    assert "spiceinit" not in result.log
    assert len(result.plots) == 2


def test_spiceinit_beside_the_deck_is_reported(tmp_path):
    # ngspice always runs ./.spiceinit (only -n would stop it, a switch the runner never uses).
    (tmp_path / ".spiceinit").write_text("set noaskquit\n")
    result = NgspiceBatch().run(write_deck(tmp_path, RC_DECK))
    expected = f"{tmp_path / '.spiceinit'} exists and ngspice ran it before the deck"
    assert result.warnings == [expected]


# Real ngspice 39 output (trimmed), as provoked by the decks above and similar ones.
SINGULAR_LOG = """Circuit: error amplifier
Warning: singular matrix:  check node float1
Note: Starting dynamic gmin stepping
Trying gmin =   1.0000E-03 Note: One successful gmin step
Trying gmin =   9.9996E-03 Warning: Last gmin step failed
Warning: Dynamic gmin stepping failed
Initial Transient Solution
--------------------------

Node                                   Voltage
----                                   -------
error_sum                                    1
out                                 0.00995017
v1#branch                          -0.00099005

No. of Data Rows : 108
"""
FATAL_LOG = """Note: No compatibility mode selected!
Circuit: np
Netlist line no. 3:
Undefined parameter [b]
Netlist line no. 3:
Cannot compute substitute
ERROR: fatal error in ngspice, exit(1)
"""


def test_classify_singular_matrix_and_tables():
    report = classify_log(SINGULAR_LOG)
    assert report.errors == ["Warning: singular matrix:  check node float1"]
    assert report.warnings == ["Warning: Last gmin step failed",
                               "Warning: Dynamic gmin stepping failed"]


def test_classify_multi_line_messages():
    report = classify_log(FATAL_LOG)
    assert report.errors == [
        "Netlist line no. 3: Undefined parameter [b]",
        "Netlist line no. 3: Cannot compute substitute",
        "ERROR: fatal error in ngspice, exit(1)",
    ]
    assert report.warnings == []


def test_classify_ignores_noise():
    noise = "\n".join([
        "Unsupported Ngspice version 39",
        "Note: No compatibility mode selected!",
        "Circuit: warning light error detector",
        "Comments and warnings go to log-file: x.log",
        "** Please file your bug-reports at http://ngspice.sourceforge.net/bugrep.html",
        "Doing analysis at TEMP = 27.000000 and TNOM = 27.000000",
        "No. of Data Rows : 526",
    ])
    assert classify_log(noise) == classify_log("")
    assert classify_log("Note: can't find init file.").warnings == ["Note: can't find init file."]


def test_classify_real_timestep_failure(tmp_path):
    # Two voltage sources in parallel: ngspice cannot find an operating point.
    deck = write_deck(tmp_path, "loop\nV1 in 0 1\nV2 in 0 2\nR1 in 0 1k\n.tran 1e-5 1e-3\n.end\n")
    with pytest.raises(SimulationError) as caught:
        NgspiceBatch().run(deck)
    assert "singular matrix" in str(caught.value) and "timestep too small" in str(caught.value)
    assert not os.path.exists(deck.with_suffix(".raw"))
