"""The file formats of the linear readout layer (issue 18): ``readout linear ... { ... }`` in
``.r2nn`` text and the ``readout`` object's layer keys in r2nn-model/1 JSON — same IR from both,
exact round trips, one positioned line for every mistake, old models untouched."""

import copy
import json
import random

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler.cli import main
from r2nn_compiler.errors import ModelError, R2nnError
from r2nn_compiler.model import (
    ClassScore,
    Feature,
    Readout,
    model_from_json_dict,
    model_from_json_text,
    model_problems,
    model_to_json,
    model_to_json_dict,
    model_to_text,
    parse_model_text,
)
from r2nn_compiler.model.parser import _Builder, _FastReader, _parser

from .fuzzing import TOY_TEXT, _mutate_node, check_case, mutate_text
from .strategies import linear_readouts, models

LAYER = """model layer {
    resonator a (m = 1m, k = 394.8, c = 20m);
    resonator b (f0 = 1.2 kHz, q = 10, m = 1m);
    couple a -- b damper (c = 5m);
    input u -> a (1.0), b (-0.5);
    readout linear from 0 s to 500 ms {
        segments 0 s, 150 ms, 300 ms, 500 ms;   # optional; default: one segment
        floor 1p;                               # required, > 0
        feature f0 = a (segment = 0);
        feature f1 = b (segment = 2);
        class rough (bias = 0.31) <- f0 (1.2), f1 (-0.4);
        class smooth (bias = -0.1) <- f1 (0.9);
    }
}
"""

LAYER_JSON = {
    "format": "r2nn-model/1", "name": "layer", "analogy": "force-current",
    "resonators": [{"name": "a", "mass": 0.001, "stiffness": 394.8, "damping": 0.02},
                   {"name": "b", "mass": 0.001, "stiffness": 56848.9213502747, "damping": 0.7539822368615503}],
    "couplings": [{"between": ["a", "b"], "kind": "damper", "value": 0.005}],
    "inputs": [{"name": "u", "drives": {"a": 1.0, "b": -0.5}}],
    "readout": {"kind": "linear", "start": 0.0, "stop": 0.5, "segments": [0.0, 0.15, 0.3, 0.5], "floor": 1e-12,
                "features": [{"name": "f0", "node": "a", "segment": 0}, {"name": "f1", "node": "b", "segment": 2}],
                "classes": [{"class": "rough", "bias": 0.31, "weights": {"f0": 1.2, "f1": -0.4}},
                            {"class": "smooth", "bias": -0.1, "weights": {"f1": 0.9}}]},
}


def _tree_shape(node):
    if not hasattr(node, "children"):
        return ("token", str(node), node.line, node.column)
    return (str(node.data), node.meta.line, node.meta.column, tuple(_tree_shape(c) for c in node.children))


# -- one IR from both formats ---------------------------------------------------------------------


def test_text_and_json_give_the_same_layer():
    text = parse_model_text(LAYER, "layer.r2nn")
    assert text == model_from_json_dict(LAYER_JSON)
    ro = text.readout
    assert ro == Readout("linear", 0.0, 0.5, segments=(0.0, 0.15, 0.3, 0.5), floor=1e-12,
                         features=(Feature("f0", "a", 0), Feature("f1", "b", 2)),
                         classes=(ClassScore("rough", 0.31, (("f0", 1.2), ("f1", -0.4))),
                                  ClassScore("smooth", -0.1, (("f1", 0.9),))))
    assert text.outputs == () and text.classes == ["rough", "smooth"] and text.read_nodes == ["a", "b"]
    assert ro.feature_matrix() == (["rough", "smooth"], [0.31, -0.1], [[1.2, -0.4], [0.0, 0.9]])


def test_json_without_outputs_key_and_with_empty_outputs_agree():
    doc = copy.deepcopy(LAYER_JSON)
    assert "outputs" not in doc
    assert model_from_json_dict(doc) == model_from_json_dict({**doc, "outputs": []})


