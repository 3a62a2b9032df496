"""Bad models: each gives one positioned line naming what is wrong, and exit code 1."""

import json

import pytest
from click.testing import CliRunner

from r2nn_compiler.cli import main

GOOD = """model m {
    resonator a (m = 1m, k = 394.8, c = 20m);
    resonator b (f0 = 1.2 kHz, q = 10, m = 1m);
    couple a -- b damper (c = 5m);
    input u -> a (1.0), b (-0.5);
    output low = a;
    output high = b (weight = 1.2);
    readout rms from 0 s to 20 ms;
}
"""

# (description, old text, new text, expected "line:col", expected message fragment)
TEXT_CASES = [
    ("missing brace", "readout rms from 0 s to 20 ms;\n}", "readout rms from 0 s to 20 ms;\n", "8:34", "unexpected end of file, expected '}'"),
    ("missing semicolon", "c = 20m);", "c = 20m)", "3:5", "expected ';'"),
    ("unknown statement", "    couple a", "    connect a", "4:5", "unexpected 'connect'"),
    ("bad character", "c = 20m)", "c = 20m$)", "2:44", "unexpected '$'"),
    ("unknown parameter", "(m = 1m, k = 394.8", "(m = 1m, x = 394.8", "2:26", "no parameter 'x'"),
    ("duplicate parameter", "(m = 1m, k = 394.8", "(m = 1m, m = 394.8", "2:26", "given twice"),
    ("missing parameter", "(m = 1m, k = 394.8, c = 20m)", "(m = 1m, c = 20m)", "2:17", "missing parameter k"),
    ("mixed parameter sets", "(f0 = 1.2 kHz, q = 10, m = 1m)", "(f0 = 1.2 kHz, k = 10, m = 1m)", "3:17", "mixes"),
    ("mass zero", "m = 1m, k", "m = 0, k", "2:22", "mass of 'a' must be > 0"),
    ("mass negative", "m = 1m, k", "m = -1m, k", "2:22", "mass of 'a' must be > 0"),
    ("stiffness zero", "k = 394.8", "k = 0", "2:30", "stiffness of 'a' must be > 0"),
    ("stiffness negative", "k = 394.8", "k = -394.8", "2:30", "stiffness of 'a' must be > 0"),
    ("f0 zero", "f0 = 1.2 kHz", "f0 = 0 Hz", "3:23", "f0 of resonator b must be > 0"),
    ("q zero", "q = 10", "q = 0", "3:36", "q of resonator b must be nonzero"),
    ("wrong unit on f0", "f0 = 1.2 kHz", "f0 = 1.2 kH", "3:23", "takes a value in Hz, not H"),
    ("unit on plain number", "m = 1m, k", "m = 1 s, k", "2:22", "takes a plain number, not s"),
    ("wrong unit on window", "from 0 s", "from 0 Hz", "8:22", "takes a value in s, not Hz"),
    ("duplicate resonator", "resonator b (f0", "resonator a (f0", "3:15", "duplicate resonator name 'a'"),
    ("unknown coupling end", "couple a -- b", "couple a -- z", "4:17", "unknown resonator 'z'"),
    ("self coupling", "couple a -- b", "couple a -- a", "4:12", "with itself"),
    ("zero coupling", "damper (c = 5m)", "damper (c = 0)", "4:31", "nonzero"),
    ("unknown coupling kind", "b damper (", "b rubber (", "4:19", "damper or spring"),
    ("wrong coupling parameter", "damper (c = 5m)", "damper (k = 5m)", "4:27", "no parameter 'k'"),
    ("input without drives", "input u -> a (1.0), b (-0.5);", "input u;", "5:11", "drives no resonator"),
    ("input drives unknown", "b (-0.5);", "q (-0.5);", "5:25", "unknown resonator 'q'"),
    ("input drives twice", "b (-0.5);", "a (-0.5);", "5:25", "twice"),
    ("unknown output node", "output low = a;", "output low = zz;", "6:18", "unknown resonator 'zz'"),
    ("duplicate class", "output high = b", "output low = b", "7:12", "duplicate output class 'low'"),
    ("negative output weight", "weight = 1.2", "weight = -1.2", "7:31", "must be > 0"),
    ("no readout", "    readout rms from 0 s to 20 ms;\n", "", "1:7", "no readout"),
    ("window reversed", "from 0 s to 20 ms", "from 30 ms to 20 ms", "8:31", "must end after it starts"),
    ("readout kind", "readout rms", "readout peak", "8:13", "readout kind must be one of rms, rms_continuous"),
    ("readout twice", "    readout rms from 0 s to 20 ms;\n", "    readout rms from 0 s to 20 ms;\n" * 2, "9:5",
     "readout given twice"),
    ("bad analogy", "model m {\n", "model m {\n    analogy force_torque;\n", "2:13", "analogy must be"),
    ("band reversed", "model m {\n", "model m {\n    band 4 kHz .. 100 Hz;\n", "2:19", "band must end above"),
    ("band zero", "model m {\n", "model m {\n    band 0 Hz .. 100 Hz;\n", "2:10", "band must start above 0"),
    ("unstable", "c = 20m)", "c = -2)", "1:7", "unstable: eigenvalue"),
    ("no model keyword", "model m {", "modle m {", "1:1", "unexpected 'modle'"),
    ("number overflow", "k = 394.8", "k = 1e999", "2:30", "finite"),
    ("empty name", "model m {", "model {", "1:7", "expected a name"),
]


