"""Train an R²NN classifier on a labelled dataset and hand back a valid, stable :class:`Model`.

Stages (each measured and recorded in ``TrainResult.metrics``):

1. **Initialise** N resonators log-spaced over the band (m = ``mass``, Q log-uniform in
   ``q_range`` but low enough that every resonance decays well inside the guard below), random
   couplings between every pair (each ~0.3/√(N−1) of the own damping, halved until the guard
   holds), random drives. Each class then gets the resonator that responds most to it relative
   to the other training clips (an optimal assignment), and readout weights that give every
   output the same mean ln r. Measured on 500 bench clips over 3 seeds, this assignment took the
   validation accuracy from 0.85–0.99 (outputs fixed by position) to 0.97–0.99.
2. **Frequency-domain training** (:mod:`.freqdomain`): full-batch Adam with a cosine-decayed
   learning rate on the cross-entropy of ``temperature · ln r_j`` plus ``l1 · Σ |θ_coupling|``
   plus a stability barrier. Adam rather than scipy's L-BFGS, by measurement on the 1000-clip
   benchmark (300 evaluations each): L-BFGS ended at loss 0.22 (train 0.975, val 0.98), Adam at
   0.11 (train 0.994, val 0.98); L-BFGS's line search stopped after 16 evaluations when a trial
   point outside the stable region got an infinite loss; and L-BFGS cannot take the per-step
   noise of hardware-aware training.
   *Stability*: every pole must decay faster than 4 / (t1 − t0) (each time constant under a
   quarter of the window, so the network is stable and the frequency-domain features stay close
   to the time-domain ones). A log barrier on the slow poles (analytic eigenvalue gradients)
   starts at ``PENALTY_START`` times that rate and steers the steps away; after every step the
   guard is checked and a violating step halved, up to ``MAX_HALVINGS`` times, then rejected
   (and Adam's moments reset).
3. **Pruning** to the ``max_couplings`` couplings largest in |θ| (|value| in units of
   √(c_i c_j)/(N−1) with c the initial dampings: the share of a resonator's damping one of its
   N−1 couplings carries), then a common damping increase if the guard broke, then
   ``fine_tune_steps`` more steps with the others held at 0. Without ``max_couplings``,
   couplings below ``NEGLIGIBLE_COUPLING`` in those units are dropped (they shift no resonance
   measurably).
4. **Time-domain check** with the reference simulator on the exact readout window, and
   (``readout_tune``) a refit of the readout weights w_j to the time-domain features: the
   decision is argmax_j (ln w_j + ln RMS_j), so ln w_j is a per-class bias, fitted by convex
   cross-entropy on the training clips (L-BFGS); kept only if training accuracy does not drop.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time

import numpy as np
import scipy.optimize
from tqdm import tqdm

from .. import reference
from ..circuit.tolerances import parse_tolerances
from ..errors import Location, SignalError, UsageError
from ..model import Coupling, Input, Model, Output, Readout, Resonator, validate_model
from ..model.ir import LINEAR, READOUT_KINDS
from . import freqdomain as fd
from .boards import Boards, boards, worst
from .data import Dataset

#: Halvings of a step that would make the network too slowly decaying, before rejecting it.
MAX_HALVINGS = 8
#: Every time constant must stay below this fraction of the readout window.
SETTLE_FRACTION = 0.25
#: The stability barrier starts when a pole decays slower than this multiple of the guard's rate.
PENALTY_START = 2.0
#: Couplings below this |θ| (see stage 3) are dropped from the model.
NEGLIGIBLE_COUPLING = 1e-3
#: Final learning rate of the cosine schedule, as a fraction of ``lr``.
LR_FLOOR = 0.01
#: Signals per reference-simulation chunk (bounds memory for long clips).
SIM_CHUNK = 64
#: The readouts the trainer builds (``TrainOptions.readout``).
READOUTS = ("linear", "argmax")


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """Everything the trainer can be told. Frequencies in Hz, times in seconds.

    - n_resonators: N ≥ number of classes.
    - band: (low, high) of the initial resonances; default (max(fs/400, 10/T), fs/4), T the window.
    - frequencies: initial resonances (Hz) of the first resonators — frequencies known to carry
      the classes (a machine's characteristic frequencies, formants); the others log-spaced
      over the band.
    - passive: damping, couplings and drives positive (log-parameterised): no negative resistance.
    - coupling_kinds: "damper" and/or "spring".
    - max_couplings: prune to this many couplings, then train ``fine_tune_steps`` more.
    - l1: weight of Σ |θ_coupling| in the loss (sparsity).
    - hardware_aware: std of the multiplicative Gaussian noise put on every physical value at
      every step (0.02 = 2 %; 0 = off), so part tolerances and quantisation hurt less.
    - tolerances: part tolerances (``"R=1%,C=5%,L=10%"``) to train against instead: each step
      draws ``tolerance_draws`` boards within them and trains on the worst (:mod:`.boards`);
      None: the Gaussian law of ``hardware_aware``.
    - steps, lr: Adam steps and peak learning rate (θ units per step, cosine-decayed).
    - temperature: softmax sharpness on ln r (logits = temperature · ln r_j).
    - seed: initialisation, split and noise.
    - window: readout (t0, t1); default the whole clip. validation: held-out fraction.
    - mass: initial masses (kg). q_range: initial quality factors.
    - readout_tune: refit w_j to time-domain features. resolution: see :mod:`.freqdomain`.
    - readout: ``linear`` (a layer over log mean squares of resonators over segments of the
      window, trained with the network: :mod:`.linear`) or ``argmax`` (one output resonator per
      class, argmax of w_j·RMS: the stages above).
    - readout_kind (``argmax`` only): the model's readout (``rms``: mean of the window's samples;
      ``rms_continuous``: the continuous-time mean square an analog detector integrates); the
      time-domain check and the refit of w_j use it.
    - segments (``linear``): K equal segments of the window, or the K + 1 boundaries in s (they
      then set the window: first = t0, last = t1), or None: K among 1, 2, 3, 4, 6, 12 chosen by
      cross-validation on the training clips (:func:`.linear.choose_segments`).
    - max_features (``linear``): at most this many resonator × segment detectors (None: all).
    - floor (``linear``): ε of φ = ln(MS + ε) in (m/s)²; None: ``floor_relative`` × the median
      mean square over the training clips, resonators and segments of the starting network.
    - group_lasso (``linear``): weight of the group lasso over the detectors (:mod:`.layer`).
    - readout_l2 (``linear``): L2 weight on the layer's weights (per standard deviation of each
      feature) in its convex fits; None: chosen by 5-fold cross-validation on the training clips
      (:func:`.logistic.choose_l2`).
    - name: model name (default the dataset's).
    """

    n_resonators: int = 16
    band: tuple[float, float] | None = None
    frequencies: tuple[float, ...] = ()
    passive: bool = False
    coupling_kinds: tuple[str, ...] = ("damper",)
    max_couplings: int | None = None
    l1: float = 1e-3
    hardware_aware: float = 0.0
    tolerances: str | None = None
    tolerance_draws: int = 3
    steps: int = 300
    fine_tune_steps: int = 100
    lr: float = 0.03
    temperature: float = 4.0
    seed: int = 0
    window: tuple[float, float] | None = None
    validation: float = 0.2
    mass: float = 1e-3
    q_range: tuple[float, float] = (5.0, 20.0)
    readout_tune: bool = True
    readout_kind: str = "rms"
    readout: str = "linear"
    segments: int | tuple[float, ...] | None = None
    max_features: int | None = None
    floor: float | None = None
    floor_relative: float = 1e-4
    group_lasso: float = 1e-3
    readout_l2: float | None = None
    resolution: float = fd.DEFAULT_RESOLUTION
    name: str | None = None


@dataclasses.dataclass
class History:
    """Per step: training loss (with the L1 term), training and validation accuracy (frequency
    domain, evaluated on the network the step saw: noisy when hardware-aware)."""

    loss: list[float] = dataclasses.field(default_factory=list)
    train_acc: list[float] = dataclasses.field(default_factory=list)
    val_acc: list[float] = dataclasses.field(default_factory=list)
    fine_tune_start: int | None = None


@dataclasses.dataclass(frozen=True)
class TrainResult:
    model: Model
    history: History
    metrics: dict


class Adam:
    """Adam (Kingma & Ba) on a flat vector; ``step`` returns the update to subtract."""

    def __init__(self, size: int, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.size = size
        self.reset()

    def reset(self) -> None:
        self.m = np.zeros(self.size)
        self.v = np.zeros(self.size)
        self.t = 0

    def step(self, grad: np.ndarray, lr: float) -> np.ndarray:
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad**2
        m_hat = self.m / (1 - self.beta1**self.t)
        v_hat = self.v / (1 - self.beta2**self.t)
        return lr * m_hat / (np.sqrt(v_hat) + self.eps)


def train_argmax(dataset: Dataset, options: TrainOptions, progress: bool = True) -> TrainResult:
    """Train a network with one output resonator per class (``options.readout == "argmax"``) on
    ``dataset``; the model passes ``validate_model`` and ``check_stable``. Precondition: the
    problem passed :func:`check_problem` (:func:`r2nn_compiler.train.train` checks it)."""
    started = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    problem = prepare(dataset, options, rng)
    layout, theta, window, band, min_decay = (problem.layout, problem.theta, problem.window, problem.band,
                                              problem.min_decay)
    spectra, train_idx, val_idx = problem.spectra, problem.train_idx, problem.val_idx
    train_spec, val_spec = spectra.subset(train_idx), spectra.subset(val_idx)
    y_train, y_val = dataset.labels[train_idx], dataset.labels[val_idx]

    history = History()
    total = options.steps + (options.fine_tune_steps if options.max_couplings is not None else 0)
    bar = tqdm(total=total, desc="training", unit="step", disable=not progress, leave=False)
    run = _Run(layout, train_spec, val_spec, y_train, y_val, options, min_decay, rng, history, bar)
    theta = run.optimise(theta, options.steps)
    theta, layout = _prune(theta, layout, options.max_couplings)
    theta = _restore_decay(theta, layout, min_decay)
    if options.max_couplings is not None:
        history.fine_tune_start = len(history.loss)
        run.layout = layout
        theta = run.optimise(theta, options.fine_tune_steps)
    bar.close()
    p = layout.values(theta)
    freq_train = _accuracy(fd.log_features(p, layout, train_spec), y_train)
    freq_val = _accuracy(fd.log_features(p, layout, val_spec), y_val) if val_idx.size else math.nan

    model = build_model(layout, p, dataset, options, band, window)
    model, time_metrics = _time_domain_readout(model, dataset, train_idx, val_idx, options)
    validate_model(model)
    reference.check_stable(model)
    metrics = {
        "train_seconds": time.perf_counter() - started,
        "train_clips": int(train_idx.size),
        "val_clips": int(val_idx.size),
        "train_accuracy_freq": freq_train,
        "val_accuracy_freq": freq_val,
        **time_metrics,
        "rejected_steps": run.rejected,
        "couplings": len(model.couplings),
        "stability_margin_per_s": reference.stability_margin(model)[0],
        "frequency_nodes": int(spectra.freqs_hz.size),
    }
    return TrainResult(model, history, metrics)


def run_boards(layout: fd.Layout, options: TrainOptions) -> Boards:
    """The boards each step of a run on ``layout`` trains on (:mod:`.boards`)."""
    tolerances = parse_tolerances(options.tolerances, "tolerances") if options.tolerances else None
    return boards(layout, tolerances, options.tolerance_draws, options.hardware_aware)


def _check_options(options: TrainOptions) -> None:
    """Raise UsageError naming the first option outside its range."""
    if options.tolerances:
        parse_tolerances(options.tolerances, "tolerances")
        if options.hardware_aware:
            raise UsageError("tolerances: choose them or hardware_aware's Gaussian noise, not both",
                             Location(parameter="tolerances"))
    checks = [
        ("n_resonators", options.n_resonators >= 1, "an integer >= 1"),
        ("max_couplings", options.max_couplings is None or options.max_couplings >= 0, "None or >= 0"),
        ("l1", options.l1 >= 0, ">= 0"),
        ("hardware_aware", 0 <= options.hardware_aware < 1, "in [0, 1)"),
        ("tolerance_draws", options.tolerance_draws >= 1, "an integer >= 1"),
        ("steps", options.steps >= 0 and options.fine_tune_steps >= 0, ">= 0 (and fine_tune_steps)"),
        ("lr", options.lr > 0, "> 0"),
        ("temperature", options.temperature > 0, "> 0"),
        ("validation", 0 <= options.validation < 1, "in [0, 1)"),
        ("mass", options.mass > 0, "> 0 kg"),
        ("q_range", 0 < options.q_range[0] <= options.q_range[1], "0 < low <= high"),
        ("resolution", 0 < options.resolution < 1, "in (0, 1)"),
        ("readout_kind", options.readout_kind in READOUT_KINDS and options.readout_kind != LINEAR,
         f"one of {', '.join(k for k in READOUT_KINDS if k != LINEAR)} (the argmax readout's feature)"),
        ("readout_kind", options.readout_kind == "rms" or options.readout != "linear",
         "rms (the default) with the linear readout, which always integrates the continuous-time mean "
         "square; another feature needs readout argmax"),
        ("readout", options.readout in READOUTS, f"one of {', '.join(READOUTS)}"),
        ("segments", _segments_ok(options.segments), "None (auto), an integer >= 1 or at least two boundaries in s"),
        ("max_features", options.max_features is None or options.max_features >= 1, "None or >= 1"),
        ("floor", options.floor is None or (math.isfinite(options.floor) and options.floor > 0),
         "None or a finite number > 0 ((m/s)^2)"),
        ("floor_relative", math.isfinite(options.floor_relative) and options.floor_relative > 0, "> 0"),
        ("group_lasso", options.group_lasso >= 0, ">= 0"),
        ("readout_l2", options.readout_l2 is None or options.readout_l2 >= 0, "None or >= 0"),
        ("frequencies", len(options.frequencies) <= options.n_resonators
         and all(math.isfinite(f) and f > 0 for f in options.frequencies),
         "at most n_resonators positive frequencies in Hz"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise UsageError(f"{name} must be {expected}, got {getattr(options, name)!r}", Location(parameter=name))
    if options.readout != "linear":
        _refuse_layer_options(options)


def _refuse_layer_options(options: TrainOptions) -> None:
    """Raise UsageError for a linear-layer option given with another readout (it would be ignored)."""
    defaults = TrainOptions()
    for name in ("segments", "max_features", "floor", "floor_relative", "group_lasso", "readout_l2"):
        if getattr(options, name) != getattr(defaults, name):
            raise UsageError(f"{name} applies to the linear readout only, not readout {options.readout!r}",
                             Location(parameter=name))


def _segments_ok(segments) -> bool:
    if segments is None:
        return True
    if isinstance(segments, (int, np.integer)) and not isinstance(segments, bool):
        return segments >= 1
    return isinstance(segments, (tuple, list)) and len(segments) >= 2 and all(
        isinstance(b, (int, float)) and math.isfinite(b) for b in segments)


def _window(dataset: Dataset, options: TrainOptions) -> tuple[float, float]:
    t0, t1 = options.window if options.window is not None else (0.0, dataset.duration_s)
    if not (0 <= t0 < t1 <= dataset.duration_s * (1 + 1e-9)):
        raise UsageError(f"readout window must satisfy 0 <= t0 < t1 <= {dataset.duration_s:g} s (the clip), "
                         f"got {t0!r}..{t1!r}", Location(parameter="window"))
    return float(t0), float(t1)


def _band(dataset: Dataset, options: TrainOptions, window: tuple[float, float]) -> tuple[float, float]:
    fs = dataset.sample_rate_hz
    lo, hi = options.band if options.band is not None else (max(fs / 400, 10 / (window[1] - window[0])), fs / 4)
    if not (0 < lo < hi < fs / 2):
        raise UsageError(f"band must satisfy 0 < low < high < fs/2 = {fs / 2:g} Hz, got {lo!r}..{hi!r}",
                         Location(parameter="band"))
    return float(lo), float(hi)


def check_problem(dataset: Dataset, options: TrainOptions) -> tuple[tuple[float, float], tuple[float, float]]:
    """Check the options and the dataset against each other before any work is done on them:
    every option in range, the readout window inside the clips with at least two samples, the
    band below fs/2. Returns ``(window, band)`` (seconds, Hz) as :func:`prepare` uses them.

    Raises SignalError naming the dataset's file when its clips are too short for the default
    band, else UsageError naming the dataset's file and the option."""
    _check_options(options)
    try:
        window = _window(dataset, options)
    except UsageError as err:
        raise err.located(dataset.path) from None
    try:
        held = fd.window_samples(dataset.signals.shape[-1], dataset.sample_rate_hz, *window)
    except ValueError:
        held = slice(0, 0)
    if held.stop - held.start < 2:
        raise UsageError(f"readout window {window[0]:g}..{window[1]:g} s holds fewer than two samples at "
                         f"{dataset.sample_rate_hz:g} Hz", Location(dataset.path, parameter="window"))
    try:
        band = _band(dataset, options, window)
    except UsageError as err:
        if options.band is not None or options.window is not None:
            raise err.located(dataset.path) from None
        raise SignalError(f"clips of {dataset.duration_s:g} s ({dataset.signals.shape[-1]} samples at "
                          f"{dataset.sample_rate_hz:g} Hz) are too short to train on: the default band of the "
                          f"initial resonances is empty ({err.message}); give longer clips or a band (--band-hz)",
                          Location(dataset.path)) from None
    return window, band


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class Problem:
    """A prepared training problem: the readout window (s), the band (Hz), the stability
    guard's minimum decay rate (1/s), the window spectra of every clip, the split, and the
    starting network (layout and θ)."""

    window: tuple[float, float]
    band: tuple[float, float]
    min_decay: float
    spectra: fd.WindowSpectra
    train_idx: np.ndarray
    val_idx: np.ndarray
    layout: fd.Layout
    theta: np.ndarray


def prepare(dataset: Dataset, options: TrainOptions, rng: np.random.Generator | None = None) -> Problem:
    """Window, band, split, spectra and the starting network; ``rng`` defaults to one seeded by
    ``options.seed``. Raises UsageError for options that cannot work with the dataset."""
    window, band = check_problem(dataset, options)
    rng = rng if rng is not None else np.random.default_rng(options.seed)
    min_decay = 1.0 / (SETTLE_FRACTION * (window[1] - window[0]))
    train_idx, val_idx = dataset.split(options.validation, options.seed)
    spectra = fd.window_spectra(dataset.signals, dataset.sample_rate_hz, *window, options.resolution)
    layout, p = initialise(dataset, options, band, min_decay, rng)
    layout, p = _assign_outputs(layout, p, spectra.subset(train_idx), dataset.labels[train_idx])
    return Problem(window, band, min_decay, spectra, train_idx, val_idx, layout, layout.theta_of(p))


def initialise(dataset: Dataset, options: TrainOptions, band: tuple[float, float], min_decay: float,
               rng: np.random.Generator) -> tuple[fd.Layout, np.ndarray]:
    """The starting network (see the module docstring) as a layout and its physical vector.

    Raises UsageError for options that cannot work with the dataset.
    """
    n, n_in, n_cls = options.n_resonators, dataset.n_inputs, len(dataset.classes)
    if n < n_cls:
        raise UsageError(f"n_resonators must be at least the number of classes ({n_cls}), got {n}",
                         Location(parameter="n_resonators"))
    unknown = set(options.coupling_kinds) - set(fd.KINDS)
    if unknown or not options.coupling_kinds:
        raise UsageError(f"coupling_kinds must be damper and/or spring, got {options.coupling_kinds!r}",
                         Location(parameter="coupling_kinds"))
    fixed = np.asarray(options.frequencies, dtype=float)
    if fixed.size and fixed.max() >= dataset.sample_rate_hz / 2:
        raise UsageError(f"frequencies must lie below fs/2 = {dataset.sample_rate_hz / 2:g} Hz, got {fixed.max():g}",
                         Location(parameter="frequencies"))
    w0 = 2 * np.pi * np.sort(np.concatenate([fixed, np.geomspace(*band, n - fixed.size)]))
    # A resonance decays at ω0/(2Q); keep that well above the guard so training starts inside it.
    q = np.minimum(np.exp(rng.uniform(*np.log(options.q_range), n)), w0 / (4 * min_decay))
    mass = np.full(n, options.mass)
    damping = mass * w0 / q
    pairs = tuple((i, j) for i in range(n) for j in range(i + 1, n))
    i, j = (np.array(pairs, dtype=int).T if pairs else (np.zeros(0, int), np.zeros(0, int)))
    # Coupling θ is in units of √(c_i c_j)/(N−1): one Adam step moving all N−1 couplings of a
    # resonator then shifts its total damping by ~lr, as a step on its own damping would.
    pair_scale = {"damper": np.sqrt(damping[i] * damping[j]) / max(n - 1, 1),
                  "spring": np.sqrt(damping[i] * w0[i] * damping[j] * w0[j]) / max(n - 1, 1)}
    kinds = tuple(k for k in fd.KINDS if k in options.coupling_kinds)
    passive = options.passive
    n_pair_values = len(kinds) * len(pairs)
    scale = np.concatenate([np.ones(2 * n), damping, *(pair_scale[k] for k in kinds),
                            np.repeat(damping, n_in), np.ones(n_cls)])
    log_param = np.concatenate([np.ones(2 * n, bool), np.full(n + n_pair_values + n * n_in, passive),
                                np.ones(n_cls, bool)])
    outputs = tuple(int(k) for k in np.linspace(0, n - 1, n_cls).round())
    layout = fd.Layout(n, n_in, outputs, pairs, kinds, scale, log_param, np.ones(scale.size, bool))

    # Random couplings of ~0.3/√(N−1) of the own damping each, so their sum stays ~0.3 of it.
    spread = 0.3 * math.sqrt(max(n - 1, 1))
    normal = rng.standard_normal(n_pair_values)
    coupling = spread * (np.abs(normal) if passive else normal)
    drive = np.exp(0.3 * rng.standard_normal(n * n_in)) if passive else rng.standard_normal(n * n_in)
    while True:
        p = np.concatenate([mass, mass * w0**2, damping, coupling * scale[layout.coupling_slice],
                            drive * np.repeat(damping, n_in), np.ones(n_cls)])
        if fd.decay_rate(p, layout) >= min_decay:
            return layout, p
        coupling = coupling / 2


def _assign_outputs(layout: fd.Layout, p: np.ndarray, spectra: fd.WindowSpectra,
                    labels: np.ndarray) -> tuple[fd.Layout, np.ndarray]:
    """Give each class the resonator that, in the starting network, responds most to that class
    relative to the other clips (an assignment maximising the summed scores), and set the
    readout weights so every output starts with the same mean ln r.

    Training only has to refine a readout that already separates classes instead of first
    rerouting every class to an arbitrary resonator; measured, this removes most of the
    seed-to-seed spread of the final accuracy.
    """
    resp = fd.response(layout.unpack(p), layout, spectra.freqs_hz)
    log_ms = np.log(fd.mean_squares(dataclasses.replace(resp, H=resp.X), spectra))  # clips × resonators
    centred = log_ms - log_ms.mean(axis=0)
    n_cls = len(layout.outputs)
    score = np.stack([centred[labels == c].mean(axis=0) if np.any(labels == c) else np.zeros(layout.n_resonators)
                      for c in range(n_cls)], axis=1)
    rows, cols = scipy.optimize.linear_sum_assignment(score, maximize=True)
    outputs = tuple(int(r) for r in rows[np.argsort(cols)])
    log_r = 0.5 * log_ms[:, list(outputs)].mean(axis=0)
    p = p.copy()
    p[-n_cls:] = np.exp(-(log_r - log_r.mean()))
    return dataclasses.replace(layout, outputs=outputs), p


class _Run:
    """The optimisation loop shared by training and post-pruning fine-tuning."""

    def __init__(self, layout, train_spec, val_spec, y_train, y_val, options, min_decay, rng, history, bar):
        self.layout, self.train_spec, self.val_spec = layout, train_spec, val_spec
        self.y_train, self.y_val, self.options, self.min_decay = y_train, y_val, options, min_decay
        self.rng, self.history, self.bar = rng, history, bar
        self.boards = run_boards(layout, options)
        self.rejected = 0

    def optimise(self, theta: np.ndarray, steps: int) -> np.ndarray:
        opt = self.options
        adam = Adam(theta.size)
        for step in range(steps):
            lr = opt.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1))))
            ev = worst(lambda f: fd.objective(theta, self.layout, self.train_spec, self.y_train, opt.temperature,
                                              opt.l1, (self.min_decay, PENALTY_START * self.min_decay), f),
                       self.boards.factors(self.rng))
            self._record(ev)
            theta = self._guarded_step(theta, adam.step(ev.grad, lr), adam)
        return theta

    def _guarded_step(self, theta: np.ndarray, delta: np.ndarray, adam: Adam) -> np.ndarray:
        for _ in range(MAX_HALVINGS + 1):
            trial = theta - delta
            if fd.decay_rate(self.layout.values(trial), self.layout) >= self.min_decay:
                return trial
            delta = delta / 2
        self.rejected += 1
        adam.reset()
        return theta

    def _record(self, ev: fd.Evaluation) -> None:
        h = self.history
        h.loss.append(ev.loss)
        h.train_acc.append(_accuracy(ev.log_r, self.y_train))
        if self.y_val.size:
            val_log_r = np.log(ev.weight) + 0.5 * np.log(fd.mean_squares(ev.response, self.val_spec))
            h.val_acc.append(_accuracy(val_log_r, self.y_val))
        else:
            h.val_acc.append(math.nan)
        self.bar.set_postfix(loss=f"{ev.loss:.3f}", train=f"{h.train_acc[-1]:.2f}", val=f"{h.val_acc[-1]:.2f}",
                             refresh=False)
        self.bar.update()


