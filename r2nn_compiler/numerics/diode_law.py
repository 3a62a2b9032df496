"""The passive diode cell's law: the reading of a diode charging a capacitor from a tap.

For an ideal diode (n·Vt ``nvt`` in V) into C, k = Is/(C n Vt) (``rate``, 1/s), u = e^{v_C/nvt}
obeys du/dt = k (e^{x} − u) with x = v/nvt, so from v_C = 0 at t0 the reading at t1 is

    ψ = nvt · ln(1 + k ∫_{t0}^{t1} e^{−k (t1 − t)} (e^{x(t)} − 1) dt),   x = clip(v, ±clip)/nvt.

This module is pure arithmetic on waveforms (seconds, volts): :func:`substep_integral` integrates
a waveform known at nodes with its slopes (each sub-step a cubic Hermite piece, split where it
crosses ±clip, Simpson on every piece); :func:`passive_law` and :func:`passive_law_gradient`
the law on plain samples (trapezoid), as the part library's detector cells use it
(``parts/detectors.py``). Where a model's waveforms come from, and how finely they are sampled,
is ``reference/diode.py``'s business; the accuracy argument is in ``docs/diode-law.md``.
"""

from __future__ import annotations

import math

import numpy as np

#: Largest clip/nvt: e^{clip/nvt} must stay far inside a double (e^709 overflows).
MAX_EXPONENT = 600.0
#: Sub-steps are short enough that Simpson's rule on e^{x} is accurate to about (h/σ)⁴/1000,
#: σ the width of e^{x}'s peaks: h ≤ SUBSTEP_FRACTION · σ.
SUBSTEP_FRACTION = 0.1


def substeps_per_interval(dt: float, omega_max: float, clip_over_nvt: float, cap: int = 1024,
                          fraction: float = SUBSTEP_FRACTION) -> int:
    """Sub-steps M (a power of two, 4..``cap``) per sample interval ``dt`` (s) so that a tap of
    angular frequency up to ``omega_max`` (rad/s) driven up to x = ``clip_over_nvt`` has
    h = dt/M ≤ ``fraction`` · σ, σ = 1/(ω √x) the width of e^{x}'s peaks (Simpson's
    relative error then ≈ (h/σ)⁴/1000: ≤ 1e-7 at the default fraction 0.1)."""
    sigma = 1.0 / (max(omega_max, 1e-300) * math.sqrt(max(clip_over_nvt, 1.0)))
    need = dt / (fraction * sigma)
    m = 4
    while m < need and m < cap:
        m *= 2
    return m


def _hermite(v0, v1, d0, d1, s):
    """The cubic Hermite piece through (0, v0), (1, v1) with slopes d0, d1 (per unit s) at s."""
    s2, s3 = s * s, s * s * s
    return ((2 * s3 - 3 * s2 + 1) * v0 + (s3 - 2 * s2 + s) * d0 + (-2 * s3 + 3 * s2) * v1 + (s3 - s2) * d1)


def _integrand(v, t, clip: float, nvt: float, rate: float, t_end):
    return np.exp(-rate * (t_end - t)) * np.expm1(np.clip(v, -clip, clip) / nvt)