def test_one_segment_by_default_is_stored_as_the_window():
    text = LAYER.replace("        segments 0 s, 150 ms, 300 ms, 500 ms;   # optional; default: one segment\n", "")
    text = text.replace(" (segment = 2)", "").replace(" (segment = 0)", "")
    model = parse_model_text(text)
    assert model.readout.segments == (0.0, 0.5) == model.readout.boundaries
    assert [f.segment for f in model.readout.features] == [0, 0]
    doc = copy.deepcopy(LAYER_JSON)
    del doc["readout"]["segments"]
    for f in doc["readout"]["features"]:
        del f["segment"]
    assert model_from_json_dict(doc) == model
    # the writers: text leaves out what is default, JSON writes every key
    written = model_to_text(model)
    assert "segments" not in written and "segment =" not in written
    assert model_to_json_dict(model)["readout"]["segments"] == [0.0, 0.5]
    assert [f["segment"] for f in model_to_json_dict(model)["readout"]["features"]] == [0, 0]


def test_bias_defaults_to_zero_and_segment_may_be_written_with_one_segment():
    text = LAYER.replace("rough (bias = 0.31)", "rough").replace("        segments 0 s, 150 ms, 300 ms, 500 ms;", "")
    text = text.replace("(segment = 2)", "(segment = 0)")
    model = parse_model_text(text)
    assert model.readout.classes[0].bias == 0.0
    assert "bias = 0.0" not in model_to_text(model)


def test_integral_segment_numbers_are_read_as_integers():
    model = parse_model_text(LAYER.replace("(segment = 2)", "(segment = 2.0)"))
    assert model.readout.features[1].segment == 2 and type(model.readout.features[1].segment) is int
    doc = copy.deepcopy(LAYER_JSON)
    doc["readout"]["features"][1]["segment"] = 2.0
    assert type(model_from_json_dict(doc).readout.features[1].segment) is int


# -- both text readers ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    LAYER,
    LAYER.replace("        segments 0 s, 150 ms, 300 ms, 500 ms;   # optional; default: one segment\n", "")
         .replace(" (segment = 2)", "").replace(" (segment = 0)", ""),
    LAYER.replace("class smooth (bias = -0.1) <- f1 (0.9);", "class smooth;"),
    LAYER.replace("rough (bias = 0.31) <-", "rough <-"),
    LAYER.replace("    }\n", "      }\n").replace("{\n        segments", "{ segments"),
], ids=["example", "one segment", "class without weights", "no bias", "layout"])
def test_fast_reader_builds_lark_tree(text):
    assert_readers_agree(text)


def assert_readers_agree(text: str) -> None:
    """The fast reader reads ``text`` into lark's tree shape, and both build the same model."""
    fast = _FastReader(text).read()
    assert fast is not None
    lark_tree = _parser().parse(text)
    assert _tree_shape(fast) == _tree_shape(lark_tree)
    assert _Builder("m").build(fast) == _Builder("m").build(lark_tree)


def test_fast_reader_reads_written_layers():
    text = model_to_text(parse_model_text(LAYER))
    assert _tree_shape(_FastReader(text).read()) == _tree_shape(_parser().parse(text))


@pytest.mark.parametrize("text", [
    LAYER.replace("floor 1p;", "floor1p;"), LAYER.replace("<- f0", "<-f0"),
    LAYER.replace("segments 0 s,", "segments 0 s ,"),
])
def test_lark_reads_what_the_fast_reader_leaves(text):
    model = parse_model_text(text)
    assert model == parse_model_text(LAYER)


# -- round trips ----------------------------------------------------------------------------------


def test_text_json_text_round_trip_is_exact():
    model = parse_model_text(LAYER)
    written = model_to_text(model)
    via_json = model_from_json_text(model_to_json(model))
    assert via_json == model
    assert model_to_text(via_json) == written
    assert parse_model_text(written) == model
    assert "    readout linear from 0.0 s to 0.5 s {\n        segments 0.0 s, 0.15 s, 0.3 s, 0.5 s;\n" in written
    assert written.endswith("        class rough (bias = 0.31) <- f0 (1.2), f1 (-0.4);\n"
                            "        class smooth (bias = -0.1) <- f1 (0.9);\n    }\n}\n")


