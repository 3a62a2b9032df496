"""Issue 20, part B: which segment detector realises ln(MS + ε) of the tactile readout at nanowatts.

Drives candidate detector cells (``r2nn_compiler/parts/detectors.py``, parts of the micropower
library on one 3.3 V supply) in ngspice with the **tap waveforms of the tactile held-out clips**
(the shipped ``examples/tactile/model.r2nn``, the reference's exact zero-state response at 4 kHz,
linear between samples, times a per-tap gain), two cells per tap (segment 0 and 1: 32 features),
gate and reset from control ports, and reads each cell after its segment. Per candidate and tap
level it prints:

- the feature error against the reference's exact φ = ln(MS + ε), after the per-feature map that a
  compiler would fit on the *training* clips through the cell's ideal law (no held-out clip is
  used to calibrate): "affine" = φ ≈ a·reading + b (the weighted sums take the reading as it is),
  "cubic" = a cubic of the law's log variable (a post-window log stage, assumed exact);
- the decision agreement with the reference on the held-out clips (scores β + A φ̂), and the
  same with the ideal law in numpy (what the parts add is the difference);
- the supply current measured at the deck's vdd pin over the window, and the window energy of
  the 32 cells on 3.3 V;

then the post-window stages (log/sum op-amp, comparator), powered from a control line only after
the window, measured from their supply pins, and the whole readout's energy per decision.

Usage: python bench/bench_micropower.py [--clips N] [--levels 1,4,10] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from r2nn_compiler.compiler import load_model  # noqa: E402
from r2nn_compiler.parts import library  # noqa: E402
from r2nn_compiler.parts.detectors import (  # noqa: E402
    Cell, Kind, cell_subckt, hold_droop, natural_reading, passive_law, virtual_ground_law,
)
from r2nn_compiler.reference.readout import feature_taps, layer_features, scores  # noqa: E402
from r2nn_compiler.reference.simulate import simulate  # noqa: E402
from r2nn_compiler.sim import NgspiceBatch  # noqa: E402
from r2nn_compiler.train import logistic  # noqa: E402

VDD = 3.3
REF = 1.65  # the taps' reference (mid-supply); the passive cells' capacitors return to it
BUDGET_J = 10e-6
MAX_STEP_S = 25e-6
N_CLASSES = 5
#: Every cell is read this long after the window closes (s).
READ_AFTER_S = 0.5e-3


@dataclass(frozen=True)
class Taps:
    """Tap waveforms (clips × taps × samples, model units) of the training and held-out clips,
    the held-out reference features, scores and decisions."""

    train: np.ndarray
    test: np.ndarray
    dt: float
    phi_train: np.ndarray
    phi_test: np.ndarray
    decided: np.ndarray
    margins: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    floor: float


def load_taps(clips: int) -> tuple[object, Taps]:
    """The shipped tactile model and its taps on run_demo's training/held-out split."""
    from demo_data import demo_dataset
    from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset

    data, _ = demo_dataset("tactile", SEED, PER_CLASS["tactile"])
    train_idx, test_idx = data.split(TEST_FRACTION, SEED + 1)
    model = load_model(ROOT / "examples" / "tactile" / "model.r2nn")
    train, test = subset(data, train_idx), subset(data, test_idx)
    pick = np.linspace(0, len(test_idx) - 1, min(clips, len(test_idx))).round().astype(int)
    u_test = np.asarray(test.signals, dtype=float)[pick]
    phi = layer_features(model, u_test, test.sample_rate_hz)
    s = np.sort(scores(model, phi), axis=1)
    fs = test.sample_rate_hz
    u_train = np.asarray(train.signals, dtype=float)
    return model, Taps(simulate(model, u_train, fs), simulate(model, u_test, fs), 1 / fs,
                       layer_features(model, u_train, fs), phi,
                       np.argmax(scores(model, phi), axis=1), s[:, -1] - s[:, -2],
                       np.asarray(train.labels), np.asarray(test.labels)[pick], model.readout.floor)


#: Tap swing about ``REF`` that a rail-to-rail tap buffer allows on 3.3 V (the taps clip there).
SWING_V = REF - 0.05


