"""Static power, energy per decision and decision latency of a compiled circuit.

The figures the analog pitch rests on, estimated from the circuit graph and the op-amp model
(no simulation):

* **op-amps**: every op-amp instance in the graph (NICs, GICs, difference amplifiers, output
  buffers: X instances of an ``opamp_<kind>`` subcircuit of :mod:`.circuit.opamp`, inside other
  subcircuits too, each counted once per use), plus the decision stage's op-amps, which
  ``readout_analog`` describes outside the graph (``graph.meta["readout"]["parts"]["op-amps"]``);
* **static power** (W) = op-amps × quiescent current per op-amp × the voltage across it,
  2·``supply_v`` for the dual ±``supply_v`` rails the op-amp figures are given at (TL072
  defaults: 1.4 mA at ±15 V, 42 mW per amplifier);
* **energy per decision** (J) = static power × the readout window, (stop − start) of the
  model's readout in model seconds times ``time_scale`` (circuit seconds per model second), so a
  frequency-scaled circuit decides in its own time;
* **control ports** (a readout's gates, resets, strobes: the manifest's ``controls``): their
  host is counted as a nanopower timer (``timer_part``, :data:`parts.catalogue.TIMERS`, its
  quiescent current at :data:`TIMER_SUPPLY_V`): ``timer_watts`` and ``timer_energy_joules``
  over the window, beside (not inside) ``energy_per_decision_joules``;
* **decision latency** (s) = the end of the readout window (``stop · time_scale``: the features
  are complete only then, the network starting from rest at t = 0) plus the settling time of
  the decision stage, ``graph.meta["decision_settling_s"]`` when a readout stage records it
  (0 otherwise).

A **micropower readout** (``passes.common.readout_micropower``, ``graph.meta["readout"]["energy"]``) is
counted from its own parts instead: its switches' quiescent current on its 3.3 V supply during
the window (``readout_static_watts``, in ``static_power_watts``) and its power-gated stage after
it (``readout_gated_joules``: quiescent currents × rail × on-time, the rail's decoupling charge,
one decision load), which ``energy_per_decision_joules`` adds; its op-amps are not the TL072
ones and are left out of ``opamps``.

Not counted: the passive network itself (resistors dissipate only the signal's power, which
the input source supplies), the input driver and any ADC or comparator outside the graph, the
op-amps' extra supply current when they drive a load (signal-dependent, small next to the
quiescent current at these levels), and the ideal controlled sources the graph still holds
(``ideal_sources``: the drives G and output buffers E of the mapping, CCVS H), which a board
builds with an input buffer and an op-amp per buffered output. A circuit without op-amps
shows 0 W: only its signal source, those sources and the readout draw power.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .circuit import CircuitGraph, SubcircuitDef
from .circuit.opamp import KINDS, OpampModel
from .model import Model
from .parts.catalogue import TIMERS
from .units import format_si

#: Subcircuit names of the op-amp models (``opamp_macro``, ``opamp_ideal``).
OPAMP_SUBCKTS = frozenset(f"opamp_{kind}" for kind in KINDS)

#: The timer's supply (V): the micropower deck's single rail.
TIMER_SUPPLY_V = 3.3

#: ``graph.meta`` key under which a decision stage records its settling time (s, circuit time).
DECISION_SETTLING = "decision_settling_s"


@dataclass(frozen=True)
class EnergyEstimate:
    """The compile summary's energy figures (SI units; see the module docstring). The fields
    are the keys of the manifest's ``"energy"`` object."""

    opamps: int
    supply_volts: float
    quiescent_amps_per_opamp: float
    static_power_watts: float
    window_seconds: float
    energy_per_decision_joules: float
    decision_settling_seconds: float
    latency_seconds: float
    ideal_sources: int = 0
    timer_part: str | None = None
    timer_watts: float = 0.0
    timer_energy_joules: float = 0.0
    readout_design: str | None = None
    readout_static_watts: float = 0.0
    readout_gated_joules: float = 0.0

    def as_dict(self) -> dict:
        """The fields; the timer's only when there is one and the readout's only for a micropower
        readout (decks without keep the keys they always had)."""
        data = dataclasses.asdict(self)
        if self.timer_part is None:
            for key in ("timer_part", "timer_watts", "timer_energy_joules"):
                del data[key]
        if self.readout_design is None:
            for key in ("readout_design", "readout_static_watts", "readout_gated_joules"):
                del data[key]
        return data

    def summary(self) -> str:
        """One line for the compile summary."""
        if self.readout_design is not None:
            return self._micropower_summary()
        line = (f"{self.opamps} op-amp(s) × {format_si(self.quiescent_amps_per_opamp, 'A')} × "
                f"±{self.supply_volts:g} V = {format_si(self.static_power_watts, 'W')} static; "
                f"{format_si(self.energy_per_decision_joules, 'J')} per decision "
                f"({format_si(self.window_seconds, 's')} readout window); decision latency "
                f"{format_si(self.latency_seconds, 's')} (window end + "
                f"{format_si(self.decision_settling_seconds, 's')} decision settling)")
        return line + self._tail(" (drives, buffers)")

    def _micropower_summary(self) -> str:
        line = (f"micropower readout on one {self.supply_volts:g} V supply: "
                f"{format_si(self.readout_static_watts, 'W')} in the window (switches), "
                f"{format_si(self.readout_gated_joules, 'J')} after it (power-gated stage); "
                f"{format_si(self.energy_per_decision_joules, 'J')} per decision (estimate from quiescent "
                f"currents; verify measures it); decision latency {format_si(self.latency_seconds, 's')}")
        if self.opamps:
            line += f"; {self.opamps} op-amp(s) of the network at {format_si(self.quiescent_amps_per_opamp, 'A')}"
        return line + self._tail("")

    def _tail(self, sources_note: str) -> str:
        """The summary's common end: the control timer's cost and the ideal sources left out."""
        tail = ""
        if self.timer_part:
            tail += (f"; control ports from a {self.timer_part}: {format_si(self.timer_watts, 'W')}, "
                     f"{format_si(self.timer_energy_joules, 'J')} per decision")
        if self.ideal_sources:
            tail += f"; {self.ideal_sources} ideal controlled source(s){sources_note} not counted"
        return tail


