"""Verification: simulate a compiled deck in ngspice and compare it with the reference model.

Transient: every signal is scaled by the manifest's port gains and time scale, written as an
XSPICE ``filesource`` file, simulated (several signals of equal length share one ngspice run as
parallel testbench copies), resampled at the signal's sample times and compared with the
reference simulation: NRMSE of every output and agreement of the predicted class. AC: one copy
of the subcircuit per input, AC 1 on that input, compared with the reference H(jω) over the
band. The circuit is never changed here.

What must hold depends on the deck. An exact deck (ideal elements) *is* the model: every output
must match the reference within the NRMSE tolerance. A hardware deck (scaled, quantised, with
op-amps) differs from the model by design: ngspice must then match the circuit the deck
describes (its own circuit-level MNA, read back from the library) within the NRMSE tolerance —
so the simulation is trustworthy — and the decisions must agree with the reference model on at
least ``min_agreement`` of the signals; its NRMSE against the reference is reported, not gated.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import reference
from ..backend import NgspiceNetlister, f_max_hz, max_step, testbench_net
from ..backend.ngspice import SAFE_ABSOLUTE_PATH
from ..errors import SimulationError, VerificationError
from ..model import Model
from ..signals import Signal
from ..sim import NgspiceBatch, NgspiceShared
from .circuit import CircuitUnderTest, signal_groups
from .headroom import headroom, opamp_vectors
from .manifest import CompiledDeck
from .metrics import nrmse, response_errors

ENGINES = ("batch", "shared")


@dataclass
class Tolerances:
    """Pass/fail limits: transient NRMSE per output, AC relative errors."""

    nrmse: float = 0.005
    ac_peak_freq: float = 0.005
    ac_peak_mag: float = 0.01
    min_agreement: float = 0.99


@dataclass
class SignalResult:
    path: str
    nrmse: dict[str, float]
    features_reference: dict[str, float]
    features_circuit: dict[str, float]
    reference_class: str
    circuit_class: str
    circuit_outputs: np.ndarray = field(repr=False)
    reference_outputs: np.ndarray = field(repr=False)
    rate_hz: float = 0.0
    nrmse_vs_circuit: dict[str, float] | None = None  # hardware decks: ngspice vs the deck's MNA
    headroom: list[dict] = field(default_factory=list)  # op-amp output peaks vs swing (headroom.py)

    @property
    def agree(self) -> bool:
        return self.reference_class == self.circuit_class

    @property
    def worst_nrmse(self) -> float:
        return max(self.nrmse.values())

    def to_json(self) -> dict:
        data = {"path": self.path, "nrmse": self.nrmse, "reference_class": self.reference_class,
                "circuit_class": self.circuit_class, "agree": self.agree,
                "features_reference": self.features_reference, "features_circuit": self.features_circuit}
        if self.nrmse_vs_circuit is not None:
            data["nrmse_vs_circuit"] = self.nrmse_vs_circuit
        if self.headroom:
            data["headroom"] = self.headroom
        return data

    @property
    def gated_nrmse(self) -> dict[str, float]:
        """The NRMSE that must meet the tolerance (see the module docstring)."""
        return self.nrmse if self.nrmse_vs_circuit is None else self.nrmse_vs_circuit


@dataclass
class AcResult:
    """AC figures of one output/input pair: ``errors`` against the reference model and, for
    hardware decks, ``circuit_errors`` against the deck's own MNA (then the gated ones)."""

    cls: str
    input: str
    errors: dict[str, float]
    circuit_errors: dict[str, float] | None = None

    @property
    def gated(self) -> dict[str, float]:
        return self.errors if self.circuit_errors is None else self.circuit_errors

    def to_json(self) -> dict:
        data = {"class": self.cls, "input": self.input, **self.errors}
        if self.circuit_errors is not None:
            data["vs_circuit"] = self.circuit_errors
        return data


def make_engine(name: str, timeout_s: float):
    if name == "batch":
        return NgspiceBatch(timeout_s=timeout_s)
    if name == "shared":
        return NgspiceShared()
    raise VerificationError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")


def _run(engine, deck_text: str, workdir: Path, name: str = "verify.cir"):
    deck = workdir / name
    deck.write_text(deck_text, encoding="utf-8")
    return engine.run(deck, workdir)


