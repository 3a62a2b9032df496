"""Synthetic spoken-command dataset: short words from Debian's speech synthesisers.

One command builds it (seeded, offline, tens of seconds at most; needs the Debian packages
espeak-ng and flite: ``apt-get install espeak-ng flite``):

    python examples/speech/make_dataset.py                     # -> examples/speech/data
    python examples/speech/make_dataset.py --out /tmp/sp --per-class 10 --rate 16000

Every clip is one word (default: yes, no, up, down, stop, go) said by a randomly drawn voice of
espeak-ng (8 English accents x 16 voice variants, speed and pitch varied) or flite (voices kal,
kal16, awb, rms, slt; duration and pitch varied), slightly speed/pitch-perturbed (varispeed),
resampled, centred on its energy in a fixed-length window, and mixed with coloured background
noise at a random SNR.  Output: one sub-folder per word of mono float32 WAV clips plus
``dataset.json`` (classes, rate, duration, parameters, seed, generator and synthesiser versions,
and each clip's voice and drawn parameters).  Details and licences: README.md beside this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.io import wavfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dataset_io import add_common_arguments, clip_rng, manifest_header, write_dataset  # noqa: E402

GENERATOR = "examples/speech/make_dataset.py"
GENERATOR_VERSION = "1.1.0"
HERE = Path(__file__).resolve().parent
WORDS = ["yes", "no", "up", "down", "stop", "go"]

ESPEAK_LANGS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
                "en-gb-x-gbclan", "en-gb-x-gbcwmd"]
ESPEAK_VARIANTS = [*(f"m{i}" for i in range(1, 8)), *(f"f{i}" for i in range(1, 6)),
                   "klatt", "klatt2", "klatt3", "klatt4"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]  # Debian's flite 2.2 (awb_time is not general)
#: The shifted condition: espeak-ng voices (named variants) and speaking rates no nominal clip
#: has, and flite voices spoken faster and higher than any nominal clip.
SHIFTED = {"espeak_variants": ["Andy", "Annie", "Denis", "Gene", "Lee", "Michael", "Andrea", "Jacky",
                               "Alex", "Mike", "Alicia", "Hugo"],
           "espeak_speed_wpm": (205, 260), "flite_duration_stretch": (0.6, 0.78), "flite_f0_shift": (1.22, 1.4)}
NOMINAL = {"espeak_variants": ESPEAK_VARIANTS, "espeak_speed_wpm": (120, 200),
           "flite_duration_stretch": (0.8, 1.3), "flite_f0_shift": (0.85, 1.2)}
ENGINES = {"espeak-ng": "espeak-ng", "flite": "flite"}  # engine -> Debian package
TIMEOUT_S = 30


class SynthError(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_common_arguments(p, HERE, duration=0.8, rate=8000, rate_help="sample rate in Hz",
                         per_class_help="clips per word")
    p.add_argument("--words", nargs="+", default=WORDS, help="the classes: one word each")
    p.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES),
                   help="synthesisers to use (clips alternate between them)")
    p.add_argument("--snr", type=float, nargs=2, default=(10.0, 30.0), metavar=("MIN", "MAX"),
                   help="range of the speech-to-background-noise ratio, dB")
    p.add_argument("--shift", type=float, default=0.03,
                   help="largest random offset of the word's energy centre from the clip centre, s")
    p.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1),
                   help="synthesiser processes run at once (does not change the output)")
    a = p.parse_args(argv)
    if a.per_class < 1 or a.duration < 0.2 or a.rate < 4000 or a.jobs < 1:
        p.error("need --per-class >= 1, --duration >= 0.2 s, --rate >= 4000 Hz, --jobs >= 1")
    if len(set(a.words)) != len(a.words) or not all(w.replace("'", "").isalpha() for w in a.words):
        p.error("--words must be distinct single words (letters only)")
    return a


def require_engines(engines: list[str]) -> dict[str, str]:
    """Check the synthesisers are installed; return each one's version line."""
    missing = [e for e in engines if shutil.which(e) is None]
    if missing:
        pkgs = " ".join(ENGINES[e] for e in missing)
        raise SynthError(f"speech synthesiser(s) not found on PATH: {', '.join(missing)}. "
                         f"Install the Debian package(s): apt-get install {pkgs}")
    versions = {}
    for e in engines:
        r = subprocess.run([e, "--version"], capture_output=True, text=True, timeout=TIMEOUT_S)
        lines = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
        versions[e] = next((ln for ln in lines if "version" in ln.lower()
                            or "espeak" in ln.lower()), lines[0] if lines else "unknown")
    return versions


