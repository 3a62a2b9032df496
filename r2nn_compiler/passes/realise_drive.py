"""Pass ``realise_drive``: every input drive becomes a resistor (a Norton source), no VCCS left.

Matches: ``options.drive_kind()`` is ``parts`` and the graph still holds drive VCCS (role
``drive``, the force-current mapping). Precondition: after every pass that sets the dampings
(``scale``, ``parasitics``, ``realise_negative``, ``quantise``), before ``break_dc_loops`` and
the readout. The transfer stays the model's:

* a VCCS of transconductance g from input port ``in<k>`` into net n becomes a resistor
  R = 1/(α·|g|) from ``in<k>`` (g > 0) or from its inverted copy ``in<k>n`` (g < 0; the
  port carries −volts_per_unit·u, a differential sensor's second output) into n; it injects
  α·g·V(in) and loads n with α·|g| to AC ground (the input port is a voltage source);
* n's damping conductance is lowered by the drives' realised loading (its damping resistor, or
  pair, re-made in the options' R series, a pair within :data:`PAIR_TARGETS`);
* α ≤ 1 is one factor common to every drive: the largest for which every driven resonator
  keeps at least 1 − :data:`ABSORB_FRACTION` of its damping; each input's ``volts_per_unit``
  is divided by α, so the injected currents per model unit are unchanged.

A driven resonator without positive damping cannot absorb its loading: exact flows give it a
negative resistor (ideal), hardware flows refuse (CompileError naming it). Force-voltage decks
keep their series voltage sources (ideal) and say so. Why these choices: docs/passes.md.
"""

from __future__ import annotations

import dataclasses

from ..circuit import INVERTED_INPUTS, Component, Port, ordered_ports
from ..errors import CompileError, Location
from .base import MAPPING, ROLE, CompileContext, Pass, PassResult, register
# The damping arithmetic moved to .common.damping (the micropower readout's dividers use it too);
# PAIR_TARGETS stays importable from here.
from .common.damping import PAIR_TARGETS, _absorb, _Damping, _damping_of, _element_at, _quantised  # noqa: F401

#: The share of a resonator's damping conductance the drives may take (the rest keeps a part,
#: so the drive resistors' own pair error cannot call for a negative damping).
ABSORB_FRACTION = 0.9
#: Suffix of an input's inverted copy: ``in1`` → ``in1n``.
INVERTED_SUFFIX = "n"


@register
class RealiseDrive(Pass):
    name = "realise_drive"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None and ctx.options.drive_kind() == "parts"

    def transform(self, ctx: CompileContext) -> PassResult:
        graph = ctx.graph
        drives = [c for c in graph.components if c.attrs.get(ROLE) == "drive"]
        if ctx.model.analogy != "force_current" or any(c.kind != "G" for c in drives):
            if ctx.options.drive == "parts":
                raise CompileError("--drive parts: force-voltage drives are series voltage sources, not built "
                                   "from parts yet (use --drive ideal, or the force_current analogy)",
                                   Location(parameter="drive"))
            return PassResult(False, "force-voltage drives (series voltage sources) stay ideal")
        if not drives:
            return PassResult(False, "no drive sources to realise")
        loading = _loading(drives)
        dampings = {net: _damping_of(graph, net) for net in loading}
        bare = [net for net, d in dampings.items() if d is None]
        if bare and ctx.options.drive is None and not ctx.options.exact:
            return PassResult(False, f"drives stay ideal: resonator {_element_at(graph, bare[0])} has no positive "
                                     "damping to absorb drive resistors (the default --drive parts of --readout "
                                     "analog does not apply)")
        alpha = _common_factor(ctx, loading, dampings)
        inverted = _inverted_ports(ctx, drives)
        resistors = [_drive_resistor(ctx, g, alpha, inverted) for g in drives]
        realised: dict[str, float] = {}
        for g, (_, ohms) in zip(drives, resistors):
            realised[g.nodes[1]] = realised.get(g.nodes[1], 0.0) + 1.0 / ohms
        for net, load in realised.items():
            _absorb(ctx, net, dampings[net], load)
        ctx.inputs = [dataclasses.replace(p, gain=p.gain / alpha, inverted=inverted.get(p.net))
                      for p in ctx.inputs]
        ctx.graph = ordered_ports(graph)
        worst = max(abs(ohms * alpha * abs(g.value) - 1) for g, (_, ohms) in zip(drives, resistors))
        summary = (f"{len(resistors)} drive VCCS → resistors from the input ports (α = {alpha:.4g}: input volts per "
                   f"unit ×{1 / alpha:.4g}); {len(realised)} resonators' damping lowered by their loading"
                   + (f"; inverted input ports {', '.join(sorted(inverted.values()))}" if inverted else "")
                   + (f"; worst drive resistor error {worst:.2e}" if worst else ""))
        return PassResult(True, summary, {"alpha": alpha, "inverted_inputs": dict(graph.meta[INVERTED_INPUTS]),
                                          "worst_drive_error": worst})


def _loading(drives: list[Component]) -> dict[str, float]:
    """Per driven net, Σ|g| of its drives (S, before the common factor)."""
    loading: dict[str, float] = {}
    for g in drives:
        loading[g.nodes[1]] = loading.get(g.nodes[1], 0.0) + abs(g.value)
    return loading


def _common_factor(ctx: CompileContext, loading: dict[str, float], dampings: dict[str, _Damping | None]) -> float:
    """α: 1, or the largest factor that leaves every driven resonator 1 − ABSORB_FRACTION of its
    damping. CompileError in a hardware flow for a driven resonator without positive damping."""
    bare = [net for net, d in dampings.items() if d is None]
    if bare and not ctx.options.exact:
        element = _element_at(ctx.graph, bare[0])
        raise CompileError(f"--drive parts: resonator {element} has no positive damping to absorb its drive "
                           "resistors' loading (use --drive ideal, or train with positive damping)",
                           Location(parameter="drive"))
    ratios = [ABSORB_FRACTION * d.conductance / loading[net] for net, d in dampings.items() if d is not None]
    return min([1.0] + ratios)


def _inverted_ports(ctx: CompileContext, drives: list[Component]) -> dict[str, str]:
    """Declare an inverted copy of every input port that has a negative drive: {input: copy}."""
    graph = ctx.graph
    labels = {p.net: p.name for p in ctx.inputs}
    inverted: dict[str, str] = {}
    for g in drives:
        source = g.nodes[2]
        if g.value < 0 and source not in inverted:
            copy = f"{source}{INVERTED_SUFFIX}"
            if copy in graph.graph:
                raise CompileError(f"realise_drive: net {copy} already exists: the drives were realised before")
            graph.add_port(Port(copy, "input", f"{labels.get(source, source)} inverted"))
            inverted[source] = copy
    graph.meta[INVERTED_INPUTS] = {copy: source for source, copy in inverted.items()}
    return inverted


def _drive_resistor(ctx: CompileContext, g: Component, alpha: float, inverted: dict[str, str]
                    ) -> tuple[Component, float]:
    """The resistor replacing VCCS ``g`` (a part or pair in hardware flows) and its realised ohms."""
    source = g.nodes[2] if g.value > 0 else inverted[g.nodes[2]]
    graph = ctx.graph
    resistor = Component(graph.next_designator("R"), "R", (source, g.nodes[1]), 1.0 / (alpha * abs(g.value)),
                         origin=f"{g.origin} (drive resistor)", attrs=dict(g.attrs))
    graph.replace(g.name, resistor)
    return _quantised(ctx, resistor)
