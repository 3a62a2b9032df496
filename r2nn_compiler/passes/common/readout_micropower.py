"""The micropower readout of a diode-law layer (``readout_analog`` with ``--readout analog``).

A linear readout layer with ``law diode (nvt, rate, clip, hold)`` scores class j as
s_j = β_j + Σ_f A_jf ψ_f, ψ_f the passive diode cell's reading of gain_f · v_node over the
feature's segment (:class:`~r2nn_compiler.model.ir.DiodeLaw`). This module builds that readout
from the micropower part library (:mod:`r2nn_compiler.parts`) on one 3.3 V supply, as circuit-IR
subcircuit definitions the netlister writes (design and measurements: docs/micropower.md):

* **taps**: the force-current deck's node voltage is the velocity; the readout element (an ideal
  VCVS) of every tap is removed and the resonator's net becomes the tap port, so the cells hang
  on the resonator nodes. The input ports' volts per unit are scaled so a node reads
  G = max_f gain_f volts per unit; a feature of lower gain reads it through an E96 divider
  (:data:`DIVIDER_OHM` total, ratio gain_f/G), whose loading the resonator's damping absorbs
  (as ``realise_drive`` does for the drives). The linear part stays the MNA's.
* **cells** (one per feature, in the readout subcircuit): diode (1N4148 class) from the tap, the
  segment's gate switch (a TS12A44515-class channel) whose input node an NPN follower clamps
  near −0.23 V while the gate is open (:data:`CLAMP`), C to ground sized from the law's rate
  (C = Is/(rate·nVt) of the diode card, nearest in the options' C series), a reset switch
  across C. While the gate is open the reading holds on C (droop: the law's ``hold``).
* **after the window**, powered through one more switch channel from control port ``power``:
  the cells' common plate lifted from ground to the sums' level (:func:`lift_elements`), a
  follower (LPV802 class) per reading, per class an inverting sum about that level (from a
  1.25 V reference, LT1389 class) with E96 weights (:func:`score_network`), a TLV7031-class comparator per
  ordered class pair and per class one more comparator that is high only when its class beats
  every other (its pair comparators averaged by resistors against 7/8 of the rail for 5 classes:
  :func:`and_threshold`); that comparator drives the decision port ``dec<j>``.

Control ports (manifest ``controls``): ``reset`` (high for :data:`RESET_S` at t = 0), a
``segment_gate_<k>`` per segment, ``power`` (high from the window's end for :data:`POWER_S`).
Supply port ``vdd`` at :data:`VDD` (manifest ``supplies``). Times are circuit seconds, values SI.
"""

from __future__ import annotations

import dataclasses
import enum
import math

import numpy as np

from ... import eseries, reference
from ...circuit import GROUND, Component, SubcircuitDef
from ...circuit.annotations import PartInfo
from ...errors import CompileError, Location, SignalError
from ...parts import part as catalogue_part
from ...parts.models import definition
from ...reference import feature_taps
from ...reference.diode import readings_on_grid, system_grids
from ..base import ELEMENT, ROLE, CompileContext, PassResult
from .buffers import gain_pair
from .damping import _absorb, _damping_of
from .readout import EDGE_S, add_decision_ports, attach_readout, device, instance, part, part_counts, pwl
from .readout_linear import segment_gates

#: The single supply (V) and its port.
VDD = 3.3
SUPPLY = "vdd"
#: Parts (catalogue names).
DIODE, SWITCH, OPAMP, COMPARATOR, REFERENCE = "D1N4148", "TS12A44515", "LPV802", "TLV7031", "LT1389_1V25"
#: The clamp at each gate switch's input (node a<f>): an NPN emitter follower, emitter on the
#: node, collector at vdd, base at CLAMP_BIAS_V from a divider shared by all cells. While the
#: gate is open it holds the node near CLAMP_BIAS_V − 0.33 V against the cell diode's nA reverse
#: current (the switch's absolute maximum is −0.3 V); a junction of Is ≈ 7 fA, so while the
#: node holds a reading near 0 V it leaks only ~0.3 pA into C (docs/micropower.md).
CLAMP = "Q2N3904"
CLAMP_BIAS_V = 0.1
#: The clamp bias divider (ohm, E96; 33 nA from vdd) and its decoupling (F): without it, the
#: followers' collector-base capacitances kick the bias node up when vdd comes up (a cold start
#: in ngspice) and the followers lift the cells' nodes; 1 nF holds the kick to ~0.1 V and settles
#: with the divider's 3 MΩ in 3 ms.
CLAMP_DIVIDER_OHM = (97.6e6, 3.01e6)
CLAMP_DECOUPLING_F = 1e-9
#: Total resistance (ohm) of a gain divider at a tap, at least; and the largest share of the tap's
#: damping conductance its dividers may take (more resistance where the damping is small: the
#: divider's Thevenin resistance then adds to the diode's, a law error of ~9 mV at 100 kΩ and
#: 1.3 V readings, ~0.1 V at 1 MΩ; docs/micropower.md).
DIVIDER_OHM = 100e3
DIVIDER_SHARE = 0.5
#: The sums' feedback resistor (ohm, E96) and the largest input resistor used (ohm).
FEEDBACK_OHM = 1.0e6
MAX_INPUT_OHM = 100e6
#: Relative error a weight resistor (one E96 part or a series pair) aims at.
WEIGHT_TARGET = 1e-3
#: The AND network's resistors (ohm, E96), from each pair comparator to the class's node.
AND_OHM = 10.0e6
#: Threshold divider of the AND comparators (total ohm).
THRESHOLD_OHM = 8.0e6
#: Load on each decision port (ohm): a CMOS input (the host's GPIO), not the 10 kΩ of the ±15 V design.
DECISION_LOAD_OHM = 1.0e6
#: Decoupling of the switched post-window rail (F; charging it costs about C·VDD², 11 nJ; without
#: it ngspice cannot start a transient from zero state with that rail off).
DECOUPLING_F = 1e-9
#: Reset pulse (s) at the start of the run.
RESET_S = 2e-6
#: The sums' outputs are kept within this far (V) of each rail for any reading in [0, clip].
HEADROOM_V = 0.2
#: Settling of the post-window stage: slew time of a follower to full scale plus this many of
#: the slowest sum's time constants (s).
SETTLE_TAUS = 12.0
#: The lifted cells (:func:`lift_elements`): net of the cell capacitors' (and reset switches')
#: common plate, grounded by a switch channel per segment gate while the window runs and driven
#: after it to the sums' reference level by a follower through ISOLATION_OHM (its load, the
#: cells' capacitors whose other plates float, takes no charge: the readings ride on it). The
#: followers then read v_s + ψ_f, not ψ_f within mV of ground, where the LPV802 class's output
#: swing bends them (docs/micropower.md, "Where the score error comes from").
LIFT = "cl"
ISOLATION_OHM = 1.0e3


