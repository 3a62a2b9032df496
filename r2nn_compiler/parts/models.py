"""The catalogue's models as circuit-IR subcircuit definitions and device models, and as SPICE text.

:func:`definition` gives a part's :class:`~r2nn_compiler.circuit.SubcircuitDef` (an active part)
or :class:`~r2nn_compiler.circuit.devices.DeviceModel` (a diode or BJT card): what a compiled
deck's readout instantiates, written by the netlister like every other subcircuit.
:func:`render`/:func:`library` write the same definitions as ngspice text (the benches).

Pin orders: op-amp and comparator ``(inp inn out vdd vss)``, switch ``(a b ctl vdd vss)``,
reference ``(out vdd vss)``; diodes and BJTs are ``.model`` cards named after the entry.
Each subcircuit is named after its entry (``part.name``) and is self-contained.

Power bookkeeping, common to every active model: the quiescent current is a reverse-biased
diode from vdd to vss (its saturation current is the Iq); internal nodes hang off vss, or off
ground where a current leaves ground and returns to it alone (the differential inputs formed by a
VCCS into 1 ohm), and carry no net pin current; output current comes from vss through
the output source and, when the output sources current, the same current is drawn from vdd
and returned to vss (a diode-steered mirror), so the load is powered from vdd (sourcing) or
returned to vss (sinking), never from ground.

Cost: ngspice evaluates a B-source's expression and one derivative tree per variable at every
Newton iteration, 5–40 times a diode's cost (docs/micropower.md, "Simulation cost"). So the
models are linear elements, diodes and switches, with one small B-source (a tanh of one
variable) where a smooth limit is the figure itself (an op-amp's slew, a comparator's decision);
every clamp is a diode (an exponential corner, continuous derivatives).

Output headroom is calibrated at ``NOMINAL_SUPPLY_V``: the output resistance is chosen so
that the stated load leaves the stated headroom at that supply, and the rail clamps sit at
their stated headroom for the current that drives them at that supply.
"""

from __future__ import annotations

import math

from r2nn_compiler.circuit import Component, SubcircuitDef
from r2nn_compiler.circuit.devices import Behaviour, DeviceModel, Waveform
from r2nn_compiler.parts.catalogue import (
    CATALOGUE, BjtPart, ComparatorPart, DiodePart, OpampPart, Part, ReferencePart,
    SwitchPart,
)

NOMINAL_SUPPLY_V = 3.3
_TNOM_K = 300.15  # ngspice's default TNOM (27 degC), where the diode cards are evaluated
_BOLTZMANN_EV = 8.617333262e-5
_VT = _BOLTZMANN_EV * _TNOM_K
_GAIN_CAP_F = 1e-9  # the op-amp's integrating capacitor; any value gives the same figures
#: The gain node is held about this far (V) beyond each rail (at the gm stage's full current).
_GAIN_CLAMP_V = 0.2
#: Output stage: the clamp's drive resistance (ohm); its diodes hold the inner node this far (V)
#: beyond each rail, with this emission coefficient (corner N·Vt = 5.2 mV); the output buffer's
#: gain about mid-supply (below 1) brings that to the stated headroom inside the rails.
_CLAMP_OHM = 1e6
_CLAMP_V = 0.05
_CLAMP_N = 0.2
#: Saturation current (A) of the mirror's steering diodes (the mirror's error is of this order)
#: and its sense resistor (ohm).
_STEER_IS = 1e-15
_SENSE_OHM = 1.0

def _g(value: float) -> str:
    """A number as SPICE text, 7 significant digits."""
    return f"{value:.7g}"


def _b(name: str, a: str, b: str, quantity: str, expr: str) -> Component:
    """A behavioural source from ``a`` to ``b`` setting ``quantity`` (V or I) to ``expr``."""
    return Component(name, "B", (a, b), behaviour=Behaviour(quantity, expr.replace(" ", "")))


def _rc(name: str, a: str, b: str, value: float) -> Component:
    return Component(name, name[0], (a, b), value)


def _e(name: str, out: tuple[str, str], ctrl: tuple[str, str], gain: float) -> Component:
    return Component(name, "E", (*out, *ctrl), gain)


def _diode(name: str, anode: str, cathode: str, model: str) -> Component:
    return Component(name, "D", (anode, cathode), model=model)


def _diode_volts(current_a: float, i_s: float, n: float) -> float:
    """Forward voltage (V) of an ideal diode (Is, N) at ``current_a``, at 27 degC."""
    return n * _VT * math.log(current_a / i_s + 1)


