"""A small cache of per-system results that callers would otherwise recompute for every signal.

Verification scores clips one at a time, and each exact readout (``window_energy.gramians``,
``foh.impulse_responses``) depends only on the system, the sample period and a length, not on
the clip. :func:`cached` keys a result on the content of the system's matrices (SHA-256) and
those arguments, keeps the ``SIZE`` most recent, and hands out read-only arrays (a caller that
wrote into one would corrupt the next caller's; numpy raises instead).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from .statespace import StateSpace

#: Results kept per cache (least recently used dropped first).
SIZE = 4

_CACHES: dict[str, OrderedDict] = {}


def system_key(system: StateSpace, *extra: Any) -> tuple:
    """A key for ``system``'s matrices (shapes and bytes) and ``extra`` hashable arguments."""
    digest = hashlib.sha256()
    for matrix in (system.A, system.B, system.C, system.D):
        array = np.ascontiguousarray(matrix, dtype=float)
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return (digest.hexdigest(), *extra)


def cached(name: str, key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``key`` in cache ``name`` (arrays, or tuples of them, made read-only)."""
    cache = _CACHES.setdefault(name, OrderedDict())
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    value = compute()
    for array in value if isinstance(value, tuple) else (value,):
        if isinstance(array, np.ndarray):
            array.setflags(write=False)
    cache[key] = value
    while len(cache) > SIZE:
        cache.popitem(last=False)
    return value
