"""Train a network together with a linear readout layer (``TrainOptions.readout = "linear"``).

Stages (each measured in ``TrainResult.metrics``):

1. **Initialise** the network as for the argmax readout (:func:`.trainer.initialise`: resonators
   log-spaced over the band, random couplings, random drives), without output weights. The
   floor ε is ``options.floor`` or ``floor_relative`` × the median mean square over the training
   clips, resonators and segments of this starting network (frequency-domain estimate); it is a
   constant from then on and is recorded in the model. With ``segments=None`` (auto) the number
   of equal segments is chosen here, by cross-validating the layer on the starting network's
   features (:func:`choose_segments`). The layer starts at the convex fit (:func:`.logistic.fit`)
   to the starting network's standardised features.
2. **Joint frequency-domain training** of network and layer (:mod:`.layer`): full-batch Adam with
   the argmax trainer's cosine schedule and stability guard on cross-entropy + group lasso over
   the detectors + L1 on couplings + stability barrier. The guard is the argmax trainer's (every
   time constant under a quarter of the whole window), not a quarter of a segment: that would cap
   Q at a few tens for typical segments, while the segment approximation's bias is absorbed by
   the exact refit of stage 4 (measured on the demos: frequency- and time-domain validation
   accuracies within a few points of each other).
3. **Pruning**: couplings as for the argmax readout; with ``max_features``, the layer keeps the
   ``max_features`` detectors whose columns of A are largest, the rest held at 0; then
   ``fine_tune_steps`` more steps (when either was asked for).
4. **Time domain**: exact φ of every resonator × segment on the training and validation clips
   (:func:`.segments.segment_mean_squares` on the trained network), at most ``max_features``
   detectors chosen by grafting on the training clips (:func:`.logistic.graft`), (A, β) refit by
   convex multinomial logistic regression on their exact features (L2 weight ``readout_l2``, or
   chosen by cross-validation on the training clips), training and validation accuracy measured
   on them. Resonators with no coupling path to a read one do not influence any feature and are
   dropped from the model.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from tqdm import tqdm

from .. import reference
from ..errors import Location, UsageError
from ..model import ClassScore, Feature, Model, Readout, validate_model
from ..model.ir import LINEAR
from . import freqdomain as fd
from . import layer
from . import logistic
from . import segments as seg
from . import trainer as tr
from .boards import worst
from .data import Dataset


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class LinearProblem:
    """A prepared problem: window and segment boundaries (s), band (Hz), the guard's minimum decay
    rate (1/s), per-segment spectra of every clip, the split, the starting network (layout
    without output weights, θ), the starting layer (head, ρ), and for auto segments the
    cross-validated loss of every candidate K (:func:`choose_segments`)."""

    window: tuple[float, float]
    boundaries: tuple[float, ...]
    band: tuple[float, float]
    min_decay: float
    spectra: seg.SegmentSpectra
    train_idx: np.ndarray
    val_idx: np.ndarray
    layout: fd.Layout
    theta: np.ndarray
    head: layer.Head
    rho: np.ndarray
    segment_losses: dict[int, float] = dataclasses.field(default_factory=dict)


#: ``segments=None`` (auto) chooses K among the divisors of this count (see :func:`choose_segments`).
AUTO_SEGMENTS = 12
#: ... keeping only the K whose segments hold at least this many samples.
MIN_SEGMENT_SAMPLES = 8


def boundaries_of(dataset: Dataset, options: tr.TrainOptions) -> tuple[tuple[float, float], tuple[float, ...] | None]:
    """(window, boundaries): explicit boundaries set the window (and must agree with
    ``options.window`` when both are given); K segments cut the window into equal parts; None
    (auto) gives no boundaries yet.

    Raises UsageError naming ``segments`` or ``window``."""
    segments = options.segments
    explicit = isinstance(segments, (tuple, list))
    if explicit and options.window is None and len(segments) >= 2:
        options = dataclasses.replace(options, window=(float(segments[0]), float(segments[-1])))
    window = tr._window(dataset, options)
    if segments is None:
        return window, None
    try:
        return window, seg.segment_boundaries(window, segments)
    except ValueError as exc:
        raise UsageError(str(exc), Location(parameter="segments")) from None


def segment_candidates(dataset: Dataset, window: tuple[float, float]) -> list[int]:
    """The K that auto may choose: divisors of :data:`AUTO_SEGMENTS` that divide the largest one
    whose segments hold at least :data:`MIN_SEGMENT_SAMPLES` samples (at least [1])."""
    samples = (window[1] - window[0]) * dataset.sample_rate_hz
    divisors = [k for k in range(1, AUTO_SEGMENTS + 1) if AUTO_SEGMENTS % k == 0]
    finest = max([k for k in divisors if samples / k >= MIN_SEGMENT_SAMPLES], default=1)
    return [k for k in divisors if finest % k == 0]


def choose_segments(dataset: Dataset, options: tr.TrainOptions, window: tuple[float, float],
                    layout: fd.Layout, p: np.ndarray, train_idx: np.ndarray) -> tuple[int, dict[int, float]]:
    """Auto segments: the fewest K whose layer, fitted to the *starting* network's features over K
    equal segments, has a 5-fold cross-validated cross-entropy on the training clips within one
    standard error of the lowest (more segments cost more detectors: only as many as the data
    show to help); and the mean loss for every candidate K.

    The features come from one frequency-domain evaluation over the finest candidate's segments
    (K coarser segments are means of groups of equal fine ones, exact for mean squares; the
    segment approximation is the training objective's own). On the demos (three seeds each) it
    picks one segment for the stationary bearing vibration, two for the tactile textures and
    four or six over a spoken word, as the held-out accuracy of fixed resonator banks' exact
    features prefers (speech: 6 ≳ 4 ≫ 2 ≫ 1).
    """
    candidates = segment_candidates(dataset, window)
    if len(candidates) == 1:
        return 1, {}
    finest = candidates[-1]
    fine = seg.segment_spectra(dataset.signals[train_idx], dataset.sample_rate_hz,
                               seg.segment_boundaries(window, finest), options.resolution)
    ms = layer.spectral_mean_squares(layer.state_response(layout.unpack(p), layout, fine.freqs_hz)[0], fine)
    labels, n_cls = dataset.labels[train_idx], len(dataset.classes)
    losses: dict[int, np.ndarray] = {}
    for k in candidates:
        merged = ms.reshape(ms.shape[0], k, finest // k, -1).mean(axis=2)
        floor = options.floor if options.floor is not None else options.floor_relative * float(np.median(merged))
        log_ms = layer.log_features(merged, floor)
        z = (log_ms - log_ms.mean(axis=0)) / np.maximum(log_ms.std(axis=0), layer.MIN_STD)
        grid = logistic.L2_GRID if options.readout_l2 is None else (options.readout_l2,)
        by_l2 = logistic.cv_losses(z, labels, n_cls, grid, options.seed)
        losses[k] = by_l2[logistic.best_l2(by_l2)]
    return logistic.simplest_within_one_se(losses), {k: float(v.mean()) for k, v in losses.items()}


def network_only(layout: fd.Layout, p: np.ndarray) -> tuple[fd.Layout, np.ndarray]:
    """The layout and physical vector without the argmax readout's output weights."""
    keep = np.ones(p.size, bool)
    keep[p.size - len(layout.outputs):] = False
    net = dataclasses.replace(layout, outputs=(), scale=layout.scale[keep], log_param=layout.log_param[keep],
                              active=layout.active[keep])
    return net, p[keep]


def prepare_linear(dataset: Dataset, options: tr.TrainOptions, rng: np.random.Generator | None = None) -> LinearProblem:
    """Window, segments, band, split, spectra, the starting network, floor and layer (stage 1).

    Raises UsageError for options that cannot work with the dataset."""
    tr._check_options(options)
    rng = rng if rng is not None else np.random.default_rng(options.seed)
    window, boundaries = boundaries_of(dataset, options)
    band = tr._band(dataset, options, window)
    min_decay = 1.0 / (tr.SETTLE_FRACTION * (window[1] - window[0]))
    train_idx, val_idx = dataset.split(options.validation, options.seed)
    layout, p = network_only(*tr.initialise(dataset, options, band, min_decay, rng))
    segment_losses: dict[int, float] = {}
    if boundaries is None:
        k, segment_losses = choose_segments(dataset, options, window, layout, p, train_idx)
        boundaries = seg.segment_boundaries(window, k)
    try:
        spectra = seg.segment_spectra(dataset.signals, dataset.sample_rate_hz, boundaries, options.resolution)
    except ValueError as exc:
        raise UsageError(f"segments: {exc}", Location(parameter="segments")) from None
    train_spec = spectra.subset(train_idx)
    ms = layer.spectral_mean_squares(layer.state_response(layout.unpack(p), layout, spectra.freqs_hz)[0], train_spec)
    floor = options.floor if options.floor is not None else options.floor_relative * float(np.median(ms))
    n_cls = len(dataset.classes)
    log_ms = layer.log_features(ms, floor)
    head = layer.make_head(log_ms, floor, n_cls, len(boundaries) - 1, layout.n_resonators)
    z, labels = head.standardise(log_ms), dataset.labels[train_idx]
    start = logistic.fit(z, labels, n_cls, readout_l2(options, z, labels, n_cls))
    return LinearProblem(window, boundaries, band, min_decay, spectra, train_idx, val_idx, layout,
                         layout.theta_of(p), head, head.pack(start), segment_losses)


class _LinearRun:
    """The joint optimisation loop (training and fine-tuning)."""

    def __init__(self, problem: LinearProblem, dataset: Dataset, options: tr.TrainOptions,
                 rng: np.random.Generator, history: tr.History, bar):
        self.layout, self.head, self.options, self.rng = problem.layout, problem.head, options, rng
        self.min_decay, self.history, self.bar = problem.min_decay, history, bar
        self.train_spec = problem.spectra.subset(problem.train_idx)
        self.val_spec = problem.spectra.subset(problem.val_idx)
        self.y_train, self.y_val = dataset.labels[problem.train_idx], dataset.labels[problem.val_idx]
        self.boards = tr.run_boards(problem.layout, options)
        self.rejected = 0

    def evaluate(self, theta: np.ndarray, rho: np.ndarray, factors: np.ndarray | None = None) -> layer.LayerEvaluation:
        return layer.objective(theta, rho, self.layout, self.head, self.train_spec, self.y_train,
                               self.options.group_lasso, self.options.l1,
                               (self.min_decay, tr.PENALTY_START * self.min_decay), factors)

    def optimise(self, theta: np.ndarray, rho: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
        opt = self.options
        adam = tr.Adam(theta.size + rho.size)
        for step in range(steps):
            lr = opt.lr * (tr.LR_FLOOR + (1 - tr.LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1))))
            ev = worst(lambda f: self.evaluate(theta, rho, f), self.boards.factors(self.rng))
            self._record(ev, rho)
            delta = adam.step(np.concatenate([ev.grad_net, ev.grad_layer]), lr)
            theta, rho = self._guarded_step(theta, rho, delta, adam)
        return theta, rho

    def _guarded_step(self, theta, rho, delta, adam):
        for _ in range(tr.MAX_HALVINGS + 1):
            trial = theta - delta[: theta.size]
            if fd.decay_rate(self.layout.values(trial), self.layout) >= self.min_decay:
                return trial, rho - delta[theta.size :]
            delta = delta / 2
        self.rejected += 1
        adam.reset()
        return theta, rho

    def _record(self, ev: layer.LayerEvaluation, rho: np.ndarray) -> None:
        h = self.history
        h.loss.append(ev.loss)
        h.train_acc.append(logistic.accuracy(ev.scores, self.y_train))
        val = (logistic.accuracy(layer.scores_of(ev.response, rho, self.head, self.val_spec), self.y_val)
               if self.y_val.size else math.nan)
        h.val_acc.append(val)
        self.bar.set_postfix(loss=f"{ev.loss:.3f}", train=f"{h.train_acc[-1]:.2f}", val=f"{val:.2f}", refresh=False)
        self.bar.update()


