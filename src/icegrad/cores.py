"""How many CPU cores this process may use, and how processes that run side by side share them.

TensorFlow sizes its thread pools to every core of the machine. Two such processes on the same cores
oversubscribe them, and TensorFlow's CPU kernels slow down far more than in proportion: on the
2-core reference machine, two processes each forecasting 32 samples six times with IceNet's 100 km
network took 6.9 s each side by side, against 2.0 s for one alone and 3.4 s each when each process
was given one thread (measured 2026-12-06). Whatever runs several TensorFlow processes at once (the
test runner's workers, the book's chapter lanes) therefore gives each its share of the cores through
the environment, which TensorFlow reads when its runtime starts, before any thread pool exists.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
"""The variables that size TensorFlow's (and OpenMP's) thread pools in a process started with them."""


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one, else all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_process(processes: int, cores: int | None = None) -> int:
    """Each of ``processes`` concurrent processes' fair share of ``cores`` (default: the usable ones), ≥ 1."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    return max(1, (cores or usable_cores()) // processes)


def share_cores(processes: int, environ: MutableMapping[str, str] | None = None,
                cores: int | None = None) -> int:
    """Size the thread pools of processes started from here (and of this one, before TensorFlow starts)
    for ``processes`` of them running side by side; returns the threads each gets.

    A thread count the user already set in the environment wins: it is theirs to choose. With one
    process nothing is set, so TensorFlow keeps its own defaults.
    """
    env = os.environ if environ is None else environ
    threads = threads_per_process(processes, cores)
    if processes > 1:
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    return threads
