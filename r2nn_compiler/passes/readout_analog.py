"""Pass ``readout_analog``: on-circuit readout: output buffers, detectors, window integrators, WTA.

Matches: ``options.readout`` is ``analog`` (parts) or ``behavioural`` (B-sources). Precondition:
a mapped graph after every pass that changes the linear network, before ``check_reference``.
Each output's readout element becomes a buffer of gain c·w_j (weights as gains; op-amp stages
of E96 resistors, or an ideal VCVS in exact flows), port gains follow; decision ports
``dec<j>`` with their loads follow the outputs; the non-linear readout (mean-square detectors,
window integrators, winner-take-all) is one subcircuit instance in ``graph.readout``, its
figures in ``graph.meta["readout"]``. A linear readout layer goes to
:mod:`.common.readout_linear`. Circuits and measurements: docs/passes.md.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import eseries
from ..circuit import GROUND, CircuitGraph, Component, SubcircuitDef
from ..circuit.devices import DeviceModel
from ..circuit.opamp import MACRO_GM_S, OpampModel, from_options, subcircuit
from ..circuit.annotations import PartInfo
from ..errors import CompileError, Location
from ..model.ir import RMS_CONTINUOUS
from ..reference import default_grid, frequency_response
from .base import ELEMENT, MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common import readout_linear, readout_micropower
from .common.buffers import feedback_network, gain_pair
from ..energy import count_opamps
from .common.readout import (BEHAVIOURAL_HIGH_V, C_BEHAVIOURAL, DECISION_LOAD_OHM, EDGE_S, SUPPLY_NETS,
                             add_decision_ports, attach_readout, behavioural_integrator, behavioural_wta,
                             device, instance, law, number, part, part_counts, pwl, settling_s)

LEVELS = {"analog": "parts", "analog-tl072": "parts", "analog-micropower": "parts", "behavioural": "behavioural"}

#: Peak buffer output (V) for a unit-amplitude sine at the worst frequency, every input in phase.
FULL_SCALE_V = 10.0
#: ... or this fraction of the op-amp's swing, when that is lower.
FULL_SCALE_FRACTION = 0.75
#: TL072 input resistance r_i (ohm, datasheet typical): the buffer's load on the resonator net.
INPUT_RESISTANCE_OHM = 1e12
#: Smallest op-amp swing (V) the parts-level readout is designed for: its signals reach FULL_SCALE_V.
MIN_SWING_V = 12.0
#: Largest gain of one buffer stage: a TL072 loop then keeps 100 kHz of bandwidth.
STAGE_GAIN_MAX = 30.0
#: Isolation resistor (ohm, E96) between a buffer op-amp and its port, inside the feedback loop.
ISOLATION_OHM = 49.9
#: Series resistor from the comparator to the decision port (ohm, E96): high ≈ swing·10/26.9.
DECISION_SERIES_OHM = 16.9e3
#: Integrator output (V) for a sine INTEGRATOR_HEADROOM_DB below the buffer full scale.
INTEGRATOR_FULL_SCALE_V = 10.0
INTEGRATOR_HEADROOM_DB = 20.0
# Detector parts (ohm, F, V): see docs/passes.md (readout_analog). All resistors are E96 values.
R_RECT = 10.0e3
R_SUM_X = 20.0e3
R_SUM_Y = 10.0e3
R_LOG = 20.0e3
R_EMITTER = 4.99e3
C_COMP = 2.2e-12
R_DOUBLE = 10.0e3
V_REF = 2.5
R_REF = 49.9e3
R_MAX = 100e3
#: Between mx and each max follower's inverting input: the loser's diode closes its loop there.
R_MAX_SENSE = 10.0e3
#: Standard models with their public parameters (SPICE names, SI units).
MODELS = {
    # 1N4148 (onsemi/Fairchild model as shipped with LTspice; BV from the datasheet, 100 V at 100 µA)
    "d1n4148": ("D", {"is": 2.52e-9, "rs": 0.568, "n": 1.752, "cjo": 4e-12, "m": 0.4, "tt": 20e-9, "bv": 100.0,
                      "ibv": 100e-6}),
    # 2N3904 (Fairchild model as shipped with LTspice)
    "q2n3904": ("NPN", {"is": 6.734e-15, "xti": 3.0, "eg": 1.11, "vaf": 74.03, "bf": 416.4, "ne": 1.259,
                        "ise": 6.734e-15, "ikf": 66.78e-3, "xtb": 1.5, "br": 0.7371, "nc": 2.0, "isc": 0.0,
                        "ikr": 0.0, "rc": 1.0, "cjc": 3.638e-12, "mjc": 0.3085, "vjc": 0.75, "fc": 0.5,
                        "cje": 4.493e-12, "mje": 0.2593, "vje": 0.75, "tr": 239.5e-9, "tf": 301.2e-12,
                        "itf": 0.4, "vtf": 4.0, "xtf": 2.0, "rb": 10.0}),
    # Analog switch, DG4xx class: R_on 35 ohm; off as 1e9 ohm (about its nA worst-case leakage;
    # 1e12 made ngspice's step collapse where the gate opens during a diode transition)
    "swa": ("SW", {"vt": 0.5, "vh": 0.1, "ron": 35.0, "roff": 1e9}),
}

#: The clamp diodes of the op-amp macromodel sit this far inside the swing (their drop at mA).
CLAMP_DROP_V = 0.65


@register
class ReadoutAnalog(Pass):
    name = "readout_analog"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors", "realise_drive")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None and ctx.options.readout != "none"

    def transform(self, ctx: CompileContext) -> PassResult:
        readout = ctx.options.readout
        if readout not in LEVELS:
            raise CompileError(f"unknown readout {readout!r}: expected none, analog, analog-tl072, analog-micropower "
                               "or behavioural",
                               Location(parameter="readout"))
        level = LEVELS[readout]
        design = _design(ctx.model, readout)
        if design == "micropower":
            return readout_micropower.realise(ctx)
        if ctx.model.readout.is_linear:
            return readout_linear.realise(ctx, level)
        opamp_model = from_options(ctx.options)  # the deck's op-amp (its data sizes the readout in exact flows too)
        _require_room(ctx, level, opamp_model.swing_v)
        gains = _BufferGains.of(ctx, opamp_model.swing_v)
        opamp = None if ctx.options.exact else opamp_model
        if opamp is not None:
            ctx.graph.define_subcircuit(subcircuit(opamp))
        buffers = [_buffer(ctx.graph, ctx, j, port.net, float(gains.gains[j]), opamp)
                   for j, port in enumerate(ctx.outputs)]
        realised = np.array([b["gain"] for b in buffers]) / gains.element_gain
        for j, port in enumerate(ctx.outputs):
            ctx.outputs[j] = dataclasses.replace(port, gain=port.gain * realised[j])
        _add_decision_ports(ctx)
        description, settle = _attach(ctx, level, opamp_model, gains, buffers)
        if opamp is not None:
            ctx.graph.meta.setdefault("opamp_model", opamp.as_dict())
        gain_error = max(abs(b["gain"] / b["ideal_gain"] - 1) for b in buffers)
        parts = description["parts"]
        return PassResult(True, _summary(ctx, level, description, gains, buffers, gain_error, settle),
                          {"level": level, "common_gain": gains.common, "gains": realised.tolist(),
                           "worst_gain_error": gain_error, "buffer_peak_v": gains.common * gains.worst,
                           "parts": parts, "decisions": ctx.graph.meta["decisions"]})


def _design(model, readout: str) -> str:
    """Which parts-level design ``readout`` means for ``model``: "micropower" (a diode-law layer
    with ``analog`` or ``analog-micropower``), else "tl072" (``analog`` on any other model, and
    ``analog-tl072``) or "behavioural". CompileError when the named design cannot read the layer."""
    law = model.readout.is_linear and model.readout.law is not None
    if readout == "analog-micropower" and not law:
        raise CompileError("--readout analog-micropower needs a linear readout layer with 'law diode (...);' "
                           "(the passive cells compute that law)", Location(parameter="readout"))
    if readout == "analog-tl072" and law:
        raise CompileError("--readout analog-tl072 does not compute the diode law: use --readout analog "
                           "(the micropower cells) or behavioural", Location(parameter="readout"))
    if readout in ("analog", "analog-micropower") and law:
        return "micropower"
    if readout == "behavioural" and law:
        raise CompileError("--readout behavioural is not built for the diode law yet: use --readout analog (the "
                           "micropower cells) or none", Location(parameter="readout"))
    return "behavioural" if readout == "behavioural" else "tl072"


def _require_room(ctx: CompileContext, level: str, swing: float) -> None:
    """CompileError unless the op-amp swings enough for the parts level, the port maps match the
    model's outputs and the readout's nets are still free."""
    if level == "parts" and swing < MIN_SWING_V:
        raise CompileError(f"the parts-level readout needs op-amps that swing ±{MIN_SWING_V:g} V or more "
                           f"(its buffers reach ±{FULL_SCALE_V:g} V, its integrators "
                           f"±{INTEGRATOR_FULL_SCALE_V:g} V, its reference is {V_REF:g} V); this op-amp swings "
                           f"±{swing:g} V: use --readout behavioural, or op-amps on ±15 V for the readout",
                           Location(parameter="opamp_params.swing_v"))
    n = len(ctx.model.outputs)
    if len(ctx.outputs) != n:
        raise CompileError("readout_analog: the output port maps do not match the model's outputs")
    taken = [net for j in range(n) for net in (f"dec{j + 1}", f"det{j + 1}") if net in ctx.graph.graph]
    if taken:
        raise CompileError(f"readout_analog: net {taken[0]} already exists: the readout was added before")


@dataclasses.dataclass(frozen=True)
class _BufferGains:
    """The buffers' gains (V/V, from each readout element's input): ``gains`` = common ·
    weights · ``element_gain``; ``worst`` the loudest port's unit-sine peak before ``common``
    (V); ``raised``: ``common`` was raised so the smallest gain is 1 (weights spread wider than
    the full scale ``full_scale`` V allows)."""

    port_gain: np.ndarray
    element_gain: np.ndarray
    worst: float
    full_scale: float
    common: float
    raised: bool
    gains: np.ndarray

    @staticmethod
    def of(ctx: CompileContext, swing: float) -> "_BufferGains":
        weights = np.array([o.weight for o in ctx.model.outputs])
        port_gain = np.array([p.gain for p in ctx.outputs])
        # The amplifier reads the readout element's input: its gain is the port's times that
        # element's own (a scaled VCVS readout has gain ≠ 1; a CCVS stays and drives it).
        elements = [_readout_element(ctx.graph, p.net) for p in ctx.outputs]
        element_gain = np.array([e.value if e.kind == "E" else 1.0 for e in elements])
        worst = float(np.max(weights * port_gain * unit_sine_peak(ctx.model)))
        full_scale = buffer_full_scale(swing)
        common = full_scale / worst if worst > 0 else 1.0
        # A non-inverting amplifier's gain is at least 1; the exact flow's ideal VCVS has no floor.
        raised = not ctx.options.exact and common * float(np.min(weights * element_gain)) < 1.0
        if raised:
            common = 1.0 / float(np.min(weights * element_gain))
        return _BufferGains(port_gain, element_gain, worst, full_scale, common, raised,
                            common * weights * element_gain)


def _add_decision_ports(ctx: CompileContext) -> None:
    """A decision port ``dec<j>`` per class with its load to ground, ordered before any supply
    port (``ctx.graph`` may become a reordered copy)."""
    add_decision_ports(ctx, [(out.cls, out.node) for out in ctx.model.outputs], DECISION_LOAD_OHM,
                       "output {cls} decision port load")


def _attach(ctx: CompileContext, level: str, opamp_model: OpampModel, gains: _BufferGains,
            buffers: list[dict]) -> tuple[dict, float]:
    """Put the readout subcircuit into the graph and record it (``meta["readout"]``,
    ``meta["decisions"]``, ``meta["decision_settling_s"]``); returns its description and the
    decisions' settling time (circuit seconds)."""
    graph, model = ctx.graph, ctx.model
    n = len(model.outputs)
    t0, t1 = model.readout.start * ctx.time_scale, model.readout.stop * ctx.time_scale
    series_c = ctx.options.series.get("C", "E24")
    description = readout_description(level, n, t0, t1, opamp_model, series_c, gains.common * gains.worst)
    if "supplies" in description:
        _linear_opamps_draw(graph, description, opamp_model)
    attach_readout(graph, description, [p.net for p in ctx.outputs] + [f"dec{j + 1}" for j in range(n)] +
                   [f"det{j + 1}" for j in range(n)], ctx.options.tolerance)
    # Nominal detector law: det_j = vpms · MS(out_j), out_j = c·w_j·g_j·v_j, feature F_j = w_j·RMS(v_j).
    vpms = description["volts_per_mean_square"]
    description["detectors"] = [{"class": o.cls, "net": f"det{j + 1}",
                                 "volts_per_feature_squared": vpms * (gains.common * gains.port_gain[j]) ** 2}
                                for j, o in enumerate(model.outputs)]
    description["buffers"] = buffers
    graph.meta["readout"] = description
    settle = settling_s(level, t1 - t0)
    graph.meta["decision_settling_s"] = settle  # read by r2nn_compiler.energy
    graph.meta["decisions"] = [{"class": o.cls, "port": f"dec{j + 1}", "high_volts": description["high_volts"],
                                "valid_after_s": t1 + settle} for j, o in enumerate(model.outputs)]
    return description, settle


