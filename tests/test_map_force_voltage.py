"""map_force_voltage: the planar dual circuit, proved equal to the reference model in numpy."""

import dataclasses

import networkx as nx
import numpy as np
import pytest

from r2nn_compiler.errors import CompileError
from r2nn_compiler.model import Coupling, Input, Model, Output, Readout, Resonator, parse_model_text
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, relative_error
from r2nn_compiler.passes.map_force_voltage import mechanical_graph
from r2nn_compiler.reference import default_grid

from .conftest import TOY
from .strategies import random_stable_model

#: check_reference's own gate is 1e-6; the dual is exact, so demand far more.
TIGHT = 1e-9


def as_force_voltage(model: Model) -> Model:
    return dataclasses.replace(model, analogy="force_voltage")


def planar_seeds(count: int) -> list[int]:
    """The first ``count`` seeds whose random stable model has a planar mechanical graph."""
    seeds = []
    seed = 0
    while len(seeds) < count:
        if nx.check_planarity(mechanical_graph(random_stable_model(seed)))[0]:
            seeds.append(seed)
        seed += 1
    return seeds


def prove(model: Model) -> tuple[CompileContext, float]:
    """Map by force–voltage and run the numpy proof; returns the context and the H(jω) error."""
    ctx = run_flow(CompileContext(as_force_voltage(model), CompileOptions(exact=True)),
                   ["map_force_voltage", "check_reference"])
    assert [entry.name for entry in ctx.log] == ["map_force_voltage", "check_reference"]
    return ctx, ctx.log[-1].details["h_relative_error"]


def resonator(name: str, f0: float, q: float, m: float = 1e-3) -> Resonator:
    w0 = 2 * np.pi * f0
    return Resonator(name, m, m * w0 * w0, m * w0 / q)


def hand_model(couplings: list[tuple[str, str, str, float]], n: int = 3, **kw) -> Model:
    """Resonators r0..r<n-1> (f0 300 Hz up, Q 8), ``couplings`` as (a, b, kind, value), input u
    driving r0 and r1, an output per resonator."""
    names = [f"r{i}" for i in range(n)]
    resonators = tuple(resonator(nm, 300 * 1.7**i, 8.0) for i, nm in enumerate(names))
    defaults = dict(inputs=(Input("u", (("r0", 1.0), ("r1", -0.6))),),
                    outputs=tuple(Output(f"c{i}", nm) for i, nm in enumerate(names)))
    defaults.update(kw)
    return Model("hand", resonators, tuple(Coupling(*c) for c in couplings), defaults["inputs"],
                 defaults["outputs"], Readout("rms", 0.0, 0.02), analogy="force_voltage", band=(100.0, 4000.0))


@pytest.mark.parametrize("seed", planar_seeds(24))
def test_random_planar_models_match_the_reference(seed):
    model = random_stable_model(seed)
    ctx, err = prove(model)
    assert err < TIGHT
    # Both analogies must realise the same network: compare the two circuits directly, which
    # removes the reference solver's own rounding from the comparison.
    fc = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_current"])
    freqs = default_grid(model, 60)
    assert relative_error(circuit_response(ctx, freqs), circuit_response(fc, freqs)) < 1e-10


def test_toy_with_spring_coupling():
    text = TOY.read_text().replace("analogy force_current;", "analogy force_voltage;")
    model = parse_model_text(text, str(TOY))
    assert model.analogy == "force_voltage"
    ctx, err = prove(model)
    assert err < TIGHT
    # a, b, t fully coupled: 4 mechanical nodes, 6 edges, so 4 faces (Euler), one of them ground.
    assert ctx.log[0].details["faces"] == 4
    g = ctx.graph
    assert g.counts() == {"R": 5, "L": 3, "C": 4, "G": 0, "E": 2, "V": 3, "H": 3, "X": 0}
    spring = next(c for c in g.components if c.origin == "spring coupling a -- t")
    np.testing.assert_allclose(spring.value, 1 / 50.0)
    assert [p.gain for p in ctx.inputs + ctx.outputs] == [1.0] * 4
    assert "0 V source" in ctx.sense and "CCVS" in ctx.sense
    g.check()


