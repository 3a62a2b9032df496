"""The on-circuit readout of a linear readout layer (``readout_analog`` with ``--readout behavioural``).

A model with a linear readout scores class j as s_j = β_j + Σ_f A_jf φ_f with φ_f = ln(MS_f + ε),
MS_f the continuous-time mean square of resonator i_f over segment k_f of the window
[s_0, s_K], and decides argmax_j s_j (:mod:`r2nn_compiler.reference.readout`). Its deck exposes
one tap per resonator the layer reads (port ``tap<i>``, ``g_i`` volts per unit velocity,
:func:`..base.observed_nodes`); this module realises the layer on those taps, level
``behavioural`` (B-sources, for fast checks), in one subcircuit instance ``Xreadout`` outside the
linear components (``graph.readout``), the way ``readout_analog`` builds its readout:

* per segment k a timing source ``tw<k>`` high on [s_{k−1}, s_k] (circuit seconds; k from 1);
* per feature f a mean-square detector: ``B 0 ms<f> I = v(tw<k>)·v(b<i>)²·C/(T_k·g_i²)`` into C,
  so v(ms<f>) = MS_f in model units² (1 V per (m/s)²) once its segment has passed (0 before it,
  the running mean square during it), and ``B phi<f> V = ln(max(v(ms<f>), 0) + ε)``, φ_f in volts
  (1 V per unit);
* per class j the score ``B sc<j> V = β_j + Σ_f A_jf·v(phi<f>)`` (1 V per unit score) and the
  winner-take-all ``B dec<j> V = high·u(v(sc<j>) − max_{k≠j} v(sc<k>))``, as the rms readouts'
  behavioural WTA (0 or :data:`.readout.BEHAVIOURAL_HIGH_V`; a tie gives no port high).

The taps are not buffered or weighted (the weights act in the log domain, on the B-sources):
the tap ports stay the linear circuit's ideal readout elements, which ``calibrate_outputs``
trims without changing their nominal gain g_i, the gain the detectors divide by. Every element
is ideal: the manifest's ``readout_circuit.parts`` counts the B-sources, timing sources and
integrating capacitors, and the BOM lists them as ``ideal``. Decisions are valid
:func:`.readout.settling_s` after s_K. The parts-level realisation (``--readout analog``)
is built for a layer under ``law diode`` only (:mod:`..readout_micropower`); for the log law it
is a one-line CompileError.
"""

from __future__ import annotations

import numpy as np

from ...circuit import GROUND, Component, SubcircuitDef
from ...errors import CompileError, Location
from ...model import Model
from ...reference import feature_taps
from ..base import CompileContext, PassResult
from .readout import (BEHAVIOURAL_HIGH_V, C_BEHAVIOURAL, DECISION_LOAD_OHM, EDGE_S, add_decision_ports, attach_readout,
                      behavioural_integrator, behavioural_wta, law, number, part_counts,
                      pwl, settling_s)

#: Net name prefix of the class scores: ports of the readout subcircuit, and through its instance
#: nets of the model's subcircuit (the manifest's detector nets, which the verifier saves).
SCORE_NET = "sc"


def refuse_parts_level() -> CompileError:
    """The one-line error for ``--readout analog`` on a linear layer."""
    return CompileError("--readout analog is not built for a linear readout layer yet: use --readout behavioural "
                        "(B-sources) or --readout none (decide from the taps' traces)", Location(parameter="readout"))


def segment_gates(boundaries: list[float], edge: float) -> list[list[list[float]]]:
    """PWL points (circuit seconds, volts 0/1) of each segment's gate: high on [s_{k−1}, s_k],
    rising over ``edge`` after s_{k−1} (at once when s_{k−1} ≤ 0) and falling over ``edge``
    after s_k, so consecutive gates hand over within the same ``edge``."""
    gates = []
    for a, b in zip(boundaries, boundaries[1:]):
        start = [[0.0, 1.0]] if a <= 0 else [[0.0, 0.0], [a, 0.0], [a + edge, 1.0]]
        gates.append(start + [[b, 1.0], [b + edge, 0.0]])
    return gates