def _accuracy(log_r: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(log_r, axis=1) == labels)) if labels.size else math.nan


def _prune(theta: np.ndarray, layout: fd.Layout, max_couplings: int | None) -> tuple[np.ndarray, fd.Layout]:
    """Keep the ``max_couplings`` largest couplings (|θ|), or drop the negligible ones."""
    magnitude = layout.coupling_magnitudes(theta)
    keep = magnitude >= NEGLIGIBLE_COUPLING
    if max_couplings is not None:
        order = np.argsort(-magnitude, axis=None, kind="stable")
        top = np.zeros(magnitude.size, bool)
        top[order[:max_couplings]] = True
        keep &= top.reshape(magnitude.shape)
    pruned = layout.with_active_couplings(keep)
    # Re-derive θ so pruned entries are exactly 0 and the kept ones are unchanged.
    return pruned.theta_of(pruned.values(theta)), pruned


def _restore_decay(theta: np.ndarray, layout: fd.Layout, min_decay: float) -> np.ndarray:
    """θ with every own damping raised just enough (bisection on a common shift of the damping
    parameters: +α·scale when signed, ×e^α when positive) that the decay guard holds again.

    Pruning can break the guard (a removed positive damper may have been what kept a resonator
    with negative own damping stable); this projects back before fine-tuning.
    """
    n = layout.n_resonators
    damping = slice(2 * n, 3 * n)

    def shifted(alpha: float) -> np.ndarray:
        out = theta.copy()
        out[damping] += alpha
        return out

    def ok(alpha: float) -> bool:
        return fd.decay_rate(layout.values(shifted(alpha)), layout) >= min_decay

    if ok(0.0):
        return theta
    hi = 1.0
    while not ok(hi):
        if hi > 1e3:  # e.g. a negative spring left without its partner: no damping cures that
            raise UsageError("pruning left a network that no added damping stabilises: allow more couplings",
                             Location(parameter="max_couplings"))
        hi *= 2
    lo = 0.0
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return shifted(hi)


