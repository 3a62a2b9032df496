"""Pass ``quantise``: give every passive part a value a distributor sells (IEC 60063 E-series).

Matches: a hardware flow whose parts carry no ``series`` yet (runs once). Gives every positive
R, L, C that is a part (not ``wiring``/``parasitic``) a value of ``options.series`` (or a
series/parallel pair), by ``options.strategy`` (``nearest``, ``pair``, ``retune``: restore each
resonator's f0 and Q); parts get a ``PartInfo`` (series, tolerance, ideal value; pairs
``pair``/``pair_parts``: :mod:`.common.realise`). Negative values are left (logged). The
strategies in detail: docs/passes.md.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from dataclasses import dataclass
from typing import Callable

from .. import eseries
from ..circuit import GROUND, CircuitGraph, Component
from ..circuit.annotations import NOT_PARTS
from ..errors import CompileError, Location
from ..eseries import Pair
from ..model import Model
from ..reference import default_grid
from .base import ELEMENT, MAPPING, ROLE, CompileContext, Pass, PassResult, register
from .common.realise import connection_of, realise
from .common.response import circuit_response, reference_response, relative_error
from .common.tanks import IN_SERIES_WITH, Tank, restoring_values

STRATEGIES = ("nearest", "pair", "retune")
PASSIVE = ("R", "L", "C")
RESONATOR_ROLES = ("mass", "stiffness", "damping")
COUPLING_ROLES = ("damper_coupling", "spring_coupling")

#: Series values tried on each side of an ideal L or C by ``retune``: two per side reach every
#: LC product within half a step of the ideal one, even where the series is irregular.
RETUNE_NEIGHBOURS = 2

#: Relative error of the capacitor (a single part or a pair) with which ``retune`` trims each
#: resonator's f0 once its inductor is fixed: f0 then lands within half of this.
RETUNE_PAIR_TARGET = 1e-3

#: Frequencies of the H(jω) comparison over the model's band.
RESPONSE_POINTS = 100

@dataclass(frozen=True)
class ResonatorParts:
    """One resonator's passive parts; ``topology`` is ``"parallel"`` (a grounded RLC node,
    as force-current maps it) or ``"series"`` (an RLC branch, as force-voltage maps it)."""

    element: str
    cap: Component
    ind: Component
    res: Component | None
    topology: str
    ind_loss: Component | None = None
    cap_loss: Component | None = None

    @property
    def lossy(self) -> bool:
        """Whether ``parasitics`` put a loss resistor in series with the L or the C."""
        return self.ind_loss is not None or self.cap_loss is not None

    def f0_q(self, value: Callable[[Component], float]) -> tuple[float, float | None]:
        """f0 (Hz, circuit time) and Q with part values ``value(component)``, losses included
        (:class:`~.common.tanks.Tank`); Q is None without a damping R."""
        if self.lossy:
            tank = self.tank(value)
            f0, q = tank.f0_q(1.0)
            return f0, (q if self.res is not None else None)
        c, l = value(self.cap), value(self.ind)
        f0 = 1.0 / (2 * math.pi * math.sqrt(l * c))
        if self.res is None:
            return f0, None
        z0, r = math.sqrt(l / c), value(self.res)
        return f0, (r / z0 if self.topology == "parallel" else z0 / r)

    def tank(self, value: Callable[[Component], float]) -> Tank:
        """The resonator as a :class:`Tank` (copies of its parts) with values ``value(component)``."""
        def copy(comp: Component | None) -> Component | None:
            return None if comp is None else dataclasses.replace(comp, value=value(comp))

        def loss(comp: Component | None) -> float:
            return 0.0 if comp is None else value(comp)
        return Tank(self.element, self.topology == "parallel", copy(self.ind), copy(self.cap), copy(self.res),
                    loss(self.ind_loss), loss(self.cap_loss))


@register
class Quantise(Pass):
    name = "quantise"
    after = MAPPING + ("scale", "realise_negative", "parasitics")

    def match(self, ctx: CompileContext) -> bool:
        return (ctx.graph is not None and not ctx.options.exact
                and not any(c.part is not None and c.part.series not in NOT_PARTS for c in ctx.graph.components))

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.require_graph(self.name)
        options = ctx.options
        strategy = _strategy(options.strategy, options.pair_target)
        parts, unquantised = _partition(graph)
        series_of = _series_names(graph, parts, options.series, options.series_overrides)
        _require_tolerances(parts, options.tolerance)

        freqs = default_grid(ctx.model, RESPONSE_POINTS)
        h_model = reference_response(ctx.model, freqs)
        h_before = relative_error(circuit_response(ctx, freqs), h_model)
        resonators, not_analysed = find_resonators(graph)

        plan = _plan(ctx, strategy, parts, series_of, resonators)

        def ideal(comp: Component) -> float:
            return comp.value

        losses = moved_losses(graph, plan)

        def realised(comp: Component) -> float:
            return plan[comp.name].achieved if comp.name in plan else losses.get(comp.name, comp.value)

        shifts = {res.element: _shift(res, ideal, realised) for res in resonators}
        values = {comp.name: _value_report(comp, series_of[comp.name], plan[comp.name]) for comp in parts}
        for comp in parts:
            realise(graph, comp, plan[comp.name], series_of[comp.name], options.tolerance[comp.kind])
        for name, ohms in losses.items():
            graph.component(name).value = ohms
        h_after = relative_error(circuit_response(ctx, freqs), h_model) if parts else h_before

        details = {
            "strategy": strategy,
            "parts": values,
            "pairs": sum(p.kind != "single" for p in plan.values()),
            "worst_value_error": _worst({name: v["relative_error"] for name, v in values.items()}, "designator"),
            "resonators": shifts,
            "worst_f0_shift": _worst({e: s["f0_shift"] for e, s in shifts.items()}, "element"),
            "worst_q_shift": _worst({e: s["q_shift"] for e, s in shifts.items() if s["q_shift"] is not None},
                                    "element"),
            "resonators_not_analysed": not_analysed,
            "unquantised": unquantised,
            "h_relative_error_before": h_before,
            "h_relative_error_after": h_after,
        }
        return PassResult(bool(parts), _summary(parts, series_of, details), details)


def _plan(ctx: CompileContext, strategy: str, parts: list[Component], series_of: dict[str, str],
          resonators: list[ResonatorParts]) -> dict[str, Pair]:
    """Designator → the series value or pair each part of ``parts`` gets (``strategy``)."""
    options = ctx.options
    plan: dict[str, Pair] = {}
    if strategy == "retune":
        for res in resonators:
            plan.update(retune_lossy(res, series_of, options.pair_inductors) if res.lossy else
                        retune(res, series_of, _model_q(ctx.model, res.element), options.pair_inductors))
    for comp in parts:
        if comp.name in plan:
            continue
        if comp.kind == "L":  # in series only, and only when retuning: see docs/passes.md
            plan[comp.name] = (trimmed(comp.value, series_of[comp.name], ("series",))
                               if strategy == "retune" and options.pair_inductors
                               and comp.attrs.get(ROLE) in COUPLING_ROLES
                               else _single(comp.value, series_of[comp.name]))
        elif strategy == "pair":
            plan[comp.name] = eseries.best_pair(comp.value, series_of[comp.name], options.pair_target)
        elif strategy == "retune" and comp.attrs.get(ROLE) in COUPLING_ROLES:
            plan[comp.name] = trimmed(comp.value, series_of[comp.name])
        else:
            plan[comp.name] = _single(comp.value, series_of[comp.name])
    return plan


def _strategy(strategy: str, pair_target: float) -> str:
    if strategy not in STRATEGIES:
        raise CompileError(f"unknown quantisation strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}",
                           Location(parameter="strategy"))
    if strategy == "pair" and not (math.isfinite(pair_target) and pair_target >= 0):
        raise CompileError(f"pair_target must be a relative error >= 0, got {pair_target!r}",
                           Location(parameter="pair_target"))
    return strategy


def _partition(graph: CircuitGraph) -> tuple[list[Component], list[dict]]:
    """The components to quantise, and the others with the reason each stays as it is."""
    parts, left = [], []
    for comp in graph.components:
        if comp.kind not in PASSIVE:
            reason = f"{comp.kind} is not a passive part"
        elif comp.attrs.get(ROLE) in ("wiring", "parasitic"):
            reason = comp.attrs[ROLE]  # not parts to buy: models of wires and losses
        elif comp.value < 0:
            reason = "negative value (still ideal)"
        else:
            parts.append(comp)
            continue
        left.append({"designator": comp.name, "kind": comp.kind, "reason": reason})
    return parts, left


def _series_names(graph: CircuitGraph, parts: list[Component], series: dict[str, str],
                  overrides: dict[str, str]) -> dict[str, str]:
    """Designator → canonical series name (``"E96"``) for every part; CompileError on an
    unknown series, a kind without one, or an override naming no component."""
    stray = sorted(name for name in overrides if name not in graph)
    if stray:
        raise CompileError(f"series override for {', '.join(stray)}: no such component",
                           Location(parameter="series_overrides"))
    names = {}
    for comp in parts:
        where = f"series_overrides[{comp.name}]" if comp.name in overrides else f"series[{comp.kind}]"
        name = overrides.get(comp.name, series.get(comp.kind))
        if name is None:
            raise CompileError(f"no E-series given for kind {comp.kind}", Location(parameter="series"))
        try:
            eseries.series(name)
        except ValueError as err:
            raise CompileError(str(err), Location(parameter=where)) from None
        names[comp.name] = name.upper()
    return names


def _require_tolerances(parts: list[Component], tolerance: dict[str, float]) -> None:
    missing = sorted({c.kind for c in parts} - set(tolerance))
    if missing:
        raise CompileError(f"no part tolerance given for kind {', '.join(missing)}", Location(parameter="tolerance"))


def find_resonators(graph: CircuitGraph) -> tuple[list[ResonatorParts], list[str]]:
    """The resonators whose passive parts can be analysed (one C and one L among the mass and
    stiffness roles, at most one damping R, all in parallel or all in series), and the names
    of the others."""
    groups: dict[str, list[Component]] = {}
    for comp in graph.components:
        if comp.attrs.get(ROLE) in RESONATOR_ROLES:
            groups.setdefault(comp.attrs.get(ELEMENT), []).append(comp)
    losses = loss_resistors(graph)
    found, skipped = [], []
    for element, members in groups.items():
        reactive = [c for c in members if c.attrs[ROLE] in ("mass", "stiffness")]
        caps = [c for c in reactive if c.kind == "C"]
        inds = [c for c in reactive if c.kind == "L"]
        dampers = [c for c in members if c.attrs[ROLE] == "damping" and c.kind == "R"]
        topology = (_topology(graph, [*caps, *inds, *dampers], losses)
                    if len(caps) == 1 and len(inds) == 1 and len(dampers) <= 1 else None)
        if topology is None:
            skipped.append(element)
        else:
            found.append(ResonatorParts(element, caps[0], inds[0], dampers[0] if dampers else None, topology,
                                        losses.get(inds[0].name), losses.get(caps[0].name)))
    return found, skipped


def loss_resistors(graph: CircuitGraph) -> dict[str, Component]:
    """Designator of an L or C → the loss resistor ``parasitics`` put in series with it."""
    return {c.attrs[IN_SERIES_WITH]: c for c in graph.components
            if c.kind == "R" and c.attrs.get(ROLE) == "parasitic" and IN_SERIES_WITH in c.attrs}


def _ends(comp: Component, losses: dict[str, Component]) -> set[str]:
    """The nets at the ends of ``comp`` with its loss resistor, if it has one, in series."""
    loss = losses.get(comp.name)
    return set(comp.terminals) if loss is None else set(comp.terminals) ^ set(loss.terminals)


def _topology(graph: CircuitGraph, parts: list[Component], losses: dict[str, Component]) -> str | None:
    if all(_ends(p, losses) == _ends(parts[0], losses) for p in parts):
        return "parallel"
    chain = series_chain(graph, parts[0])
    return "series" if all(p.name in chain for p in parts) else None


def series_chain(graph: CircuitGraph, start: Component) -> set[str]:
    """Designators of the components in series with ``start`` (itself included): joined
    through nets that are neither ground nor a port and carry no third current (a G/E control
    input draws none; every port of an X instance may)."""
    ports = {p.name for p in graph.ports}
    chain, todo = {start.name}, [start]
    while todo:
        comp = todo.pop()
        for net in set(comp.terminals) - ports - {GROUND}:
            carriers = [c for c in graph.components_at(net) if net in (c.nodes if c.kind == "X" else c.terminals)]
            if len(carriers) == 2:
                todo += [c for c in carriers if c.name not in chain]
                chain.update(c.name for c in carriers)
    return chain


def retune(res: ResonatorParts, series_of: dict[str, str], q: float, pair_inductors: bool = False
           ) -> dict[str, Pair]:
    """Series values for ``res``'s quantisable parts (those in ``series_of``) restoring f0,
    then Q (see docs/passes.md); ``q`` is the quality factor weighting the f0 error;
    ``pair_inductors``: trim the inductor with a series pair first."""
    c0, l0 = res.cap.value, res.ind.value

    def choices(comp: Component) -> tuple[float, ...]:
        if comp.name not in series_of:
            return (comp.value,)
        return eseries.candidates(comp.value, series_of[comp.name], RETUNE_NEIGHBOURS)

    def cost(cl: tuple[float, float]) -> tuple[float, float]:
        c, l = cl
        df = -0.5 * math.log((c * l) / (c0 * l0))
        dz = 0.5 * math.log((l / c) / (l0 / c0))
        band = 2 * abs(q) * abs(df) + abs(dz) if math.isfinite(q) else abs(df)
        return band, abs(dz)

    c, l = min(itertools.product(choices(res.cap), choices(res.ind)), key=cost)
    plan = {comp.name: Pair("single", (v,), v, abs(v / comp.value - 1))
            for comp, v in ((res.cap, c), (res.ind, l)) if comp.name in series_of}
    if pair_inductors and res.ind.name in series_of:
        pair = trimmed(l0, series_of[res.ind.name], ("series",))
        if abs(math.log(pair.achieved / l0)) < abs(math.log(l / l0)):
            l = pair.achieved
            plan[res.ind.name] = pair
    if res.cap.name in series_of:
        # Trim f0 with the capacitor: the C that restores L·C exactly, as two parts if one
        # series value is not within RETUNE_PAIR_TARGET of it (capacitor series are finer and
        # cheaper to pair than inductors); a looser target only if no pair meets it.
        exact_c = c0 * l0 / l
        pair = trimmed(exact_c, series_of[res.cap.name])
        if abs(math.log(pair.achieved / exact_c)) < abs(math.log(c / exact_c)):
            c = pair.achieved
            plan[res.cap.name] = dataclasses.replace(pair, rel_error=abs(c / c0 - 1))
    if res.res is not None and res.res.name in series_of:
        r0 = res.res.value
        target = r0 * math.sqrt((l / c) / (l0 / c0))
        pair = trimmed(target, series_of[res.res.name])
        plan[res.res.name] = dataclasses.replace(pair, rel_error=abs(pair.achieved / r0 - 1))
    return plan


def moved_losses(graph: CircuitGraph, plan: dict[str, Pair]) -> dict[str, float]:
    """Loss resistor → its new value (ohm): an inductor's winding resistance moves with the
    inductance its part achieves (``parasitics`` sets it from a fixed Q_L, so r_L ∝ L); a
    capacitor's ESR stays."""
    return {loss.name: loss.value * plan[name].achieved / graph.component(name).value
            for name, loss in loss_resistors(graph).items()
            if name in plan and graph.component(name).kind == "L"}


