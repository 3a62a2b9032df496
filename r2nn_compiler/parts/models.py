"""The catalogue's models as circuit-IR subcircuit definitions and device models, and as SPICE text.

:func:`definition` gives a part's :class:`~r2nn_compiler.circuit.SubcircuitDef` (an active part)
or :class:`~r2nn_compiler.circuit.devices.DeviceModel` (a diode or BJT card): what a compiled
deck's readout instantiates, written by the netlister like every other subcircuit.
:func:`render`/:func:`library` write the same definitions as ngspice text (the benches).

Pin orders: op-amp and comparator ``(inp inn out vdd vss)``, switch ``(a b ctl vdd vss)``,
reference ``(out vdd vss)``; diodes and BJTs are ``.model`` cards named after the entry.
Each subcircuit is named after its entry (``part.name``) and is self-contained.

Power bookkeeping, common to every active model: the quiescent current is a source from vdd
to vss; internal behavioural nodes hang off vss and carry no net pin current; output current
comes from vss through the output source and, when the output sources current, the same
current is drawn from vdd and returned to vss, so the load is powered from vdd (sourcing)
or returned to vss (sinking), never from ground. Every clamp is smooth (tanh or the
hyperbolic soft-max ``0.5*(x+sqrt(x*x+w*w))``) so ngspice sees continuous derivatives.

Output headroom is calibrated at ``NOMINAL_SUPPLY_V``: the output resistance is chosen so
that the stated load leaves the stated headroom at that supply.
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
_GAIN_CAP_F = 1e-9  # the op-amp's integrating capacitor; any value gives the same figures
_SMOOTH_V = 5e-3  # corner width of the output soft clamp
_MIRROR_EPS_A = 1e-12  # corner width of the sourced-current mirror (adds eps/2 to Iq)
#: Supply voltage (V) over which Iq fades in: Iq·tanh(V_supply/this), 1 to 1e-28 at 3.3 V, so an
#: unpowered part (supply at 0 V, or behind an open power switch) draws nothing.
_IQ_KNEE_V = 0.05
#: The gain node is held within this far (V) beyond each rail, by this conductance (S).
_GAIN_CLAMP_V = 0.2
_GAIN_CLAMP_S = 1e-3


def _g(value: float) -> str:
    """A number as SPICE text, 7 significant digits."""
    return f"{value:.7g}"


def _soft_max(x: str, w: float) -> str:
    """SPICE expression for a smooth max(x, 0) with corner width ``w``."""
    return f"(0.5*(({x})+sqrt(({x})*({x})+{_g(w * w)})))"


def _b(name: str, a: str, b: str, quantity: str, expr: str) -> Component:
    """A behavioural source from ``a`` to ``b`` setting ``quantity`` (V or I) to ``expr``."""
    return Component(name, "B", (a, b), behaviour=Behaviour(quantity, expr.replace(" ", "")))


def _rc(name: str, a: str, b: str, value: float) -> Component:
    return Component(name, name[0], (a, b), value)


def _output_stage(drive: str, h0: float, rout: float) -> list[Component]:
    """The rail-clamped output stage driven by the expression ``drive``.

    ``drive`` is a voltage above vss; the output source sits ``h0`` inside each rail at
    most, behind ``rout`` ohms, and the current it sources is mirrored from vdd.
    """
    top = "(V(vdd)-V(vss)-" + _g(h0) + ")"
    x = f"({drive})"
    clamp = (f"{_g(h0)}+{_soft_max(f'{x}-{_g(h0)}', _SMOOTH_V)}"
             f"-{_soft_max(f'{x}-{top}', _SMOOTH_V)}")
    sourced = f"(V(o)-V(out))/{_g(rout)}"
    return [_b("Bo", "o", "vss", "V", clamp), _rc("Ro", "o", "out", rout),
            _b("Bsupply", "vdd", "vss", "I", _soft_max(sourced, _MIRROR_EPS_A))]


def _quiescent(iq: float) -> Component:
    """The quiescent current vdd → vss: ``iq`` on any supply above ~0.2 V, fading to 0 (as a
    resistor of _IQ_KNEE_V/iq) when the supply is off, so a power-gated part draws nothing."""
    return _b("Bq", "vdd", "vss", "I", f"{_g(iq)}*tanh((V(vdd)-V(vss))/{_g(_IQ_KNEE_V)})")


def _supply_and_inputs(iq: float, ib: float) -> list[Component]:
    return [_quiescent(iq), _b("Bbp", "inp", "vss", "I", _g(ib)), _b("Bbn", "inn", "vss", "I", _g(ib)),
            _b("Bmid", "mid", "vss", "V", "0.5*(V(vdd)-V(vss))")]


def _gain_clamp() -> Component:
    """A conductance that holds the gain node ``g`` within _GAIN_CLAMP_V of the rails (soft).

    Without it the integrating node is unbounded: an operating point with the supply at 0 V
    winds it to A_OL times the input (kilovolts), and the part then sits at a rail for seconds
    after its supply comes up (docs/micropower.md). Its current returns to vss: no pin current.
    """
    over = _soft_max(f"V(g)-V(vdd)-{_g(_GAIN_CLAMP_V)}", _SMOOTH_V)
    under = _soft_max(f"V(vss)-{_g(_GAIN_CLAMP_V)}-V(g)", _SMOOTH_V)
    return _b("Bclamp", "g", "vss", "I", f"{_g(_GAIN_CLAMP_S)}*({over}-{under})")


_PINS = ("inp", "inn", "out", "vdd", "vss")


def opamp_definition(p: OpampPart) -> SubcircuitDef:
    """Single-pole op-amp: tanh-limited transconductance into R||C, then the output stage.

    GBW = gm/(2 pi C), DC gain = gm R, slew rate = Imax/C; the offset is added to the
    differential input. The gain node is clamped near the rails (:func:`_gain_clamp`). Output
    headroom ``p.swing_v`` at ``p.swing_load_ohm`` to mid-supply.
    """
    gm = 2 * math.pi * p.gbw_hz * _GAIN_CAP_F
    imax = p.slew_v_per_s * _GAIN_CAP_F
    h0 = p.swing_v / 10
    i_load = (NOMINAL_SUPPLY_V / 2 - p.swing_v) / p.swing_load_ohm
    vd = f"(V(inp)-V(inn)+{_g(p.offset_v)})"
    elements = [*_supply_and_inputs(p.iq_a, p.bias_a),
                _b("Bgm", "mid", "g", "I", f"{_g(imax)}*tanh({_g(gm / imax)}*{vd})"),
                _rc("Rg", "g", "mid", p.aol / gm), _rc("Cg", "g", "mid", _GAIN_CAP_F), _gain_clamp(),
                *_output_stage("V(g)-V(vss)", h0, (p.swing_v - h0) / i_load)]
    doc = (f"{p.part_class} behavioural macromodel: Iq {_g(p.iq_a)} A, GBW {_g(p.gbw_hz)} Hz; "
           f"source: {p.source.cite()}")
    return SubcircuitDef(p.name, _PINS, elements, doc)


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
    R C ln 2 = ``p.tpd_s``; the output crosses mid-supply when r crosses zero. The drive
    overshoots the rails two-fold so the soft clamp settles exactly at its limits.
    """
    feedback, vs = _hysteresis_loop(p.hysteresis_v)
    tau = p.tpd_s / math.log(2)
    h0 = p.swing_v / 10
    state = "(V(r)-V(vss))"
    vd = f"(V(inp)-V(inn)-{_g(p.offset_v)}+{_g(feedback)}*{state})"
    elements = [*_supply_and_inputs(p.iq_a, p.bias_a),
                _b("Bd", "d", "vss", "V", f"tanh({vd}/{_g(vs)})"),
                _rc("Rr", "d", "r", 1e6), _rc("Cr", "r", "vss", tau / 1e6),
                *_output_stage(f"(V(mid)-V(vss))*(1+2*{state})", h0, (p.swing_v - h0) / p.swing_load_a)]
    doc = (f"{p.part_class} behavioural macromodel: Iq {_g(p.iq_a)} A, tpd {_g(p.tpd_s)} s; "
           f"source: {p.source.cite()}")
    return SubcircuitDef(p.name, _PINS, elements, doc)


def switch_definition(p: SwitchPart) -> SubcircuitDef:
    """SPST switch: a conductance between a and b set smoothly by ctl against mid-supply."""
    g_off = 1 / p.roff_ohm
    g_on = 1 / p.ron_ohm - g_off
    closed = "0.5*(1+tanh((V(ctl)-0.5*(V(vdd)+V(vss)))/0.05))"
    elements = [_quiescent(p.iq_a), _b("Bsw", "a", "b", "I", f"V(a,b)*({_g(g_on)}*{closed}+{_g(g_off)})")]
    doc = f"{p.part_class} behavioural model: Ron {_g(p.ron_ohm)} ohm, Iq {_g(p.iq_a)} A; source: {p.source.cite()}"
    return SubcircuitDef(p.name, ("a", "b", "ctl", "vdd", "vss"), elements, doc)


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
