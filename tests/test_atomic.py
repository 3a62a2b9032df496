"""Interrupted compiles never leave a half-written output: the previous one stays intact."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from r2nn_compiler import fileutil
from r2nn_compiler.compiler import compile_model, load_model
from r2nn_compiler.model import model_to_json

from .conftest import ROOT
from .strategies import random_stable_model


def _complete(outdir):
    manifest = json.loads((outdir / "manifest.json").read_text())
    lib = (outdir / manifest["library"]).read_text()
    return lib.rstrip().endswith(f".ends {manifest['subckt']}") and (outdir / "bom.csv").is_file()


def test_killed_compiles_leave_old_or_new_output_whole(tmp_path):
    big = tmp_path / "big.json"
    big.write_text(model_to_json(random_stable_model(3, n=120, springs=False)))
    out = tmp_path / "out"
    compile_model(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), out, exact=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.3, 0.6, 0.9, 1.2, 1.5, 2.0):
        proc = subprocess.Popen([sys.executable, "-m", "r2nn_compiler", "compile", str(big), "-o", str(out), "--exact"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _complete(out), f"partial output after a kill at {delay} s"
        assert json.loads((out / "manifest.json").read_text())["model"] in ("toy", "rand3")


def test_interrupt_during_rename_keeps_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "out"
    compile_model(load_model(ROOT / "examples" / "toy" / "toy.r2nn"), out, exact=True)
    before = sorted(p.name for p in out.iterdir())

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fileutil.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        compile_model(random_stable_model(1), out, exact=True)
    assert sorted(p.name for p in out.iterdir()) == before and _complete(out)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # staging removed


def test_atomic_text_write_leaves_no_temporary_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old")
    monkeypatch.setattr(fileutil.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError):
        fileutil.write_text_atomic(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.json"]