def test_tie_branch_is_drive_mass_spring_damper_sense_in_series():
    model = hand_model([("r0", "r1", "damper", 2e-3)], n=2)
    ctx, err = prove(model)
    assert err < TIGHT
    r0 = model.resonators[0]
    tie = [c for c in ctx.graph.components if "r0" in c.origin and "coupling" not in c.origin]
    assert [(c.kind, c.value) for c in tie] == [("E", 1.0), ("L", r0.mass), ("C", 1 / r0.stiffness),
                                               ("R", r0.damping), ("V", 0.0)]
    # One chain: each element's second node is the next one's first (the E is written out+ first).
    ends = [(c.nodes[1], c.nodes[0]) if c.kind == "E" else c.nodes for c in tie]
    assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))
    h = ctx.graph.components_of("H")[0]
    assert (h.nodes, h.value, h.control) == (("out1", "0"), 1.0, tie[-1].name)


def test_damper_and_spring_on_one_pair_share_one_branch():
    model = hand_model([("r0", "r1", "damper", 3e-3), ("r1", "r0", "spring", 40.0), ("r1", "r2", "damper", 1e-3)])
    assert mechanical_graph(model).number_of_edges() == 3 + 2
    ctx, err = prove(model)
    assert err < TIGHT
    pair = [c for c in ctx.graph.components if "r0 -- r1" in c.origin or "r1 -- r0" in c.origin]
    assert [(c.kind, c.value) for c in pair] == [("R", 3e-3), ("C", 1 / 40.0)]
    assert pair[0].nodes[1] == pair[1].nodes[0]  # in series through one intermediate net


def test_negative_damper_coupling():
    model = hand_model([("r0", "r1", "damper", -4e-3), ("r1", "r2", "spring", 60.0), ("r0", "r2", "damper", 2e-3)])
    ctx, err = prove(model)
    assert err < TIGHT
    assert any(c.kind == "R" and c.value == -4e-3 for c in ctx.graph.components)


def test_three_fully_coupled_resonators_are_planar():
    model = hand_model([("r0", "r1", "damper", 2e-3), ("r1", "r2", "damper", 1e-3), ("r0", "r2", "spring", 30.0)])
    _, err = prove(model)
    assert err < TIGHT


def test_uncoupled_undamped_and_shared_readouts():
    """A bridge of the mechanical graph (uncoupled r2: its branch is a self-loop of one face),
    an undamped resonator damped only through a coupling, two classes on one resonator and two
    inputs driving one resonator (two E in its branch)."""
    model = hand_model(
        [("r0", "r1", "damper", 4e-3)],
        inputs=(Input("u", (("r0", 1.0), ("r2", 0.5))), Input("w", (("r0", -0.3), ("r1", 0.8)))),
        outputs=(Output("a", "r1"), Output("b", "r1"), Output("c", "r2")),
    )
    model = dataclasses.replace(model, resonators=(dataclasses.replace(model.resonators[0], damping=0.0),
                                                   *model.resonators[1:]))
    ctx, err = prove(model)
    assert err < TIGHT
    g = ctx.graph
    assert not any(c.origin == "resonator r0 damping" for c in g.components)
    assert len([c for c in g.components_of("E") if c.origin.endswith("-> r0")]) == 2
    h = g.components_of("H")
    assert h[0].control == h[1].control != h[2].control


def test_four_mutually_coupled_resonators_are_not_planar():
    pairs = [(a, b) for i, a in enumerate(["r0", "r1", "r2", "r3"]) for b in ["r0", "r1", "r2", "r3"][i + 1:]]
    model = hand_model([(a, b, "damper", 1e-3) for a, b in pairs], n=4)
    with pytest.raises(CompileError) as info:
        prove(model)
    assert str(info.value) == ("force_voltage needs a planar mechanical graph; resonators r0, r1, r2, r3 with ground "
                               "form a K5 subdivision (all mutually coupled): use force_current")


def test_k33_obstruction_is_named_by_its_two_sides():
    couplings = [(a, b, "damper", 1e-3) for a in ("r0", "r1") for b in ("r2", "r3", "r4")]
    with pytest.raises(CompileError, match=r"; r0, r1, ground and r2, r3, r4 form a K3,3 subdivision \(each of "
                                           r"r0, r1, ground coupled to each of r2, r3, r4\): use force_current$"):
        prove(hand_model(couplings, n=5))


def test_applies_only_to_force_voltage_models_without_a_graph():
    model = dataclasses.replace(hand_model([]), analogy="force_current")
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_voltage"])
    assert ctx.graph is None and ctx.log == []
    ctx = run_flow(CompileContext(hand_model([]), CompileOptions(exact=True)), ["map_force_voltage"] * 2)
    assert len(ctx.log) == 1
