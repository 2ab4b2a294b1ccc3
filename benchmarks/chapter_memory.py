"""Where a chapter's resident memory peaks: its code cells run in this process while a thread samples RSS.

``icegrad book`` reports how high each chapter's kernel went (``book_report.json``); this says where. The
chapter's code cells run here, in order (IPython magics skipped), in a temporary folder, with each
``-p NAME VALUE`` applied after the ``parameters`` cell as papermill does (checked first, as ``icegrad run``
checks them). A thread reads the resident memory every ``--interval`` seconds and, at each new high,
records the icegrad frames of the main thread's Python stack. It prints a line per cell (seconds,
resident memory at the cell's end, highest during it), then the peak with the stack there, then the rises
that led to it (each new high at least ``--step`` MiB above the last one printed):

    python benchmarks/chapter_memory.py 09
    python benchmarks/chapter_memory.py 05 -p resolution_km 200 --step 50

The cache decides what a chapter computes: point ``ICEGRAD_CACHE_DIR`` at the state to measure (a copy of a
built book's cache without its ``attributions`` and ``baselines`` stages measures a first run's
attributions). Numbers run below a kernel's (no Jupyter machinery, no outputs kept for display), so compare
runs of this script with each other and take a chapter's own figure from ``book_report.json``. Linux only
(it reads ``/proc/self/statm``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

for _name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread, as each chapter of the book build has
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import nbformat  # noqa: E402

STATM = Path("/proc/self/statm")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mib() -> int:
    """This process's resident memory now, MiB."""
    return int(STATM.read_text().split()[1]) * PAGE_BYTES // 2**20


def icegrad_frames(frame: FrameType | None) -> list[str]:
    """``file:line function`` of the frames of icegrad and of the chapter's cells, outermost first."""
    out = []
    while frame is not None:
        code = frame.f_code
        if "icegrad" in code.co_filename or code.co_filename.startswith("<cell"):
            out.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return out[::-1]


@dataclass
class Sampler:
    """Samples RSS every ``interval`` seconds in a daemon thread, keeping the stack at each new high."""

    interval: float = 0.05
    step: int = 25
    peak: int = 0
    cell_high: int = 0
    peak_at: float = 0.0
    peak_stack: list[str] = field(default_factory=list)
    rises: list[tuple[float, int, list[str]]] = field(default_factory=list)
    _start: float = field(default_factory=time.perf_counter)
    _stopped: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Sampler:
        """Start sampling the calling (main) thread; returns self."""
        target = threading.get_ident()
        threading.Thread(target=self._run, args=(target,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop the sampling thread (after its current sample)."""
        self._stopped.set()

    def sample(self, target: int) -> None:
        """Read RSS once; on a new high, record where ``target``'s thread is."""
        now = rss_mib()
        self.cell_high = max(self.cell_high, now)
        if now <= self.peak:
            return
        stack = icegrad_frames(sys._current_frames().get(target))
        self.peak, self.peak_at, self.peak_stack = now, time.perf_counter() - self._start, stack
        if not self.rises or now - self.rises[-1][1] >= self.step:
            self.rises.append((self.peak_at, now, stack))

    def _run(self, target: int) -> None:
        while not self._stopped.is_set():
            self.sample(target)
            self._stopped.wait(self.interval)


def code_cells(notebook: Path, parameters: dict[str, object]) -> list[tuple[int, str]]:
    """The notebook's code cells (index, source without IPython magics), with an assignment of
    ``parameters`` inserted after the cell tagged ``parameters``."""
    cells = []
    for index, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        cells.append((index, "\n".join(line for line in cell.source.splitlines()
                                       if not line.lstrip().startswith(("%", "!")))))
        if "parameters" in cell.get("metadata", {}).get("tags", []) and parameters:
            cells.append((index, "\n".join(f"{name} = {value!r}" for name, value in parameters.items())))
    return cells


def run(notebook: Path, parameters: dict[str, object], sampler: Sampler) -> None:
    """Run the chapter's cells in one namespace in a temporary folder, printing a line per cell."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    with tempfile.TemporaryDirectory(prefix="icegrad-chapter-memory-") as folder:
        here = Path.cwd()
        os.chdir(folder)
        try:
            for index, source in code_cells(notebook, parameters):
                sampler.cell_high, start = rss_mib(), time.perf_counter()
                exec(compile(source, f"<cell {index}>", "exec"), namespace)  # the chapter's own code
                sampler.sample(threading.get_ident())
                last = source.strip().splitlines()[-1][:70] if source.strip() else ""
                print(f"cell {index:2d}: {time.perf_counter() - start:7.1f} s  rss {rss_mib():5d} MiB  "
                      f"highest {sampler.cell_high:5d} MiB | {last}", flush=True)
        finally:
            os.chdir(here)


def report(sampler: Sampler) -> str:
    """The peak, the stack there, and the rises that led to it."""
    lines = [f"peak {sampler.peak} MiB at {sampler.peak_at:.1f} s, in:"]
    lines += [f"    {frame}" for frame in sampler.peak_stack] or ["    (outside icegrad and the cells)"]
    lines.append(f"rises (new highs {sampler.step} MiB or more apart):")
    lines += [f"  {at:8.1f} s {mib:5d} MiB  {' > '.join(stack[-3:])}" for at, mib, stack in sampler.rises]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapter", help="chapter number, stem or file name (as `icegrad run` takes)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between samples (0.05)")
    parser.add_argument("--step", type=int, default=25, help="MiB between the rises printed (25)")
    args = parser.parse_args(argv)
    if not STATM.exists():
        print("chapter_memory needs Linux (/proc/self/statm); run it there", file=sys.stderr)
        return 2
    if not args.interval > 0 or args.step < 1:
        print(f"--interval must be > 0 and --step >= 1 (got {args.interval}, {args.step})", file=sys.stderr)
        return 2
    from icegrad.book import BookError, check_parameters, find_chapter, repository_root

    try:
        notebook = find_chapter(repository_root(Path(__file__).parent), args.chapter)
        parameters = check_parameters(notebook, dict(args.parameter)) if args.parameter else {}
    except BookError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{notebook.name} in this process, cache {os.environ.get('ICEGRAD_CACHE_DIR', '(default)')}",
          flush=True)
    sampler = Sampler(args.interval, args.step).start()
    try:
        run(notebook, parameters, sampler)
    finally:
        sampler.stop()
    print(report(sampler))
    return 0


if __name__ == "__main__":
    sys.exit(main())
