"""The diode law of a linear readout (issue 20, part A): ``law diode (...);`` and the features'
``gain`` in ``.r2nn`` text and r2nn-model/1 JSON — one IR from both, exact round trips, both
text readers, one positioned line for every mistake, layers without a law unchanged."""

import copy
import json

import dataclasses

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler.cli import main
from r2nn_compiler.model import (
    DiodeLaw,
    Feature,
    model_from_json_dict,
    model_from_json_text,
    model_problems,
    model_to_json,
    model_to_json_dict,
    model_to_text,
    parse_model_text,
)

from .strategies import linear_readouts, models
from .test_readout_layer_format import LAYER, LAYER_JSON, assert_readers_agree

LAW_LINE = "        law diode (nvt = 47.5 mV, rate = 12.2 Hz, clip = 1.6 V, hold = 7.8 s);\n"
DIODE = (LAYER.replace("        floor 1p;                               # required, > 0\n", LAW_LINE)
         .replace("feature f0 = a (segment = 0);", "feature f0 = a (segment = 0, gain = 3.2);"))

DIODE_JSON = copy.deepcopy(LAYER_JSON)
del DIODE_JSON["readout"]["floor"]
DIODE_JSON["readout"]["law"] = {"kind": "diode", "nvt": 0.0475, "rate": 12.2, "clip": 1.6, "hold": 7.8}
DIODE_JSON["readout"]["features"][0]["gain"] = 3.2


def test_text_and_json_give_the_same_law():
    model = parse_model_text(DIODE, "d.r2nn")
    assert model == model_from_json_dict(DIODE_JSON)
    ro = model.readout
    assert ro.law == DiodeLaw(0.0475, 12.2, 1.6, 7.8) and ro.law.kind == "diode"
    assert ro.floor == 0.0
    assert ro.features == (Feature("f0", "a", 0, 3.2), Feature("f1", "b", 2, 1.0))


def test_hold_and_gain_are_optional_and_floor_may_stay():
    text = DIODE.replace(LAW_LINE, LAW_LINE + "        floor 1p;\n")
    model = parse_model_text(text.replace(", hold = 7.8 s", "").replace(", gain = 3.2", ""))
    assert model.readout.law.hold is None and model.readout.floor == 1e-12
    assert [f.gain for f in model.readout.features] == [1.0, 1.0]
    written = model_to_text(model)
    assert "hold" not in written and "gain" not in written and "floor 1e-12;" in written
    assert parse_model_text(written) == model
    doc = model_to_json_dict(model)
    assert "hold" not in doc["readout"]["law"] and doc["readout"]["floor"] == 1e-12
    assert model_from_json_dict(doc) == model


@pytest.mark.parametrize("text", [DIODE, DIODE.replace(", hold = 7.8 s", ""),
                                  DIODE.replace("segments 0 s", "floor 2p; segments 0 s")],
                         ids=["example", "no hold", "floor too"])
def test_both_text_readers_agree(text):
    assert_readers_agree(text)


def test_round_trips_are_exact():
    model = parse_model_text(DIODE)
    text = model_to_text(model)
    assert "law diode (nvt = 0.0475 V, rate = 12.2 Hz, clip = 1.6 V, hold = 7.8 s);" in text
    assert "feature f0 = a (segment = 0, gain = 3.2);" in text and "floor" not in text
    assert parse_model_text(text) == model
    assert model_to_text(parse_model_text(text)) == text
    js = model_to_json(model)
    assert model_from_json_text(js) == model and model_to_json(model_from_json_text(js)) == js
    assert model_from_json_text(model_to_json(parse_model_text(text))) == model


def test_layers_without_a_law_write_as_before():
    model = parse_model_text(LAYER)
    assert model.readout.law is None and all(f.gain == 1.0 for f in model.readout.features)
    doc = model_to_json_dict(model)
    assert "law" not in doc["readout"] and all("gain" not in f for f in doc["readout"]["features"])
    assert list(doc["readout"]) == ["kind", "start", "stop", "segments", "floor", "features", "classes"]
    assert "law" not in model_to_text(model) and "gain" not in model_to_text(model)


def test_convert_goes_both_ways(tmp_path):
    src = tmp_path / "d.r2nn"
    src.write_text(DIODE)
    out_json, back = tmp_path / "d.json", tmp_path / "back.r2nn"
    assert CliRunner().invoke(main, ["convert", str(src), "-o", str(out_json)]).exit_code == 0
    assert CliRunner().invoke(main, ["convert", str(out_json), "-o", str(back)]).exit_code == 0
    assert parse_model_text(back.read_text()) == parse_model_text(DIODE)


@pytest.mark.parametrize("desc, old, new, pos, fragment", [
    ("unknown law", "law diode", "law triode", "8:13", "law must be diode"),
    ("negative nvt", "nvt = 47.5 mV", "nvt = -47.5 mV", "8:26", "nvt of law diode must be a finite number > 0 (V)"),
    ("zero rate", "rate = 12.2 Hz", "rate = 0 Hz", "8:42", "rate of law diode must be a finite number > 0 (1/s)"),
    ("zero clip", "clip = 1.6 V", "clip = 0 V", "8:58", "clip of law diode must be a finite number > 0"),
    ("negative hold", "hold = 7.8 s", "hold = -1 s", "8:72", "hold of law diode must be a finite number > 0 (s)"),
    ("wrong unit", "clip = 1.6 V", "clip = 1.6 s", "8:58", "law diode parameter clip takes a value in V, not s"),
    ("missing rate", "rate = 12.2 Hz, ", "", "8:19", "law diode is missing parameter rate"),
    ("unknown param", "hold = 7.8 s", "tau = 7.8 s", "8:65", "law diode has no parameter 'tau'"),
    ("law twice", LAW_LINE, LAW_LINE * 2, "9:9", "law given twice (first at line 8)"),
    ("zero gain", "gain = 3.2", "gain = 0", "9:45", "gain of feature 'f0' must be > 0 (V per node unit)"),
    ("gain with a unit", "gain = 3.2", "gain = 3.2 V", "9:45", "takes a plain number, not V"),
    ("negative floor", LAW_LINE, LAW_LINE + "        floor -1p;\n", "9:15", "floor of the linear readout"),
])
def test_bad_law_text_gives_positioned_error(tmp_path, desc, old, new, pos, fragment):
    path = tmp_path / "bad.r2nn"
    path.write_text(DIODE.replace(old, new, 1))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"{path}:{pos}: "), line
    assert fragment in line, line
    assert "Traceback" not in result.output


