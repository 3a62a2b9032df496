"""The fast paths that make compile time grow linearly: each gives what the slow one gives.

Fast text reader vs lark, shortest exponent text vs format_spice, the sparse iterative AC solve
vs dense solves, the energy stability certificate vs eigenvalues, the pole bounds, the graph's
O(1) surgery. No timings here: bench/bench_compile.py measures them.
"""

import dataclasses
import math
import random

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler.numerics import condensed, shifted
from r2nn_compiler.backend.netlister import spice_number
from r2nn_compiler.circuit import CircuitGraph, Component, Port, mna, mna_matrices
from r2nn_compiler.errors import CompileError
from r2nn_compiler.model import Coupling, model_to_text, parse_model_text
from r2nn_compiler.model.parser import _FastReader, _parser
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, reference_response, relative_error
from r2nn_compiler.reference import default_grid, frequency_response, response, statespace
from r2nn_compiler.units import format_spice, parse_quantity

from .conftest import ROOT
from .fuzzing import TOY_TEXT, mutate_text
from .strategies import random_stable_model, weakly_coupled_model


# -- the fast text reader -------------------------------------------------------------------------


def _shape(node):
    if not hasattr(node, "children"):
        return ("token", str(node), node.line, node.column)
    return (str(node.data), node.meta.line, node.meta.column, tuple(_shape(c) for c in node.children))


def _reader_agrees_with_lark(text: str) -> bool:
    """True when the fast reader read ``text`` (its tree then equals lark's), False when it left
    it to lark; fails when it read text lark rejects or read it differently."""
    fast = _FastReader(text).read()
    if fast is None:
        return False
    assert _shape(fast) == _shape(_parser().parse(text))
    return True


def test_fast_reader_builds_lark_tree_for_every_example():
    paths = [p for p in ROOT.glob("examples/**/*.r2nn")]
    assert paths
    for path in paths:
        assert _reader_agrees_with_lark(path.read_text(encoding="utf-8")), path


def test_fast_reader_builds_lark_tree_for_written_models():
    for seed in range(5):
        assert _reader_agrees_with_lark(model_to_text(random_stable_model(seed)))


def test_fast_reader_never_reads_mutated_text_differently_from_lark():
    rng = random.Random(0)
    read = 0
    for _ in range(400):
        text = mutate_text(rng, TOY_TEXT)
        read += _reader_agrees_with_lark(text)
    assert read > 0  # some mutations stay valid and are read fast


def test_fast_reader_leaves_keywords_glued_to_numbers_to_lark():
    text = TOY_TEXT.replace("to 20 ms", "to20 ms")
    assert _FastReader(text).read() is None
    assert parse_model_text(text).readout.stop == pytest.approx(0.02)


def test_syntax_errors_still_come_from_lark():
    with pytest.raises(Exception, match=r"m\.r2nn:3:"):
        parse_model_text(TOY_TEXT.replace("band 100 Hz", "band @ 100 Hz"), "m.r2nn")
    assert _FastReader(TOY_TEXT.replace("band 100 Hz", "band @ 100 Hz")).read() is None


def test_locations_of_the_fast_reader_point_at_the_token():
    model = parse_model_text(TOY_TEXT, "toy.r2nn")
    b = model.resonators[1]
    assert (b.loc.line, b.loc.column) == (5, 15)
    assert (b.where("stiffness").line, b.where("stiffness").column) == (5, 23)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_plain_number_fast_path_equals_parse_quantity(value):
    text = repr(value)
    model_text = TOY_TEXT.replace("couple a -- b damper (c = 5m)", f"couple a -- b damper (c = {text})")
    if value == 0:
        return  # a zero coupling is rejected either way
    assert parse_model_text(model_text).couplings[0].value == parse_quantity(text).value


# -- netlist numbers ------------------------------------------------------------------------------


@settings(max_examples=500)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_spice_number_equals_format_spice(value):
    assert spice_number(value) == format_spice(value)


def test_spice_number_at_power_of_two_boundaries_equals_format_spice():
    for k in range(-1074, 1024):
        for v in (2.0**k, math.nextafter(2.0**k, 0.0), math.nextafter(2.0**k, math.inf)):
            if math.isfinite(v) and v > 0:
                assert spice_number(v) == format_spice(v)


def test_spice_number_rejects_nan_like_format_spice():
    with pytest.raises(ValueError):
        spice_number(math.nan)


# -- the sparse iterative AC solve ----------------------------------------------------------------


def _dense_response(E, A, B, C, s):
    E, A = E.toarray(), A.toarray()
    return np.stack([C @ np.linalg.solve(sv * E - A, B) for sv in s], axis=-1)