@dataclass(frozen=True)
class Candidate:
    """A detector cell at a tap level (x_rms of the loudest training tap, in the diode's n·Vt)
    and how its readings reach the classes: ``shipped`` = the model's own A, β on φ̂ from a cubic
    map per feature (fitted on the training clips through the cell's ideal law; a post-window
    log stage assumed exact); ``law`` = A, β refitted (logistic, training clips) on the raw
    readings, i.e. the readout trained with the detector's law in the loop."""

    label: str
    cell: Cell
    level: float
    readout: str


def tap_volts(taps_y: np.ndarray, taps: Taps, cell: Cell, level: float) -> np.ndarray:
    """Tap voltages about REF (clips × taps × samples): per-tap gains put the loudest training
    clip's tap RMS at x_rms = ``level``; the taps clip at ±SWING_V (the buffer's rails)."""
    top = np.sqrt(np.mean(taps.train ** 2, axis=-1)).max(axis=0)
    gains = level * cell.n_vt() / top
    return np.clip(gains[:, None] * taps_y, -SWING_V, SWING_V)


def segment_grid(y: np.ndarray, dt: float, start: float, stop: float, factor: int = 8) -> tuple[np.ndarray, float]:
    """``y`` (…, samples at k·dt, linear between) on a uniform grid of about dt/factor over
    [start, stop]: (values, step)."""
    n = int(np.ceil((stop - start) / dt * factor)) + 1
    t = np.linspace(start, stop, n)
    grid = np.arange(y.shape[-1]) * dt
    flat = y.reshape(-1, y.shape[-1])
    return np.stack([np.interp(t, grid, row) for row in flat]).reshape(*y.shape[:-1], n), t[1] - t[0]


def law_readings(model, cell: Cell, volts: np.ndarray, dt: float, offset_v: float = 0.0,
                 is_scale: np.ndarray | None = None) -> np.ndarray:
    """The cell's ideal-law reading (V) of every feature (clips × features) of tap voltages
    ``volts``, as read READ_AFTER_S after the window (passive cells: with their hold droop);
    ``is_scale``: per-feature factor on the diode's Is (part spread)."""
    node, seg = feature_taps(model)
    bounds = model.readout.boundaries
    out = np.empty((volts.shape[0], len(node)))
    for f, (i, k) in enumerate(zip(node, seg)):
        v, h = segment_grid(volts[:, i, :], dt, bounds[k], bounds[k + 1])
        scaled = cell if is_scale is None else replace(cell, cap_f=cell.cap_f / is_scale[f])
        if cell.kind is Kind.PASSIVE:
            out[:, f] = hold_droop(cell, passive_law(v, h, scaled, factor=1), bounds[-1] - bounds[k + 1] + READ_AFTER_S)
        else:
            out[:, f] = virtual_ground_law(v, h, scaled, offset_v, factor=1)
    return out


@dataclass(frozen=True)
class Decider:
    """Readings (clips × features, V) → class index, as fitted on the training clips."""

    candidate: Candidate
    cubic: np.ndarray | None = None  # features × 4 (``shipped``)
    law_fit: logistic.LinearScores | None = None  # on standardised readings (``law``)
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def decide(self, model, readings: np.ndarray) -> np.ndarray:
        if self.cubic is not None:
            r = natural_reading(self.candidate.cell, readings)
            phi = np.stack([np.polyval(c, r[:, f]) for f, c in enumerate(self.cubic)], axis=-1)
            return np.argmax(np.nan_to_num(scores(model, phi), nan=-np.inf), axis=1)
        return np.argmax(self.law_fit.scores((readings - self.mean) / self.std), axis=1)

    def phi(self, readings: np.ndarray) -> np.ndarray:
        r = natural_reading(self.candidate.cell, readings)
        return np.stack([np.polyval(c, r[:, f]) for f, c in enumerate(self.cubic)], axis=-1)