def _prune_features(head: layer.Head, rho: np.ndarray, max_features: int | None) -> layer.Head:
    """The head with only the ``max_features`` features of largest column norm of A unmasked."""
    if max_features is None or max_features >= head.n_features:
        return head
    norms = np.linalg.norm(head.unpack(rho).weights, axis=0)
    keep = np.zeros(head.n_features, bool)
    keep[np.argsort(-norms, kind="stable")[:max_features]] = True
    return head.with_mask(keep & head.mask)


def train_linear(dataset: Dataset, options: tr.TrainOptions, progress: bool = True) -> tr.TrainResult:
    """Train network and layer (see the module docstring); the model passes ``validate_model``
    and ``check_stable``. Raises UsageError for options that cannot work with the dataset."""
    started = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    problem = prepare_linear(dataset, options, rng)
    history = tr.History()
    tune = options.max_couplings is not None or options.max_features is not None
    total = options.steps + (options.fine_tune_steps if tune else 0)
    bar = tqdm(total=total, desc="training", unit="step", disable=not progress, leave=False)
    run = _LinearRun(problem, dataset, options, rng, history, bar)
    theta, rho = run.optimise(problem.theta, problem.rho, options.steps)
    theta, run.layout = tr._prune(theta, run.layout, options.max_couplings)
    theta = tr._restore_decay(theta, run.layout, problem.min_decay)
    if tune:
        run.head = _prune_features(run.head, rho, options.max_features)
        history.fine_tune_start = len(history.loss)
        theta, rho = run.optimise(theta, rho, options.fine_tune_steps)
    bar.close()
    freq = layer.data_loss(run.layout.values(theta), rho, run.layout, run.head, run.train_spec, run.y_train, 0.0)
    freq_val = (logistic.accuracy(layer.scores_of(freq.response, rho, run.head, run.val_spec), run.y_val)
                if run.y_val.size else math.nan)
    network = network_model(run.layout, theta, dataset, options, problem)
    model, time_metrics = time_domain_layer(network, dataset, problem, options, progress)
    validate_model(model)
    reference.check_stable(model)
    metrics = {
        "train_seconds": time.perf_counter() - started,
        "train_clips": int(problem.train_idx.size),
        "val_clips": int(problem.val_idx.size),
        "train_accuracy_freq": logistic.accuracy(freq.scores, run.y_train),
        "val_accuracy_freq": freq_val,
        **time_metrics,
        "rejected_steps": run.rejected,
        "resonators": len(model.resonators),
        "couplings": len(model.couplings),
        "stability_margin_per_s": reference.stability_margin(model)[0],
        "frequency_nodes": int(problem.spectra.freqs_hz.size),
    }
    return tr.TrainResult(model, history, metrics)