def test_json_text_json_round_trip_is_exact():
    doc = model_to_json_dict(model_from_json_dict(LAYER_JSON))
    assert doc["readout"] == LAYER_JSON["readout"]
    assert doc["outputs"] == []
    again = model_to_json_dict(parse_model_text(model_to_text(model_from_json_dict(LAYER_JSON))))
    assert again == doc


@settings(max_examples=60, deadline=None)
@given(models(), st.data())
def test_round_trip_property_with_a_layer(model, data):
    names_ = model.resonator_names
    start = data.draw(st.floats(0, 1))
    layer = data.draw(linear_readouts(names_, start, start + data.draw(st.floats(1e-6, 10))))
    model = type(model)(model.name, model.resonators, model.couplings, model.inputs, (), layer,
                        analogy=model.analogy, band=model.band)
    assert model_problems(model) == []
    via_text = parse_model_text(model_to_text(model))
    assert via_text == model
    via_json = model_from_json_text(model_to_json(via_text))
    assert via_json == model
    assert model_to_text(via_json) == model_to_text(model)
    assert model_to_json_dict(parse_model_text(model_to_text(via_json))) == model_to_json_dict(model)


def test_convert_goes_both_ways(tmp_path):
    src = tmp_path / "layer.r2nn"
    src.write_text(LAYER)
    runner = CliRunner()
    assert runner.invoke(main, ["convert", str(src), "-o", str(tmp_path / "layer.json")]).exit_code == 0
    assert json.loads((tmp_path / "layer.json").read_text())["readout"] == LAYER_JSON["readout"]
    assert runner.invoke(main, ["convert", str(tmp_path / "layer.json"), "-o", str(tmp_path / "back.r2nn")]).exit_code == 0
    assert (tmp_path / "back.r2nn").read_text() == model_to_text(parse_model_text(LAYER))
    assert runner.invoke(main, ["check", str(tmp_path / "back.r2nn")]).exit_code == 0


# -- old models unchanged -------------------------------------------------------------------------


def test_rms_models_read_and_write_as_before():
    model = parse_model_text(TOY_TEXT)
    ro = model.readout
    assert (ro.kind, ro.segments, ro.floor, ro.features, ro.classes) == ("rms", (), 0.0, (), ())
    assert model_to_json_dict(model)["readout"] == {"kind": "rms", "start": 0.0, "stop": 0.02}
    written = model_to_text(model)
    assert written.endswith("    output rough = t;\n\n    readout rms from 0.0 s to 0.02 s;\n}\n")
    cont = parse_model_text(TOY_TEXT.replace("readout rms", "readout rms_continuous"))
    assert model_from_json_text(model_to_json(cont)) == cont == parse_model_text(model_to_text(cont))


def test_rms_json_without_outputs_keeps_its_error():
    doc = model_to_json_dict(parse_model_text(TOY_TEXT))
    del doc["outputs"]
    with pytest.raises(ModelError, match="missing key 'outputs'"):
        model_from_json_dict(doc, "m.json")
    doc["outputs"] = []
    with pytest.raises(ModelError, match="needs at least one output"):
        model_from_json_dict(doc, "m.json")


def test_punctuation_in_syntax_errors_is_named_right():
    # lark numbers anonymous terminals in grammar order; each message names the one expected
    for old, new, want in [("a -- b damper", "a b damper", "expected '--'"),
                           ("100 Hz .. 4 kHz", "100 Hz 4 kHz", "expected '..'"),
                           ("u -> a", "u a", "expected '->' or ';'"),
                           ]:
        with pytest.raises(R2nnError, match=want):
            parse_model_text(TOY_TEXT.replace(old, new), "m.r2nn")
    with pytest.raises(R2nnError, match=r"m\.r2nn:11:35: unexpected 'f0', expected ';' or '<-'"):
        parse_model_text(LAYER.replace("<- f0", "f0"), "m.r2nn")


# -- mistakes: one positioned line each -----------------------------------------------------------

_SEG = "        segments 0 s, 150 ms, 300 ms, 500 ms;   # optional; default: one segment\n"

