"""``manifest.json`` ("r2nn-netlist/1"): the contract between a compiled deck and its users.

Contract: when each input port is driven by an ideal voltage source with
``volts_per_unit · u(t_c / time_scale)`` (and its ``inverted_port``, when it has one, with the
negative of that), each output port's voltage is ``volts_per_unit_velocity · v_node(t_c / time_scale)``.

A model with a linear readout layer has no outputs (``outputs`` is []): its deck exposes one
**tap** per resonator the layer reads (``model.read_nodes`` order), listed after ``outputs`` as
``taps`` [{``node``, ``port``, ``volts_per_unit_velocity``}] under the same contract; the layer
(features, scores, argmax) is computed from the taps' traces. ``taps`` is written for such a
model only, and so is ``readout.segments_s`` (the layer's segment boundaries, circuit seconds).
Ports: inputs (an input's inverted copy after them), then outputs (or taps), then decisions,
then controls, then supplies.

Keys are only ever added, never changed in meaning. Build information: ``parts`` (how many
parts the BOM asks a builder to buy: positive R, L, C and subcircuit instances, not ideal
elements), ``not_in_bom`` (components the BOM leaves out, per reason: ``wiring``,
``parasitic``), ``opamps`` (derived from the graph, ``circuit.annotations.opamps``) and ``opamp_model``
(as the realisation passes recorded it in the graph's meta; [] and null without them) and ``out_of_range`` (the ``scale`` pass's list of
parts still outside the practical value ranges, each with its reason; [] without that pass).
``energy`` (null when not given): op-amp count, ±supply volts, quiescent amperes per op-amp,
static power (W), readout window (s), energy per decision (J), decision settling and latency
(s), as :class:`r2nn_compiler.energy.EnergyEstimate` computes them.

On-circuit readout (``r2nn compile --readout analog|behavioural``): ``decisions`` lists, in
class order, ``{class, port, high_volts, valid_after_s}``: decision port ``port`` is high
(above half of ``high_volts``) for the winning class from ``valid_after_s`` (circuit seconds)
on; the decision ports follow the outputs and precede any controls and supplies in ``ports``.
[] without a readout. ``controls`` (written only when there are some): the readout's timing
inputs, ``{port, role, waveform}``, ``waveform`` [[seconds, volts], ...] in circuit time, which
the host drives (the testbench from this list); their energy is a nanopower timer's
(``energy.timer_part``). ``readout_circuit`` (null without one) describes the detectors (see
:func:`_readout_circuit`).

``part_sensitivity`` (written when the ``part_sensitivity`` pass ran: a flow with bought parts):
``metric``, ``grid`` and ``parts``, one entry per R, L, C bought, largest first:
{designator, kind, value, series, tolerance, per_unit, across_tolerance, output, dominant}
(meanings: :mod:`r2nn_compiler.passes.part_sensitivity`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..circuit.annotations import opamps
from ..energy import EnergyEstimate
from .bom import part_count, unlisted_counts

FORMAT = "r2nn-netlist/1"


@dataclass(frozen=True)
class InputPort:
    """Model input ``name`` on deck port ``port``: ``volts_per_unit`` V per model unit;
    ``inverted_port`` (None: none) carries −``volts_per_unit`` V per unit (``--drive parts``:
    the input's negative drives; a differential sensor's second output)."""

    name: str | None
    port: str
    volts_per_unit: float
    inverted_port: str | None = None

    def to_json(self) -> dict:
        data = {"name": self.name, "port": self.port, "volts_per_unit": self.volts_per_unit}
        return data if self.inverted_port is None else {**data, "inverted_port": self.inverted_port}


@dataclass(frozen=True)
class ObservedPort:
    """An output (``cls`` its class) or a linear layer's tap (``cls`` None): resonator ``node``
    on deck port ``port``, ``volts_per_unit_velocity`` V per m/s."""

    node: str | None
    port: str
    volts_per_unit_velocity: float
    cls: str | None = None

    def to_json(self) -> dict:
        data = {"node": self.node, "port": self.port, "volts_per_unit_velocity": self.volts_per_unit_velocity}
        return data if self.cls is None else {"class": self.cls, **data}


@dataclass(frozen=True)
class Decision:
    """Decision port ``port`` is high (above half ``high_volts``) for class ``cls`` when it wins,
    from ``valid_after_s`` (circuit s) on."""

    cls: str
    port: str
    high_volts: float
    valid_after_s: float

    def to_json(self) -> dict:
        return {"class": self.cls, "port": self.port, "high_volts": self.high_volts,
                "valid_after_s": self.valid_after_s}


@dataclass(frozen=True)
class Control:
    """Control port ``port`` (a timing input of the on-circuit readout: ``role`` e.g.
    ``window_gate``, ``reset``, ``segment_gate_<k>``), driven by the host with the piecewise-
    linear ``waveform`` [[seconds, volts], ...] in circuit time (a nanopower timer's output)."""

    port: str
    role: str
    waveform: list[list[float]]

    def to_json(self) -> dict:
        return {"port": self.port, "role": self.role, "waveform": [list(p) for p in self.waveform]}


@dataclass(frozen=True)
class Supply:
    """Supply port ``port`` and its volts (None: not recorded)."""

    port: str
    volts: float | None = None

    def to_json(self) -> dict:
        return {"port": self.port, "volts": self.volts}


@dataclass(frozen=True)
class ReadoutWindow:
    """The model's readout kind and window (circuit s); a linear layer's segment boundaries."""

    kind: str | None
    start_s: float | None
    stop_s: float | None
    segments_s: list[float] | None = None

    def to_json(self) -> dict:
        data = {"kind": self.kind, "start_s": self.start_s, "stop_s": self.stop_s}
        return data if self.segments_s is None else {**data, "segments_s": list(self.segments_s)}


@dataclass(frozen=True)
class TestbenchSignal:
    """The shipped testbench's input: sample rate (Hz), last sample and largest step (s), circuit time."""

    __test__ = False  # not a pytest class

    sample_rate_hz: float
    stop_s: float
    max_step_s: float

    def to_json(self) -> dict:
        return {"sample_rate_hz": self.sample_rate_hz, "stop_s": self.stop_s, "max_step_s": self.max_step_s}


@dataclass(frozen=True)
class LogRecord:
    """One applied pass of the flow: its name, whether it changed the graph, its summary."""

    name: str
    changed: bool
    summary: str

    def to_json(self) -> dict:
        return {"pass": self.name, "changed": self.changed, "summary": self.summary}


@dataclass(frozen=True)
class ReadoutCircuit:
    """What a checker needs of the on-circuit readout: level, detector, per class the detector
    net of the model subcircuit and its nominal volts per feature² (det_j = value · F_j²,
    F_j = w_j·RMS(v_j) over the window; a linear layer's: the class's score net ``sc<j>`` and
    its ``volts_per_unit_score``, with ``volts_per_mean_square`` null and no buffers, see
    ``passes.common.readout_linear``) and the swing they clip at (null: none), the readout's
    subcircuits and instance (outside the linear circuit), its window (s) and part counts (its
    parts are also BOM rows, ``Xreadout.<element>``)."""

    level: str
    detector: str
    detectors: list[dict]
    volts_per_mean_square: float | None
    window_s: list[float]
    detector_limit_v: float | None
    instance: str
    subcircuits: list[str]
    buffers: list[dict]
    parts: dict[str, int]
    #: A micropower readout (``passes.common.readout_micropower``): "micropower", its score nets'
    #: common term (the differences are the scores'), its cells (feature, cell net, segment,
    #: gain ratio) and how long its post-window stage is powered (s). Left out of the JSON otherwise.
    design: str | None = None
    scores_up_to_common_offset: bool | None = None
    features: list[dict] | None = None
    post_window_s: float | None = None
    #: A micropower readout's sums' scale: {rule (worst_case | calibration | calibration_top), volts_per_unit_score,
    #: mv_per_unit_score, score_interval, calibration_margin, sum_reference_volts, linear_volts}
    #: (passes.common.readout_micropower.ScoreNetwork).
    score_scale: dict | None = None

    @classmethod
    def of(cls, readout: dict | None) -> "ReadoutCircuit | None":
        """From ``graph.meta["readout"]`` (as ``readout_analog`` writes it); None without one."""
        if not readout:
            return None
        return cls(readout["level"], readout["detector"], readout["detectors"], readout["volts_per_mean_square"],
                   readout["window_s"], readout.get("detector_limit_v"), readout["instance"],
                   list(readout["subcircuits"]), readout["buffers"], readout["parts"], readout.get("design"),
                   readout.get("scores_up_to_common_offset"),
                   readout.get("features") if readout.get("design") else None, readout.get("post_window_s"),
                   readout.get("score_scale"))

    def to_json(self) -> dict:
        return {"level": self.level, "detector": self.detector, "detectors": self.detectors,
                "volts_per_mean_square": self.volts_per_mean_square, "window_s": self.window_s,
                "detector_limit_v": self.detector_limit_v, "instance": self.instance,
                "subcircuits": self.subcircuits, "buffers": self.buffers, "parts": self.parts,
                **({"design": self.design, "scores_up_to_common_offset": self.scores_up_to_common_offset,
                    "features": self.features, "post_window_s": self.post_window_s} if self.design else {}),
                **({"score_scale": self.score_scale} if self.score_scale is not None else {})}


@dataclass(frozen=True)
class Manifest:
    """``manifest.json`` as typed fields, in the order the JSON lists them (see the module
    docstring for each key's meaning). ``taps`` is None (the key left out) except for a linear
    readout layer. Written by :meth:`build` and :meth:`text`; read back by
    :func:`r2nn_compiler.verify.manifest.read_compiled` through :meth:`from_json`."""

    subckt: str
    library: str
    ports: list[str]
    inputs: list[InputPort]
    outputs: list[ObservedPort]
    time_scale: float
    format: str = FORMAT
    generator: str | None = None
    model: str | None = None
    analogy: str | None = None
    testbench: str | None = None
    input_file: str | None = None
    taps: list[ObservedPort] | None = None
    decisions: list[Decision] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    supplies: list[Supply] = field(default_factory=list)
    exact: bool = False
    sense: str | None = None
    readout: ReadoutWindow | None = None
    testbench_signal: TestbenchSignal | None = None
    flow: list[str] = field(default_factory=list)
    log: list[LogRecord] = field(default_factory=list)
    component_counts: dict[str, int] = field(default_factory=dict)
    total_components: int | None = None
    parts: int | None = None
    not_in_bom: dict[str, int] = field(default_factory=dict)
    opamps: list[dict] = field(default_factory=list)
    opamp_model: dict | None = None
    out_of_range: list[dict] = field(default_factory=list)
    energy: EnergyEstimate | None = None
    readout_circuit: ReadoutCircuit | None = None
    part_sensitivity: dict | None = None

    @property
    def observed(self) -> list[ObservedPort]:
        """The ports the deck is observed at: a linear layer's taps, else the outputs."""
        return list(self.taps or self.outputs)

    @property
    def input_gains(self) -> list[float]:
        """Volts per model unit of each input port, in port order."""
        return [float(p.volts_per_unit) for p in self.inputs]

    @property
    def observed_gains(self) -> list[float]:
        """Volts per m/s of each observed port (:attr:`observed`)."""
        return [float(p.volts_per_unit_velocity) for p in self.observed]

    @classmethod
    def build(cls, *, model, graph, subckt: str, library: str, testbench: str, input_file: str, inputs, outputs,
              time_scale: float, sense: str, flow: list[str], log, exact: bool, sample_rate_hz: float,
              tstop_s: float, tmax_s: float, version: str, energy: dict | None = None) -> "Manifest":
        """The manifest of ``graph`` compiled from ``model``: ``inputs`` and ``outputs`` the port
        maps (``ctx.inputs``, ``ctx.outputs``: role ``output`` or ``tap``), ``log`` the
        compile log, the testbench signal's rate (Hz), stop and step (s, circuit time)."""
        scale = time_scale
        ro = model.readout
        return cls(
            format=FORMAT, generator=f"r2nn-compiler {version}", model=model.name, analogy=model.analogy,
            subckt=subckt, library=library, testbench=testbench, input_file=input_file,
            ports=[p.name for p in graph.ports], inputs=[InputPort(p.name, p.net, p.gain, p.inverted) for p in inputs],
            outputs=[ObservedPort(p.node, p.net, p.gain, p.name) for p in outputs if p.role == "output"],
            taps=[ObservedPort(p.node, p.net, p.gain) for p in outputs if p.role == "tap"] if ro.is_linear else None,
            decisions=[Decision(d["class"], d["port"], d["high_volts"], d["valid_after_s"])
                       for d in graph.meta.get("decisions", [])],
            controls=[Control(c["port"], c["role"], c["waveform"]) for c in graph.meta.get("controls", [])],
            supplies=[Supply(p.name, graph.meta.get("supply_volts", {}).get(p.name))
                      for p in graph.ports if p.role == "supply"],
            time_scale=time_scale, exact=exact, sense=sense,
            readout=ReadoutWindow(ro.kind, ro.start * scale, ro.stop * scale,
                                  [b * scale for b in ro.boundaries] if ro.is_linear else None),
            testbench_signal=TestbenchSignal(sample_rate_hz, tstop_s, tmax_s), flow=flow,
            log=[LogRecord(e.name, e.changed, e.summary) for e in log], **_build_information(graph, log),
            energy=EnergyEstimate(**energy) if energy is not None else None,
            readout_circuit=ReadoutCircuit.of(graph.meta.get("readout")))

    def to_json(self) -> dict[str, Any]:
        """The JSON object, keys in the order ``manifest.json`` has always listed them."""
        data = {"format": self.format, "generator": self.generator, "model": self.model, "analogy": self.analogy,
                "subckt": self.subckt, "library": self.library, "testbench": self.testbench,
                "input_file": self.input_file, "ports": list(self.ports),
                "inputs": [p.to_json() for p in self.inputs], "outputs": [p.to_json() for p in self.outputs]}
        if self.taps is not None:
            data["taps"] = [p.to_json() for p in self.taps]
        return data | {
            "decisions": [d.to_json() for d in self.decisions], **self._controls_json(),
            "supplies": [s.to_json() for s in self.supplies],
            "time_scale": self.time_scale, "exact": self.exact, "sense": self.sense,
            "readout": _json_or_none(self.readout), "testbench_signal": _json_or_none(self.testbench_signal),
            "flow": list(self.flow), "log": [e.to_json() for e in self.log],
            "component_counts": self.component_counts, "total_components": self.total_components,
            "parts": self.parts, "not_in_bom": self.not_in_bom, "opamps": self.opamps,
            "opamp_model": self.opamp_model, "out_of_range": self.out_of_range,
            "energy": self.energy.as_dict() if self.energy is not None else None,
            "readout_circuit": _json_or_none(self.readout_circuit)} | (
            {"part_sensitivity": self.part_sensitivity} if self.part_sensitivity is not None else {})

    def _controls_json(self) -> dict:
        """``{"controls": [...]}`` for a deck with control ports, else {} (decks without keep
        the keys they always had)."""
        return {"controls": [c.to_json() for c in self.controls]} if self.controls else {}

    def text(self) -> str:
        """``manifest.json``'s text (indent 1, a final newline)."""
        return json.dumps(self.to_json(), indent=1) + "\n"

    @classmethod
    def from_json(cls, data: dict) -> "Manifest":
        """The manifest of a JSON object that :func:`verify.manifest.read_compiled` has checked
        (the required keys present, ports and decisions well formed); keys it does not know
        are ignored, keys it knows but misses take their defaults."""
        return _from_json(cls, data)


def _json_or_none(value) -> dict | None:
    return value.to_json() if value is not None else None


def _build_information(graph, log) -> dict[str, Any]:
    """The manifest's counts and the op-amps, their model and out-of-range parts the passes recorded."""
    return {"component_counts": {k: v for k, v in graph.counts().items() if v},
            "total_components": len(graph.components), "parts": part_count(graph),
            "not_in_bom": unlisted_counts(graph), "opamps": [op.as_dict() for op in opamps(graph)],
            "opamp_model": graph.meta.get("opamp_model"),
            "out_of_range": next((list(e.details.get("out_of_range", [])) for e in reversed(log)
                                  if e.name == "scale"), []),
            "part_sensitivity": next((e.details for e in reversed(log) if e.name == "part_sensitivity"), None)}


def _from_json(cls: type[Manifest], d: dict) -> Manifest:
    """:meth:`Manifest.from_json` (a checked object: see there)."""
    def observed(e: dict) -> ObservedPort:
        return ObservedPort(e.get("node"), e["port"], e["volts_per_unit_velocity"], e.get("class"))

    ro, tb, rc = d.get("readout"), d.get("testbench_signal"), d.get("readout_circuit")
    return cls(
        format=d["format"], generator=d.get("generator"), model=d.get("model"), analogy=d.get("analogy"),
        subckt=d["subckt"], library=d["library"], testbench=d.get("testbench"), input_file=d.get("input_file"),
        ports=list(d["ports"]), inputs=[InputPort(e.get("name"), e["port"], e["volts_per_unit"], e.get("inverted_port"))
                           for e in d["inputs"]],
        outputs=[observed(e) for e in d["outputs"]],
        taps=[observed(e) for e in d["taps"]] if d.get("taps") is not None else None,
        decisions=[Decision(e["class"], e["port"], e["high_volts"], e["valid_after_s"])
                   for e in d.get("decisions") or []],
        controls=[Control(e["port"], e.get("role", ""), e.get("waveform") or []) for e in d.get("controls") or []],
        supplies=[Supply(e["port"], e.get("volts")) for e in d.get("supplies") or []],
        time_scale=d["time_scale"], exact=bool(d.get("exact", False)), sense=d.get("sense"),
        readout=ReadoutWindow(ro.get("kind"), ro.get("start_s"), ro.get("stop_s"), ro.get("segments_s"))
        if isinstance(ro, dict) else None,
        testbench_signal=TestbenchSignal(tb["sample_rate_hz"], tb["stop_s"], tb["max_step_s"])
        if isinstance(tb, dict) else None,
        flow=list(d.get("flow") or []),
        log=[LogRecord(e.get("pass"), e.get("changed"), e.get("summary"))
             for e in d.get("log") or [] if isinstance(e, dict)],
        component_counts=dict(d.get("component_counts") or {}), total_components=d.get("total_components"),
        parts=d.get("parts"), not_in_bom=dict(d.get("not_in_bom") or {}), opamps=list(d.get("opamps") or []),
        opamp_model=d.get("opamp_model"), out_of_range=list(d.get("out_of_range") or []),
        energy=_energy(d.get("energy")),
        readout_circuit=ReadoutCircuit(**{k: rc.get(k) for k in ReadoutCircuit.__dataclass_fields__})
        if isinstance(rc, dict) else None,
        part_sensitivity=d.get("part_sensitivity") if isinstance(d.get("part_sensitivity"), dict) else None)


def _energy(data) -> EnergyEstimate | None:
    """The ``energy`` object as an EnergyEstimate; None when absent or of another shape."""
    try:
        return EnergyEstimate(**data) if isinstance(data, dict) else None
    except TypeError:
        return None


def build_manifest(**fields) -> dict[str, Any]:
    """:meth:`Manifest.build`'s JSON object (the keywords are :meth:`Manifest.build`'s)."""
    return Manifest.build(**fields).to_json()