@dataclasses.dataclass(frozen=True)
class Cell:
    """Feature f's cell: its input net in the readout (``b<i>`` or a divider's ``dv<f>``), the
    segment (from 0), the capacitor (F) and the gain ratio its divider realises (1: none)."""

    tap: int
    segment: int
    cap_f: float
    ratio: float


#: Largest relative difference between the law's n·Vt and the cells' diode card's.
NVT_MATCH = 0.01


def diode_constants() -> tuple[float, float]:
    """(Is in A, n·Vt in V at 27 °C) of the cells' diode card."""
    params = dict(catalogue_part(DIODE).params)
    return params["IS"], params.get("N", 1.0) * 8.617333262e-5 * 300.15


def cap_for(rate: float, nvt: float, series: str) -> float:
    """The cell capacitor (F) realising the law's ``rate`` (1/s, model time already mapped to
    circuit time) with the diode card: C = Is/(rate·nVt_card), nearest in ``series``. The law's
    own nvt is the model's (the trainer's): CompileError when it differs from the card's by more
    than NVT_MATCH (the circuit would compute another law than the one verify checks)."""
    i_s, card_nvt = diode_constants()
    if abs(nvt / card_nvt - 1) > NVT_MATCH:
        raise CompileError(f"law diode: nvt = {nvt * 1e3:.4g} mV, but the cells' diode ({DIODE}) has n·Vt = "
                           f"{card_nvt * 1e3:.4g} mV at 27 °C: refit the layer with --nvt {card_nvt:.6g}",
                           Location(parameter="readout"))
    return eseries.nearest(i_s / (rate * card_nvt), series)


class ScaleRule(enum.Enum):
    """What sets the sums' scale a (V per score unit), :func:`score_network`."""

    #: Every o_j within the rails' headroom for any readings in [0, clip] (no calibration clips).
    WORST_CASE = "worst_case"
    #: The o_j's range over the calibration clips' reference readings, widened by CALIBRATION_MARGIN.
    CALIBRATION = "calibration"
    #: The range of the top two o_j of each calibration clip (the classes that can win and the
    #: closest loser), widened by CALIBRATION_MARGIN; sums below it saturate at the low rail,
    #: which changes no decision while the winner's u lies within the interval (a clip beyond it
    #: can tie at a rail: verify marks it at risk; :func:`top_interval`, docs/micropower.md).
    CALIBRATION_TOP = "calibration_top"


#: The rule ``score_network`` uses with calibration readings when none is asked for: CALIBRATION,
#: since CALIBRATION_TOP measured no better on tactile (its score error is the cells', in score
#: units, not the stage's in volts: docs/micropower.md) and costs 40 % more energy.
DEFAULT_CALIBRATED_RULE = ScaleRule.CALIBRATION


#: The calibration rule's margin: the o_j's range over the calibration clips is widened by this
#: fraction of itself on each side (held-out clips may read beyond the calibration clips).
CALIBRATION_MARGIN = 0.1