def _linear_opamps_draw(graph: CircuitGraph, description: dict, opamp: OpampModel) -> None:
    """The linear part's op-amps (buffers, NICs, GICs) are linear macromodels without supply
    pins (the numpy proof reads them): their quiescent current is drawn from the readout's
    rails by one source in the readout subcircuit (``Bqlin``), so the measured supply energy
    holds every op-amp's (their load currents not: docs/verify.md, "Measured energy")."""
    n = count_opamps(graph)
    if n:
        readout = next(d for d in description["subcircuits"] if d.name == description["subckt"])
        readout.components.append(law("Bqlin", list(SUPPLY_NETS), "I", number(n * opamp.quiescent_a)))


def _summary(ctx: CompileContext, level: str, description: dict, gains: _BufferGains, buffers: list[dict],
             gain_error: float, settle: float) -> str:
    """The log line: buffers' gains, readout parts, settling, and any caveat."""
    model = ctx.model
    realised_text = ", ".join(f"{b['gain']:.4g}" for b in buffers)
    parts = description["parts"]
    summary = (f"{level} readout of {len(model.outputs)} classes ({description['detector']}): buffers of gain "
               f"{realised_text} (output gains × weights × {gains.common:.4g}, worst gain error "
               f"{gain_error:.2e}); readout parts: " + ", ".join(f"{v} {k}" for k, v in parts.items() if v) +
               f"; decisions valid {settle:g} s after the window")
    if ctx.options.readout == "analog":
        summary += "; the ±15 V TL072 design (the micropower design reads a linear layer with 'law diode')"
    if model.readout.kind != RMS_CONTINUOUS:
        summary += (f"; the detectors integrate the continuous waveform while this model's readout "
                    f"({model.readout.kind}) averages samples: they differ by edge terms of order "
                    f"1/(samples in the window), which verify reports as window_error (train with "
                    f"--readout-kind rms_continuous for the hardware's feature)")
    if gains.raised:
        summary += (f"; weights spread wider than the buffer full scale allows: a unit sine reaches "
                    f"{gains.common * gains.worst:.3g} V peak (full scale {gains.full_scale:g} V)")
    return summary


