"""ngspice runs of a verification: the engine, the staged library, the step rule and one
transient run of several signals as parallel testbench copies, read back at the sample times.

Shared by direct verification (:mod:`.run`) and the superposition kernels (:mod:`.superposition`).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import reference
from ..backend import NgspiceNetlister, Testbench, f_max_hz, testbench_net
from ..backend.ngspice import SAFE_ABSOLUTE_PATH
from ..errors import VerificationError
from ..model import Model
from ..numerics.statespace import StateSpace
from ..sim import NgspiceBatch, NgspiceShared
from ..sim.stepsize import choose_substeps
from . import decisions as readout
from .energy import measured_joules
from .headroom import headroom, opamp_vectors
from .manifest import CompiledDeck

ENGINES = ("batch", "shared")

#: The step is chosen for this fraction of the accuracy target: ngspice's measured error came
#: within 4 % of the prediction on random exact and hardware decks (its time points are off the
#: sample grid and its traces interpolated there), so aiming 10 % low keeps the target.
PREDICTION_MARGIN = 0.9


def make_engine(name: str, timeout_s: float):
    if name == "batch":
        return NgspiceBatch(timeout_s=timeout_s)
    if name == "shared":
        return NgspiceShared()
    raise VerificationError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")


def run_deck(engine, deck_text: str, workdir: Path, name: str = "verify.cir"):
    deck = workdir / name
    deck.write_text(deck_text, encoding="utf-8")
    return engine.run(deck, workdir)


def stage_library(compiled: CompiledDeck, workdir: Path) -> str:
    """How scratch decks include the library: by its absolute path when that is safe to write
    into a deck (then includes inside the library resolve beside it), else as a copy."""
    path = str(compiled.library_path.resolve())
    if SAFE_ABSOLUTE_PATH.fullmatch(path):
        return path
    name = compiled.spec.library
    shutil.copyfile(compiled.library_path, workdir / name)
    return name


def circuit_f_max(model: Model, time_scale: float) -> float:
    """Highest resonance (Hz, circuit time) from the reference poles: the floor of the step
    (every pole up to ``DENSE_EIG_STATES`` states, an upper bound in O(N + couplings) above;
    see :func:`reference.statespace.largest_pole_magnitude`)."""
    return f_max_hz([reference.statespace.largest_pole_magnitude(model)]) / time_scale


def model_in_circuit_units(model: Model, compiled: CompiledDeck) -> StateSpace:
    """The reference model as the deck's ports see it: time in circuit seconds, inputs and
    outputs in volts (the manifest's gains and time scale)."""
    scaling = PortScaling.of(compiled)
    ts, in_gain, out_gain = scaling.time_scale, scaling.in_gain, scaling.out_gain
    ss = reference.state_space(model)
    return StateSpace(ss.A / ts, ss.B / ts / in_gain[None, :], ss.C * out_gain[:, None],
                      ss.D * out_gain[:, None] / in_gain[None, :])


@dataclass(frozen=True)
class PortScaling:
    """A deck's port gains (volts per model unit of each input, per m/s of each observed port)
    and time scale (circuit s per model s)."""

    in_gain: np.ndarray
    out_gain: np.ndarray
    time_scale: float

    @classmethod
    def of(cls, compiled: CompiledDeck) -> "PortScaling":
        spec = compiled.spec
        return cls(np.array(spec.input_gains), np.array(spec.observed_gains), float(spec.time_scale))


@dataclass
class TransientRun:
    """One ngspice run: signals of one length and rate as parallel testbench copies. Holds all
    a worker needs (a Dask worker may be another machine): the library's text as well as its
    path, the inputs, and the step rule. Times in circuit seconds, inputs in volts."""

    library_name: str
    library_path: str
    library_text: str
    subckt: str
    n_outputs: int
    supplies: list[str]
    inputs: np.ndarray = field(repr=False)  # copies × inputs × samples
    sample_period_s: float
    system: StateSpace = field(repr=False)  # what ngspice's error is predicted against
    accuracy: float
    f_max_hz: float
    engine: str = "batch"
    timeout_s: float = 600.0
    opamps: list[dict] = field(default_factory=list)
    swing_v: float = 0.0
    # On-circuit readout: the manifest's decisions, readout_circuit, outputs, taps and readout.
    readout: dict | None = None
    substeps: int = 0  # steps per sample period when forced (superposition), else chosen
    keep_grid: bool = False  # send back the op-amp outputs on ngspice's own time grid
    inverted: tuple[int, ...] = ()  # inputs (0-based) with an inverted copy (--drive parts)
    controls: list[dict] | None = None  # the manifest's control ports, driven by their waveforms
    supply_volts: dict[str, float] | None = None  # supply port → volts (their currents are saved)
    # The deck's linear part only (the readout's instance cut from ``library_text``; its ports
    # kept, so the testbench is the same): fixed steps, no decision read (verify/linear_part.py).
    linear_part: bool = False

    @classmethod
    def settings(cls, model: Model, compiled: CompiledDeck, system: StateSpace, accuracy: float, engine: str,
                 timeout_s: float) -> "TransientRun":
        """The settings every run of ``compiled`` shares (no inputs yet: :meth:`with_inputs`)."""
        m, spec = compiled.manifest, compiled.spec
        return cls(
            library_name=spec.library, library_path=str(compiled.library_path.resolve()),
            library_text=compiled.library_path.read_text(encoding="utf-8"), subckt=spec.subckt,
            n_outputs=len(spec.observed), supplies=[s.port for s in spec.supplies], inputs=np.empty((0, 0, 0)),
            sample_period_s=0.0, system=system, accuracy=accuracy, f_max_hz=circuit_f_max(model, spec.time_scale),
            engine=engine, timeout_s=timeout_s, opamps=list(spec.opamps),
            swing_v=float((spec.opamp_model or {}).get("swing_v", 0.0)),
            readout={key: m.get(key) for key in ("decisions", "readout_circuit", "outputs", "taps", "readout")}
            if spec.decisions else None,
            inverted=tuple(k for k, p in enumerate(spec.inputs) if p.inverted_port), controls=m.get("controls"),
            supply_volts={s.port: float(s.volts) for s in spec.supplies if s.volts is not None} or None)

    def with_inputs(self, inputs: np.ndarray, sample_period_s: float) -> "TransientRun":
        """These settings for ``inputs`` (copies × inputs × samples, volts) sampled every
        ``sample_period_s`` (circuit s)."""
        return replace(self, inputs=inputs, sample_period_s=sample_period_s)


@dataclass
class RunTraces:
    """What a run sends back: outputs at the sample times (copies × outputs × samples, volts),
    op-amp headroom rows per copy, the step (s) and its predicted integration error."""

    outputs: np.ndarray
    headroom: list[list[dict]]
    step_s: float
    predicted_nrmse: float
    decisions: list[dict] | None = None  # per copy, decisions.evaluate
    grid_s: np.ndarray | None = None  # with keep_grid: ngspice's time points (s) ...
    grid_opamps: np.ndarray | None = None  # ... and the op-amp outputs there (copies × op-amps × points)


def run_step(run: TransientRun) -> tuple[int, float]:
    """Steps per sample period and their predicted NRMSE: forced (``run.substeps``; predicted
    0, not computed) or chosen for ``run.accuracy`` (:func:`sim.stepsize.choose_substeps`)."""
    if run.substeps:
        return run.substeps, 0.0
    try:
        return choose_substeps(run.system, run.inputs, run.sample_period_s, PREDICTION_MARGIN * run.accuracy,
                               run.f_max_hz)
    except ValueError as exc:
        raise VerificationError(f"cannot choose an ngspice step: {exc}") from None


def simulate_run(run: TransientRun) -> RunTraces:
    """Choose the step, write the deck and its input files in a scratch directory, run
    ngspice, resample. Module-level, so executors can send it to other processes."""
    substeps, predicted = run_step(run)
    step = run.sample_period_s / substeps
    copies, _, n_t = run.inputs.shape
    t_c = np.arange(n_t) * run.sample_period_s
    plot = _simulate_plot(run, t_c, step)
    time_c = np.real(plot.get("time"))
    outputs = np.stack([[np.interp(t_c, time_c, np.real(plot.get(f"v({testbench_net('out', b, j, copies)})")))
                         for j in range(run.n_outputs)] for b in range(copies)])
    rows = [headroom(plot, run.opamps, run.swing_v, instance=f"X{b + 1}") if run.opamps else []
            for b in range(copies)]
    decided = [readout.evaluate(plot, run.readout, b, copies) for b in range(copies)] \
        if run.readout and not run.linear_part else None
    if decided and run.supply_volts:  # the supplies' energy up to the decision (verify/energy.py)
        until = readout.decision_time(run.readout)
        for b, d in enumerate(decided):
            d["supply_energy_j"] = measured_joules(plot, run.supply_volts, until, b, copies)
    traces = RunTraces(outputs, rows, step, predicted, decided)
    if run.keep_grid:
        traces.grid_s = time_c
        traces.grid_opamps = np.array([[np.real(plot.get(v)) for v in opamp_vectors(run.opamps, f"X{b + 1}")]
                                       for b in range(copies)]).reshape(copies, len(run.opamps), time_c.size)
    return traces


def _simulate_plot(run: TransientRun, t_c: np.ndarray, step: float):
    """The transient plot of ``run`` at fixed steps of ``step`` (s; step control on for a
    readout deck), from a scratch directory holding the deck and its input files."""
    copies, n_in, _ = run.inputs.shape
    with tempfile.TemporaryDirectory(prefix="r2nn-verify-") as tmp:
        work = Path(tmp)
        library = run.library_path
        if not (SAFE_ABSOLUTE_PATH.fullmatch(library) and Path(library).is_file()):
            library = run.library_name
            (work / library).write_text(run.library_text, encoding="utf-8")
        files = [f"input{b + 1}.txt" for b in range(copies)]
        for name, u in zip(files, run.inputs):
            np.savetxt(work / name, np.column_stack([t_c, u.T]), fmt="%.17g")
        deck = NgspiceNetlister().testbench(Testbench(
            title="r2nn verify", library=library, subckt=run.subckt, n_inputs=n_in, n_outputs=run.n_outputs,
            extra_ports=run.supplies, data_file=files, tran=(float(t_c[-1]), step), ac=None, instances=copies,
            save_outputs=True, fixed_step=run.readout is None or run.linear_part,  # a readout: step control on
            decisions=readout.decision_ports(run.readout) if run.readout else None,
            inverted=run.inverted, controls=run.controls, supply_volts=run.supply_volts,
            extra_saves=[v for b in range(copies) for v in opamp_vectors(run.opamps, instance=f"X{b + 1}")
                         + (readout.detector_vectors(run.readout, b) if run.readout and not run.linear_part else [])]))
        return run_deck(make_engine(run.engine, run.timeout_s), deck, work).plot("tran")