def retune_lossy(res: ResonatorParts, series_of: dict[str, str], pair_inductors: bool) -> dict[str, Pair]:
    """Series values for a resonator carrying ``parasitics`` losses: its f0 and Q as they stand
    (the model's, once compensated) are restored with the losses of the parts bought. The
    inductor goes first (a series pair with ``pair_inductors``, else the nearest value); its
    winding resistance moves with it (:func:`moved_losses`); the C and damping that restore f0
    and Q with those losses (``common.tanks.restoring_values``) are then trimmed like ``retune``'s.
    Without a passive damping R only f0 is restored."""
    f0, q = res.tank(lambda comp: comp.value).f0_q(1.0)
    l0, c0 = res.ind.value, res.cap.value
    plan: dict[str, Pair] = {}
    if res.ind.name in series_of:
        plan[res.ind.name] = (trimmed(l0, series_of[res.ind.name], ("series",)) if pair_inductors
                              else _single(l0, series_of[res.ind.name]))
    l = plan[res.ind.name].achieved if res.ind.name in plan else l0
    moved = {res.ind.name: l, res.cap.name: c0 * l0 / l}  # L·C as before: a series loop's f0 (a = LC, c = 1)
    if res.ind_loss is not None:
        moved[res.ind_loss.name] = res.ind_loss.value * l / l0
    restored = (restoring_values(res.tank(lambda comp: moved.get(comp.name, comp.value)), f0, q, 1.0)
                if res.res is not None else None)
    c_exact = restored[1] if restored is not None else c0 * l0 / l
    if res.cap.name in series_of:
        pair = trimmed(c_exact, series_of[res.cap.name])
        plan[res.cap.name] = dataclasses.replace(pair, rel_error=abs(pair.achieved / c0 - 1))
    if res.res is not None and res.res.name in series_of:
        d = restored[0] if restored is not None else 0.0
        ohms = (1.0 / d if res.topology == "parallel" else d) if d > 0 else res.res.value
        pair = trimmed(ohms, series_of[res.res.name])
        plan[res.res.name] = dataclasses.replace(pair, rel_error=abs(pair.achieved / res.res.value - 1))
    return plan