def network_model(layout: fd.Layout, theta: np.ndarray, dataset: Dataset, options: tr.TrainOptions,
                  problem: LinearProblem) -> Model:
    """The trained network as a Model with an empty linear readout over the window."""
    model = tr.build_model(layout, layout.values(theta), dataset, options, problem.band, problem.window)
    return dataclasses.replace(model, readout=Readout(LINEAR, *problem.window, segments=problem.boundaries,
                                                      floor=problem.head.floor))


@dataclasses.dataclass(frozen=True, eq=False)  # holds arrays, which have no boolean ==
class ExactFeatures:
    """Exact φ (clips × features, f = k·N + i) of the training and validation clips."""

    train: np.ndarray
    val: np.ndarray


def exact_features(network: Model, dataset: Dataset, problem: LinearProblem, progress: bool) -> ExactFeatures:
    """φ = ln(MS + ε) of every resonator over every segment, exact (time domain)."""
    system = seg.velocity_system(network)
    idx = np.concatenate([problem.train_idx, problem.val_idx])
    with tqdm(total=idx.size, desc="exact features", unit="clip", disable=not progress, leave=False) as bar:
        ms = seg.segment_mean_squares(system, dataset.signals[idx], dataset.sample_rate_hz, problem.boundaries, bar)
    phi = layer.log_features(ms, problem.head.floor)
    return ExactFeatures(phi[: problem.train_idx.size], phi[problem.train_idx.size :])


