"""Give the memory a finished TensorFlow computation freed back to the operating system.

glibc's allocator keeps the pages of freed blocks in its heaps (one per allocating thread, and
TensorFlow's thread pools allocate from many), so once a batch of gradients is done the process's
resident memory stays near its peak although much of it is free. A chapter runs several such
computations in one kernel and the leftovers add up under the next one's peak: after ch. 5 at its
defaults computed its attributions, its kernel held 1669 MiB of which ``malloc_trim`` returned 227 MiB
(measured), and a Binder session has 2 GB. Where the C library has no ``malloc_trim`` (macOS, musl)
nothing is done.

TensorFlow's oneDNN kernels (on by default on x86) allocate their large buffers from a pool of their own
that keeps every block it ever took, where ``malloc_trim`` cannot reach it.
:func:`use_system_allocator` sends them to the C library's allocator instead, so those buffers are
released with the rest: a warm re-run of ch. 5 at its defaults then kept 1298 MiB resident at the end
instead of 1534 and peaked at 1612 MiB instead of 1767, for about 5 % more time in its integrated
gradients (measured 2026-12-06 on the 2-core reference machine). In a fresh build the first-run peaks
of ch. 4, 6, 8, 10 and 11 fell by 120-210 MiB while ch. 5's rose by 90 and ch. 9's by 24: the C
library's allocator reaches higher during one computation, oneDNN's pool keeps more after it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import os
from collections.abc import Callable, MutableMapping
from typing import ParamSpec, TypeVar

ONEDNN_SYSTEM_ALLOCATOR = "TF_ONEDNN_USE_SYSTEM_ALLOCATOR"
"""The variable TensorFlow reads, once, before its first oneDNN kernel allocates: "1" for the C library's
allocator, "0" (TensorFlow's default) for oneDNN's own pool."""

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


def use_system_allocator(environ: MutableMapping[str, str] | None = None) -> None:
    """Have TensorFlow's oneDNN kernels allocate through the C library, so their freed buffers can be
    returned to the system (see the module's docstring); a value already in the environment wins.

    Call it before TensorFlow's first computation in this process (the chapters do, on import of
    :mod:`icegrad.pages.common`); the processes started from here inherit it.
    """
    (os.environ if environ is None else environ).setdefault(ONEDNN_SYSTEM_ALLOCATOR, "1")