@functools.lru_cache(maxsize=1 << 16)
def trimmed(value: float, series: str, connections: tuple[str, ...] = ("series", "parallel")) -> Pair:
    """The single part or pair (wired in one of ``connections``) nearest ``value`` within
    RETUNE_PAIR_TARGET, or failing that the best within 3× or 10× it (a pair that misses the
    tight target still beats one part).

    Cached: the pair search costs ~1 ms (E96) and networks repeat values (couplings of one
    strength), so each distinct value is searched once."""
    for target in (RETUNE_PAIR_TARGET, 3 * RETUNE_PAIR_TARGET, 10 * RETUNE_PAIR_TARGET):
        pair = eseries.best_pair(value, series, target, connections)
        if pair.rel_error <= target:
            break
    return pair


def _model_q(model: Model, element: str) -> float:
    """The quality factor of the model resonator named ``element`` (infinite if none is)."""
    return next((r.q for r in model.resonators if r.name == element), math.inf)


def _single(value: float, series: str) -> Pair:
    q = eseries.nearest(value, series)
    return Pair("single", (q,), q, abs(q / value - 1))


def _shift(res: ResonatorParts, ideal: Callable[[Component], float], realised: Callable[[Component], float]) -> dict:
    f0_before, q_before = res.f0_q(ideal)
    f0_after, q_after = res.f0_q(realised)
    return {
        "topology": res.topology,
        "f0_hz": [float(f0_before), float(f0_after)],
        "f0_shift": float(f0_after / f0_before - 1),
        "q": None if q_before is None else [float(q_before), float(q_after)],
        "q_shift": None if q_before is None else float(q_after / q_before - 1),
    }


