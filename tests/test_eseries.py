"""E-series tables and the small functions that quantise to them."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2nn_compiler import eseries
from r2nn_compiler.eseries import SERIES

NAMES = list(SERIES)

#: Values spanning every decade a part may land in: 1 pF … 1 GΩ.
values = st.floats(-12, 9).map(lambda e: 10.0**e)
names = st.sampled_from(NAMES)


def test_irregular_e24_values_are_present():
    for v in (2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 8.2):
        assert v in eseries.series("E24")


def test_e192_contains_9_20_not_the_formulas_9_19():
    assert 9.20 in eseries.series("E192")
    assert 9.19 not in eseries.series("E192")


def test_tables_depart_from_the_rounded_formula_only_where_the_standard_does():
    departures = {}
    for name, table in SERIES.items():
        digits = 1 if len(table) <= 24 else 2
        formula = [round(10 ** (i / len(table)), digits) for i in range(len(table))]
        departures[name] = [v for v, f in zip(table, formula) if not math.isclose(v, f)]
    assert departures == {
        "E3": [4.7], "E6": [3.3, 4.7], "E12": [2.7, 3.3, 3.9, 4.7, 8.2],
        "E24": [2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7, 8.2], "E48": [], "E96": [], "E192": [9.20],
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_table_is_sorted_in_one_decade_with_3_times_a_power_of_two_values(name):
    table = eseries.series(name)
    assert list(table) == sorted(set(table))
    assert table[0] == 1.0 and table[-1] < 10.0
    assert len(table) == int(name[1:]) and math.log2(len(table) / 3).is_integer()
    digits = 1 if len(table) <= 24 else 2
    assert all(round(v, digits) == v for v in table)


@pytest.mark.parametrize("coarse, fine", [("E3", "E6"), ("E6", "E12"), ("E12", "E24"), ("E48", "E96"),
                                          ("E96", "E192")])
def test_each_series_is_every_other_value_of_the_next_finer(coarse, fine):
    assert eseries.series(coarse) == eseries.series(fine)[::2]


def test_unknown_series_names_the_known_ones():
    with pytest.raises(ValueError, match="E5.*E3, E6, E12, E24, E48, E96, E192"):
        eseries.series("E5")


def test_series_names_are_case_insensitive():
    assert eseries.series("e96") is eseries.series("E96")


def test_step_is_the_largest_adjacent_ratio_across_the_decade_too():
    assert eseries.step("E3") == pytest.approx(2.2)
    assert eseries.step("E24") == pytest.approx(1.5 / 1.3)


def test_series_values_are_the_doubles_a_parser_reads():
    assert eseries.nearest(4.7e-9, "E24") == 4.7e-9
    assert eseries.neighbours(4.7e-9, "E12") == (4.7e-9, 4.7e-9)
    assert eseries.neighbours(9.6e3, "E24") == (9.1e3, 10e3)
    assert eseries.decade_values("E6", 1e-12, 1e-10) == [1e-12, 1.5e-12, 2.2e-12, 3.3e-12, 4.7e-12, 6.8e-12,
                                                         1e-11, 1.5e-11, 2.2e-11, 3.3e-11, 4.7e-11, 6.8e-11, 1e-10]


def test_candidates_lie_either_side_of_the_value():
    assert eseries.candidates(4.75e-9, "E24") == (4.3e-9, 4.7e-9, 5.1e-9, 5.6e-9)
    assert eseries.candidates(9.5, "E12", 1) == (8.2, 10.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_neighbours_needs_a_finite_positive_value(bad):
    with pytest.raises(ValueError, match="finite positive"):
        eseries.neighbours(bad, "E24")


def test_nearest_of_a_negative_value_keeps_the_sign():
    assert eseries.nearest(-3.4e3, "E12") == -3.3e3


@settings(max_examples=300)
@given(values, names)
def test_nearest_is_in_the_series_and_within_half_a_step(value, name):
    q = eseries.nearest(value, name)
    assert eseries.is_in_series(q, name)
    assert abs(math.log(q / value)) <= math.log(eseries.step(name)) / 2 + 1e-12


@given(values, names)
def test_neighbours_bracket_the_value_with_nothing_between(value, name):
    below, above = eseries.neighbours(value, name)
    assert below <= value <= above
    assert len(eseries.decade_values(name, below, above)) <= 2


@given(st.integers(-12, 8), names)
def test_a_decade_holds_every_mantissa_once_as_the_decimal_double(exponent, name):
    expected = [float(f"{m!r}e{exponent}") for m in eseries.series(name)] + [float(f"1e{exponent + 1}")]
    assert eseries.decade_values(name, 10.0**exponent, 10.0 ** (exponent + 1)) == expected


def all_pairs(value: float, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: relative errors of every series and parallel pair of series values within
    four decades of ``value``."""
    v = np.array(eseries.decade_values(name, value * 1e-4, value * 1e4))
    a, b = np.meshgrid(v, v)
    return np.abs((a + b) / value - 1), np.abs(a * b / (a + b) / value - 1)


