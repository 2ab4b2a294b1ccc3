"""Run a book's chapters side by side in lanes, each once the chapters it reads from have finished.

Chapters share their expensive results through the cache, and :func:`icegrad.cache.entry_lock` makes
two chapters that need the same entry compute it once. Most chapters can therefore run in any order;
only a chapter that *reads* what others cached without ever computing it (the discussion reads ch. 8's
retrained networks) must wait for them. Such a chapter names them in its notebook metadata::

    "icegrad": {"after": ["05_gradient_attribution", "08_permute_and_predict"]}

A chapter may also state the wall time it takes at its defaults, from a measured build
(``"icegrad": {"expected_seconds": 476}``): a first build, which has no report of a previous one to
order the chapters longest first, starts them in that order instead (:func:`expected_seconds`).

The scheduler is the standard library's thread pool: each lane's thread only waits on its papermill
kernel, a process of its own, so the threads never compete for the interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

import nbformat

from icegrad.errors import IcegradError

R = TypeVar("R")

METADATA_KEY = "icegrad"
AFTER_KEY = "after"
EXPECTED_KEY = "expected_seconds"
LANE_MEMORY_MIB = 3072
"""Memory set aside per lane: a chapter's kernel peaked at up to 1980 MiB at the defaults in the build
of e87e360 (its report), and at 2.8 GiB before the memory work; the lane keeps that margin."""


class LaneError(IcegradError):
    """A chapter waits for a chapter that the book does not have, or the waits form a cycle."""


def default_lanes(cores: int, memory_mib: float | None) -> int:
    """As many lanes as there are cores, but no more than the memory holds (at least one)."""
    by_memory = int((memory_mib or 0) // LANE_MEMORY_MIB)
    return max(1, min(cores, by_memory))


def prerequisites(notebooks: Sequence[Path]) -> dict[Path, set[Path]]:
    """The chapters each notebook must wait for, from its ``icegrad.after`` metadata (checked)."""
    by_stem = {nb.stem: nb for nb in notebooks}
    needs: dict[Path, set[Path]] = {}
    for nb in notebooks:
        names = nbformat.read(nb, as_version=4).metadata.get(METADATA_KEY, {}).get(AFTER_KEY, [])
        unknown = [name for name in names if name not in by_stem or name == nb.stem]
        if unknown:
            raise LaneError(f"{nb.name} waits for {unknown}, which are not other chapters of this book; fix "
                            f"its metadata {METADATA_KEY}.{AFTER_KEY} (chapters: {', '.join(by_stem)})")
        needs[nb] = {by_stem[name] for name in names}
    _check_acyclic(needs)
    return needs


def expected_seconds(notebooks: Sequence[Path]) -> dict[str, float]:
    """Each chapter's wall time at its defaults as its metadata ``icegrad.expected_seconds`` states it (0
    where it states none), by notebook stem: only an order for the first build, never a reported figure."""
    expected = {}
    for nb in notebooks:
        value = nbformat.read(nb, as_version=4).metadata.get(METADATA_KEY, {}).get(EXPECTED_KEY, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise LaneError(f"{nb.name}: {METADATA_KEY}.{EXPECTED_KEY} must be a number of seconds (0 or "
                            f"more), got {value!r}; fix its notebook metadata")
        expected[nb.stem] = float(value)
    return expected


def _check_acyclic(needs: Mapping[Path, set[Path]]) -> None:
    done: set[Path] = set()
    while len(done) < len(needs):
        ready = {nb for nb, before in needs.items() if nb not in done and before <= done}
        if not ready:
            stuck = sorted(nb.stem for nb in needs if nb not in done)
            raise LaneError(f"the chapters {stuck} wait for one another in a cycle; fix their metadata "
                            f"{METADATA_KEY}.{AFTER_KEY}")
        done |= ready


def run_in_lanes(order: Sequence[Path], needs: Mapping[Path, set[Path]], lanes: int,
                 run: Callable[[Path], R], finished: Callable[[Path, R], None],
                 failed: Callable[[Path], None]) -> None:
    """Run every chapter of ``order`` with ``run``, at most ``lanes`` at once, each after its ``needs``.

    Ready chapters start in ``order``. ``finished`` is called (in this thread) as each completes. When
    one raises, ``failed`` is told which, no further chapter starts, the running ones finish, and the
    error is raised: a build stops at its first failure, as it does in one lane.
    """
    if lanes < 1:
        raise LaneError(f"lanes must be at least 1, got {lanes}")
    pending, done = list(order), set()
    running: dict[Future[R], Path] = {}
    error: tuple[Path, BaseException] | None = None
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="chapter-lane") as pool:
        while pending or running:
            while error is None and len(running) < lanes:
                ready = next((nb for nb in pending if needs.get(nb, set()) <= done), None)
                if ready is None:
                    break
                pending.remove(ready)
                running[pool.submit(run, ready)] = ready
            if not running:
                break
            completed, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in completed:
                nb = running.pop(future)
                if future.exception() is not None:
                    error = error or (nb, future.exception())
                    continue
                done.add(nb)
                finished(nb, future.result())
    if error is not None:
        failed(error[0])
        raise error[1]