def _value_report(comp: Component, series: str, pair: Pair) -> dict:
    return {"kind": comp.kind, "series": series, "ideal": float(comp.value), "parts": list(pair.values),
            "connection": connection_of(comp.kind, pair), "achieved": float(pair.achieved),
            "relative_error": float(pair.rel_error)}


def _worst(errors: dict[str, float], key: str) -> dict | None:
    """The entry of largest magnitude as ``{key: name, "relative": error}`` (None if empty)."""
    if not errors:
        return None
    name = max(errors, key=lambda n: abs(errors[n]))
    return {key: name, "relative": errors[name]}


def _percent(x: float) -> str:
    pct = 100 * abs(x)
    return f"{pct:.2g} %" if pct < 100 else f"{pct:.0f} %"


def _summary(parts: list[Component], series_of: dict[str, str], details: dict) -> str:
    left = [u["designator"] for u in details["unquantised"] if u["kind"] in PASSIVE]
    tail = f"; {len(left)} R/L/C left ideal ({', '.join(left)})" if left else ""
    if not parts:
        return "no passive part to quantise" + tail
    ordered = sorted(parts, key=lambda c: "RCL".index(c.kind))
    used = "/".join(dict.fromkeys(series_of[c.name] for c in ordered))
    worst = details["worst_value_error"]
    figures = [f"worst value error {_percent(worst['relative'])} ({worst['designator']})"]
    for label, key in (("f0", "worst_f0_shift"), ("Q", "worst_q_shift")):
        if details[key] is not None:
            figures.append(f"worst {label} shift {_percent(details[key]['relative'])} ({details[key]['element']})")
    pairs = f"; {details['pairs']} pairs" if details["pairs"] else ""
    return (f"{len(parts)} parts to {used} ({details['strategy']}): {', '.join(figures)}; "
            f"H(jω) error {_percent(details['h_relative_error_after'])} "
            f"(was {details['h_relative_error_before']:.1e}){pairs}{tail}")