@settings(max_examples=60, deadline=None)
@given(values, st.sampled_from(["E3", "E6", "E12", "E24"]), st.floats(1e-4, 1e-2))
def test_best_pair_meets_the_target_or_is_the_best_single_when_no_pair_does(value, name, target):
    pair = eseries.best_pair(value, name, target)
    combine = {"single": lambda v: v[0], "series": sum, "parallel": lambda v: v[0] * v[1] / (v[0] + v[1])}
    assert pair.achieved == pytest.approx(combine[pair.kind](pair.values), rel=1e-12)
    assert pair.rel_error == pytest.approx(abs(pair.achieved / value - 1), rel=1e-9, abs=1e-15)
    assert all(eseries.is_in_series(v, name) for v in pair.values)
    best_single = min(abs(q / value - 1) for q in eseries.neighbours(value, name))
    in_series, in_parallel = all_pairs(value, name)
    best_two = min(in_series.min(), in_parallel.min())
    if pair.kind == "single":
        assert pair.rel_error == pytest.approx(best_single)
        assert best_single <= target or best_two > target
    else:
        assert best_single > target
        assert pair.rel_error <= target
        assert pair.rel_error <= best_two + 1e-12


def test_best_pair_prefers_one_part():
    assert eseries.best_pair(4.7e3, "E24", 1e-3) == eseries.Pair("single", (4.7e3,), 4.7e3, 0.0)


def test_best_pair_finds_an_exact_e96_series_pair():
    pair = eseries.best_pair(1234.5, "E96", 1e-3)
    assert pair.kind == "series" and pair.rel_error < 1e-12


@settings(max_examples=80, deadline=None)
@given(values, names, st.sampled_from([("series", "parallel"), ("series",), ("parallel",)]))
def test_the_vectorised_pair_search_is_the_one_at_a_time_search(value, name, connections):
    """Same candidates in the same order and the same float operations: the same pair, ties
    included (``best_pair`` uses the vectorised search inside the cached decades)."""
    fast = eseries._best_pair_vectorised(value, name, connections)
    assert fast == eseries._best_pair_search(value, name, connections)


def test_a_parallel_partner_beyond_the_cached_decades_is_still_found():
    # 100 − 4e-13: the E3 part 100 in parallel wants a partner near 2.4e16 ohm.
    value = 99.99999999999959
    assert eseries._best_pair_vectorised(value, "E3", ("parallel",)) == \
        eseries._best_pair_search(value, "E3", ("parallel",))


def test_pairs_outside_the_cached_decades_still_work():
    for value in (3.3e-17, 4.321e13):
        pair = eseries.best_pair(value, "E96", 1e-4)
        assert pair.rel_error <= 1e-4 and all(eseries.is_in_series(v, "E96") for v in pair.values)
