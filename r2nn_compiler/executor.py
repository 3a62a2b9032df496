"""One executor interface for work that fans out (Monte Carlo draws, verification runs).

``make_executor()`` gives worker processes on this machine, one per core;
``make_executor(scheduler="tcp://host:8786")`` the workers of a Dask distributed cluster. Both
offer the same three things: ``map(fn, items)`` (results in order, as they arrive),
``workers`` (how many tasks run at once, so callers can cut work into that many pieces) and
``close()`` (or ``with``). Tasks are module-level functions of picklable arguments (dataclasses,
numpy arrays) that carry everything they need: a Dask worker may run on another machine, so a
task may use a local file only if it also ships its content. Workers need r2nn-compiler (and
ngspice, for simulations) installed. Small jobs run in this process, where a pool would cost
more than it saves.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import R2nnError

#: Seconds allowed to reach a Dask scheduler and hear it answer.
CONNECT_TIMEOUT_S = 10.0


class ExecutorError(R2nnError):
    """The work cannot be run where it was sent: the Dask scheduler is unreachable or not a
    scheduler, dask.distributed is missing, or the cluster lost a worker."""


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
            try:
                yield from pool.map(fn, items)
            except BrokenProcessPool:
                raise ExecutorError("a worker process died (out of memory?): rerun with fewer --workers") from None

    def close(self) -> None:
        """Nothing to release: each ``map`` call owns its pool."""

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DaskExecutor:
    """The workers of a Dask distributed cluster whose scheduler listens at ``address``
    (``tcp://host:8786``, as ``dask scheduler`` prints it)."""

    def __init__(self, address: str, timeout_s: float = CONNECT_TIMEOUT_S):
        try:
            from distributed import Client
        except ImportError:
            raise ExecutorError("--scheduler needs dask.distributed: pip install 'dask[distributed]'") from None
        self.address = address
        _probe_scheduler(address, timeout_s)
        try:
            self.client = Client(address, timeout=timeout_s, set_as_default=False)
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"cannot connect to the Dask scheduler at {address!r}: {exc}") from None

    @property
    def workers(self) -> int:
        """Worker threads in the cluster now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn(item)`` for each item on the cluster, results in order. A task's own error is
        raised as it is; losing a worker or the scheduler raises ExecutorError."""
        from distributed import KilledWorker

        futures = self.client.map(fn, list(items), pure=False)
        try:
            for future in futures:
                try:
                    yield future.result()
                except (KilledWorker, CancelledError, OSError) as exc:
                    raise ExecutorError(f"the Dask cluster at {self.address} failed to run a task: "
                                        f"{type(exc).__name__}: {exc}") from None
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _probe_scheduler(address: str, timeout_s: float) -> None:
    """Raise ExecutorError unless a Dask scheduler answers at ``address``. Checked before a
    Client exists: a Client that failed to connect complains on stderr when collected."""
    from distributed.comm import parse_address, parse_host_port
    from distributed.core import rpc

    try:
        scheme, location = parse_address(address)
        if scheme == "tcp":  # refused or unknown hosts fail at once instead of after the timeout
            socket.create_connection(parse_host_port(location), timeout=timeout_s).close()
    except (ValueError, OSError) as exc:
        raise ExecutorError(f"cannot reach a Dask scheduler at {address!r}: {exc or type(exc).__name__}") from None

    async def identity() -> dict:
        remote = rpc(address, timeout=timeout_s)
        try:
            return await asyncio.wait_for(remote.identity(), timeout_s)
        finally:
            await remote.close_rpc()

    try:  # in a thread of its own: the caller may be inside an event loop (a notebook)
        with ThreadPoolExecutor(1) as thread:
            info = thread.submit(asyncio.run, identity()).result()
    except asyncio.TimeoutError:
        raise ExecutorError(f"cannot reach a Dask scheduler at {address!r}: no answer within {timeout_s:g} s") from None
    except (OSError, ValueError) as exc:
        raise ExecutorError(f"cannot reach a Dask scheduler at {address!r}: {exc or type(exc).__name__}") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        raise ExecutorError(f"{address!r} answers, but not as a Dask scheduler")


def make_executor(workers: int | None = None, scheduler: str | None = None) -> LocalExecutor | DaskExecutor:
    """Local worker processes (``workers``, default: one per core), or the Dask cluster whose
    scheduler is at ``scheduler``. Raises ExecutorError when that scheduler cannot be reached."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    return LocalExecutor(workers)
