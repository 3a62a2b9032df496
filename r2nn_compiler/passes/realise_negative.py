"""Pass ``realise_negative``: replace negative resistors and inductors by op-amp circuits.

Matches: any graph; changes nothing without negative elements. Precondition: force-current
graph, before ``quantise`` and ``break_dc_loops``. Grounded negative dampings at a net merge
and become a negative-impedance converter (one op-amp, three resistors); negative floating
dampers and springs become a difference-amplifier pair. Op-amps are instances of
``options.opamp``; every new part has role ``active``, ``element`` and ``realises``. The whole
graph's poles (macromodel) must lie in the left half-plane, else CompileError naming the
element. Force-voltage graphs with negative elements: CompileError. Circuits, derivations and
measured errors: docs/passes.md.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..circuit import GROUND, CircuitGraph, Component
from ..circuit.opamp import OpampModel, from_options, subcircuit
from ..circuit.annotations import opamps as graph_opamps
from ..errors import CompileError
from ..reference import default_grid
from .base import ELEMENT, MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common.poles import fresh_designators, pole_text, slowest_pole, swap_model
from .common.response import circuit_response, reference_response, relative_error

SCS = "short-circuit-stable"
OCS = "open-circuit-stable"

#: NIC divider resistors R2 = R3 (ohm): the op-amp's output load is 2·DIVIDER_OHM in parallel
#: with R1, above the 2 kΩ the TL072's gain is specified into, and far above its output resistance.
DIVIDER_OHM = 10e3

#: Difference-amplifier resistor Ra as a multiple of the coupling's impedance (see docs/passes.md).
RA_RATIO = 10.0

#: Frequencies (on the model's grid) at which the pass reports the H(jω) error.
ERROR_GRID_POINTS = 100


@register
class RealiseNegative(Pass):
    name = "realise_negative"
    after = MAPPING + ("scale",)

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.graph
        negative = [c for c in graph.components if c.kind in ("R", "L", "C") and c.value < 0]
        if not negative:
            return PassResult(False, "no negative elements to realise")
        _require_realisable(ctx, negative)
        opamp = from_options(ctx.options)
        proof = opamp if opamp.kind == "macro" else dataclasses.replace(opamp, kind="macro")
        inputs = [p.net for p in ctx.inputs]
        before = slowest_pole(graph, inputs)
        if before.real >= 0:
            raise CompileError(f"realise_negative: the graph is unstable before any realisation (pole "
                               f"{pole_text(before)}): an earlier pass changed the network")
        graph, records, proven = _realise_all(ctx, graph, negative, proof, inputs)
        if opamp.kind != proof.kind:
            graph, proven = swap_model(graph, proof, opamp), None
        after = proven if proven is not None else slowest_pole(graph, inputs)
        if after.real >= 0:
            raise CompileError(f"realise_negative: with the {opamp.describe()} the circuit has a growing pole "
                               f"{pole_text(after)}")
        graph.meta["opamp_model"] = opamp.as_dict()
        ctx.graph = graph
        return _result(ctx, records, opamp, before, after)


def _require_realisable(ctx: CompileContext, negative: list[Component]) -> None:
    """CompileError unless every ``negative`` element has an active realisation here: a
    force-current graph, no negative C, no negative grounded L."""
    if ctx.model.analogy == "force_voltage":
        comp = negative[0]
        raise CompileError(f"realise_negative: {comp.origin or comp.name} is a negative series {comp.kind} "
                           f"({comp.name} = {comp.value:.4g} {comp.unit}) in a force-voltage mesh, which is not "
                           "realised: compile with analogy force_current")
    for comp in negative:
        if comp.kind == "C" or (comp.kind == "L" and GROUND in comp.nodes):
            raise CompileError(f"realise_negative: no active realisation for {comp.name} = {comp.value:.4g} "
                               f"{comp.unit} ({comp.origin or 'no origin'}): only negative grounded resistors "
                               "and negative floating resistors or inductors are realised")


def _realise_all(ctx: CompileContext, graph: CircuitGraph, negative: list[Component], proof: OpampModel,
                 inputs: list[str]) -> tuple[CircuitGraph, list[dict], complex | None]:
    """Realise every ``negative`` element with op-amps of model ``proof`` on a copy of ``graph``.
    Every element in its preferred form first, proven once; element by element (each step
    proven, OCS where SCS grows, the culprit named) only if that circuit is not stable.
    Returns (the realised graph, the records, the slowest pole when the batch proof found it)."""
    grounded_nets = list(dict.fromkeys(_resonator_net(c) for c in negative if c.kind == "R" and GROUND in c.nodes))
    for prove_each in (False, True):
        realiser = _Realiser(graph, proof, inputs, ctx.options.ranges.get("R", (0.0, math.inf)),
                             _band_centre_hz(ctx), prove_each)
        records = [realiser.grounded(net) for net in grounded_nets]
        records += [realiser.floating(comp) for comp in negative if GROUND not in comp.nodes]
        if prove_each:
            break
        pole = slowest_pole(realiser.graph, inputs)
        if pole.real < 0:
            for record in records:
                if "opamps" in record:
                    record["slowest_pole"] = [pole.real, pole.imag]
            return realiser.graph, records, pole
    return realiser.graph, records, None


def _result(ctx: CompileContext, records: list[dict], opamp: OpampModel, before: complex,
            after: complex) -> PassResult:
    """The pass's log entry: what was realised, the poles before and after, the H(jω) error
    and the resistors outside ``options.ranges['R']``."""
    opamps = [op.as_dict() for op in graph_opamps(ctx.graph)]
    freqs = default_grid(ctx.model, ERROR_GRID_POINTS)
    err = relative_error(circuit_response(ctx, freqs), reference_response(ctx.model, freqs))
    lo, hi = ctx.options.ranges.get("R", (0.0, math.inf))
    outside = sorted({name for r in records for name, (kind, value) in r.get("parts", {}).items()
                      if kind == "R" and not lo <= value <= hi})
    summary = (f"{sum(r['action'] != 'merged' for r in records)} negative element(s) realised with "
               f"{sum(len(r.get('opamps', [])) for r in records)} op-amp(s) ({opamp.describe()}): "
               f"slowest pole {after.real:.4g} 1/s "
               f"(ideal negative elements: {before.real:.4g} 1/s), H(jω) error {err:.2e}")
    if outside:
        summary += f"; {len(outside)} resistor(s) outside {lo:g}..{hi:g} ohm (scale the graph first)"
    return PassResult(True, summary, {
        "realised": records, "opamps": opamps, "opamp_model": opamp.as_dict(),
        "slowest_pole_before": [before.real, before.imag], "slowest_pole_after": [after.real, after.imag],
        "margin_1_per_s": -after.real, "h_relative_error": err, "resistors_out_of_range": outside})


class _Realiser:
    """Rewrites a copy of a graph element by element, proving each step stable (see the module
    doc).

    ``graph`` is replaced by a proven copy after each element, so a failed attempt leaves no
    trace (and the caller's graph is never touched); ``proof`` is the macromodel the instances
    use while proving. With ``prove_each`` False every element takes its first form (SCS) and
    no step is proven: the caller proves the whole circuit once (one eigendecomposition instead
    of one per element) and falls back to proving each step when that fails.
    """

    def __init__(self, graph: CircuitGraph, proof: OpampModel, inputs: list[str], r_range: tuple[float, float],
                 centre_hz: float, prove_each: bool = True) -> None:
        self.prove_each = prove_each
        self.graph = graph.copy()
        self.graph.define_subcircuit(subcircuit(proof))
        self.proof = proof
        self.inputs = inputs
        self.r_range = r_range
        self.centre_hz = centre_hz

    def grounded(self, net: str) -> dict:
        """Merge the grounded damping resistors at ``net``; realise a negative net with a NIC."""
        group = [c for c in self.graph.components_at(net) if c.kind == "R" and GROUND in c.nodes
                 and (c.attrs.get(ROLE) == "damping" or c.value < 0)]
        element = "+".join(dict.fromkeys(c.attrs.get(ELEMENT, c.name) for c in group))
        g = math.fsum(1.0 / c.value for c in group)
        record = {"element": element, "realises": "damping", "net": net, "merged": [c.name for c in group]}
        if g >= 0:
            trial = self.graph.copy()
            for c in group[1:]:
                trial.remove(c.name)
            if g > 0:
                keep = group[0]
                trial.replace(keep.name, dataclasses.replace(keep, value=1.0 / g, attrs=dict(keep.attrs)))
            self.graph = trial
            return {**record, "action": "merged", "value_ohm": 1.0 / g if g else None}
        r_ohm = -1.0 / g
        tried = []
        for orientation in (SCS, OCS):
            trial = self.graph.copy()
            for c in group[1:]:
                trial.remove(c.name)
            parts = nic_parts(trial, net, r_ohm, orientation, self.proof.subckt_name, element,
                              _clip(DIVIDER_OHM, self.r_range))
            trial.replace(group[0].name, *parts)
            pole = slowest_pole(trial, self.inputs) if self.prove_each else complex(-math.inf)
            tried.append((orientation, pole))
            if pole.real < 0:
                self.graph = trial
                return {**record, "action": "NIC", "orientation": orientation, "value_ohm": -r_ohm,
                        "opamps": [c.name for c in parts if c.kind == "X"], "parts": _values(parts),
                        "slowest_pole": [pole.real, pole.imag]}
        raise CompileError(
            f"realise_negative: resonator {element}'s net damping {-r_ohm:.4g} ohm (net {net}) cannot be realised "
            f"stably with the {self.proof.describe()}: " +
            "; ".join(f"{o} port: growing pole {pole_text(p)}" for o, p in tried))

    def floating(self, comp: Component) -> dict:
        """Realise a negative floating R or L with a difference amplifier at each end."""
        element = comp.attrs.get(ELEMENT, comp.name)
        z_ohm = abs(comp.value) if comp.kind == "R" else 2 * math.pi * self.centre_hz * abs(comp.value)
        r_a = _clip(RA_RATIO * z_ohm, self.r_range)
        trial = self.graph.copy()
        parts = pair_parts(trial, comp, r_a, self.proof.subckt_name, element)
        trial.replace(comp.name, *parts)
        pole = slowest_pole(trial, self.inputs) if self.prove_each else complex(-math.inf)
        role = comp.attrs.get(ROLE, "")
        if pole.real >= 0:
            raise CompileError(f"realise_negative: {comp.origin or element} ({comp.name} = {comp.value:.4g} "
                               f"{comp.unit}) cannot be realised stably with the {self.proof.describe()}: "
                               f"growing pole {pole_text(pole)}")
        self.graph = trial
        return {"element": element, "realises": role, "action": "floating pair", "value": comp.value,
                "unit": comp.unit, "ra_ohm": r_a, "opamps": [c.name for c in parts if c.kind == "X"],
                "parts": _values(parts), "slowest_pole": [pole.real, pole.imag]}


def nic_parts(graph: CircuitGraph, net: str, r_ohm: float, orientation: str, subckt: str, element: str,
              divider_ohm: float) -> list[Component]:
    """The NIC presenting −``r_ohm`` from ``net`` to ground (not yet in ``graph``; designators
    and nets are fresh in it): op-amp, R1 = r_ohm (output → net), R2 = R3 = ``divider_ohm``."""
    (x,) = fresh_designators(graph, "X", 1)
    r1, r2, r3 = fresh_designators(graph, "R", 3)
    out, div = f"{x.lower()}_out", f"{x.lower()}_div"
    pins = (net, div, out) if orientation == SCS else (div, net, out)
    origin = f"NIC ({orientation}) for resonator {element} damping"
    attrs = {ROLE: "active", ELEMENT: element, "realises": "damping"}
    return [Component(x, "X", pins, subckt=subckt, origin=f"{origin}: op-amp", attrs=dict(attrs)),
            Component(r1, "R", (out, net), r_ohm, origin=f"{origin}: R1 output to node", attrs=dict(attrs)),
            Component(r2, "R", (out, div), divider_ohm, origin=f"{origin}: R2 output to divider", attrs=dict(attrs)),
            Component(r3, "R", (div, GROUND), divider_ohm, origin=f"{origin}: R3 divider to ground",
                      attrs=dict(attrs))]


def pair_parts(graph: CircuitGraph, comp: Component, r_a: float, subckt: str, element: str) -> list[Component]:
    """The two difference amplifiers realising negative floating ``comp`` (R or L) between its
    nets with input resistors ``r_a`` (not yet in ``graph``; fresh designators and nets)."""
    role = comp.attrs.get(ROLE, "")
    attrs = {ROLE: "active", ELEMENT: element, "realises": role}
    xs = fresh_designators(graph, "X", 2)
    rs = iter(fresh_designators(graph, "R", 6))
    ls = iter(fresh_designators(graph, "L", 2))
    parts: list[Component] = []
    a, b = comp.nodes
    for x, (near, far) in zip(xs, ((a, b), (b, a))):
        out, mid = f"{x.lower()}_out", f"{x.lower()}_inn"
        origin = f"{comp.origin or element}, end {near}"
        parts += [Component(x, "X", (near, mid, out), subckt=subckt, origin=f"{origin}: op-amp", attrs=dict(attrs)),
                  Component(next(rs), "R", (far, mid), r_a, origin=f"{origin}: Ra from far node", attrs=dict(attrs)),
                  Component(next(rs), "R", (out, mid), r_a, origin=f"{origin}: Ra feedback", attrs=dict(attrs))]
        if comp.kind == "R":
            parts.append(Component(next(rs), "R", (out, near), 1.0 / (1.0 / r_a + 1.0 / abs(comp.value)),
                                   origin=f"{origin}: injection", attrs=dict(attrs)))
        else:
            parts += [Component(next(rs), "R", (out, near), r_a, origin=f"{origin}: injection, cancels Ra",
                                attrs=dict(attrs)),
                      Component(next(ls), "L", (out, near), abs(comp.value), origin=f"{origin}: injection",
                                attrs=dict(attrs))]
    return parts


def _resonator_net(comp: Component) -> str:
    return comp.nodes[0] if comp.nodes[1] == GROUND else comp.nodes[1]


def _band_centre_hz(ctx: CompileContext) -> float:
    """Geometric centre of the model's band, in circuit hertz."""
    lo, hi = default_grid(ctx.model, 2)
    return float(np.sqrt(lo * hi)) / ctx.time_scale


def _clip(value: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return min(max(value, lo), hi)


def _values(parts: list[Component]) -> dict[str, tuple[str, float]]:
    return {c.name: (c.kind, c.value) for c in parts if c.kind != "X"}