def _crossing(v0, v1, d0, d1, level: float, iterations: int = 52) -> np.ndarray:
    """Where (s in (0, 1)) each cubic piece, with v0 and v1 on either side of ``level``, meets
    it: bisection to double precision."""
    lo, hi = np.zeros_like(v0), np.ones_like(v0)
    below0 = v0 < level
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        same = (_hermite(v0, v1, d0, d1, mid) < level) == below0
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def substep_integral(t: np.ndarray, v: np.ndarray, dv: np.ndarray, clip: float, nvt: float, rate: float,
                     t_end: float) -> np.ndarray:
    """∫_{t[0]}^{t[-1]} e^{−rate (t_end − t)} (e^{clip(v, ±clip)/nvt} − 1) dt (…,) of a waveform
    given at nodes ``t`` (n, increasing, s) by its values ``v`` (…, n; V) and slopes ``dv``
    (…, n; V/s): each sub-step is the cubic Hermite piece of its end values and slopes; Simpson's
    rule on it, or, where it crosses ±clip, on each side of the crossing (found by bisection on
    the cubic), so the clip's kink costs no accuracy. Preconditions: clip, nvt > 0,
    clip/nvt ≤ MAX_EXPONENT."""
    h = np.diff(t)
    v0, v1 = v[..., :-1], v[..., 1:]
    d0, d1 = dv[..., :-1] * h, dv[..., 1:] * h
    f = _integrand(v, t, clip, nvt, rate, t_end)
    mid = _integrand(_hermite(v0, v1, d0, d1, 0.5), t[:-1] + h / 2, clip, nvt, rate, t_end)
    pieces = h / 6 * (f[..., :-1] + 4 * mid + f[..., 1:])
    for level in (clip, -clip):
        crossed = (v0 - level) * (v1 - level) < 0
        if not crossed.any():
            continue
        idx = np.nonzero(crossed)
        hh = np.broadcast_to(h, crossed.shape)[idx]
        ta = np.broadcast_to(t[:-1], crossed.shape)[idx]
        a, b, da, db = v0[idx], v1[idx], d0[idx], d1[idx]
        r = _crossing(a, b, da, db, level)
        total = np.zeros_like(a)
        for s0, s1 in ((np.zeros_like(r), r), (r, np.ones_like(r))):
            sm = (s0 + s1) / 2
            vals = [_integrand(_hermite(a, b, da, db, s), ta + s * hh, clip, nvt, rate, t_end) for s in (s0, sm, s1)]
            total += (s1 - s0) * hh / 6 * (vals[0] + 4 * vals[1] + vals[2])
        pieces[idx] = total
    return np.sum(pieces, axis=-1)


def reading(integral: np.ndarray, nvt: float, rate: float) -> np.ndarray:
    """ψ = nvt · ln(1 + rate · integral) (V) of :func:`substep_integral`'s integral."""
    return nvt * np.log1p(np.maximum(rate * np.asarray(integral, dtype=float), -1 + 1e-300))


def upsample(v: np.ndarray, dt: float, factor: int) -> tuple[np.ndarray, float]:
    """Linear interpolation of samples ``v`` (…, n) at ``factor`` points per interval."""
    n = v.shape[-1]
    t = np.arange((n - 1) * factor + 1) / factor
    return np.apply_along_axis(lambda row: np.interp(t, np.arange(n), row), -1, v), dt / factor


def passive_law(v: np.ndarray, dt: float, rate: float, nvt: float, factor: int = 8) -> np.ndarray:
    """ψ (V) of samples ``v`` (…, samples; volts, linear between samples ``dt`` apart, no clip)
    from v_C = 0: u(T) − 1 = k∫e^{−k(T−t)}(eˣ − 1)dt, evaluated on a ``factor``-times finer grid
    (trapezoid)."""
    v = np.asarray(v, dtype=float)
    fine, h = upsample(v, dt, factor) if factor > 1 else (v, dt)
    age = (fine.shape[-1] - 1 - np.arange(fine.shape[-1])) * h
    weight = np.exp(-rate * age) * h
    weight[..., [0, -1]] *= 0.5
    return reading(np.sum(np.expm1(fine / nvt) * weight, axis=-1), nvt, rate)


def passive_law_gradient(v: np.ndarray, dt: float, rate: float, nvt: float) -> tuple[np.ndarray, np.ndarray]:
    """The law on samples ``v`` (…, samples; V, trapezoid at step ``dt``, no upsampling, no
    clip) and its exact gradient ∂ψ/∂v_j (…, samples; V/V) = k·w_j·e^{x_j}/u(T), w_j the
    trapezoid weight times e^{−k(T−t_j)}."""
    v = np.asarray(v, dtype=float)
    age = (v.shape[-1] - 1 - np.arange(v.shape[-1])) * dt
    weight = np.exp(-rate * age) * dt
    weight[..., [0, -1]] *= 0.5
    ex = np.exp(v / nvt)
    u = 1 + rate * np.sum((ex - 1) * weight, axis=-1)
    return nvt * np.log(u), rate * weight * ex / u[..., None]