def buffer_full_scale(swing_v: float) -> float:
    """The buffers' peak (V) for the unit sine: :data:`FULL_SCALE_V`, or
    :data:`FULL_SCALE_FRACTION` of the op-amp's swing when that is lower (a low-voltage op-amp)."""
    return min(FULL_SCALE_V, FULL_SCALE_FRACTION * swing_v)


def unit_sine_peak(model) -> np.ndarray:
    """Per output, the largest velocity amplitude (m/s) a unit-amplitude sine on every input
    (in phase) produces in steady state: max over the band of Σ_k |H_jk(f)|, on a dense grid
    with every resonance added."""
    grid = default_grid(model, 2000)
    extra = [r.f0_hz for r in model.resonators if grid[0] <= r.f0_hz <= grid[-1]]
    freqs = np.unique(np.concatenate([grid, extra]))
    return np.max(np.sum(np.abs(frequency_response(model, freqs)), axis=1), axis=-1)


def _buffer(graph: CircuitGraph, ctx: CompileContext, j: int, port: str, gain: float,
            opamp: OpampModel | None) -> dict:
    """Replace output j's readout element by a buffer of ``gain`` (V/V, from the element's
    input) onto ``port``: an ideal VCVS without ``opamp``, else op-amp stages
    (:func:`_amplifier`); return its record."""
    driver = _readout_element(graph, port)
    element = driver.attrs.get(ELEMENT, ctx.outputs[j].node or "")
    cls = ctx.outputs[j].name
    if driver.kind == "E":
        if driver.nodes[1] != GROUND or driver.nodes[3] != GROUND:
            raise CompileError(f"readout_analog: output port {port}'s VCVS {driver.name} is not grounded")
        source, new = driver.nodes[2], []
    else:
        source = f"sense{j + 1}"
        new = [dataclasses.replace(driver, nodes=(source, driver.nodes[1]), attrs=dict(driver.attrs))]
    record = {"class": cls, "element": element, "port": port, "source_net": source, "ideal_gain": gain}
    if opamp is None:
        e_name = driver.name if driver.kind == "E" else graph.next_designator("E")
        new.append(Component(e_name, "E", (port, GROUND, source, GROUND), gain, origin=f"output {cls} buffer",
                             attrs={ROLE: "buffer", ELEMENT: element}))
        graph.replace(driver.name, *new)
        return {**record, "gain": gain, "opamps": []}
    amplifier = _Amplifier(graph, cls, element, j, port, ctx.options.tolerance.get("R"), opamp)
    achieved, opamps = amplifier.build(source, gain, record)
    new += amplifier.parts
    if driver.kind == "E":
        graph.replace(driver.name, *new)
    else:
        graph.replace(driver.name, new[0])
        for comp in new[1:]:
            graph.add(comp)
    return {**record, "gain": achieved, "opamps": opamps}


