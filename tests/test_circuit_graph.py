"""CircuitGraph: construction, surgery, ordering, checks and subcircuit flattening."""

import pytest

from r2nn_compiler.circuit import CircuitGraph, Component, Port, SubcircuitDef, flatten
from r2nn_compiler.errors import CircuitError

OPAMP = SubcircuitDef("opamp_ideal", ("inp", "inn", "out"), [Component("E1", "E", ("out", "0", "inp", "inn"), 1e6)])


def rc_lowpass() -> CircuitGraph:
    g = CircuitGraph("rc")
    g.add_port(Port("in", "input", "u"))
    g.add(Component("R1", "R", ("in", "out"), 1e3, origin="damping"))
    g.add(Component("C1", "C", ("out", "0"), 1e-6, origin="mass"))
    return g


def test_add_keeps_insertion_order_and_edges():
    g = rc_lowpass()
    assert [c.name for c in g.components] == ["R1", "C1"]
    assert g.graph.get_edge_data("in", "out")["R1"]["component"] is g.component("R1")
    assert g.component("C1").unit == "F"


def test_duplicate_designator_is_rejected():
    g = rc_lowpass()
    with pytest.raises(CircuitError, match="duplicate designator R1"):
        g.add(Component("R1", "R", ("out", "0"), 1.0))


def test_wrong_node_count_is_rejected():
    with pytest.raises(CircuitError, match="G7: kind G takes 4 nodes"):
        CircuitGraph().add(Component("G7", "G", ("a", "0"), 1.0))


def test_designator_letter_must_match_kind():
    with pytest.raises(CircuitError, match="kind letter"):
        CircuitGraph().add(Component("C1", "R", ("a", "0"), 1.0))


def test_nets_are_sorted_with_ground_first():
    g = rc_lowpass()
    g.add(Component("G1", "G", ("0", "b", "in", "0"), 1e-3))
    assert g.nets() == ["0", "b", "in", "out"]


def test_components_at_includes_control_nets():
    g = rc_lowpass()
    g.add(Component("G1", "G", ("0", "b", "out", "0"), 1e-3))
    assert [c.name for c in g.components_at("out")] == ["R1", "C1", "G1"]
    assert g.neighbors("out") == ["0", "in"]


def test_replace_splices_in_place():
    g = rc_lowpass()
    g.replace("R1", Component("R2", "R", ("in", "mid"), 500.0), Component("R3", "R", ("mid", "out"), 500.0))
    assert [c.name for c in g.components] == ["R2", "R3", "C1"]
    assert g.neighbors("mid") == ["in", "out"]


def test_replace_drops_nets_no_longer_used():
    g = rc_lowpass()
    g.add(Component("R2", "R", ("out", "x"), 1.0))
    g.replace("R2", Component("R3", "R", ("out", "0"), 1.0))
    assert g.nets() == ["0", "in", "out"]


def test_replace_is_all_or_nothing():
    g = rc_lowpass()
    with pytest.raises(CircuitError, match="duplicate designator C1"):
        g.replace("R1", Component("R2", "R", ("in", "out"), 1.0), Component("C1", "C", ("in", "0"), 1.0))
    assert [c.name for c in g.components] == ["R1", "C1"]
    assert g.graph.has_edge("in", "out", key="R1")


def test_remove_keeps_port_nets():
    g = rc_lowpass()
    g.remove("R1")
    assert g.nets() == ["0", "in", "out"]
    assert g.graph.number_of_edges() == 1


def test_next_designator_follows_largest_number():
    g = rc_lowpass()
    g.add(Component("R12", "R", ("out", "0"), 1.0))
    assert g.next_designator("r") == "R13"
    assert g.next_designator("L") == "L1"


def test_counts_cover_every_kind():
    assert rc_lowpass().counts() == {"R": 1, "L": 0, "C": 1, "G": 0, "E": 0, "V": 0, "H": 0, "X": 0}


def test_copy_is_deep():
    g = rc_lowpass()
    h = g.copy()
    h.remove("R1")
    h.component("C1").attrs["series"] = "E24"
    assert "R1" in g and g.component("C1").attrs == {}


def test_check_accepts_a_connected_circuit():
    rc_lowpass().check()


def test_check_names_a_floating_net():
    g = rc_lowpass()
    g.add(Component("R2", "R", ("x", "y"), 1.0))
    with pytest.raises(CircuitError, match=r"x \(touches R2\); y \(touches R2\)"):
        g.check()