def fit_decider(cand: Candidate, train_readings: np.ndarray, taps: Taps) -> Decider:
    """The compile-time map of ``cand`` from its training-clip law readings."""
    if cand.readout == "shipped":
        r = natural_reading(cand.cell, train_readings)
        cubic = []
        for f in range(r.shape[1]):
            ok = np.isfinite(r[:, f])
            cubic.append(np.polyfit(r[ok, f], taps.phi_train[ok, f], 3))
        return Decider(cand, cubic=np.array(cubic))
    mean, std = train_readings.mean(axis=0), train_readings.std(axis=0) + 1e-30
    z = (train_readings - mean) / std
    l2 = logistic.choose_l2(z, taps.train_labels, N_CLASSES)
    return Decider(cand, law_fit=logistic.fit(z, taps.train_labels, N_CLASSES, l2), mean=mean, std=std)


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


@dataclass(frozen=True)
class LawRow:
    """One candidate's ideal law on every held-out clip: agreement with its reference
    (``shipped``: the model; ``law``: the law-trained readout on the ideal law), accuracy on the
    labels, φ error (``shipped`` only), the worst agreement over random ± post-stage offsets on
    each reading (0.2 mV: MAX4240-class typical, 3.5 mV: LPV802-class max) and over a part
    spread (passive: each diode's Is × 2^U(−1, 1); virtual ground: the op-amp's Vos = 3.5 mV),
    the worst over a common temperature change of ±10 and ±20 °C (n·Vt ∝ T, Is × 2 per 10 °C;
    the maps stay those fitted at 27 °C), and the held-out readings' range (V)."""

    candidate: Candidate
    agreement: float
    accuracy: float
    phi_rms: float
    post_200u: float
    post_3m5: float
    spread: float
    temperature: float
    reading_min: float
    reading_max: float


def _worst_offset(model, dec: Decider, readings: np.ndarray, ref: np.ndarray, volts: float) -> float:
    rng = np.random.default_rng(1)
    draws = [readings + volts * rng.choice([-1.0, 1.0], size=readings.shape[1]) for _ in range(5)]
    return min(_agreement(dec.decide(model, d), ref) for d in draws)


def _worst_spread(model, cand: Candidate, dec: Decider, volts: np.ndarray, dt: float, ref: np.ndarray) -> float:
    if cand.cell.kind is Kind.VIRTUAL_GROUND:
        return _agreement(dec.decide(model, law_readings(model, cand.cell, volts, dt, offset_v=3.5e-3)), ref)
    rng = np.random.default_rng(2)
    n = len(model.readout.features)
    return min(_agreement(dec.decide(model, law_readings(model, cand.cell, volts, dt, is_scale=2 ** rng.uniform(-1, 1, n))),
                          ref) for _ in range(3))


def _worst_temperature(model, cand: Candidate, dec: Decider, volts: np.ndarray, dt: float, ref: np.ndarray) -> float:
    return min(_agreement(dec.decide(model, law_readings(model, replace(cand.cell, temp_c=27.0 + d), volts, dt)), ref)
               for d in (-20.0, -10.0, 10.0, 20.0))


def law_row(model, taps: Taps, cand: Candidate) -> tuple[LawRow, Decider]:
    """:class:`LawRow` of ``cand`` and its decider (numpy, every held-out clip loaded)."""
    train_v = tap_volts(taps.train, taps, cand.cell, cand.level)
    test_v = tap_volts(taps.test, taps, cand.cell, cand.level)
    dec = fit_decider(cand, law_readings(model, cand.cell, train_v, taps.dt), taps)
    readings = law_readings(model, cand.cell, test_v, taps.dt)
    decided = dec.decide(model, readings)
    ref = taps.decided if cand.readout == "shipped" else decided
    phi_rms = (float(np.sqrt(np.nanmean((dec.phi(readings) - taps.phi_test) ** 2)))
               if cand.readout == "shipped" else float("nan"))
    row = LawRow(cand, _agreement(decided, ref), _agreement(decided, taps.test_labels), phi_rms,
                 _worst_offset(model, dec, readings, ref, 0.2e-3), _worst_offset(model, dec, readings, ref, 3.5e-3),
                 _worst_spread(model, cand, dec, test_v, taps.dt, ref),
                 _worst_temperature(model, cand, dec, test_v, taps.dt, ref), float(np.min(np.abs(readings))),
                 float(np.max(np.abs(readings))))
    return row, dec