def class_identifiers(classes: tuple[str, ...]) -> list[str]:
    """Class names as unique identifiers for the model (non-identifier characters become _)."""
    out: list[str] = []
    for name in classes:
        ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "c"
        if not re.match(r"[A-Za-z_]", ident):
            ident = "c_" + ident
        base, k = ident, 2
        while ident in out:
            ident, k = f"{base}_{k}", k + 1
        out.append(ident)
    return out


def build_model(layout: fd.Layout, p: np.ndarray, dataset: Dataset, options: TrainOptions,
                band: tuple[float, float], window: tuple[float, float]) -> Model:
    """The Model of physical vector ``p``: resonators r0…, inputs u0…, classes from the dataset."""
    phys = layout.unpack(p)
    names = [f"r{i}" for i in range(layout.n_resonators)]
    resonators = tuple(Resonator(names[i], float(phys.mass[i]), float(phys.stiffness[i]), float(phys.damping[i]))
                       for i in range(layout.n_resonators))
    couplings = tuple(Coupling(names[a], names[b], kind, float(phys.coupling[k, q]))
                      for k, kind in enumerate(layout.kinds) for q, (a, b) in enumerate(layout.pairs)
                      if phys.coupling[k, q] != 0)
    inputs = tuple(Input(f"u{k}", tuple((names[i], float(phys.drive[i, k])) for i in range(layout.n_resonators)
                                        if phys.drive[i, k] != 0))
                   for k in range(layout.n_inputs))
    outputs = tuple(Output(cls, names[node], float(w)) for cls, node, w in
                    zip(class_identifiers(dataset.classes), layout.outputs, phys.weight))
    name = class_identifiers((options.name or dataset.name,))[0]
    return Model(name, resonators, couplings, inputs, outputs, Readout(options.readout_kind, *window), band=band)