#: The sums' reference level divider from the reference (total ohm, E96; 0.125 µA of the
#: LT1389-class shunt's 800 nA).
SUM_DIVIDER_OHM = 10e6


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays
class ScoreNetwork:
    """The inverting sums' design (:func:`score_network`): scale ``a`` (V per score unit), common
    constant ``k`` (V), weight ratios ``w`` = Rf/R (classes × features), bias ratios ``b`` to
    the rail (``to_rail``) or to ground, the ``rule`` that set a, the score-unit interval
    [``low``, ``high``] of s_j − Σ_f c_f ψ_f it maps onto the rails' headroom, and the sums'
    reference level ``vsum`` (V) with the divider from the reference that gives it (``divider``:
    (top, bottom) ohm, or None: the reference itself)."""

    a: float
    k: float
    w: np.ndarray
    b: np.ndarray
    to_rail: np.ndarray
    rule: ScaleRule
    low: float
    high: float
    vsum: float
    divider: tuple[float, float] | None

    def to_json(self) -> dict:
        """The manifest's ``readout_circuit.score_scale``: rule, V and mV per score unit, the interval,
        the sums' reference level, the sums' outputs verify scores (``linear_volts``)."""
        return {"rule": self.rule.value, "volts_per_unit_score": self.a, "mv_per_unit_score": self.a * 1e3,
                "score_interval": [self.low, self.high],
                "calibration_margin": None if self.rule is ScaleRule.WORST_CASE else CALIBRATION_MARGIN,
                "sum_reference_volts": self.vsum, "linear_volts": list(LINEAR_VOLTS)}


#: The sums' outputs verify scores (V): within half the headroom beyond the interval's image,
#: well inside the LPV802 class's 10 mV swing; a sum outside saturates (or may) and is not scored.
LINEAR_VOLTS = (HEADROOM_V / 2, VDD - HEADROOM_V / 2)


def top_interval(u: np.ndarray) -> tuple[float, float]:
    """[low, high] of the top two of each row of ``u`` (clips × classes, score units): the
    range in which the winner and the closest loser of every calibration clip lie."""
    top = np.sort(u, axis=1)[:, -2:]
    return float(top.min()), float(top.max())


def score_network(biases: np.ndarray, weights: np.ndarray, clip: float, vref: float, vdd: float,
                  readings: np.ndarray | None = None, rule: ScaleRule | None = None) -> ScoreNetwork:
    """The inverting sums' design, all classes on one scale a (V per unit score).

    Output j about the sums' reference level v_s, its inputs the followers' v_s + ψ_f (the
    lifted cells, :func:`lift_elements`): o_j = v_s − Σ_f w_jf ψ_f − b_j (V_bj − v_s),
    w_jf = Rf/R_jf. With w_jf = a (c_f − A_jf), c_f = max_j A_jf (so w ≥ 0),
    o_j = K + a u_j, u_j = s_j − Σ c_f ψ_f: the differences o_j − o_k = a (s_j − s_k) are the
    score differences. b_j, V_bj (0 V or the rail) make the constant K common. a and K map an
    interval of u onto [HEADROOM_V, vdd − HEADROOM_V]: without ``readings`` (ScaleRule.WORST_CASE)
    the u_j of any readings in [0, clip]; with ``readings`` (clips × features, V: the reference's
    on calibration clips) the range of u_j over them (``rule`` CALIBRATION, the default
    :data:`DEFAULT_CALIBRATED_RULE`: all classes; CALIBRATION_TOP: each clip's top two,
    :func:`top_interval`) widened by CALIBRATION_MARGIN of itself on each side when that is
    narrower than the worst case (else, and for clips whose u do not vary, the worst case);
    readings beyond it saturate the sums. v_s (:func:`sum_reference`) is a divided-down ``vref``
    that makes the largest b_j smallest."""
    c = weights.max(axis=0)
    spread = (c[None, :] - weights).sum(axis=1) * clip  # how far Σ(c−A)ψ can pull o_j down (score units)
    low, high, chosen = float((biases - spread).min()), float(biases.max()), ScaleRule.WORST_CASE
    if readings is not None and rule is not ScaleRule.WORST_CASE:
        rule = rule or DEFAULT_CALIBRATED_RULE
        u = readings @ (weights - c[None, :]).T + biases
        lo, hi = top_interval(u) if rule is ScaleRule.CALIBRATION_TOP else (float(u.min()), float(u.max()))
        if 0 < (1 + 2 * CALIBRATION_MARGIN) * (hi - lo) < high - low:  # else: worst case
            extra = CALIBRATION_MARGIN * (hi - lo)
            low, high, chosen = lo - extra, hi + extra, rule
    rule = chosen
    a = (vdd - 2 * HEADROOM_V) / max(high - low, 1e-12)
    k = HEADROOM_V - a * low
    w = a * (c[None, :] - weights)
    lifted = np.zeros(len(biases))  # the followers read v_s + ψ: Σ_f w_jf v_s cancels v_s·W_j
    vsum, divider = sum_reference(lifted, a * biases + k, vref, vdd)
    b, to_rail = _bias_ratios(lifted, a * biases + k, vsum, vdd)
    return ScoreNetwork(float(a), float(k), w, b, to_rail, rule, low, high, vsum, divider)


def _bias_ratios(total: np.ndarray, level: np.ndarray, vsum: float, vdd: float) -> tuple[np.ndarray, np.ndarray]:
    """Per sum, the bias ratio b_j = Rf/R_bj and whether R_bj goes to the rail (else to ground)
    so that v_s(1 + W_j) − b_j(V_bj − v_s) = ``level`` (K + a β_j)."""
    target = vsum * (1 + total) - level
    to_rail = target > 0
    return np.where(to_rail, target / (vdd - vsum), -target / vsum), to_rail