def run(cmd: list[str]) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise SynthError(f"timed out after {TIMEOUT_S} s: {' '.join(cmd)}") from exc
    if r.returncode != 0:
        raise SynthError(f"failed (exit {r.returncode}): {' '.join(cmd)}\n{r.stderr.strip()}")


# ---------------------------------------------------------------------------------- a clip


def draw_voice(rng: np.random.Generator, engine: str, condition: str = "nominal") -> dict:
    """A voice for one clip: NOMINAL's pools and ranges, or SHIFTED's."""
    c = SHIFTED if condition == "shifted" else NOMINAL
    if engine == "espeak-ng":
        lo, hi = c["espeak_speed_wpm"]
        return {"engine": engine,
                "voice": f"{rng.choice(ESPEAK_LANGS)}+{rng.choice(c['espeak_variants'])}",
                "speed_wpm": int(rng.integers(lo, hi + 1)), "pitch": int(rng.integers(25, 76))}
    return {"engine": engine, "voice": str(rng.choice(FLITE_VOICES)),
            "duration_stretch": round(float(rng.uniform(*c["flite_duration_stretch"])), 3),
            "f0_shift": round(float(rng.uniform(*c["flite_f0_shift"])), 3)}


def synthesise(word: str, v: dict, wav: Path) -> tuple[int, np.ndarray]:
    if v["engine"] == "espeak-ng":
        run(["espeak-ng", "-v", v["voice"], "-s", str(v["speed_wpm"]), "-p", str(v["pitch"]),
             "-w", str(wav), word])
    else:  # f0_shift acts on the clustergen voices (awb, slt), not on kal or rms
        run(["flite", "-voice", v["voice"], "--setf", f"duration_stretch={v['duration_stretch']}",
             "--setf", f"f0_shift={v['f0_shift']}", "-t", word, "-o", str(wav)])
    sr, x = wavfile.read(wav)
    if x.ndim > 1:
        x = x.mean(axis=1)
    x = x.astype(np.float64) / (32768.0 if x.dtype == np.int16 else 1.0)
    if x.size == 0 or not np.any(x):
        raise SynthError(f"{v['engine']} wrote silence for {word!r} with {v}")
    return sr, x


def resample(x: np.ndarray, sr: int, rate: int, varispeed: float) -> np.ndarray:
    """Resample to ``rate`` as if ``x`` had been recorded at sr*varispeed (varispeed > 1: the word
    is faster and higher, formants included, like a tape played fast)."""
    ratio = (Fraction(rate) / Fraction(sr * varispeed)).limit_denominator(1000)
    return signal.resample_poly(x, ratio.numerator, ratio.denominator)


def frame_energy(x: np.ndarray, rate: int, frame_s: float = 0.01) -> np.ndarray:
    n = max(1, int(frame_s * rate))
    return np.convolve(x ** 2, np.ones(n) / n, mode="same")


