"""benchmarks/chapter_memory.py: a chapter's cells run in order with its parameters, and the peak is placed.

A hand-made notebook stands in for a chapter (a real one takes minutes): its second cell holds ~200 MiB in
a function for half a second, so the peak must be found there, in that function, and not in the cells
around it. Bad input is refused in one line before anything runs.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HOLD = '''import time
import numpy as np

def hold_a_block():
    block = np.ones(200 * 2**20 // 8)
    time.sleep(0.5)
    return float(block[0])

held = hold_a_block()'''


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("chapter_memory_benchmark",
                                                  ROOT / "benchmarks" / "chapter_memory.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def notebook(folder: Path) -> Path:
    cells = [nbformat.v4.new_code_cell("size = 1  # the default", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("%matplotlib inline\nscaled = size * 2"),
             nbformat.v4.new_code_cell(HOLD),
             nbformat.v4.new_code_cell("after = scaled + held")]
    path = folder / "chapter.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_parameters_follow_their_cell_and_magics_are_skipped(benchmark, tmp_path):
    cells = benchmark.code_cells(notebook(tmp_path), {"size": 5})
    assert [source for _, source in cells[:3]] == ["size = 1  # the default", "size = 5", "scaled = size * 2"]
    assert benchmark.code_cells(notebook(tmp_path), {})[1][1] == "scaled = size * 2"


def test_the_peak_is_found_in_the_function_that_held_it(benchmark, tmp_path, capsys):
    sampler = benchmark.Sampler(interval=0.01, step=25).start()
    start = benchmark.rss_mib()
    try:
        benchmark.run(notebook(tmp_path), {"size": 5}, sampler)
    finally:
        sampler.stop()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[2].startswith("cell  1") and lines[3].startswith("cell  2")
    highest = [int(line.split("highest")[1].split("MiB")[0]) for line in lines]
    assert highest[3] >= start + 150  # the cell that held the block
    assert max(highest[:3] + highest[4:]) < highest[3] - 100  # and no other
    assert sampler.peak >= start + 150 and sampler.peak_stack[-1].endswith("hold_a_block")
    assert "hold_a_block" in benchmark.report(sampler)


@pytest.mark.parametrize(("argv", "message"), [
    (["99"], "unknown chapter '99'"),
    (["09", "-p", "no_such_parameter", "1"], "has no parameter 'no_such_parameter'"),
    (["09", "--interval", "0"], "--interval must be > 0"),
])
def test_bad_input_is_refused_in_one_line(benchmark, capsys, argv, message):
    assert benchmark.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