#: Relative step between neighbouring E96 values (10^(1/96) − 1).
E96_STEP = 10 ** (1 / 96) - 1


def sum_reference(total: np.ndarray, level: np.ndarray, vref: float, vdd: float
                  ) -> tuple[float, tuple[float, float] | None]:
    """The sums' reference level v_s (V) in (0, vref] that makes the largest bias ratio smallest
    (the bias resistors carry the difference between v_s(1 + W_j) and K + a β_j, and every
    error of their source, the switched rail's drop and the op-amps' offsets scale with b_j:
    docs/micropower.md), realised as an E96 divider of :data:`SUM_DIVIDER_OHM` from ``vref``;
    (vref, None) when no lower level does better."""
    grid = np.linspace(0.02 * vref, vref, 400)
    worst = [float(np.max(_bias_ratios(total, level, v, vdd)[0])) for v in grid]
    best = float(grid[int(np.argmin(worst))])
    if best >= vref * (1 - 1e-9) or min(worst) >= float(np.max(_bias_ratios(total, level, vref, vdd)[0])):
        return vref, None
    bottom = eseries.nearest(SUM_DIVIDER_OHM * best / vref, "E96")
    if bottom >= SUM_DIVIDER_OHM * (1 - 0.5 * E96_STEP):  # within an E96 step of the reference itself
        return vref, None
    top = eseries.nearest(SUM_DIVIDER_OHM - bottom, "E96")
    return vref * bottom / (top + bottom), (top, bottom)


def and_threshold(n_classes: int, vdd: float) -> float:
    """The AND comparator's threshold (V): midway between all n−1 pair comparators high (vdd)
    and one of them low (vdd·(n−2)/(n−1))."""
    return vdd * (1 - 0.5 / max(n_classes - 1, 1))


def _e96(value: float) -> float:
    return eseries.nearest(value, "E96")


def _hang_taps(ctx: CompileContext) -> np.ndarray:
    """Remove every tap's ideal readout element and make the resonator's net the tap port (its
    name kept, ``tap<i>``); returns each tap's node volts per unit (the port's gain over the
    element's). CompileError unless each tap is a VCVS of a node to ground (force-current)."""
    graph = ctx.graph
    gains = []
    for port in ctx.outputs:
        drivers = [c for c in graph.components if c.kind == "E" and c.nodes[0] == port.net]
        if ctx.model.analogy != "force_current" or len(drivers) != 1 or GROUND not in drivers[0].nodes[1::2] \
                or drivers[0].nodes[1] != GROUND or drivers[0].nodes[3] != GROUND:
            raise CompileError("--readout analog (micropower) hangs its cells on the resonator nodes: it needs the "
                               "force_current analogy (node voltage = velocity)", Location(parameter="readout"))
        element = graph.remove(drivers[0].name)
        node = element.nodes[2]
        for comp in graph.components_at(node):
            nodes = tuple(port.net if n == node else n for n in comp.nodes)
            graph.replace(comp.name, dataclasses.replace(comp, nodes=nodes))
        gains.append(port.gain / element.value)
    return np.array(gains)


def _scale_inputs(ctx: CompileContext, node_gain: np.ndarray, gains: np.ndarray, taps: np.ndarray) -> float:
    """Scale every input's volts per unit so the tap nodes read G = max_f gain_f / (node gain)
    volts per unit (each node's gain is the scale's common one; the largest ratio rules).
    Returns the factor; port gains follow."""
    factor = float(np.max(gains / node_gain[taps]))
    for p in ctx.inputs:
        p.gain *= factor
    for p in ctx.outputs:
        p.gain *= factor
    return factor


def _divider_ohms(ctx: CompileContext, ratios: np.ndarray, taps: np.ndarray) -> dict[int, float]:
    """Per tap with dividers, their total resistance each (ohm): :data:`DIVIDER_OHM`, or more
    where the tap's damping conductance (what realise_drive left) would give over
    :data:`DIVIDER_SHARE` of itself to them. CompileError for a divided tap without damping."""
    totals = {}
    for i in sorted({int(i) for r, i in zip(ratios, taps) if r < 1 - 1e-9}):
        damping = _damping_of(ctx.graph, ctx.outputs[i].net)
        if damping is None:
            raise CompileError(f"the gain dividers at {ctx.outputs[i].net} need a damped resonator to load: train with "
                               "equal gains for its features, or give it damping", Location(parameter="readout"))
        count = int(np.sum((ratios < 1 - 1e-9) & (taps == i)))
        totals[i] = max(DIVIDER_OHM, count / (DIVIDER_SHARE * damping.conductance))
    return totals


