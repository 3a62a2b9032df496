"""Linear op-amp models for active realisations, as subcircuits with ports ``(inp, inn, out)``.

No supply pins: the models are linear (small-signal), so the supplies only matter for the
limits a linear model cannot express (output swing, input offset, supply current). Those stay
in :class:`OpampModel` as data for headroom checks and reports.

Defaults are the typical figures of a TL072 (TI datasheet SLOS080, ±15 V, 25 °C), the common
JFET-input audio op-amp:

=================  ===============  ==========================================================
knob               default          datasheet figure
=================  ===============  ==========================================================
``a0``             2e5 V/V          A_VD, large-signal differential gain, 200 V/mV typ
``gbw_hz``         3e6 Hz           B1, unity-gain bandwidth, 3 MHz typ
``r_out_ohm``      150 Ω            open-loop output resistance above the dominant pole (no
                                    datasheet figure; TI's TL072 PSpice macromodel has
                                    RO1 = 150 Ω in series with the output)
``swing_v``        13.5 V           V_OM, peak output swing, ±13.5 V typ at R_L ≥ 10 kΩ
``offset_v``       3e-3 V           V_IO, input offset voltage, 3 mV typ
``quiescent_a``    1.4e-3 A         I_CC per amplifier, 1.4 mA typ
``supply_v``       15 V             ±V_CC the figures above are given at
=================  ===============  ==========================================================

Two variants (``kind``):

``ideal``
    ``E out 0 inp inn 1e6``: a VCVS of gain :data:`IDEAL_GAIN`, no dynamics and no output
    resistance. None is needed for the MNA: the realisations here drive only resistors and
    inductors from the output, never a capacitor, so no capacitor/voltage-source loop (the
    index-1 caveat of :mod:`.mna`) can form. (The GIC of ``realise_inductors`` does drive a
    capacitor from an output, but that capacitor's far end reaches ground through a resistor,
    never through a source, so no such loop forms there either.)

``macro``
    A single-pole macromodel::

        G1 0 p inp inn gm          gm·(v(inp) − v(inn)) into the gain node p
        R1 p 0 a0/gm               DC gain gm·R1 = a0
        C1 p 0 gm/(2π·gbw_hz)      dominant pole 1/(2π R1 C1) = gbw_hz/a0 (15 Hz by default)
        E1 o 0 p 0 1               unity buffer
        R2 o out r_out_ohm         output resistance

    so A(s) = a0 / (1 + s·a0/(2π·gbw_hz)) and |A| = 1 at ``gbw_hz``. ``gm`` is
    :data:`MACRO_GM_S`; any value gives the same A(s).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..errors import CompileError, Location
from .graph import Component, SubcircuitDef

#: Op-amp model kinds, as ``CompileOptions.opamp`` names them.
KINDS = ("macro", "ideal")

#: Open-loop gain (V/V) of the ``ideal`` variant.
IDEAL_GAIN = 1e6

#: Input-stage transconductance (S) of the macromodel: 1 mS puts the compensation capacitor at
#: tens of picofarads (53 pF by default), the size of a real op-amp's Miller capacitor, and the
#: gain node at the output's voltage level.
MACRO_GM_S = 1e-3

#: Port order of every op-amp subcircuit.
PORTS = ("inp", "inn", "out")


@dataclass(frozen=True)
class OpampModel:
    """One op-amp type: ``kind`` ("macro" or "ideal") and its knobs (SI units; see the module
    docstring for the datasheet figure behind each default). ``swing_v``, ``offset_v``,
    ``quiescent_a`` and ``supply_v`` are data for checks and reports: a linear model ignores
    them. The ``ideal`` kind uses :data:`IDEAL_GAIN` and ignores ``a0``, ``gbw_hz`` and
    ``r_out_ohm``.

    Raises CompileError for an unknown kind or a knob that is not a positive finite number.
    """

    kind: str = "macro"
    part: str = "TL072"
    a0: float = 2e5
    gbw_hz: float = 3e6
    r_out_ohm: float = 150.0
    swing_v: float = 13.5
    offset_v: float = 3e-3
    quiescent_a: float = 1.4e-3
    supply_v: float = 15.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise CompileError(f"unknown op-amp model {self.kind!r}: expected one of {', '.join(KINDS)}",
                               Location(parameter="opamp"))
        for knob in ("a0", "gbw_hz", "r_out_ohm", "swing_v", "offset_v", "quiescent_a", "supply_v"):
            value = getattr(self, knob)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise CompileError(f"op-amp {knob} must be a positive number, got {value!r}",
                                   Location(parameter=f"opamp_params.{knob}"))
        if self.swing_v > self.supply_v:
            raise CompileError(f"op-amp swing_v {self.swing_v:g} V exceeds its supply_v {self.supply_v:g} V: "
                               "an output cannot swing past its rail", Location(parameter="opamp_params.swing_v"))

    @property
    def dominant_pole_hz(self) -> float:
        """The macromodel's open-loop pole, ``gbw_hz / a0`` (Hz)."""
        return self.gbw_hz / self.a0

    @property
    def static_power_w(self) -> float:
        """Power one amplifier draws with no signal (W): ``quiescent_a`` across the dual rails,
        2·``supply_v``."""
        return self.quiescent_a * 2 * self.supply_v

    @property
    def subckt_name(self) -> str:
        return f"opamp_{self.kind}"

    def describe(self) -> str:
        """One line for logs: the part and the knobs the linear model uses."""
        if self.kind == "ideal":
            return f"ideal op-amp (VCVS gain {IDEAL_GAIN:g})"
        return (f"{self.part}-like macromodel (A0 {self.a0:g}, GBW {self.gbw_hz:g} Hz, "
                f"Rout {self.r_out_ohm:g} ohm)")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: Knobs ``CompileOptions.opamp_params`` may set.