def test_gain_without_a_law_is_refused():
    text = LAYER.replace("feature f0 = a (segment = 0);", "feature f0 = a (segment = 0, gain = 2);")
    with pytest.raises(Exception, match=r"^m.r2nn:9:45: gain of feature 'f0' needs 'law diode"):
        parse_model_text(text, "m.r2nn")
    # gain = 1 is the default, so it is accepted and written as nothing
    model = parse_model_text(LAYER.replace("(segment = 0)", "(segment = 0, gain = 1)"))
    assert model == parse_model_text(LAYER)


def test_floor_still_required_without_a_law():
    with pytest.raises(Exception, match="readout linear needs 'floor"):
        parse_model_text(DIODE.replace(LAW_LINE, "").replace(", gain = 3.2", ""))


@pytest.mark.parametrize("mutate, where, fragment", [
    (lambda d: d["readout"]["law"].update(kind="triode"), "readout.law.kind", "expected 'diode'"),
    (lambda d: d["readout"]["law"].pop("nvt"), "readout.law", "missing key 'nvt'"),
    (lambda d: d["readout"]["law"].update(rate="12"), "readout.law.rate", "expected a number"),
    (lambda d: d["readout"]["law"].update(clip=-1.0), "readout.law.clip", "clip of law diode must be"),
    (lambda d: d["readout"]["law"].update(tau=1.0), "readout.law.tau", "unknown key"),
    (lambda d: d["readout"].update(law=[1]), "readout.law", "expected an object"),
    (lambda d: d["readout"]["features"][0].update(gain=-2.0), "readout.features[0].gain", "must be > 0"),
    (lambda d: d["readout"]["features"][0].update(gain=True), "readout.features[0].gain", "expected a number"),
    (lambda d: d.update(outputs=[{"class": "x", "node": "a"}]) or d["readout"].update(kind="rms"),
     "readout.segments", "only a linear readout has segments"),
])
def test_bad_law_json_names_the_path(tmp_path, mutate, where, fragment):
    doc = copy.deepcopy(DIODE_JSON)
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"{path}: {where}: "), line
    assert fragment in line, line


def test_a_law_on_an_rms_readout_is_refused():
    doc = copy.deepcopy(LAYER_JSON)
    doc["readout"] = {"kind": "rms", "start": 0.0, "stop": 0.5, "law": DIODE_JSON["readout"]["law"]}
    doc["outputs"] = [{"class": "x", "node": "a"}]
    with pytest.raises(Exception, match="readout.law: only a linear readout has law"):
        model_from_json_dict(doc, "m.json")


@settings(max_examples=60, deadline=None)
@given(models(), st.data())
def test_round_trip_property_with_a_law(model, data):
    start = data.draw(st.floats(0, 1))
    layer = data.draw(linear_readouts(model.resonator_names, start, start + data.draw(st.floats(1e-6, 10))))
    nvt = data.draw(st.floats(1e-3, 1.0))
    law = DiodeLaw(nvt, data.draw(st.floats(1e-3, 1e4)), nvt * data.draw(st.floats(0.01, 500)),
                   data.draw(st.none() | st.floats(1e-3, 1e3)))
    features = tuple(dataclasses.replace(f, gain=data.draw(st.floats(1e-3, 1e3) | st.just(1.0)))
                     for f in layer.features)
    floor = data.draw(st.just(0.0) | st.floats(1e-9, 1.0))
    layer = dataclasses.replace(layer, law=law, features=features, floor=floor)
    model = type(model)(model.name, model.resonators, model.couplings, model.inputs, (), layer,
                        analogy=model.analogy, band=model.band)
    assert model_problems(model) == []
    via_text = parse_model_text(model_to_text(model))
    assert via_text == model
    via_json = model_from_json_text(model_to_json(via_text))
    assert via_json == model
    assert model_to_text(via_json) == model_to_text(model)


def test_check_and_simulate_show_the_law(tmp_path):
    import numpy as np

    src = tmp_path / "d.r2nn"
    src.write_text(DIODE)
    runner = CliRunner()
    result = runner.invoke(main, ["check", str(src)])
    assert result.exit_code == 0 and "law diode (n·Vt 0.0475 V, k 12.2 1/s, clip 1.6 V)" in result.output
    result = runner.invoke(main, ["check", str(src), "--json"])
    assert json.loads(result.output)["readout"]["law"] == {"kind": "diode", "nvt": 0.0475, "rate": 12.2,
                                                           "clip": 1.6, "hold": 7.8}
    sig = tmp_path / "s.npy"
    np.save(sig, np.random.default_rng(0).standard_normal(4801) * 0.05)
    result = runner.invoke(main, ["simulate", str(src), str(sig), "--rate", "8000"])
    assert result.exit_code == 0, result.output
    assert "features readings ψ (V, law diode)" in result.output
