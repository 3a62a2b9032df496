"""MNA: stamps and sign conventions, AC, exact transient, poles, subcircuits, index errors."""

import math

import numpy as np
import pytest
import scipy.signal

from r2nn_compiler.circuit import CircuitGraph, Component, Port, SubcircuitDef, mna_matrices
from r2nn_compiler.errors import CircuitError

R, C = 1e3, 1e-6  # RC low-pass: tau = 1 ms


def rc_lowpass() -> CircuitGraph:
    g = CircuitGraph("rc")
    g.add_port(Port("in", "input", "u"))
    g.add_port(Port("out", "output", "y"))
    g.add(Component("R1", "R", ("in", "out"), R))
    g.add(Component("C1", "C", ("out", "0"), C))
    return g


def resonator(m: float, k: float, c: float, b: float) -> CircuitGraph:
    """Mechanical resonator m dv/dt = b u − c v − k x as C = m, L = 1/k, R = 1/c at node n,
    driven by G1 0 n in 0 b (injects b·u into n)."""
    g = CircuitGraph("resonator")
    g.add_port(Port("in", "input", "u"))
    g.add(Component("G1", "G", ("0", "n", "in", "0"), b))
    g.add(Component("C1", "C", ("n", "0"), m))
    g.add(Component("L1", "L", ("n", "0"), 1.0 / k))
    g.add(Component("R1", "R", ("n", "0"), 1.0 / c))
    return g


def test_unknowns_are_node_voltages_then_branch_currents():
    g = resonator(1.0, 1.0, 1.0, 1.0)
    system = mna_matrices(g)
    assert system.unknowns == ["v(in)", "v(n)", "i(L1)", "i(V:in)"]
    assert system.index("n") == 1


def test_rc_lowpass_corner_magnitude():
    corner = 1.0 / (2 * math.pi * R * C)
    h = mna_matrices(rc_lowpass()).ac([corner], ["out"])
    np.testing.assert_allclose(abs(h[0, 0, 0]), 1 / math.sqrt(2), rtol=1e-12)
    np.testing.assert_allclose(np.angle(h[0, 0, 0]), -math.pi / 4, rtol=1e-12)


def test_rc_lowpass_step_response_is_exact():
    tau, dt, n = R * C, 1e-4, 200
    u = np.ones((1, 1, n))
    u[..., 0] = 0.0  # ramp from 0 to 1 over the first sample period, then 1
    y = mna_matrices(rc_lowpass()).transient(u, dt, ["out"])[0, 0]
    t = np.arange(n) * dt
    y1 = 1 - (tau / dt) * (1 - math.exp(-dt / tau))  # ramp response at t = dt
    expected = np.where(t < dt, 0.0, 1 + (y1 - 1) * np.exp(-(t - dt) / tau))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9)


def test_rc_lowpass_transient_matches_lsim():
    dt, n = 1e-5, 500
    t = np.arange(n) * dt
    u = np.sin(2 * math.pi * 300 * t) + 0.3 * np.cos(2 * math.pi * 1700 * t)
    y = mna_matrices(rc_lowpass()).transient(u[None, None], dt, ["out"])[0, 0]
    _, ref, _ = scipy.signal.lsim(([1.0], [R * C, 1.0]), u, t)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-9)


def test_vccs_injects_positive_current_into_out_minus():
    g = CircuitGraph()
    g.add_port(Port("in", "input"))
    g.add(Component("G1", "G", ("0", "n", "in", "0"), 2e-3))
    g.add(Component("R1", "R", ("n", "0"), 5e3))
    ss = mna_matrices(g).state_space(["n"])
    assert ss.n_states == 0
    np.testing.assert_allclose(ss.D, [[2e-3 * 5e3]], rtol=1e-12)


def test_parallel_rlc_resonance_and_bandwidth():
    m, k, c, b = 2e-6, 3.0, 4e-4, 1e-3
    f0 = 1 / (2 * math.pi * math.sqrt(m / k))  # 1/(2π√(LC)), L = 1/k, C = m
    bw = 1 / (2 * math.pi * (1 / c) * m)  # 1/(2πRC)
    lo = math.sqrt((bw / 2) ** 2 + f0**2) - bw / 2
    h = mna_matrices(resonator(m, k, c, b)).ac([f0, lo, lo + bw], ["n"])[0, 0]
    np.testing.assert_allclose(h[0], b / c, rtol=1e-9)  # peak: purely resistive, b·R
    np.testing.assert_allclose(abs(h[1:]), b / c / math.sqrt(2), rtol=1e-9)


def test_resonator_poles_match_mechanical_characteristic_polynomial():
    m, k, c = 2e-6, 3.0, 4e-4
    expected = np.roots([m, c, k])
    poles = mna_matrices(resonator(m, k, c, 1.0)).poles()
    np.testing.assert_allclose(np.sort_complex(poles), np.sort_complex(expected), rtol=1e-9)


