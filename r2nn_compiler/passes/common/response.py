"""H(jω) of the compiled graph and of the reference model, in model units, and their distance.

Shared by ``check_reference`` (the proof) and by every pass that reports its H(jω) error.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...circuit import mna_matrices
from ...model import Model
from ...numerics import WarmStart
from ...reference import frequency_response
from ..base import CompileContext


def circuit_response(ctx: CompileContext, freqs_hz: np.ndarray, warm: WarmStart | None = None) -> np.ndarray:
    """H(jω) of the compiled graph in model units: (outputs × inputs × freqs), at model frequencies.
    ``warm``: starting guesses for a large circuit's iterative solve (see ``numerics.WarmStart``),
    updated unless the response was kept from an earlier call."""
    graph = ctx.require_graph("check_reference")
    system = mna_matrices(graph, [p.net for p in ctx.inputs])
    freqs = np.asarray(freqs_hz) / ctx.time_scale
    outputs = [p.net for p in ctx.outputs]
    key = _system_key(system, freqs, outputs)
    if key not in _CIRCUIT_CACHE:
        if len(_CIRCUIT_CACHE) >= CIRCUIT_CACHE_SIZE:
            del _CIRCUIT_CACHE[next(iter(_CIRCUIT_CACHE))]
        _CIRCUIT_CACHE[key] = system.ac(freqs, outputs, warm)
    return in_model_units(ctx, _CIRCUIT_CACHE[key])


#: Circuit responses kept, keyed by the MNA system's bytes: a pass that reports its H(jω)
#: error before changing the graph asks for what the previous pass computed after it.
CIRCUIT_CACHE_SIZE = 4
_CIRCUIT_CACHE: dict[str, np.ndarray] = {}


def _system_key(system, freqs: np.ndarray, outputs: list[str]) -> str:
    """A digest of everything ``system.ac(freqs, outputs)`` depends on (same digest, same bits)."""
    digest = hashlib.sha256()
    for stamps in (system.stamps_E, system.stamps_A):
        for array in (stamps.row, stamps.col, stamps.data):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(b"|")
    for array in (system.B, freqs):
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    digest.update("\0".join(system.unknowns + ["|"] + system.inputs + ["|"] + outputs).encode())
    return digest.hexdigest()


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
    linear layer's taps are compared with its read nodes' velocities. The last model's
    responses are kept (a flow asks for the same grid in several passes); a copy is returned."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if _REFERENCE_CACHE.get("model") is not model:
        _REFERENCE_CACHE.clear()
        _REFERENCE_CACHE["model"] = model
    key = freqs.tobytes()
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = frequency_response(model, freqs)
    return _REFERENCE_CACHE[key].copy()


#: The reference responses of one model (the last one asked for), keyed by the grid's bytes.
_REFERENCE_CACHE: dict = {}


def relative_error(h_circuit: np.ndarray, h_model: np.ndarray) -> float:
    """Worst |ΔH| relative to each output/input pair's peak |H| over the grid."""
    scale = np.max(np.abs(h_model), axis=-1, keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    return float(np.max(np.abs(h_circuit - h_model) / scale))
