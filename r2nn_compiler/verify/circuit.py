"""The circuit a compiled deck describes, as numpy sees it: the library read back into a
circuit graph, its port nets, gains and time scale, and exact simulation of its MNA.

The verifier compares ngspice with this (the deck simulates what the compiler built) and the
tolerance analysis perturbs its parts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .. import reference
from ..backend.spice_reader import read_library
from ..circuit import INVERTED_INPUTS, CircuitGraph, mna_matrices
from ..model.ir import Model
from ..numerics.foh import simulate_foh
from ..numerics.statespace import StateSpace
from ..signals import Signal
from .manifest import CompiledDeck, observed_ports

#: Held while a graph's part values are changed for one analysis and put back.
_GRAPH_LOCK = threading.Lock()


def signal_groups(signals: list[Signal]) -> dict[tuple[float, int], list[int]]:
    """Indices of the signals sharing a (sample rate, length): each group simulates as a batch."""
    groups: dict[tuple[float, int], list[int]] = {}
    for i, s in enumerate(signals):
        groups.setdefault((s.rate_hz, s.data.shape[1]), []).append(i)
    return groups


@dataclass
class CircuitUnderTest:
    """A compiled deck as the analysis needs it: graph, port nets and gains, time scale.
    ``outputs``/``out_gain``: the observed ports (the outputs, or a linear layer's taps)."""

    graph: CircuitGraph
    inputs: list[str]
    outputs: list[str]
    in_gain: np.ndarray
    out_gain: np.ndarray
    time_scale: float

    @classmethod
    def from_compiled(cls, compiled: CompiledDeck) -> "CircuitUnderTest":
        m = compiled.manifest
        roles = {p["port"]: "input" for p in m["inputs"]}
        inverted = {p["inverted_port"]: p["port"] for p in m["inputs"] if p.get("inverted_port")}
        roles.update({port: "input" for port in inverted})
        roles.update({c["port"]: "control" for c in m.get("controls") or []})
        roles.update({s["port"]: "supply" for s in m.get("supplies", [])})
        graph = read_library(compiled.library_path, m["subckt"], roles)
        graph.meta[INVERTED_INPUTS] = inverted
        observed = observed_ports(m)
        return cls(graph, [p["port"] for p in m["inputs"]], [p["port"] for p in observed],
                   np.array([p["volts_per_unit"] for p in m["inputs"]], dtype=float),
                   np.array([p["volts_per_unit_velocity"] for p in observed], dtype=float),
                   float(m["time_scale"]))

    def state_space(self, values: dict[str, float] | None = None) -> StateSpace:
        """The circuit's MNA state space (circuit seconds, volts in and out) with the parts named
        in ``values`` at those values (the graph itself is left as it was)."""
        graph = self.graph
        values = values or {}
        with _GRAPH_LOCK:  # executor threads (a Dask worker's) share this graph
            saved = {name: graph.component(name).value for name in values}
            try:
                for name, value in values.items():
                    graph.component(name).value = value
                return mna_matrices(graph, self.inputs).state_space(self.outputs)
            finally:
                for name, value in saved.items():
                    graph.component(name).value = value

    def outputs_for(self, values: dict[str, float], signals: list[Signal]) -> list[np.ndarray]:
        """Model-unit output velocities (outputs × samples) per signal with parts at ``values``."""
        system = self.state_space(values)
        results: list[np.ndarray | None] = [None] * len(signals)
        for (rate, _), members in signal_groups(signals).items():
            u = np.stack([signals[i].data for i in members]) * self.in_gain[None, :, None]
            y = simulate_foh(system, u, self.time_scale / rate) / self.out_gain[None, :, None]
            for b, i in enumerate(members):
                results[i] = y[b]
        return results

    def features_for(self, model: Model, values: dict[str, float], signals: list[Signal], *,
                     modal: bool = False) -> np.ndarray:
        """``model``'s decision values (signals × classes: features, or a linear layer's
        scores) of the circuit's observed ports with parts at ``values``, exact for every readout
        kind (the continuous ones integrate the MNA's response between samples too; ``modal``:
        by the gramian identity, see :func:`reference.system_features`)."""
        system = self.state_space(values)
        results: list[np.ndarray | None] = [None] * len(signals)
        for (rate, _), members in signal_groups(signals).items():
            u = np.stack([signals[i].data for i in members]) * self.in_gain[None, :, None]
            f = reference.system_features(model, system, u, rate, self.time_scale, self.out_gain, modal=modal)
            for b, i in enumerate(members):
                results[i] = f[b]
        return np.stack(results)

    def response(self, freqs_hz: np.ndarray) -> np.ndarray:
        """H(jω) in model units (outputs × inputs × freqs) at model frequencies ``freqs_hz``."""
        system = mna_matrices(self.graph, self.inputs)
        h = system.ac(np.asarray(freqs_hz) / self.time_scale, self.outputs)
        return h * self.in_gain[None, :, None] / self.out_gain[:, None, None]
