"""Synthetic rolling-bearing vibration dataset (McFadden-Smith model of a localised defect).

One command builds it (seeded, offline, a few seconds):

    python examples/bearing/make_dataset.py                    # -> examples/bearing/data
    python examples/bearing/make_dataset.py --out /tmp/brg --per-class 10 --rate 8000

Output: one sub-folder per class (normal, outer_race, inner_race, ball) of mono float32 WAV clips
of accelerometer signal, plus ``dataset.json`` (classes, rate, duration, the bearing geometry
and its characteristic frequencies, every parameter, the seed, the generator version and each
clip's drawn parameters).  The model and its references are in README.md beside this file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dataset_io import (  # noqa: E402
    add_common_arguments,
    clips_by_class,
    manifest_header,
    write_dataset,
)

GENERATOR = "examples/bearing/make_dataset.py"
GENERATOR_VERSION = "1.1.0"
HERE = Path(__file__).resolve().parent
#: The shifted condition: the shaft slower under a heavier load (every defect frequency 4-9 %
#: lower) and the sensor mounted elsewhere (the structural resonance it sees 13 % higher).
SHIFTED = {"rpm": (1640.0, 1700.0), "resonance": 3400.0}
CLASSES = ["normal", "outer_race", "inner_race", "ball"]

# SKF 6205-2RS JEM deep-groove ball bearing (the CWRU drive-end bearing)
BEARING = {"name": "SKF 6205-2RS", "balls": 9, "ball_diameter_mm": 7.94,
           "pitch_diameter_mm": 39.04, "contact_angle_deg": 0.0}
PAD_S = 0.05  # synthesised before the clip so that earlier impulses ring into it


def characteristic_orders(b: dict = BEARING) -> dict[str, float]:
    """Defect frequencies as multiples of the shaft frequency f_r (outer race fixed)."""
    n, r = b["balls"], b["ball_diameter_mm"] / b["pitch_diameter_mm"]
    c = r * np.cos(np.radians(b["contact_angle_deg"]))
    return {"BPFO": n / 2 * (1 - c), "BPFI": n / 2 * (1 + c),
            "BSF": 1 / (2 * r) * (1 - c * c), "FTF": (1 - c) / 2}


ORDERS = characteristic_orders()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common_arguments(p, HERE, duration=0.5, rate=12000, rate_help="sample rate in Hz (CWRU: 12 kHz)",
                         per_class_help="clips per class")
    p.add_argument("--rpm", type=float, nargs=2, default=(1730.0, 1797.0), metavar=("MIN", "MAX"),
                   help="range of the shaft speed of a clip (CWRU rig: 1730-1797 rpm)")
    p.add_argument("--resonance", type=float, default=3000.0,
                   help="structural resonance excited by the impacts, Hz (drawn within +-5%%)")
    p.add_argument("--slip", type=float, nargs=2, default=(0.01, 0.02), metavar=("MIN", "MAX"),
                   help="range of the random jitter of the impact times, fraction of the period")
    p.add_argument("--snr", type=float, nargs=2, default=(0.0, 10.0), metavar=("MIN", "MAX"),
                   help="range of the SNR of the added Gaussian noise, dB")
    a = p.parse_args(argv)
    if a.condition == "shifted":
        a.rpm, a.resonance = SHIFTED["rpm"], SHIFTED["resonance"]
    if a.per_class < 1 or a.duration <= 0.05:
        p.error("need --per-class >= 1 and --duration > 0.05 s")
    if a.rate < 2.3 * 1.05 * a.resonance:
        p.error(f"--rate {a.rate} Hz is too low for a {a.resonance:g} Hz resonance "
                f"(need >= {2.3 * 1.05 * a.resonance:.0f} Hz)")
    if not 0 < a.rpm[0] <= a.rpm[1]:
        p.error("need 0 < rpm MIN <= MAX")
    return a


# ----------------------------------------------------------------------------------- pieces


def load_distribution(theta: np.ndarray, eps: float, n: float = 1.5) -> np.ndarray:
    """Stribeck load distribution q(theta)/q0 = (1 - (1 - cos theta)/(2 eps))^n inside the load
    zone, 0 outside (n = 3/2 for ball bearings; theta = 0 at the centre of the load zone)."""
    base = 1 - (1 - np.cos(theta)) / (2 * eps)
    return np.where(base > 0, np.abs(base) ** n, 0.0)


def impact_times(rng: np.random.Generator, t: np.ndarray, rate_hz: np.ndarray,
                 jitter: float) -> np.ndarray:
    """Times at which the defect phase (integral of rate_hz) passes an integer, each jittered by
    a Gaussian fraction of the local period: the rolling elements slip, so the impacts are not
    exactly periodic (cyclostationary signal, Antoni & Randall)."""
    phase = np.concatenate([[0.0], np.cumsum(rate_hz[1:] * np.diff(t))]) + rng.uniform(0, 1)
    k = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    tk = np.interp(k, phase, t)
    period = 1 / np.interp(tk, t, rate_hz)
    return tk + jitter * period * rng.standard_normal(tk.size)


def ring(t: np.ndarray, tk: np.ndarray, amp: np.ndarray, fn: float, zeta: float) -> np.ndarray:
    """Sum over impacts of amp_k * exp(-zeta wn tau) sin(wd tau), tau = t - t_k >= 0."""
    fs = 1 / (t[1] - t[0])
    wn = 2 * np.pi * fn
    wd = wn * np.sqrt(1 - zeta ** 2)
    length = int(12 / (zeta * wn) * fs)  # 12 time constants: < 1e-5 left
    y = np.zeros(t.size + length)
    lag = np.arange(length)
    for tkk, a in zip(tk, amp):
        i0 = int(np.ceil((tkk - t[0]) * fs))
        if i0 >= t.size or i0 + length <= 0:
            continue
        tau = t[0] + (i0 + lag) / fs - tkk
        seg = a * np.exp(-zeta * wn * tau) * np.sin(wd * tau)
        lo = max(0, -i0)
        y[i0 + lo:i0 + length] += seg[lo:]
    return y[:t.size]


def slow_fluctuation(rng: np.random.Generator, n: int, fs: float, peak: float) -> np.ndarray:
    sos = signal.butter(2, 3.0, fs=fs, output="sos")
    d = signal.sosfilt(sos, rng.standard_normal(n + int(fs)))[int(fs):]
    d -= d.mean()
    return d * peak / max(np.abs(d).max(), 1e-12)


# ------------------------------------------------------------------------------------ a clip


def make_clip(cls: str, rng: np.random.Generator, args: argparse.Namespace
              ) -> tuple[np.ndarray, dict]:
    fs = args.rate
    n = int(round(args.duration * fs))
    pad = int(PAD_S * fs)
    t = (np.arange(n + pad) - pad) / fs
    rpm = rng.uniform(*args.rpm)
    fr = rpm / 60 * (1 + slow_fluctuation(rng, t.size, fs, rng.uniform(0.001, 0.005)))
    shaft_angle = 2 * np.pi * np.concatenate([[0.0], np.cumsum(fr[1:] * np.diff(t))]) \
        + rng.uniform(0, 2 * np.pi)
    fn = args.resonance * rng.uniform(0.95, 1.05)
    zeta = rng.uniform(0.04, 0.06)
    f_mean = rpm / 60
    p: dict = {"rpm": round(rpm, 2), "shaft_hz": round(f_mean, 4),
               **{k.lower() + "_hz": round(v * f_mean, 3) for k, v in ORDERS.items()},
               "resonance_hz": round(fn, 1), "zeta": round(zeta, 4)}

    # shaft-synchronous vibration in every class: imbalance (1x), misalignment (2x), looseness (3x)
    a1 = rng.uniform(0.02, 0.06)
    x = a1 * np.cos(shaft_angle)
    for h, rel in ((2, rng.uniform(0.2, 0.6)), (3, rng.uniform(0.05, 0.3))):
        x += a1 * rel * np.cos(h * shaft_angle + rng.uniform(0, 2 * np.pi))
    # distributed roughness (healthy races): random, unsynchronised excitation of the resonance
    rough = signal.lfilter(*signal.iirpeak(fn, 1 / (2 * zeta), fs), rng.standard_normal(t.size))
    x += rng.uniform(0.003, 0.015) * rough / rough.std()

    eps = rng.uniform(0.3, 0.5)  # load-zone extent: +-arccos(1 - 2 eps) = +-66..90 deg
    jitter = rng.uniform(*args.slip)
    if cls == "normal":
        pass
    elif cls == "outer_race":
        # the defect is stationary (in the load zone): constant-amplitude impacts at BPFO
        tk = impact_times(rng, t, ORDERS["BPFO"] * fr, jitter)
        amp = rng.uniform(0.3, 1.5) * (1 + 0.1 * rng.standard_normal(tk.size))
        x += ring(t, tk, amp, fn, zeta)
        p.update(defect_hz=p["bpfo_hz"], severity_g=round(float(amp.mean()), 4))
    elif cls == "inner_race":
        # the defect turns with the shaft: impacts at BPFI, modulated at f_r by the load zone
        tk = impact_times(rng, t, ORDERS["BPFI"] * fr, jitter)
        ang = np.interp(tk, t, shaft_angle)
        a0 = rng.uniform(0.3, 1.5)
        amp = a0 * (0.1 + 0.9 * load_distribution(ang, eps)) \
            * (1 + 0.1 * rng.standard_normal(tk.size))
        x += ring(t, tk, amp, fn, zeta)
        p.update(defect_hz=p["bpfi_hz"], severity_g=round(a0, 4))
    elif cls == "ball":
        # a ball defect strikes both races once per ball spin (2 x BSF), alternately inner
        # (weaker path) and outer; it is carried through the load zone at the cage speed FTF,
        # and the spin axis wanders, so impacts vary more from one to the next
        tk = impact_times(rng, t, 2 * ORDERS["BSF"] * fr, jitter)
        cage = np.interp(tk, t, shaft_angle) * ORDERS["FTF"] + rng.uniform(0, 2 * np.pi)
        a0 = rng.uniform(0.2, 0.8)
        race = np.where(np.arange(tk.size) % 2 == 0, 1.0, rng.uniform(0.4, 0.8))
        amp = a0 * race * (0.1 + 0.9 * load_distribution(cage, eps)) \
            * np.clip(1 + 0.3 * rng.standard_normal(tk.size), 0, None)
        x += ring(t, tk, amp, fn, zeta)
        p.update(defect_hz=round(2 * p["bsf_hz"], 3), severity_g=round(a0, 4))
    else:
        raise ValueError(cls)

    x = x[pad:]
    snr = rng.uniform(*args.snr)
    x = x + rng.standard_normal(n) * np.sqrt(np.mean(x ** 2)) * 10 ** (-snr / 20)
    gain = 0.1 * 10 ** (rng.uniform(-6, 6) / 20)  # sensor sensitivity / mounting: levels vary
    y = gain * x / np.sqrt(np.mean(x ** 2))
    if np.abs(y).max() > 0.99:
        y *= 0.99 / np.abs(y).max()
    p.update(load_zone_eps=round(eps, 4), slip_jitter=round(jitter, 4), snr_db=round(snr, 2),
             shaft_1x_g=round(a1, 4))
    return y.astype(np.float32), p


# ----------------------------------------------------------------------------------- output


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    out: Path = args.out
    clips = clips_by_class(CLASSES, args, make_clip)
    manifest = {
        **manifest_header("bearing-faults-synthetic", GENERATOR, GENERATOR_VERSION, CLASSES, args),
        "bearing": BEARING,
        "orders_of_shaft_frequency": {k: round(float(v), 5) for k, v in ORDERS.items()},
        "parameters": {"rpm": list(args.rpm), "resonance_hz": args.resonance,
                       "resonance_spread": 0.05, "zeta": [0.04, 0.06],
                       "slip_jitter": list(args.slip),
                       "snr_db": list(args.snr), "load_exponent": 1.5, "load_zone_eps": [0.3, 0.5],
                       "rms_level": 0.1, "level_spread_db": 6},
        "licence": "MIT (synthetic data produced by this project's generator)",
    }
    files, centroids, size = write_dataset(out, args.rate, clips, manifest, CLASSES)
    print(f"wrote {len(files)} clips ({len(CLASSES)} classes x {args.per_class}, "
          f"{args.duration} s at {args.rate} Hz, seed {args.seed}) and dataset.json to {out} "
          f"({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")
    o = {k: round(v * np.mean(args.rpm) / 60, 1) for k, v in ORDERS.items()}
    print(f"  {BEARING['name']} at {np.mean(args.rpm):.0f} rpm: BPFO {o['BPFO']} Hz, "
          f"BPFI {o['BPFI']} Hz, BSF {o['BSF']} Hz, FTF {o['FTF']} Hz")
    for cls in CLASSES:
        print(f"  {cls:11s} mean spectral centroid {centroids[cls]:7.1f} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
