"""``manifest.json`` ("r2nn-netlist/1"): the contract between a compiled deck and its users.

Contract: when each input port is driven by an ideal voltage source with
``volts_per_unit · u(t_c / time_scale)``, each output port's voltage is
``volts_per_unit_velocity · v_node(t_c / time_scale)``.

A model with a linear readout layer has no outputs (``outputs`` is []): its deck exposes one
**tap** per resonator the layer reads (``model.read_nodes`` order), listed after ``outputs`` as
``taps`` [{``node``, ``port``, ``volts_per_unit_velocity``}] under the same contract; the layer
(features, scores, argmax) is computed from the taps' traces. ``taps`` is written for such a
model only, and so is ``readout.segments_s`` (the layer's segment boundaries, circuit seconds).
Ports: inputs, then outputs (or taps), then decisions, then supplies.

Keys are only ever added, never changed in meaning. Build information: ``parts`` (how many
parts the BOM asks a builder to buy: positive R, L, C and subcircuit instances, not ideal
elements), ``not_in_bom`` (components the BOM leaves out, per reason: ``wiring``,
``parasitic``), ``opamps`` and ``opamp_model`` (as the realisation passes recorded them in the
graph's meta; [] and null without them) and ``out_of_range`` (the ``scale`` pass's list of
parts still outside the practical value ranges, each with its reason; [] without that pass).
``energy`` (null when not given): op-amp count, ±supply volts, quiescent amperes per op-amp,
static power (W), readout window (s), energy per decision (J), decision settling and latency
(s), as :class:`r2nn_compiler.energy.EnergyEstimate` computes them.

On-circuit readout (``r2nn compile --readout analog|behavioural``): ``decisions`` lists, in
class order, ``{class, port, high_volts, valid_after_s}``: decision port ``port`` is high
(above half of ``high_volts``) for the winning class from ``valid_after_s`` (circuit seconds)
on; the decision ports follow the outputs and precede any supplies in ``ports``. [] without a
readout. ``readout_circuit`` (null without one) describes the detectors (see
:func:`_readout_circuit`).
"""

from __future__ import annotations

from typing import Any

from .bom import part_count, unlisted_counts

FORMAT = "r2nn-netlist/1"


def build_manifest(*, model, graph, subckt: str, library: str, testbench: str, input_file: str,
                   inputs, outputs, time_scale: float, sense: str, flow: list[str], log, exact: bool,
                   sample_rate_hz: float, tstop_s: float, tmax_s: float, version: str,
                   energy: dict | None = None) -> dict[str, Any]:
    """Everything a testbench or checker needs, in port order (inputs, then outputs or taps, then
    the rest). ``outputs``: the observed port maps (``ctx.outputs``: role ``output`` or ``tap``)."""
    role_order = [p.name for p in graph.ports]
    manifest = {
        "format": FORMAT,
        "generator": f"r2nn-compiler {version}",
        "model": model.name,
        "analogy": model.analogy,
        "subckt": subckt,
        "library": library,
        "testbench": testbench,
        "input_file": input_file,
        "ports": role_order,
        "inputs": [{"name": p.name, "port": p.net, "volts_per_unit": p.gain} for p in inputs],
        "outputs": [{"class": p.name, "node": p.node, "port": p.net, "volts_per_unit_velocity": p.gain}
                    for p in outputs if p.role == "output"],
        "taps": [{"node": p.node, "port": p.net, "volts_per_unit_velocity": p.gain}
                 for p in outputs if p.role == "tap"],
        "decisions": [dict(d) for d in graph.meta.get("decisions", [])],
        "supplies": [{"port": p.name, "volts": graph.meta.get("supply_volts", {}).get(p.name)}
                     for p in graph.ports if p.role == "supply"],
        "time_scale": time_scale,
        "exact": exact,
        "sense": sense,
        "readout": {"kind": model.readout.kind, "start_s": model.readout.start * time_scale,
                    "stop_s": model.readout.stop * time_scale},
        "testbench_signal": {"sample_rate_hz": sample_rate_hz, "stop_s": tstop_s, "max_step_s": tmax_s},
        "flow": flow,
        "log": [{"pass": e.name, "changed": e.changed, "summary": e.summary} for e in log],
        "component_counts": {k: v for k, v in graph.counts().items() if v},
        "total_components": len(graph.components),
        "parts": part_count(graph),
        "not_in_bom": unlisted_counts(graph),
        "opamps": list(graph.meta.get("opamps", [])),
        "opamp_model": graph.meta.get("opamp_model"),
        "out_of_range": next((list(e.details.get("out_of_range", [])) for e in reversed(log)
                              if e.name == "scale"), []),
        "energy": energy,
        "readout_circuit": _readout_circuit(graph.meta.get("readout")),
    }
    if model.readout.is_linear:
        manifest["readout"]["segments_s"] = [b * time_scale for b in model.readout.boundaries]
    else:
        del manifest["taps"]  # decks of the other readouts keep their manifests as they were
    return manifest


def _readout_circuit(readout: dict | None) -> dict | None:
    """What a checker needs of the on-circuit readout (null without one): level, detector,
    per class the detector net of the model subcircuit and its nominal volts per feature²
    (det_j = value · F_j², F_j = w_j·RMS(v_j) over the window; a linear layer's: the class's
    score net ``sc<j>`` and its ``volts_per_unit_score``, with ``volts_per_mean_square`` null
    and no buffers, see ``passes.readout_linear``) and the swing they clip at
    (null: none), the readout's subcircuits and
    instance (outside the linear circuit), its window (s) and part counts (its parts are
    also BOM rows, ``Xreadout.<element>``)."""
    if not readout:
        return None
    return {"level": readout["level"], "detector": readout["detector"], "detectors": readout["detectors"],
            "volts_per_mean_square": readout["volts_per_mean_square"], "window_s": readout["window_s"],
            "detector_limit_v": readout.get("detector_limit_v"),
            "instance": readout["instance"], "subcircuits": list(readout["subcircuits"]),
            "buffers": readout["buffers"], "parts": readout["parts"]}
