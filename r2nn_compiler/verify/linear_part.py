"""A readout whose cells hang on the deck's own taps: verify's linear part, simulated alone.

The micropower readout (``passes/common/readout_micropower.py``) has no tap buffers: its diode
cells hang on the resonator nodes, which are the tap ports, so ngspice's taps carry the cells'
charging current while the numpy MNA solves the linear part without them
(:func:`decisions.linear_circuit`). Loaded taps against that MNA mix three things: the cells'
load, ngspice's own integration error, and nothing of the network (the MNA *is* the network).

For such a deck of a linear readout layer (taps; :func:`loads_taps`, from the manifest) verify also
runs the linear part alone in ngspice: the
library netlisted again from the deck's graph without the readout's instance
(:func:`linear_part_library`; its ports stay, so the testbench is the same), at fixed steps for the accuracy target, like a linear deck. That run
against the MNA is the gated NRMSE (``nrmse_vs_circuit``: the network's realisation) and
ngspice's own feature error (``simulation_error``); the loaded taps are reported beside it
(:class:`LoadedTaps`, JSON ``loaded_taps``), not gated: the decision agreement is the
readout's criterion. docs/verify.md, "A readout on its own taps".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from .. import reference
from ..backend import NgspiceNetlister
from ..model import Model
from .circuit import CircuitUnderTest
from .metrics import nrmse
from .transient_run import TransientRun

#: The manifest's ``readout_circuit.design`` of a readout whose cells hang on the taps.
CELLS_ON_TAPS = "micropower"


def loads_taps(circuit: CircuitUnderTest, manifest: dict) -> bool:
    """True when the deck's readout (``circuit.graph.readout``, set apart by
    :func:`decisions.linear_circuit`) is one whose cells hang on the tap nets themselves, with no
    buffer between (``manifest["readout_circuit"]["design"]`` is :data:`CELLS_ON_TAPS`). Decided
    from the manifest, not from the nets: an op-amp whose input sits on a tap (a negative
    resistance's NIC) would look like a buffer there."""
    design = (manifest.get("readout_circuit") or {}).get("design")
    return circuit.graph.readout is not None and design == CELLS_ON_TAPS


def linear_part_library(circuit: CircuitUnderTest, subckt: str) -> str:
    """The deck's library netlisted again from ``circuit.graph`` (the deck read back) without the
    readout's instance (``graph.readout``): the same ``.subckt`` ``subckt`` and ports, so the
    testbench is the same; the readout's subcircuit definitions stay, unused."""
    graph = copy.copy(circuit.graph)  # shares the components; only the readout slot differs
    graph.readout = None
    return NgspiceNetlister().library(graph, subckt, ["r2nn verify: the deck's linear part (readout instance left out)"])


def linear_part_run(shared: TransientRun, circuit: CircuitUnderTest) -> TransientRun:
    """The settings of ``shared`` (a readout deck's runs) for its linear part
    (:func:`linear_part_library`, written afresh in each run's scratch directory): fixed steps,
    no decision read."""
    return replace(shared, library_path="", library_text=linear_part_library(circuit, shared.subckt),
                   linear_part=True)


@dataclass(frozen=True)
class LoadedTaps:
    """One signal's taps as the readout's cells load them (ngspice, the whole deck), against
    the deck's linear part: ``nrmse_vs_circuit`` per tap against the MNA (cells absent),
    ``nrmse_vs_linear_part`` per tap against ngspice's run of the linear part alone (the load
    itself, at one step rule), ``score_error`` max_j |s_j(law on the loaded taps) − s_j(law on
    the linear part's)| in score units (both ngspice traces), ``feature_error_v`` the largest
    difference of one feature's reading ψ (V) between the two; ``linear_part_step_s`` and
    ``linear_part_predicted_nrmse``: the linear part's run (circuit s; the gated figures' step,
    which its several signals share)."""

    nrmse_vs_circuit: dict[str, float]
    nrmse_vs_linear_part: dict[str, float]
    score_error: float
    feature_error_v: float
    linear_part_step_s: float = 0.0
    linear_part_predicted_nrmse: float = 0.0

    def to_json(self) -> dict:
        return {"nrmse_vs_circuit": self.nrmse_vs_circuit, "nrmse_vs_linear_part": self.nrmse_vs_linear_part,
                "score_error": self.score_error, "feature_error_v": self.feature_error_v,
                "gated_run": "linear_part", "linear_part_step_s": self.linear_part_step_s,
                "linear_part_predicted_nrmse": self.linear_part_predicted_nrmse}


def loaded_figures(model: Model, labels: list[str], loaded: np.ndarray, linear: np.ndarray, mna: np.ndarray,
                   rate: float) -> LoadedTaps:
    """:class:`LoadedTaps` of one signal from its taps (ports × samples, model units): ``loaded``
    (ngspice, the whole deck), ``linear`` (ngspice, the linear part alone), ``mna`` (the linear
    part solved exactly) at sample rate ``rate``. The law reads both ngspice traces alike
    (``reference.trace_layer_features``)."""
    phi_loaded = reference.trace_layer_features(model, loaded, rate)
    phi_linear = reference.trace_layer_features(model, linear, rate)
    scores = reference.scores(model, phi_loaded) - reference.scores(model, phi_linear)
    return LoadedTaps(dict(zip(labels, map(float, nrmse(loaded, mna)))),
                      dict(zip(labels, map(float, nrmse(loaded, linear)))),
                      float(np.max(np.abs(scores))), float(np.max(np.abs(phi_loaded - phi_linear))))


def summarise(rows: list[tuple[str, LoadedTaps]], limit: float) -> dict:
    """The report's ``summary.loaded_taps``: signals, the worst loaded NRMSE against the MNA and
    against the linear part's run (with tap and signal), how many signals' loaded taps exceed
    ``limit`` (reported, not gated), and the worst score and feature errors."""
    if not rows:
        return {}

    def worst(key: str) -> tuple[float, str, str]:
        return max(((v, tap, path) for path, row in rows for tap, v in getattr(row, key).items()),
                   key=lambda x: x[0])

    (vs_mna, tap, path), (vs_linear, tap_l, path_l) = worst("nrmse_vs_circuit"), worst("nrmse_vs_linear_part")
    return {"signals": len(rows), "worst_nrmse_vs_circuit": vs_mna, "worst_tap": tap, "worst_signal": path,
            "worst_nrmse_vs_linear_part": vs_linear, "worst_tap_vs_linear_part": tap_l,
            "worst_signal_vs_linear_part": path_l, "nrmse_limit": limit, "gated": False, "gated_run": "linear_part",
            "signals_over_limit": sum(1 for _, r in rows if max(r.nrmse_vs_circuit.values()) > limit),
            "worst_score_error": max(r.score_error for _, r in rows),
            "worst_feature_error_v": max(r.feature_error_v for _, r in rows)}
