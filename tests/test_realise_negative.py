"""Pass realise_negative: negative resistors and springs become op-amp circuits that keep H(jω)."""

import dataclasses
import math
import shutil

import numpy as np
import pytest

from r2nn_compiler.circuit import CircuitGraph, Component, Port, mna_matrices
from r2nn_compiler.circuit.annotations import opamps as graph_opamps
from r2nn_compiler.circuit.opamp import IDEAL_GAIN, OpampModel, subcircuit
from r2nn_compiler.compiler import compile_model
from r2nn_compiler.errors import CompileError, VerificationError
from r2nn_compiler.model import Coupling, Input, Model, Output, Readout, Resonator
from r2nn_compiler.passes import CompileContext, CompileOptions, run_flow
from r2nn_compiler.passes.common.response import circuit_response, relative_error
from r2nn_compiler.reference import default_grid, frequency_response, simulate, stability_margin
from r2nn_compiler.sim import NgspiceBatch
from r2nn_compiler.verify import read_compiled, verify_deck
from r2nn_compiler.verify.headroom import headroom, opamp_vectors

from .strategies import random_stable_model
from .test_verify import noise_signals

ACTIVE_FLOW = ["map_force_current", "realise_negative", "break_dc_loops", "check_reference"]


def impedance_scaled(model: Model, factor: float) -> Model:
    """The same model with mass, stiffness, damping, couplings and drives all times ``factor``:
    every velocity (node voltage) is unchanged, every circuit impedance is divided by ``factor``.
    ``random_stable_model`` works at ohms; 1e-4 moves it to the kilohms op-amps are built for."""
    return dataclasses.replace(
        model,
        resonators=tuple(dataclasses.replace(r, mass=r.mass * factor, stiffness=r.stiffness * factor,
                                             damping=r.damping * factor) for r in model.resonators),
        couplings=tuple(dataclasses.replace(c, value=c.value * factor) for c in model.couplings),
        inputs=tuple(dataclasses.replace(i, drives=tuple((n, w * factor) for n, w in i.drives)) for i in model.inputs))


def resonator(name: str, f0: float, q: float, m: float = 1e-7) -> Resonator:
    w = 2 * math.pi * f0
    return Resonator(name, m, m * w * w, m * w / q)


def mixed_model() -> Model:
    """Resonator a has negative damping (Q −15) and is stabilised by a strong damper to b; b–c is
    a negative damper and a–c a negative spring: every kind of negative element at once."""
    a, b, c = resonator("a", 800, -15), resonator("b", 900, 4, 2e-7), resonator("c", 2000, 8)
    couplings = (Coupling("a", "b", "damper", 2 * abs(a.damping)), Coupling("b", "c", "damper", -0.4 * c.damping),
                 Coupling("a", "c", "spring", -0.05 * a.stiffness))
    return Model("mixed", (a, b, c), couplings, (Input("u", (("a", 1e-7), ("c", -0.5e-7))),),
                 (Output("low", "a"), Output("high", "c")), Readout("rms", 0.0, 0.02), band=(200.0, 5000.0))


def negative_spring_model() -> Model:
    a, b = resonator("a", 1000, 10), resonator("b", 2500, 10)
    return Model("spring", (a, b), (Coupling("a", "b", "spring", -0.6 * a.stiffness),),
                 (Input("u", (("a", 1e-7),)),), (Output("c0", "a"),), Readout("rms", 0.0, 0.01), band=(300.0, 1e4))


def realise(model: Model, **options) -> CompileContext:
    return run_flow(CompileContext(model, CompileOptions(**options)), ["map_force_current", "realise_negative"])


def h_error(ctx: CompileContext) -> float:
    freqs = default_grid(ctx.model, 300)
    return relative_error(circuit_response(ctx, freqs), frequency_response(ctx.model, freqs))


def negative_parts(graph: CircuitGraph) -> list[str]:
    return [c.name for c in graph.components if c.kind in ("R", "L", "C") and c.value < 0]


def poles(ctx: CompileContext) -> np.ndarray:
    """Poles by decreasing real part, without the neutral ones at 0 (1e-10 of the largest) of
    lossless inductor loops, which ``break_dc_loops`` would damp later in a flow."""
    found = mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).poles()
    return found[np.abs(found) > 1e-9 * np.max(np.abs(found))]


# -- op-amp models -------------------------------------------------------------------------


