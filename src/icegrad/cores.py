"""How many CPU cores this process may use, and how processes that run side by side share them.

TensorFlow sizes its thread pools to every core of the machine. Two such processes on the same cores
oversubscribe them, and TensorFlow's CPU kernels slow down far more than in proportion: on the
2-core reference machine, two processes each forecasting 32 samples six times with IceNet's 100 km
network took 6.9 s each side by side, against 2.0 s for one alone and 3.4 s each when each process
was given one thread (measured 2026-12-06). Whatever runs several TensorFlow processes at once (the
test runner's workers, the book's chapter lanes) therefore gives each its share of the cores through
the environment, which TensorFlow reads when its runtime starts, before any thread pool exists.

A container may also be given less CPU time than its machine has cores (mybinder.org's sessions: one or
two cores' worth on a host of dozens). TensorFlow still sizes its pools to the host, paying a thread's
buffers for each core it cannot use; the chapters (:mod:`icegrad.pages.common`) therefore size the pools
to the cgroup's CPU quota too.
"""

from __future__ import annotations

import math
import os
from collections.abc import MutableMapping
from pathlib import Path

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
"""The variables that size TensorFlow's (and OpenMP's) thread pools in a process started with them."""


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """Cores' worth of CPU time this process's cgroup may use (v2 ``cpu.max``, else v1's CFS quota);
    None where there is no limit or no cgroup to read."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity where the system has one, else all of them, and no
    more than its cgroup's CPU quota (rounded up)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota()
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


def threads_per_process(processes: int, cores: int | None = None) -> int:
    """Each of ``processes`` concurrent processes' fair share of ``cores`` (default: the usable ones), ≥ 1."""
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    return max(1, (cores or usable_cores()) // processes)


def share_cores(processes: int, environ: MutableMapping[str, str] | None = None,
                cores: int | None = None, machine_cores: int | None = None) -> int:
    """Size the thread pools of processes started from here (and of this one, before TensorFlow starts)
    for ``processes`` of them running side by side on ``cores`` (default: the usable ones); returns the
    threads each gets.

    A thread count the user already set in the environment wins: it is theirs to choose. Nothing is set
    where TensorFlow's own default (a thread per core of the machine, ``machine_cores``) is already the
    share: one process that may use every core.
    """
    env = os.environ if environ is None else environ
    usable = cores or usable_cores()
    threads = threads_per_process(processes, usable)
    if processes > 1 or usable < (machine_cores or os.cpu_count() or 1):
        for name in THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    return threads