class _Amplifier:
    """The op-amp stages of output j's parts-level buffer (class ``cls``, model ``element``),
    collected in ``parts``: the input resistance load, stages of at most
    :data:`STAGE_GAIN_MAX` (E96 feedback pairs of tolerance ``r_tolerance``, a fraction) and the
    isolation resistor onto ``port``. Designators continue from ``graph``'s next free X and R."""

    def __init__(self, graph: CircuitGraph, cls: str, element: str, j: int, port: str,
                 r_tolerance: float | None, opamp: OpampModel) -> None:
        self.cls, self.j, self.port, self.opamp = cls, j, port, opamp
        self.attrs = {ROLE: "buffer", ELEMENT: element}
        self.element = element
        self.part = PartInfo("E96", r_tolerance)
        self.x_first = int(graph.next_designator("X")[1:])
        self.numbers = iter(range(int(graph.next_designator("R")[1:]), 10**9))
        self.parts: list[Component] = []

    def resistor(self, nodes: tuple[str, str], value: float, what: str, attrs: dict,
                 part: PartInfo | None) -> Component:
        return Component(f"R{next(self.numbers)}", "R", nodes, value, origin=f"output {self.cls} buffer: {what}",
                         attrs=attrs, part=part)

    def build(self, source: str, gain: float, record: dict) -> tuple[float, list[dict]]:
        """Add the parts amplifying ``source`` by ``gain`` (V/V); each stage with feedback is
        appended to ``record["stages"]``. Returns (achieved gain, the op-amps' records)."""
        self.parts.append(self.resistor((source, GROUND), INPUT_RESISTANCE_OHM, "op-amp input resistance",
                                        {ROLE: "parasitic", ELEMENT: self.element}, None))
        # Stages of at most STAGE_GAIN_MAX keep each loop's bandwidth (GBW / gain) far above the band.
        stages = max(1, math.ceil(math.log(gain) / math.log(STAGE_GAIN_MAX) - 1e-9)) if gain > 1 else 1
        achieved, opamps, stage_in = 1.0, [], source
        for k in range(stages):
            # Each stage aims at the gain still missing, so the stages' E96 errors do not add up:
            # the last one trims the product to GAIN_TARGET.
            stage_gain = (gain / achieved) ** (1 / (stages - k))
            amp_out, got = self._stage(k, k == stages - 1, stage_in, stage_gain, record)
            achieved *= got
            opamps.append({"designator": f"X{self.x_first + k}", "output_net": amp_out})
            stage_in = amp_out
        self.parts.append(self.resistor((f"bo{self.j + 1}", self.port), ISOLATION_OHM, "isolation resistor",
                                        dict(self.attrs), self.part))
        return achieved, opamps

    def _stage(self, k: int, last: bool, stage_in: str, stage_gain: float, record: dict) -> tuple[str, float]:
        """Stage ``k`` (0-based) from net ``stage_in``: a non-inverting amplifier of about
        ``stage_gain``, or a follower when that is 1. Returns (its output net, its gain)."""
        x_name, j, cls = f"X{self.x_first + k}", self.j, self.cls
        # An op-amp's output is a net of the model (headroom checks read it); the last drives the
        # port through an isolation resistor inside its loop, so the port stays exact.
        amp_out = f"bo{j + 1}" if last else f"bo{j + 1}_{k + 1}"
        sense = self.port if last else amp_out
        if stage_gain <= 1 + 1e-9:
            self.parts.append(Component(x_name, "X", (stage_in, sense, amp_out), subckt=self.opamp.subckt_name,
                                        origin=f"output {cls} buffer: op-amp follower", attrs=dict(self.attrs)))
            return amp_out, 1.0
        rf, rg, got = gain_pair(stage_gain)
        feedback = f"fb{j + 1}" + ("" if last else f"s{k + 1}")
        self.parts.append(Component(x_name, "X", (stage_in, feedback, amp_out), subckt=self.opamp.subckt_name,
                                    origin=f"output {cls} buffer: op-amp, stage {k + 1}", attrs=dict(self.attrs)))
        names = [f"R{next(self.numbers)}" for _ in range(len(rf) + 1)]
        self.parts += feedback_network(names, sense, feedback, rf, rg, f"output {cls} buffer", self.attrs, self.part)
        record.setdefault("stages", []).append({"rf_ohm": list(rf), "rg_ohm": rg, "gain": got,
                                                "rf": names[:-1], "rg": names[-1],
                                                "sense_net": sense, "feedback_net": feedback})
        return amp_out, got


