"""Give the memory a finished TensorFlow computation freed back to the operating system.

glibc's allocator keeps the pages of freed blocks in its heaps (one per allocating thread, and
TensorFlow's thread pools allocate from many), so once a batch of gradients is done the process's
resident memory stays near its peak although much of it is free. A chapter runs several such
computations in one kernel and the leftovers add up under the next one's peak: after ch. 5 at its
defaults computed its attributions, its kernel held 1669 MiB of which ``malloc_trim`` returned 227 MiB
(measured), and a Binder session has 2 GB. Where the C library has no ``malloc_trim`` (macOS, musl)
nothing is done.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


def release_freed_memory() -> bool:
    """Collect garbage and return free heap pages to the system; True if the C library could."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def releases_memory(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a function that runs TensorFlow: once it has returned (its engines, batches and other
    locals gone), release what it freed, so its peak does not stay resident under the next one's."""
    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            release_freed_memory()
    return wrapper
