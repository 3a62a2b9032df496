"""IEC 60063 preferred numbers (E-series) for resistors, capacitors and inductors.

The tables are the standard's values written out literally, never recomputed from the formula
10^(i/n): the standard departs from the rounded formula at E24 2.7, 3.0, 3.3, 3.6, 3.9, 4.3,
4.7, 8.2 (and so at the E12/E6/E3 values taken from them) and at E192 9.20. E3 to E24 have two
significant digits, E48 to E192 three. Every series value is a mantissa from its table times a
power of ten; values are built from decimal text (``4.7e-09``), so a series value is the double
nearest the decimal value, exactly as a parser would read it.

"Nearest" is nearest on a logarithmic scale, which is what makes every quantised value lie
within half a step of the ideal one: ``|ln(q / v)| <= ln(step(name)) / 2``.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

# Rows of twelve, so each table can be read against the standard line by line.
E3 = (1.0, 2.2, 4.7)
E6 = (1.0, 1.5, 2.2, 3.3, 4.7, 6.8)
E12 = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
E24 = (1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0,
       3.3, 3.6, 3.9, 4.3, 4.7, 5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1)
E48 = (1.00, 1.05, 1.10, 1.15, 1.21, 1.27, 1.33, 1.40, 1.47, 1.54, 1.62, 1.69,
       1.78, 1.87, 1.96, 2.05, 2.15, 2.26, 2.37, 2.49, 2.61, 2.74, 2.87, 3.01,
       3.16, 3.32, 3.48, 3.65, 3.83, 4.02, 4.22, 4.42, 4.64, 4.87, 5.11, 5.36,
       5.62, 5.90, 6.19, 6.49, 6.81, 7.15, 7.50, 7.87, 8.25, 8.66, 9.09, 9.53)
E96 = (1.00, 1.02, 1.05, 1.07, 1.10, 1.13, 1.15, 1.18, 1.21, 1.24, 1.27, 1.30,
       1.33, 1.37, 1.40, 1.43, 1.47, 1.50, 1.54, 1.58, 1.62, 1.65, 1.69, 1.74,
       1.78, 1.82, 1.87, 1.91, 1.96, 2.00, 2.05, 2.10, 2.15, 2.21, 2.26, 2.32,
       2.37, 2.43, 2.49, 2.55, 2.61, 2.67, 2.74, 2.80, 2.87, 2.94, 3.01, 3.09,
       3.16, 3.24, 3.32, 3.40, 3.48, 3.57, 3.65, 3.74, 3.83, 3.92, 4.02, 4.12,
       4.22, 4.32, 4.42, 4.53, 4.64, 4.75, 4.87, 4.99, 5.11, 5.23, 5.36, 5.49,
       5.62, 5.76, 5.90, 6.04, 6.19, 6.34, 6.49, 6.65, 6.81, 6.98, 7.15, 7.32,
       7.50, 7.68, 7.87, 8.06, 8.25, 8.45, 8.66, 8.87, 9.09, 9.31, 9.53, 9.76)
E192 = (1.00, 1.01, 1.02, 1.04, 1.05, 1.06, 1.07, 1.09, 1.10, 1.11, 1.13, 1.14,
        1.15, 1.17, 1.18, 1.20, 1.21, 1.23, 1.24, 1.26, 1.27, 1.29, 1.30, 1.32,
        1.33, 1.35, 1.37, 1.38, 1.40, 1.42, 1.43, 1.45, 1.47, 1.49, 1.50, 1.52,
        1.54, 1.56, 1.58, 1.60, 1.62, 1.64, 1.65, 1.67, 1.69, 1.72, 1.74, 1.76,
        1.78, 1.80, 1.82, 1.84, 1.87, 1.89, 1.91, 1.93, 1.96, 1.98, 2.00, 2.03,
        2.05, 2.08, 2.10, 2.13, 2.15, 2.18, 2.21, 2.23, 2.26, 2.29, 2.32, 2.34,
        2.37, 2.40, 2.43, 2.46, 2.49, 2.52, 2.55, 2.58, 2.61, 2.64, 2.67, 2.71,
        2.74, 2.77, 2.80, 2.84, 2.87, 2.91, 2.94, 2.98, 3.01, 3.05, 3.09, 3.12,
        3.16, 3.20, 3.24, 3.28, 3.32, 3.36, 3.40, 3.44, 3.48, 3.52, 3.57, 3.61,
        3.65, 3.70, 3.74, 3.79, 3.83, 3.88, 3.92, 3.97, 4.02, 4.07, 4.12, 4.17,
        4.22, 4.27, 4.32, 4.37, 4.42, 4.48, 4.53, 4.59, 4.64, 4.70, 4.75, 4.81,
        4.87, 4.93, 4.99, 5.05, 5.11, 5.17, 5.23, 5.30, 5.36, 5.42, 5.49, 5.56,
        5.62, 5.69, 5.76, 5.83, 5.90, 5.97, 6.04, 6.12, 6.19, 6.26, 6.34, 6.42,
        6.49, 6.57, 6.65, 6.73, 6.81, 6.90, 6.98, 7.06, 7.15, 7.23, 7.32, 7.41,
        7.50, 7.59, 7.68, 7.77, 7.87, 7.96, 8.06, 8.16, 8.25, 8.35, 8.45, 8.56,
        8.66, 8.76, 8.87, 8.98, 9.09, 9.20, 9.31, 9.42, 9.53, 9.65, 9.76, 9.88)

#: Series name → mantissas in [1, 10), ascending.
SERIES: dict[str, tuple[float, ...]] = {
    "E3": E3, "E6": E6, "E12": E12, "E24": E24, "E48": E48, "E96": E96, "E192": E192,
}


@dataclass(frozen=True)
class Pair:
    """How to realise an ideal value from at most two series parts.

    ``kind`` is ``"single"`` (one part), ``"series"`` (two parts, combined a + b) or
    ``"parallel"`` (two parts, combined ab / (a + b)). The names are the connections for
    quantities that add in series (resistance, inductance); capacitances add in parallel, so
    for a capacitor swap the connection. ``values`` are the parts (larger first), ``achieved``
    their combination and ``rel_error`` = |achieved / ideal − 1|.
    """

    kind: str
    values: tuple[float, ...]
    achieved: float
    rel_error: float


def series(name: str) -> tuple[float, ...]:
    """The mantissas of series ``name`` (``"E24"``, case-insensitive), ascending, in [1, 10).

    Raises ValueError naming the known series for an unknown name.
    """
    table = SERIES.get(name.upper()) if isinstance(name, str) else None
    if table is None:
        raise ValueError(f"unknown E-series {name!r}; known series: {', '.join(SERIES)}")
    return table


def step(name: str) -> float:
    """The largest ratio between adjacent values of series ``name`` (across the decade
    boundary too), so "within half a step" means ``|ln(q / v)| <= ln(step(name)) / 2``.

    Raises ValueError for an unknown series.
    """
    table = series(name)
    return max(b / a for a, b in zip(table, table[1:] + (10.0,)))


def decade_values(name: str, lo: float, hi: float) -> list[float]:
    """Every value of series ``name`` in [lo, hi], ascending (any decades, e.g. 1e-12 to 1e-6).

    Raises ValueError for an unknown series, a bound that is not finite and positive, or
    lo > hi.
    """
    table = series(name)
    for bound in (lo, hi):
        _require_positive(bound)
    if lo > hi:
        raise ValueError(f"empty range: lo {lo!r} > hi {hi!r}")
    g = _position(lo, table)
    if _at(table, g) < lo:
        g += 1
    values = []
    while (v := _at(table, g)) <= hi:
        values.append(v)
        g += 1
    return values


def neighbours(value: float, name: str) -> tuple[float, float]:
    """The largest series value <= ``value`` and the smallest >= ``value`` (the same value
    twice when ``value`` is in the series).

    Raises ValueError for an unknown series or a value that is not finite and positive.
    """
    table = series(name)
    _require_positive(value)
    g = _position(value, table)
    below = _at(table, g)
    return (below, below if below == value else _at(table, g + 1))


def candidates(value: float, name: str, count: int = 2) -> tuple[float, ...]:
    """The ``count`` series values at or below ``value`` and the ``count`` above it, ascending.

    Raises ValueError for an unknown series, a value that is not finite and positive, or
    count < 1.
    """
    table = series(name)
    _require_positive(value)
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count!r}")
    g = _position(value, table)
    return tuple(_at(table, k) for k in range(g - count + 1, g + count + 1))


def nearest(value: float, name: str) -> float:
    """The series value nearest ``value`` on a log scale (so within half a step of it).

    A negative value is quantised by magnitude and keeps its sign: negative resistance appears
    in ideal circuits, but no part has it, so a hardware flow should have realised it actively
    before quantising; this only keeps ideal arithmetic total.

    Raises ValueError for an unknown series, zero, or a value that is not finite.
    """
    if value < 0:
        return -nearest(-value, name)
    below, above = neighbours(value, name)
    return below if math.log(value / below) <= math.log(above / value) else above


def is_in_series(value: float, name: str, rel_tol: float = 1e-9) -> bool:
    """Whether ``value`` (positive) equals a value of series ``name`` within ``rel_tol``.

    Raises ValueError for an unknown series or a value that is not finite and positive.
    """
    _require_positive(value)
    return math.isclose(nearest(value, name), value, rel_tol=rel_tol)


def best_pair(value: float, name: str, target: float,
              connections: tuple[str, ...] = ("series", "parallel")) -> Pair:
    """The best way to make ``value`` from at most two series parts within ``target``
    (relative error), the pair wired in one of ``connections`` (values add in "series",
    reciprocals in "parallel").

    The best single value (the neighbour of least relative error) if it is within ``target``;
    otherwise the series pair (a + b) or parallel pair (ab / (a + b)) of least relative error,
    if that is within ``target``; otherwise the best single value (a second part that still
    misses the target is not worth its place on the board). The search is exhaustive yet small: a series pair's larger
    part lies in [value/2.5, value] and a parallel pair's smaller part in (value, 2.5·value], and
    for each such part the best partner is a neighbour of the exact complement.

    Raises ValueError for an unknown series, a value that is not finite and positive, or a
    negative or non-finite target.
    """
    _require_positive(value)
    if not (math.isfinite(target) and target >= 0):
        raise ValueError(f"target must be a finite relative error >= 0, got {target!r}")
    # Rel_error is linear, so the best single part is the neighbour of least linear error,
    # which is not always the nearest on a log scale.
    single = min((Pair("single", (q,), q, abs(q / value - 1)) for q in neighbours(value, name)),
                 key=lambda p: p.rel_error)
    if single.rel_error <= target:
        return single
    best = _best_pair_vectorised(value, name, connections)
    return best if best is not None and best.rel_error <= target else single


def _best_pair_search(value: float, name: str, connections: tuple[str, ...]) -> Pair | None:
    """The pair of least relative error (see :func:`best_pair`), one candidate at a time;
    None when no connection is allowed."""
    pairs = []
    # The larger part of a series pair is at least half of the sum it makes, which may miss
    # ``value`` by up to the error itself: search a little below value/2 (and above 2·value).
    for a in decade_values(name, value / 2.5, value) if "series" in connections else ():
        if a < value:
            pairs += [_pair("series", a, b, value) for b in neighbours(value - a, name)]
    for a in decade_values(name, value, 2.5 * value) if "parallel" in connections else ():
        if a > value:
            pairs += [_pair("parallel", a, b, value) for b in neighbours(a * value / (a - value), name)]
    return min(pairs, key=lambda p: p.rel_error, default=None)


def _best_pair_vectorised(value: float, name: str, connections: tuple[str, ...]) -> Pair | None:
    """:func:`best_pair`'s search over pairs in numpy: the same candidates in the same order
    (so the same pair on ties) and the same float operations; None when no connection is
    allowed. Where a candidate or its complement leaves the cached decades (a parallel part a
    hair above ``value`` wants a partner of 1e16 times it), :func:`_best_pair_search` does it."""
    values = _values_array(name)
    if not (values[0] * 10 < value / 2.5 and 2.5 * value < values[-1] / 10):
        return _best_pair_search(value, name, connections)
    kinds, firsts, seconds, achieved = [], [], [], []
    for kind in ("series", "parallel"):
        if kind not in connections:
            continue
        lo, hi = (value / 2.5, value) if kind == "series" else (value, 2.5 * value)
        a = values[np.searchsorted(values, lo, "left"):np.searchsorted(values, hi, "right")]
        a = a[a < value] if kind == "series" else a[a > value]
        complement = value - a if kind == "series" else a * value / (a - value)
        if complement.size and not (values[0] <= complement.min() and complement.max() < values[-1]):
            return _best_pair_search(value, name, connections)
        g = np.searchsorted(values, complement, "right") - 1
        below = values[g]
        above = np.where(below == complement, below, values[g + 1])
        b = np.stack([below, above], axis=1).ravel()  # per a: its partner below, then above
        a = np.repeat(a, 2)
        kinds += [kind] * a.size
        firsts.append(a)
        seconds.append(b)
        achieved.append(a + b if kind == "series" else a * b / (a + b))
    if not kinds:
        return None
    a, b, got = (np.concatenate(x) for x in (firsts, seconds, achieved))
    errors = np.abs(got / value - 1)
    i = int(np.argmin(errors))
    return Pair(kinds[i], (float(max(a[i], b[i])), float(min(a[i], b[i]))), float(got[i]), float(errors[i]))


def _values_array(name: str) -> np.ndarray:
    """Every value of series ``name`` over :data:`_CACHED_DECADES`, ascending."""
    table = series(name)
    _at(table, 0)  # fills the cache
    return _VALUES[id(table)][2]


def _pair(kind: str, a: float, b: float, value: float) -> Pair:
    achieved = a + b if kind == "series" else a * b / (a + b)
    return Pair(kind, (max(a, b), min(a, b)), achieved, abs(achieved / value - 1))


def _require_positive(value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a finite positive value, got {value!r}")


#: Decades below and above 1 whose values :func:`_at` keeps ready (1e-18 .. 1e+15).
_CACHED_DECADES = (-18, 15)
_VALUES: dict[int, tuple] = {}  # id(table): (table, values as a list, the same as an array)


def _at(table: tuple[float, ...], g: int) -> float:
    """The g-th series value counting from 1 (g = 0) up and down the decades, built from
    decimal text so it is the double nearest the standard's value (kept per table for the
    decades of :data:`_CACHED_DECADES`: the text round trip was most of a pair search's time)."""
    n = len(table)
    cached = _VALUES.get(id(table))
    if cached is None or cached[0] is not table:
        lo, hi = _CACHED_DECADES
        values = [float(f"{table[k % n]!r}e{k // n}") for k in range(lo * n, hi * n)]
        cached = _VALUES[id(table)] = (table, values, np.array(values))
    k = g - _CACHED_DECADES[0] * n
    if 0 <= k < len(cached[1]):
        return cached[1][k]
    return float(f"{table[g % n]!r}e{g // n}")


def _position(value: float, table: tuple[float, ...]) -> int:
    """The index g with ``_at(table, g) <= value < _at(table, g + 1)`` (value positive)."""
    decade = math.floor(math.log10(value))
    g = decade * len(table) + bisect.bisect_right(table, value / 10.0**decade) - 1
    # The mantissa above is rounded; settle the boundary by exact comparison of the values.
    while _at(table, g) > value:
        g -= 1
    while _at(table, g + 1) <= value:
        g += 1
    return g