KNOBS = tuple(f.name for f in dataclasses.fields(OpampModel) if f.name != "kind")


def from_options(options) -> OpampModel:
    """The model ``options.opamp`` names with ``options.opamp_params`` applied over the TL072
    defaults (``options`` is a ``CompileOptions``, read by duck typing).

    A ``supply_v`` without a ``swing_v`` scales the swing with it (90 % of the rail, like the
    TL072's 13.5 V of 15 V), so headroom checks use a swing the supply can give.

    Raises CompileError for an unknown kind or knob, or a knob value that is not positive.
    """
    unknown = sorted(set(options.opamp_params) - set(KNOBS))
    if unknown:
        raise CompileError(f"unknown op-amp knob {unknown[0]!r}; known: {', '.join(KNOBS)}",
                           Location(parameter=f"opamp_params.{unknown[0]}"))
    params = dict(options.opamp_params)
    if "supply_v" in params and "swing_v" not in params:
        # The output swings as close to the rail as the default's (13.5 V of 15 V), not further.
        params["swing_v"] = float(params["supply_v"]) * OpampModel.swing_v / OpampModel.supply_v
    return OpampModel(kind=options.opamp, **params)


def subcircuit(model: OpampModel) -> SubcircuitDef:
    """The model as a :class:`SubcircuitDef` named ``opamp_<kind>`` with ports (inp, inn, out)."""
    if model.kind == "ideal":
        parts = [Component("E1", "E", ("out", "0", "inp", "inn"), IDEAL_GAIN)]
        return SubcircuitDef(model.subckt_name, PORTS, parts, doc=model.describe())
    r_gain = model.a0 / MACRO_GM_S
    parts = [
        Component("G1", "G", ("0", "p", "inp", "inn"), MACRO_GM_S),
        Component("R1", "R", ("p", "0"), r_gain),
        Component("C1", "C", ("p", "0"), 1.0 / (2 * math.pi * model.dominant_pole_hz * r_gain)),
        Component("E1", "E", ("o", "0", "p", "0"), 1.0),
        Component("R2", "R", ("o", "out"), model.r_out_ohm),
    ]
    return SubcircuitDef(model.subckt_name, PORTS, parts, doc=model.describe())