# (description, old, new, "line:col", message fragment)
TEXT_CASES = [
    ("unknown feature in class", "f1 (0.9)", "f9 (0.9)", "12:39", "unknown feature 'f9' in class 'smooth'"),
    ("feature node unknown", "f1 = b", "f1 = zz", "10:22", "unknown resonator 'zz' in feature 'f1'"),
    ("feature node is a feature", "f1 = b", "f1 = f0", "10:22", "unknown resonator 'f0' in feature 'f1'"),
    ("segment too large", "(segment = 2)", "(segment = 3)", "10:35",
     "segment of feature 'f1' must be an integer in 0..2 (the window has 3 segments), got 3"),
    ("segment negative", "(segment = 2)", "(segment = -1)", "10:35", "must be an integer in 0..2"),
    ("segment not an integer", "(segment = 2)", "(segment = 1.5)", "10:35",
     "segment of feature f1 must be an integer (segments count from 0), got 1.5"),
    ("segment with a unit", "(segment = 2)", "(segment = 2 s)", "10:35", "takes a plain number, not s"),
    ("segment missing with several", "f1 = b (segment = 2)", "f1 = b", "10:17",
     "feature f1 must say which segment it reads: (segment = k), k in 0..2"),
    ("segment out of one", _SEG, "", "9:35", "must be an integer in 0 (the window has 1 segment), got 2"),
    ("feature parameter", "(segment = 0)", "(seg = 0)", "9:25", "feature f0 has no parameter 'seg'"),
    ("floor zero", "floor 1p", "floor 0", "8:15", "floor of the linear readout must be a finite number > 0"),
    ("floor negative", "floor 1p", "floor -1p", "8:15", "must be a finite number > 0 (node units²), got -1e-12"),
    ("floor infinite", "floor 1p", "floor 1e999", "8:15", "not a finite number"),
    ("floor with a unit", "floor 1p", "floor 1 s", "8:15", "floor takes a plain number, not s"),
    ("floor missing", "        floor 1p;                               # required, > 0\n", "", "6:39",
     "readout linear needs 'floor ε;'"),
    ("floor twice", "floor 1p;", "floor 1p; floor 2p;", "8:19", "floor given twice (first at line 8)"),
    ("class without weights", "smooth (bias = -0.1) <- f1 (0.9);", "smooth (bias = -0.1);", "12:15",
     "class 'smooth' weighs no feature"),
    ("class weighs a feature twice", "f1 (0.9);", "f1 (0.9), f1 (1);", "12:49",
     "class 'smooth' weighs feature 'f1' twice"),
    ("class parameter", "(bias = 0.31)", "(weight = 0.31)", "11:22", "class rough has no parameter 'weight'"),
    ("bias infinite", "bias = 0.31", "bias = 1e999", "11:29", "not a finite number"),
    ("bias with a unit", "bias = 0.31", "bias = 0.31 Hz", "11:29", "takes a plain number, not Hz"),
    ("weight infinite", "f0 (1.2)", "f0 (1e999)", "11:42", "not a finite number"),
    ("duplicate feature", "feature f1 = b", "feature f0 = b", "10:17", "duplicate feature name 'f0'"),
    ("duplicate class", "class smooth", "class rough", "12:15", "duplicate class 'rough'"),
    ("boundaries decrease", "150 ms, 300 ms", "300 ms, 150 ms", "7:31",
     "segment boundaries must increase strictly: 0.15 s after 0.3 s"),
    ("boundaries repeat", "150 ms, 300 ms", "150 ms, 150 ms", "7:31", "must increase strictly"),
    ("first boundary not the start", "segments 0 s", "segments 10 ms", "7:18",
     "the first segment boundary must be the window's start (0.0 s), got 0.01"),
    ("last boundary not the stop", "300 ms, 500 ms;", "300 ms, 400 ms;", "7:39",
     "the last segment boundary must be the window's stop (0.5 s), got 0.4"),
    ("one boundary", "segments 0 s, 150 ms, 300 ms, 500 ms;", "segments 0 s;", "7:9",
     "segments needs at least two boundaries"),
    ("boundary unit", "150 ms", "150 Hz", "7:23", "segment boundary takes a value in s, not Hz"),
    ("segments twice", _SEG, _SEG * 2, "8:9", "segments given twice (first at line 7)"),
    ("output with a layer", "    readout linear", "    output low = a;\n    readout linear", "6:12",
     "output 'low': a model with a linear readout has no output statements"),
    ("no features", "        feature f0 = a (segment = 0);\n        feature f1 = b (segment = 2);\n", "", "6:39",
     "a linear readout needs at least one feature"),
    ("one class", "        class smooth (bias = -0.1) <- f1 (0.9);\n", "", "6:39",
     "a linear readout needs at least two classes (the prediction is the argmax of their scores), got 1"),
    ("block on rms", "readout linear", "readout rms", "6:36",
     "readout rms takes no '{ ... }' block"),
    ("block on rms_continuous", "readout linear", "readout rms_continuous", "6:47", "takes no '{ ... }' block"),
    ("linear without block", LAYER[LAYER.index(" {\n        segments"):LAYER.index("    }\n") + 6], ";\n", "6:13",
     "readout linear needs its layer"),
    ("misspelt kind", "readout linear", "readout linaer", "6:13",
     "readout kind must be one of rms, rms_continuous, linear, got 'linaer'"),
    ("window reversed", "from 0 s to 500 ms", "from 600 ms to 500 ms", "6:35", "must end after it starts"),
    ("misspelt statement", "feature f0", "featur f0", "9:9",
     "unexpected 'featur', expected '}' or 'class' or 'feature' or 'floor' or 'law' or 'segments'"),
    ("semicolon after block", "    }\n}", "    };\n}", "13:6", "unexpected ';'"),
    ("missing arrow", "rough (bias = 0.31) <- f0", "rough (bias = 0.31) f0", "11:35", "expected ';' or '<-'"),
]


