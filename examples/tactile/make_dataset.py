"""Synthetic tactile-texture dataset: vibration of a probe sliding over five surfaces.

One command builds it (seeded, offline, a few seconds):

    python examples/tactile/make_dataset.py                    # -> examples/tactile/data
    python examples/tactile/make_dataset.py --out /tmp/tac --per-class 10 --seed 1

Output: one sub-folder per class of mono float32 WAV clips plus ``dataset.json`` (classes, rate,
duration, every parameter, the seed, the generator version and each clip's drawn parameters).
Classes: gratings of spatial period 0.5 mm, 1 mm and 2 mm, a rough self-affine (1/k^beta)
surface and stick-slip on rubber.  The physics and references are in README.md beside this file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import fft, signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dataset_io import (  # noqa: E402
    add_common_arguments,
    clips_by_class,
    manifest_header,
    write_dataset,
)

GENERATOR = "examples/tactile/make_dataset.py"
GENERATOR_VERSION = "1.1.0"
HERE = Path(__file__).resolve().parent

GRATINGS_MM = {"grating_0p5mm": 0.5, "grating_1mm": 1.0, "grating_2mm": 2.0}
CLASSES = [*GRATINGS_MM, "rough", "stick_slip"]
#: The shifted condition: faster sliding (grating frequencies move up by 1.4-1.8x on average)
#: pressed twice as hard (+6 dB level).
SHIFTED = {"speed": (110.0, 150.0), "level": 0.2}
OVERSAMPLE = 4  # synthesise at OVERSAMPLE x rate, then decimate (band-limits the slip edges)
PAD_S = 0.1  # extra signal synthesised before and after each clip, then cut off


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common_arguments(p, HERE, duration=0.5, rate=4000, rate_help="sample rate in Hz (>= 2500)",
                         per_class_help="clips per class")
    p.add_argument("--speed", type=float, nargs=2, default=(60.0, 110.0), metavar=("MIN", "MAX"),
                   help="range of the mean sliding speed of a clip, mm/s")
    p.add_argument("--drift", type=float, default=0.08,
                   help="largest slow speed drift within a clip, as a fraction of its mean speed")
    p.add_argument("--snr", type=float, nargs=2, default=(20.0, 30.0), metavar=("MIN", "MAX"),
                   help="range of the sensor-noise SNR, dB")
    p.add_argument("--level", type=float, default=0.1, help="median RMS level of a clip (normal force)")
    a = p.parse_args(argv)
    if a.condition == "shifted":
        a.speed, a.level = SHIFTED["speed"], SHIFTED["level"]
    if a.per_class < 1 or a.duration <= 0.05 or a.rate < 2500 or not 0 < a.level < 0.5:
        p.error("need --per-class >= 1, --duration > 0.05 s, --rate >= 2500 Hz, 0 < --level < 0.5 "
                "(the vibration band reaches 1 kHz)")
    if not 0 < a.speed[0] <= a.speed[1] or not 0 <= a.drift < 0.5:
        p.error("need 0 < speed MIN <= MAX and 0 <= --drift < 0.5")
    return a


# ----------------------------------------------------------------------------------- pieces


def speed_profile(rng: np.random.Generator, n: int, fs: float, v_mean: float,
                  drift: float) -> np.ndarray:
    """Sliding speed v(t) in mm/s: the mean times (1 + slow drift), drift low-passed at ~2 Hz."""
    if drift == 0:
        return np.full(n, v_mean)
    pad = int(fs)  # one second of run-in so the low-pass has settled
    sos = signal.butter(2, 2.0, fs=fs, output="sos")
    d = signal.sosfilt(sos, rng.standard_normal(n + pad))[pad:]
    d -= d.mean()
    d *= drift * rng.uniform(0.5, 1.0) / max(np.abs(d).max(), 1e-12)
    return v_mean * (1.0 + d)


def self_affine_profile(rng: np.random.Generator, length_mm: float, dx_mm: float, beta: float,
                        k_lo: float, k_hi: float) -> np.ndarray:
    """Random height profile h(x) with power spectral density ~ 1/k^beta for k_lo <= k <= k_hi."""
    n = fft.next_fast_len(int(np.ceil(length_mm / dx_mm)) + 2, real=True)
    k = np.fft.rfftfreq(n, dx_mm)  # cycles per mm
    amp = np.zeros_like(k)
    band = (k >= k_lo) & (k <= k_hi)
    amp[band] = k[band] ** (-beta / 2)
    spec = amp * (rng.standard_normal(k.size) + 1j * rng.standard_normal(k.size))
    h = np.fft.irfft(spec, n)
    return h / h.std()


def sample_profile(h: np.ndarray, dx_mm: float, x_mm: np.ndarray) -> np.ndarray:
    return np.interp(x_mm, np.arange(h.size) * dx_mm, h)


def contact_resonance(x: np.ndarray, fs: float, f0: float, zeta: float) -> np.ndarray:
    """Probe on its contact stiffness, base-excited by x: (w0^2 + 2 zeta w0 s)/(s^2 + 2 zeta w0 s
    + w0^2), bilinear transform with the resonance pre-warped."""
    w0 = 2 * fs * np.tan(np.pi * f0 / fs)
    b, a = signal.bilinear([2 * zeta * w0, w0 ** 2], [1.0, 2 * zeta * w0, w0 ** 2], fs)
    return signal.lfilter(b, a, x)


def sensor(excitation: np.ndarray, fs: float, f0: float, zeta: float) -> np.ndarray:
    """Probe velocity (a piezo film's output is proportional to strain rate): d/dt of the
    contact-resonance response to the effective excitation."""
    y = contact_resonance(excitation, fs, f0, zeta)
    return np.gradient(y) * fs


def unit_rms(x: np.ndarray) -> np.ndarray:
    return x / max(np.sqrt(np.mean(x ** 2)), 1e-20)


def sawtooth_force(rng: np.random.Generator, v: np.ndarray, fs: float, slip_mm: float,
                   jitter: float, active: np.ndarray) -> tuple[np.ndarray, int]:
    """Tangential force of stick-slip (a relaxation oscillation): during a stick the spring is
    loaded linearly (rate ~ v/slip length) up to a jittered static-friction threshold, then the
    slip releases it in ~1 ms.  Only where ``active``; smooth sliding (constant force) elsewhere."""
    n = v.size
    f = np.zeros(n)
    t_slip = rng.uniform(0.5e-3, 1.5e-3)
    i, events = 0, 0
    while i < n:
        if not active[i]:
            nxt = np.flatnonzero(active[i:])
            if nxt.size == 0:
                break
            i += int(nxt[0])
        period = slip_mm / v[i] * max(0.3, 1.0 + jitter * rng.standard_normal())
        stick = max(int(period * fs) - int(t_slip * fs), 2)
        peak = rng.uniform(0.7, 1.3)  # static-friction threshold varies slip to slip
        j = min(i + stick, n)
        f[i:j] = peak * np.linspace(0, 1, stick, endpoint=False)[: j - i]
        m = min(j + int(3 * t_slip * fs), n)  # slip: fast exponential release
        f[j:m] = peak * np.exp(-np.arange(m - j) / (t_slip * fs))
        events += 1
        i = m
    return f, events


def bursts(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    """Stick-slip comes in bursts: alternate active spells of 60-250 ms with quiet smooth-sliding
    gaps of 20-120 ms (starting in either state)."""
    active = np.zeros(n, bool)
    i, on = 0, rng.random() < 0.7
    while i < n:
        length = int(fs * (rng.uniform(0.06, 0.25) if on else rng.uniform(0.02, 0.12)))
        active[i:i + length] = on
        i += length
        on = not on
    return active


# ------------------------------------------------------------------------------------ a clip


def make_clip(cls: str, rng: np.random.Generator, args: argparse.Namespace
              ) -> tuple[np.ndarray, dict]:
    fs_out = args.rate
    fs = fs_out * OVERSAMPLE
    n_out = int(round(args.duration * fs_out))
    pad_out = int(PAD_S * fs_out)  # synthesised either side and cut: no filter start-up transients
    n = (n_out + 2 * pad_out) * OVERSAMPLE
    v_mean = rng.uniform(*args.speed)
    v = speed_profile(rng, n, fs, v_mean, args.drift)
    x = np.cumsum(v) / fs  # probe position, mm
    x += rng.uniform(0, 50)  # start somewhere on the surface
    f_contact = rng.uniform(250.0, 450.0)  # contact resonance of the probe, Hz
    zeta = rng.uniform(0.12, 0.25)  # strongly damped (Q ~ 2-4)
    v_clip = v[pad_out * OVERSAMPLE:(pad_out + n_out) * OVERSAMPLE]  # the part that is kept
    p: dict = {"speed_mm_s": round(float(v_clip.mean()), 3),
               "speed_min_mm_s": round(float(v_clip.min()), 3),
               "speed_max_mm_s": round(float(v_clip.max()), 3),
               "contact_resonance_hz": round(float(f_contact), 2), "contact_zeta": round(zeta, 4)}

    # micro-roughness present on every surface (the background texture noise)
    dx = 0.005  # 5 um grid (the tip passes no wavelength below ~0.1 mm)
    tip_k = 1 / rng.uniform(0.08, 0.15)  # probe-tip smoothing: no wavelengths < ~0.1 mm
    micro = sensor(sample_profile(
        self_affine_profile(rng, float(x.max()) + 1, dx, 2.0, 0.05, tip_k), dx, x),
        fs, f_contact, zeta)

    if cls in GRATINGS_MM:
        period = GRATINGS_MM[cls]
        phase = 2 * np.pi * x / period
        a2, a3 = rng.uniform(0.03, 0.12), rng.uniform(0.0, 0.06)  # rounded ridges, near-sinusoidal
        h = (np.sin(phase) + a2 * np.sin(2 * phase + rng.uniform(0, 2 * np.pi))
             + a3 * np.sin(3 * phase + rng.uniform(0, 2 * np.pi)))
        main = sensor(h, fs, f_contact, zeta)
        micro_db = rng.uniform(-25, -15)
        p.update(period_mm=period, expected_hz=round(float(v_clip.mean() / period), 2),
                 harmonic2=round(a2, 3), harmonic3=round(a3, 3))
    elif cls == "rough":
        beta = rng.uniform(1.6, 2.6)  # 1-D profile PSD exponent 1 + 2H, Hurst H ~ 0.3-0.8
        h = sample_profile(self_affine_profile(rng, float(x.max()) + 1, dx, beta, 0.05, tip_k),
                           dx, x)
        main = sensor(h, fs, f_contact, zeta)
        micro_db = rng.uniform(-25, -15)
        p.update(beta=round(beta, 3), tip_cutoff_per_mm=round(float(tip_k), 3))
    elif cls == "stick_slip":
        slip_mm = rng.uniform(0.5, 1.0)
        jitter = rng.uniform(0.08, 0.2)
        active = bursts(rng, n, fs)
        force, events = sawtooth_force(rng, v, fs, slip_mm, jitter, active)
        main = sensor(force, fs, f_contact, zeta)
        micro_db = rng.uniform(-20, -10)
        p.update(slip_length_mm=round(slip_mm, 4), period_jitter=round(jitter, 4),
                 slip_events=events, active_fraction=round(float(
                     active[pad_out * OVERSAMPLE:(pad_out + n_out) * OVERSAMPLE].mean()), 3),
                 mean_slip_rate_hz=round(float(v_clip.mean() / slip_mm), 2))
    else:
        raise ValueError(cls)

    clean = unit_rms(main) + 10 ** (micro_db / 20) * unit_rms(micro)
    clean = signal.decimate(clean, OVERSAMPLE, ftype="fir", zero_phase=True)
    clean = signal.sosfiltfilt(signal.butter(2, 20.0, "highpass", fs=fs_out, output="sos"), clean)
    clean = clean[pad_out:pad_out + n_out]
    snr = rng.uniform(*args.snr)
    noisy = clean + unit_rms(rng.standard_normal(n_out)) * np.sqrt(np.mean(clean ** 2)) \
        * 10 ** (-snr / 20)
    gain = args.level * 10 ** (rng.uniform(-6, 6) / 20)  # normal force / sensor gain: levels vary
    y = gain * unit_rms(noisy)
    if np.abs(y).max() > 0.99:
        y *= 0.99 / np.abs(y).max()
    p.update(micro_roughness_db=round(micro_db, 2), snr_db=round(snr, 2))
    return y.astype(np.float32), p


# ----------------------------------------------------------------------------------- output


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    out: Path = args.out
    clips = clips_by_class(CLASSES, args, make_clip)
    manifest = {
        **manifest_header("tactile-textures-synthetic", GENERATOR, GENERATOR_VERSION, CLASSES, args),
        "parameters": {"grating_periods_mm": GRATINGS_MM, "speed_mm_s": list(args.speed),
                       "speed_drift": args.drift, "snr_db": list(args.snr),
                       "oversample": OVERSAMPLE, "contact_resonance_hz": [250, 450],
                       "contact_zeta": [0.12, 0.25], "rms_level": args.level, "level_spread_db": 6,
                       "highpass_hz": 20},
        "licence": "MIT (synthetic data produced by this project's generator)",
    }
    files, centroids, size = write_dataset(out, args.rate, clips, manifest, CLASSES)
    print(f"wrote {len(files)} clips ({len(CLASSES)} classes x {args.per_class}, "
          f"{args.duration} s at {args.rate} Hz, seed {args.seed}) and dataset.json to {out} "
          f"({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    for cls in CLASSES:
        print(f"  {cls:14s} mean spectral centroid {centroids[cls]:7.1f} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
