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

import numpy as np

from ..circuit import mna_matrices
from ..errors import CompileError
from ..model import Model
from ..reference import default_grid, frequency_response
from .base import CompileContext, Pass, PassResult, register

def circuit_response(ctx: CompileContext, freqs_hz: np.ndarray) -> np.ndarray:
    """H(jω) of the compiled graph in model units: (outputs × inputs × freqs), at model frequencies."""
    graph = ctx.require_graph("check_reference")
    system = mna_matrices(graph, [p.net for p in ctx.inputs])
    return in_model_units(ctx, system.ac(np.asarray(freqs_hz) / ctx.time_scale, [p.net for p in ctx.outputs]))


def in_model_units(ctx: CompileContext, h: np.ndarray) -> np.ndarray:
    """A circuit's H(jω) (volts per volt, outputs × inputs × freqs) through the port gains: model
    velocity per unit input."""
    out_gain = np.array([p.gain for p in ctx.outputs])[:, None, None]
    in_gain = np.array([p.gain for p in ctx.inputs])[None, :, None]
    return h * in_gain / out_gain


def reference_response(model: Model, freqs_hz: np.ndarray) -> np.ndarray:
    """The reference model's H(jω) (observed nodes × inputs × freqs, (m/s) per unit input) at
    ``freqs_hz`` (model Hz): :func:`reference.frequency_response` (sparse above
    ``reference.response.DENSE_RESONATORS`` resonators), whose rows are ``model.read_nodes``: a
    linear layer's taps are compared with its read nodes' velocities."""
    return frequency_response(model, np.atleast_1d(np.asarray(freqs_hz, dtype=float)))


def relative_error(h_circuit: np.ndarray, h_model: np.ndarray) -> float:
    """Worst |ΔH| relative to each output/input pair's peak |H| over the grid."""
    scale = np.max(np.abs(h_model), axis=-1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(h_circuit - h_model) / scale))


@register
class CheckReference(Pass):
    name = "check_reference"

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