def open_loop_gain(model: OpampModel, freqs_hz: np.ndarray) -> np.ndarray:
    graph = CircuitGraph("open loop")
    graph.add_port(Port("in1", "input"))
    graph.define_subcircuit(subcircuit(model))
    graph.add(Component("X1", "X", ("in1", "0", "out"), subckt=model.subckt_name))
    graph.add(Component("R1", "R", ("out", "0"), 1e12))
    return mna_matrices(graph).ac(freqs_hz, ["out"])[0, 0]


def test_macromodel_has_the_datasheet_gain_and_gain_bandwidth():
    model = OpampModel()
    gain = open_loop_gain(model, np.array([1e-3, model.dominant_pole_hz, model.gbw_hz]))
    np.testing.assert_allclose(abs(gain[0]), 2e5, rtol=1e-6)
    np.testing.assert_allclose(abs(gain[1]), 2e5 / math.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(abs(gain[2]), 1.0, rtol=1e-6)


def test_ideal_opamp_is_a_vcvs_of_gain_1e6():
    np.testing.assert_allclose(open_loop_gain(OpampModel(kind="ideal"), np.array([1.0, 1e6])), IDEAL_GAIN)


@pytest.mark.parametrize("options, message", [
    ({"opamp_params": {"gbw": 1e6}}, "unknown op-amp knob 'gbw'; known: part, a0, gbw_hz"),
    ({"opamp_params": {"gbw_hz": -1.0}}, "op-amp gbw_hz must be a positive number, got -1.0"),
    ({"opamp": "fancy"}, "unknown op-amp model 'fancy': expected one of macro, ideal"),
])
def test_bad_opamp_options_are_clear_errors(options, message):
    with pytest.raises(CompileError, match=message):
        realise(mixed_model(), **options)


# -- numpy: structure, response, stability ---------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 5, 8])
def test_random_models_keep_their_response_with_the_macromodel(seed):
    ctx = realise(impedance_scaled(random_stable_model(seed), 1e-4))
    assert negative_parts(ctx.graph) == []
    err = h_error(ctx)
    assert 1e-6 < err < 3e-3  # finite gain–bandwidth: small, never zero
    assert np.all(poles(ctx).real < 0)
    details = ctx.log[-1].details
    assert details["h_relative_error"] < 3e-3 and details["resistors_out_of_range"] == []


def test_after_the_scale_pass_parts_are_in_range_and_the_error_small():
    ctx = run_flow(CompileContext(random_stable_model(5, springs=False), CompileOptions()),
                   ["map_force_current", "scale", "realise_negative"])
    details = ctx.log[-1].details
    assert details["resistors_out_of_range"] == [] and details["h_relative_error"] < 3e-3
    assert h_error(ctx) < 3e-3


@pytest.mark.parametrize("seed", [1, 2, 5, 8])
@pytest.mark.parametrize("factor", [1.0, 1e-4])
def test_ideal_opamp_reproduces_the_reference_within_1e_4(seed, factor):
    ctx = realise(impedance_scaled(random_stable_model(seed), factor), opamp="ideal")
    assert negative_parts(ctx.graph) == []
    assert h_error(ctx) <= 1e-4
    assert set(ctx.graph.subcircuits) == {"opamp_ideal"}
    assert {c.subckt for c in ctx.graph.components_of("X")} == {"opamp_ideal"}


def test_every_kind_of_negative_element_is_realised_and_stable():
    model = mixed_model()
    ctx = realise(model)
    assert negative_parts(ctx.graph) == []
    assert h_error(ctx) < 3e-3
    slowest = poles(ctx)[0].real
    assert slowest < 0 and slowest == pytest.approx(-stability_margin(model)[0], rel=0.01)
    records = {r["element"]: r for r in ctx.log[-1].details["realised"]}
    assert records["a"]["action"] == "NIC" and records["a"]["orientation"] == "short-circuit-stable"
    assert records["b--c"]["action"] == records["a--c"]["action"] == "floating pair"
    assert all(r["slowest_pole"][0] < 0 for r in records.values())


def test_negative_damping_becomes_a_short_circuit_stable_nic():
    ctx = realise(mixed_model())
    graph = ctx.graph
    (x,) = [c for c in graph.components_of("X") if c.attrs["element"] == "a"]
    assert x.nodes == ("n1", "x1_div", "x1_out") and x.subckt == "opamp_macro"  # + input at the resonator net
    parts = {c.origin.rsplit(": ", 1)[1]: c for c in graph.components if c.attrs.get("element") == "a"
             and c.kind == "R"}
    r_damping = 1.0 / mixed_model().resonators[0].damping
    assert parts["R1 output to node"].nodes == ("x1_out", "n1")
    assert parts["R1 output to node"].value == pytest.approx(-r_damping)  # R_in = −R3·R1/R2 with R2 = R3
    assert parts["R2 output to divider"].value == parts["R3 divider to ground"].value
    assert not [c for c in graph.components_at("n1") if c.kind == "R" and "0" in c.nodes]
    assert {c.attrs["role"] for c in graph.components if c.attrs.get("element") == "a" and c.kind in "RX"} == {"active"}


def test_grounded_dampers_at_a_net_merge_before_realising():
    model = mixed_model()
    damping = model.resonators[0].damping  # negative
    for extra_conductance, expect_nic in ((-2 * damping, False), (-0.5 * damping, True)):
        ctx = run_flow(CompileContext(model, CompileOptions()), ["map_force_current"])
        ctx.graph.add(Component("R99", "R", ("n1", "0"), 1.0 / extra_conductance, attrs={"role": "damping",
                                                                                     "element": "a"}))
        run_flow(ctx, ["realise_negative"])
        grounded = [c for c in ctx.graph.components_at("n1") if c.kind == "R" and "0" in c.nodes]
        net = damping + extra_conductance
        if expect_nic:
            assert grounded == [] and "a" in {op.element for op in graph_opamps(ctx.graph)}
            (r1,) = [c for c in ctx.graph.components if c.origin.endswith("R1 output to node")]
            assert r1.value == pytest.approx(-1.0 / net)
        else:
            assert [c.value for c in grounded] == [pytest.approx(1.0 / net)]
            assert "a" not in {op.element for op in graph_opamps(ctx.graph)}


def test_negative_damper_coupling_becomes_two_difference_amplifiers():
    model = mixed_model()
    ctx = realise(model)
    parts = [c for c in ctx.graph.components if c.attrs.get("element") == "b--c"]
    xs = [c for c in parts if c.kind == "X"]
    assert [x.nodes[0] for x in xs] == ["n2", "n3"]  # one op-amp at each end, + input at its node
    coupling = -0.4 * model.resonators[2].damping
    ra = {c.value for c in parts if c.origin.endswith(("Ra from far node", "Ra feedback"))}
    (r_a,) = ra
    injection = [c.value for c in parts if c.origin.endswith("injection")]
    assert injection == pytest.approx([1.0 / (1.0 / r_a - coupling)] * 2)  # 1/Ra − 1/R = c < 0


def test_negative_spring_coupling_becomes_inductor_and_cancelling_resistor():
    ctx = realise(negative_spring_model(), opamp="ideal")
    assert h_error(ctx) <= 1e-4
    parts = [c for c in ctx.graph.components if c.attrs.get("element") == "a--b"]
    inductors = [c for c in parts if c.kind == "L"]
    spring_l = 1.0 / (0.6 * negative_spring_model().resonators[0].stiffness)
    assert [c.value for c in inductors] == pytest.approx([spring_l] * 2)
    r_a = next(c.value for c in parts if c.origin.endswith("Ra feedback"))
    cancel = [c for c in parts if c.origin.endswith("injection, cancels Ra")]
    assert [(c.nodes, c.value) for c in cancel] == [(l.nodes, r_a) for l in inductors]


def test_meta_lists_every_opamp_with_its_output_net():
    ctx = realise(mixed_model())
    opamps = [op.as_dict() for op in graph_opamps(ctx.graph)]
    assert [op["designator"] for op in opamps] == [c.name for c in ctx.graph.components_of("X")]
    assert [op["element"] for op in opamps] == ["a", "b--c", "b--c", "a--c", "a--c"]
    assert all(op["output_net"] == f"{op['designator'].lower()}_out" for op in opamps)
    assert ctx.graph.meta["opamp_model"] == OpampModel().as_dict()


@pytest.mark.parametrize("gbw_hz", [10.0, 1e3, 1e5])
def test_finite_gain_bandwidth_adds_damping_and_stays_stable(gbw_hz):
    """A slow op-amp makes the NIC −g·(ω_t − 2s)/(ω_t + 2s): the ideal −g plus a passive RC. The
    resonances only get more damped; the op-amps' own poles (real, near −2π·GBW/A0) are stable."""
    model = mixed_model()
    ctx = realise(model, opamp_params={"gbw_hz": gbw_hz})
    found = poles(ctx)
    assert np.all(found.real < 0)
    resonances = found[np.abs(found.imag) > 2 * np.pi * 100]
    assert np.max(resonances.real) <= -stability_margin(model)[0]


def test_unrealisable_negative_spring_names_the_coupling_and_the_growing_pole():
    poor = {"a0": 10.0, "r_out_ohm": 10e3}  # too little gain to drive the injection network
    with pytest.raises(CompileError, match=r"spring coupling a -- b \(L3 = -0\.4222 H\) cannot be realised stably "
                                           r"with the TL072-like macromodel \(A0 10, .*\): growing pole \d"):
        realise(negative_spring_model(), opamp_params=poor)


def test_force_voltage_negative_damping_is_refused_by_name():
    model = dataclasses.replace(mixed_model(), analogy="force_voltage")
    with pytest.raises(CompileError, match="resonator a damping is a negative series R .* compile with analogy "
                                           "force_current"):
        run_flow(CompileContext(model, CompileOptions()), ["map_force_voltage", "realise_negative"])


def test_models_without_negative_elements_are_left_alone():
    ctx = realise(random_stable_model(3, negative=False))
    assert ctx.log[-1].changed is False and ctx.graph.components_of("X") == []


# -- ngspice -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [mixed_model(), impedance_scaled(random_stable_model(5), 1e-4)],
                         ids=["mixed", "random5"])