def count_opamps(graph: CircuitGraph) -> int:
    """Op-amps of ``graph``: X instances of an op-amp subcircuit, including those inside other
    subcircuits (once per instance of the enclosing subcircuit), and those of the readout stage
    described in ``graph.meta["readout"]``."""
    memo: dict[str, int] = {}

    def inside(defn: SubcircuitDef) -> int:
        if defn.name not in memo:
            memo[defn.name] = 0  # a definition that contains itself is the graph's error, not ours
            memo[defn.name] = sum(per_instance(c.subckt) for c in defn.components if c.kind == "X")
        return memo[defn.name]

    def per_instance(subckt: str | None) -> int:
        if subckt in OPAMP_SUBCKTS:
            return 1
        defn = graph.subcircuits.get(subckt)
        return inside(defn) if defn is not None else 0

    described = graph.meta.get("readout") or {}
    # A micropower readout's op-amps are nanopower parts: its own budget counts them (estimate).
    readout = 0 if described.get("design") == "micropower" else described.get("parts", {}).get("op-amps", 0)
    return sum(per_instance(c.subckt) for c in graph.components_of("X")) + int(readout)


def estimate(graph: CircuitGraph, model: Model, time_scale: float, opamp: OpampModel) -> EnergyEstimate:
    """The figures for ``graph`` compiled from ``model`` with circuit time ``time_scale`` (circuit
    s per model s) and op-amps of type ``opamp`` (its ``quiescent_a`` and ``supply_v``)."""
    n = count_opamps(graph)
    power = n * opamp.static_power_w
    window = (model.readout.stop - model.readout.start) * time_scale
    settling = float(graph.meta.get(DECISION_SETTLING, 0.0))
    timer = TIMERS[0] if graph.meta.get("controls") else None
    timer_w = timer.iq_a * TIMER_SUPPLY_V if timer is not None else 0.0
    budget = (graph.meta.get("readout") or {}).get("energy") if (graph.meta.get("readout") or {}).get(
        "design") == "micropower" else None
    micro = {} if budget is None else {
        "readout_design": "micropower", "readout_static_watts": budget["static_power_watts"],
        "readout_gated_joules": budget["post_window_amps"] * budget["supply_volts"] * budget["post_window_seconds"]
        + budget.get("decoupling_joules", 0.0)}
    power += micro.get("readout_static_watts", 0.0)
    return EnergyEstimate(opamps=n, supply_volts=budget["supply_volts"] if budget else opamp.supply_v,
                          quiescent_amps_per_opamp=opamp.quiescent_a, static_power_watts=power, window_seconds=window,
                          energy_per_decision_joules=power * window + micro.get("readout_gated_joules", 0.0),
                          decision_settling_seconds=settling,
                          latency_seconds=model.readout.stop * time_scale + settling,
                          ideal_sources=sum(1 for c in graph.components if c.kind in "GEH"),
                          timer_part=timer.part_class if timer is not None else None, timer_watts=timer_w,
                          timer_energy_joules=timer_w * window, **micro)