def run(args):
    return CliRunner().invoke(main, args)


@pytest.mark.parametrize("desc, old, new, pos, fragment", TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_bad_text_model_gives_positioned_error(tmp_path, desc, old, new, pos, fragment):
    assert old in GOOD, desc
    path = tmp_path / "bad.r2nn"
    path.write_text(GOOD.replace(old, new, 1))
    result = run(["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"{path}:{pos}: "), line
    assert fragment in line, line
    assert "Traceback" not in result.output


def test_good_text_model_checks(tmp_path):
    path = tmp_path / "good.r2nn"
    path.write_text(GOOD)
    result = run(["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "stable" in result.output


JSON_CASES = [
    ("not json", lambda d: "{", "1:2", "malformed JSON"),
    ("wrong format", lambda d: {**d, "format": "r2nn-model/9"}, "format", "expected 'r2nn-model/1'"),
    ("mass string", lambda d: _set(d, "resonators", 0, "mass", "1m"), "resonators[0].mass", "expected a number"),
    ("mass negative", lambda d: _set(d, "resonators", 0, "mass", -1.0), "resonators[0].mass", "must be > 0"),
    ("missing stiffness", lambda d: _drop(d, "resonators", 1, "stiffness"), "resonators[1]", "missing key 'stiffness'"),
    ("unknown coupling end", lambda d: _set(d, "couplings", 0, "between", ["a", "q"]), "couplings[0].between[1]",
     "unknown resonator 'q'"),
    ("NaN weight", lambda d: json.dumps(d).replace('"weight": 1.2', '"weight": NaN'), "m.json", "not a finite"),
    ("bad name", lambda d: _set(d, "resonators", 0, "name", "a\n.control"), "resonators[0]", "not an identifier"),
    ("overflow", lambda d: _set(d, "resonators", 0, "mass", 1e-320), "resonators[0].mass", "overflow double precision"),
]


def _set(d, key, i, field, value):
    d = json.loads(json.dumps(d))
    d[key][i][field] = value
    return d


def _drop(d, key, i, field):
    d = json.loads(json.dumps(d))
    del d[key][i][field]
    return d


@pytest.mark.parametrize("desc, mutate, where, fragment", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_bad_json_model_names_the_parameter(tmp_path, desc, mutate, where, fragment):
    from .test_model_formats import SAMPLE_JSON

    doc = mutate(json.loads(json.dumps(SAMPLE_JSON)))
    path = tmp_path / "m.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    result = run(["check", str(path)])
    assert result.exit_code == 1, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"{path}"), line
    assert where in line and fragment in line, line


def test_check_lists_every_problem(tmp_path):
    path = tmp_path / "bad.r2nn"
    path.write_text(GOOD.replace("m = 1m, k", "m = -1, k").replace("output low = a", "output low = zz"))
    result = run(["check", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 2 and "mass" in lines[0] and "'zz'" in lines[1]


def test_missing_file_is_a_usage_error_naming_it(tmp_path):
    result = run(["check", str(tmp_path / "nope.r2nn")])
    assert result.exit_code == 1
    assert "nope.r2nn" in result.output and "cannot read model" in result.output


def test_unknown_suffix_is_rejected(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text(GOOD)
    result = run(["check", str(path)])
    assert result.exit_code == 1 and "expected .r2nn, .json or .npz" in result.output


def test_huge_model_is_refused_before_any_dense_analysis(tmp_path):
    n = 100_000
    doc = {"format": "r2nn-model/1", "name": "huge",
           "resonators": [{"name": f"r{i}", "mass": 1e-3, "stiffness": 400.0, "damping": 0.02} for i in range(n)],
           "inputs": [{"name": "u", "drives": {"r0": 1.0}}], "outputs": [{"class": "c", "node": "r0"}],
           "readout": {"start": 0, "stop": 0.01}}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(doc))
    result = run(["check", str(path)])
    assert result.exit_code == 1
    assert "model has 100000 resonators" in result.output and "at most 4096" in result.output


def test_oversized_signal_file_is_refused_without_reading_it(tmp_path, toy_path):
    path = tmp_path / "big.npy"
    with open(path, "wb") as fh:  # sparse file: large on paper, nothing written
        fh.truncate(1 << 30)
    result = run(["simulate", str(toy_path), str(path), "--rate", "16000"])
    assert result.exit_code == 1
    assert "signal file is 1024 MiB: at most 256 MiB" in result.output


def test_nearly_unstable_model_is_warned_about(tmp_path):
    path = tmp_path / "edge.r2nn"
    path.write_text(GOOD.replace("c = 20m", "c = 1u").replace("damper (c = 5m)", "damper (c = 1u)"))
    result = run(["check", str(path)])
    assert result.exit_code == 0
    assert "warning: model 'm' is nearly unstable: its slowest pole decays at" in result.output
