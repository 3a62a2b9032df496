"""The public Python API: the same verbs as the CLI, for scripts and notebooks.

``load_model`` → ``simulate`` (reference model) → ``compile_model`` (circuit graph, passes,
ngspice deck, manifest, BOM) → ``verify`` (ngspice against the reference; in
:mod:`r2nn_compiler.verify`). This module wires the stages together and holds no stage logic.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import reference
from .backend.deck import deck_files
from .backend.kicad import Footprints
from .backend.manifest import Manifest
from .errors import CompileError, Location, ModelError, SignalError
from .fileutil import write_directory_atomic, write_text_atomic
from .passes import EXACT_FLOW, HARDWARE_FLOW, CompileContext, CompileOptions, run_flow
from .passes.common.readout_linear import refuse_parts_level
from .model import Model, model_from_json_text, model_from_npz, model_to_json, model_to_text, parse_model_text
from .signals import Signal, check_fits, load_signal

MODEL_SUFFIXES = (".r2nn", ".json", ".npz")


def load_model(path: str | Path) -> Model:
    """Read, validate and stability-check a model (.r2nn, .json or .npz by suffix).

    Raises ModelSyntaxError / ModelError carrying file:line:col or file: parameter.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(f"unknown model type {suffix or '(none)'!r}: expected .r2nn, .json or .npz", Location(name))
    if suffix == ".npz":
        model = model_from_npz(name)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelError(f"cannot read model: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}",
                             Location(name)) from None
        model = parse_model_text(text, name) if suffix == ".r2nn" else model_from_json_text(text, name)
    return reference.check_stable(model)