def _stage(compiled: CompiledDeck, workdir: Path) -> str:
    """How scratch decks include the library: by its absolute path when that is safe to write
    into a deck (then includes inside the library resolve beside it), else as a copy."""
    path = str(compiled.library_path.resolve())
    if SAFE_ABSOLUTE_PATH.fullmatch(path):
        return path
    name = compiled.manifest["library"]
    shutil.copyfile(compiled.library_path, workdir / name)
    return name


def circuit_f_max(model: Model, time_scale: float) -> float:
    """Highest resonance (Hz, circuit time) from the reference poles: sets the step limit."""
    return f_max_hz(reference.state_space(model).poles()) / time_scale


def transient(model: Model, compiled: CompiledDeck, signals: list[Signal], engine, workdir: Path,
              per_run: int = 8, progress=None, circuit: CircuitUnderTest | None = None) -> list[SignalResult]:
    """Simulate every signal; return one SignalResult per signal, in order. With ``circuit``
    (hardware decks) each result also holds the NRMSE of ngspice against that circuit's MNA.
    Runs of up to ``per_run`` signals go to ngspice processes on every core at once (one at a
    time for the in-process engine, which is one library per process).

    Only the part of each signal up to the end of the readout window is simulated: nothing
    after it can change a feature (the system is causal), and ngspice time is the cost here."""
    signals = [within_readout(model, s) for s in signals]
    m = compiled.manifest
    ts = float(m["time_scale"])
    in_gain = np.array([p["volts_per_unit"] for p in m["inputs"]])
    out_gain = np.array([p["volts_per_unit_velocity"] for p in m["outputs"]])
    n_in, n_out = len(m["inputs"]), len(m["outputs"])
    supplies = [s["port"] for s in compiled.supplies]
    library = _stage(compiled, workdir)
    netlister = NgspiceNetlister()
    f_hi = circuit_f_max(model, ts)
    opamps = m.get("opamps") or []
    swing = float((m.get("opamp_model") or {}).get("swing_v", 0.0))

    cores = max(1, os.cpu_count() or 1)
    jobs = []
    for (rate, n_t), members in signal_groups(signals).items():
        # Several signals share a run (one process start), but every core gets a run. The split
        # does not depend on the engine: ngspice's step control spans a run's copies, so the
        # same split is what makes both engines' traces identical.
        size = max(1, min(per_run, math.ceil(len(members) / cores)))
        jobs += [(rate, n_t, members[k : k + size]) for k in range(0, len(members), size)]

    def simulate_job(number: int):
        rate, n_t, batch = jobs[number]
        t_c = np.arange(n_t) / rate * ts
        columns = [t_c] + [signals[i].data[k] * in_gain[k] for i in batch for k in range(n_in)]
        data_file = f"input{number}.txt"
        np.savetxt(workdir / data_file, np.column_stack(columns), fmt="%.17g")
        deck = netlister.testbench(
            title="r2nn verify", library=library, subckt=m["subckt"], n_inputs=n_in, n_outputs=n_out,
            extra_ports=supplies, data_file=data_file, tran=(float(t_c[-1]), max_step(ts / rate, f_hi)), ac=None,
            instances=len(batch), save_outputs=True,
            extra_saves=[v for b in range(len(batch)) for v in opamp_vectors(opamps, instance=f"X{b + 1}")])
        return _run(engine, deck, workdir, f"verify{number}.cir").plot("tran")

    results: list[SignalResult | None] = [None] * len(signals)
    workers = 1 if isinstance(engine, NgspiceShared) else min(cores, len(jobs)) or 1
    with ThreadPoolExecutor(max_workers=workers) as pool:  # the batch engine runs ngspice processes
        for (rate, n_t, batch), plot in zip(jobs, pool.map(simulate_job, range(len(jobs)))):
            t_c = np.arange(n_t) / rate * ts
            time_c = np.real(plot.get("time"))
            ref = reference.simulate(model, np.stack([signals[i].data for i in batch]), rate)
            mna = circuit.outputs_for({}, [signals[i] for i in batch]) if circuit is not None else None
            for b, i in enumerate(batch):
                circ = np.stack([np.interp(t_c, time_c, np.real(plot.get(f"v({testbench_net('out', b, j, len(batch))})")))
                                 for j in range(n_out)]) / out_gain[:, None]
                results[i] = _score(model, signals[i], circ, ref[b], rate)
                if mna is not None:
                    results[i].nrmse_vs_circuit = {c: float(e) for c, e in zip(model.classes, nrmse(circ, mna[b]))}
                if opamps:
                    results[i].headroom = headroom(plot, opamps, swing, instance=f"X{b + 1}")
            if progress is not None:
                progress(len(batch))
    return results


