"""``icegrad book`` and ``icegrad run`` record each chapter's wall time and its kernel's peak memory.

A two-cell book in tmp_path keeps this fast: one chapter whose ``megabytes`` parameter sets how much it
allocates. The book build executes it at 0 MB, a run at 300 MB; the run's kernel must report a peak
above 300 MiB, which the papermill parent (a few MiB of work here) could never show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from icegrad import book
from icegrad.build_report import BOOK_REPORT, PROBE_MARKER, PROBE_SOURCE, RUN_REPORT, Recorder
from icegrad.lanes import LaneError

ALLOCATE = """\
assert megabytes >= 0, "megabytes must be >= 0"
block = b"x" * (megabytes * 2**20)  # every page written, so all of it is resident"""


def tiny_book(root: Path) -> Path:
    """A repository with one chapter: a parameters cell and a cell that allocates ``megabytes`` MB."""
    (root / "book").mkdir(parents=True)
    toc = "format: jb-book\nroot: book/01_intro\nchapters:\n  - file: book/02_alloc\n"
    (root / "_toc.yml").write_text(toc)
    (root / "book" / "01_intro.md").write_text("# Intro\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("megabytes = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(ALLOCATE),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(notebook, root / "book" / "02_alloc.ipynb")
    return root


def test_book_and_run_report_wall_time_and_kernel_peak_memory(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tiny_book(tmp_path / "repo")

    book.build_book(root, progress=False, html=False)
    built = json.loads((root / "_build" / BOOK_REPORT).read_text())
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"report: {root / '_build' / BOOK_REPORT}"
    row = ["02_alloc", f"{built['chapters'][0]['wall_seconds']:.0f}"]
    assert any(line.split()[:2] == row for line in printed), "no table row for the chapter"
    output = book.run_chapter("02", {"megabytes": "300"}, root, progress=False)
    ran = json.loads((output.parent / RUN_REPORT).read_text())

    assert built["complete"] and ran["complete"]
    (small,), (large,) = built["chapters"], ran["chapters"]
    assert small["chapter"] == large["chapter"] == "02_alloc"
    assert small["parameters"] == {} and large["parameters"] == {"megabytes": 300}
    assert 0 < small["wall_seconds"] <= built["total_wall_seconds"]
    # The kernel holds the 300 MiB block at the end; its start-up high-water mark (~150 MiB) hides part
    # of the difference, so the bounds are the block itself and a clear margin over the empty run.
    assert large["peak_rss_mib"] > 300 and large["peak_rss_mib"] - small["peak_rss_mib"] > 100, (small, large)
    assert small["peak_rss_mib"] > 0
    assert large["cpu_seconds"] > 0
    machine = built["machine"]
    assert machine["cores"] >= 1 and machine["memory_mib"] > 0 and machine["cpu_model"] and machine["gpu"]
    assert not list((root / "_build").glob("**/*.part")), "a report or notebook was left half-written"

    for executed in (root / "_build" / "stage" / "book" / "02_alloc.ipynb", output):
        notebook = nbformat.read(executed, as_version=4)
        chapter_cells = [c.source for c in notebook.cells if "injected-parameters" not in c.metadata.tags]
        assert chapter_cells == ["megabytes = 0", ALLOCATE], f"{executed} shows more than the chapter"
        assert PROBE_MARKER not in executed.read_text()
        assert notebook.metadata.papermill.input_path == str(root / "book" / "02_alloc.ipynb")


def test_a_failed_chapter_is_recorded_and_its_notebook_keeps_no_probe(tmp_path: Path) -> None:
    root = tiny_book(tmp_path / "repo")
    with pytest.raises(papermill.PapermillExecutionError, match="megabytes must be >= 0"):
        book.build_book(root, parameters={"megabytes": -1}, progress=False, html=False)
    record = json.loads((root / "_build" / BOOK_REPORT).read_text())
    assert not record["complete"] and record["failed_at"] == "02_alloc" and record["chapters"] == []
    assert record["parameters"] == {"megabytes": -1}
    assert PROBE_MARKER not in (root / "_build" / "stage" / "book" / "02_alloc.ipynb").read_text()


def test_recorder_table_lists_chapters_total_and_machine(tmp_path: Path) -> None:
    from icegrad.build_report import ChapterRun, table

    recorder = Recorder(tmp_path / "report.json", {"resolution_km": 200})
    recorder.add(ChapterRun("03_september_2013", tmp_path / "03.ipynb", {}, 12.3, 456.7, 10.0))
    recorder.add(ChapterRun("04_icenet", tmp_path / "04.ipynb", {}, 40.0, None, None))
    text = table(recorder.save(complete=True))
    lines = text.splitlines()
    assert lines[1].split() == ["03_september_2013", "12", "457"]
    assert lines[2].split() == ["04_icenet", "40", "?"]
    assert lines[3].startswith("total") and lines[3].split()[-2:] == ["457", "max"]
    assert lines[4].startswith("machine: ") and "GPU: " in lines[4]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_probe_reports_the_kernels_own_peak_not_its_parents() -> None:
    """A kernel started by a large process (a test worker with TensorFlow loaded) reports its own peak.

    Linux carries a parent's high-water mark across fork and exec into the child's ru_maxrss, so the
    probe read through getrusage alone reported a 2.5 GB peak for an empty notebook under pytest.
    """
    ballast = bytearray(600 * 2**20)  # the parent holds 600 MiB when it starts the child
    ballast[:: 2**12] = b"x" * len(ballast[:: 2**12])  # touch every page, so they are resident
    child = subprocess.run([sys.executable, "-c", PROBE_SOURCE], capture_output=True, text=True, check=True)
    (line,) = [x for x in child.stdout.splitlines() if x.startswith(PROBE_MARKER)]
    reported = json.loads(line[len(PROBE_MARKER):])["peak_rss_mib"]
    del ballast
    assert 0 < reported < 300, f"a bare interpreter reported {reported:.0f} MiB: the parent's 600 MiB leaked"


def test_chapters_in_lanes_each_measured_in_its_own_kernel_and_reported_in_book_order(tmp_path: Path) -> None:
    root = tiny_book(tmp_path / "repo")
    toc = "format: jb-book\nroot: book/01_intro\nchapters:\n"
    waits = {"02_alloc": [], "03_alloc": [], "04_last": ["02_alloc", "03_alloc"]}
    for name, after in waits.items():
        notebook = nbformat.read(root / "book" / "02_alloc.ipynb", as_version=4)
        if after:
            notebook.metadata["icegrad"] = {"after": after}
        nbformat.write(notebook, root / "book" / f"{name}.ipynb")
        toc += f"  - file: book/{name}\n"
    (root / "_toc.yml").write_text(toc)
    (root / "_build").mkdir()
    (root / "_build" / BOOK_REPORT).write_text(json.dumps({"chapters": [  # the last build: 03 was longest
        {"chapter": "02_alloc", "wall_seconds": 1.0}, {"chapter": "03_alloc", "wall_seconds": 9.0}]}))

    book.build_book(root, parameters={"megabytes": 100}, progress=False, html=False, jobs=2)
    built = json.loads((root / "_build" / BOOK_REPORT).read_text())

    assert built["complete"] and [c["chapter"] for c in built["chapters"]] == list(waits)
    assert all(c["peak_rss_mib"] is not None and c["parameters"] == {"megabytes": 100}
               for c in built["chapters"])


def test_longest_first_orders_by_the_last_report_else_by_the_expected_times_else_the_toc(
        tmp_path: Path) -> None:
    notebooks = [tmp_path / f"{name}.ipynb" for name in ("02_a", "03_b", "04_c", "05_d")]
    expected = {"02_a": 20, "03_b": None, "04_c": 476, "05_d": 20.5}
    for nb in notebooks:
        metadata = {"icegrad": {"expected_seconds": expected[nb.stem]}} if expected[nb.stem] else {}
        nbformat.write(nbformat.v4.new_notebook(metadata=metadata), nb)
    report = tmp_path / BOOK_REPORT
    # A first build: the metadata's times, longest first; a chapter without one keeps its place after them.
    assert [nb.stem for nb in book.longest_first(notebooks, report)] == ["04_c", "05_d", "02_a", "03_b"]
    report.write_text(json.dumps({"chapters": [{"chapter": "03_b", "wall_seconds": 50},
                                               {"chapter": "04_c", "wall_seconds": 7}]}))
    assert [nb.stem for nb in book.longest_first(notebooks, report)] == ["03_b", "04_c", "02_a", "05_d"]
    report.write_text("{not json")
    assert [nb.stem for nb in book.longest_first(notebooks, report)] == ["04_c", "05_d", "02_a", "03_b"]
    for nb in notebooks:
        nbformat.write(nbformat.v4.new_notebook(), nb)
    assert book.longest_first(notebooks, report) == notebooks  # no times anywhere: the table of contents'
    nbformat.write(nbformat.v4.new_notebook(metadata={"icegrad": {"expected_seconds": "long"}}), notebooks[1])
    with pytest.raises(LaneError, match=r"03_b.ipynb: icegrad.expected_seconds must be a number of seconds"):
        book.longest_first(notebooks, report)
