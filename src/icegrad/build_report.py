"""The record of a book build or chapter run: wall time and peak memory of each chapter, and the machine.

Peak memory is measured where the chapter ran: in the Jupyter kernel, not in the papermill parent
(whose own footprint says nothing about the chapter). :func:`with_probe` appends a cell to the copy
papermill executes, which prints the kernel's ``getrusage`` peak resident set size (on Linux the same
figure as ``VmHWM`` in ``/proc/self/status``) and CPU time, and :func:`take_probe` reads that output
back and removes the cell, so the executed notebook on the page shows no plumbing. The README's time
and memory figures come from these records (``_build/book_report.json``).
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nbformat

from icegrad.cores import usable_cores
from icegrad.files import write_text

BOOK_REPORT = "book_report.json"
RUN_REPORT = "run_report.json"
PROBE_KEY = "icegrad_probe"
PROBE_MARKER = "icegrad-kernel-usage:"

# Runs in the kernel: stdlib only and no names left behind. The peak is VmHWM of /proc/self/status where
# Linux has it: ru_maxrss also counts the memory of the process that started the kernel (Linux carries
# the parent's high-water mark across fork and exec), so a kernel started by a 2.5 GB test worker
# reported 2.5 GB for an empty notebook. Elsewhere ru_maxrss (KiB on Linux, bytes on macOS); without
# the resource module (Windows) the figures are null rather than a failed chapter.
PROBE_SOURCE = f"""\
def _icegrad_usage():
    import sys
    try:
        import resource
    except ImportError:
        return {{"peak_rss_mib": None, "cpu_seconds": None}}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    try:
        with open("/proc/self/status") as status:
            peak = next(int(line.split()[1]) / 2**10 for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        pass
    return {{"peak_rss_mib": peak, "cpu_seconds": usage.ru_utime + usage.ru_stime}}
print({PROBE_MARKER!r} + __import__("json").dumps(_icegrad_usage()))
del _icegrad_usage
"""


@dataclass(frozen=True)
class ChapterRun:
    """One executed chapter: wall seconds seen by the parent, peak memory and CPU seen by its kernel."""

    chapter: str
    output: Path
    parameters: dict[str, Any]
    wall_seconds: float
    peak_rss_mib: float | None
    cpu_seconds: float | None

    def record(self) -> dict[str, Any]:
        """The JSON form (the output path is local to this machine, so it is left out)."""
        fields = asdict(self)
        del fields["output"]
        return fields


def with_probe(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with the measuring cell last, so it sees the whole chapter's peak.

    The cell is tagged ``remove-cell`` as well: if a killed build leaves it in an autosaved copy,
    Jupyter Book still does not show it.
    """
    probed = copy.deepcopy(notebook)
    cell = nbformat.v4.new_code_cell(PROBE_SOURCE, metadata={PROBE_KEY: True, "tags": ["remove-cell"]})
    if probed.get("nbformat_minor", 0) < 5:
        del cell["id"]  # cell ids are nbformat 4.5's; an older notebook with one would not validate
    probed.cells.append(cell)
    return probed


def take_probe(executed: nbformat.NotebookNode) -> dict[str, float | None]:
    """Remove the probe cell from ``executed`` (in place); return what it measured (nulls if it never ran)."""
    usage: dict[str, float | None] = {"peak_rss_mib": None, "cpu_seconds": None}
    kept = []
    for cell in executed.cells:
        if not cell.get("metadata", {}).get(PROBE_KEY):
            kept.append(cell)
            continue
        for output in cell.get("outputs", []):
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(PROBE_MARKER):
                    measured = json.loads(line[len(PROBE_MARKER):])
                    usage.update({k: None if v is None else round(v, 1) for k, v in measured.items()})
    executed.cells = kept
    return usage


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model and GPUs of this machine: what a reader needs to compare the figures."""
    return {"cores": os.cpu_count(), "usable_cores": usable_cores(), "memory_mib": _memory_mib(),
            "cpu_model": _cpu_model(), "gpu": _gpus() or "none", "platform": platform.platform(),
            "python": platform.python_version()}


def _memory_mib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    """NVIDIA GPUs by name, from ``nvidia-smi`` (importing TensorFlow here would cost seconds and memory)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        result = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode:
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


class Recorder:
    """Collects a build's chapter runs and rewrites its report after each one.

    Written after every chapter, so a build that fails or is interrupted after an hour still leaves
    the figures of the chapters it finished (``complete`` false, the step named in ``failed_at``).
    """

    def __init__(self, target: Path, parameters: Mapping[str, Any]) -> None:
        self.target, self.parameters = target, dict(parameters)
        self.runs: list[ChapterRun] = []
        self.machine = machine()
        self.start = time.perf_counter()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Around one chapter's execution (or the HTML build): if it raises, record the failure there."""
        try:
            yield
        except BaseException:
            self.save(complete=False, failed=name)
            raise

    def add(self, run: ChapterRun) -> None:
        """Record a finished chapter (the report lists chapters by name, i.e. in the book's numbering,
        whatever order lanes finished them in)."""
        self.runs.append(run)
        self.save(complete=False)

    def save(self, *, complete: bool, html_seconds: float | None = None,
             failed: str | None = None) -> dict[str, Any]:
        """Write the report atomically (a kill mid-write leaves the previous one whole) and return it."""
        peaks = [run.peak_rss_mib for run in self.runs if run.peak_rss_mib is not None]
        record = {
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "complete": complete,
            "failed_at": failed,
            "total_wall_seconds": round(time.perf_counter() - self.start, 1),
            "html_seconds": None if html_seconds is None else round(html_seconds, 1),
            "max_peak_rss_mib": max(peaks) if peaks else None,
            "machine": self.machine,
            "parameters": self.parameters,
            "chapters": [run.record() for run in sorted(self.runs, key=lambda run: run.chapter)],
        }
        write_text(json.dumps(record, indent=2, default=str) + "\n", self.target)
        return record


def table(record: Mapping[str, Any]) -> str:
    """The record as a small text table: one row per chapter, the total and the machine."""
    rows = [(c["chapter"], f"{c['wall_seconds']:.0f}", _mib(c["peak_rss_mib"])) for c in record["chapters"]]
    rows.append(("total" + ("" if record["complete"] else " (incomplete)"),
                 f"{record['total_wall_seconds']:.0f}", _mib(record["max_peak_rss_mib"]) + " max"))
    width = max(len("chapter"), *(len(row[0]) for row in rows))
    lines = [f"{'chapter':<{width}}  {'wall s':>7}  {'peak RSS MiB':>12}"]
    lines += [f"{name:<{width}}  {wall:>7}  {peak:>12}" for name, wall, peak in rows]
    m = record["machine"]
    gpu = m["gpu"] if isinstance(m["gpu"], str) else ", ".join(m["gpu"])
    memory = "?" if m["memory_mib"] is None else f"{m['memory_mib'] / 1024:.1f} GiB"
    lines.append(f"machine: {m['usable_cores']} of {m['cores']} cores, {memory}, {m['cpu_model']}, "
                 f"GPU: {gpu}")
    return "\n".join(lines)


def _mib(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"