def test_state_space_frequency_response_equals_direct_ac():
    system = mna_matrices(resonator(2e-6, 3.0, 4e-4, 1e-3))
    freqs = np.geomspace(10, 1e4, 7)
    np.testing.assert_allclose(
        system.state_space(["n", "in"]).frequency_response(freqs), system.ac(freqs, ["n", "in"]), rtol=1e-9
    )


def test_vcvs_buffer_has_its_gain():
    g = CircuitGraph()
    g.add_port(Port("in", "input"))
    g.add(Component("E1", "E", ("out", "0", "in", "0"), 2.5))
    g.add(Component("R1", "R", ("out", "0"), 1e3))
    system = mna_matrices(g)
    np.testing.assert_allclose(system.ac([1.0, 1e6], ["out"])[0, 0], [2.5, 2.5], rtol=1e-12)
    u = np.linspace(0, 1, 5)[None, None]
    np.testing.assert_allclose(system.transient(u, 1e-3, ["out"]), 2.5 * u, rtol=1e-12)


def test_negative_resistor_gives_unstable_pole():
    g = rc_lowpass()
    g.add(Component("R2", "R", ("out", "0"), -500.0))  # net conductance 1/R − 1/500 < 0
    poles = mna_matrices(g).poles()
    np.testing.assert_allclose(poles, [(1 / 500 - 1 / R) / C], rtol=1e-12)
    assert poles[0].real > 0


def test_subcircuit_opamp_follower_flattens():
    gain, r_out, r_load = 1e5, 50.0, 1e3
    g = CircuitGraph()
    g.define_subcircuit(
        SubcircuitDef(
            "opamp_rout",
            ("inp", "inn", "out"),
            [Component("E1", "E", ("mid", "0", "inp", "inn"), gain), Component("R1", "R", ("mid", "out"), r_out)],
        )
    )
    g.add_port(Port("in", "input"))
    g.add(Component("X1", "X", ("in", "out", "out"), subckt="opamp_rout"))
    g.add(Component("R1", "R", ("out", "0"), r_load))
    system = mna_matrices(g)
    assert system.unknowns == ["v(X1.mid)", "v(in)", "v(out)", "i(X1.E1)", "i(V:in)"]
    k = r_load / (r_load + r_out)
    np.testing.assert_allclose(system.ac([1e3], ["out"])[0, 0, 0], gain * k / (1 + gain * k), rtol=1e-12)


def test_integrator_with_floating_feedback_capacitor():
    gain = 1e4
    g = CircuitGraph()
    g.add_port(Port("in", "input"))
    g.add(Component("R1", "R", ("in", "inn"), R))
    g.add(Component("C1", "C", ("inn", "out"), C))
    g.add(Component("E1", "E", ("out", "0", "0", "inn"), gain))
    system = mna_matrices(g)
    np.testing.assert_allclose(system.poles(), [-1 / (R * C * (1 + gain))], rtol=1e-9)
    freqs = np.array([0.01, 1.0, 100.0])
    s = 2j * math.pi * freqs
    expected = -gain / (1 + s * R * C * (1 + gain))
    np.testing.assert_allclose(system.state_space(["out"]).frequency_response(freqs)[0, 0], expected, rtol=1e-9)


def test_capacitor_across_input_source_is_higher_index():
    g = rc_lowpass()
    g.add(Component("C2", "C", ("in", "0"), C))
    with pytest.raises(CircuitError, match=r"not index-1.*i\(V:in\)"):
        mna_matrices(g).state_space(["out"])


def test_net_joined_only_by_capacitors_is_reported():
    g = rc_lowpass()
    g.add(Component("C2", "C", ("x", "y"), C))
    with pytest.raises(CircuitError, match=r"cannot solve for v\(x\)"):
        mna_matrices(g).poles()


def test_unknown_input_net_is_rejected():
    with pytest.raises(CircuitError, match="input 'nowhere'"):
        mna_matrices(rc_lowpass(), inputs=["nowhere"])


def ammeter(r_sense: float, flip: bool = False, dc: float = 0.0) -> CircuitGraph:
    """u → R1 → net m → V1 (0 V ammeter) → ground; H1 puts r_sense·i(V1) on ``y``."""
    g = CircuitGraph("ammeter")
    g.add_port(Port("in", "input"))
    g.add(Component("R1", "R", ("in", "m"), R))
    g.add(Component("V1", "V", ("0", "m") if flip else ("m", "0"), dc))
    g.add(Component("H1", "H", ("y", "0"), r_sense, attrs={"control": "V1"}))
    return g


def test_ccvs_reads_ammeter_current_flowing_plus_to_minus():
    r_sense = 47.0
    system = mna_matrices(ammeter(r_sense))
    assert system.unknowns == ["v(in)", "v(m)", "v(y)", "i(V1)", "i(H1)", "i(V:in)"]
    # u/R enters V1 at n+ (m) and leaves at n− (ground): i(V1) = +u/R, so v(y) = r·u/R.
    np.testing.assert_allclose(system.ac([1.0, 1e5], ["y", "m"])[:, 0], [[r_sense / R] * 2, [0, 0]], atol=1e-15)
    flipped = mna_matrices(ammeter(r_sense, flip=True)).ac([1.0], ["y"])[0, 0, 0]
    np.testing.assert_allclose(flipped, -r_sense / R, rtol=1e-12)
    ss = system.state_space(["y"])
    assert ss.n_states == 0
    np.testing.assert_allclose(ss.D, [[r_sense / R]], rtol=1e-12)


