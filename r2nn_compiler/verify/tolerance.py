"""Tolerance analysis (``r2nn tolerance``): Monte Carlo over part tolerances on the circuit-level
MNA of a compiled deck, a one-at-a-time sensitivity ranking and a few ngspice spot checks.

Tolerances are fractions per part kind (R, L, C) in [0, 1), or per designator
(``part_tolerances``, e.g. each part's own from the deck's BOM: :func:`bom_tolerances`), which
take precedence; each top-level part is drawn uniformly within ±tolerance of its value
(``distribution="normal"``: σ = tolerance/3). The
report (:class:`ToleranceReport`, JSON format ``r2nn-tolerance/1``) gives per draw the fraction
of signals whose decision agrees with the reference model's, and the accuracy where every
signal's folder names a class. What is drawn for readout decks and linear layers, and why:
``docs/tolerance.md``.
"""

from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import reference
from ..backend import NgspiceNetlister
from ..circuit.tolerances import KINDS
from ..errors import Location, SignalError, UsageError
from ..executor import make_executor
from ..model import Model
from ..signals import Signal, check_fits
from .circuit import CircuitUnderTest
from .decisions import decision_ports, linear_circuit
from .manifest import CompiledDeck, check_matches
from .run import transient, within_readout


def bom_tolerances(outdir: str | Path) -> dict[str, float]:
    """Designator → tolerance (fraction) of every part ``bom.csv`` in ``outdir`` gives one (pairs
    and groups: each designator of the row). Raises UsageError naming the file and line for a
    missing BOM or a tolerance that is not a percentage."""
    path = Path(outdir) / "bom.csv"
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise UsageError(f"{path}: cannot read the BOM ({err.strerror or err})", Location(parameter="--tol")) from None
    out: dict[str, float] = {}
    for number, row in enumerate(csv.DictReader(lines), start=2):
        text = (row.get("tolerance") or "").strip()
        if not text:
            continue
        try:
            value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
        except ValueError:
            raise UsageError(f"{path}:{number}: tolerance {text!r} is not a percentage", Location(parameter="--tol")
                             ) from None
        for name in (row.get("designator") or "").split():
            out[name] = value
    return out