def check_model_path(path: str | Path) -> None:
    """Raise ModelError naming ``path`` unless :func:`save_model` can write a model there: a
    ``.r2nn`` or ``.json`` name in an existing directory (checked before work whose result it is)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".r2nn", ".json"):
        raise ModelError(f"cannot write {suffix or '(no suffix)'!r}: expected .r2nn or .json", Location(str(path)))
    if not path.resolve().parent.is_dir():
        raise ModelError(f"cannot write a model: directory {path.parent} does not exist", Location(str(path)))


def save_model(model: Model, path: str | Path) -> None:
    """Write ``model`` as .r2nn text or r2nn-model/1 JSON by suffix, atomically.

    Raises ModelError (see :func:`check_model_path`) before writing anything."""
    check_model_path(path)
    path = Path(path)
    write_text_atomic(path, model_to_text(model) if path.suffix.lower() == ".r2nn" else model_to_json(model))


@dataclass(frozen=True)
class SimulationResult:
    """Reference simulation of one signal: output velocities, features, predicted class."""

    model: Model
    signal: Signal
    outputs: np.ndarray  # outputs × samples, m/s
    features: np.ndarray  # outputs
    predicted: str

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.outputs.shape[1]) / self.signal.rate_hz

    def feature_map(self) -> dict[str, float]:
        return {c: float(f) for c, f in zip(self.model.classes, self.features)}


def simulate(model: Model, signal: Signal | str | Path, rate_hz: float | None = None) -> SimulationResult:
    """Run the reference model on one signal (a Signal or a signal file), up to the end of the
    readout window (nothing later changes a feature; the result's signal is cut there too).

    Raises SignalError (naming the file) before simulating a signal that cannot drive ``model``."""
    if not isinstance(signal, Signal):
        signal = load_signal(signal, len(model.inputs), rate_hz)
    check_fits(model, signal)
    keep = reference.samples_needed(model, signal.rate_hz)
    if keep < signal.data.shape[1]:
        signal = Signal(signal.data[:, :keep], signal.rate_hz, signal.path)
    outputs = reference.simulate(model, signal.data, signal.rate_hz)
    feats = reference.features_of(model, signal.data[None], signal.rate_hz, outputs[None])[0]
    return SimulationResult(model, signal, outputs, feats, model.classes[int(reference.predict(model, feats))])


@dataclass
class CompileResult:
    """What ``compile_model`` produced: the context (graph, ports, log), the files written (texts
    by file name) and the manifest (``spec``; ``manifest`` is its JSON object)."""

    context: CompileContext
    outdir: Path
    files: dict[str, str]
    spec: Manifest

    @property
    def manifest(self) -> dict:
        """``manifest.json``'s object, as written."""
        return self.spec.to_json()

    @property
    def log(self):
        return self.context.log


def default_flow(exact: bool, drive: str = "ideal") -> list[str]:
    """The pass list ``r2nn compile`` runs (users may pass their own list instead);
    ``realise_drive`` only when ``drive`` is "parts" (the flow is recorded in every deck)."""
    flow = list(EXACT_FLOW if exact else HARDWARE_FLOW)
    return flow if drive == "parts" else [p for p in flow if p != "realise_drive"]


def load_signals(model: Model, paths: list[str | Path], rate_hz: float | None = None) -> list[Signal]:
    """Every signal file in ``paths`` (directories expanded, see :func:`signals.signal_files`)
    read for ``model``'s inputs and checked against it (:func:`signals.check_fits`: channels,
    rate, long enough for the readout window). Raises SignalError naming the file when there is
    none, or for the first bad one."""
    from .signals import signal_files

    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise SignalError(f"{missing[0]}: no such file or directory")
    files = signal_files(paths)
    if not files:
        raise SignalError(f"no signal files (.wav, .csv, .npy) in {', '.join(map(str, paths)) or '(none given)'}")
    return [check_fits(model, load_signal(f, len(model.inputs), rate_hz)) for f in files]


def check_compile_inputs(model: Model, outdir: str | Path, options: CompileOptions) -> None:
    """Raise CompileError before any pass runs: ``outdir`` is a file, a calibration signal cannot
    drive ``model`` (naming the signal's file), or ``--readout analog`` on a linear readout
    layer (not built yet; the pass would say so too, after the slower ones), or an unknown ``drive``,
    ``robust_rule`` (or "decisions" without calibration signals) or ``score_scale``."""
    if Path(outdir).exists() and not Path(outdir).is_dir():
        raise CompileError(f"output {outdir} exists and is not a directory", str(outdir))
    for signal in options.calibration_signals:
        try:
            check_fits(model, signal)
        except SignalError as err:
            raise CompileError(f"{err.message} (a calibration signal)", err.where) from None
    if model.readout.is_linear and model.readout.law is None and options.readout in ("analog", "analog-tl072"):
        raise refuse_parts_level()
    if options.drive not in (None, "parts", "ideal"):
        raise CompileError(f"drive must be 'parts' or 'ideal', not {options.drive!r}", Location(parameter="drive"))
    if options.robust_rule not in ("band_rms", "decisions"):
        raise CompileError(f"robust_rule must be 'band_rms' or 'decisions', not {options.robust_rule!r}",
                           Location(parameter="robust_rule"))
    if options.robust_rule == "decisions" and options.robust_parts and not options.calibration_signals:
        raise CompileError("robust_rule 'decisions' needs calibration_signals (the clips whose decisions it keeps)",
                           Location(parameter="robust_rule"))
    if options.score_scale not in (None, "calibration", "calibration_top", "worst_case"):
        raise CompileError(f"score_scale must be None, 'calibration', 'calibration_top' or 'worst_case', not "
                           f"{options.score_scale!r}", Location(parameter="score_scale"))


def _run_passes(model: Model, options: CompileOptions, flow: list[str]) -> CompileContext:
    """``run_flow`` with cyclic garbage collection paused: the passes allocate a few objects per
    component and free few, so collections on the way would only rescan them (~10 % of
    compiling a 10k-coupling model)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return run_flow(CompileContext(model, options), flow)
    finally:
        if collecting:
            gc.enable()


def compile_model(model: Model, outdir: str | Path, *, exact: bool = False, flow: list[str] | None = None,
                  options: CompileOptions | None = None, kicad: Footprints | None = None) -> CompileResult:
    """Lower ``model`` through ``flow`` and write ``<name>.lib``, ``<name>.cir``, the testbench's
    input file, ``manifest.json`` and ``bom.csv`` into ``outdir`` (atomically); with ``kicad``
    (footprints: ``Footprints()`` for the defaults) also the KiCad schematic, symbol library
    and project (``r2nn compile --kicad``, docs/kicad.md), in the same atomic write.

    Raises CompileError (an unknown pass, an unrealisable element, a failed numpy proof) and,
    before any pass runs, CompileError for an ``outdir`` that is a file or ``--readout analog`` on
    a linear readout layer (not built yet) or a calibration signal that cannot drive ``model``
    (naming the signal's file).
    """
    options = options or CompileOptions(exact=exact)
    check_compile_inputs(model, outdir, options)
    flow = list(flow) if flow is not None else default_flow(options.exact, options.drive_kind())
    ctx = _run_passes(model, options, flow)
    ctx.require_graph("backend").check()
    deck = deck_files(ctx, flow, kicad)
    write_directory_atomic(outdir, {k: v.encode("utf-8") for k, v in deck.files.items()})
    return CompileResult(ctx, Path(outdir), deck.files, deck.manifest)


def verify(model: Model, outdir: str | Path, signals: list[str | Path], *, rate_hz: float | None = None,
           engine: str = "batch", run_ac: bool = True, tolerances=None, timeout_s: float = 600.0,
           per_run: int = 8, progress: bool = False, trust_deck: bool = False, accuracy: float | None = None,
           workers: int | None = None, scheduler: str | None = None, refine: bool = True, method: str = "auto",
           spot_checks: int = 2):
    """Simulate the deck compiled in ``outdir`` on every signal (files or directories) with
    ngspice and compare with the reference model. Returns a ``verify.VerifyReport``.

    ``accuracy``: target NRMSE of ngspice's time integration (default: a fifth of the NRMSE
    tolerance); the runs go to ``workers`` local processes, or to the Dask cluster whose
    scheduler is at ``scheduler``. ``refine``: simulate again, at finer accuracies, the signals
    whose winning margin is within ngspice's own error (hardware decks; ``verify.run.refine``).
    ``method`` (auto, direct, superposition) and ``spot_checks``: ``verify.run.verify_deck``.

    Raises SignalError / VerificationError / SimulationError / ExecutorError (one line each);
    every input (the compiled output, the signals, the settings) is checked before ngspice
    starts (``verify.run.check_inputs``).
    """
    from .executor import make_executor
    from .verify import read_compiled, verify_deck
    from .verify.run import Tolerances, check_inputs

    compiled = read_compiled(outdir, trust_deck)
    loaded = load_signals(model, signals, rate_hz) if signals else []
    tolerances = tolerances or Tolerances()
    check_inputs(model, compiled, loaded, engine=engine, tolerances=tolerances, accuracy=accuracy,
                 timeout_s=timeout_s, method=method, spot_checks=spot_checks)
    bar = None
    if progress and loaded:
        from tqdm import tqdm

        bar = tqdm(total=len(loaded), unit="signal", desc="ngspice", disable=None, leave=False)

    def advance(n: int, more: int = 0) -> None:  # refinement adds signals to run as it goes
        if more:
            bar.total += more
            bar.refresh()
        bar.update(n)

    try:
        with make_executor(workers, scheduler) as executor:
            return verify_deck(model, compiled, loaded, engine=engine, tolerances=tolerances, timeout_s=timeout_s,
                               per_run=per_run, run_ac=run_ac, progress=advance if bar else None,
                               accuracy=accuracy, executor=executor, refine_close=refine, method=method,
                               spot_checks=spot_checks)
    finally:
        if bar is not None:
            bar.close()


def tolerance(model: Model, outdir: str | Path, signals: list[str | Path], tolerances: dict[str, float], *,
              rate_hz: float | None = None, runs: int = 500, seed: int = 0, distribution: str = "uniform",
              spot_checks: int = 3, spot_signals: int = 4, workers: int | None = None, progress: bool = False,
              scheduler: str | None = None, part_tolerances: dict[str, float] | None = None):
    """Monte Carlo tolerance analysis of the deck in ``outdir`` (see :mod:`r2nn_compiler.verify.tolerance`),
    on ``workers`` local processes or the Dask cluster whose scheduler is at ``scheduler``;
    ``spot_checks`` draws are simulated in ngspice on the first ``spot_signals`` signals.

    Every input (the compiled output, the signals, the settings) is checked before the Monte
    Carlo starts (``tolerance.check_inputs``). ``part_tolerances`` (designator → fraction, e.g.
    ``tolerance.bom_tolerances(outdir)``) override ``tolerances`` part by part."""
    from .verify import tolerance as tol
    from .executor import make_executor
    from .verify import read_compiled

    compiled = read_compiled(outdir)
    loaded = load_signals(model, signals, rate_hz)
    tol.check_inputs(model, compiled, loaded, tolerances, distribution=distribution, part_tolerances=part_tolerances)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=runs, unit="draw", desc="Monte Carlo", disable=None, leave=False)
    try:
        with make_executor(workers, scheduler) as executor:
            return tol.analyse(model, compiled, loaded, tolerances, runs=runs, seed=seed, distribution=distribution,
                               spot_checks=spot_checks, spot_signals=spot_signals, workers=workers,
                               progress=bar.update if bar else None, executor=executor,
                               part_tolerances=part_tolerances)
    finally:
        if bar is not None:
            bar.close()