#: Weighted terms one B-source sums: a class with more is summed in parts (a B-source expression
#: stays far below the netlister's length limit, and ngspice parses short expressions faster).
TERMS_PER_SOURCE = 32


def score_expression(bias: float, weights: list[float], number) -> str:
    """``β + Σ w_f·v(phi<f>)`` over the non-zero weights (f from 1), constants written by ``number``."""
    expr = number(bias)
    for f, w in enumerate(weights, start=1):
        if w != 0:
            expr += f"{'+' if w > 0 else '-'}{number(abs(w))}*v(phi{f})"
    return expr


def score_elements(j: int, bias: float, weights: list[float], number) -> list[Component]:
    """The B-sources of class j's score on net ``sc<j>`` (1 V per unit score): one when it has at
    most :data:`TERMS_PER_SOURCE` non-zero weights, else one per part (nets ``sc<j>_<p>``, each a
    sum of up to that many terms) and one summing the bias and the parts."""
    live = [f for f, w in enumerate(weights) if w != 0]
    if len(live) <= TERMS_PER_SOURCE:
        return [law(f"Bsc{j}", [f"{SCORE_NET}{j}", GROUND], "V", score_expression(bias, weights, number))]
    parts = [live[i:i + TERMS_PER_SOURCE] for i in range(0, len(live), TERMS_PER_SOURCE)]
    elements = []
    for p, part in enumerate(parts, start=1):
        only = [w if f in part else 0.0 for f, w in enumerate(weights)]
        elements.append(law(f"Bsc{j}_{p}", [f"{SCORE_NET}{j}_{p}", GROUND], "V",
                             score_expression(0.0, only, number)))
    total = number(bias) + "".join(f"+v({SCORE_NET}{j}_{p})" for p in range(1, len(parts) + 1))
    return elements + [law(f"Bsc{j}", [f"{SCORE_NET}{j}", GROUND], "V", total)]


def layer_description(model: Model, tap_gains: np.ndarray, time_scale: float) -> dict:
    """The layer's behavioural readout as plain data (all times in circuit seconds, values SI), in
    the shape of ``readout_analog.readout_description`` (``level``, ``detector``, ``subckt``,
    ``subcircuits``, ``volts_per_mean_square`` (None: per tap, 1/g_i² in the B-sources),
    ``high_volts``, ``window_s``, ``detector_limit_v``, ``parts``) plus ``segments_s`` and
    ``features`` ({name, tap, segment, net}, segment from 0). ``tap_gains``: volts per unit
    velocity of each tap (``model.read_nodes`` order). Ports of the readout subcircuit: b1..bN
    (the taps), dec1..decM, sc1..scM (the scores)."""
    ro = model.readout
    bounds = [b * time_scale for b in ro.boundaries]
    edge = min(EDGE_S, float(np.min(np.diff(bounds))) / 1000)
    node, segment = (a.tolist() for a in feature_taps(model))
    _, biases, matrix = ro.feature_matrix()
    n_taps, n_classes = len(model.read_nodes), len(biases)
    elements: list[Component] = [pwl(f"Vseg{k}", [f"tw{k}", GROUND], gate)
                                 for k, gate in enumerate(segment_gates(bounds, edge), start=1)]
    for f, (i, k) in enumerate(zip(node, segment), start=1):
        scale = C_BEHAVIOURAL / ((bounds[k + 1] - bounds[k]) * float(tap_gains[i]) ** 2)
        elements += behavioural_integrator(("Bms", "Cms", "Rleak"), f, f"tw{k + 1}", f"b{i + 1}", f"ms{f}", scale)
        elements.append(law(f"Bphi{f}", [f"phi{f}", GROUND], "V", f"ln(max(v(ms{f}),0)+{number(ro.floor)})"))
    for j in range(1, n_classes + 1):
        elements += score_elements(j, biases[j - 1], matrix[j - 1], number)
        elements.append(behavioural_wta(j, SCORE_NET, n_classes))
    ports = [f"b{i}" for i in range(1, n_taps + 1)] + [f"dec{j}" for j in range(1, n_classes + 1)] + \
        [f"{SCORE_NET}{j}" for j in range(1, n_classes + 1)]
    doc = "r2nn readout, behavioural: linear layer over log mean squares of the taps, winner-take-all"
    readout = SubcircuitDef("r2nn_readout", ports, elements, doc)
    return {"level": "behavioural", "detector": "linear layer over log mean squares per segment, behavioural",
            "subckt": "r2nn_readout", "subcircuits": [readout], "volts_per_mean_square": None,
            "high_volts": BEHAVIOURAL_HIGH_V, "window_s": [bounds[0], bounds[-1]], "segments_s": bounds,
            "detector_limit_v": None, "parts": part_counts(elements),
            "features": [{"name": feat.name, "tap": f"b{i + 1}", "segment": int(k), "net": f"ms{f}"}
                         for f, (feat, i, k) in enumerate(zip(ro.features, node, segment), start=1)]}