#: Circuit time of the window's start: a reset pulse (0 … 1 ms) comes first.
T0 = 2e-3
EDGE_S = 1e-6


def _pwl(t: np.ndarray, v: np.ndarray) -> str:
    return " ".join(f"{a:.7g} {b:.6g}" for a, b in zip(t, v))


def clip_deck(model, cell: Cell, volts: np.ndarray, dt: float) -> str:
    """One held-out clip: every tap (``volts`` taps × samples, about REF) a PWL source, two
    cells per tap (segment 0 and 1) whose gates and common reset are control-port PWLs."""
    b = model.readout.boundaries
    t = T0 + np.arange(volts.shape[-1]) * dt
    lines = ["* bench_micropower: one clip, 32 segment cells", library(), cell_subckt(cell),
             f"Vdd vdd 0 {VDD}", f"Vref ref 0 {REF}",
             f"Vrst rst 0 PWL(0 {VDD} 1m {VDD} {1e-3 + EDGE_S} 0)"]
    for k in range(len(b) - 1):
        on, off = T0 + b[k], T0 + b[k + 1]
        lines.append(f"Vg{k} g{k} 0 PWL(0 0 {on - EDGE_S:.7g} 0 {on:.7g} {VDD} {off:.7g} {VDD} {off + EDGE_S:.7g} 0)")
    for i in range(volts.shape[0]):
        lines.append(f"Vt{i} t{i} ref PWL(0 0 {_pwl(np.r_[t, t[-1] + EDGE_S], np.r_[volts[i], 0.0])})")
    node, seg = feature_taps(model)
    for f, (i, k) in enumerate(zip(node, seg)):
        lines.append(f"X{f} t{i} ref g{k} rst o{f} vdd 0 {cell.name}")
    stop = T0 + b[-1] + 1e-3
    saves = [f"v(o{f})" for f in range(len(node))] + [f"i(vt{i})" for i in range(volts.shape[0])]
    lines += [".save i(vdd) " + " ".join(saves), ".options reltol=1e-3 vntol=1e-6 abstol=1e-12",
              f".tran {MAX_STEP_S:g} {stop:.7g} 0 {MAX_STEP_S:g}", ".end"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ClipRun:
    """ngspice's readings (V about REF) of one clip's features, the mean current at the vdd pin
    over the window (A), the mean power the taps deliver to the cells (W), the wall time (s)."""

    readings: np.ndarray
    supply_a: float
    tap_power_w: float
    wall_s: float


def run_clip(model, cell: Cell, volts: np.ndarray, dt: float) -> ClipRun:
    """Simulate one clip's deck; read every cell 0.5 ms after the window (segment 0's cells
    have held their reading for a whole segment by then, as the post-window stages see it)."""
    with tempfile.TemporaryDirectory(prefix="r2nn-micropower-") as tmp:
        res = NgspiceBatch(timeout_s=1800).run_text(clip_deck(model, cell, volts, dt), tmp)
    plot = res.plot("tran")
    t = np.real(plot.get("time"))
    b = model.readout.boundaries
    readings = np.array([np.interp(T0 + b[-1] + READ_AFTER_S, t, np.real(plot.get(f"v(o{f})"))) - REF
                         for f in range(len(model.readout.features))])
    inside = (t >= T0) & (t <= T0 + b[-1])
    span = t[inside][-1] - t[inside][0]
    supply = float(np.trapezoid(-np.real(plot.get("i(vdd)"))[inside], t[inside]) / span)
    grid = T0 + np.arange(volts.shape[-1]) * dt
    power = sum(-np.interp(t, grid, volts[i]) * np.real(plot.get(f"i(vt{i})")) for i in range(volts.shape[0]))
    return ClipRun(readings, supply, float(np.trapezoid(power[inside], t[inside]) / span), res.elapsed_s)


@dataclass(frozen=True)
class PartsRow:
    """One candidate in ngspice on ``clips`` held-out clips: the readings' largest deviation
    from the ideal law (V) and median relative deviation, decisions agreeing with the
    candidate's reference, the mean vdd current (A) and tap power (W) over the window."""

    candidate: Candidate
    clips: int
    worst_dev_v: float
    median_rel_dev: float
    agreement: float
    supply_a: float
    tap_power_w: float
    wall_s: float


def parts_row(model, taps: Taps, cand: Candidate, dec: Decider, picks: np.ndarray, workers: int) -> PartsRow:
    """Run ``cand``'s cells on the held-out clips ``picks`` in ngspice and compare."""
    volts = tap_volts(taps.test[picks], taps, cand.cell, cand.level)
    law = law_readings(model, cand.cell, volts, taps.dt)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda v: run_clip(model, cand.cell, v, taps.dt), volts))
    measured = np.array([r.readings for r in runs])
    ref_all = dec.decide(model, law_readings(model, cand.cell, volts, taps.dt))
    ref = taps.decided[picks] if cand.readout == "shipped" else ref_all
    dev = measured - law
    return PartsRow(cand, len(picks), float(np.max(np.abs(dev))),
                    float(np.median(np.abs(dev) / np.maximum(np.abs(law), 1e-12))),
                    _agreement(dec.decide(model, measured), ref), float(np.mean([r.supply_a for r in runs])),
                    float(np.mean([r.tap_power_w for r in runs])), float(sum(r.wall_s for r in runs)))