def test_solve_shifted_equals_dense_solves_on_a_random_descriptor_system():
    rng = np.random.default_rng(1)
    n = 60
    A = scipy.sparse.random(n, n, density=0.08, random_state=rng) - 8 * scipy.sparse.identity(n)
    E = scipy.sparse.diags(rng.uniform(0.5, 2.0, n))
    B = rng.standard_normal((n, 2))
    C = rng.standard_normal((3, n))
    s = 2j * np.pi * np.geomspace(0.1, 10, 40)
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s, C), _dense_response(E, A, B, C, s), rtol=1e-10,
                               atol=1e-12)


def test_solve_shifted_falls_back_to_lu_when_gmres_cannot_converge(monkeypatch):
    rng = np.random.default_rng(2)
    n = 40
    A = scipy.sparse.random(n, n, density=0.3, random_state=rng) - 2 * scipy.sparse.identity(n)
    E = scipy.sparse.identity(n)
    B = rng.standard_normal((n, 1))
    s = 2j * np.pi * np.geomspace(0.1, 10, 7)
    monkeypatch.setattr(shifted, "GMRES_BASIS", 1)
    monkeypatch.setattr(shifted, "GMRES_CYCLES", 1)
    np.testing.assert_allclose(shifted.solve_shifted(E, A, B, s), _dense_response(E, A, B, np.eye(n), s), rtol=1e-10)


def test_eliminated_unknowns_are_independent_and_low_degree():
    model = weakly_coupled_model(30, 60)
    ctx = run_flow(CompileContext(model, CompileOptions()), ["map_force_current", "scale", "quantise"])
    system = mna_matrices(ctx.graph, [p.net for p in ctx.inputs])
    E, A = system.E_sparse, system.A_sparse
    gone = condensed.eliminable(E, A, system.B, 2j * np.pi * default_grid(model, 3))
    pattern = (abs(E) + abs(A)).toarray() != 0
    np.fill_diagonal(pattern, False)
    assert gone.size > 0
    assert not pattern[np.ix_(gone, gone)].any()
    assert pattern[gone].sum(axis=1).max() <= condensed.ELIMINATE_DEGREE
    assert not system.B[gone].any()


@pytest.mark.parametrize("flow", [["map_force_current"], ["map_force_current", "scale", "quantise", "break_dc_loops"],
                                  ["map_force_voltage"]])
def test_iterative_ac_equals_dense_ac(monkeypatch, flow):
    model = random_stable_model(3, n=12, negative=False)
    if flow == ["map_force_voltage"]:
        # A chain of resonators: a planar mechanical graph, as force-voltage needs.
        chain = tuple(Coupling(a.name, b.name, "damper", 0.2 * min(a.damping, b.damping))
                      for a, b in zip(model.resonators, model.resonators[1:]))
        model = dataclasses.replace(model, couplings=chain, analogy="force_voltage")
    ctx = run_flow(CompileContext(model, CompileOptions(exact=len(flow) == 1)), flow)
    freqs = default_grid(model, 60)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 10**9)
    dense = circuit_response(ctx, freqs)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 0)
    assert relative_error(circuit_response(ctx, freqs), dense) < 1e-11


def test_iterative_ac_with_opamps_equals_dense_ac(monkeypatch):
    model = random_stable_model(4, n=8, negative=True)
    ctx = run_flow(CompileContext(model, CompileOptions()), ["map_force_current", "scale", "realise_negative"])
    assert ctx.graph.components_of("X"), "the model should need op-amps"
    freqs = default_grid(model, 40)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 10**9)
    dense = circuit_response(ctx, freqs)
    monkeypatch.setattr(mna, "DENSE_LIMIT", 0)
    assert relative_error(circuit_response(ctx, freqs), dense) < 1e-10


def test_sparse_reference_response_equals_dense(monkeypatch):
    model = weakly_coupled_model(20, 40, springs=True)
    freqs = default_grid(model, 80)
    monkeypatch.setattr(response, "DENSE_RESONATORS", 0)
    sparse = reference_response(model, freqs)
    assert relative_error(sparse, response.dense_frequency_response(model, freqs)) < 1e-11
    assert relative_error(frequency_response(model, freqs), sparse) == 0.0