def _readout_element(graph: CircuitGraph, port: str) -> Component:
    """The VCVS or CCVS driving output ``port``; CompileError unless there is exactly one."""
    drivers = [c for c in graph.components if c.kind in ("E", "H") and c.nodes[0] == port]
    if len(drivers) != 1:
        raise CompileError(f"readout_analog: output port {port} is not driven by one readout element")
    return drivers[0]


# -- the readout subcircuit, as data ---------------------------------------------------------

def readout_description(level: str, n: int, t0: float, t1: float, opamp: OpampModel, series_c: str,
                        full_scale_v: float = FULL_SCALE_V) -> dict:
    """The readout as plain data for the backend (all times in circuit seconds, values SI).

    Keys: ``level``, ``detector`` (text), ``subckt`` (the readout subcircuit's name),
    ``subcircuits`` (typed :class:`SubcircuitDef` s in netlist order, the readout last, its
    elements R, C, E, G, X, D/Q/S with device models, B-sources and V sources with a DC or PWL
    :class:`Waveform`), ``volts_per_mean_square``, ``high_volts``, ``window_s``,
    ``detector_limit_v`` (the integrators' swing, None when unlimited) and ``parts`` (counts).
    R and C parts carry their E-series in ``part.series`` (``ideal`` for the behavioural
    integrators' capacitors). Ports of the readout subcircuit: b1..bN (the buffered outputs),
    dec1..decN, det1..detN, and at the parts level the op-amps' rails vcc, vee (``supplies``:
    {net: volts}; its timing sources become ports before them once attached, see
    ``common.readout.control_ports``). ``full_scale_v``: the buffers' peak for the unit sine (V), which
    sizes the integrators.
    """
    edge = min(EDGE_S, (t1 - t0) / 1000)
    gate = [[0.0, 1.0], [t1, 1.0], [t1 + edge, 0.0]] if t0 <= 0 else \
        [[0.0, 0.0], [t0, 0.0], [t0 + edge, 1.0], [t1, 1.0], [t1 + edge, 0.0]]
    ports = [f"b{j}" for j in range(1, n + 1)] + [f"dec{j}" for j in range(1, n + 1)] + \
        [f"det{j}" for j in range(1, n + 1)]
    if level == "behavioural":
        return _behavioural_description(n, t0, t1, gate, ports)
    return _parts_description(level, n, t0, t1, opamp, series_c, full_scale_v, gate, ports, edge)


