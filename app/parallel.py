"""Use the other cores: run a generator in a forked child process and consume what it
yields here, so producing rows (generating, parsing, validating) overlaps with writing
them (`in_child`); or map tasks over worker processes, in order (`Workers`)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from queue import Empty, Full
from typing import Any, TypeVar

T = TypeVar("T")


def in_child(make: Callable[[], Iterator[T]], what: str = "producer") -> Iterator[T]:
    """Run `make()` in a forked process (a second core) and yield what it produces.

    The child must not touch the database: it only computes. Stopping early (closing
    this generator) terminates the child.
    """
    ctx = multiprocessing.get_context("fork")
    queue: Any = ctx.Queue(maxsize=4)
    parent = os.getpid()

    def put(item: tuple[str, Any]) -> None:
        while True:  # a parent killed with SIGKILL leaves us orphaned: stop then
            try:
                queue.put(item, timeout=1)
                return
            except Full:
                if os.getppid() != parent:
                    os._exit(1)

    def produce() -> None:
        gc.freeze()  # the parent's objects: never scanned here, never copied on write
        try:
            for item in make():
                put(("chunk", item))
            put(("end", None))
        except BaseException:
            put(("error", traceback.format_exc()))

    child = ctx.Process(target=produce, daemon=True)
    child.start()
    try:
        while True:
            # Unpickling a chunk makes many objects: without this, each one would run full
            # garbage collections over this process's (large) heap.
            gc.disable()
            try:
                kind, payload = queue.get(timeout=1)
            except Empty:
                if not child.is_alive():
                    raise RuntimeError(f"the {what} stopped") from None
                continue
            finally:
                gc.enable()
            if kind == "end":
                return
            if kind == "error":
                raise RuntimeError(f"the {what} failed:\n{payload}")
            yield payload
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        queue.close()


def can_fork() -> bool:
    """Whether this platform can fork a child (Linux and macOS can; Windows cannot)."""
    return "fork" in multiprocessing.get_all_start_methods()


def default_processes() -> int:
    """Worker processes for CPU-bound work: one per core (at most 8)."""
    return max(1, min(os.cpu_count() or 1, 8))


class Workers:
    """An ordered map over tasks in `processes` worker processes (in this process when
    1, or where processes cannot be forked).

    Use as a context manager; `map(fn, tasks)` takes (tag, args) pairs and yields
    (tag, fn(*args)) in the order given, with a few tasks in flight so that producing
    tasks and consuming results here overlap with the work. `fn` must be a module-level
    function; workers are forked (from a fork server preloading the modules `preload`
    when this process runs other threads, whose locks a fork would copy)."""

    def __init__(self, processes: int, preload: tuple[str, ...] = ()):
        self.processes = max(1, int(processes))
        self.preload = preload
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Workers:
        if self.processes > 1 and can_fork():
            if threading.active_count() == 1:
                # a single thread (the CLI, a process-based worker): a plain fork is safe
                context = multiprocessing.get_context("fork")
            else:  # other threads may hold locks a forked child would inherit
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(list(self.preload))
            self.pool = ProcessPoolExecutor(self.processes, mp_context=context)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def map(self, fn, tasks: Iterable[tuple[Any, tuple]]) -> Iterator[tuple[Any, Any]]:
        """(tag, fn(*args)) for each (tag, args) of `tasks`, in order; a task's error is
        raised here when its turn comes."""
        if self.pool is None:
            for tag, args in tasks:
                yield tag, fn(*args)
            return
        ahead = self.processes + 1
        pending: deque[tuple[Any, Future]] = deque()
        for tag, args in tasks:
            pending.append((tag, self.pool.submit(fn, *args)))
            if len(pending) >= ahead:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()
