"""Pass ``realise_negative``: replace negative resistors and inductors by op-amp circuits.

Preconditions: a force-current graph after mapping (and scaling, when the flow has it), before
``break_dc_loops`` (a negative spring inductor must still join its two resonator nets) and
before quantisation (values keep full precision). Negative elements are the ideal negative R
(and negative spring L) the mapping leaves. In a force-voltage graph a negative damping or
damper coupling is a *series* resistor in a mesh, which would need a floating series NIC whose
stability depends on the whole mesh; that is not done: the pass raises CompileError naming the
element and suggesting force_current. No negative elements: nothing changes.

Op-amps are instances of the :mod:`~r2nn_compiler.circuit.opamp` model named by
``options.opamp`` / ``options.opamp_params``, ports (inp, inn, out).

**Grounded negative damping** (resonator net n). All grounded resistors at n with role
``damping`` (and any negative grounded one) merge into the net conductance g = Σ 1/R. g > 0:
one resistor 1/g stays; g = 0: none; g < 0: a negative-impedance converter (NIC) realises
R = 1/g < 0::

    short-circuit-stable port (node at +):     open-circuit-stable port (node at −):
      X: inp = n, inn = d, out = o                X: inp = d, inn = n, out = o
      R1: o → n     R2: o → d     R3: d → 0       R1: o → n     R2: o → d     R3: d → 0

Derivation (ideal op-amp, v(inp) = v(inn)): v(d) = v(n), and d divides o, so
o = v(n)·(1 + R2/R3); the current R1 pushes into n is (o − v(n))/R1 = v(n)·R2/(R1·R3), so the
port's resistance is R_in = v/i_out = −R3·R1/R2. The pass uses R2 = R3 = :data:`DIVIDER_OHM`
and R1 = |R|: gain 2 (the smallest for a NIC: its finite-gain error (1+R2/R3)²/(A·R2/R3) is
least there, and the output swings only 2·v(n)).

Which port: the op-amp sees positive feedback through R1 against the port impedance Z (the
rest of the network seen from n) and negative feedback through the divider, so the
short-circuit-stable (SCS) connection is stable while |Z| < |R| and the open-circuit-stable
(OCS) one while |Z| > |R|, wherever the loop gain is high — above all at DC, where it is the
op-amp's full A0. A resonator net is shunted by its inductor (a short at DC) and its capacitor
(a short at high frequency), and more generally a network that is stable with the ideal −|R|
has Y(0) ≥ 1/|R| at every such port, the rest being stable on its own (otherwise Y(s) − 1/|R|,
negative at s = 0 and growing with s through the capacitors, has a positive real zero: a
growing pole). So Z(0) ≤ |R|: the
SCS port is the one to use and the OCS port would latch at DC. But the proof is the circuit:
the poles of the *whole* graph with the op-amp macromodel (``mna_matrices(graph).poles()``, the
op-amp loops' own poles included) must all have negative real part. The pass realises every
element in its first form (SCS NICs) and proves the result once; only when that circuit has a
growing pole does it start again element by element, proving after each, trying SCS then OCS,
and if both ports grow, CompileError names the resonator and each port's growing pole (one
eigendecomposition instead of one per element in the common case). With a single-pole op-amp
of gain A = ω_t/s the SCS NIC presents
−g·(ω_t − 2s)/(ω_t + 2s), i.e. the ideal −g in parallel with a passive series RC
(1/(2g) ohm, 4g/ω_t farad): finite gain–bandwidth adds damping and a little capacitance, so it
does not destabilise a network of resonators by itself (no case was found among over 1000
random stable 2–3 resonator models with negative dampings, dampers and springs, GBW from 10 Hz
to 1 MHz); an op-amp with little gain and a high output resistance can (A0 = 10, r_out =
10 kΩ against a negative spring: see the tests). An ideal VCVS has no dynamics and hides a latching
loop, so with ``opamp="ideal"`` the proof runs on the macromodel of the same part and the
ideal instances are swapped in afterwards (and proven again).

**Floating negative coupling** between nets i and j (a damper 1/R or a spring 1/(sL) with
R, L < 0). One NIC cannot make a floating negative admittance, so a difference amplifier sits
at each end::

    at end i: X: inp = i, inn = m, out = w;  Ra: j → m;  Ra: w → m;  Y: w → i
    at end j: the mirror image (i ↔ j)

Derivation (ideal op-amp): v(m) = v(i), the equal Ra make w = 2·v(i) − v(j), so Y pushes
(w − v(i))·Y = (v(i) − v(j))·Y into i, while the Ra from j draws (v(j) − v(i))/Ra out of j.
With the mirror circuit, the current leaving i towards j is (v(i) − v(j))·(1/Ra − Y) and the
pair is exactly a floating admittance y = 1/Ra − Y. For a damper y = −|c| (c = 1/R):
Y = 1/Ra + |c|, one resistor 1/(1/Ra + |c|). For a spring y = −1/(s|L|): Y = 1/Ra + 1/(s|L|),
a resistor Ra in parallel with the inductor |L| (an inductor alone would leave the residual
conductance 1/Ra). Ra = :data:`RA_RATIO` × |R| (damper) or × |2πf·L| at the band centre
(spring), clipped to ``options.ranges['R']``: the finite-gain error of the injected current
scales with 1 + 1/RA_RATIO (Y and 1/Ra cancel to y), while Ra stays far below the megohms at
which an op-amp's few picofarads of input capacitance would add a pole in the audio band. The
same pole proof applies; there is no second orientation, so an unstable pair is a
CompileError naming the coupling.

Bookkeeping: every op-amp instance and every part around it gets attrs role ``active`` and
element = the model element realised (resonator name, or "a--b"); ``graph.meta["opamps"]``
lists ``{designator, element, realises, output_net}`` per op-amp (the output net is a net of
this graph, so a testbench that instantiates the graph as ``X1`` sees ``v(x1.<net>)``) and
``graph.meta["opamp_model"]`` the :class:`~r2nn_compiler.circuit.opamp.OpampModel` as a dict.
The log records, per element, what was built, the part values and the slowest pole after it;
and, for the whole pass, the relative H(jω) error against the reference model over
``default_grid(model, 100)``. With an ideal op-amp that error is below 1e-4 (gain 1e6: 3e-7 to
5e-5 measured). With the TL072 macromodel it is small and nonzero, set by the finite
gain–bandwidth (2e-5 to 2.5e-3 on audio-band random models at kilohm impedances), and it
grows as the network's impedances fall towards r_out / |A(jω)| (up to 0.2 on the same models
left at ohms): run the pass on a scaled graph; the log names resistors outside
``options.ranges['R']``.
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

#: Difference-amplifier resistor Ra as a multiple of the coupling's impedance (see module doc).
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

        opamp = from_options(ctx.options)
        proof = opamp if opamp.kind == "macro" else dataclasses.replace(opamp, kind="macro")
        inputs = [p.net for p in ctx.inputs]
        before = slowest_pole(graph, inputs)
        if before.real >= 0:
            raise CompileError(f"realise_negative: the graph is unstable before any realisation (pole "
                               f"{pole_text(before)}): an earlier pass changed the network")
        grounded_nets = list(dict.fromkeys(_resonator_net(c) for c in negative if c.kind == "R" and GROUND in c.nodes))
        # Every element in its preferred form first, proven once; element by element (each step
        # proven, OCS where SCS grows, the culprit named) only if that circuit is not stable.
        proven = None  # the slowest pole of the realised graph, when the batch proof found it
        for prove_each in (False, True):
            realiser = _Realiser(graph, proof, inputs, ctx.options.ranges.get("R", (0.0, math.inf)),
                                 _band_centre_hz(ctx), prove_each)
            records = [realiser.grounded(net) for net in grounded_nets]
            records += [realiser.floating(comp) for comp in negative if GROUND not in comp.nodes]
            if prove_each:
                break
            pole = slowest_pole(realiser.graph, inputs)
            if pole.real < 0:
                proven = pole
                for record in records:
                    if "opamps" in record:
                        record["slowest_pole"] = [pole.real, pole.imag]
                break
        graph = realiser.graph
        if opamp.kind != proof.kind:
            graph, proven = swap_model(graph, proof, opamp), None
        after = proven if proven is not None else slowest_pole(graph, inputs)
        if after.real >= 0:
            raise CompileError(f"realise_negative: with the {opamp.describe()} the circuit has a growing pole "
                               f"{pole_text(after)}")

        opamps = [op.as_dict() for op in graph_opamps(graph)]
        graph.meta["opamps"] = opamps
        graph.meta["opamp_model"] = opamp.as_dict()
        ctx.graph = graph

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