def _behavioural_description(n: int, t0: float, t1: float, gate: list, ports: list[str]) -> dict:
    """:func:`readout_description` at level ``behavioural``: B-source squarers, integrators, WTA."""
    elements = [pwl("Vgate", ["tw", GROUND], gate)]
    k = C_BEHAVIOURAL / (t1 - t0)
    for j in range(1, n + 1):
        elements += behavioural_integrator(("Bsq", "Cint", "Rleak"), j, "tw", f"b{j}", f"det{j}", k)
        elements.append(behavioural_wta(j, "det", n))
    readout = SubcircuitDef("r2nn_readout", ports, elements,
                            "r2nn readout, behavioural: mean square over the window and winner-take-all")
    return {"level": "behavioural", "detector": "mean square, behavioural", "subckt": "r2nn_readout",
            "subcircuits": [readout], "volts_per_mean_square": 1.0, "high_volts": BEHAVIOURAL_HIGH_V,
            "window_s": [t0, t1], "detector_limit_v": None, "parts": part_counts(elements)}


def _parts_description(level: str, n: int, t0: float, t1: float, opamp: OpampModel, series_c: str,
                       full_scale_v: float, gate: list, ports: list[str], edge: float) -> dict:
    """:func:`readout_description` from parts: the shared reference and max bus, then per class
    :func:`_class_parts`; the integrators' capacitor sized for ``full_scale_v``."""
    i_ref = V_REF / R_REF
    design_ms = (full_scale_v * 10 ** (-INTEGRATOR_HEADROOM_DB / 20)) ** 2 / 2
    c_int = eseries.nearest(design_ms * (t1 - t0) / (INTEGRATOR_FULL_SCALE_V * R_LOG ** 2 * i_ref), series_c)
    vpms = (t1 - t0) / (R_LOG ** 2 * i_ref * c_int)
    clamp = _clamped_opamp(opamp)
    op = clamp.name
    reset = [[0.0, 0.0], [t1, 0.0]] if t0 <= 0 else [[0.0, 1.0], [t0, 1.0], [t0 + edge, 0.0]]
    elements = [
        pwl("Vgate", ["tw", GROUND], gate),
        pwl("Vreset", ["tr", GROUND], reset),
        part("Vref", ["vr", GROUND], V_REF),
        part("Rref", ["vr", "ar"], R_REF),
        device("Qref", ["ar", GROUND, "era"], "q2n3904"),
        part("Rrefe", ["er", "era"], R_EMITTER),
        instance("Xref", [GROUND, "ar", "er"], op),
        part("Cref", ["ar", "er"], C_COMP),
        part("Rmax", ["mx", GROUND], R_MAX),
    ]
    high = opamp.swing_v * DECISION_LOAD_OHM / (DECISION_SERIES_OHM + DECISION_LOAD_OHM)
    for j in range(1, n + 1):
        elements += _class_parts(j, op, c_int)
    for e in elements:  # the BOM's series: resistors E96, C_COMP an E24 value, C_INT options' series
        if e.kind == "X" and e.subckt == op:
            e.nodes = tuple(e.nodes) + SUPPLY_NETS
        if e.kind in "RC":
            e.part = PartInfo("E96" if e.kind == "R" else (series_c if e.name.startswith("Cint") else "E24"))
    readout = SubcircuitDef("r2nn_readout", list(ports) + list(SUPPLY_NETS), elements,
                            "r2nn readout from parts: rectifier, log-antilog squarer, window integrator, WTA",
                            tuple(DeviceModel(name, MODELS[name][0], tuple(MODELS[name][1].items()))
                                  for name in ("d1n4148", "q2n3904", "swa")))
    return {"level": level, "detector": "mean square: precision full-wave rectifier and log-antilog squarer",
            "subckt": "r2nn_readout", "subcircuits": [clamp, readout], "volts_per_mean_square": vpms,
            "integrator_f": c_int, "reference_a": i_ref, "high_volts": high, "window_s": [t0, t1],
            "detector_limit_v": opamp.swing_v,
            "parts": part_counts(elements), "supplies": dict(zip(SUPPLY_NETS, (opamp.supply_v, -opamp.supply_v)))}