def _quiescent(iq: float) -> tuple[Component, DeviceModel]:
    """The quiescent current vdd → vss: a reverse-biased diode whose saturation current is
    ``iq`` (no temperature dependence): Iq·(1 − exp(−V/Vt)), the stated Iq on any supply
    above ~0.2 V and nothing when the supply is off, so a power-gated part draws nothing."""
    card = DeviceModel("dq", "D", (("is", iq), ("n", 1.0), ("xti", 0.0), ("eg", 0.0)))
    return _diode("Dq", "vss", "vdd", "dq"), card


def _clamps(node: str, tag: str, current_a: float, beyond_v: float, n: float) -> tuple[list[Component], DeviceModel]:
    """Two diodes that hold ``node`` ``beyond_v`` beyond each rail when ``current_a`` drives it
    there (their card ``d<tag>``: Is from that point, emission coefficient ``n``): node → ``h``
    (the rail copy, :func:`_common`) and vss → node, so no clamp current reaches the vdd pin. Both
    reverse-biased in between, their saturation currents cancel."""
    i_s = current_a / math.expm1(beyond_v / (n * _VT))
    card = DeviceModel(f"d{tag}", "D", (("is", i_s), ("n", n)))
    return [_diode(f"Du{tag}", node, "h", card.name), _diode(f"Dl{tag}", "vss", node, card.name)], card


def _buffer_gain(h0: float) -> float:
    """The output buffer's gain about mid-supply: the clamped inner node (_CLAMP_V beyond a
    rail) to ``h0`` inside it at the nominal supply."""
    return (NOMINAL_SUPPLY_V / 2 - h0) / (NOMINAL_SUPPLY_V / 2 + _CLAMP_V)


def _output_stage(ref: str, drive_a: float, h0: float, rout: float) -> tuple[list[Component], DeviceModel]:
    """The rail-clamped output stage from node ``o1``, which the caller drives (a current into
    ``o1`` across :data:`_CLAMP_OHM` to ``ref``).

    Diodes hold ``o1`` :data:`_CLAMP_V` beyond each rail when ``drive_a`` flows into them; a
    buffer of gain (mid − h0)/(mid + _CLAMP_V) about mid-supply repeats ``o1`` behind ``rout``
    ohms, so the clamped output sits ``h0`` inside the rails at the nominal supply. The output
    current (read across ``rout``) is steered by two diodes, and its sourced half, sensed on
    :data:`_SENSE_OHM`, drawn from vdd to vss by a VCCS: the load is powered from vdd, a sunk
    current returns to vss.
    """
    clamps, card = _clamps("o1", "out", drive_a, _CLAMP_V, _CLAMP_N)
    elements = [_rc("Rc", "o1", ref, _CLAMP_OHM), *clamps, _e("Eo", ("o", "mid"), ("o1", "mid"), _buffer_gain(h0)), _rc("Ro", "o", "out", rout),
                Component("Gr", "G", ("vss", "s1", "o", "out"), 1 / rout), _rc("Rs", "s1", "s2", _SENSE_OHM),
                _diode("Dp", "s2", "vss", "dsteer"), _diode("Dn", "vss", "s1", "dsteer"),
                Component("Gsup", "G", ("vdd", "vss", "s1", "s2"), 1 / _SENSE_OHM)]
    return elements, card


def _common(iq: float, ib: float) -> tuple[list[Component], list[DeviceModel]]:
    """Quiescent diode, input bias currents, mid-supply and the rail copy ``h``."""
    quiescent, card = _quiescent(iq)
    steer = DeviceModel("dsteer", "D", (("is", _STEER_IS), ("n", 1.0)))
    return ([quiescent, _b("Bbp", "inp", "vss", "I", _g(ib)), _b("Bbn", "inn", "vss", "I", _g(ib)),
             _e("Emid", ("mid", "vss"), ("vdd", "vss"), 0.5), _e("Eh", ("h", "vss"), ("vdd", "vss"), 1.0)],
            [card, steer])


_PINS = ("inp", "inn", "out", "vdd", "vss")