@pytest.mark.parametrize("desc, old, new, pos, fragment", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_bad_layer_text_gives_positioned_error(tmp_path, desc, old, new, pos, fragment):
    assert old in LAYER, desc
    path = tmp_path / "bad.r2nn"
    path.write_text(LAYER.replace(old, new, 1))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"{path}:{pos}: "), line
    assert fragment in line, line
    assert "Traceback" not in result.output


def _ro(doc):
    return doc["readout"]


# (description, mutation of the document, location, message fragment)
JSON_CASES = [
    ("unknown feature in class", lambda d: _ro(d)["classes"][1].update(weights={"f9": 0.9}),
     "readout.classes[1].weights.f9", "unknown feature 'f9' in class 'smooth'"),
    ("feature node unknown", lambda d: _ro(d)["features"][1].update(node="zz"), "readout.features[1].node",
     "unknown resonator 'zz' in feature 'f1'"),
    ("segment too large", lambda d: _ro(d)["features"][1].update(segment=3), "readout.features[1].segment",
     "must be an integer in 0..2"),
    ("segment negative", lambda d: _ro(d)["features"][1].update(segment=-1), "readout.features[1].segment",
     "must be an integer in 0..2"),
    ("segment not an integer", lambda d: _ro(d)["features"][1].update(segment=1.5), "readout.features[1].segment",
     "expected an integer (segments count from 0), got 1.5"),
    ("segment a boolean", lambda d: _ro(d)["features"][1].update(segment=True), "readout.features[1].segment",
     "expected an integer"),
    ("segment a string", lambda d: _ro(d)["features"][1].update(segment="2"), "readout.features[1].segment",
     "expected an integer (segments count from 0), got str"),
    ("segment missing with several", lambda d: _ro(d)["features"][1].pop("segment"), "readout.features[1]",
     "missing key 'segment' (the window has 3 segments)"),
    ("floor zero", lambda d: _ro(d).update(floor=0), "readout.floor", "must be a finite number > 0"),
    ("floor negative", lambda d: _ro(d).update(floor=-1e-12), "readout.floor", "must be a finite number > 0"),
    ("floor infinite", lambda d: json.dumps(d).replace('"floor": 1e-12', '"floor": 1e999'), "readout.floor",
     "expected a finite number"),
    ("floor a string", lambda d: _ro(d).update(floor="1p"), "readout.floor", "expected a number"),
    ("floor missing", lambda d: _ro(d).pop("floor"), "readout", "missing key 'floor'"),
    ("class without weights", lambda d: _ro(d)["classes"][1].update(weights={}), "readout.classes[1]",
     "class 'smooth' weighs no feature"),
    ("class without weights key", lambda d: _ro(d)["classes"][1].pop("weights"), "readout.classes[1]",
     "weighs no feature"),
    ("weight infinite", lambda d: json.dumps(d).replace('"f0": 1.2', '"f0": 1e999'), "readout.classes[0].weights.f0",
     "expected a finite number"),
    ("weight NaN", lambda d: json.dumps(d).replace('"f0": 1.2', '"f0": NaN'), "m.json", "not a finite number"),
    ("bias infinite", lambda d: json.dumps(d).replace('"bias": 0.31', '"bias": -1e999'), "readout.classes[0].bias",
     "expected a finite number"),
    ("duplicate feature", lambda d: _ro(d)["features"][1].update(name="f0"), "readout.features[1]",
     "duplicate feature name 'f0'"),
    ("duplicate class", lambda d: _ro(d)["classes"][1].update({"class": "rough"}), "readout.classes[1]",
     "duplicate class 'rough'"),
    ("boundaries decrease", lambda d: _ro(d).update(segments=[0.0, 0.3, 0.15, 0.5]), "readout.segments[2]",
     "must increase strictly: 0.15 s after 0.3 s"),
    ("first boundary not the start", lambda d: _ro(d).update(segments=[0.01, 0.15, 0.3, 0.5]),
     "readout.segments[0]", "the first segment boundary must be the window's start"),
    ("last boundary not the stop", lambda d: _ro(d).update(segments=[0.0, 0.15, 0.3, 0.4]),
     "readout.segments[3]", "the last segment boundary must be the window's stop"),
    ("no boundaries", lambda d: _ro(d).update(segments=[]), "readout.segments",
     "expected the K + 1 segment boundaries"),
    ("one boundary", lambda d: _ro(d).update(segments=[0.0]), "readout.segments",
     "segments needs at least two boundaries"),
    ("boundary a string", lambda d: _ro(d).update(segments=[0.0, "x", 0.3, 0.5]), "readout.segments[1]",
     "expected a number"),
    ("outputs with a layer", lambda d: d.update(outputs=[{"class": "low", "node": "a"}]), "outputs[0]",
     "a model with a linear readout has no output statements"),
    ("no features", lambda d: _ro(d).update(features=[]), "readout.features",
     "a linear readout needs at least one feature"),
    ("one class", lambda d: _ro(d)["classes"].pop(), "readout.classes", "needs at least two classes"),
    ("feature name not an identifier", lambda d: _ro(d)["features"][0].update(name="f 0"), "readout.features[0]",
     "feature name 'f 0' is not an identifier"),
    ("class name not an identifier", lambda d: _ro(d)["classes"][0].update({"class": "a\n.control"}),
     "readout.classes[0]", "class name 'a\\n.control' is not an identifier"),
    ("segments on rms", lambda d: _ro(d).update(kind="rms") or d.update(outputs=[]), "readout.segments",
     "only a linear readout has segments (this readout is 'rms')"),
    ("floor on rms_continuous", lambda d: _ro(d).pop("segments") and _ro(d).update(kind="rms_continuous")
     or d.update(outputs=[{"class": "low", "node": "a"}]), "readout.floor",
     "only a linear readout has floor (this readout is 'rms_continuous')"),
    ("empty features on rms", lambda d: d.update(outputs=[{"class": "low", "node": "a"}], readout={
        "kind": "rms", "start": 0.0, "stop": 0.5, "features": []}), "readout.features", "only a linear readout has features"),
]