def test_active_deck_simulates_like_ideal_negative_resistors(tmp_path, model):
    signals = noise_signals(2)
    compile_model(model, tmp_path / "active", flow=ACTIVE_FLOW, options=CompileOptions())
    compile_model(model, tmp_path / "ideal", exact=True)
    active = verify_deck(model, read_compiled(tmp_path / "active"), signals)
    ideal = verify_deck(model, read_compiled(tmp_path / "ideal"), signals, run_ac=False)
    assert active.passed, active.failures()
    for a, b in zip(active.signals, ideal.signals, strict=True):
        rms = np.sqrt(np.mean(b.circuit_outputs**2, axis=-1))
        nrmse = np.sqrt(np.mean((a.circuit_outputs - b.circuit_outputs) ** 2, axis=-1)) / rms
        assert np.all(nrmse < 0.01), nrmse


def test_headroom_reads_every_opamp_output_from_ngspice(tmp_path):
    from r2nn_compiler.backend import NgspiceNetlister

    model = mixed_model()
    result = compile_model(model, tmp_path / "o", flow=ACTIVE_FLOW, options=CompileOptions())
    opamps = [op.as_dict() for op in graph_opamps(result.context.graph)]
    swing = result.context.graph.meta["opamp_model"]["swing_v"]
    rate = 20_000.0
    u = np.random.default_rng(0).standard_normal((1, 401))
    work = tmp_path / "run"
    work.mkdir()
    shutil.copy(tmp_path / "o" / result.manifest["library"], work)

    def peak_rows(level: float) -> list[dict]:
        t = np.arange(u.shape[1]) / rate
        np.savetxt(work / "in.txt", np.column_stack([t, level * u[0]]))
        deck = NgspiceNetlister().testbench(
            title="headroom", library=result.manifest["library"], subckt=result.manifest["subckt"], n_inputs=1,
            n_outputs=2, extra_ports=[], data_file="in.txt", tran=(float(t[-1]), 1 / rate / 40), ac=None,
            save_outputs=True)
        deck = deck.replace(".save ", ".save " + " ".join(opamp_vectors(opamps)) + " ", 1)
        (work / "h.cir").write_text(deck)
        plot = NgspiceBatch().run(work / "h.cir", work).plot("tran")
        return headroom(plot, opamps, swing)

    rows = peak_rows(1.0)
    assert [r["designator"] for r in rows] == [op["designator"] for op in opamps]
    assert all(r["ok"] and 0 < r["peak_v"] < swing for r in rows)
    loud = peak_rows(20 * swing / min(r["peak_v"] for r in rows))
    assert not any(r["ok"] for r in loud) and all(r["headroom_v"] < 0 for r in loud)
    # The NIC's output is twice its node voltage (gain 1 + R2/R3): check one against the reference.
    nic = next(r for r in rows if r["element"] == "a")
    v_a = simulate(model, u[None], rate)[0, 0]
    assert nic["peak_v"] == pytest.approx(2 * np.max(np.abs(v_a)), rel=0.05)


def test_missing_opamp_vectors_name_the_save_line():
    from r2nn_compiler.sim.rawfile import RawPlot

    plot = RawPlot("t", "", "Transient Analysis", set(), [("time", "time")], {"time": np.zeros(3)})
    with pytest.raises(VerificationError, match=r"no op-amp output vector v\(x1\.x1_out\) .*'\.save v\(x1\.x1_out\)'"):
        headroom(plot, [{"designator": "X1", "element": "a", "output_net": "x1_out"}], 13.5)
