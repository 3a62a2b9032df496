"""Pass ``check_reference``: prove the circuit graph equals the reference model, in numpy.

Never changes the graph. Builds the circuit-level MNA of the graph, evaluates H(jω) from every
input port to every output port over the model's band, undoes the port gains and time scale,
and compares with the reference model's H(jω). Raises CompileError when the worst relative
error exceeds ``options.mna_tolerance`` (1e-6 for exact flows: a larger error is a compiler
bug, caught before any simulator runs); hardware flows only report the figure.

Cost: one solve per frequency of the circuit and of the model; small ones dense (O(n³) each),
large ones iterative on sparse matrices for all frequencies at once (near O(nonzeros) each,
:func:`numerics.solve_shifted`, accurate to a backward error of 1e-13), so a 1024-resonator model
with 10k couplings is checked in about a second. The proof is as strong either way: any change
of the network's H(jω) by more than the tolerance at a checked frequency fails it (e.g. one
capacitor 2 % off).
"""

from __future__ import annotations

from ..errors import CompileError
from ..reference import default_grid
from .base import MAPPING, CompileContext, Pass, PassResult, register
from .common.response import circuit_response, reference_response, relative_error


@register
class CheckReference(Pass):
    name = "check_reference"
    after = MAPPING + ("scale", "realise_negative", "parasitics", "quantise", "realise_inductors", "realise_drive",
                       "break_dc_loops", "readout_analog", "calibrate_outputs")

    def match(self, ctx: CompileContext) -> bool:
        return ctx.graph is not None

    def transform(self, ctx: CompileContext) -> PassResult:
        freqs = default_grid(ctx.model, ctx.options.check_freqs)
        err = relative_error(circuit_response(ctx, freqs), reference_response(ctx.model, freqs))
        tol = ctx.options.mna_tolerance
        if tol is not None and not err <= tol:
            raise CompileError(f"circuit MNA differs from the reference model by {err:.3g} (relative H(jω), "
                               f"tolerance {tol:g}): the flow changed the network's behaviour")
        return PassResult(False, f"MNA H(jω) matches the reference within {err:.2e} over {freqs.size} frequencies",
                          {"h_relative_error": err})