@pytest.mark.parametrize("desc, mutate, where, fragment", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_bad_layer_json_names_the_path(tmp_path, desc, mutate, where, fragment):
    doc = copy.deepcopy(LAYER_JSON)
    out = mutate(doc)
    path = tmp_path / "m.json"
    path.write_text(out if isinstance(out, str) else json.dumps(doc))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    if where == "m.json":
        assert line.startswith(f"{path}: "), line
    else:
        assert line.startswith(f"{path}: {where}: "), line
    assert fragment in line, line


def test_models_built_in_code_are_checked_too():
    good = parse_model_text(LAYER)
    ro = good.readout

    def problems(**changes):
        kind = changes.pop("kind", ro.kind)
        fields = dict(segments=ro.segments, floor=ro.floor, features=ro.features, classes=ro.classes)
        fields.update(changes)
        model = type(good)(good.name, good.resonators, good.couplings, good.inputs, (),
                           Readout(kind, ro.start, ro.stop, **fields))
        return [p.message for p in model_problems(model)]

    assert problems() == []
    assert problems(segments=()) != []  # boundaries () mean (start, stop): feature f1's segment 2 is out
    assert any("only a linear readout has features" in m for m in problems(kind="rms", segments=(), floor=0.0,
                                                                           classes=()))
    assert any("must be an integer in 0..2" in m
               for m in problems(features=(Feature("f0", "a", 0), Feature("f1", "b", 2.5))))
    assert any("must be an integer in 0..2" in m
               for m in problems(features=(Feature("f0", "a", 0), Feature("f1", "b", True))))
    nan_weight = (ClassScore("rough", 0.31, (("f0", float("nan")),)), ro.classes[1])
    assert any("weight of class 'rough' on feature 'f0' must be finite" in m for m in problems(classes=nan_weight))
    inf_bias = (ClassScore("rough", float("inf"), (("f0", 1.0),)), ro.classes[1])
    assert any("bias of class 'rough' must be finite" in m for m in problems(classes=inf_bias))
    assert any("floor of the linear readout" in m for m in problems(floor=float("nan")))


@pytest.mark.parametrize("word", ["class", "feature", "floor", "segments", "segment", "bias", "readout", "from"])
def test_keywords_may_name_features_and_classes(word):
    text = LAYER.replace("feature f0 =", f"feature {word} =").replace("<- f0 (", f"<- {word} (")
    text = text.replace("class rough", f"class {word}")
    fast = _FastReader(text).read()
    assert fast is not None and _tree_shape(fast) == _tree_shape(_parser().parse(text))
    ro = parse_model_text(text).readout
    assert ro.features[0].name == ro.classes[0].cls == word
    assert parse_model_text(model_to_text(parse_model_text(text))).readout == ro


# -- fuzzing the layer ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(80))
def test_mutated_layer_text(tmp_path, seed):
    text = mutate_text(random.Random(seed), LAYER)
    check_case(tmp_path / "m.r2nn", text)
    fast = _FastReader(text).read()
    if fast is not None:  # whatever the fast reader reads, lark reads the same way
        assert _tree_shape(fast) == _tree_shape(_parser().parse(text))


@pytest.mark.parametrize("seed", range(50))
def test_mutated_layer_json(tmp_path, seed):
    rng = random.Random(seed)
    doc = copy.deepcopy(LAYER_JSON)
    for _ in range(rng.randint(1, 3)):
        _mutate_node(rng, doc["readout"] if rng.random() < 0.8 else doc)
    check_case(tmp_path / "m.json", json.dumps(doc))


def test_a_json_key_given_twice_is_an_error():
    from r2nn_compiler.errors import ModelError
    from r2nn_compiler.model import model_from_json_text

    text = ('{"format": "r2nn-model/1", "name": "m", "resonators": [{"name": "a", "mass": 1, "stiffness": 1}], '
            '"couplings": [], "inputs": [{"name": "u", "drives": {"a": 1.0, "a": 2.0}}], '
            '"outputs": [{"class": "x", "node": "a"}], "readout": {"kind": "rms", "start": 0, "stop": 1}}')
    with pytest.raises(ModelError, match="key 'a' appears twice"):
        model_from_json_text(text, "m.json")