def within_readout(model: Model, signal: Signal) -> Signal:
    """``signal`` cut after the last sample inside the readout window (model time)."""
    keep = reference.samples_needed(model, signal.rate_hz)
    if keep >= signal.data.shape[1]:
        return signal
    return Signal(signal.data[:, :keep], signal.rate_hz, signal.path)


def _score(model: Model, signal: Signal, circ: np.ndarray, ref: np.ndarray, rate: float) -> SignalResult:
    if not np.all(np.isfinite(circ)):
        raise SimulationError(f"ngspice returned NaN or infinite values for {signal.path}")
    f_ref = reference.features(model, ref, rate)
    f_circ = reference.features(model, circ, rate)
    classes = model.classes
    errs = nrmse(circ, ref)
    return SignalResult(
        path=signal.path, nrmse={c: float(e) for c, e in zip(classes, errs)},
        features_reference={c: float(v) for c, v in zip(classes, f_ref)},
        features_circuit={c: float(v) for c, v in zip(classes, f_circ)},
        reference_class=classes[int(np.argmax(f_ref))], circuit_class=classes[int(np.argmax(f_circ))],
        circuit_outputs=circ, reference_outputs=ref, rate_hz=rate)


def ac(model: Model, compiled: CompiledDeck, engine, workdir: Path, points_per_decade: int = 100,
       circuit: CircuitUnderTest | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[AcResult]]:
    """AC analysis, one testbench copy per input. Returns (model freqs, H circuit, H reference,
    per output/input errors); H arrays are (outputs × inputs × freqs) in model units."""
    m = compiled.manifest
    ts = float(m["time_scale"])
    n_in, n_out = len(m["inputs"]), len(m["outputs"])
    library = _stage(compiled, workdir)
    grid = reference.default_grid(model, 2)
    deck = NgspiceNetlister().testbench(
        title="r2nn verify ac", library=library, subckt=m["subckt"], n_inputs=n_in, n_outputs=n_out,
        extra_ports=[s["port"] for s in compiled.supplies], data_file=None, tran=None,
        ac=(float(grid[0] / ts), float(grid[-1] / ts), points_per_decade), instances=n_in, ac_per_instance=True,
        save_outputs=True)
    plot = _run(engine, deck, workdir).plot("ac")
    freqs = sweep_frequencies(np.real(plot.get("frequency")), grid[0] / ts, grid[-1] / ts) * ts
    in_gain = np.array([p["volts_per_unit"] for p in m["inputs"]])
    out_gain = np.array([p["volts_per_unit_velocity"] for p in m["outputs"]])
    h_circ = np.empty((n_out, n_in, freqs.size), dtype=complex)
    for k in range(n_in):
        for j in range(n_out):
            v = plot.get(f"v({testbench_net('out', k, j, n_in)})")
            h_circ[j, k] = v * in_gain[k] / out_gain[j]
    h_ref = reference.frequency_response(model, freqs)
    h_mna = circuit.response(freqs) if circuit is not None else None
    results = [AcResult(o.cls, i.name, response_errors(freqs, h_circ[j, k], h_ref[j, k]),
                        response_errors(freqs, h_circ[j, k], h_mna[j, k]) if h_mna is not None else None)
               for j, o in enumerate(model.outputs) for k, i in enumerate(model.inputs)]
    return freqs, h_circ, h_ref, results