def _class_parts(j: int, op: str, c_int: float) -> list[Component]:
    """Class j's detector from parts (``b<j>`` in, ``det<j>``, ``dec<j>`` out): rectifier,
    summer, log, doubler, antilog, gated integrator, max bus diode and comparator."""
    b, p = f"b{j}", f"c{j}_"
    return [
        part(f"Rin{j}", [b, p + "n1"], R_RECT),
        part(f"Rhw{j}", [p + "y", p + "n1"], R_RECT),
        device(f"Dpos{j}", [p + "o1", p + "n1"], "d1n4148"),
        device(f"Dneg{j}", [p + "y", p + "o1"], "d1n4148"),
        instance(f"Xhw{j}", [GROUND, p + "n1", p + "o1"], op),
        part(f"Rsx{j}", [b, p + "n2"], R_SUM_X),
        part(f"Rsy{j}", [p + "y", p + "n2"], R_SUM_Y),
        part(f"Rsf{j}", [p + "z", p + "n2"], R_SUM_X),
        instance(f"Xsum{j}", [GROUND, p + "n2", p + "z"], op),
        part(f"Rlog{j}", [p + "z", p + "a"], R_LOG),
        device(f"Qlog{j}", [p + "a", GROUND, p + "ea"], "q2n3904"),
        part(f"Rloge{j}", [p + "e", p + "ea"], R_EMITTER),
        instance(f"Xlog{j}", [GROUND, p + "a", p + "e"], op),
        part(f"Clog{j}", [p + "a", p + "e"], C_COMP),
        part(f"Rdr{j}", ["era", p + "ns"], R_DOUBLE),
        part(f"Rdf{j}", [p + "s", p + "ns"], R_DOUBLE),
        instance(f"Xdbl{j}", [p + "ea", p + "ns", p + "s"], op),
        device(f"Qexp{j}", [p + "g", GROUND, p + "s"], "q2n3904"),
        device(f"Sgate{j}", [p + "g", p + "si", "tw", GROUND], "swa"),
        instance(f"Xint{j}", [GROUND, p + "si", f"det{j}"], op),
        part(f"Cint{j}", [p + "si", f"det{j}"], c_int),
        device(f"Sreset{j}", [p + "si", f"det{j}", "tr", GROUND], "swa"),
        instance(f"Xmax{j}", [f"det{j}", p + "m", p + "f"], op),
        device(f"Dmax{j}", [p + "f", "mx"], "d1n4148"),
        part(f"Rmx{j}", ["mx", p + "m"], R_MAX_SENSE),
        device(f"Dlose{j}", [p + "m", p + "f"], "d1n4148"),
        instance(f"Xcmp{j}", [p + "f", "mx", p + "k"], op),
        part(f"Rdec{j}", [p + "k", f"dec{j}"], DECISION_SERIES_OHM),
        device(f"Dclamp{j}", [GROUND, f"dec{j}"], "d1n4148"),
    ]


