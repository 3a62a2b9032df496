"""Hypothesis strategies and seeded generators for random, stable models."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from r2nn_compiler.model import ClassScore, Coupling, Feature, Input, Model, Output, Readout, Resonator
from r2nn_compiler.reference import stability_margin

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
signed = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False).filter(lambda v: v != 0)


@st.composite
def models(draw) -> Model:
    """Structurally valid models (not necessarily stable): for format round-trips. About a third
    have a linear readout layer (:func:`linear_readouts`) and then no outputs."""
    res_names = draw(st.lists(names, min_size=1, max_size=6, unique=True))
    resonators = tuple(Resonator(n, draw(positive), draw(positive), draw(signed | st.just(0.0))) for n in res_names)
    couplings = []
    seen = set()
    for _ in range(draw(st.integers(0, 6))):
        if len(res_names) < 2:
            break
        a, b = draw(st.sampled_from(res_names)), draw(st.sampled_from(res_names))
        kind = draw(st.sampled_from(["damper", "spring"]))
        key = (*sorted((a, b)), kind)
        if a == b or key in seen:
            continue
        seen.add(key)
        couplings.append(Coupling(a, b, kind, draw(signed)))
    in_names = draw(st.lists(names, min_size=1, max_size=2, unique=True))
    inputs = tuple(
        Input(n, tuple((r, draw(signed)) for r in draw(st.lists(st.sampled_from(res_names), min_size=1, unique=True))))
        for n in in_names
    )
    start = draw(st.floats(0, 1))
    stop = start + draw(st.floats(1e-3, 1))
    if draw(st.integers(0, 2)) == 0:
        outputs, readout = (), draw(linear_readouts(res_names, start, stop))
    else:
        classes = draw(st.lists(names, min_size=1, max_size=4, unique=True))
        outputs = tuple(Output(c, draw(st.sampled_from(res_names)), draw(positive)) for c in classes)
        readout = Readout(draw(st.sampled_from(["rms", "rms_continuous"])), start, stop)
    band = draw(st.none() | st.tuples(st.floats(1, 100), st.floats(200, 1e5)))
    analogy = draw(st.sampled_from(["force_current", "force_voltage"]))
    return Model(draw(names), resonators, tuple(couplings), inputs, outputs, readout, analogy=analogy, band=band)


@st.composite
def linear_readouts(draw, res_names: list[str], start: float, stop: float) -> Readout:
    """A valid linear readout layer over ``res_names`` and the window [start, stop]: 1–4 segments
    (boundaries always stored, as the readers store them), 1–4 features, 2–4 classes each
    weighing a nonempty subset of the features (biases sometimes 0, the default)."""
    inner = draw(st.lists(st.floats(start, stop, exclude_min=True, exclude_max=True), max_size=3, unique=True))
    bounds = (start, *sorted(inner), stop)
    n_segments = len(bounds) - 1
    feature_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    features = tuple(Feature(f, draw(st.sampled_from(res_names)), draw(st.integers(0, n_segments - 1)))
                     for f in feature_names)
    classes = tuple(
        ClassScore(c, draw(signed | st.just(0.0)),
                   tuple((f, draw(signed | st.just(0.0)))
                         for f in draw(st.lists(st.sampled_from(feature_names), min_size=1, unique=True))))
        for c in draw(st.lists(names, min_size=2, max_size=4, unique=True)))
    return Readout("linear", start, stop, segments=bounds, floor=draw(positive), features=features, classes=classes)


def random_stable_model(seed: int, n: int | None = None, negative: bool = True, springs: bool = True,
                        f_lo: float = 100.0, f_hi: float = 4000.0) -> Model:
    """A dense, audio-band, stable model like trained ones: some negative dampers, some springs."""
    rng = np.random.default_rng(seed)
    while True:
        n_res = n or int(rng.integers(3, 11))
        names_ = [f"r{i}" for i in range(n_res)]
        mass = rng.uniform(1e-4, 1e-2, n_res)
        f0 = np.exp(rng.uniform(np.log(f_lo), np.log(f_hi), n_res))
        q = rng.uniform(3, 30, n_res)
        w0 = 2 * np.pi * f0
        resonators = tuple(Resonator(names_[i], mass[i], mass[i] * w0[i] ** 2, mass[i] * w0[i] / q[i])
                           for i in range(n_res))
        couplings = []
        for i in range(n_res):
            for j in range(i + 1, n_res):
                if rng.random() < 0.6:
                    scale = 0.3 * min(resonators[i].damping, resonators[j].damping)
                    sign = -1 if negative and rng.random() < 0.25 else 1
                    couplings.append(Coupling(names_[i], names_[j], "damper", sign * scale * rng.uniform(0.1, 1)))
                if springs and rng.random() < 0.15:
                    k = 0.05 * min(resonators[i].stiffness, resonators[j].stiffness) * rng.uniform(0.2, 1)
                    couplings.append(Coupling(names_[i], names_[j], "spring", k))
        inputs = (Input("u", tuple((r, float(rng.uniform(-1, 1))) for r in names_ if rng.random() < 0.6)
                        or ((names_[0], 1.0),)),)
        outs = rng.choice(n_res, size=min(3, n_res), replace=False)
        outputs = tuple(Output(f"c{j}", names_[i]) for j, i in enumerate(outs))
        model = Model(f"rand{seed}", resonators, tuple(couplings), inputs, outputs, Readout("rms", 0.0, 0.02),
                      band=(f_lo, f_hi))
        if stability_margin(model)[0] > 5.0:
            return model
        seed += 10_000
        rng = np.random.default_rng(seed)


def weakly_coupled_model(n: int, couplings: int, seed: int = 0, springs: bool = False, name: str = "weak") -> Model:
    """A stable audio-band model (bench_compile's): Q = 10, ``couplings`` random damper couplings
    of 1 % damping (at most every pair; diagonally dominant damping), and with ``springs`` a
    spring of 2 % stiffness between every third neighbour pair."""
    rng = np.random.default_rng(seed)
    f0 = np.geomspace(100, 4000, n)
    m = rng.uniform(1e-4, 1e-2, n)
    w0 = 2 * np.pi * f0
    res = tuple(Resonator(f"r{i}", m[i], m[i] * w0[i] ** 2, m[i] * w0[i] / 10) for i in range(n))
    pairs = set()
    while len(pairs) < min(couplings, n * (n - 1) // 2):
        i, j = sorted(rng.integers(0, n, 2))
        if i != j:
            pairs.add((int(i), int(j)))
    coup = [Coupling(f"r{i}", f"r{j}", "damper", 0.01 * min(res[i].damping, res[j].damping)) for i, j in sorted(pairs)]
    if springs:
        coup += [Coupling(f"r{i}", f"r{i + 1}", "spring", 0.02 * min(res[i].stiffness, res[i + 1].stiffness))
                 for i in range(0, n - 1, 3)]
    return Model(f"{name}{n}", res, tuple(coup), (Input("u", (("r0", 1.0), (f"r{n // 2}", -0.5))),),
                 tuple(Output(f"c{k}", f"r{k * (n - 1) // 3}") for k in range(3)), Readout("rms", 0, 0.02),
                 band=(100.0, 4000.0))
