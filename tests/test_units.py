import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2nn_compiler.units import format_si, format_spice, parse_quantity


@pytest.mark.parametrize(
    "text, value, unit",
    [
        ("1m", 1e-3, None),
        ("1.2 kHz", 1200.0, "Hz"),
        ("10meg", 1e7, None),
        ("10 megHz", 1e7, "Hz"),
        ("3M", 3e6, None),
        ("4.7n", 4.7e-9, None),
        ("2.2µF", 2.2e-6, "F"),
        ("1kΩ", 1e3, "ohm"),
        ("1 kohm", 1e3, "ohm"),
        ("20 ms", 0.02, "s"),
        ("-0.2m", -2e-4, None),
        ("1e-3", 1e-3, None),
        ("5 F", 5.0, "F"),
        ("10mH", 0.01, "H"),
        ("7f", 7e-15, None),
        ("3p", 3e-12, None),
        ("2G", 2e9, None),
    ],
)
def test_parse_quantity_scales_prefix_and_keeps_unit(text, value, unit):
    q = parse_quantity(text)
    assert q.value == value  # exact: prefixes scale in decimal
    assert q.unit == unit


@pytest.mark.parametrize("text", ["", "m", "1 x", "1 f", "1mm", "1 kg", "1e999", "nan", "1..2"])
def test_parse_quantity_rejects_non_quantities(text):
    with pytest.raises(ValueError, match="expected|finite"):
        parse_quantity(text)


def test_prefixes_are_case_sensitive():
    assert parse_quantity("1m").value == 1e-3
    assert parse_quantity("1M").value == 1e6


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_spice_round_trips_in_exponent_notation(value):
    text = format_spice(value)
    assert float(text) == value
    assert "e" in text
    assert not any(c in text for c in "MmKkGgUuNnPpFf" if c not in "e")


def test_format_spice_refuses_nan_and_inf():
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError):
            format_spice(bad)


def test_format_si_is_for_humans():
    assert format_si(4.7e-9, "F") == "4.7 nF"
    assert format_si(1200, "Hz") == "1.2 kHz"
    assert format_si(1e3, "ohm") == "1 kΩ"
