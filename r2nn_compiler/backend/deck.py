"""The compiled output's files from a compiled context: ``<name>.lib``, the testbench
``<name>.cir``, its input file ``<name>_input.txt``, ``manifest.json`` and ``bom.csv``.

The shipped testbench's stimulus, sampling rate and step rule are documented in
``docs/backend.md``. Nothing here writes to disk: :func:`deck_files` returns the texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import __version__, energy, reference
from ..circuit.opamp import OpampModel
from ..circuit.opamp import from_options as opamp_from_options
from ..model import Model
from ..passes.base import OBSERVED_PREFIX, CompileContext, CompileOptions
from .bom import bom_csv
from .kicad import Footprints, kicad_files
from .manifest import Manifest
from .netlister import format_spice, safe_identifier
from .ngspice import NgspiceNetlister, Testbench, f_max_hz, max_step


@dataclass(frozen=True)
class DeckNames:
    """The file and subcircuit names of one compiled model (``name`` a safe identifier)."""

    name: str

    @classmethod
    def of(cls, model: Model) -> "DeckNames":
        return cls(safe_identifier(model.name))

    @property
    def subckt(self) -> str:
        return f"r2nn_{self.name}"

    @property
    def library(self) -> str:
        return f"{self.name}.lib"

    @property
    def testbench(self) -> str:
        return f"{self.name}.cir"

    @property
    def input_file(self) -> str:
        return f"{self.name}_input.txt"


@dataclass(frozen=True)
class DeckOutput:
    """The texts to write, by file name, and the manifest they are described by."""

    files: dict[str, str]
    manifest: Manifest


def testbench_signal(model: Model) -> tuple[np.ndarray, float]:
    """A default stimulus for the shipped testbench: a logarithmic chirp across the model's band
    over the readout window, amplitude 1 (model units), sampled at ≥ 10× the band's top.
    Returns (inputs × samples, sample_rate_hz), model time."""
    freqs = reference.default_grid(model, 2)
    f_lo, f_hi = float(freqs[0]), float(freqs[-1])
    rate = float(max(8000.0, 1000.0 * np.ceil(10 * f_hi / 1000.0)))
    n = int(np.ceil(model.readout.stop * rate)) + 1
    t = np.arange(n) / rate
    duration = max(t[-1], 1.0 / rate)
    phase = 2 * np.pi * f_lo * duration / np.log(f_hi / f_lo) * (np.power(f_hi / f_lo, t / duration) - 1)
    u = np.sin(phase)
    return np.tile(u, (len(model.inputs), 1)), rate


def input_file_text(times_s: np.ndarray, volts: np.ndarray) -> str:
    """The filesource file: one line ``t v1 v2 ...`` per sample (``volts`` inputs × samples)."""
    return "".join(" ".join(format_spice(v) for v in row) + "\n" for row in np.column_stack([times_s, volts.T]))


def testbench_step(model: Model, time_scale: float, rate_hz: float) -> float:
    """The shipped testbench's largest step (circuit s): :func:`ngspice.max_step` of the input's
    sample period and the model's own highest resonance (not the circuit's: op-amp loops sit at
    MHz), both in circuit time."""
    f_max = f_max_hz([reference.statespace.largest_pole_magnitude(model)]) / time_scale
    return max_step(time_scale / rate_hz, f_max)


def opamp_model_of(graph, options: CompileOptions) -> OpampModel:
    """The op-amp model the compiled ``graph`` records (``meta["opamp_model"]``), else the one
    ``options`` names: the figures the energy estimate reads."""
    recorded = graph.meta.get("opamp_model")
    return OpampModel(**recorded) if recorded else opamp_from_options(options)


def deck_files(ctx: CompileContext, flow: list[str], kicad: Footprints | None = None) -> DeckOutput:
    """Every file of the compiled output of ``ctx`` (a context the passes of ``flow`` ran on,
    with a checked graph), as texts by file name, and its manifest; with ``kicad`` (the
    footprints to use) the KiCad schematic, symbol library and project too (docs/kicad.md)."""
    model, graph, ts = ctx.model, ctx.graph, ctx.time_scale
    names = DeckNames.of(model)
    header = [f"r2nn-compiler {__version__}: model {model.name}, analogy {model.analogy}",
              "ports: " + " ".join(p.name for p in graph.ports), f"flow: {' '.join(flow)}"]
    netlister = NgspiceNetlister()
    library = netlister.library(graph, names.subckt, header)
    u, rate = testbench_signal(model)
    t_c = np.arange(u.shape[1]) / rate * ts
    gains = np.array([p.gain for p in ctx.inputs])[:, None]
    tstop, tmax = float(t_c[-1]), testbench_step(model, ts, rate)
    grid = reference.default_grid(model, 2) * (1.0 / ts)
    testbench = netlister.testbench(Testbench(
        title=f"r2nn testbench for {model.name}", library=names.library, subckt=names.subckt,
        n_inputs=len(model.inputs), n_outputs=len(ctx.outputs),
        extra_ports=[p.name for p in graph.ports if p.role == "supply"], data_file=names.input_file,
        tran=(tstop, tmax), ac=(float(grid[0]), float(grid[-1]), 50), save_outputs=True,
        rms_window=tuple(b * ts for b in model.readout.boundaries), decisions=graph.meta.get("decisions"),
        observed=OBSERVED_PREFIX["tap" if model.readout.is_linear else "output"],
        inverted=tuple(k for k, p in enumerate(ctx.inputs) if p.inverted), controls=graph.meta.get("controls"),
        supply_volts=dict(graph.meta.get("supply_volts", {})) or None))
    manifest = Manifest.build(
        model=model, graph=graph, subckt=names.subckt, library=names.library, testbench=names.testbench,
        input_file=names.input_file, inputs=ctx.inputs, outputs=ctx.outputs, time_scale=ts, sense=ctx.sense,
        flow=flow, log=ctx.log, exact=ctx.options.exact, sample_rate_hz=rate / ts, tstop_s=tstop, tmax_s=tmax,
        version=__version__,
        energy=energy.estimate(graph, model, ts, opamp_model_of(graph, ctx.options)).as_dict())
    files = {names.library: library, names.testbench: testbench, names.input_file: input_file_text(t_c, u * gains),
             "manifest.json": manifest.text(), "bom.csv": bom_csv(graph)}
    if kicad is not None:
        files.update(kicad_files(graph, names.name, names.subckt, f"r2nn {model.name}", header, kicad))
    return DeckOutput(files, manifest)
