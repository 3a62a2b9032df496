"""Write a test signal for the toy model: a 20 ms logarithmic chirp 50 Hz → 5 kHz, 48 kHz WAV.

Usage: python examples/toy/make_signal.py OUT.wav
"""

import sys
from pathlib import Path

import numpy as np
from scipy.io import wavfile
from scipy.signal import chirp

rate = 48_000
t = np.arange(int(0.025 * rate) + 1) / rate
signal = 0.5 * chirp(t, f0=50, t1=t[-1], f1=5000, method="logarithmic")
out = Path(sys.argv[1])
out.parent.mkdir(parents=True, exist_ok=True)
wavfile.write(out, rate, signal.astype(np.float32))
print(f"wrote {out} ({t[-1] * 1e3:.0f} ms at {rate} Hz)")
