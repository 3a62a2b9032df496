"""Benches that measure each catalogue model in ngspice, on one 3.3 V supply.

One deck (one ngspice run) per part; each function returns a frozen dataclass of measured
figures in SI units, compared against the catalogue by tests/test_parts_micropower.py and
printed by bench/bench_parts.py. Supply currents are read from each instance's own vdd
source, so they are what the model draws from its supply pins.

Raises SimulationError (from the runner) when ngspice fails on a deck.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np

from r2nn_compiler.parts.catalogue import (
    BjtPart, ComparatorPart, DiodePart, OpampPart, ReferencePart, SwitchPart,
)
from r2nn_compiler.parts.models import NOMINAL_SUPPLY_V, render
from r2nn_compiler.sim import NgspiceBatch, SimResult

VDD = NOMINAL_SUPPLY_V
MID = VDD / 2


@dataclass(frozen=True)
class OpampMeasurement:
    """Iq from vdd (follower at mid-supply, no load), offset and bias from the same
    follower, GBW where the open-loop gain crosses 1, headroom to each rail at the stated
    load to mid-supply, the slew rate of a 2 V follower step (30 % to 70 %), and, for a
    follower at 2 V sourcing into 100 kOhm to ground, the load current and the current the
    model then draws from vdd (``supply_loaded_a``, which should be Iq + load)."""

    iq_a: float
    offset_v: float
    bias_a: float
    gbw_hz: float
    swing_high_v: float
    swing_low_v: float
    slew_v_per_s: float
    load_a: float
    supply_loaded_a: float


@dataclass(frozen=True)
class ComparatorMeasurement:
    """Iq from vdd (output low, no load), bias current into inp, headroom to each rail at
    the stated load current, propagation delays (input step to output at mid-supply) for
    the stated overdrive, and the two trip points of inp - inn (rising and falling sweep)."""

    iq_a: float
    bias_a: float
    swing_high_v: float
    swing_low_v: float
    tpd_lh_s: float
    tpd_hl_s: float
    trip_high_v: float
    trip_low_v: float

    @property
    def offset_v(self) -> float:
        """Centre of the hysteresis band."""
        return (self.trip_high_v + self.trip_low_v) / 2

    @property
    def hysteresis_v(self) -> float:
        """Width of the hysteresis band."""
        return self.trip_high_v - self.trip_low_v


@dataclass(frozen=True)
class SwitchMeasurement:
    """On-resistance at mid-supply with 1 mA, off resistance with 1.65 V across, and Iq."""

    ron_ohm: float
    roff_ohm: float
    iq_a: float


@dataclass(frozen=True)
class ReferenceMeasurement:
    """Output voltage with no load and the current drawn from vdd."""

    vref_v: float
    iq_a: float


def _run(title: str, parts_text: str, body: list[str]) -> SimResult:
    deck = "\n".join([f"* {title}", parts_text, *body, ".end", ""])
    with tempfile.TemporaryDirectory(prefix="r2nn-parts-") as tmp:
        return NgspiceBatch(timeout_s=120).run_text(deck, tmp)


def _value(result: SimResult, plot: str, name: str) -> float:
    return float(np.real(result.plot(plot).get(name))[0])


def _crossing(t: np.ndarray, v: np.ndarray, level: float, after: float, rising: bool
              ) -> float:
    """First time after ``after`` where v crosses ``level`` in the given direction."""
    sign = 1 if rising else -1
    above = sign * (v - level) > 0
    for k in np.nonzero((t > after)[1:] & above[1:] & ~above[:-1])[0] + 1:
        return float(np.interp(level, sorted([v[k - 1], v[k]]),
                               [t[k - 1], t[k]] if rising else [t[k], t[k - 1]]))
    raise ValueError(f"no {'rising' if rising else 'falling'} crossing of {level} after {after}")


def measure_opamp(p: OpampPart) -> OpampMeasurement:
    """Measure ``p`` in one deck: .op (Iq, offset, bias, swing), .ac (GBW), .tran (slew)."""
    t_slew = 2.0 / p.slew_v_per_s
    t0, t_stop = t_slew, 6 * t_slew
    body = [
        f"Vdd1 vdd1 0 {VDD}", f"Vin1 in1 0 {MID}", f"X1 in1 out1 out1 vdd1 0 {p.name}",
        f"Vdd2 vdd2 0 {VDD}", f"Vin2 in2 0 DC {MID} AC 1", f"Vcm2 cm2 0 {MID}",
        f"X2 in2 inn2 out2 vdd2 0 {p.name}", "L2 out2 inn2 1e9", "C2 inn2 cm2 1",
        f"Vdd3 vdd3 0 {VDD}", f"Vm3 m3 0 {MID}", f"X3 vdd3 0 out3 vdd3 0 {p.name}",
        f"RL3 out3 m3 {p.swing_load_ohm}",
        f"Vdd4 vdd4 0 {VDD}", f"X4 0 vdd4 out4 vdd4 0 {p.name}",
        f"RL4 out4 m3 {p.swing_load_ohm}",
        f"Vdd5 vdd5 0 {VDD}",
        f"Vin5 in5 0 PWL(0 {MID - 1} {t0} {MID - 1} {t0 + t_slew / 1000} {MID + 1})",
        f"X5 in5 out5 out5 vdd5 0 {p.name}",
        f"Vdd6 vdd6 0 {VDD}", "Vin6 in6 0 2", f"X6 in6 out6 out6 vdd6 0 {p.name}",
        "RL6 out6 0 100k",
        ".op", f".ac dec 50 {p.gbw_hz / 100} {p.gbw_hz * 100}",
        f".tran {t_stop / 2000} {t_stop} 0 {t_stop / 2000}",
    ]
    res = _run(f"opamp bench {p.name}", render(p), body)
    op = "op"
    ac = res.plot("ac")
    freq = np.real(ac.get("frequency"))
    gain = np.abs(ac.get("v(out2)"))
    k = int(np.nonzero(gain < 1)[0][0])
    gbw = float(np.exp(np.interp(0.0, np.log(gain[[k, k - 1]]), np.log(freq[[k, k - 1]]))))
    tran = res.plot("tran")
    t, v = np.real(tran.get("time")), np.real(tran.get("v(out5)"))
    t30 = _crossing(t, v, MID - 0.4, t0, True)
    t70 = _crossing(t, v, MID + 0.4, t0, True)
    return OpampMeasurement(
        iq_a=-_value(res, op, "i(vdd1)"),
        offset_v=_value(res, op, "v(out1)") - MID,
        bias_a=-_value(res, op, "i(vin1)"),
        gbw_hz=gbw,
        swing_high_v=VDD - _value(res, op, "v(out3)"),
        swing_low_v=_value(res, op, "v(out4)"),
        slew_v_per_s=0.8 / (t70 - t30),
        load_a=_value(res, op, "v(out6)") / 100e3,
        supply_loaded_a=-_value(res, op, "i(vdd6)"),
    )


def measure_comparator(p: ComparatorPart) -> ComparatorMeasurement:
    """Measure ``p`` in one deck: .op (Iq, swing under load), .tran (both delays).

    The delay input steps from 100 mV beyond one trip point to ``p.tpd_overdrive_v``
    beyond the other, the output loaded with 15 pF.
    """
    hi = MID + p.offset_v + p.hysteresis_v / 2
    lo = MID + p.offset_v - p.hysteresis_v / 2
    t0, t1 = 5 * p.tpd_s, 20 * p.tpd_s  # t1: the state settles fully before the fall
    edge = p.tpd_s / 1000
    pwl = (f"0 {lo - 0.1} {t0} {lo - 0.1} {t0 + edge} {hi + p.tpd_overdrive_v} "
           f"{t0 + t1} {hi + p.tpd_overdrive_v} {t0 + t1 + edge} {lo - p.tpd_overdrive_v}")
    body = [
        f"Vdd1 vdd1 0 {VDD}", f"Vm m 0 {MID}", f"Vin1 in1 0 {MID - 0.1}",
        f"Vlo lo 0 {MID - 0.1}", f"Vhi hi 0 {MID + 0.1}",
        f"X1 in1 m out1 vdd1 0 {p.name}",
        f"Vdd2 vdd2 0 {VDD}", f"X2 hi m out2 vdd2 0 {p.name}", f"Il2 out2 0 {p.swing_load_a}",
        f"Vdd3 vdd3 0 {VDD}", f"X3 lo m out3 vdd3 0 {p.name}", f"Il3 vdd3 out3 {p.swing_load_a}",
        f"Vdd4 vdd4 0 {VDD}", f"Vin4 in4 0 PWL({pwl})", f"X4 in4 m out4 vdd4 0 {p.name}",
        "CL4 out4 0 15p",
        ".op", f".tran {p.tpd_s / 200} {t0 + 2 * t1} 0 {p.tpd_s / 200}",
    ]
    res = _run(f"comparator bench {p.name}", render(p), body)
    tran = res.plot("tran")
    t, v = np.real(tran.get("time")), np.real(tran.get("v(out4)"))
    return ComparatorMeasurement(
        iq_a=-_value(res, "op", "i(vdd1)"),
        bias_a=-_value(res, "op", "i(vin1)"),
        swing_high_v=VDD - _value(res, "op", "v(out2)"),
        swing_low_v=_value(res, "op", "v(out3)"),
        tpd_lh_s=_crossing(t, v, MID, t0, True) - t0,
        tpd_hl_s=_crossing(t, v, MID, t0 + t1, False) - (t0 + t1),
        trip_high_v=_trip(p, rising=True),
        trip_low_v=_trip(p, rising=False),
    )


def _trip(p: ComparatorPart, rising: bool) -> float:
    """inp - inn (V) where a .dc sweep of inp in one direction flips the output.

    Each sweep point starts from the previous solution, so the sweep stays on the branch
    it starts on until the trip point, as a slow ramp would.
    """
    span = p.hysteresis_v + abs(p.offset_v) + 10e-3
    step = span / 4000
    start, stop = (MID - span, MID + span) if rising else (MID + span, MID - span)
    body = [
        f"Vdd1 vdd1 0 {VDD}", f"Vm m 0 {MID}", f"Vin in 0 {start}",
        f"X1 in m out vdd1 0 {p.name}",
        f".dc Vin {start} {stop} {step if rising else -step}",
    ]
    res = _run(f"comparator trip {p.name}", render(p), body)
    dc = res.plot("dc")
    vin, vout = np.real(dc.get("v(in)")), np.real(dc.get("v(out)"))
    order = np.arange(len(vin))
    k = _crossing(order.astype(float), vout, MID, -1.0, rising)
    return float(np.interp(k, order, vin)) - MID


def measure_switch(p: SwitchPart) -> SwitchMeasurement:
    """Measure ``p`` in one .op deck: closed with 1 mA at mid-supply, open with MID across."""
    body = [
        f"Vdd1 vdd1 0 {VDD}", f"Va1 a1 0 {MID}", "Ib1 b1 0 1m",
        f"X1 a1 b1 vdd1 vdd1 0 {p.name}",
        f"Vdd2 vdd2 0 {VDD}", f"Va2 a2 0 {MID}", "Vb2 b2 0 0",
        f"X2 a2 b2 0 vdd2 0 {p.name}",
        ".op",
    ]
    res = _run(f"switch bench {p.name}", render(p), body)
    return SwitchMeasurement(
        ron_ohm=(_value(res, "op", "v(a1)") - _value(res, "op", "v(b1)")) / 1e-3,
        roff_ohm=MID / _value(res, "op", "i(vb2)"),
        iq_a=-_value(res, "op", "i(vdd1)"),
    )


def measure_reference(p: ReferencePart) -> ReferenceMeasurement:
    """Measure ``p`` in one .op deck with no load."""
    body = [f"Vdd1 vdd1 0 {VDD}", f"X1 out1 vdd1 0 {p.name}", ".op"]
    res = _run(f"reference bench {p.name}", render(p), body)
    return ReferenceMeasurement(
        vref_v=_value(res, "op", "v(out1)"), iq_a=-_value(res, "op", "i(vdd1)"),
    )


def measure_diode_vf(p: DiodePart) -> float:
    """Forward voltage (V) of the card at its check current, from .op."""
    body = [f"I1 0 a {p.check_if_a}", f"D1 a 0 {p.name}", ".op"]
    res = _run(f"diode bench {p.name}", render(p), body)
    return _value(res, "op", "v(a)")


def measure_bjt_hfe(p: BjtPart) -> float:
    """DC current gain of the card at its check collector current and VCE, from a .dc sweep
    of the base current (collector held at ``p.check_vce_v``, emitter at 0)."""
    sign = 1 if p.polarity == "NPN" else -1
    top = 4 * p.check_ic_a / 50
    body = [
        f"Vc c 0 {sign * p.check_vce_v}", "Ib 0 b 0", f"Q1 c b 0 {p.name}",
        f".dc Ib 0 {sign * top} {sign * top / 400}",
    ]
    res = _run(f"bjt bench {p.name}", render(p), body)
    dc = res.plot("dc")
    ib = np.abs(np.real(dc.get("i(i-sweep)")))
    ic = np.abs(np.real(dc.get("i(vc)")))
    ib_at = float(np.interp(p.check_ic_a, ic, ib))
    return p.check_ic_a / ib_at


@dataclass(frozen=True)
class PowerUpMeasurement:
    """A follower at 1 V whose supply ramps 0 → 3.3 V over 10 µs at 1 ms, from the operating
    point with the supply off: the supply current while off, the time after the ramp until
    the output is within 10 mV of 1 V, and the gain node's largest excursion (V about vss)."""

    off_supply_a: float
    settle_s: float
    gain_node_peak_v: float


def measure_power_up(p: OpampPart) -> PowerUpMeasurement:
    """Measure ``p`` power-gated: an operating point at 0 V supply, then the supply's ramp."""
    t_on, t_stop = 1e-3, 1e-3 + 20.0 / p.slew_v_per_s + 50.0 / p.gbw_hz
    body = [f"Vdd1 vdd1 0 PWL(0 0 {t_on} 0 {t_on + 1e-5} {VDD})", "Vin1 in1 0 1",
            f"X1 in1 out1 out1 vdd1 0 {p.name}", f".tran {t_stop / 4000} {t_stop} 0 {t_stop / 4000}"]
    res = _run(f"power-up bench {p.name}", render(p), body)
    tran = res.plot("tran")
    t, v = np.real(tran.get("time")), np.real(tran.get("v(out1)"))
    g = np.real(tran.get("v(x1.g)"))
    off = -float(np.real(tran.get("i(vdd1)"))[0])
    bad = np.nonzero(np.abs(v - 1.0) > 0.01)[0]
    settle = float(t[bad[-1] + 1] - t_on) if bad.size and bad[-1] + 1 < t.size else float("inf")
    return PowerUpMeasurement(off, settle, float(np.max(np.abs(g))))
