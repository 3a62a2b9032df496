"""Fuzz cases for the model readers, shared by tests/test_fuzz.py and bench/fuzz.py.

A case is text (or bytes) handed to a reader under a file name; the invariant is the product's
promise for bad input: either a valid model, or an R2nnError whose one-line message starts with
the file name (and, for syntax errors, ``:line:col``) — never any other exception.
"""

from __future__ import annotations

import copy
import io
import json
import random

import numpy as np

from r2nn_compiler.compiler import load_model
from r2nn_compiler.errors import R2nnError

TOY_TEXT = """model toy {
    analogy force_current;
    band 100 Hz .. 4 kHz;
    resonator a (m = 1m, k = 394.8, c = 20m);
    resonator b (f0 = 1.2 kHz, q = 10, m = 1m);
    tank      t (C = 1u, L = 10m, R = 1k);
    couple a -- b damper (c = 5m);
    couple b -- t damper (c = -0.2m);
    couple a -- t spring (k = 50);
    input u -> a (1.0), b (-0.5);
    output low  = a;
    output high = b (weight = 1.2);
    output rough = t;
    readout rms from 0 s to 20 ms;
}
"""

TOKENS = ["model", "resonator", "tank", "couple", "input", "output", "readout", "band", "analogy", "damper",
          "spring", "rms", "from", "to", "--", "->", "..", "(", ")", "{", "}", ";", ",", "=", "1m", "-1", "0",
          "1e999", "nan", "k", "m", "c", "f0", "q", "C", "L", "R", "Hz", "s", "Ω", "µ", "\n", " ", "#", "a", "b",
          "\x00", "\r", ".control", "shell", "é", "1.2 kHz", "x" * 300]


def mutate_text(rng: random.Random, text: str = TOY_TEXT) -> str:
    """Delete, duplicate, swap or insert a few tokens/characters of a valid model."""
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(chars) + 1)
        if op < 0.3 and chars:
            del chars[pos % len(chars) : pos % len(chars) + rng.randint(1, 8)]
        elif op < 0.6:
            chars[pos:pos] = list(rng.choice(TOKENS))
        elif op < 0.8 and chars:
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        else:
            chars[pos:pos] = [chr(rng.randrange(1, 0x3000))]
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 60)))


def mutate_json(rng: random.Random) -> str:
    from r2nn_compiler.model import model_to_json_dict, parse_model_text

    doc = model_to_json_dict(parse_model_text(TOY_TEXT))
    for _ in range(rng.randint(1, 4)):
        _mutate_node(rng, doc)
    text = json.dumps(doc)
    if rng.random() < 0.2:
        cut = rng.randrange(len(text))
        text = text[:cut] + text[cut + rng.randint(0, 5):]
    return text


_VALUES = [None, True, 0, -1, 1e308, "x", "", [], {}, [1, 2], {"a": 1}, float("1e-320"), "a\n.control", 3.5]


def _mutate_node(rng: random.Random, node) -> None:
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        if rng.random() < 0.3:
            del node[key]
        elif rng.random() < 0.5 and isinstance(node[key], (dict, list)):
            _mutate_node(rng, node[key])
        else:
            node[key] = copy.deepcopy(rng.choice(_VALUES))
    elif isinstance(node, list) and node:
        i = rng.randrange(len(node))
        if rng.random() < 0.5 and isinstance(node[i], (dict, list)):
            _mutate_node(rng, node[i])
        else:
            node[i] = copy.deepcopy(rng.choice(_VALUES))


def random_npz(rng: random.Random) -> bytes:
    n = rng.randint(0, 4)
    arrays = {"mass": np.abs(np.random.default_rng(rng.randrange(1 << 30)).normal(1e-3, 1e-3, n)),
              "stiffness": np.full(n, 400.0), "damping": np.full(n, 0.02), "coupling": np.zeros((n, n)),
              "drive": np.ones((1, n)), "outputs": np.arange(min(n, 2)), "window": np.array([0.0, 0.01])}
    for _ in range(rng.randint(0, 3)):
        key = rng.choice(list(arrays))
        choice = rng.random()
        if choice < 0.25:
            del arrays[key]
        elif choice < 0.5:
            arrays[key] = np.array(["text"])
        elif choice < 0.75:
            arrays[key] = np.full(rng.randint(0, 3), rng.choice([np.nan, np.inf, -1.0, 0.0, 1e300]))
        else:
            arrays[key] = np.zeros((2, 2, 2))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def check_case(path, data: str | bytes) -> str:
    """Write ``data`` to ``path``, load it; return "ok" or "error". Raises AssertionError when
    the promise is broken (any other exception, or a badly formed message)."""
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8", errors="surrogatepass")
    else:
        path.write_bytes(data)
    try:
        load_model(path)
    except R2nnError as exc:
        line = exc.one_line()
        assert "\n" not in line and "\r" not in line, line
        assert line.startswith(f"{path}"), line
        assert len(line) < 2000, line[:200]
        return "error"
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer hunts
        raise AssertionError(f"{type(exc).__name__} on {path.name}: {exc}") from exc
    return "ok"