def sweep_frequencies(reported: np.ndarray, f_lo: float, f_hi: float) -> np.ndarray:
    """The frequencies (Hz) of an ``.ac dec`` sweep from f_lo to f_hi: geometric, one per point
    ngspice reported (ngspice spaces them evenly in log f between the two ends). Its own
    frequency vector was once seen holding a stray value; where it departs from the sweep, the
    sweep is what was simulated. Raises SimulationError when most points disagree."""
    expected = np.geomspace(f_lo, f_hi, reported.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        good = np.isfinite(reported) & (np.abs(reported / expected - 1) < 1e-6)
    if good.sum() < 0.9 * reported.size:
        raise SimulationError(f"ngspice's AC frequency vector does not follow the requested sweep "
                              f"({int((~good).sum())} of {reported.size} points off)")
    return np.where(good, reported, expected)


@dataclass
class VerifyReport:
    model: str
    outdir: str
    engine: str
    tolerances: Tolerances
    signals: list[SignalResult]
    ac: list[AcResult]
    elapsed_s: float
    ac_data: tuple | None = field(default=None, repr=False)

    @property
    def class_agreement(self) -> float:
        return float(np.mean([s.agree for s in self.signals])) if self.signals else 1.0

    @property
    def worst_nrmse(self) -> float:
        return max((s.worst_nrmse for s in self.signals), default=0.0)

    @property
    def worst_nrmse_vs_circuit(self) -> float | None:
        values = [max(s.nrmse_vs_circuit.values()) for s in self.signals if s.nrmse_vs_circuit is not None]
        return max(values) if values else None

    @property
    def exact(self) -> bool:
        """True when the deck is compared with the reference itself (see the module docstring)."""
        return all(s.nrmse_vs_circuit is None for s in self.signals) and all(a.circuit_errors is None
                                                                             for a in self.ac)

    def failures(self) -> list[str]:
        tol = self.tolerances
        against = "" if self.exact else " against the deck's circuit"
        out = []
        for s in self.signals:
            for cls, e in s.gated_nrmse.items():
                if not e <= tol.nrmse:
                    out.append(f"{s.path}: output {cls} NRMSE{against} {e:.4g} > {tol.nrmse:g}")
            if self.exact and not s.agree:
                out.append(f"{s.path}: circuit decides {s.circuit_class}, reference {s.reference_class}")
        for s in self.signals:
            for row in s.headroom:
                if not row["ok"]:
                    out.append(f"{s.path}: op-amp {row['designator']} ({row['element']}) would clip: output peak "
                               f"{row['peak_v']:.3g} V > swing {row['swing_v']:g} V")
        if not self.exact and self.class_agreement < tol.min_agreement:
            out.append(f"class agreement {100 * self.class_agreement:.1f} % < {100 * tol.min_agreement:g} %")
        for a in self.ac:
            if not a.gated["peak_freq_error"] <= tol.ac_peak_freq:
                out.append(f"AC {a.cls}<-{a.input}: peak frequency{against} off by {a.gated['peak_freq_error']:.4g} "
                           f"> {tol.ac_peak_freq:g}")
            if not a.gated["peak_mag_error"] <= tol.ac_peak_mag:
                out.append(f"AC {a.cls}<-{a.input}: peak magnitude{against} off by {a.gated['peak_mag_error']:.4g} "
                           f"> {tol.ac_peak_mag:g}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def to_json(self) -> dict:
        return {
            "format": "r2nn-verify/1", "model": self.model, "outdir": self.outdir, "engine": self.engine,
            "passed": self.passed, "tolerances": vars(self.tolerances),
            "exact": self.exact,
            "summary": {"signals": len(self.signals), "class_agreement": self.class_agreement,
                        "worst_nrmse": self.worst_nrmse, "worst_nrmse_vs_circuit": self.worst_nrmse_vs_circuit,
                        "elapsed_s": self.elapsed_s},
            "failures": self.failures(),
            "signals": [s.to_json() for s in self.signals],
            "ac": [a.to_json() for a in self.ac],
        }


def verify_deck(model: Model, compiled: CompiledDeck, signals: list[Signal], *, engine: str = "batch",
                tolerances: Tolerances | None = None, timeout_s: float = 600.0, per_run: int = 8,
                run_ac: bool = True, progress=None) -> VerifyReport:
    """Run the transient and AC comparisons in a scratch directory that is always removed."""
    if compiled.manifest.get("model") not in (None, model.name):
        raise VerificationError(f"{compiled.outdir} was compiled from model {compiled.manifest['model']!r}, "
                                f"not {model.name!r}")
    if len(compiled.manifest["inputs"]) != len(model.inputs) or len(compiled.manifest["outputs"]) != len(model.outputs):
        raise VerificationError(f"{compiled.outdir}: the deck's ports do not match the model's inputs and outputs")
    runner = make_engine(engine, timeout_s)
    start = time.perf_counter()
    circuit = None if compiled.manifest.get("exact", False) else CircuitUnderTest.from_compiled(compiled)
    with tempfile.TemporaryDirectory(prefix="r2nn-verify-") as tmp:
        work = Path(tmp)
        sig_results = transient(model, compiled, signals, runner, work, per_run, progress, circuit) if signals else []
        ac_data = ac(model, compiled, runner, work, circuit=circuit) if run_ac else None
    return VerifyReport(model.name, str(compiled.outdir), engine, tolerances or Tolerances(), sig_results,
                        ac_data[3] if ac_data else [], time.perf_counter() - start,
                        ac_data[:3] if ac_data else None)