def realise(ctx: CompileContext, level: str) -> PassResult:
    """``readout_analog``'s transform for a linear layer: decision ports (with their loads) after
    the taps, the behavioural layer (:func:`layer_description`) in ``graph.meta["readout"]``,
    ``graph.meta["decisions"]``. Raises CompileError for the parts level (not built yet) or when
    the readout's nets are already taken."""
    if level != "behavioural":
        raise refuse_parts_level()
    graph, model = ctx.require_graph("readout_analog"), ctx.model
    classes = model.classes
    if [p.node for p in ctx.outputs] != model.read_nodes or any(p.role != "tap" for p in ctx.outputs):
        raise CompileError("readout_analog: the port maps are not the linear layer's taps")
    taken = [net for j in range(len(classes)) for net in (f"dec{j + 1}", f"{SCORE_NET}{j + 1}") if net in graph.graph]
    if taken:
        raise CompileError(f"readout_analog: net {taken[0]} already exists: the readout was added before")
    graph = add_decision_ports(ctx, [(cls, cls) for cls in classes], DECISION_LOAD_OHM, "class {cls} decision port load")
    description = layer_description(model, np.array([p.gain for p in ctx.outputs]), ctx.time_scale)
    n = len(classes)
    attach_readout(graph, description, [p.net for p in ctx.outputs] + [f"dec{j + 1}" for j in range(n)] +
                   [f"{SCORE_NET}{j + 1}" for j in range(n)], ctx.options.tolerance)
    description["detectors"] = [{"class": cls, "net": f"{SCORE_NET}{j + 1}", "volts_per_unit_score": 1.0}
                                for j, cls in enumerate(classes)]
    description["buffers"] = []
    graph.meta["readout"] = description
    t1 = description["window_s"][1]
    settle = settling_s(level, t1 - description["window_s"][0])
    graph.meta["decision_settling_s"] = settle  # read by r2nn_compiler.energy
    graph.meta["decisions"] = [{"class": cls, "port": f"dec{j + 1}", "high_volts": description["high_volts"],
                                "valid_after_s": t1 + settle} for j, cls in enumerate(classes)]
    parts = description["parts"]
    summary = (f"behavioural readout of a linear layer: {len(model.readout.features)} mean-square detectors over "
               f"{len(description['segments_s']) - 1} segment(s) of {len(ctx.outputs)} taps, log, {n} class scores, "
               "winner-take-all; readout parts (all ideal): " +
               ", ".join(f"{v} {k}" for k, v in parts.items() if v) +
               f"; decisions valid {settle:g} s after the window")
    return PassResult(True, summary, {"level": level, "parts": parts, "decisions": graph.meta["decisions"]})
