"""Write the toy example's test signals: tones near each class's resonance, a chirp and noise.

Usage: python examples/toy/make_signals.py OUTDIR   (16 kHz float WAVs, 25 ms each; seeded)
"""

import sys
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import chirp

RATE = 16_000
DURATION_S = 0.025


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    t = np.arange(int(DURATION_S * RATE) + 1) / RATE
    signals = {
        "tone_100hz": np.sin(2 * np.pi * 100 * t),
        "tone_1200hz": np.sin(2 * np.pi * 1200 * t),
        "tone_1600hz": np.sin(2 * np.pi * 1600 * t),
        "chirp": chirp(t, f0=50, t1=t[-1], f1=4000, method="logarithmic"),
        "noise": rng.standard_normal(t.size) * 0.5,
    }
    for name, u in signals.items():
        wavfile.write(outdir / f"{name}.wav", RATE, (0.5 * u).astype(np.float32))
    print(f"wrote {len(signals)} signals to {outdir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