@dataclass(frozen=True)
class StageRow:
    """A post-window stage powered from a control line for ``on_s``: the energy measured at
    that line (J), its settling error at the end (V), and how many the readout needs."""

    stage: str
    on_s: float
    energy_j: float
    settle_error_v: float
    count: int


#: Post-window stages: name, count in the 32-feature/5-class readout, netlist body (supply
#: node ``pv``, output ``out``, expected final output ``expect`` V).
STAGES = (
    ("LPV802 follower (buffers one held reading)", 32,
     ["Vin in 0 2.4", "Xa in out out pv 0 LPV802", "Rl out 0 10meg"], 2.4),
    ("LPV802 inverting sum of 32 readings, gains 0.3", 5,
     ["Vin in 0 1.75", "Vm m 0 1.65", *[f"Ri{j} in s 3.3meg" for j in range(32)], "Rf s out 1meg",
      "Xa m s out pv 0 LPV802"], 1.65 - 32 * 0.1 / 3.3),
    ("TLV7031 comparator (one class pair)", 10,
     ["Vin in 0 1.70", "Vm m 0 1.65", "Xc in m out pv 0 TLV7031", "Cl out 0 15p"], VDD),
)


def stage_rows(on_s: float = 2e-3) -> list[StageRow]:
    """Each stage in its own deck, its supply a control line 0 → 3.3 V at t = 0 for ``on_s``.

    The transient starts from all-zero node voltages (``uic``): a DC operating point with the
    supply at 0 V would wind the op-amp model's unbounded gain node up to A_OL × input (the
    model has no unpowered state), which no real part does."""
    rows = []
    for name, count, body, expect in STAGES:
        deck = "\n".join([f"* post-window stage: {name}", library(), f"Vpv pv 0 PWL(0 0 {EDGE_S} {VDD})",
                          *body, f".tran {on_s / 2000:g} {on_s:g} 0 {on_s / 2000:g} uic", ".end"]) + "\n"
        with tempfile.TemporaryDirectory(prefix="r2nn-stage-") as tmp:
            plot = NgspiceBatch(timeout_s=300).run_text(deck, tmp).plot("tran")
        t = np.real(plot.get("time"))
        energy = float(np.trapezoid(-np.real(plot.get("i(vpv)")) * np.real(plot.get("v(pv)")), t))
        rows.append(StageRow(name, on_s, energy, abs(float(np.real(plot.get("v(out)"))[-1]) - expect), count))
    return rows