def _clamped_opamp(opamp: OpampModel) -> SubcircuitDef:
    """The single-pole macromodel of ``opamp`` (see :mod:`~r2nn_compiler.circuit.opamp`) with
    its gain node clamped by two diodes at ±(swing − :data:`CLAMP_DROP_V`), so comparators and
    open-loop moments saturate at about the datasheet swing instead of running away."""
    r_gain = opamp.a0 / MACRO_GM_S
    c_gain = 1.0 / (2 * math.pi * opamp.dominant_pole_hz * r_gain)
    level = opamp.swing_v - CLAMP_DROP_V
    elements = [
        part("G1", [GROUND, "p", "inp", "inn"], MACRO_GM_S),
        part("R1", ["p", GROUND], r_gain),
        part("C1", ["p", GROUND], c_gain),
        device("D1", ["p", "cp"], "dclamp"),
        device("D2", ["cn", "p"], "dclamp"),
        part("V1", ["cp", GROUND], level),
        part("V2", ["cn", GROUND], -level),
        part("E1", ["o", GROUND, "p", GROUND], 1.0),
        part("R2", ["o", "out"], opamp.r_out_ohm),
    ]
    # Supply pins: the quiescent current flows from vcc to vee, the output current from the rail
    # it leaves by (sourced from vcc, sunk into vee), so ngspice measures what the part draws.
    out_current = f"(v(o)-v(out))/{number(opamp.r_out_ohm)}"
    elements += [law("Bq", [SUPPLY_NETS[0], SUPPLY_NETS[1]], "I", number(opamp.quiescent_a)),
                 law("Bsrc", [SUPPLY_NETS[0], GROUND], "I", f"max({out_current},0)"),
                 law("Bsnk", [GROUND, SUPPLY_NETS[1]], "I", f"max(-{out_current},0)")]
    return SubcircuitDef("opamp_clamp", ("inp", "inn", "out") + SUPPLY_NETS, elements,
                         f"{opamp.part}-like macromodel, output clamped at about +-{opamp.swing_v:g} V, "
                         f"drawing {opamp.quiescent_a:g} A and its output current from its rails",
                         (DeviceModel("dclamp", "D", (("is", 1e-14),)),))


