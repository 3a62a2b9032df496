"""Micropower part library: stated vs measured figures, each model simulated in ngspice.

The same benches as tests/test_parts_micropower.py (r2nn_compiler.parts.measure), on one
3.3 V supply: per part, the catalogue figure next to what ngspice measures (Iq from the
part's own vdd source, GBW where the open-loop gain crosses 1, headroom to each rail at the
stated load, offset, bias, slew, comparator delays and hysteresis, switch resistances,
reference voltage, diode VF and BJT hFE). docs/parts.md quotes this table.

Usage: python bench/bench_parts.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from r2nn_compiler.parts import (  # noqa: E402
    BJTS, COMPARATORS, DIODES, OPAMPS, REFERENCES, SWITCHES,
)
from r2nn_compiler.parts import measure  # noqa: E402

Row = tuple[str, str, float, float, str]


def _opamp_rows() -> list[Row]:
    rows: list[Row] = []
    for p in OPAMPS:
        m = measure.measure_opamp(p)
        rows += [
            (p.part_class, "Iq", p.iq_a, m.iq_a, "A"),
            (p.part_class, "GBW", p.gbw_hz, m.gbw_hz, "Hz"),
            (p.part_class, "slew", p.slew_v_per_s, m.slew_v_per_s, "V/s"),
            (p.part_class, f"swing high @{p.swing_load_ohm:g} ohm", p.swing_v,
             m.swing_high_v, "V"),
            (p.part_class, f"swing low @{p.swing_load_ohm:g} ohm", p.swing_v,
             m.swing_low_v, "V"),
            (p.part_class, "offset", p.offset_v, m.offset_v, "V"),
            (p.part_class, "bias", p.bias_a, m.bias_a, "A"),
            (p.part_class, "vdd current, 20 uA load", p.iq_a + m.load_a,
             m.supply_loaded_a, "A"),
        ]
    return rows


def _comparator_rows() -> list[Row]:
    rows: list[Row] = []
    for p in COMPARATORS:
        m = measure.measure_comparator(p)
        od = f"@{p.tpd_overdrive_v * 1e3:g} mV"
        rows += [
            (p.part_class, "Iq", p.iq_a, m.iq_a, "A"),
            (p.part_class, f"tpd LH {od}", p.tpd_s, m.tpd_lh_s, "s"),
            (p.part_class, f"tpd HL {od}", p.tpd_s, m.tpd_hl_s, "s"),
            (p.part_class, "hysteresis", p.hysteresis_v, m.hysteresis_v, "V"),
            (p.part_class, "offset", p.offset_v, m.offset_v, "V"),
            (p.part_class, f"swing high @{p.swing_load_a * 1e3:g} mA", p.swing_v,
             m.swing_high_v, "V"),
            (p.part_class, f"swing low @{p.swing_load_a * 1e3:g} mA", p.swing_v,
             m.swing_low_v, "V"),
        ]
    return rows


def _other_rows() -> list[Row]:
    rows: list[Row] = []
    for p in SWITCHES:
        m = measure.measure_switch(p)
        rows += [(p.part_class, "Ron", p.ron_ohm, m.ron_ohm, "ohm"),
                 (p.part_class, "Roff", p.roff_ohm, m.roff_ohm, "ohm"),
                 (p.part_class, "Iq", p.iq_a, m.iq_a, "A")]
    for p in REFERENCES:
        m = measure.measure_reference(p)
        rows += [(p.part_class, "Vref", p.vref_v, m.vref_v, "V"),
                 (p.part_class, "Iq", p.iq_a, m.iq_a, "A")]
    for p in DIODES:
        window = (p.check_vf_min_v + p.check_vf_max_v) / 2
        rows.append((p.part_class, f"VF @{p.check_if_a * 1e3:g} mA (window mid)", window,
                     measure.measure_diode_vf(p), "V"))
    for p in BJTS:
        window = (p.check_hfe_min + p.check_hfe_max) / 2
        rows.append((p.part_class, f"hFE @{p.check_ic_a * 1e3:g} mA (window mid)", window,
                     measure.measure_bjt_hfe(p), ""))
    return rows


def main() -> None:
    start = time.perf_counter()
    rows = _opamp_rows() + _comparator_rows() + _other_rows()
    print(f"{'part':<36} {'figure':<30} {'stated':>11} {'measured':>11} {'unit':<4}")
    for name, figure, stated, measured, unit in rows:
        print(f"{name:<36} {figure:<30} {stated:>11.4g} {measured:>11.4g} {unit:<4}")
    print(f"({len(rows)} figures, ngspice {time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