def inverter_gain(freqs_hz: tuple[float, ...] = (20.0, 100.0, 1000.0)) -> list[tuple[float, float, float]]:
    """LPV802-class inverter (1 MΩ/1 MΩ about mid-supply) in .ac: (f, |gain|, phase error in
    degrees from the ideal −1) at each frequency: the lead's claim (1) that 8 kHz GBW cannot
    make a precise −v copy at 1 kHz."""
    body = ["Vdd vdd 0 3.3", "Vm m 0 1.65", "Vin in 0 DC 1.65 AC 1", "Ri in s 1meg", "Rf s out 1meg",
            "Xa m s out vdd 0 LPV802", f".ac dec 100 {min(freqs_hz) / 2:g} {max(freqs_hz) * 2:g}"]
    with tempfile.TemporaryDirectory(prefix="r2nn-inverter-") as tmp:
        plot = NgspiceBatch(timeout_s=120).run_text("\n".join(["* inverter", library(), *body, ".end"]) + "\n",
                                                    tmp).plot("ac")
    f, h = np.real(plot.get("frequency")), plot.get("v(out)")
    return [(fq, float(np.interp(fq, f, np.abs(h))),
             float(np.interp(fq, f, np.degrees(np.unwrap(np.angle(-h)))))) for fq in freqs_hz]


def candidates() -> dict[str, Candidate]:
    """The candidates the bench knows, by key (``--parts`` picks those run in ngspice)."""
    c4n7, c15n = Cell(Kind.PASSIVE, "D1N4148", 4.7e-9), Cell(Kind.PASSIVE, "D1N4148", 15e-9)
    return {
        "p4n7-log": Candidate("passive 1N4148, 4.7 nF, log stage after", c4n7, 10.0, "shipped"),
        "p15n-log": Candidate("passive 1N4148, 15 nF, log stage after", c15n, 10.0, "shipped"),
        "p4n7-law": Candidate("passive 1N4148, 4.7 nF, law-trained readout", c4n7, 30.0, "law"),
        "p4n7-law-q": Candidate("passive 1N4148, 4.7 nF, law-trained readout, quad switches",
                                replace(c4n7, switch="TS12A44515"), 30.0, "law"),
        "p15n-law": Candidate("passive 1N4148, 15 nF, law-trained readout", c15n, 30.0, "law"),
        "sms10u-law": Candidate("passive SMS7630, 10 uF, law-trained readout",
                                Cell(Kind.PASSIVE, "SMS7630", 10e-6), 30.0, "law"),
        "vg100n-log": Candidate("virtual ground 1N4148 into LPV802, 100 nF, log stage after",
                                Cell(Kind.VIRTUAL_GROUND, "D1N4148", 100e-9), 3.0, "shipped"),
    }


def refit_peer_accuracy(taps: Taps) -> float:
    """Held-out accuracy of a readout refitted exactly as the ``law`` rows are, but on the exact
    φ: the natural peer of the law-trained rows (the refit alone, without the trainer's joint
    training of network and readout, loses this much)."""
    mean, std = taps.phi_train.mean(axis=0), taps.phi_train.std(axis=0)
    z = (taps.phi_train - mean) / std
    fit = logistic.fit(z, taps.train_labels, N_CLASSES, logistic.choose_l2(z, taps.train_labels, N_CLASSES))
    return logistic.accuracy(fit.scores((taps.phi_test - mean) / std), taps.test_labels)


