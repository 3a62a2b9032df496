"""The in-process runner (libngspice through PySpice), checked against the batch runner."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from r2nn_compiler.errors import SimulationError
from r2nn_compiler.sim import NgspiceBatch, NgspiceShared
from tests.test_sim_batch import RC_DECK, TAU, write_deck, write_filesource_deck


def assert_same_plots(shared, batch):
    assert [p.plotname for p in shared.plots] == [p.plotname for p in batch.plots]
    for s, b in zip(shared.plots, batch.plots):
        assert (s.title, s.flags, s.variables) == (b.title, b.flags, b.variables)
        for name, values in b.data.items():
            # Same engine, same deck: same time points and the same values bit for bit,
            # within the 1e-12 relative tolerance the runners promise.
            assert s.data[name].dtype == values.dtype
            np.testing.assert_allclose(s.data[name], values, rtol=1e-12, atol=0)


def test_version():
    assert NgspiceShared().version() == NgspiceBatch().version()


def test_rc_deck_identical_to_batch(tmp_path):
    deck = write_deck(tmp_path, RC_DECK)
    shared = NgspiceShared().run(deck)
    assert_same_plots(shared, NgspiceBatch().run(deck))
    tran = shared.plot("tran")
    t = tran.get("time")
    np.testing.assert_allclose(tran.get("v(out)"), 1 - np.exp(-t / TAU), atol=1e-3, rtol=0)
    assert shared.plot("ac").get("frequency").dtype == np.complex128
    assert shared.warnings == [] and shared.elapsed_s > 0


def test_filesource_identical_to_batch(tmp_path):
    deck = write_filesource_deck(tmp_path)
    shared = NgspiceShared().run(deck)
    assert_same_plots(shared, NgspiceBatch().run(deck))
    assert shared.plots[0].variables[-1] == ("i(a1)", "current")  # "a1#branch_0_0" in the lib


def test_output_that_fools_pyspice_is_not_an_error(tmp_path):
    # PySpice raises on "error" anywhere in the output and on any stderr line; neither a
    # title nor ngspice's gmin-stepping notes (forced here by noopiter) is a failure.
    deck = write_deck(tmp_path, RC_DECK.replace("rc step and ac", "error amplifier").replace(
        ".tran", "D1 in 0 dmod\n.model dmod D(is=1e-14)\n.options noopiter\n.tran"))
    shared = NgspiceShared().run(deck)
    assert "Note: Starting dynamic gmin stepping" in shared.log
    assert_same_plots(shared, NgspiceBatch().run(deck))


def test_empty_title_line_stays_the_title(tmp_path):
    deck = write_deck(tmp_path, RC_DECK.replace("rc step and ac", ""))
    shared, batch = NgspiceShared().run(deck), NgspiceBatch().run(deck)
    assert (shared.plots[0].title, batch.plots[0].title) == ("*", "")
    np.testing.assert_array_equal(shared.plot("tran").get("v(in)"), batch.plot("tran").get("v(in)"))


def test_text_deck_runs_in_workdir_and_restores_cwd(tmp_path):
    (tmp_path / "input.txt").write_text("0 0\n1e-3 1\n")
    deck_text = write_filesource_deck(tmp_path).read_text()
    before = os.getcwd()
    result = NgspiceShared().run(deck_text, tmp_path)
    assert os.getcwd() == before
    assert result.plot("tran").get("v(in)")[-1] == pytest.approx(1.0)


def test_runs_do_not_see_each_other(tmp_path):
    runner = NgspiceShared()
    first = runner.run(write_deck(tmp_path, RC_DECK))
    second = runner.run(write_deck(tmp_path, RC_DECK.replace(".ac dec 10 10 1e5\n", ""), "b.cir"))
    assert len(first.plots) == 2 and [p.plotname for p in second.plots] == ["Transient Analysis"]


def test_errors_are_reported_and_the_library_recovers(tmp_path):
    runner = NgspiceShared()
    bad = RC_DECK.replace("C1 out 0 1e-6", "C1 out 0 1e-6\nX1 in out nosub")
    with pytest.raises(SimulationError, match="bad.cir: ngspice failed: Error: unknown subckt"):
        runner.run(write_deck(tmp_path, bad, "bad.cir"))
    singular = RC_DECK.replace("C1 out 0 1e-6", "C1 out 0 1e-6\nR2 float1 float2 1k")
    with pytest.raises(SimulationError, match="singular matrix: check node float1"):
        runner.run(singular, tmp_path)
    assert len(runner.run(RC_DECK, tmp_path).plots) == 2


def test_control_block_refused(tmp_path):
    with pytest.raises(SimulationError, match=r"<deck text>:7: deck has a .control block"):
        NgspiceShared().run(RC_DECK.replace(".end", ".control\nrun\n.endc\n.end"), tmp_path)


def test_missing_deck(tmp_path):
    with pytest.raises(SimulationError, match="deck file not found"):
        NgspiceShared().run(tmp_path / "absent.cir")


def test_fatal_error_disables_the_library_for_the_process(tmp_path):
    # Run in a child process: after a fatal error libngspice is unusable until the process
    # ends, and this test process still needs it.
    fatal = RC_DECK.replace("C1 out 0 1e-6", "C1 out 0 1e-6\n.param a=1\nR2 out 0 {b}")
    script = textwrap.dedent(f"""
        from r2nn_compiler.sim import NgspiceShared
        for deck in ({fatal!r}, {RC_DECK!r}):
            try:
                NgspiceShared().run(deck, {str(tmp_path)!r})
            except Exception as exc:
                print(exc)
    """)
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=root, env=env)
    first, second = done.stdout.splitlines()
    assert "libngspice hit a fatal error: Netlist line no. 6: Undefined parameter [b]" in first
    assert "restart the process or use NgspiceBatch" in first
    assert second.startswith("libngspice cannot run more decks in this process")
    assert "Unsupported Ngspice version" not in done.stderr
