"""The three demo dataset generators (examples/{tactile,speech,bearing}/make_dataset.py): layout,
WAV format, determinism and one physics check each.  Small runs into tmp_path; a few seconds.

The speech generator needs the Debian packages espeak-ng and flite: a missing synthesiser is a
FAILURE here (with the install hint), never a skip, because CI installs them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from scipy.io import wavfile

ROOT = Path(__file__).resolve().parents[1]
SPEECH_APT = "apt-get install espeak-ng flite"


def load(demo: str):
    path = ROOT / "examples" / demo / "make_dataset.py"
    spec = importlib.util.spec_from_file_location(f"make_dataset_{demo}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# demo -> (arguments of a small run, expected sample rate, clip length s)
RUNS = {
    "tactile": (["--per-class", "3", "--duration", "0.4"], 4000, 0.4),
    "bearing": (["--per-class", "3", "--duration", "0.4"], 12000, 0.4),
    "speech": (["--per-class", "2", "--duration", "0.8"], 8000, 0.8),
}


def generate(demo: str, out: Path, seed: int = 7, capsys=None) -> dict:
    args, _, _ = RUNS[demo]
    rc = load(demo).main(["--out", str(out), "--seed", str(seed), *args])
    err = capsys.readouterr().err if capsys is not None else ""
    assert rc == 0, f"{demo} generator failed (exit {rc}): {err}"
    return json.loads((out / "dataset.json").read_text())


def read(path: Path) -> tuple[int, np.ndarray]:
    rate, x = wavfile.read(path)
    assert x.dtype == np.float32 and x.ndim == 1, (path, x.dtype, x.shape)
    return rate, x.astype(np.float64)


def test_speech_synthesisers_installed():
    missing = [t for t in ("espeak-ng", "flite") if shutil.which(t) is None]
    assert not missing, f"speech synthesiser(s) missing: {missing}; install with: {SPEECH_APT}"


def test_speech_missing_synthesiser_names_the_package(tmp_path, monkeypatch, capsys):
    mod = load("speech")
    monkeypatch.setattr(mod.shutil, "which", lambda name: None)
    assert mod.main(["--out", str(tmp_path), "--per-class", "1"]) == 2
    assert SPEECH_APT in capsys.readouterr().err


@pytest.mark.parametrize("demo", sorted(RUNS))
def test_layout_format_and_determinism(demo, tmp_path, capsys):
    _, rate, duration = RUNS[demo]
    m = generate(demo, tmp_path / "a", capsys=capsys)
    per_class = m["per_class"]
    assert m["rate"] == rate and m["duration"] == duration and m["seed"] == 7
    assert len(m["classes"]) >= 4 and m["generator_version"]
    assert len(m["files"]) == len(m["classes"]) * per_class
    for cls in m["classes"]:
        assert len(list((tmp_path / "a" / cls).glob("*.wav"))) == per_class, cls
    for entry in m["files"]:
        r, x = read(tmp_path / "a" / entry["file"])
        assert r == rate and x.size == round(duration * rate), entry["file"]
        assert np.all(np.isfinite(x)) and 0 < np.abs(x).max() <= 1.0, entry["file"]

    generate(demo, tmp_path / "b", capsys=capsys)  # same seed: identical bytes
    generate(demo, tmp_path / "c", seed=8, capsys=capsys)  # other seed: other clips
    def listing(d: Path) -> list[Path]:
        return sorted(p.relative_to(d) for p in d.rglob("*") if p.is_file())

    files = listing(tmp_path / "a")
    assert files == listing(tmp_path / "b")
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    wavs = [rel for rel in files if rel.suffix == ".wav"]
    assert any((tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
               for rel in wavs)


def peak_frequency(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    n = 16 * x.size
    spec = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(x.size), n))
    f = np.fft.rfftfreq(n, 1 / rate)
    band = (f >= lo) & (f <= hi)
    return float(f[band][np.argmax(spec[band])])


def test_tactile_grating_frequency_is_speed_over_period(tmp_path, capsys):
    m = generate("tactile", tmp_path, capsys=capsys)
    gratings = [e for e in m["files"] if e["class"].startswith("grating")]
    assert len(gratings) == 9
    for e in gratings:
        _, x = read(tmp_path / e["file"])
        f_peak = peak_frequency(x, m["rate"], 15, 1000)
        expected = e["speed_mm_s"] / e["period_mm"]
        assert abs(f_peak / expected - 1) < 0.08, (e["file"], f_peak, expected)


def test_bearing_envelope_spectrum_peaks_at_defect_frequency(tmp_path, capsys):
    m = generate("bearing", tmp_path, capsys=capsys)
    for e in m["files"]:
        if e["class"] not in ("outer_race", "inner_race"):
            continue
        _, x = read(tmp_path / e["file"])
        f0 = e["resonance_hz"]
        sos = signal.butter(4, [0.7 * f0, 1.3 * f0], "bandpass", fs=m["rate"], output="sos")
        envelope = np.abs(signal.hilbert(signal.sosfiltfilt(sos, x)))
        f_peak = peak_frequency(envelope, m["rate"], 50, 300)
        expected = e["bpfo_hz"] if e["class"] == "outer_race" else e["bpfi_hz"]
        assert abs(f_peak / expected - 1) < 0.03, (e["file"], f_peak, expected)


def test_speech_is_voiced_and_centred(tmp_path, capsys):
    m = generate("speech", tmp_path, capsys=capsys)
    assert {e["engine"] for e in m["files"]} == {"espeak-ng", "flite"}
    rate = m["rate"]
    for e in m["files"]:
        _, x = read(tmp_path / e["file"])
        energy = np.convolve(x ** 2, np.ones(rate // 100) / (rate // 100), mode="same")
        # the word stands out of the background noise (SNR >= 10 dB): the quietest frames are noise
        assert energy.max() > 10 * np.percentile(energy, 5), e["file"]
        loud = energy > 0.1 * energy.max()
        centre = np.sum(np.flatnonzero(loud) * energy[loud]) / np.sum(energy[loud]) / rate
        assert abs(centre - m["duration"] / 2) < 0.15, (e["file"], centre)
