"""The two model formats: the normative sample, JSON/NPZ import, round trips."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings

from r2nn_compiler.compiler import load_model
from r2nn_compiler.model import (
    model_from_json_dict,
    model_from_json_text,
    model_from_npz,
    model_to_json,
    model_to_json_dict,
    model_to_text,
    parse_model_text,
)

from .strategies import models

SAMPLE_JSON = {
    "format": "r2nn-model/1", "name": "toy", "analogy": "force-current", "band": [100.0, 4000.0],
    "resonators": [{"name": "a", "mass": 0.001, "stiffness": 394.8, "damping": 0.02},
                   {"name": "b", "mass": 0.001, "stiffness": 56848.92, "damping": 0.753982},
                   {"name": "t", "mass": 1e-6, "stiffness": 100.0, "damping": 0.001}],
    "couplings": [{"between": ["a", "b"], "kind": "damper", "value": 0.005},
                  {"between": ["b", "t"], "kind": "damper", "value": -0.0002},
                  {"between": ["a", "t"], "kind": "spring", "value": 50.0}],
    "inputs": [{"name": "u", "drives": {"a": 1.0, "b": -0.5}}],
    "outputs": [{"class": "low", "node": "a", "weight": 1.0}, {"class": "high", "node": "b", "weight": 1.2},
                {"class": "rough", "node": "t", "weight": 1.0}],
    "readout": {"kind": "rms", "start": 0.0, "stop": 0.02},
}


def test_sample_parses_and_means_the_json(toy_path):
    text_model = load_model(toy_path)
    assert model_to_json_dict(text_model).keys() == SAMPLE_JSON.keys()
    got, want = model_to_json_dict(text_model), SAMPLE_JSON
    for key in ("format", "name", "analogy", "band", "couplings", "inputs", "outputs", "readout"):
        assert got[key] == want[key], key
    for g, w in zip(got["resonators"], want["resonators"], strict=True):
        assert g["name"] == w["name"]
        for field in ("mass", "stiffness", "damping"):
            assert g[field] == pytest.approx(w[field], rel=1e-6), (g["name"], field)


def test_tuned_form_is_computed_exactly(toy_path):
    b = load_model(toy_path).resonators[1]
    w0 = 2 * math.pi * 1200.0
    assert b.stiffness == 1e-3 * w0 * w0
    assert b.damping == 1e-3 * w0 / 10
    assert b.f0_hz == pytest.approx(1200.0, rel=1e-15)
    assert b.q == pytest.approx(10.0, rel=1e-15)


def test_electrical_tank_form_maps_by_force_current_analogy(toy_path):
    t = load_model(toy_path).resonators[2]
    assert (t.mass, t.stiffness, t.damping) == (1e-6, 1.0 / 10e-3, 1.0 / 1e3)


def test_couplings_accept_electrical_values():
    text = """model m { resonator a (m=1, k=1, c=1); resonator b (m=1, k=1, c=1);
      couple a -- b damper (R = 2 ohm); couple a -- b spring (L = 4 H);
      input u -> a (1); output o = b; readout rms from 0 s to 1 s; }"""
    model = parse_model_text(text)
    assert [(c.kind, c.value) for c in model.couplings] == [("damper", 0.5), ("spring", 0.25)]


def test_text_to_json_to_text_round_trips(toy_path):
    model = load_model(toy_path)
    again = model_from_json_text(model_to_json(model))
    assert again == model
    assert parse_model_text(model_to_text(again)) == model


@settings(max_examples=150, deadline=None)
@given(models())
def test_round_trip_property(model):
    via_text = parse_model_text(model_to_text(model))
    assert via_text == model
    via_json = model_from_json_text(model_to_json(via_text))
    assert via_json == model
    assert model_to_text(via_json) == model_to_text(model)


@pytest.mark.parametrize("path_and_case", ["case1", "case2", "case3"])
def test_conformance_models_load(path_and_case):
    from .conftest import CASES

    model = load_model(CASES / f"{path_and_case}.json")
    assert model.name == path_and_case
    assert len(model.outputs) == 3


def test_npz_import_builds_the_same_dynamics(tmp_path):
    path = tmp_path / "trained.npz"
    coupling = np.array([[0, 0.01, 0], [0.01, 0, -0.002], [0, -0.002, 0]])
    np.savez(path, mass=[1e-3, 2e-3, 1e-3], stiffness=[400.0, 5e4, 1e5], damping=[0.02, 0.5, 0.3],
             coupling=coupling, drive=[[1.0, 0.0, -0.5]], outputs=[2, 0], window=[0.0, 0.05])
    model = model_from_npz(str(path))
    assert model.name == "trained"
    assert [(c.a, c.b, c.value) for c in model.couplings] == [("r0", "r1", 0.01), ("r1", "r2", -0.002)]
    assert model.inputs[0].drives == (("r0", 1.0), ("r2", -0.5))
    assert [(o.cls, o.node) for o in model.outputs] == [("c0", "r2"), ("c1", "r0")]
    assert (model.readout.start, model.readout.stop) == (0.0, 0.05)


def test_json_analogy_and_band_are_optional():
    doc = dict(SAMPLE_JSON)
    del doc["analogy"], doc["band"]
    model = model_from_json_dict(doc)
    assert model.analogy == "force_current" and model.band is None


def test_json_accepts_force_voltage_spelling():
    doc = dict(SAMPLE_JSON, analogy="force-voltage")
    assert model_from_json_dict(doc).analogy == "force_voltage"
    assert json.loads(model_to_json(model_from_json_dict(doc)))["analogy"] == "force-voltage"
