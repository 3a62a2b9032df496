"""The shipped demo models score what their results.json says, on the draw it names.

Each demo's dataset is drawn again by its generator (seconds) from the seed recorded in
``examples/<demo>/results.json``; the clips must hash to the recorded fingerprint, and the shipped
model's held-out reference accuracy on them must equal the recorded one. A changed digest means
the generator or a library that shapes its samples changed: the message names the versions.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from r2nn_compiler.compiler import load_model

from .conftest import ROOT

EXAMPLES = ROOT / "examples"


def _module(name: str):
    sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run_demo():
    return _module("run_demo")


@pytest.fixture(scope="module")
def demo_data():
    return _module("demo_data")


@pytest.mark.parametrize("demo", ["tactile", "bearing", "speech"])
def test_shipped_model_scores_its_recorded_draw(demo, tmp_path, run_demo, demo_data):
    recorded = json.loads((EXAMPLES / demo / "results.json").read_text())
    drawn = recorded["data"]
    data, record = demo_data.demo_dataset(demo, drawn["seed"], drawn["per_class"], folder=tmp_path / "data")
    assert record.sha256 == record.generator_sha256  # what was read is what the generator wrote
    assert record.sha256 == drawn["sha256"], (
        f"{demo}: the regenerated draw differs from the recorded one; libraries then {drawn['libraries']}, "
        f"now {record.libraries}")
    _, test_idx = data.split(run_demo.TEST_FRACTION, drawn["seed"] + 1)
    test = run_demo.subset(data, test_idx)
    model = load_model(EXAMPLES / demo / "model.r2nn")
    accuracy = float(np.mean(run_demo.reference_decisions(model, test) == test.labels))
    assert len(test_idx) == recorded["held_out"]
    assert accuracy == pytest.approx(recorded["reference_accuracy"], abs=1e-12)


def test_a_stale_draw_is_drawn_again(tmp_path, demo_data):
    folder = tmp_path / "data"
    _, first = demo_data.demo_dataset("tactile", 3, 2, folder=folder)
    _, again = demo_data.demo_dataset("tactile", 3, 2, folder=folder)
    assert again.sha256 == first.sha256
    _, other = demo_data.demo_dataset("tactile", 4, 2, folder=folder)  # the folder held seed 3
    assert other.seed == 4 and other.sha256 != first.sha256
