"""Use the second core: run a generator in a forked child process and consume what it
yields here, so producing rows (generating, parsing, validating) overlaps with writing them."""

from __future__ import annotations

import gc
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator
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
