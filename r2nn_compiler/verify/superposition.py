"""Verification by superposition: one ngspice run of unit hats, every clip by FFT convolution.

At a fixed step ``h = Ts/k`` the trapezoidal rule applied to a linear deck is a linear
time-invariant discrete system once ngspice's first, shorter steps are behind it; an input
linear between samples is a sum of hats, one per sample. So ngspice's traces of any clip are
the superposition of its responses to one hat per input: sample 0's its own (half a hat from
the zero state), every later one the response to a hat after the first steps, shifted
(:class:`kernel_cache.Kernel`; two copies per input in one ngspice run). Outputs are
superposed at the sample times and op-amp outputs on ngspice's own time grid (for their peaks:
``verify.headroom``), by FFT convolution, a chunk of clips at a time. Why it is exact, the kernel's length and what falls
back to direct runs: docs/verify.md, "Superposition".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.fft

from . import kernel_cache
from .transient_run import RunTraces, simulate_run
from .kernel_cache import Kernel, KernelKey

METHODS = ("auto", "direct", "superposition")

#: ngspice's first steps (h/100 doubling up to h) end within this many steps of t = 0.
STARTUP_STEPS = 3
#: The kernel is cut where the slowest pole has decayed to this fraction of the accuracy target.
TAIL_FRACTION = 1e-2
#: Spot checks fail when direct and superposed traces differ by more than this share of the
#: NRMSE limit (their NRMSE, one against the other).
SPOT_SHARE = 0.1
#: Clips convolved at a time (bounds the work arrays).
CHUNK = 16
#: Clips superposed and scored at a time (bounds the arrays of all clips' traces, inputs and
#: reference outputs that exist only while scoring; each result keeps its own traces).
SCORE_CHUNK = 256
#: Sample 1's own hat response runs over the whole kernel up to this many samples, else over
#: HAT1_SHARE of it (at least this many), and is continued by the shifted regular response once
#: the two differ by at most HAT1_TAIL of its peak at the window's end (build_kernel).
HAT1_WHOLE_BELOW = 1024
HAT1_SHARE = 0.25
HAT1_TAIL = 1e-8
#: A pole whose residue on every port is below this share of the port's largest is not seen
#: there (rounding: a hardware deck's charge modes come out near 1e-28) and sets no kernel length.
INVISIBLE = 1e-12


class SuperpositionUnavailable(Exception):
    """Superposition cannot or should not be used; the message says why (then: direct runs)."""


@dataclass
class KernelRecord:
    """One kernel as the report states it (times in circuit s, rates in model Hz)."""

    rate_hz: float
    step_s: float
    substeps: int
    samples: int
    kernel_s: float
    cached: bool
    predicted_nrmse: float = 0.0

    def to_json(self) -> dict:
        return {"rate_hz": self.rate_hz, "step_s": self.step_s, "substeps": self.substeps,
                "kernel_samples": self.samples, "kernel_s": self.kernel_s, "cached": self.cached,
                "predicted_nrmse": self.predicted_nrmse}


@dataclass
class SpotCheck:
    """Clips run directly next to their superposed traces: ``difference`` the largest NRMSE of
    the superposed traces against the direct ones (any clip, any port), ``limit`` what it may
    be; ``peak_difference`` the largest relative difference of an op-amp peak (or None)."""

    paths: list[str]
    difference: float
    limit: float
    peak_difference: float | None = None

    @property
    def passed(self) -> bool:
        return self.difference <= self.limit

    def to_json(self) -> dict:
        return {"clips": self.paths, "difference": self.difference, "limit": self.limit,
                "difference_vs_nrmse_limit": self.difference / self.limit * SPOT_SHARE if self.limit else None,
                "opamp_peak_difference": self.peak_difference, "passed": self.passed}


@dataclass
class Method:
    """How transients are simulated: ``requested`` one of METHODS; after the run ``used`` is
    ``direct`` or ``superposition``, ``reason`` why (auto, fallback), ``kernels`` and ``spot``
    the proof. ``cache`` the deck directory whose kernels are cached beside it (None: none)."""

    requested: str = "auto"
    spot_checks: int = 2
    cache: Path | None = None
    spot_limit: float = 0.0  # 0: SPOT_SHARE of the NRMSE limit (verify_deck sets it)
    used: str = ""
    reason: str | None = None
    fallback: bool = False
    kernels: list[KernelRecord] = field(default_factory=list)
    spot: list[SpotCheck] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"requested": self.requested, "used": self.used or self.requested, "reason": self.reason,
                "fallback": self.fallback, "spot_checks": self.spot_checks,
                "kernels": [k.to_json() for k in self.kernels], "spot": [s.to_json() for s in self.spot]}


def check_method(method: str, spot_checks: int) -> None:
    """Raises ValueError for an unknown method or a negative number of spot checks."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: expected one of {', '.join(METHODS)}")
    if not (isinstance(spot_checks, int) and spot_checks >= 0):
        raise ValueError(f"must be a whole number ≥ 0, got {spot_checks!r}")


