"""``manifest.json`` ("r2nn-netlist/1"): the contract between a compiled deck and its users.

Contract: when each input port is driven by an ideal voltage source with
``volts_per_unit · u(t_c / time_scale)``, each output port's voltage is
``volts_per_unit_velocity · v_node(t_c / time_scale)``.
"""

from __future__ import annotations

from typing import Any

FORMAT = "r2nn-netlist/1"


def build_manifest(*, model, graph, subckt: str, library: str, testbench: str, input_file: str,
                   inputs, outputs, time_scale: float, sense: str, flow: list[str], log, exact: bool,
                   sample_rate_hz: float, tstop_s: float, tmax_s: float, version: str) -> dict[str, Any]:
    """Everything a testbench or checker needs, in port order (inputs, then outputs, then the rest)."""
    role_order = [p.name for p in graph.ports]
    return {
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
                    for p in outputs],
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
    }