def print_law_table(rows: dict[str, LawRow], taps: Taps) -> None:
    print(f"\n## Ideal laws on all {taps.test.shape[0]} held-out clips (numpy; maps fitted on the "
          f"{taps.train.shape[0]} training clips)\n")
    print("reference (shipped model, exact ln(MS+eps)): accuracy "
          f"{np.mean(taps.decided == taps.test_labels):.3f}; decision margins (score units) "
          f"min {taps.margins.min():.3f}, 5th pct {np.percentile(taps.margins, 5):.2f}, "
          f"median {np.median(taps.margins):.2f}; the same readout refitted on exact phi as the "
          f"law rows are: accuracy {refit_peer_accuracy(taps):.3f}")
    span = taps.phi_test.max(axis=0) - taps.phi_test.min(axis=0)
    crest = np.abs(taps.test).max(axis=-1) / np.sqrt(np.mean(taps.test ** 2, axis=-1))
    print(f"per feature, phi spans {span.min():.1f}..{span.max():.1f} nepers over the held-out clips "
          f"(median {np.median(span):.1f}); smallest phi {taps.phi_test.min():.1f}, ln(eps) "
          f"{np.log(taps.floor):.1f}; tap crest factors (5th, 50th, 95th pct) "
          + ", ".join(f"{c:.2f}" for c in np.percentile(crest, [5, 50, 95])) + "\n")
    print("| key | candidate | kT | level (x_rms) | readout | agreement | accuracy | phi err rms | "
          "post +-0.2 mV | post +-3.5 mV | part spread | +-20 degC | readings min..max (V) |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for key, r in rows.items():
        c = r.candidate
        print(f"| {key} | {c.label} | {c.cell.k_per_s() * 0.25:.3g} | {c.level:g} | {c.readout} | "
              f"{100 * r.agreement:.1f} % | {100 * r.accuracy:.1f} % | {r.phi_rms:.3f} | "
              f"{100 * r.post_200u:.1f} % | {100 * r.post_3m5:.1f} % | {100 * r.spread:.1f} % | "
              f"{100 * r.temperature:.1f} % | "
              f"{r.reading_min:.2g} .. {r.reading_max:.2g} |")


def print_parts_table(rows: dict[str, PartsRow], stages: list[StageRow], window_s: float) -> None:
    print("\n## Parts in ngspice (one 3.3 V supply; 32 cells per clip deck)\n")
    print("| key | clips | worst reading dev. from law (mV) | median rel. dev. | agreement | "
          "vdd current (uA) | window energy (uJ) | energy from the taps (uJ) | ngspice s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key, r in rows.items():
        print(f"| {key} | {r.clips} | {1e3 * r.worst_dev_v:.2f} | {r.median_rel_dev:.2e} | "
              f"{100 * r.agreement:.0f} % | {1e6 * r.supply_a:.3f} | {1e6 * r.supply_a * VDD * window_s:.3f} | "
              f"{1e6 * r.tap_power_w * window_s:.4f} | {r.wall_s:.0f} |")
    print("\n## Post-window stages, powered from a control line (measured per stage, x count)\n")
    print("| stage | on (ms) | energy each (nJ) | final error (mV) | count | energy (nJ) |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in stages:
        print(f"| {s.stage} | {1e3 * s.on_s:g} | {1e9 * s.energy_j:.2f} | {1e3 * s.settle_error_v:.1f} | "
              f"{s.count} | {1e9 * s.energy_j * s.count:.1f} |")
    post = sum(s.energy_j * s.count for s in stages)
    print("\n## Energy per decision (supply only; timer, tap buffers and reference excluded: part A)\n")
    print("| key | window cells (uJ, measured) | post-window stages (uJ, per stage x count) | total (uJ) | budget 10 uJ |")
    print("|---|---:|---:|---:|---|")
    for key, r in rows.items():
        total = r.supply_a * VDD * window_s + post
        print(f"| {key} | {1e6 * r.supply_a * VDD * window_s:.2f} | {1e6 * post:.3f} | {1e6 * total:.2f} | "
              f"{'fits' if total <= BUDGET_J else 'over'} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=2, help="held-out clips per candidate in ngspice (default 2; 60 = all)")
    ap.add_argument("--parts", default="p4n7-law-q,p4n7-law,vg100n-log", help="candidates run in ngspice (keys; 'none' for none)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    t_start = time.perf_counter()
    model, taps = load_taps(60)
    cands = candidates()
    laws = {key: law_row(model, taps, c) for key, c in cands.items()}
    print_law_table({k: v[0] for k, v in laws.items()}, taps)
    picks = np.linspace(0, taps.test.shape[0] - 1, min(args.clips, taps.test.shape[0])).round().astype(int)
    keys = [] if args.parts == "none" else args.parts.split(",")
    parts = {k: parts_row(model, taps, cands[k], laws[k][1], picks, args.workers) for k in keys}
    window = model.readout.stop - model.readout.start
    print_parts_table(parts, stage_rows(), window)
    print("\nLPV802-class inverter (1 M/1 M), .ac: " + "; ".join(
        f"{f:g} Hz |G| {g:.4f} phase err {p:.1f} deg" for f, g, p in inverter_gain()))
    print(f"\n(bench_micropower: {time.perf_counter() - t_start:.0f} s wall; `uptime` for the load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