def readout_l2(options: tr.TrainOptions, z: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """``options.readout_l2``, or when None the one cross-validation picks on (z, labels)."""
    if options.readout_l2 is not None:
        return options.readout_l2
    return logistic.choose_l2(z, labels, n_classes, options.seed)


def time_domain_layer(network: Model, dataset: Dataset, problem: LinearProblem, options: tr.TrainOptions,
                      progress: bool) -> tuple[Model, dict]:
    """Stage 4: select detectors and refit the layer on exact features; the final model."""
    started = time.perf_counter()
    feats = exact_features(network, dataset, problem, progress)
    y_train, y_val = dataset.labels[problem.train_idx], dataset.labels[problem.val_idx]
    n_cls = len(dataset.classes)
    mean, std = feats.train.mean(axis=0), np.maximum(feats.train.std(axis=0), layer.MIN_STD)
    z_train = (feats.train - mean) / std
    n_feat = z_train.shape[1]
    l2 = readout_l2(options, z_train, y_train, n_cls)
    chosen = list(range(n_feat))
    if options.max_features is not None and options.max_features < n_feat:
        chosen = sorted(logistic.graft(z_train, y_train, n_cls, options.max_features, l2))
        l2 = readout_l2(options, z_train[:, chosen], y_train, n_cls)
    fit = logistic.fit(z_train[:, chosen], y_train, n_cls, l2)
    weights = fit.weights / std[chosen]
    raw = logistic.LinearScores(weights, fit.bias - weights @ mean[chosen])
    model = with_layer(network, chosen, raw, dataset, problem.head.n_resonators)
    metrics = {
        "train_accuracy_time": logistic.accuracy(raw.scores(feats.train[:, chosen]), y_train),
        "val_accuracy_time": logistic.accuracy(raw.scores(feats.val[:, chosen]), y_val) if y_val.size else math.nan,
        "features": len(chosen),
        "segments": len(problem.boundaries) - 1,
        "segments_auto": bool(problem.segment_losses),
        "floor": problem.head.floor,
        "readout_l2": l2,
        "time_domain_seconds": time.perf_counter() - started,
    }
    return model, metrics


def with_layer(network: Model, chosen: list[int], layer_scores: logistic.LinearScores, dataset: Dataset,
               n_resonators: int) -> Model:
    """``network`` with the linear readout over features ``chosen`` (f = k·N + i), named f0…,
    classes from the dataset, and without resonators that no read one is coupled to."""
    names = [r.name for r in network.resonators]
    features = tuple(Feature(f"f{m}", names[f % n_resonators], f // n_resonators) for m, f in enumerate(chosen))
    classes = tuple(ClassScore(cls, float(b), tuple((feat.name, float(w)) for feat, w in zip(features, row)))
                    for cls, b, row in zip(tr.class_identifiers(dataset.classes), layer_scores.bias,
                                           layer_scores.weights))
    model = dataclasses.replace(network, readout=dataclasses.replace(network.readout, features=features,
                                                                     classes=classes))
    return drop_unread(model)


def drop_unread(model: Model) -> Model:
    """``model`` without the resonators (and their couplings and drives) that have no coupling path
    to a resonator its readout reads: they cannot move any read velocity."""
    reached = set(model.read_nodes)
    frontier = list(reached)
    neighbours: dict[str, set[str]] = {}
    for c in model.couplings:
        neighbours.setdefault(c.a, set()).add(c.b)
        neighbours.setdefault(c.b, set()).add(c.a)
    while frontier:
        for other in neighbours.get(frontier.pop(), ()):
            if other not in reached:
                reached.add(other)
                frontier.append(other)
    if len(reached) == len(model.resonators) or any(not reached & {n for n, _ in i.drives} for i in model.inputs):
        return model  # nothing to drop, or an input would drive nothing (the model needs every input)
    inputs = tuple(dataclasses.replace(i, drives=tuple((n, w) for n, w in i.drives if n in reached))
                   for i in model.inputs)
    return dataclasses.replace(model, resonators=tuple(r for r in model.resonators if r.name in reached),
                               couplings=tuple(c for c in model.couplings if c.a in reached),
                               inputs=inputs)
