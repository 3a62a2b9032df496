"""A few hundred fuzz cases per run (bench/fuzz.py runs tens of thousands): bad model files
give one positioned line, never a traceback."""

import random

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler.cli import main

from .fuzzing import check_case, mutate_json, mutate_text, random_npz, random_text


@pytest.mark.parametrize("seed", range(150))
def test_mutated_model_text(tmp_path, seed):
    check_case(tmp_path / "m.r2nn", mutate_text(random.Random(seed)))


@pytest.mark.parametrize("seed", range(50))
def test_token_soup(tmp_path, seed):
    check_case(tmp_path / "m.r2nn", random_text(random.Random(seed)))


@pytest.mark.parametrize("seed", range(100))
def test_mutated_json(tmp_path, seed):
    check_case(tmp_path / "m.json", mutate_json(random.Random(seed)))


@pytest.mark.parametrize("seed", range(50))
def test_mutated_npz(tmp_path, seed):
    check_case(tmp_path / "m.npz", random_npz(random.Random(seed)))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_unicode_text(tmp_path_factory, text):
    check_case(tmp_path_factory.mktemp("f") / "m.r2nn", text)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_json_and_npz(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("f")
    check_case(folder / "m.json", data)
    check_case(folder / "m.npz", data)


@pytest.mark.parametrize("seed", range(20))
def test_cli_exit_codes_on_fuzzed_input(tmp_path, seed):
    path = tmp_path / "m.r2nn"
    path.write_text(mutate_text(random.Random(1000 + seed)))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