def regular_hat(substeps: int) -> int:
    """The first sample whose hat rises after ngspice's first steps (2 for ``substeps`` ≥ 3):
    its response, shifted, stands for every later sample's (and for sample 1's: see
    :func:`build_kernel`)."""
    return 1 + math.ceil(STARTUP_STEPS / substeps)


def kernel_samples(A: np.ndarray, sample_period_s: float, accuracy: float, longest: int,
                   B: np.ndarray | None = None, C: np.ndarray | None = None) -> int:
    """Samples of the kernel: until the slowest pole of ``A`` (1/s) decays to TAIL_FRACTION of
    ``accuracy``, at most ``longest`` (the longest clip: then nothing is cut at all). With the
    input and output matrices ``B`` and ``C``, poles that do not reach any port from any input
    are left out (:func:`visible_decays`: a hardware deck's series capacitors hold charge
    modes of no decay that no port sees)."""
    decays = visible_decays(A, B, C) if B is not None and C is not None else -np.linalg.eigvals(A).real
    decay = float(np.min(decays)) if decays.size else math.inf
    if not decay > 0:
        return longest
    needed = math.ceil(math.log(1 / (TAIL_FRACTION * accuracy)) / (decay * sample_period_s)) + 1
    return max(1, min(longest, needed))


def visible_decays(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    """−Re λ (1/s) of the poles of (A, B, C) whose residue |C v|·|w B| (v, w the right and left
    eigenvectors) on some port and input exceeds INVISIBLE of that port's largest. Rounding in
    ill-conditioned eigenvectors (a cluster of charge modes) can only make a residue look
    larger, so a pole is left out only when it is not seen; every pole when V is singular."""
    if not A.size:
        return np.zeros(0)
    lam, V = np.linalg.eig(A)
    try:
        left = np.linalg.solve(V, B)
    except np.linalg.LinAlgError:
        return -lam.real
    residue = np.abs(C @ V)[:, :, None] * np.abs(left)[None, :, :]  # ports × poles × inputs
    largest = residue.max(axis=(1, 2), keepdims=True)
    seen = np.any(residue > INVISIBLE * np.where(largest > 0, largest, np.inf), axis=(0, 2))
    return -lam.real[seen]


def kernel_work(n_inputs: int, samples: int) -> int:
    """ngspice's work (copies × samples) of a kernel of ``samples``: sample 0's and the regular
    hat over the whole kernel, sample 1's over its window (:func:`hat1_window`), per input."""
    return n_inputs * (2 * (samples + regular_hat(STARTUP_STEPS) + 1) + hat1_window(samples) + 2)


def hat1_window(samples: int) -> int:
    """Samples over which sample 1's own response is run (the whole kernel when it is short)."""
    return samples if samples <= HAT1_WHOLE_BELOW else max(HAT1_WHOLE_BELOW, math.ceil(HAT1_SHARE * samples))


def hat_inputs(n_inputs: int, at: int, samples: int) -> np.ndarray:
    """Copies × inputs × samples: copy i a unit hat at sample ``at`` of input i."""
    u = np.zeros((n_inputs, n_inputs, samples))
    u[np.arange(n_inputs), np.arange(n_inputs), at] = 1.0
    return u


@dataclass
class _HatRuns:
    """ngspice's answers to the kernel's three hat runs (each: one copy per input)."""

    own0: RunTraces  # sample 0's hat, over the kernel and ``at`` + 1 samples more
    regular: RunTraces  # the regular hat at sample ``at``, as long
    own1: RunTraces  # sample 1's hat, over its window and 2 samples more
    at: int
    window: int


def hat_runs(run, substeps: int, samples: int) -> list:
    """The kernel's three ngspice runs for ``run``'s settings at ``substeps`` steps per sample
    (one copy per input each; :func:`assemble_kernel` says what each is for): sample 0's hat and
    the regular hat over the kernel and ``at`` + 1 samples more, sample 1's hat over its window
    (:func:`hat1_window`) and 2 samples more (each runs past its last needed sample: the last
    step is cut to end on the stop time)."""
    n_in, at, window = run.system.B.shape[1], regular_hat(substeps), hat1_window(samples)
    hats = [hat_inputs(n_in, 0, samples + at + 1), hat_inputs(n_in, at, samples + at + 1),
            hat_inputs(n_in, 1, window + 2)]
    return [replace(run, inputs=u, substeps=substeps, keep_grid=bool(run.opamps)) for u in hats]


def build_kernel(run, substeps: int, samples: int, executor) -> Kernel:
    """The kernel of ``run``'s settings: its :func:`hat_runs` sent to the executor's workers at
    once, then :func:`assemble_kernel`."""
    return assemble_kernel(run, substeps, samples, list(executor.map(simulate_run, hat_runs(run, substeps, samples))))


def assemble_kernel(run, substeps: int, samples: int, answers: list[RunTraces]) -> Kernel:
    """ngspice's hat responses (``answers`` to :func:`hat_runs`, in order) for ``run``'s settings
    (a ``verify.run.TransientRun`` with its sample period set) at ``substeps`` steps per sample,
    as a kernel of prefix ``at`` = :func:`regular_hat` (2 for ``substeps`` ≥ 3): sample 0's own
    response (half a hat from the zero state); the regular hat's (at sample ``at``, after
    ngspice's first steps), shifted, for samples 2 … ``at`` and every later one; and for sample
    1, whose rising edge shares the first steps, its own response over a window
    (:func:`hat1_window`), the shifted regular one after it once the two agree to HAT1_TAIL of
    its peak at the window's end, else its own over the whole kernel (one more run, here).
    Raises SuperpositionUnavailable when ngspice's grid is not regular before the regular hat
    rises. Measurements: docs/verify.md, "Superposition"."""
    n_in, at, window = run.system.B.shape[1], regular_hat(substeps), hat1_window(samples)
    runs = _HatRuns(*answers, at, window)
    reg = runs.regular.outputs
    hat1 = _splice(reg[..., at - 1 : at - 1 + samples], runs.own1.outputs[..., :window])
    if hat1 is None:  # sample 1's own response has not met the shifted one by the window's end
        runs.own1, runs.window = simulate_run(replace(run, inputs=hat_inputs(n_in, 1, samples + 2),
                                                      substeps=substeps, keep_grid=bool(run.opamps))), samples
        hat1 = runs.own1.outputs[..., :samples]
    outputs = np.stack([runs.own0.outputs[..., :samples], hat1]
                       + [reg[..., at - j : at - j + samples] for j in range(2, at + 1)], axis=1)
    if not run.opamps:
        return Kernel(outputs, np.zeros((n_in, at + 1, 0, 0)), np.zeros(0), 0, at, substeps, run.sample_period_s)
    return _with_opamps(run, outputs, runs, substeps, samples)


def _splice(shifted: np.ndarray, own: np.ndarray) -> np.ndarray | None:
    """``shifted`` (the regular response moved to sample 1) with its head replaced by ``own``
    (sample 1's own, over a window); None when they still differ at the window's end by more
    than HAT1_TAIL of the regular response's peak (its last tenth compared)."""
    window = own.shape[-1]
    if window < shifted.shape[-1]:
        tail = own[..., window - max(1, window // 10):] - shifted[..., window - max(1, window // 10) : window]
        if np.max(np.abs(tail)) > HAT1_TAIL * np.max(np.abs(shifted)):
            return None
    spliced = shifted.copy()
    spliced[..., :window] = own
    return spliced


def _with_opamps(run, outputs: np.ndarray, runs: _HatRuns, substeps: int, samples: int) -> Kernel:
    """The kernel with its op-amp outputs on ngspice's grid, spliced like the outputs."""
    grid = runs.own0.grid_s
    short = runs.own1.grid_s[:-2]
    if not (np.array_equal(runs.regular.grid_s, grid) and np.array_equal(short, grid[: short.size])):
        raise SuperpositionUnavailable("ngspice's time points differ between the kernel's runs")
    h = run.sample_period_s / substeps
    regular = regular_from(grid, h)
    if grid[regular] > (runs.at - 1) * run.sample_period_s:
        raise SuperpositionUnavailable(f"ngspice's steps are not regular before sample {runs.at - 1}")
    keep = grid_points(grid, regular, h, samples, run.sample_period_s)
    reg = runs.regular.grid_opamps
    hats = [runs.own0.grid_opamps[..., :keep]] + [_shifted(reg, regular, keep, (runs.at - j) * substeps)
                                                   for j in range(1, runs.at + 1)]
    own = min(keep, grid_points(grid, regular, h, runs.window, run.sample_period_s))
    hats[1][..., :own] = runs.own1.grid_opamps[..., :own]
    return Kernel(outputs, np.stack(hats, axis=1), grid[:keep], regular, runs.at, substeps, run.sample_period_s)


def _shifted(traces: np.ndarray, regular: int, keep: int, lag: int) -> np.ndarray:
    """``traces`` on ngspice's grid moved ``lag`` points earlier, over ``keep`` points; zero
    before ``regular`` (the first steps, before any hat after sample 0 has risen much)."""
    if lag == 0:
        return traces[..., :keep].copy()
    moved = np.zeros(traces.shape[:-1] + (keep,))
    moved[..., regular:] = traces[..., regular + lag : keep + lag]
    return moved


def regular_from(grid: np.ndarray, h: float) -> int:
    """First index of ``grid`` from which every step is ``h`` (to 1e-6 of a step) up to the
    last two points (the last step is cut to the stop time)."""
    off = np.nonzero(np.abs(np.diff(grid[:-2]) - h) > 1e-6 * h)[0]
    return int(off[-1] + 1) if off.size else 0


def grid_points(grid: np.ndarray, regular: int, h: float, samples: int, sample_period_s: float) -> int:
    """How many of ngspice's time points (that grid continued regularly) a run of ``samples``
    samples has up to its last sample (the point on the stop time after a cut step aside)."""
    return regular + int(math.floor(((samples - 1) * sample_period_s - grid[regular]) / h + 1e-6)) + 1


def superpose_outputs(kernel: Kernel, u: np.ndarray) -> np.ndarray:
    """ngspice's observed ports at the sample times (clips × ports × samples, volts) for
    inputs ``u`` (clips × inputs × samples, volts), a chunk of CHUNK clips at a time."""
    clips, _, n = u.shape
    g, p, length = kernel.outputs, kernel.prefix, kernel.samples
    y = np.zeros((clips, g.shape[2], n))
    nfft = scipy.fft.next_fast_len(max(1, n - p) + length)
    spectrum = scipy.fft.rfft(g[:, p], nfft, axis=-1)  # inputs × ports × freqs
    for start in range(0, clips, CHUNK):
        part = u[start : start + CHUNK]
        lead = min(n, length)
        for j in range(min(p, n)):
            y[start : start + CHUNK, :, :lead] += np.einsum("ci,iot->cot", part[:, :, j], g[:, j, :, :lead])
        if n > p:
            v = scipy.fft.rfft(part[:, :, p:], nfft, axis=-1)
            y[start : start + CHUNK] += scipy.fft.irfft(np.einsum("cif,iof->cof", v, spectrum), nfft)[..., :n]
    return y


def opamp_peaks(kernel: Kernel, u: np.ndarray, chunk: int = 4) -> np.ndarray:
    """The largest |V| of every op-amp output over ngspice's time points of each clip (clips ×
    op-amps, volts), as ``verify.headroom`` reads it from a direct run."""
    clips, _, n = u.shape
    G, p, k = kernel.opamps, kernel.prefix, kernel.substeps
    h = kernel.sample_period_s / k
    points = grid_points(kernel.grid_s, kernel.regular_from, h, n, kernel.sample_period_s)
    length = G.shape[-1]
    nfft = scipy.fft.next_fast_len(max(1, n - p) * k + length)
    peaks = np.zeros((clips, G.shape[2]))
    for first in range(0, G.shape[2], chunk):
        ops = slice(first, first + chunk)
        spectrum = scipy.fft.rfft(G[:, p, ops], nfft, axis=-1)  # inputs × op-amps × freqs
        for c in range(clips):
            y = np.zeros((spectrum.shape[1], points))
            lead = min(points, length)
            for j in range(min(p, n)):
                y[:, :lead] += np.einsum("i,iot->ot", u[c, :, j], G[:, j, ops, :lead])
            if n > p:
                stuffed = np.zeros((u.shape[1], (n - p) * k))
                stuffed[:, ::k] = u[c, :, p:]
                v = scipy.fft.rfft(stuffed, nfft, axis=-1)
                y += scipy.fft.irfft(np.einsum("if,iof->of", v, spectrum), nfft)[:, :points]
            peaks[c, ops] = np.max(np.abs(y), axis=-1)
    return peaks


def headroom_rows(opamps: list[dict], swing_v: float, peaks: np.ndarray, instance: str = "X1") -> list[dict]:
    """Rows in ``verify.headroom.headroom``'s form from superposed peaks (volts, per op-amp)."""
    from .headroom import opamp_vectors

    return [{"designator": op["designator"], "element": op["element"], "vector": vector, "peak_v": float(peak),
             "swing_v": swing_v, "headroom_v": swing_v - float(peak), "ok": bool(peak <= swing_v)}
            for op, vector, peak in zip(opamps, opamp_vectors(opamps, instance), peaks)]


def cached_kernel(run, substeps: int, samples: int, executor, cache: Path | None) -> tuple[Kernel, bool]:
    """The kernel of ``run``'s settings from the cache beside the deck, else built and stored.
    Returns (kernel, True when it came from the cache)."""
    kernel, cached, _ = kernel_with_runs(run, substeps, samples, executor, cache, [])
    return kernel, cached


def kernel_with_runs(run, substeps: int, samples: int, executor, cache: Path | None,
                     extra: list) -> tuple[Kernel, bool, Iterator[RunTraces]]:
    """:func:`cached_kernel`, with the ``extra`` runs (direct runs of clips: the spot checks)
    sent to the executor's workers together with the kernel's own :func:`hat_runs`, queued
    after them, so that they run while the kernel is assembled and the clips are superposed and
    scored (with a cached kernel: when their traces are first read). Returns (kernel, True when
    it came from the cache, the extra runs' traces in order as they are read)."""
    from .headroom import opamp_vectors

    key = KernelKey(kernel_cache.library_digest(run.library_text), float(run.sample_period_s), int(substeps),
                    int(samples), tuple(opamp_vectors(run.opamps)))
    found = kernel_cache.load(cache, key) if cache is not None else None
    if found is not None:  # the extra runs start when their first answer is asked for (no thread
        return found, True, iter(executor.map(simulate_run, list(extra)))  # may fork beside numpy)
    hats = hat_runs(run, substeps, samples)
    answers = iter(executor.map(simulate_run, hats + list(extra)))  # all sent at the first answer
    kernel = assemble_kernel(run, substeps, samples, [next(answers) for _ in hats])
    if cache is not None:
        kernel_cache.store(cache, key, kernel)
    return kernel, False, answers


def trace_difference(direct: np.ndarray, superposed: np.ndarray) -> float:
    """Largest NRMSE of ``superposed`` against ``direct`` over ports (ports × samples each)."""
    err = np.sqrt(np.mean((superposed - direct) ** 2, axis=-1))
    scale = np.sqrt(np.mean(direct**2, axis=-1))
    return float(np.max(np.where(scale > 0, err / np.where(scale > 0, scale, 1.0), err), initial=0.0))