def test_large_exact_compile_passes_the_proof_and_a_2_percent_capacitor_fails_it():
    # 80 resonators: the circuit (~170 unknowns) and the reference both take the sparse path.
    model = weakly_coupled_model(80, 400)
    ctx = run_flow(CompileContext(model, CompileOptions(exact=True)), ["map_force_current", "break_dc_loops"])
    assert mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).n_unknowns > mna.DENSE_LIMIT
    assert len(model.resonators) > response.DENSE_RESONATORS
    run_flow(ctx, ["check_reference"])
    assert ctx.log[-1].details["h_relative_error"] < 1e-9
    cap = ctx.graph.components_of("C")[len(model.resonators) // 3]
    cap.value *= 1.02
    with pytest.raises(CompileError, match="circuit MNA differs from the reference model"):
        run_flow(ctx, ["check_reference"])


def test_vectorised_stamps_sum_in_stamping_order():
    # Repeated stamps on one entry (three resistors in parallel, a self-loop that stamps nothing)
    # sum to the entry a component-by-component stamping would give.
    g = CircuitGraph()
    g.add_port(Port("in", "input"))
    values = [3.0, 7.0, 1e-4, 11.0]
    g.add(Component("R1", "R", ("in", "a"), values[0]))
    g.add(Component("R2", "R", ("a", "0"), values[1]))
    g.add(Component("R3", "R", ("a", "b"), values[2]))  # branch form: below 1e-3 ohm
    g.add(Component("R4", "R", ("a", "0"), values[3]))
    g.add(Component("R5", "R", ("a", "a"), 5.0))
    g.add(Component("C1", "C", ("b", "0"), 1e-6))
    system = mna_matrices(g)
    a = system.index("a")
    assert system.A[a, a] == ((0.0 + -1.0 / 3.0) + -1.0 / 7.0) + -1.0 / 11.0
    assert "i(R3)" in system.unknowns


# -- stability, poles ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_passive_certificate_only_certifies_stable_models(seed):
    model = random_stable_model(seed, negative=seed % 2 == 0)
    poles = statespace.state_space(model).poles()
    if statespace.passive_certificate(model):
        assert poles.real.max() < 0
    if seed % 2:  # positive dampers and springs: always certified
        assert statespace.passive_certificate(model)


def test_unstable_model_is_never_certified():
    model = weakly_coupled_model(10, 10)
    flipped = dataclasses.replace(model, resonators=(dataclasses.replace(model.resonators[0], damping=-1.0),)
                                  + model.resonators[1:])
    assert not statespace.passive_certificate(flipped)
    with pytest.raises(Exception, match="unstable"):
        statespace.check_stable(flipped)


def test_pole_bound_is_exact_when_small_and_an_upper_bound_when_large(monkeypatch):
    model = weakly_coupled_model(40, 80, springs=True)
    exact = np.abs(statespace.state_space(model).poles()).max()
    monkeypatch.setattr(statespace, "DENSE_EIG_STATES", 10**6)
    assert statespace.largest_pole_magnitude(model) == exact
    monkeypatch.setattr(statespace, "DENSE_EIG_STATES", 0)
    bound = statespace.largest_pole_magnitude(model)
    assert exact <= bound <= 1.1 * exact


def test_q_bound_covers_the_slowest_pole():
    for seed in range(10):
        model = random_stable_model(seed, negative=False)
        margin, pole = statespace.stability_margin(model)
        assert abs(pole) / (2 * margin) <= statespace._q_bound(model) * (1 + 1e-12)


def test_ringing_frequencies_of_weakly_coupled_model_are_close_to_the_poles(monkeypatch):
    model = weakly_coupled_model(40, 60)
    monkeypatch.setattr(statespace, "DENSE_EIG_STATES", 10**6)
    exact = np.sort(statespace.ringing_frequencies_hz(model))[1::2]  # one per complex pair
    monkeypatch.setattr(statespace, "DENSE_EIG_STATES", 0)
    approx = np.sort(statespace.ringing_frequencies_hz(model))
    np.testing.assert_allclose(approx, exact, rtol=0.02)


# -- graph surgery -------------------------------------------------------------------------------


def test_replacements_keep_the_listing_order_and_net_index():
    g = CircuitGraph()
    for k in range(5):
        g.add(Component(f"R{k + 1}", "R", (f"n{k}", "0"), 1.0))
    g.replace("R3", Component("R3", "R", ("n2", "m"), 1.0), Component("R9", "R", ("m", "0"), 2.0))
    g.replace("R9", Component("R9", "R", ("m", "0"), 2.0), Component("C1", "C", ("m", "0"), 1e-9))
    g.add(Component("R10", "R", ("m", "0"), 3.0))
    assert [c.name for c in g.components] == ["R1", "R2", "R3", "R9", "C1", "R4", "R5", "R10"]
    assert [c.name for c in g.components_at("m")] == ["R3", "R9", "C1", "R10"]
    g.remove("R3")
    assert "n2" not in g.graph  # nobody uses it any more
    assert [c.name for c in g.components_at("m")] == ["R9", "C1", "R10"]