def time_domain_rms(model: Model, signals: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    """Unweighted RMS of every output over the readout window (clips × classes), by simulation."""
    unit = _with_weights(model, np.ones(len(model.outputs)))
    return np.concatenate([reference.features_of(unit, signals[s : s + SIM_CHUNK], sample_rate_hz)
                           for s in range(0, signals.shape[0], SIM_CHUNK)])


def _with_weights(model: Model, weights: np.ndarray) -> Model:
    outputs = tuple(dataclasses.replace(o, weight=float(w)) for o, w in zip(model.outputs, weights))
    return dataclasses.replace(model, outputs=outputs)


def _time_domain_readout(model: Model, dataset: Dataset, train_idx: np.ndarray, val_idx: np.ndarray,
                         options: TrainOptions) -> tuple[Model, dict]:
    """Time-domain accuracies, with the readout weights refit to time-domain features."""
    fs = dataset.sample_rate_hz
    weights = np.array([o.weight for o in model.outputs])
    log_rms_val = np.log(time_domain_rms(model, dataset.signals[val_idx], fs)) if val_idx.size else None
    y_train, y_val = dataset.labels[train_idx], dataset.labels[val_idx]

    def val_accuracy(w):
        return _accuracy(np.log(w) + log_rms_val, y_val) if val_idx.size else math.nan

    metrics = {"val_accuracy_time_before_readout_tune": val_accuracy(weights)}
    if options.readout_tune:
        log_rms = np.log(time_domain_rms(model, dataset.signals[train_idx], fs))
        before = _accuracy(np.log(weights) + log_rms, y_train)
        tuned = _fit_log_weights(log_rms, y_train, np.log(weights), options.temperature)
        after = _accuracy(tuned + log_rms, y_train)
        if after >= before:
            weights = np.exp(tuned)
            model = _with_weights(model, weights)
        metrics["train_accuracy_time"] = max(before, after)
        metrics["readout_tuned"] = after >= before
    else:
        metrics["train_accuracy_time"] = math.nan
        metrics["readout_tuned"] = False
    metrics["val_accuracy_time"] = val_accuracy(weights)
    return model, metrics


def _fit_log_weights(log_rms: np.ndarray, labels: np.ndarray, start: np.ndarray, temperature: float) -> np.ndarray:
    """ln w minimising the cross-entropy of ``temperature · (ln w + ln RMS)``; mean ln w = 0."""
    n = labels.size
    onehot = np.eye(log_rms.shape[1])[labels]

    def loss(b):
        z = temperature * (b + log_rms)
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.sum(onehot * logp) / n, temperature * np.sum(np.exp(logp) - onehot, axis=0) / n

    b = scipy.optimize.minimize(loss, start, jac=True, method="L-BFGS-B").x
    return b - b.mean()


def plot_history(history: History, path) -> None:
    """Write a PNG of the loss (log scale) and train/validation accuracy per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(len(history.loss))
    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, sharex=True, figsize=(7, 5.5))
    ax_loss.semilogy(steps, history.loss, color="C0")
    ax_loss.set_ylabel("loss (cross-entropy + penalties)")
    ax_acc.plot(steps, history.train_acc, label="train", color="C1")
    ax_acc.plot(steps, history.val_acc, label="validation", color="C2")
    ax_acc.set_ylabel("accuracy (frequency domain)")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylim(-0.02, 1.02)
    if history.fine_tune_start is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(history.fine_tune_start, color="grey", linestyle="--", linewidth=1)
        ax_acc.text(history.fine_tune_start, 0.02, " pruned, fine-tune", color="grey")
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
