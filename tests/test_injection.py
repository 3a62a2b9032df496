"""Nothing a model says can become a SPICE line: names are validated, and the backend never
lets user text reach a deck except as sanitised one-line comments."""

import dataclasses
import json

import pytest

from r2nn_compiler.backend import safe_comment, safe_identifier
from r2nn_compiler.compiler import compile_model
from r2nn_compiler.errors import ModelError
from r2nn_compiler.model import Input, Output, Resonator, model_from_json_dict

from .strategies import random_stable_model

EVIL = [
    "a\n.control\nshell rm -rf ~\n.endc",
    "b\r.include /etc/passwd",
    ".control",
    "shell touch /tmp/pwned",
    "*comment",
    "+continuation",
    "x" * 10_000,
    "ｃontrol",  # full-width look-alike
    "a b",
    "",
]


@pytest.mark.parametrize("name", EVIL, ids=range(len(EVIL)))
def test_json_names_that_are_not_identifiers_are_rejected(name):
    doc = {"format": "r2nn-model/1", "name": "m",
           "resonators": [{"name": name, "mass": 1e-3, "stiffness": 400.0, "damping": 0.02}],
           "inputs": [{"name": "u", "drives": {name: 1.0}}],
           "outputs": [{"class": "c", "node": name}], "readout": {"start": 0, "stop": 0.01}}
    with pytest.raises(ModelError, match="not an identifier") as info:
        model_from_json_dict(doc)
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", EVIL, ids=range(len(EVIL)))
def test_backend_contains_hostile_names_even_past_validation(tmp_path, name):
    """Build a model object directly (no validation) so the hostile text reaches the backend."""
    base = random_stable_model(2, n=3, springs=False)
    renamed = {r.name: f"{name}{i}" for i, r in enumerate(base.resonators)}
    model = dataclasses.replace(
        base, name=name or "m",
        resonators=tuple(dataclasses.replace(r, name=renamed[r.name]) for r in base.resonators),
        couplings=tuple(dataclasses.replace(c, a=renamed[c.a], b=renamed[c.b]) for c in base.couplings),
        inputs=tuple(Input(f"{name}in", tuple((renamed[n], w) for n, w in i.drives)) for i in base.inputs),
        outputs=tuple(Output(f"{name}{o.cls}", renamed[o.node]) for o in base.outputs))
    result = compile_model(model, tmp_path / "o", exact=True)
    expected = {c.name for c in result.context.graph.components}
    for fname in result.files:
        if not fname.endswith((".lib", ".cir")):
            continue
        text = (tmp_path / "o" / fname).read_text()
        for line in text.splitlines():
            assert line.isascii(), line[:80]
            assert len(line) < 400
            head = line.split(" ", 1)[0].lower()
            if line.startswith("*") or not line:
                continue
            assert head in {".subckt", ".ends", ".include", ".model", ".options", ".tran", ".ac", ".end",
                            ".save", ".meas"} or head[0] in "rlcgexva", line[:80]
            assert not head.startswith((".control", ".endc", "shell")), line
        if fname.endswith(".lib"):
            elements = {ln.split()[0] for ln in text.splitlines() if ln and ln[0] in "RLCGEXVH"}
            assert elements == expected
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert all(ch.isalnum() or ch in "_." for ch in manifest["library"])


def test_safe_comment_is_one_short_ascii_line():
    text = safe_comment("a\nb\r.control\x00ｃ" + "z" * 500)
    assert "\n" not in text and "\r" not in text and text.isascii() and len(text) <= 100


@pytest.mark.parametrize("name, expected", [("toy", "toy"), ("My Model!", "my_model"), ("9lives", "model_9lives"),
                                            ("../../etc/passwd", "etc_passwd"), ("", "model")])
def test_safe_identifier(name, expected):
    assert safe_identifier(name) == expected


def test_resonator_names_never_become_nets(tmp_path):
    model = random_stable_model(5, n=3)
    model = dataclasses.replace(model, resonators=tuple(
        Resonator(f"n{i}0", r.mass, r.stiffness, r.damping) for i, r in enumerate(model.resonators)))
    assert all(n.startswith("n") for n in (r.name for r in model.resonators))
    model = dataclasses.replace(model, couplings=(), inputs=(Input("u", ((model.resonators[0].name, 1.0),)),),
                                outputs=(Output("c", model.resonators[1].name),))
    result = compile_model(model, tmp_path / "o", exact=True)
    assert set(result.context.graph.nets()) == {"0", "n1", "n2", "n3", "in1", "out1"}
