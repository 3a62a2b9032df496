"""Pass ``realise_inductors``: every resonator's spring inductor becomes an Antoniou GIC.

Matches: ``options.inductors == "gic"``. Precondition: force-current graph after ``scale``,
``realise_negative`` and ``quantise``, before ``break_dc_loops``. Replaces each resonator's
grounded spring inductor (one part or a quantised series pair) by an Antoniou GIC of E-series
parts (two op-amps, R1, R2, R3, C, R5 trimmed so L·C restores the ideal f0 with the deck's
op-amp model), plus a loss-compensating resistor where the GIC undamps its resonator. Parts get
role ``active`` and the quantise ``PartInfo``. CompileError for floating inductors, force-voltage
graphs and inductors with a modelled winding loss; the whole graph's poles must decay.
Topology, derivation and value choices: docs/passes.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .. import eseries
from ..circuit import GROUND, CircuitGraph, Component, Port, SubcircuitDef, mna_matrices
from ..circuit.opamp import OpampModel, from_options, subcircuit
from ..circuit.annotations import ideal_value_of
from ..circuit.annotations import opamps as graph_opamps
from ..errors import CompileError, Location
from ..eseries import Pair
from ..reference import default_grid, state_space
from .base import ELEMENT, MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common.poles import fresh_designators, pole_text, slowest, slowest_pole, swap_model
from .common.realise import realise
from .common.response import circuit_response, reference_response, relative_error
from .common.tanks import IN_SERIES_WITH

#: Inductor realisations ``CompileOptions.inductors`` may name.
INDUCTOR_KINDS = ("passive", "gic")

#: R2 = R3 (ohm), and the level R5 is aimed at through the choice of C: the op-amps' loads stay
#: far above the TL072's 2 kΩ rating, and far below the megohms where input capacitance matters.
GIC_R_OHM = 10e3

#: R1 / Z0 ratios tried (each rounded to the resistor series): from a third to thirty times the
#: resonator's characteristic impedance, in steps of 10^(1/6).
R1_RATIOS = tuple(10 ** (k / 6) for k in range(-3, 10))

#: Fraction of the op-amp swing a unit-amplitude sine on every input may use at a GIC output:
#: the rest is margin for broadband inputs whose components add up.
HEADROOM_FRACTION = 0.25

#: Smallest shift of a resonator's Q (relative) from a negative GIC loss that is compensated
#: with a resistor; smaller shifts are reported only.
COMPENSATE_ABOVE = 1e-3

#: Relative errors the R5 trim tries in turn (a single part, else a series pair):
#: the first met wins; f0 then lands within half of it.
TRIM_TARGETS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)

#: Secant steps (at most) of the R5 pre-compensation for the op-amps' GBW, and the relative
#: inductance error at which it stops (far below the trim pair's rounding).
COMPENSATION_STEPS = 8
COMPENSATION_TOLERANCE = 1e-9

#: Frequencies (on the model's grid) at which the pass reports the H(jω) error and the op-amp
#: output peaks.
GRID_POINTS = 100


@dataclass(frozen=True)
class GicValues:
    """The five passive parts of one GIC (ohm, ohm, ohm, farad, ohm)."""

    r1: float
    r2: float
    r3: float
    c: float
    r5: float

    @property
    def inductance(self) -> float:
        """L = C·R1·R3·R5/R2 in henry (ideal op-amps)."""
        return self.c * self.r1 * self.r3 * self.r5 / self.r2


def gic_graph(values: GicValues, opamp: SubcircuitDef) -> CircuitGraph:
    """One GIC on its own: port net ``p`` (an input port), op-amp instances of ``opamp``
    (ports inp, inn, out); nets a, b, c, d as in docs/passes.md."""
    graph = CircuitGraph("Antoniou GIC")
    graph.add_port(Port("p", "input"))
    graph.define_subcircuit(opamp)
    for comp in _parts("p", values, opamp.name, ("X1", "X2"), ("R1", "R2", "R3", "R5"), "C1", ("a", "b", "c", "d")):
        graph.add(comp)
    return graph


def gic_impedance(values: GicValues, opamp: SubcircuitDef, freqs_hz) -> np.ndarray:
    """The GIC's input impedance Z(j2πf) in ohm at ``freqs_hz`` (circuit Hz), by MNA: the port
    driven by a voltage source, the current read through R1."""
    system = mna_matrices(gic_graph(values, opamp), ["p"])
    v_a = system.ac(np.atleast_1d(np.asarray(freqs_hz, dtype=float)), ["a"])[0, 0]
    return values.r1 / (1.0 - v_a)


def effective_inductance(values: GicValues, opamp: SubcircuitDef, f_hz: float) -> tuple[float, float]:
    """(L_eff = Im Z/ω in henry, Q_L = Im Z/Re Z) of the GIC at ``f_hz``; Q_L is infinite for a
    lossless GIC and negative when the op-amps make the loss negative."""
    z = complex(gic_impedance(values, opamp, [f_hz])[0])
    q = z.imag / z.real if z.real != 0 else math.inf
    return z.imag / (2 * math.pi * f_hz), q


@dataclass(frozen=True)
class GicDesign:
    """One GIC's values (R5 as built: the trim pair's value) and its figures at f0 with the op-amp
    model: ``r5_pair`` the trim, ``ideal`` the values before rounding (R5: the one the pair
    aims at, GBW compensated), ``l_error_uncompensated`` the GBW error of L before the trim,
    ``l_error`` after it, ``q_l`` the GIC's own quality factor (Im Z/Re Z), ``loss_s`` its
    conductance Re Y(jω0) in siemens (0 for an ideal GIC; negative: it undamps)."""

    values: GicValues
    r5_pair: Pair
    ideal: GicValues
    l_error_uncompensated: float
    l_error: float
    q_l: float
    loss_s: float


def design_gic(l_h: float, f0_hz: float, opamp: SubcircuitDef, r_series: str = "E96", c_series: str = "E24",
               c_range: tuple[float, float] = (0.0, math.inf), peak_v=None) -> GicDesign:
    """The GIC of ``l_h`` henry trimmed at ``f0_hz`` (circuit Hz) with op-amps ``opamp`` and parts
    of series ``r_series`` and ``c_series`` (C within ``c_range``, farad); see the module
    docstring. ``peak_v(r1_ohm)`` returns ``(peak, limit)`` in volts: the peak output voltage a
    choice of R1 would reach at the design input level, and the most allowed (None: no limit).
    R1 minimises |δL| + |1/Q_L| at f0 among the values within the limit (the least loud if none
    is). Raises ValueError (from the E-series functions) for an unknown series name."""
    w0 = 2 * math.pi * f0_hz
    z0 = w0 * l_h
    c_lo, c_hi = c_range

    def exact(r1: float) -> GicValues:
        """Unrounded values around R1 = ``r1`` (R5 from L, C aiming R5 at GIC_R_OHM)."""
        c = min(max(z0 / (w0 * r1 * GIC_R_OHM), c_lo), c_hi)
        return GicValues(r1, GIC_R_OHM, GIC_R_OHM, c, l_h / (c * r1))

    def rounded(ideal: GicValues) -> GicValues:
        r1, r2, c = (eseries.nearest(ideal.r1, r_series), eseries.nearest(ideal.r2, r_series),
                     eseries.nearest(ideal.c, c_series))
        return GicValues(r1, r2, r2, c, l_h / (c * r1))

    def cost(v: GicValues) -> float:
        l_eff, q = effective_inductance(v, opamp, f0_hz)
        return abs(l_eff / l_h - 1) + abs(1 / q)

    choices: dict[GicValues, GicValues] = {}  # rounded values → the unrounded ones they round
    for k in R1_RATIOS:
        ideal = exact(z0 * k)
        choices.setdefault(rounded(ideal), ideal)
    if peak_v is not None:
        loud = {v: peak_v(v.r1) for v in choices}
        within = [v for v in choices if loud[v][0] <= loud[v][1]]
        choices = {v: choices[v] for v in within or [min(choices, key=lambda v: loud[v][0])]}
    base = min(choices, key=cost)
    l_raw, _ = effective_inductance(base, opamp, f0_hz)
    r5 = _solve_r5(base, l_h, l_raw, opamp, f0_hz)
    trim = _trimmed(r5, r_series)
    values = dataclasses.replace(base, r5=trim.achieved)
    z = complex(gic_impedance(values, opamp, [f0_hz])[0])
    return GicDesign(values, trim, dataclasses.replace(choices[base], r5=r5), l_raw / l_h - 1,
                     z.imag / (w0 * l_h) - 1, z.imag / z.real if z.real else math.inf, (1 / z).real)


@register
class RealiseInductors(Pass):
    name = "realise_inductors"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None and ctx.options.inductors != "passive"

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.require_graph(self.name)
        options = ctx.options
        if options.inductors not in INDUCTOR_KINDS:
            raise CompileError(f"unknown inductor realisation {options.inductors!r}: expected one of "
                               f"{', '.join(INDUCTOR_KINDS)}", Location(parameter="inductors"))
        inductors = graph.components_of("L")
        if not inductors:
            return PassResult(False, "no inductors to realise")
        groups = _spring_groups(ctx, graph, inductors)

        opamp = from_options(options)
        proof = opamp if opamp.kind == "macro" else dataclasses.replace(opamp, kind="macro")
        freqs = default_grid(ctx.model, GRID_POINTS)
        h_model = reference_response(ctx.model, freqs)
        h_before = relative_error(circuit_response(ctx, freqs), h_model)

        loudness = _unit_input_peaks(ctx, {net: sum(c.value for c in group) for net, group in groups.values()})
        graph = graph.copy()
        graph.define_subcircuit(subcircuit(proof))
        emitted = subcircuit(opamp)
        budget = HEADROOM_FRACTION * opamp.swing_v
        records = [self._realise(ctx, graph, element, net, group, proof.subckt_name, emitted,
                                 lambda r1, n=net: (float(np.max(loudness[n][0] + r1 * loudness[n][1])), budget))
                   for element, (net, group) in groups.items()]
        inputs = [p.net for p in ctx.inputs]
        if opamp.kind != proof.kind:
            _require_decaying(slowest_pole(graph, inputs), proof)
            graph = swap_model(graph, proof, opamp)
        loads = _output_loads(graph, records)
        nets = sorted({n for comps in loads.values() for c in comps for n in c.nodes} - {GROUND})
        # One reduction to a state space serves the proof, H(jω) and the peaks: on circuits with
        # op-amps it is an order of magnitude faster than solving the full MNA per frequency.
        system = mna_matrices(graph, inputs).state_space([p.net for p in ctx.outputs] + nets)
        pole = slowest(system.poles())
        _require_decaying(pole, opamp)
        graph.meta["opamp_model"] = opamp.as_dict()
        ctx.graph = graph

        peak_freqs = _peak_freqs(ctx)
        h = system.frequency_response(np.concatenate([freqs / ctx.time_scale, peak_freqs]))
        n_out = len(ctx.outputs)
        gains = (np.array([p.gain for p in ctx.inputs])[None, :, None]
                 / np.array([p.gain for p in ctx.outputs])[:, None, None])
        h_after = relative_error(h[:n_out, :, :freqs.size] * gains, h_model)
        _output_peaks(records, loads, dict(zip(nets, h[n_out:, :, freqs.size:])), peak_freqs, opamp.swing_v)
        return _result(ctx, records, opamp, pole, h_before, h_after)

    def _realise(self, ctx: CompileContext, graph: CircuitGraph, element: str, net: str, group: list[Component],
                 subckt: str, emitted: SubcircuitDef, peak_v) -> dict:
        """Replace resonator ``element``'s inductor chain ``group`` (from ``net`` to ground) by a
        GIC of E-series parts (and a loss-compensating resistor if needed); return its record."""
        options = ctx.options
        cap = _capacitance(graph, element)
        l_target = ideal_value_of(group[0], sum(c.value for c in group)) * cap.ideal / cap.achieved
        f0 = 1.0 / (2 * math.pi * math.sqrt(l_target * cap.achieved))
        r_series, c_series = (_series(options, kind) for kind in ("R", "C"))
        design = design_gic(l_target, f0, emitted, r_series, c_series, options.ranges.get("C", (0.0, math.inf)),
                            peak_v)
        q_model = next((r.q for r in ctx.model.resonators if r.name == element), math.inf)

        xs = fresh_designators(graph, "X", 2)
        rs = fresh_designators(graph, "R", 4)
        (cs,) = fresh_designators(graph, "C", 1)
        nets = tuple(f"{xs[0].lower()}_{suffix}" for suffix in ("a", "b", "c", "d"))
        attrs = {ROLE: "active", ELEMENT: element, "realises": "stiffness"}
        origin = f"GIC for resonator {element} stiffness"
        parts = _parts(net, design.ideal, subckt, xs, rs, cs, nets, attrs, origin)
        built = design.values
        plan = {name: Pair("single", (value,), value, abs(value / ideal - 1)) for name, value, ideal in
                ((rs[0], built.r1, design.ideal.r1), (rs[1], built.r2, design.ideal.r2),
                 (rs[2], built.r3, design.ideal.r3), (cs, built.c, design.ideal.c))}
        plan[rs[3]] = design.r5_pair
        compensation = None
        z0 = 2 * math.pi * f0 * l_target
        if design.loss_s < 0 and (not math.isfinite(q_model) or abs(q_model * design.loss_s * z0) > COMPENSATE_ABOVE):
            (compensation,) = fresh_designators(graph, "R", 5)[4:]
            parts.append(Component(compensation, "R", (net, GROUND), -1.0 / design.loss_s,
                                   origin=f"{origin}: loss compensation", attrs=dict(attrs)))
            plan[compensation] = _trimmed(-1.0 / design.loss_s, r_series)
        # What the resonator sees at f0: the GIC's conductance plus any compensating resistor's.
        loss = design.loss_s + (1.0 / plan[compensation].achieved if compensation else 0.0)
        shift = -q_model * loss * z0 if math.isfinite(q_model) else None
        for comp in group[1:]:
            graph.remove(comp.name)
        graph.replace(group[0].name, *parts)
        realised: dict[str, tuple[str, float]] = {}
        for comp in parts:
            if comp.kind == "X":
                continue
            series = c_series if comp.kind == "C" else r_series
            for part in realise(graph, comp, plan[comp.name], series, options.tolerance[comp.kind]):
                realised[part.name] = (part.kind, part.value)
        return {"element": element, "net": net, "replaced": [c.name for c in group], "target_h": l_target,
                "f0_hz": f0, "q": q_model, "opamps": list(xs), "output_nets": [nets[0], nets[2]],
                "values": dataclasses.asdict(built), "parts": realised,
                "r5_pair": {"connection": design.r5_pair.kind, "parts": list(design.r5_pair.values),
                            "relative_error": design.r5_pair.rel_error},
                "l_error_uncompensated": design.l_error_uncompensated, "l_error": design.l_error,
                "q_l": design.q_l, "loss_compensation": compensation, "resonator_q_shift": shift}


def _parts(net: str, values: GicValues, subckt: str, xs, rs, cs: str, nets, attrs: dict | None = None,
           origin: str = "GIC") -> list[Component]:
    """The GIC's components at port ``net`` (see docs/passes.md), with designators
    ``xs`` (A1, A2), ``rs`` (R1, R2, R3, R5), ``cs`` and internal nets ``nets`` (a, b, c, d)."""
    a, b, c, d = nets
    attrs = attrs or {}

    def part(name: str, kind: str, nodes: tuple, value: float, what: str) -> Component:
        return Component(name, kind, nodes, value, origin=f"{origin}: {what}", attrs=dict(attrs))

    return [
        Component(xs[0], "X", (d, b, a), subckt=subckt, origin=f"{origin}: op-amp A1", attrs=dict(attrs)),
        Component(xs[1], "X", (net, b, c), subckt=subckt, origin=f"{origin}: op-amp A2", attrs=dict(attrs)),
        part(rs[0], "R", (net, a), values.r1, "R1 port to A1 output"),
        part(rs[1], "R", (a, b), values.r2, "R2 A1 output to inverting inputs"),
        part(rs[2], "R", (b, c), values.r3, "R3 inverting inputs to A2 output"),
        part(cs, "C", (c, d), values.c, "C A2 output to R5"),
        part(rs[3], "R", (d, GROUND), values.r5, "R5 to ground, trims L"),
    ]


def _result(ctx: CompileContext, records: list[dict], opamp: OpampModel, pole: complex, h_before: float,
            h_after: float) -> PassResult:
    """The pass's log entry: the worst GIC (L error, GBW error, Q shift, headroom), the slowest
    pole, the H(jω) error before and after, and the resistors outside ``options.ranges['R']``."""
    graph = ctx.graph
    lo, hi = ctx.options.ranges.get("R", (0.0, math.inf))
    outside = sorted(name for r in records for name, (kind, value) in r["parts"].items()
                     if kind == "R" and not lo <= value <= hi)
    worst = {key: max(records, key=lambda r: abs(r[key] or 0.0)) for key in
             ("l_error", "l_error_uncompensated", "resonator_q_shift")}
    l_worst, gbw_worst, q_worst = (worst["l_error"], worst["l_error_uncompensated"], worst["resonator_q_shift"])
    least_headroom = min(records, key=lambda r: r["headroom"])
    summary = (f"{len(records)} spring inductor(s) → Antoniou GICs with {2 * len(records)} op-amps "
               f"({opamp.describe()}): L error at f0 {_signed(l_worst['l_error'])} ({l_worst['element']}; "
               f"the GBW error {_signed(gbw_worst['l_error_uncompensated'])} trimmed by R5), resonator Q shift "
               f"{_signed(q_worst['resonator_q_shift'])} ({q_worst['element']}); op-amp outputs peak "
               f"{least_headroom['peak_v_per_unit_input']:.3g} V per unit input ({least_headroom['element']}, "
               f"×{least_headroom['headroom']:.3g} headroom to ±{opamp.swing_v:g} V); "
               f"slowest pole {pole.real:.4g} 1/s; H(jω) error {h_after:.2e} (was {h_before:.2e})")
    if outside:
        summary += f"; {len(outside)} resistor(s) outside {lo:g}..{hi:g} ohm ({', '.join(outside)})"
    return PassResult(True, summary, {
        "realised": records, "opamps": [op.as_dict() for op in graph_opamps(graph)], "opamp_model": opamp.as_dict(),
        "slowest_pole": [pole.real, pole.imag], "h_relative_error_before": h_before,
        "h_relative_error": h_after, "resistors_out_of_range": outside,
        "worst_l_error": l_worst["l_error"], "worst_resonator_q_shift": q_worst["resonator_q_shift"],
        "least_headroom": least_headroom["headroom"]})


@dataclass(frozen=True)
class _Capacitance:
    achieved: float
    ideal: float


def _capacitance(graph: CircuitGraph, element: str) -> _Capacitance:
    """The mass capacitance of resonator ``element`` (F) as built (one part or a pair) and as
    the ideal graph had it (the parts' ``ideal_value``, else the same)."""
    caps = [c for c in graph.components_of("C") if c.attrs.get(ROLE) == "mass" and c.attrs.get(ELEMENT) == element]
    if not caps or len(caps) > 2:
        raise CompileError(f"realise_inductors: resonator {element} has {len(caps)} mass capacitor(s); expected "
                           "one or a quantised pair")
    values = [c.value for c in caps]
    if len(caps) == 1 or (caps[0].part is not None and caps[0].part.pair == "parallel"):
        achieved = sum(values)
    else:
        achieved = 1.0 / sum(1.0 / v for v in values)
    return _Capacitance(achieved, ideal_value_of(caps[0], achieved))


def _spring_groups(ctx: CompileContext, graph: CircuitGraph, inductors: list[Component]
                   ) -> dict[str, tuple[str, list[Component]]]:
    """Each resonator's net and stiffness inductors (one, or a quantised series pair from that
    net to ground), by element; CompileError for any inductor a grounded GIC cannot replace."""
    losses = {c.attrs[IN_SERIES_WITH] for c in graph.components if IN_SERIES_WITH in c.attrs}
    groups: dict[str, list[Component]] = {}
    for comp in inductors:
        what = comp.origin or comp.attrs.get(ELEMENT, comp.name)
        if ctx.model.analogy == "force_voltage":
            raise CompileError(f"realise_inductors: {what} ({comp.name}) is a series inductor in a force-voltage mesh, "
                               "which a grounded GIC cannot realise: compile with analogy force_current or "
                               "--inductors passive", Location(parameter="inductors"))
        if comp.attrs.get(ROLE) != "stiffness":
            raise CompileError(f"realise_inductors: {what} ({comp.name} = {comp.value:.4g} H) is a floating inductor, "
                               "which a grounded GIC cannot realise: compile with --inductors passive, or train "
                               "with damper couplings only", Location(parameter="inductors"))
        if comp.name in losses:
            raise CompileError(f"realise_inductors: {what} ({comp.name}) carries a modelled winding loss "
                               "(--parasitics), which a GIC does not have: compile without --parasitics, or with "
                               "--inductor-q inf to keep only the capacitor ESR", Location(parameter="inductors"))
        groups.setdefault(comp.attrs.get(ELEMENT, comp.name), []).append(comp)
    chains = {}
    for element, group in groups.items():
        names = {c.name for c in group}
        ends = [n for c in group for n in c.nodes]
        inner = {n for n in ends if n != GROUND and all(x.name in names for x in graph.components_at(n))}
        outer = [n for n in ends if n not in inner]
        if GROUND not in outer or len(set(outer)) != 2 or len(outer) != 2 or any(ends.count(n) != 2 for n in inner):
            raise CompileError(f"realise_inductors: resonator {element}'s stiffness inductors "
                               f"({', '.join(sorted(names))}) are not one chain from its net to ground")
        chains[element] = (next(n for n in outer if n != GROUND), group)
    return chains


def _solve_r5(values: GicValues, l_h: float, l_first: float, opamp: SubcircuitDef, f0_hz: float) -> float:
    """The R5 (ohm) at which the GIC ``values`` (R5 aside) has inductance ``l_h`` at ``f0_hz``
    with op-amps ``opamp``: secant steps on ln L(ln R5), from ``values.r5`` (where L is
    ``l_first``) and the ideal-op-amp slope of 1 (L ∝ R5)."""
    x0, g0 = math.log(values.r5), math.log(l_first / l_h)
    x1 = x0 - g0
    for _ in range(COMPENSATION_STEPS):
        if abs(g0) < COMPENSATION_TOLERANCE:
            return math.exp(x0)
        g1 = math.log(effective_inductance(dataclasses.replace(values, r5=math.exp(x1)), opamp, f0_hz)[0] / l_h)
        if g1 == g0:
            break
        x0, g0, x1 = x1, g1, x1 - g1 * (x1 - x0) / (g1 - g0)
    return math.exp(x0)


def _series(options, kind: str) -> str:
    """The E-series name ``options.series`` gives parts of ``kind``; CompileError if none or unknown."""
    name = options.series.get(kind)
    try:
        eseries.series(name)
    except ValueError as err:
        raise CompileError(f"realise_inductors: GIC parts of kind {kind} need an E-series: {err}",
                           Location(parameter="series")) from None
    return name.upper()


def _trimmed(value: float, series: str) -> Pair:
    """The single part or series pair nearest ``value`` within the first of :data:`TRIM_TARGETS`
    that one meets (the best pair found if none does). Series only: the trim part is then small
    (tens of ohms), where a parallel trim would be tens of megohms, leaky on a real board."""
    for target in TRIM_TARGETS:
        pair = eseries.best_pair(value, series, target, ("series",))
        if pair.rel_error <= target:
            return pair
    return pair


def _unit_input_peaks(ctx: CompileContext, inductance: dict[str, float]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per resonator net (keys of ``inductance``, its inductor in henry): |V| (volts) and the
    inductor current |V/(jωL)| (amperes) for a unit-amplitude sine on every input (|H| summed
    over inputs), over the frequencies of :func:`_peak_freqs`."""
    freqs = _peak_freqs(ctx)
    nets = list(inductance)
    volts = np.abs(mna_matrices(ctx.graph, [p.net for p in ctx.inputs]).ac(freqs, nets)).sum(axis=1)
    return {n: (volts[i], volts[i] / (2 * np.pi * freqs * inductance[n])) for i, n in enumerate(nets)}


def _peak_freqs(ctx: CompileContext) -> np.ndarray:
    """Circuit frequencies (Hz) where peaks are looked for: the model's grid and every damped
    natural frequency in it (so no resonance falls between grid points)."""
    grid = default_grid(ctx.model, GRID_POINTS)
    ringing = np.abs(state_space(ctx.model).poles().imag) / (2 * math.pi)
    return np.union1d(grid, ringing[(ringing >= grid[0]) & (ringing <= grid[-1])]) / ctx.time_scale


def _output_loads(graph: CircuitGraph, records: list[dict]) -> dict[str, list[Component]]:
    """The resistors and capacitors each GIC op-amp output drives, by output net."""
    return {out: [c for c in graph.components_at(out) if c.kind in "RC" and out in c.nodes]
            for record in records for out in record["output_nets"]}


def _output_peaks(records: list[dict], loads: dict[str, list[Component]], volts: dict[str, np.ndarray],
                  freqs_hz: np.ndarray, swing_v: float) -> None:
    """Add each GIC's op-amp output peaks to its record: ``peak_v_per_unit_input`` (V) and
    ``peak_a_per_unit_input`` (A, the current each output sources into its R and C) for a
    unit-amplitude sine on every input at once (|H| summed over inputs) at ``freqs_hz``
    (circuit Hz), from the node voltages ``volts`` (net → inputs × freqs); ``headroom`` =
    swing / peak voltage."""
    s = 2j * np.pi * freqs_hz

    def v(net: str) -> np.ndarray | float:
        return volts[net] if net != GROUND else 0.0

    for record in records:
        peaks_v, peaks_a = [], []
        for out in record["output_nets"]:
            current = sum((v(out) - v(c.nodes[1] if c.nodes[0] == out else c.nodes[0]))
                          * (1.0 / c.value if c.kind == "R" else s * c.value) for c in loads[out])
            peaks_v.append(float(np.abs(volts[out]).sum(axis=0).max()))
            peaks_a.append(float(np.abs(current).sum(axis=0).max()))
        record["peak_v_per_unit_input"] = max(peaks_v)
        record["peak_a_per_unit_input"] = max(peaks_a)
        record["headroom"] = swing_v / max(peaks_v) if max(peaks_v) > 0 else math.inf


def _require_decaying(pole: complex, opamp: OpampModel) -> None:
    if pole.real >= 0:
        raise CompileError(f"realise_inductors: with the GICs and the {opamp.describe()} the circuit has a growing "
                           f"pole {pole_text(pole)}")


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1e}"