def check_inputs(model: Model, compiled: CompiledDeck, signals: list[Signal], tolerances: dict[str, float], *,
                 distribution: str = "uniform", part_tolerances: dict[str, float] | None = None) -> None:
    """Check everything the analysis reads before any draw or simulation: the distribution is
    known, every tolerance is a part kind's fraction in [0, 1), the deck is ``model``'s
    (:func:`.manifest.check_matches`) and there is at least one signal, each able to drive
    the model (:func:`signals.check_fits`). Raises UsageError, VerificationError or SignalError."""
    if distribution not in ("uniform", "normal"):
        raise UsageError(f"distribution must be uniform or normal, got {distribution!r}",
                         Location(parameter="distribution"))
    for kind, value in tolerances.items():
        if kind not in KINDS or isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise UsageError(f"expected a fraction in [0, 1) per part kind {', '.join(KINDS)}, got {kind}={value!r}",
                             Location(parameter="tolerances"))
    for name, value in (part_tolerances or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise UsageError(f"expected a fraction in [0, 1) for part {name}, got {value!r}",
                             Location(parameter="part_tolerances"))
    check_matches(compiled, model)
    if not signals:
        raise SignalError("no signals to analyse", Location(parameter="signals"))
    for signal in signals:
        check_fits(model, signal)


@dataclass
class _Job:
    cut: CircuitUnderTest
    model: Model
    signals: list[Signal]
    draws: list[dict[str, float]]
    modal: bool = True


def _decide(job: _Job) -> list[np.ndarray]:
    """Features (signals × outputs) for each draw of the job."""
    out = []
    for values in job.draws:
        out.append(job.cut.features_for(job.model, values, job.signals, modal=job.modal))
    return out


def _evaluate(cut: CircuitUnderTest, model: Model, signals: list[Signal], draws: list[dict[str, float]], executor,
              modal: bool, progress=None) -> list[np.ndarray]:
    """Features (signals × outputs) for each of ``draws`` (part values), in order, cut into
    jobs for ``executor`` (about four per worker, at most 25 draws each)."""
    chunk = max(1, min(25, len(draws) // (4 * executor.workers) or 1))
    jobs = [_Job(cut, model, signals, draws[i : i + chunk], modal) for i in range(0, len(draws), chunk)]
    feats: list[np.ndarray] = []
    for result in executor.map(_decide, jobs):
        feats += result
        if progress is not None:
            progress(len(result))
    return feats


@dataclass
class ToleranceReport:
    runs: int
    tolerances: dict[str, float]
    distribution: str
    agreement: np.ndarray  # per draw: fraction of signals whose decision equals the reference's
    accuracy: np.ndarray | None  # per draw, when labels are known
    nominal_agreement: float
    reference_accuracy: float | None
    sensitivity: list[dict]
    spot_checks: list[dict] = field(default_factory=list)
    part_tolerances: dict[str, float] | None = None  # designator → fraction, when given per part
    method: str = "modal"  # the window integrals: "modal" (gramian identity) or "van_loan"

    @staticmethod
    def band(x: np.ndarray) -> dict[str, float]:
        return {"mean": float(np.mean(x)), "p5": float(np.percentile(x, 5)), "p95": float(np.percentile(x, 95))}

    def to_json(self) -> dict:
        return {"format": "r2nn-tolerance/1", "runs": self.runs, "tolerances": self.tolerances,
                "distribution": self.distribution, "method": self.method,
                "nominal_agreement": self.nominal_agreement,
                "agreement": self.band(self.agreement),
                "accuracy": self.band(self.accuracy) if self.accuracy is not None else None,
                "reference_accuracy": self.reference_accuracy, "sensitivity": self.sensitivity,
                "spot_checks": self.spot_checks} | (
            {"part_tolerances": self.part_tolerances} if self.part_tolerances is not None else {})


def labels_for(model: Model, signals: list[Signal]) -> np.ndarray | None:
    """Class index per signal from its folder's name, or None unless every signal has one."""
    index = {c: j for j, c in enumerate(model.classes)}
    labels = [index.get(Path(s.path).parent.name) for s in signals]
    return None if any(v is None for v in labels) else np.array(labels)


def _parts(compiled: CompiledDeck, tolerances: dict[str, float], part_tolerances: dict[str, float] | None):
    """(the circuit the draws perturb, designator → nominal value of its R, L, C, designator →
    tolerance: ``part_tolerances``' where given, else ``tolerances`` of its kind, else 0)."""
    cut = linear_circuit(compiled) if decision_ports(compiled.manifest) else CircuitUnderTest.from_compiled(compiled)
    nominal = {c.name: c.value for c in cut.graph.components if c.kind in KINDS}
    own = {name: (part_tolerances or {}).get(name, tolerances.get(cut.graph.component(name).kind, 0.0))
           for name in nominal}
    return cut, nominal, own


def _draws(nominal: dict[str, float], own: dict[str, float], rng: np.random.Generator, runs: int,
           distribution: str) -> list[dict[str, float]]:
    """``runs`` boards: each part's value times 1 + δ, δ uniform within ± its tolerance or normal
    with σ = tolerance/3, drawn part by part in ``nominal``'s order (the order fixes the draws
    of a seed)."""
    def delta(tol: float) -> float:
        return rng.uniform(-tol, tol) if distribution == "uniform" else rng.normal(0.0, tol / 3)

    return [{name: value * (1.0 + delta(own[name])) for name, value in nominal.items()} for _ in range(runs)]


def analyse(model: Model, compiled: CompiledDeck, signals: list[Signal], tolerances: dict[str, float], *,
            runs: int = 500, seed: int = 0, distribution: str = "uniform", spot_checks: int = 3,
            spot_signals: int = 4, workers: int | None = None, progress=None, executor=None,
            part_tolerances: dict[str, float] | None = None, modal: bool = True) -> ToleranceReport:
    """Monte Carlo + sensitivity + ngspice spot checks. ``progress(n)`` is told of finished draws.
    The draws, the sensitivity's one-part shifts and the spot checks' ngspice runs go to
    ``executor`` (default: ``workers`` local processes; see :mod:`r2nn_compiler.executor`).
    ``part_tolerances`` (designator → fraction) override ``tolerances`` (per kind) part by part.
    ``modal``: each draw's window integrals by the gramian identity (the same to ~1e-12
    relative, several times cheaper; ``False``: the Van Loan form, as before). Raises what
    :func:`check_inputs` raises before any of it."""
    check_inputs(model, compiled, signals, tolerances, distribution=distribution, part_tolerances=part_tolerances)
    cut, nominal, own = _parts(compiled, tolerances, part_tolerances)
    ref_feats = np.stack([reference.features_of(model, s.data[None], s.rate_hz)[0] for s in signals])
    ref_class = np.argmax(ref_feats, axis=-1)
    labels = labels_for(model, signals)

    draws = _draws(nominal, own, np.random.default_rng(seed), runs, distribution)
    executor = executor if executor is not None else make_executor(workers)
    feats = [_decide(_Job(cut, model, signals, [{}], modal))[0]]
    feats += _evaluate(cut, model, signals, draws, executor, modal, progress)
    decisions = np.argmax(np.stack(feats), axis=-1)  # (1 + runs) × signals
    agreement = np.mean(decisions[1:] == ref_class[None, :], axis=1)
    accuracy = np.mean(decisions[1:] == labels[None, :], axis=1) if labels is not None else None

    sensitivity = _sensitivity(cut, model, signals, nominal, own, feats[0], ref_class, executor, modal)
    checks = _spot_checks(cut, model, compiled, signals[:spot_signals], draws[:spot_checks],
                          [decisions[1 + k][:spot_signals] for k in range(min(spot_checks, runs))], executor)
    return ToleranceReport(runs, tolerances, distribution, agreement, accuracy,
                           float(np.mean(decisions[0] == ref_class)),
                           float(np.mean(ref_class == labels)) if labels is not None else None, sensitivity, checks,
                           part_tolerances, "modal" if modal else "van_loan")


def _sensitivity(cut, model, signals, nominal, own, base_feats, ref_class, executor, modal: bool,
                 top: int = 10) -> list[dict]:
    """Rank parts by the largest relative feature change a ±tolerance shift of that part alone
    (``own``: designator → its tolerance) causes (mean over signals), with the decisions it
    flips. A linear layer's decision values are scores (of any sign, compared by difference):
    their change is absolute, in score units. The shifts are evaluated on ``executor``."""
    scale = 1.0 if model.readout.is_linear else np.maximum(np.abs(base_feats), 1e-300)
    parts = [name for name in nominal if own[name] != 0]
    shifts = [{name: nominal[name] * (1 + sign * own[name])} for name in parts for sign in (-1.0, 1.0)]
    feats = _evaluate(cut, model, signals, shifts, executor, modal)
    rows = []
    for p, name in enumerate(parts):
        comp = cut.graph.component(name)
        worst, flips = 0.0, 0
        for f in feats[2 * p : 2 * p + 2]:
            change = np.abs(f - base_feats) / scale
            worst = max(worst, float(np.mean(np.max(change, axis=-1))))
            flips = max(flips, int(np.sum(np.argmax(f, axis=-1) != ref_class)))
        rows.append({"designator": name, "kind": comp.kind, "value": nominal[name], "origin": comp.origin,
                     "tolerance": own[name], "feature_change": worst, "decisions_flipped": flips})
    rows.sort(key=lambda r: (-r["decisions_flipped"], -r["feature_change"]))
    return rows[:top]


def _spot_checks(cut, model, compiled, signals, draws, mna_decisions, executor) -> list[dict]:
    """Simulate a few perturbed decks in ngspice; compare decisions and traces with the MNA."""
    if not signals:
        return []
    signals = [within_readout(model, s) for s in signals]  # what the transient simulates
    checks = []
    netlister = NgspiceNetlister()
    m = compiled.manifest
    for k, values in enumerate(draws):
        with tempfile.TemporaryDirectory(prefix="r2nn-tol-") as tmp:
            work = Path(tmp)
            graph = cut.graph.copy()
            for name, value in values.items():
                graph.component(name).value = value
            library = netlister.library(graph, m["subckt"], [f"tolerance draw {k}"])  # readout included
            (work / m["library"]).write_text(library)
            (work / "manifest.json").write_text(json.dumps(m))
            perturbed = CompiledDeck(work, m)
            # The step is chosen against the perturbed circuit, the one ngspice is compared with.
            results = transient(model, perturbed, signals, executor=executor, circuit=replace(cut, graph=graph))
            mna = cut.outputs_for(values, signals)
            nrmse = max(float(np.sqrt(np.mean((r.circuit_outputs - y) ** 2)) / np.sqrt(np.mean(y**2)))
                        for r, y in zip(results, mna))
            # A readout deck's "none" or "ambiguous" decision matches no MNA class.
            spice_classes = [model.classes.index(r.circuit_class) if r.circuit_class in model.classes else -1
                             for r in results]
            checks.append({"draw": k, "signals": len(signals),
                           "decisions_agree": int(np.sum(np.array(spice_classes) == mna_decisions[k])),
                           "ngspice_vs_mna_nrmse": nrmse})
    return checks


def monte_carlo_only(model: Model, compiled: CompiledDeck, signals: list[Signal], part_tolerances: dict[str, float],
                     *, runs: int = 200, seed: int = 0, workers: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The Monte Carlo of :func:`analyse` alone (the same draws for the same ``seed``, uniform
    within each part's tolerance, parts ``part_tolerances`` omits exact; no sensitivity, no
    spot checks): per-draw agreement with the reference model and accuracy (None without
    labels). For benches that compare tolerance sets on one deck."""
    check_inputs(model, compiled, signals, {}, part_tolerances=part_tolerances)
    cut, nominal, own = _parts(compiled, {}, part_tolerances)
    draws = _draws(nominal, own, np.random.default_rng(seed), runs, "uniform")
    ref_class = np.array([int(np.argmax(reference.features_of(model, s.data[None], s.rate_hz)[0])) for s in signals])
    labels = labels_for(model, signals)
    with make_executor(workers) as executor:
        feats = _evaluate(cut, model, signals, draws, executor, True)
    decisions = np.argmax(np.stack(feats), axis=-1)
    return (np.mean(decisions == ref_class[None, :], axis=1),
            np.mean(decisions == labels[None, :], axis=1) if labels is not None else None)