def _dividers(ctx: CompileContext, ratios: np.ndarray, taps: np.ndarray) -> list[str]:
    """Per feature the net its cell reads: the tap, or a divider (E96 pair, :func:`_divider_ohms`
    total) of ratio < 1 whose loading the tap's damping absorbs (as realise_drive absorbs the
    drives')."""
    graph = ctx.graph
    nets, loads = [], {}
    totals = _divider_ohms(ctx, ratios, taps)
    for f, (ratio, i) in enumerate(zip(ratios, taps), start=1):
        tap = ctx.outputs[i].net
        if ratio > 1 - 1e-9:
            nets.append(tap)
            continue
        rf, rg, got = gain_pair(1 / ratio)
        scale = 10 ** math.ceil(math.log10(totals[int(i)] / (sum(rf) + rg)) - 1e-9)  # never below the total asked for
        top, bottom = sum(rf) * scale, rg * scale
        mid = f"dv{f}"
        for k, r in enumerate(rf):
            a = tap if k == 0 else f"dv{f}_{k}"
            b = mid if k == len(rf) - 1 else f"dv{f}_{k + 1}"
            graph.add(Component(graph.next_designator("R"), "R", (a, b), r * scale, origin=f"feature {f} gain divider",
                                attrs={ROLE: "readout", ELEMENT: ctx.outputs[i].node}, part=PartInfo("E96")))
        graph.add(Component(graph.next_designator("R"), "R", (mid, GROUND), bottom, origin=f"feature {f} gain divider",
                            attrs={ROLE: "readout", ELEMENT: ctx.outputs[i].node}, part=PartInfo("E96")))
        loads[tap] = loads.get(tap, 0.0) + 1 / (top + bottom)
        nets.append(mid)
    for tap, load in loads.items():
        _absorb(ctx, tap, _damping_of(graph, tap), load)
    return nets


@dataclasses.dataclass(frozen=True)
class Timing:
    """Control waveforms (circuit s, V): ``gates`` per segment, ``reset``, ``power``; ``settle_s``
    after the window's end the decisions are valid; ``power_s`` how long the post stage is on."""

    gates: list[list[list[float]]]
    reset: list[list[float]]
    power: list[list[float]]
    settle_s: float
    power_s: float


def timing(bounds: list[float], settle_s: float) -> Timing:
    """The controls for segment boundaries ``bounds`` (circuit s): gates as the behavioural
    layer's (``segment_gates``) at rail level, a reset pulse at t = 0, the post-window power from
    the window's end for 1.25 × ``settle_s`` (the decision is read at ``settle_s``)."""
    edge = min(EDGE_S, float(np.min(np.diff(bounds))) / 1000)
    gates = [[[t, v * VDD] for t, v in gate] for gate in segment_gates(bounds, edge)]
    end, on = bounds[-1], 1.25 * settle_s
    reset = [[0.0, VDD], [RESET_S, VDD], [RESET_S + edge, 0.0]]
    power = [[0.0, 0.0], [end, 0.0], [end + edge, VDD], [end + on, VDD], [end + on + edge, 0.0]]
    return Timing(gates, reset, power, settle_s, on)


def settling_time(network: ScoreNetwork, clip: float) -> float:
    """Seconds after the window for the decisions: a follower slewing to ``clip`` + v_s (the
    lift's follower slews to v_s meanwhile; its load, the cells' floating capacitors, takes no
    charge), then :data:`SETTLE_TAUS` time constants of the slowest sum (noise gain 1 + W_j + b_j
    over the op-amp's GBW), then the comparators' two delays; rounded up to 0.1 ms."""
    amp, cmp_ = catalogue_part(OPAMP), catalogue_part(COMPARATOR)
    noise_gain = float(np.max(1 + network.w.sum(axis=1) + network.b))
    seconds = (clip + network.vsum) / amp.slew_v_per_s + SETTLE_TAUS * noise_gain / (2 * math.pi * amp.gbw_hz) \
        + 4 * cmp_.tpd_s
    return math.ceil(seconds / 1e-4) * 1e-4


def cell_elements(f: int, net: str, segment: int, cap: float) -> list[Component]:
    """Feature f's cell on readout net ``net``: diode, the clamp (:data:`CLAMP`) at the gate
    switch's input, gate switch, C, reset switch, follower."""
    return [device(f"D{f}", [net, f"a{f}"], DIODE),
            device(f"Q{f}", [SUPPLY, "cb", f"a{f}"], CLAMP),
            instance(f"Xg{f}", [f"a{f}", f"c{f}", f"gate{segment + 1}", SUPPLY, GROUND], SWITCH),
            part(f"C{f}", [f"c{f}", GROUND], cap),
            instance(f"Xr{f}", [f"c{f}", GROUND, "rst", SUPPLY, GROUND], SWITCH),
            instance(f"Xf{f}", [f"c{f}", f"fo{f}", f"fo{f}", "vp", GROUND], OPAMP)]


def clamp_bias_elements() -> list[Component]:
    """The clamps' shared base bias ``cb`` (:data:`CLAMP_BIAS_V`): divider from vdd, decoupling."""
    return [part("Rcb1", [SUPPLY, "cb"], CLAMP_DIVIDER_OHM[0]), part("Rcb2", ["cb", GROUND], CLAMP_DIVIDER_OHM[1]),
            part("Ccb", ["cb", GROUND], CLAMP_DECOUPLING_F)]


