"""The micropower part library measured in ngspice against its catalogue figures.

One test per figure per part; each part's bench deck runs once per session (cached).
Tolerances: supply currents 3 %, GBW and slew 5 %, output headroom 10 %, offset and bias
2 % (plus 1/AOL of the follower for the offset), comparator delay 20 % and hysteresis 5 %,
switch resistances 2 %, reference voltage within its 0.05 % accuracy.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
from functools import lru_cache

import numpy as np
import pytest

from r2nn_compiler.parts import (
    BJTS, CATALOGUE, COMPARATORS, DIODES, OPAMPS, REFERENCES, SWITCHES, library, part,
)
from r2nn_compiler.compiler import compile_model, load_model, verify
from r2nn_compiler.parts import measure
from r2nn_compiler.passes import CompileOptions
from r2nn_compiler.sim import NgspiceBatch

from .conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs ngspice")

opamp = lru_cache(maxsize=None)(measure.measure_opamp)
comparator = lru_cache(maxsize=None)(measure.measure_comparator)


def _ids(parts):
    return [p.name for p in parts]


def _close(measured: float, stated: float, rel: float) -> None:
    assert measured == pytest.approx(stated, rel=rel), (measured, stated)


# --- catalogue ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry", CATALOGUE, ids=_ids(CATALOGUE))
def test_entry_cites_its_source_and_names_real_fields(entry):
    assert entry.source.document and entry.source.location
    fields = {f.name for f in dataclasses.fields(entry)}
    assert set(entry.unverified) <= fields


@pytest.mark.parametrize("entry", CATALOGUE, ids=_ids(CATALOGUE))
def test_active_parts_run_on_the_nominal_supply(entry):
    low = getattr(entry, "supply_min_v", 0.0)
    high = getattr(entry, "supply_max_v", measure.VDD)
    assert low <= measure.VDD <= high


def test_part_lookup():
    assert part("lpv802") is OPAMPS[0]
    with pytest.raises(KeyError, match="catalogue has"):
        part("LM741")


# --- op-amps -----------------------------------------------------------------------------

@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_quiescent_current(p):
    _close(opamp(p).iq_a, p.iq_a, 0.03)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_load_current_comes_from_vdd(p):
    m = opamp(p)
    _close(m.supply_loaded_a, p.iq_a + m.load_a, 0.01)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_unity_gain_frequency(p):
    _close(opamp(p).gbw_hz, p.gbw_hz, 0.05)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_swing_to_each_rail_at_stated_load(p):
    m = opamp(p)
    _close(m.swing_high_v, p.swing_v, 0.10)
    _close(m.swing_low_v, p.swing_v, 0.10)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_input_offset(p):
    _close(opamp(p).offset_v, p.offset_v, 0.02 + 1 / p.aol)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_input_bias_current(p):
    _close(opamp(p).bias_a, p.bias_a, 0.02)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_opamp_slew_rate(p):
    _close(opamp(p).slew_v_per_s, p.slew_v_per_s, 0.05)


@pytest.mark.parametrize("p", OPAMPS, ids=_ids(OPAMPS))
def test_power_gated_opamp_starts_within_its_slew_time(p):
    """With its supply at 0 V the part draws nothing and its gain node stays near the rails;
    once the supply is up, a follower reaches 1 V within the slew and a few GBW periods
    (unclamped, it sat at a rail for seconds: docs/micropower.md)."""
    m = measure.measure_power_up(p)
    assert abs(m.off_supply_a) < 1e-3 * p.iq_a
    assert m.gain_node_peak_v < measure.VDD + 0.5
    assert m.settle_s < 3.0 / p.slew_v_per_s + 20.0 / p.gbw_hz, m.settle_s


# --- comparators -------------------------------------------------------------------------

@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
def test_comparator_quiescent_current(p):
    _close(comparator(p).iq_a, p.iq_a, 0.03)


@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
@pytest.mark.parametrize("edge", ["tpd_lh_s", "tpd_hl_s"])
def test_comparator_propagation_delay(p, edge):
    _close(getattr(comparator(p), edge), p.tpd_s, 0.20)


@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
def test_comparator_swings_to_the_rails_under_load(p):
    m = comparator(p)
    _close(m.swing_high_v, p.swing_v, 0.10)
    _close(m.swing_low_v, p.swing_v, 0.10)


@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
def test_comparator_hysteresis_band(p):
    _close(comparator(p).hysteresis_v, p.hysteresis_v, 0.05)


@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
def test_comparator_input_offset(p):
    _close(comparator(p).offset_v, p.offset_v, 0.05)


@pytest.mark.parametrize("p", COMPARATORS, ids=_ids(COMPARATORS))
def test_comparator_input_bias_current(p):
    _close(comparator(p).bias_a, p.bias_a, 0.02)


# --- switch, reference, discrete cards ---------------------------------------------------

@pytest.mark.parametrize("p", SWITCHES, ids=_ids(SWITCHES))
def test_switch_on_off_resistance_and_supply_current(p):
    m = measure.measure_switch(p)
    _close(m.ron_ohm, p.ron_ohm, 0.02)
    _close(m.roff_ohm, p.roff_ohm, 0.02)
    _close(m.iq_a, p.iq_a, 0.03)


@pytest.mark.parametrize("p", REFERENCES, ids=_ids(REFERENCES))
def test_reference_voltage_and_supply_current(p):
    m = measure.measure_reference(p)
    _close(m.vref_v, p.vref_v, 0.0005)
    _close(m.iq_a, p.iq_a, 0.03)


@pytest.mark.parametrize("p", DIODES, ids=_ids(DIODES))
def test_diode_forward_voltage_in_datasheet_window(p):
    vf = measure.measure_diode_vf(p)
    assert p.check_vf_min_v <= vf <= p.check_vf_max_v, vf


@pytest.mark.parametrize("p", BJTS, ids=_ids(BJTS))
def test_bjt_current_gain_in_datasheet_window(p):
    hfe = measure.measure_bjt_hfe(p)
    assert p.check_hfe_min <= hfe <= p.check_hfe_max, hfe


# --- the library as a whole --------------------------------------------------------------

def test_library_converges_in_op_ac_tran_on_one_supply():
    """Every active model in one 3.3 V deck, driven by sines and pulses, through all three
    analyses; the total supply current at the operating point is the sum of the Iq."""
    vdd, mid = measure.VDD, measure.MID
    body = [f"Vdd vdd 0 {vdd}", f"Vs sig 0 DC {mid} AC 1 SIN({mid} 0.5 1k)",
            f"Vc ctl 0 PULSE(0 {vdd} 0.2m 1u 1u 0.3m 1m)", f"Vm m 0 {mid}"]
    for k, p in enumerate(OPAMPS):
        body.append(f"Xo{k} sig o{k} o{k} vdd 0 {p.name}")
    for k, p in enumerate(COMPARATORS):
        body.append(f"Xc{k} sig m c{k} vdd 0 {p.name}")
    for k, p in enumerate(SWITCHES):
        body += [f"Xs{k} sig s{k} ctl vdd 0 {p.name}", f"Rs{k} s{k} m 100k"]
    for k, p in enumerate(REFERENCES):
        body.append(f"Xr{k} r{k} vdd 0 {p.name}")
    for k, p in enumerate(DIODES):
        body += [f"D{k} sig d{k} {p.name}", f"Rd{k} d{k} 0 1meg"]
    body += [".op", ".ac dec 10 10 1meg", ".tran 2u 3m", ".end"]
    deck = "\n".join(["* whole library", library(), *body, ""])
    with tempfile.TemporaryDirectory() as tmp:
        res = NgspiceBatch(timeout_s=120).run_text(deck, tmp)
    tran = res.plot("tran").get("v(o0)")
    assert np.all(np.isfinite(np.real(tran)))
    assert np.all(np.isfinite(np.abs(res.plot("ac").get("v(o1)"))))
    active = [*OPAMPS, *COMPARATORS, *SWITCHES, *REFERENCES]
    total = -float(np.real(res.plot("op").get("i(vdd)"))[0])
    # the op-amps follow mid-supply and the switch closes into 100 kOhm at mid: no load
    # current; the comparators sit at a rail with no load
    assert total == pytest.approx(sum(p.iq_a for p in active), rel=0.02)


# --- the parts in a whole deck: the tactile micropower readout ------------------------------

#: Held-out clips (positions in run_demo.py's split) of the tactile check: grating_0p5mm, rough.
TACTILE_CLIPS = (0, 37)


@pytest.fixture(scope="module")
def tactile_report(tmp_path_factory):
    """examples/tactile/micropower.r2nn compiled with --readout analog and verified in ngspice on
    TACTILE_CLIPS (--accuracy 0.01, no refinement): 16 taps, 32 cells, 65 switch channels, 37
    op-amps and 25 comparators power-gated after the window. About 10 s of CPU per clip with
    these models (it was ~60-90 s with the B-source ones: docs/micropower.md, "Simulation cost")."""
    sys.path.insert(0, str(ROOT / "examples"))
    from demo_data import demo_dataset
    from run_demo import PER_CLASS, SEED, TEST_FRACTION, subset, write_clips

    data, _ = demo_dataset("tactile", SEED, PER_CLASS["tactile"])
    _, test = data.split(TEST_FRACTION, SEED + 1)
    tmp = tmp_path_factory.mktemp("tactile")
    write_clips(subset(data, test), TACTILE_CLIPS, tmp / "clips")
    model = load_model(ROOT / "examples" / "tactile" / "micropower.r2nn")
    compile_model(model, tmp / "deck", options=CompileOptions(readout="analog"))
    return verify(model, tmp / "deck", [tmp / "clips"], run_ac=False, accuracy=0.01, refine=False, workers=1)


def test_tactile_deck_decides_like_the_reference_and_measures_its_energy(tactile_report):
    """Every clip's decision ports name one class, the reference's; the supply energy measured in
    ngspice is within 10 % of the manifest's estimate (quiescent currents × rail × time)."""
    report = tactile_report
    assert len(report.signals) == len(TACTILE_CLIPS)
    for s in report.signals:
        assert sum(s.decision["high"].values()) == 1, (s.path, s.decision["port_volts"])
    assert report.class_agreement == 1.0, [(s.path, s.reference_class, s.circuit_class) for s in report.signals]
    energy = report.to_json()["summary"]["energy"]
    assert energy["clips"] == len(TACTILE_CLIPS)
    assert 0.9 <= energy["measured_over_estimate"] <= 1.1, energy