def test_dc_value_of_a_voltage_source_is_a_small_signal_short():
    h0 = mna_matrices(ammeter(10.0)).ac([50.0], ["y"])
    np.testing.assert_allclose(mna_matrices(ammeter(10.0, dc=5.0)).ac([50.0], ["y"]), h0, rtol=0, atol=0)


def test_series_rlc_loop_driven_by_vcvs_and_sensed_by_ccvs():
    """E–L–C–R–V in one series loop (the force–voltage tie branch): the loop current is
    b·u/(sL + 1/(sC) + R); index-1 although the capacitor floats between two loop nets."""
    b, ind, cap, res = 0.7, 2e-3, 3e-6, 5.0
    g = CircuitGraph("series")
    g.add_port(Port("in", "input"))
    g.add(Component("E1", "E", ("a", "0", "in", "0"), b))  # rises by b·u from ground to a
    g.add(Component("L1", "L", ("a", "b"), ind))
    g.add(Component("C1", "C", ("b", "c"), cap))
    g.add(Component("R1", "R", ("c", "d"), res))
    g.add(Component("V1", "V", ("d", "0"), 0.0))
    g.add(Component("H1", "H", ("y", "0"), 1.0, attrs={"control": "V1"}))
    system = mna_matrices(g)
    freqs = np.geomspace(10, 1e5, 9)
    s = 2j * math.pi * freqs
    expected = b / (s * ind + 1 / (s * cap) + res)
    np.testing.assert_allclose(system.ac(freqs, ["y"])[0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(system.state_space(["y"]).frequency_response(freqs)[0, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(np.sort_complex(system.poles()), np.sort_complex(np.roots([ind, res, 1 / cap])),
                               rtol=1e-9)


def test_ccvs_in_a_subcircuit_reads_its_own_source():
    g = CircuitGraph()
    g.define_subcircuit(SubcircuitDef("meter", ("a", "b", "y"), [
        Component("V1", "V", ("a", "b"), 0.0),
        Component("H1", "H", ("y", "0"), 20.0, attrs={"control": "V1"}),
    ]))
    g.add_port(Port("in", "input"))
    g.add(Component("R1", "R", ("in", "m"), R))
    g.add(Component("X1", "X", ("m", "0", "out"), subckt="meter"))
    system = mna_matrices(g)
    assert "i(X1.V1)" in system.unknowns and "i(X1.H1)" in system.unknowns
    np.testing.assert_allclose(system.ac([1.0], ["out"])[0, 0, 0], 20.0 / R, rtol=1e-12)


def test_ccvs_reading_a_missing_source_is_rejected():
    g = ammeter(1.0)
    g.remove("V1")
    g.add(Component("R2", "R", ("m", "0"), R))
    with pytest.raises(CircuitError, match="H1: controlling source V1 is not a V source"):
        mna_matrices(g)


@pytest.mark.parametrize("flip", [False, True])
def test_inductors_in_series_through_an_untouched_net_are_one_inductor(flip):
    """A series chain (quantise's trimmed inductor) is an inductor cutset the state space
    could not hold; the analysis merges it, and every result equals the single inductor's."""
    m, k, c, b = 1e-3, 400.0, 0.02, 1.0
    single = resonator(m, k, c, b)
    chain = resonator(m, k, c, b)
    chain.remove("L1")
    chain.add(Component("L1", "L", ("n", "mid") if not flip else ("mid", "n"), 0.7 / k))
    chain.add(Component("L2", "L", ("mid", "0"), 0.3 / k))
    freqs = np.geomspace(10, 1e4, 40)
    a, s = mna_matrices(single), mna_matrices(chain)
    np.testing.assert_allclose(s.ac(freqs, ["n"]), a.ac(freqs, ["n"]), rtol=1e-12)
    ss_a, ss_s = a.state_space(["n"]), s.state_space(["n"])
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(ss_s.A)), np.sort_complex(np.linalg.eigvals(ss_a.A)),
                               rtol=1e-12)
    assert "v(mid)" not in s.unknowns
    assert {c.name for c in chain.components} >= {"L1", "L2"}  # the graph itself is untouched


def test_a_series_inductor_net_that_is_a_port_is_kept():
    g = resonator(1e-3, 400.0, 0.02, 1.0)
    g.remove("L1")
    g.add(Component("L1", "L", ("n", "mid"), 1e-3))
    g.add(Component("L2", "L", ("mid", "0"), 1e-3))
    g.add_port(Port("mid", "output", "y"))
    assert "v(mid)" in mna_matrices(g).unknowns