def lift_elements(network: ScoreNetwork, n_segments: int) -> list[Component]:
    """The lift :data:`LIFT`: a switch channel to ground per segment gate (closed while the window
    runs: the cells' law is about ground), and a follower of the sums' reference level (``vs``,
    or ``vr`` itself) on the switched rail driving it after the window through a switch channel
    on ``pwr`` and :data:`ISOLATION_OHM` (without that channel the unpowered follower's ~20 mV
    output lifts the plate ~1 mV through the ground channels during the window)."""
    level = "vr" if network.divider is None else "vs"
    grounds = [instance(f"Xl{k}", [LIFT, GROUND, f"gate{k}", SUPPLY, GROUND], SWITCH) for k in range(1, n_segments + 1)]
    return [*grounds, instance("Xlb", [level, "lb", "lb", "vp", GROUND], OPAMP),
            instance("Xlp", ["lb", "lr", "pwr", SUPPLY, GROUND], SWITCH), part("Rl", ["lr", LIFT], ISOLATION_OHM)]


def lifted(elements: list[Component]) -> list[Component]:
    """The cells' ``elements`` with their capacitors' and reset switches' ground plate on :data:`LIFT`."""
    out = []
    for e in elements:
        if e.kind == "C" or (e.kind == "X" and e.name.startswith("Xr")):
            e = dataclasses.replace(e, nodes=tuple(LIFT if n == GROUND else n for n in e.nodes[:2]) + tuple(e.nodes[2:]))
        out.append(e)
    return out


def _sum_elements(j: int, network: ScoreNetwork) -> list[Component]:
    """Class j's inverting sum about the sums' reference level (the lift, :data:`LIFT`): Rf, an
    input resistor per weight (E96), the bias."""
    elements = [instance(f"Xs{j}", [LIFT, f"s{j}", f"sc{j}", "vp", GROUND], OPAMP),
                part(f"Rf{j}", [f"sc{j}", f"s{j}"], FEEDBACK_OHM)]
    for f, w in enumerate(network.w[j - 1], start=1):
        if w > 0 and FEEDBACK_OHM / w <= MAX_INPUT_OHM:
            elements += _weight(f"Rw{j}_{f}", f"fo{f}", f"s{j}", FEEDBACK_OHM / w)
    b = float(network.b[j - 1])
    if b > 0 and FEEDBACK_OHM / b <= MAX_INPUT_OHM:
        elements += _weight(f"Rb{j}", "vp" if network.to_rail[j - 1] else GROUND, f"s{j}", FEEDBACK_OHM / b)
    return elements


def _weight(name: str, a: str, b: str, ohms: float) -> list[Component]:
    """A weight resistor of ``ohms`` from ``a`` to ``b``: one E96 part, or two in series within
    :data:`WEIGHT_TARGET` (a single E96 part misses by up to 1 %, which the sums' large common
    term turns into score errors of several units on tactile)."""
    pair = eseries.best_pair(ohms, "E96", WEIGHT_TARGET, connections=("series",))
    if len(pair.values) == 1:
        return [part(name, [a, b], pair.values[0])]
    mid = f"{name[1:].lower()}m"
    return [part(f"{name}a", [a, mid], pair.values[0]), part(f"{name}b", [mid, b], pair.values[1])]


def _wta_elements(n: int) -> list[Component]:
    """Comparators per ordered class pair (q<j>_<k> high when o_j > o_k), the AND networks, the
    shared threshold divider and the decision comparators driving ``dec<j>``."""
    threshold = and_threshold(n, VDD)
    low = _e96(THRESHOLD_OHM * threshold / VDD)
    elements = [part("Rt1", ["vp", "th"], _e96(THRESHOLD_OHM - low)), part("Rt2", ["th", GROUND], low)]
    for j in range(1, n + 1):
        for k in range(1, n + 1):
            if k != j:
                elements += [instance(f"Xc{j}_{k}", [f"sc{j}", f"sc{k}", f"q{j}_{k}", "vp", GROUND], COMPARATOR),
                             part(f"Ra{j}_{k}", [f"q{j}_{k}", f"m{j}"], AND_OHM)]
        elements.append(instance(f"Xd{j}", [f"m{j}", "th", f"dec{j}", "vp", GROUND], COMPARATOR))
    return elements