def opamp_definition(p: OpampPart) -> SubcircuitDef:
    """Single-pole op-amp: tanh-limited transconductance into R||C, then the output stage.

    GBW = gm k/(2 pi C), DC gain = gm R k, slew rate = Imax k/C, k the output buffer's gain
    (:func:`_buffer_gain`, 0.97: gm and Imax are scaled by 1/k); the offset is added to the
    differential input (formed by a VCCS into 1 ohm to ground, no pin current, so the tanh
    reads one variable). The gain node is clamped _GAIN_CLAMP_V beyond the rails at Imax
    (unbounded, an operating point with the supply off winds it to kilovolts:
    docs/micropower.md); the output stage (:func:`_output_stage`) follows it. Output headroom
    ``p.swing_v`` at ``p.swing_load_ohm`` to mid-supply.
    """
    h0 = p.swing_v / 10
    k = _buffer_gain(h0)
    gm = 2 * math.pi * p.gbw_hz * _GAIN_CAP_F / k
    imax = p.slew_v_per_s * _GAIN_CAP_F / k
    i_load = (NOMINAL_SUPPLY_V / 2 - p.swing_v) / p.swing_load_ohm
    rg = p.aol / (gm * k)
    common, cards = _common(p.iq_a, p.bias_a)
    gate, gate_card = _clamps("g", "gain", imax - (NOMINAL_SUPPLY_V / 2 + _GAIN_CLAMP_V) / rg, _GAIN_CLAMP_V, 1.0)
    out, out_card = _output_stage("vss", (_GAIN_CLAMP_V - _CLAMP_V) / _CLAMP_OHM, h0, (p.swing_v - h0) / i_load)
    elements = [*common, Component("Gd", "G", ("0", "e", "inp", "inn"), 1.0), _rc("Rd", "e", "0", 1.0),
                _b("Bgm", "mid", "g", "I", f"{_g(imax)}*tanh({_g(gm / imax)}*(V(e)+{_g(p.offset_v)}))"),
                _rc("Rg", "g", "mid", rg), _rc("Cg", "g", "mid", _GAIN_CAP_F), *gate,
                Component("Gc", "G", ("vss", "o1", "g", "vss"), 1 / _CLAMP_OHM), *out]
    doc = (f"{p.part_class} behavioural macromodel: Iq {_g(p.iq_a)} A, GBW {_g(p.gbw_hz)} Hz; "
           f"source: {p.source.cite()}")
    return SubcircuitDef(p.name, _PINS, elements, doc, (*cards, gate_card, out_card))


def _hysteresis_loop(band_v: float, q: float = 0.01) -> tuple[float, float]:
    """Feedback voltage and decision width for a DC hysteresis band of ``band_v``.

    The state s = tanh((x + f s)/vs) with vs = q f folds at x = -f (sqrt(1-q) - q
    atanh(sqrt(1-q))), not at -f; f is scaled up so that the fold sits at -band_v/2.
    """
    s = math.sqrt(1 - q)
    feedback = band_v / 2 / (s - q * math.atanh(s))
    return feedback, q * feedback


def comparator_definition(p: ComparatorPart) -> SubcircuitDef:
    """Comparator: tanh decision with hysteresis feedback, one RC pole, output stage.

    The state node r (in [-1, 1] above vss) follows the decision through R C with
    R C ln 2 = ``p.tpd_s`` (a Norton current into R || C); the output stage's inner node is
    mid-supply + 2·NOMINAL_SUPPLY_V·r, so the output crosses mid-supply when r crosses zero and
    is clamped ``h0`` inside the rails at r = ±1. The decision's argument inp − inn + f·r is
    summed by VCCSs into 1 ohm to ground (no pin current), so the tanh reads one variable.
    """
    feedback, vs = _hysteresis_loop(p.hysteresis_v)
    tau = p.tpd_s / math.log(2)
    h0 = p.swing_v / 10
    swing = 2 * NOMINAL_SUPPLY_V
    common, cards = _common(p.iq_a, p.bias_a)
    drive_a = (NOMINAL_SUPPLY_V / 2 + swing - (NOMINAL_SUPPLY_V + _CLAMP_V)) / _CLAMP_OHM
    out, out_card = _output_stage("mid", drive_a, h0, (p.swing_v - h0) / p.swing_load_a)
    elements = [*common, Component("Ge", "G", ("0", "e", "inp", "inn"), 1.0),
                Component("Gx", "G", ("0", "e", "r", "vss"), feedback), _rc("Re", "e", "0", 1.0),
                _b("Bd", "vss", "r", "I", f"1e-06*tanh((V(e)-{_g(p.offset_v)})/{_g(vs)})"),
                _rc("Rr", "r", "vss", 1e6), _rc("Cr", "r", "vss", tau / 1e6),
                Component("Gc", "G", ("mid", "o1", "r", "vss"), swing / _CLAMP_OHM), *out]
    doc = (f"{p.part_class} behavioural macromodel: Iq {_g(p.iq_a)} A, tpd {_g(p.tpd_s)} s; "
           f"source: {p.source.cite()}")
    return SubcircuitDef(p.name, _PINS, elements, doc, (*cards, out_card))


