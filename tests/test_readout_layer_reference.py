"""The reference model of the linear readout layer (issue 18): per-segment exact energies, the
log-mean-square features φ against an independent simulation, the class scores, and the
per-class decision values every caller takes the argmax of."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import scipy.signal
from click.testing import CliRunner
from scipy.integrate import simpson

from r2nn_compiler import compiler, reference
from r2nn_compiler.numerics import window_energy as window_energy_module
from r2nn_compiler.cli import main
from r2nn_compiler.compiler import simulate as compiler_simulate
from r2nn_compiler.errors import SignalError
from r2nn_compiler.numerics.statespace import StateSpace
from r2nn_compiler.model.ir import (ClassScore, Coupling, Feature, Input, Model, Output, Readout, Resonator)
from r2nn_compiler.signals import Signal
from r2nn_compiler.numerics.trace_energy import trace_segment_energies
from r2nn_compiler.numerics.window_energy import segment_energies, window_energy as whole_window

RATE = 1000.0  # Hz
FINE = 64  # the independent simulation's oversampling
#: Boundaries on the fine grid (fine period 1/(RATE·FINE)): inside an interval, on a sample, two
#: in one interval (a segment shorter than a sample period), inside again. Even offsets keep
#: every coarse sample on a Simpson panel boundary (the velocity's third derivative jumps there).
FINE_BOUNDARIES = (3202, 9600, 12830, 12862, 25600, 25638)


def layer_model(boundaries: tuple[float, ...] = tuple(i / (RATE * FINE) for i in FINE_BOUNDARIES),
                floor: float = 1e-9) -> Model:
    """Three coupled resonators (50, 80, 120 Hz), two inputs; a linear layer reading c and a
    (not b) over every segment, three classes."""
    res = (Resonator("a", 1e-3, 1e-3 * (2 * np.pi * 50) ** 2, 0.02),
           Resonator("b", 2e-3, 2e-3 * (2 * np.pi * 80) ** 2, 0.05),
           Resonator("c", 1e-3, 1e-3 * (2 * np.pi * 120) ** 2, 0.04))
    couplings = (Coupling("a", "b", "damper", 5e-3), Coupling("b", "c", "spring", 30.0),
                 Coupling("a", "c", "damper", -2e-3))
    inputs = (Input("u", (("a", 1.0), ("b", -0.5))), Input("w", (("c", 0.7),)))
    k = len(boundaries) - 1
    feats = tuple(Feature(f"{node}{s}", node, s) for s in range(k) for node in ("c", "a"))
    rng = np.random.default_rng(7)
    classes = tuple(ClassScore(cls, float(rng.normal()), tuple((f.name, float(rng.normal())) for f in feats[j % 2::2]))
                    for j, cls in enumerate(("low", "mid", "high")))
    readout = Readout("linear", boundaries[0], boundaries[-1], tuple(boundaries), floor, feats, classes)
    return Model("layer", res, couplings, inputs, (), readout)


def signals(n_signals: int, n_samples: int, seed: int = 0) -> np.ndarray:
    """Band-limited random inputs (signals × 2 × samples)."""
    rng = np.random.default_rng(seed)
    b, a = scipy.signal.butter(4, 200 / (RATE / 2))
    return scipy.signal.lfilter(b, a, rng.normal(size=(n_signals, 2, n_samples)), axis=-1)


def independent_velocities(model: Model, u: np.ndarray, nodes: list[str]) -> np.ndarray:
    """Velocities of ``nodes`` at RATE·FINE, by scipy's lsim on the mechanical ODE written out
    here from the IR (not the package's matrices), the input linearly interpolated."""
    names = [r.name for r in model.resonators]
    n = len(names)
    M = np.diag([r.mass for r in model.resonators])
    D = np.diag([r.damping for r in model.resonators])
    K = np.diag([r.stiffness for r in model.resonators])
    for c in model.couplings:
        i, j = names.index(c.a), names.index(c.b)
        T = D if c.kind == "damper" else K
        T[np.ix_([i, j], [i, j])] += c.value * np.array([[1, -1], [-1, 1]])
    F = np.zeros((n, len(model.inputs)))
    for k, inp in enumerate(model.inputs):
        for node, w in inp.drives:
            F[names.index(node), k] += w
    Minv = np.linalg.inv(M)
    A = np.block([[np.zeros((n, n)), np.eye(n)], [-Minv @ K, -Minv @ D]])
    B = np.vstack([np.zeros_like(F), Minv @ F])
    C = np.zeros((len(nodes), 2 * n))
    for j, node in enumerate(nodes):
        C[j, n + names.index(node)] = 1.0
    lti = scipy.signal.StateSpace(A, B, C, np.zeros((len(nodes), len(model.inputs))))
    t = np.arange(u.shape[-1]) / RATE
    tf = np.arange((u.shape[-1] - 1) * FINE + 1) / (RATE * FINE)
    out = []
    for sig in u:
        uf = np.stack([np.interp(tf, t, row) for row in sig], axis=1)
        _, y, _ = scipy.signal.lsim(lti, uf, tf, interp=True)
        out.append(np.atleast_2d(y.T))
    return np.stack(out)


def simpson_mean_squares(v: np.ndarray, fine_bounds: tuple[int, ...]) -> np.ndarray:
    """(1/len) ∫ v² per segment by Simpson's rule on the fine grid: (signals × nodes × K)."""
    h = 1 / (RATE * FINE)
    return np.stack([simpson(v[..., i0 : i1 + 1] ** 2, dx=h, axis=-1) / ((i1 - i0) * h)
                     for i0, i1 in zip(fine_bounds[:-1], fine_bounds[1:])], axis=-1)


def test_features_match_an_independent_oversampled_simulation():
    model = layer_model()
    assert model.read_nodes == ["c", "a"]
    n = reference.samples_needed(model, RATE)
    u = signals(3, n)
    phi = reference.layer_features(model, u, RATE)
    v = independent_velocities(model, u, model.read_nodes)
    ms = simpson_mean_squares(v, FINE_BOUNDARIES)  # signals × (c, a) × K
    node, seg = reference.feature_taps(model)
    want = ms[:, node, seg]
    got = np.exp(phi) - model.readout.floor
    assert phi.shape == (3, len(model.readout.features))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.all(want > 1e3 * model.readout.floor)  # the floor did not hide the comparison


def test_segment_energies_compose_the_window_energy():
    model = layer_model()
    system = reference.state_space(model)
    u = signals(4, reference.samples_needed(model, RATE), seed=1)
    b = model.readout.boundaries
    e = segment_energies(system, u, 1 / RATE, b)
    assert e.shape == (4, 2, len(b) - 1)
    each = np.stack([whole_window(system, u, 1 / RATE, lo, hi) for lo, hi in zip(b[:-1], b[1:])], axis=-1)
    np.testing.assert_allclose(e, each, rtol=1e-11)
    np.testing.assert_allclose(e.sum(axis=-1), whole_window(system, u, 1 / RATE, b[0], b[-1]), rtol=1e-11)


def test_segment_energies_are_the_same_in_small_chunks(monkeypatch):
    model = layer_model()
    system = reference.state_space(model)
    u = signals(5, reference.samples_needed(model, RATE), seed=2)
    whole = segment_energies(system, u, 1 / RATE, model.readout.boundaries)
    monkeypatch.setattr(window_energy_module, "STATE_MEMORY_BYTES", 1.0)  # one signal per chunk
    np.testing.assert_allclose(segment_energies(system, u, 1 / RATE, model.readout.boundaries), whole, rtol=1e-13)


@pytest.mark.parametrize("boundaries", [(0.1, 0.1), (0.2, 0.1), (0.1,), (-0.1, 0.2), (0.1, np.nan)])
def test_segment_energies_reject_bad_boundaries(boundaries):
    system = reference.state_space(layer_model())
    with pytest.raises(ValueError, match="boundaries"):
        segment_energies(system, np.zeros((1, 2, 500)), 1 / RATE, boundaries)


def test_one_segment_is_the_continuous_rms_squared():
    base = layer_model(boundaries=(0.0503, 0.4), floor=1e-300)
    cont = dataclasses.replace(base, readout=Readout("rms_continuous", 0.0503, 0.4),
                               outputs=(Output("c", "c"), Output("a", "a")))
    u = signals(3, reference.samples_needed(base, RATE), seed=3)
    phi = reference.layer_features(base, u, RATE)
    rms = reference.features_of(cont, u, RATE)
    assert [f.node for f in base.readout.features] == ["c", "a"]
    np.testing.assert_allclose(np.exp(phi), rms ** 2, rtol=1e-12)


def test_scores_are_the_affine_layer_and_decide_everywhere():
    model = layer_model()
    u = signals(6, reference.samples_needed(model, RATE), seed=4)
    phi = reference.layer_features(model, u, RATE)
    classes, bias, A = model.readout.feature_matrix()
    want = np.array([[bias[j] + sum(A[j][f] * phi[s, f] for f in range(phi.shape[1])) for j in range(len(classes))]
                     for s in range(phi.shape[0])])
    s = reference.scores(model, phi)
    np.testing.assert_allclose(s, want, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(reference.features_of(model, u, RATE), s, rtol=1e-13)
    assert list(reference.predict(model, s)) == list(np.argmax(want, axis=1))
    result = compiler_simulate(model, Signal(u[0], RATE, "x.npy"))
    assert result.predicted == classes[int(np.argmax(want[0]))]
    np.testing.assert_allclose(result.features, s[0], rtol=1e-13)
    assert result.outputs.shape[0] == len(model.read_nodes)


def test_system_features_of_a_scaled_system_with_per_tap_gains():
    model = layer_model()
    u = signals(2, reference.samples_needed(model, RATE), seed=5)
    ss = reference.state_space(model)
    time_scale, gain = 1e-3, np.array([2.5, 0.4])
    circuit = StateSpace(ss.A / time_scale, ss.B / time_scale, gain[:, None] * ss.C, ss.D)
    got = reference.system_features(model, circuit, u, RATE, time_scale, gain)
    np.testing.assert_allclose(got, reference.features_of(model, u, RATE), rtol=1e-9)


def test_sampled_traces_give_the_spline_estimate():
    rate = 8 * RATE  # well oversampled: the spline's error ~(ωh)⁴/384 is ~1e-7 at 120 Hz
    model = layer_model()
    t = np.arange(reference.samples_needed(model, rate)) / rate
    u = np.stack([np.sin(2 * np.pi * 47 * t) * np.exp(-3 * t), np.cos(2 * np.pi * 113 * t)])[None]
    traces = reference.simulate(model, u, rate)
    exact_e = segment_energies(reference.state_space(model), u, 1 / rate, model.readout.boundaries)
    estimate_e = trace_segment_energies(traces, 1 / rate, model.readout.boundaries)
    np.testing.assert_allclose(estimate_e, exact_e, rtol=1e-5)
    np.testing.assert_allclose(reference.trace_layer_features(model, traces, rate),
                               reference.layer_features(model, u, rate), atol=1e-5)
    np.testing.assert_allclose(reference.features(model, traces, rate), reference.features_of(model, u, rate),
                               atol=1e-4)


def test_trace_estimate_of_a_coarse_trace_is_not_exact():
    """The spline estimate is an estimate: at ~8 samples a period it is visibly off (so the
    test above, at 64, could fail)."""
    model = layer_model()
    u = signals(1, reference.samples_needed(model, RATE), seed=6)
    exact = segment_energies(reference.state_space(model), u, 1 / RATE, model.readout.boundaries)
    estimate = trace_segment_energies(reference.simulate(model, u, RATE), 1 / RATE, model.readout.boundaries)
    assert np.max(np.abs(estimate / exact - 1)) > 1e-5


def test_a_signal_ending_before_the_window_closes_is_refused():
    model = layer_model()
    n = reference.samples_needed(model, RATE)
    assert n == int(np.ceil(model.readout.stop * RATE)) + 1  # the sample closing the last interval
    u = signals(1, n)
    reference.features_of(model, u, RATE)
    for f in (reference.features_of, reference.layer_features):
        with pytest.raises(SignalError, match="readout window ends"):
            f(model, u[..., : n - 1], RATE)
    with pytest.raises(SignalError, match="readout window ends"):
        reference.features(model, reference.simulate(model, u[..., : n - 1], RATE), RATE)


def test_state_space_outputs_are_the_read_nodes_in_order():
    model = layer_model()
    ss = reference.state_space(model)
    n = len(model.resonators)
    assert [int(np.flatnonzero(row)[0]) - n for row in ss.C] == [model.index("c"), model.index("a")]


@pytest.fixture
def cli_model(monkeypatch):
    """The CLI's model loader answering with :func:`layer_model` (built from the IR, whatever
    the file readers accept)."""
    model = layer_model()
    monkeypatch.setattr(compiler, "load_model", lambda _path: model)
    return model


def test_cli_simulate_json_gives_features_scores_and_class(cli_model, tmp_path):
    u = signals(1, reference.samples_needed(cli_model, RATE) + 7, seed=8)[0]
    np.save(tmp_path / "s.npy", u.T)
    res = CliRunner().invoke(main, ["simulate", "m.json", str(tmp_path / "s.npy"), "--rate", str(RATE), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert set(doc) == {"features", "scores", "predicted"}
    assert list(doc["features"]) == [f.name for f in cli_model.readout.features]
    assert list(doc["scores"]) == cli_model.classes
    phi = reference.layer_features(cli_model, u[None], RATE)[0]
    s = reference.scores(cli_model, phi)
    np.testing.assert_allclose(list(doc["features"].values()), phi, rtol=1e-12)
    np.testing.assert_allclose(list(doc["scores"].values()), s, rtol=1e-12)
    assert doc["predicted"] == cli_model.classes[int(np.argmax(s))]


def test_cli_simulate_text_and_plot(cli_model, tmp_path):
    u = signals(1, reference.samples_needed(cli_model, RATE), seed=9)[0]
    np.save(tmp_path / "s.npy", u.T)
    res = CliRunner().invoke(main, ["simulate", "m.json", str(tmp_path / "s.npy"), "--rate", str(RATE),
                                    "--plot", str(tmp_path / "w.png")])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    predicted = [line.split()[0] for line in lines if line.endswith("<- predicted")]
    s = reference.features_of(cli_model, u[None], RATE)[0]
    assert predicted == [cli_model.classes[int(np.argmax(s))]]
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split()[:1] in (["c"], ["a"])}
    phi = dict(zip([f.name for f in cli_model.readout.features], reference.layer_features(cli_model, u[None], RATE)[0]))
    np.testing.assert_allclose([float(v) for v in rows["a"]], [phi[f"a{k}"] for k in range(5)], rtol=1e-4)
    assert (tmp_path / "w.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_simulate_short_signal_is_bad_input(cli_model, tmp_path):
    u = signals(1, reference.samples_needed(cli_model, RATE) - 1)[0]
    np.save(tmp_path / "s.npy", u.T)
    res = CliRunner().invoke(main, ["simulate", "m.json", str(tmp_path / "s.npy"), "--rate", str(RATE)])
    assert res.exit_code == 1 and "readout window ends" in res.output


def test_cli_check_summarises_the_layer(cli_model):
    res = CliRunner().invoke(main, ["check", "m.json", "--json"])
    assert res.exit_code == 0, res.output
    ro = json.loads(res.output)["readout"]
    assert ro["kind"] == "linear" and ro["n_features"] == 10 and ro["n_segments"] == 5
    assert ro["segments"] == list(cli_model.readout.boundaries)
    assert ro["reads"] == {"c": 5, "a": 5} and list(ro["reads"]) == ["c", "a"]
    assert [c["class"] for c in ro["classes"]] == ["low", "mid", "high"]
    text = CliRunner().invoke(main, ["check", "m.json"]).output
    assert "3 classes" in text and "10 features over 5 segment(s)" in text and "reads c (5), a (5)" in text
    assert sum(line.startswith("class ") for line in text.splitlines()) == 3


def test_cli_check_of_a_large_layer_stays_short(monkeypatch):
    base = layer_model(boundaries=tuple(np.linspace(0.05, 0.45, 25)))  # 24 segments × (c, a)
    big = dataclasses.replace(base, readout=dataclasses.replace(
        base.readout, features=base.readout.features + tuple(Feature(f"b{k}", "b", k) for k in range(24))))
    monkeypatch.setattr(compiler, "load_model", lambda _path: big)
    text = CliRunner().invoke(main, ["check", "m.json"]).output
    assert "72 features over 24 equal segments of" in text and "reads c (24), a (24), b (24)" in text
    layer_lines = text.split("readout linear")[1].splitlines()
    assert len(layer_lines) == 1 + 2 + len(big.classes) + 1  # readout, layer, reads, classes, stability


def layer_json() -> dict:
    """A linear-readout model in the r2nn-model/1 JSON format (two resonators, two segments)."""
    return {"format": "r2nn-model/1", "name": "lay",
            "resonators": [{"name": "a", "mass": 1e-3, "stiffness": 98.7, "damping": 0.02},
                           {"name": "b", "mass": 1e-3, "stiffness": 252.7, "damping": 0.03}],
            "couplings": [{"between": ["a", "b"], "kind": "damper", "value": 5e-3}],
            "inputs": [{"name": "u", "drives": {"a": 1.0, "b": -0.5}}],
            "readout": {"kind": "linear", "start": 0.0, "stop": 0.5, "segments": [0.0, 0.2037, 0.5], "floor": 1e-12,
                        "features": [{"name": "f0", "node": "b", "segment": 0},
                                     {"name": "f1", "node": "a", "segment": 1},
                                     {"name": "f2", "node": "b", "segment": 1}],
                        "classes": [{"class": "x", "bias": 0.3, "weights": {"f0": 1.2}},
                                    {"class": "y", "bias": -0.1, "weights": {"f1": 0.5, "f2": -0.7}}]}}


@pytest.mark.parametrize("suffix", [".json", ".r2nn"])
def test_cli_on_a_linear_model_file(tmp_path, suffix):
    (tmp_path / "m.json").write_text(json.dumps(layer_json()))
    model = compiler.load_model(tmp_path / "m.json")
    path = tmp_path / f"m{suffix}"
    compiler.save_model(model, path)
    assert compiler.load_model(path) == model
    t = np.arange(reference.samples_needed(model, RATE)) / RATE
    np.save(tmp_path / "s.npy", np.sin(2 * np.pi * 2.3 * t) + 0.3 * np.sin(2 * np.pi * 3.1 * t))
    res = CliRunner().invoke(main, ["simulate", str(path), str(tmp_path / "s.npy"), "--rate", str(RATE), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    u = np.load(tmp_path / "s.npy")[None, None]
    phi = reference.layer_features(model, u, RATE)[0]
    np.testing.assert_allclose([doc["features"][k] for k in ("f0", "f1", "f2")], phi, rtol=1e-12)
    np.testing.assert_allclose([doc["scores"]["x"], doc["scores"]["y"]],
                               [0.3 + 1.2 * phi[0], -0.1 + 0.5 * phi[1] - 0.7 * phi[2]], rtol=1e-12)
    assert doc["predicted"] == ("x" if doc["scores"]["x"] > doc["scores"]["y"] else "y")
    check = json.loads(CliRunner().invoke(main, ["check", str(path), "--json"]).output)
    assert check["outputs"] == [] and check["readout"]["reads"] == {"b": 2, "a": 1}
    assert check["readout"]["segments"] == [0.0, 0.2037, 0.5]


def test_cli_response_of_a_linear_model_gives_each_read_resonator(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(layer_json()))
    model = compiler.load_model(tmp_path / "m.json")
    res = CliRunner().invoke(main, ["response", str(tmp_path / "m.json"), "--points", "50", "--json",
                                    "--plot", str(tmp_path / "bode.png")])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert [(r["node"], r["input"]) for r in doc["responses"]] == [("b", "u"), ("a", "u")]
    assert all("class" not in r for r in doc["responses"]) and (tmp_path / "bode.png").stat().st_size > 0
    h = reference.frequency_response(model, np.array(doc["freqs_hz"]))
    np.testing.assert_allclose(doc["responses"][1]["magnitude"], np.abs(h[1, 0]), rtol=1e-12)
    text = CliRunner().invoke(main, ["response", str(tmp_path / "m.json"), "--points", "50"]).output
    assert text.splitlines()[0].split() == ["class", "node", "input", "peak", "at", "peak", "|H|"]