def readout_definition(cells: list[Cell], nets: list[str], network: ScoreNetwork, n_classes: int,
                       plan: Timing) -> SubcircuitDef:
    """The readout subcircuit: cells on ``nets`` (one per cell), the post-window stage and the
    winner-take-all; its timing sources (PWL V sources, which ``attach_readout`` turns into
    control ports) and the supply ``vdd`` among its ports."""
    elements: list[Component] = [pwl(f"Vseg{k}", [f"gate{k}", GROUND], gate) for k, gate in enumerate(plan.gates, 1)]
    elements += [pwl("Vreset", ["rst", GROUND], plan.reset), pwl("Vpower", ["pwr", GROUND], plan.power),
                 instance("Xpwr", [SUPPLY, "vp", "pwr", SUPPLY, GROUND], SWITCH),
                 part("Cvp", ["vp", GROUND], DECOUPLING_F),
                 instance("Xref", ["vr", "vp", GROUND], REFERENCE), *clamp_bias_elements()]
    if network.divider is not None:  # the sums' reference level (score_network)
        elements += [part("Rs1", ["vr", "vs"], network.divider[0]), part("Rs2", ["vs", GROUND], network.divider[1])]
    for f, (cell, net) in enumerate(zip(cells, nets), start=1):
        elements += lifted(cell_elements(f, net, cell.segment, cell.cap_f))
    elements += lift_elements(network, len(plan.gates))
    for j in range(1, n_classes + 1):
        elements += _sum_elements(j, network)
    elements += _wta_elements(n_classes)
    for e in elements:
        if e.kind in "RC" and e.part is None:
            e.part = PartInfo("E96" if e.kind == "R" else "E24")
    ports = list(dict.fromkeys(nets)) + [f"dec{j}" for j in range(1, n_classes + 1)] + \
        [f"sc{j}" for j in range(1, n_classes + 1)] + [SUPPLY]
    models = (definition(catalogue_part(DIODE)), definition(catalogue_part(CLAMP)))
    return SubcircuitDef("r2nn_readout", ports, elements,
                         "r2nn micropower readout: passive diode cells per feature, power-gated sums and "
                         "comparators, winner-take-all", models)


def supply_budget(n_features: int, n_classes: int, window_s: float, settle_s: float, n_segments: int = 0) -> dict:
    """The readout's quiescent draw from ``vdd`` (A) and its energy per decision (J) from the
    start of the window to the decision: the switch channels (two per cell, the power switch, and
    for the lift one per segment, ``n_segments``, and its follower's) all the time, the
    post-window stage (followers, the lift's, sums, comparators, reference) for ``settle_s``,
    plus loads known in advance: charging the switched rail's decoupling (C·VDD²) and one
    decision port high into its load (the lift moves the cells' capacitors, whose other plates
    float: no charge); the clamps' bias divider all the time. The sums' resistor networks'
    currents are not counted (they depend on the readings)."""
    sw, amp, cmp_, ref = (catalogue_part(n) for n in (SWITCH, OPAMP, COMPARATOR, REFERENCE))
    lift_channels = n_segments + 1 if n_segments else 0
    always = (2 * n_features + 1 + lift_channels) * sw.iq_a + VDD / sum(CLAMP_DIVIDER_OHM)
    gated = (n_features + n_classes + 1) * amp.iq_a + n_classes * n_classes * cmp_.iq_a + ref.iq_a
    gated += VDD / DECISION_LOAD_OHM
    charge = DECOUPLING_F * VDD ** 2
    return {"supply_volts": VDD, "always_on_amps": always, "post_window_amps": gated,
            "post_window_seconds": settle_s, "decoupling_joules": charge, "static_power_watts": always * VDD,
            "energy_per_decision_joules": VDD * (always * (window_s + settle_s) + gated * settle_s) + charge}


def realise(ctx: CompileContext) -> PassResult:
    """``readout_analog``'s transform for a diode-law layer at the parts level (module docstring).
    Raises CompileError for another analogy, dividers a resonator cannot absorb, or nets taken."""
    graph, model = ctx.require_graph("readout_analog"), ctx.model
    law, ro = model.readout.law, model.readout
    classes = model.classes
    if [p.node for p in ctx.outputs] != model.read_nodes or any(p.role != "tap" for p in ctx.outputs):
        raise CompileError("readout_analog: the port maps are not the linear layer's taps")
    if any(f"dec{j + 1}" in graph.graph for j in range(len(classes))):
        raise CompileError("readout_analog: net dec1 already exists: the readout was added before")
    taps, segments = (a.tolist() for a in feature_taps(model))
    gains = np.array([f.gain for f in ro.features])
    node_gain = _hang_taps(ctx)
    factor = _scale_inputs(ctx, node_gain, gains, np.array(taps))
    node_gain = node_gain * factor
    ratios = gains / node_gain[taps]
    nets = _dividers(ctx, ratios, np.array(taps))
    cap = cap_for(law.rate / ctx.time_scale, law.nvt, ctx.options.series.get("C", "E24"))
    cells = [Cell(i, k, cap, float(r)) for i, k, r in zip(taps, segments, ratios)]
    _, biases, matrix = ro.feature_matrix()
    vref = catalogue_part(REFERENCE).vref_v
    rule = ScaleRule(ctx.options.score_scale) if ctx.options.score_scale else None
    network = score_network(np.array(biases), np.array(matrix), law.clip, vref, VDD, calibration_readings(ctx), rule)
    settle = settling_time(network, law.clip)
    bounds = [b * ctx.time_scale for b in ro.boundaries]
    plan = timing(bounds, settle)
    _add_decision_ports(ctx, classes)
    graph = ctx.graph
    readout = readout_definition(cells, nets, network, len(classes), plan)
    defs = [definition(catalogue_part(n)) for n in (SWITCH, OPAMP, COMPARATOR, REFERENCE)]
    description = _description(ctx, readout, defs, cells, network, plan, bounds)
    attach_readout(graph, description, list(readout.ports[:-1]), ctx.options.tolerance)
    graph.meta["readout"] = description
    graph.meta["decision_settling_s"] = settle
    graph.meta["decisions"] = [{"class": c, "port": f"dec{j + 1}", "high_volts": VDD,
                                "valid_after_s": bounds[-1] + settle} for j, c in enumerate(classes)]
    return PassResult(True, _summary(description, factor, ratios, settle),
                      {"level": "micropower", "parts": description["parts"], "decisions": graph.meta["decisions"],
                       "input_scale": factor, "volts_per_unit_score": network.a,
                       "cap_f": cap, "energy": description["energy"]})