def switch_definition(p: SwitchPart) -> SubcircuitDef:
    """SPST switch: an ngspice switch (Ron, Roff) between a and b, closed while ctl is above
    mid-supply (abrupt: the control ports are timer lines that cross mid-supply once per edge)."""
    quiescent, card = _quiescent(p.iq_a)
    sw = DeviceModel("sw", "SW", (("vt", 0.0), ("vh", 0.0), ("ron", p.ron_ohm), ("roff", p.roff_ohm)))
    elements = [quiescent, _e("Emid", ("mid", "vss"), ("vdd", "vss"), 0.5),
                Component("S1", "S", ("a", "b", "ctl", "mid"), model="sw")]
    doc = f"{p.part_class} behavioural model: Ron {_g(p.ron_ohm)} ohm, Iq {_g(p.iq_a)} A; source: {p.source.cite()}"
    return SubcircuitDef(p.name, ("a", "b", "ctl", "vdd", "vss"), elements, doc, (card, sw))


def reference_definition(p: ReferencePart) -> SubcircuitDef:
    """Shunt reference: bias current from vdd into out, shunt current mirrored from a diode.

    The diode's current is copied (a B-source reading its ammeter) from out to vss; its drive is
    a gain of 1e4 on V(out) - Vx, which gives the shunt a dynamic impedance of about
    nVt/(I 1e4). The bias fades smoothly when vdd comes within 0.15 V of out.
    """
    gain = 1e4
    i_s = 1e-12
    vd = _BOLTZMANN_EV * _TNOM_K * math.log(p.iq_a / i_s + 1)
    elements = [
        _b("Bbias", "vdd", "out", "I", f"{_g(p.iq_a)}*0.5*(1+tanh((V(vdd)-V(out)-0.15)/0.025))"),
        Component("Vx", "V", ("x", "vss"), p.vref_v - vd / gain, waveform=Waveform()),
        Component("Es", "E", ("s", "vss", "out", "x"), gain),
        Component("Vsense", "V", ("s", "s2"), 0.0, waveform=Waveform()),
        Component("Dshunt", "D", ("s2", "vss"), model="dshunt"),
        _b("Bshunt", "out", "vss", "I", "i(Vsense)"),
    ]
    doc = f"{p.part_class} behavioural model: {_g(p.vref_v)} V at {_g(p.iq_a)} A; source: {p.source.cite()}"
    return SubcircuitDef(p.name, ("out", "vdd", "vss"), elements, doc,
                         (DeviceModel("dshunt", "D", (("is", i_s), ("n", 1.0))),))


def device_model(p: DiodePart | BjtPart) -> DeviceModel:
    """The ``.model`` card of a diode or BJT entry (parameter names in lower case)."""
    kind = "D" if isinstance(p, DiodePart) else p.polarity
    return DeviceModel(p.name, kind, tuple((k.lower(), float(v)) for k, v in p.params))


def definition(p: Part) -> SubcircuitDef | DeviceModel:
    """The circuit-IR form of one catalogue entry: a subcircuit definition or a device model."""
    if isinstance(p, OpampPart):
        return opamp_definition(p)
    if isinstance(p, ComparatorPart):
        return comparator_definition(p)
    if isinstance(p, SwitchPart):
        return switch_definition(p)
    if isinstance(p, ReferencePart):
        return reference_definition(p)
    return device_model(p)


def render(p: Part) -> str:
    """SPICE text for one catalogue entry (a subcircuit or a model card), as the netlister
    writes its :func:`definition`."""
    from r2nn_compiler.backend.ngspice import NgspiceNetlister

    netlister = NgspiceNetlister()
    defn = definition(p)
    if isinstance(defn, DeviceModel):
        return f"* {p.part_class}; source: {p.source.cite()}\n{netlister.device_model(defn)}\n"
    return "\n".join(netlister.subcircuit(defn)) + "\n"


def library(parts: tuple[Part, ...] = CATALOGUE) -> str:
    """All of ``parts`` as one ``.include``-able library text."""
    header = "* r2nn_compiler micropower part library (behavioural; see docs/parts.md)\n"
    return header + "\n".join(render(p) for p in parts)