def coloured_noise(rng: np.random.Generator, n: int, alpha: float) -> np.ndarray:
    """Gaussian noise with power spectral density ~ 1/f^alpha (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    y = np.fft.irfft(spec * f ** (-alpha / 2), n)
    return y / y.std()


def make_clip(word: str, rng: np.random.Generator, engine: str, args: argparse.Namespace,
              tmp: Path, tag: str) -> tuple[np.ndarray, dict]:
    v = draw_voice(rng, engine, args.condition)
    sr, raw = synthesise(word, v, tmp / f"{tag}.wav")
    varispeed = float(rng.uniform(0.94, 1.06))
    x = resample(raw, sr, args.rate, varispeed)
    x = signal.sosfiltfilt(signal.butter(2, 60.0, "highpass", fs=args.rate, output="sos"), x)

    # the word: where the short-time energy is within 40 dB of its maximum
    e = frame_energy(x, args.rate)
    active = np.flatnonzero(e > e.max() * 1e-4)
    x = x[active[0]:active[-1] + 1]
    e = e[active[0]:active[-1] + 1]
    word_s = x.size / args.rate
    fade = min(int(0.005 * args.rate), x.size // 4)
    if fade:
        ramp = np.sin(np.linspace(0, np.pi / 2, fade)) ** 2
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]

    # centre the energy centroid in the window (+- a small random shift), crop or pad
    n = int(round(args.duration * args.rate))
    centroid = float((np.arange(x.size) * e).sum() / e.sum())
    shift = rng.uniform(-args.shift, args.shift)
    start = int(round(n / 2 + shift * args.rate - centroid))  # index of x[0] in the clip
    # ... but keep the whole word when it fits (an /s/ tail is weak yet matters), else crop evenly
    start = int(np.clip(start, min(0, n - x.size), max(0, n - x.size)))
    clip = np.zeros(n)
    lo, hi = max(0, start), min(n, start + x.size)
    if hi > lo:
        clip[lo:hi] = x[lo - start:hi - start]

    # background noise at an SNR relative to the active speech power
    ec = frame_energy(clip, args.rate)
    p_speech = float(clip[ec > ec.max() * 1e-3].var()) if ec.max() > 0 else 1.0
    snr = float(rng.uniform(*args.snr))
    alpha = float(rng.uniform(0.0, 2.0))
    clip += coloured_noise(rng, n, alpha) * np.sqrt(p_speech * 10 ** (-snr / 10))
    peak = 10 ** (rng.uniform(-12, -1) / 20)  # recording level varies
    clip *= peak / np.abs(clip).max()
    p = {**v, "varispeed": round(varispeed, 4), "word_s": round(word_s, 3),
         "cropped": bool(start < 0 or start + x.size > n), "shift_s": round(float(shift), 4),
         "snr_db": round(snr, 2), "noise_alpha": round(alpha, 3), "peak": round(float(peak), 4)}
    return clip.astype(np.float32), p


# ----------------------------------------------------------------------------------- output


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        versions = require_engines(args.engines)
    except (SynthError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    jobs = []
    for ci, word in enumerate(args.words):
        for i in range(args.per_class):
            engine = args.engines[(ci + i) % len(args.engines)]  # balanced per class
            jobs.append((ci, word, i, engine))

    with tempfile.TemporaryDirectory(prefix="speech-synth-") as tmpdir:
        def work(job):
            ci, word, i, engine = job
            rng = clip_rng(args, ci, i)  # clip i is the same for any N
            return make_clip(word, rng, engine, args, Path(tmpdir), f"{ci}_{i}")
        try:
            with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                results = list(pool.map(work, jobs))
        except SynthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    clips = [(word, i, y, p) for (_, word, i, _), (y, p) in zip(jobs, results)]
    manifest = {
        **manifest_header("spoken-words-synthetic", GENERATOR, GENERATOR_VERSION, args.words, args),
        "synthesisers": versions,
        "parameters": {"engines": args.engines, "espeak_languages": ESPEAK_LANGS,
                       **{k: list(v) for k, v in (SHIFTED if args.condition == "shifted" else NOMINAL).items()},
                       "espeak_pitch": [25, 75], "flite_voices": FLITE_VOICES,
                       "varispeed": [0.94, 1.06], "highpass_hz": 60, "snr_db": list(args.snr),
                       "noise_alpha": [0, 2], "centre_shift_s": args.shift,
                       "peak_dbfs": [-12, -1]},
        "licence": ("synthetic speech: output of espeak-ng (GPL-3.0-or-later program) and flite "
                    "(BSD-style CMU licence); see README.md"),
    }
    files, centroids, size = write_dataset(out, args.rate, clips, manifest, list(args.words))
    cropped = sum(f["cropped"] for f in files)
    print(f"wrote {len(files)} clips ({len(args.words)} words x {args.per_class}, "
          f"{args.duration} s at {args.rate} Hz, seed {args.seed}, engines "
          f"{' '.join(args.engines)}) and dataset.json to {out} ({size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - t0:.1f} s; {cropped} words longer than the clip were cropped")
    for w in args.words:
        print(f"  {w:8s} mean spectral centroid {centroids[w]:7.1f} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