def test_check_treats_control_inputs_as_open():
    g = rc_lowpass()
    g.add(Component("G1", "G", ("out", "0", "sense", "0"), 1e-3))
    with pytest.raises(CircuitError, match=r"sense \(touches G1\)"):
        g.check()


def test_check_rejects_undefined_subcircuit():
    g = rc_lowpass()
    g.add(Component("X1", "X", ("in", "out", "out"), subckt="opamp_ideal"))
    with pytest.raises(CircuitError, match="X1: undefined subcircuit opamp_ideal"):
        g.check()


def test_check_rejects_wrong_instance_port_count():
    g = rc_lowpass()
    g.define_subcircuit(OPAMP)
    g.add(Component("X1", "X", ("in", "out"), subckt="opamp_ideal"))
    with pytest.raises(CircuitError, match="has 3 ports, instance gives 2"):
        g.check()


def test_flatten_prefixes_instance_names_and_local_nets():
    g = CircuitGraph()
    g.define_subcircuit(
        SubcircuitDef("buf", ("a", "y"), [Component("E1", "E", ("mid", "0", "a", "0"), 2.0), Component("R1", "R", ("mid", "y"), 10.0)])
    )
    g.add(Component("X1", "X", ("in", "out"), subckt="buf"))
    assert [(c.name, c.nodes) for c in flatten(g)] == [
        ("X1.E1", ("X1.mid", "0", "in", "0")),
        ("X1.R1", ("X1.mid", "out")),
    ]


def ammeter_readout() -> CircuitGraph:
    """rc_lowpass with a 0 V sense source in the resistor's path, read by H1 onto ``y``."""
    g = CircuitGraph("sense")
    g.add_port(Port("in", "input", "u"))
    g.add(Component("R1", "R", ("in", "mid"), 1e3))
    g.add(Component("V1", "V", ("mid", "out"), 0.0))
    g.add(Component("C1", "C", ("out", "0"), 1e-6))
    g.add(Component("H1", "H", ("y", "0"), 50.0, attrs={"control": "V1"}))
    return g


def test_sources_have_units_and_two_nodes():
    g = ammeter_readout()
    assert (g.component("V1").unit, g.component("H1").unit) == ("V", "ohm")
    assert g.component("H1").control == "V1" and g.component("V1").control is None
    with pytest.raises(CircuitError, match="V2: kind V takes 2 nodes"):
        g.add(Component("V2", "V", ("a", "b", "c"), 0.0))
    g.check()


@pytest.mark.parametrize("attrs", [{}, {"control": "R1"}, {"control": ""}, {"control": 3}])
def test_ccvs_must_name_a_voltage_source(attrs):
    with pytest.raises(CircuitError, match="H2: a CCVS must name its controlling V source"):
        ammeter_readout().add(Component("H2", "H", ("z", "0"), 1.0, attrs=attrs))


def test_check_rejects_a_ccvs_reading_a_missing_source():
    g = ammeter_readout()
    g.add(Component("H2", "H", ("z", "0"), 1.0, attrs={"control": "V9"}))
    with pytest.raises(CircuitError, match="H2: controlling source V9 is not a V source in the circuit"):
        g.check()
    g.remove("H2")
    g.remove("V1")  # H1 now reads nothing
    with pytest.raises(CircuitError, match="H1: controlling source V1"):
        g.check()


def test_subcircuit_ccvs_must_read_a_source_of_its_definition():
    defn = SubcircuitDef("meter", ("a", "b", "y"), [Component("H1", "H", ("y", "0"), 1.0, attrs={"control": "V1"})])
    with pytest.raises(CircuitError, match="H1: controlling source V1 is not a V source in subcircuit meter"):
        CircuitGraph().define_subcircuit(defn)


def test_flatten_prefixes_ccvs_control_like_designators():
    g = CircuitGraph()
    g.define_subcircuit(SubcircuitDef("meter", ("a", "b", "y"), [
        Component("V1", "V", ("a", "b"), 0.0),
        Component("H1", "H", ("y", "0"), 2.0, attrs={"control": "V1"}),
    ]))
    g.add(Component("X1", "X", ("p", "q", "out"), subckt="meter"))
    flat = flatten(g)
    assert [(c.name, c.nodes, c.control) for c in flat] == [
        ("X1.V1", ("p", "q"), None),
        ("X1.H1", ("out", "0"), "X1.V1"),
    ]
    assert g.subcircuits["meter"].components[1].control == "V1"  # the definition is untouched