#: The quadrature of the calibration readings: sub-steps of this fraction of e^x's peak width
#: (reference.diode.system_grids; ≈ 3e-5 relative, 16× fewer nodes than the exact 0.1).
CALIBRATION_GRID = 0.4


def calibration_readings(ctx: CompileContext) -> np.ndarray | None:
    """The reference's readings ψ (clips × features, V) of the model's layer on the compile's
    calibration signals (``options.calibration_signals``), or None without any. CompileError
    naming the calibration signals for one that ends before the window."""
    signals = ctx.options.calibration_signals
    if not signals:
        return None
    model = ctx.model
    system = reference.state_space(model)
    groups: dict[tuple[float, int], list[np.ndarray]] = {}
    for sig in signals:
        data = np.asarray(sig.data, dtype=float)
        groups.setdefault((float(sig.rate_hz), data.shape[-1]), []).append(data)
    rows = []
    for (rate, n), members in groups.items():
        try:
            reference.require_window(model, n, rate)
        except SignalError as err:
            raise CompileError(f"calibration signal: {err}", Location(parameter="calibration_signals")) from None
        grids = system_grids(model, system, np.stack(members), rate, fraction=CALIBRATION_GRID)
        rows += [readings_on_grid(model, grid) for grid in grids]
    return np.concatenate(rows)


def _add_decision_ports(ctx: CompileContext, classes: list[str]) -> None:
    """A decision port ``dec<j>`` per class with its :data:`DECISION_LOAD_OHM` load, ports reordered."""
    add_decision_ports(ctx, [(cls, cls) for cls in classes], DECISION_LOAD_OHM,
                       "class {cls} decision port load (a CMOS input)")


def _description(ctx: CompileContext, readout: SubcircuitDef, defs: list[SubcircuitDef], cells: list[Cell],
                 network: ScoreNetwork, plan: Timing, bounds: list[float]) -> dict:
    """``graph.meta["readout"]``: the keys of the behavioural layer's description (``level``,
    ``detector``, ``subckt``, ``subcircuits``, ``high_volts``, ``window_s``, ``segments_s``,
    ``parts``, ``features``, ``detectors``) plus the design: ``supplies``, ``energy``
    (:func:`supply_budget`), ``volts_per_unit_score``, ``cells``."""
    model = ctx.model
    law = model.readout.law
    parts = part_counts(readout.components)
    for name, kind in ((SWITCH, "switch channels"), (OPAMP, "op-amps"), (COMPARATOR, "comparators"),
                       (REFERENCE, "voltage references")):
        parts[kind] = sum(1 for c in readout.components if c.kind == "X" and c.subckt == name)
    parts.pop("timing sources", None)
    window = bounds[-1] - bounds[0]
    return {"level": "parts", "design": "micropower",
            "detector": f"passive diode cells ({DIODE}, {cells[0].cap_f:.3g} F) per feature, diode law "
                        f"nvt {law.nvt:g} V, rate {law.rate:g}/s, clip {law.clip:g} V",
            "subckt": readout.name, "subcircuits": [*defs, readout], "volts_per_mean_square": None,
            "high_volts": VDD, "window_s": [bounds[0], bounds[-1]], "segments_s": bounds,
            "detector_limit_v": None, "parts": parts, "supplies": {SUPPLY: VDD},
            "features": [{"name": f.name, "cell_net": f"c{n}", "segment": c.segment, "gain_ratio": c.ratio}
                         for n, (f, c) in enumerate(zip(model.readout.features, cells), start=1)],
            # The sums' outputs: K + a·s_j − a·Σ_f c_f ψ_f, the scores up to a term common to every class.
            "detectors": [{"class": c, "net": f"sc{j}", "volts_per_unit_score": network.a}
                          for j, c in enumerate(model.classes, start=1)],
            "scores_up_to_common_offset": True, "buffers": [], "volts_per_unit_score": network.a,
            "energy": supply_budget(len(cells), len(model.classes), window, plan.settle_s, len(plan.gates)),
            "score_scale": network.to_json(),
            "post_window_s": plan.power_s}


def _summary(description: dict, factor: float, ratios: np.ndarray, settle: float) -> str:
    parts = description["parts"]
    energy = description["energy"]
    dividers = int(np.sum(ratios < 1 - 1e-9))
    return (f"micropower readout of a diode-law layer on one {VDD:g} V supply: {len(ratios)} passive cells on the "
            f"resonator nodes ({dividers} through gain dividers; input volts per unit ×{factor:.4g}), "
            "power-gated sums and comparators; parts: " + ", ".join(f"{v} {k}" for k, v in parts.items() if v) +
            f"; decisions valid {settle * 1e3:.3g} ms after the window; estimated "
            f"{energy['energy_per_decision_joules'] * 1e6:.3g} µJ per decision from {SUPPLY}")
