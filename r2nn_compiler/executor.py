"""One executor interface for work that fans out (Monte Carlo draws, verification batches).

``make_executor()`` gives local worker processes over all cores. Tasks are plain picklable
functions and arguments; results come back in order. Small jobs run in this process, where a
pool would cost more than it saves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any


class LocalExecutor:
    """Worker processes on this machine (``workers`` defaults to the number of cores)."""

    def __init__(self, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for each item, results in order, as they complete in order."""
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            yield from map(fn, items)
            return
        with ProcessPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            yield from pool.map(fn, items)


def make_executor(workers: int | None = None) -> LocalExecutor:
    return LocalExecutor(workers)
