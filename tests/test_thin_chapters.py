"""Chapters are prose and calls (issue #12, item 7): their logic lives in tested ``icegrad.pages`` modules.

The budget counts every line of every code cell, the parameters cell included (the measure the issue
used: 1,450 lines over the book before the chapters were thinned). Plumbing (imports, glue) is hidden
on the page, so a reader sees the calls that matter and the prose around them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
MAX_LINES_PER_CHAPTER = 80
MAX_LINES_IN_BOOK = 600
HIDDEN = {"remove-input", "hide-input", "remove-cell", "hide-cell"}
PLUMBING = re.compile(r"^\s*(import |from \S+ import |%matplotlib|glue(_all)?\()", re.MULTILINE)


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def code_lines(path: Path) -> int:
    return sum(len(cell.source.splitlines()) for cell in code_cells(path))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_code_is_within_its_budget(notebook: Path) -> None:
    assert code_lines(notebook) <= MAX_LINES_PER_CHAPTER, (
        f"{notebook.name} has {code_lines(notebook)} lines of code (budget {MAX_LINES_PER_CHAPTER}): "
        "move its "
        "logic into its icegrad.pages module")


def test_book_code_is_within_its_budget() -> None:
    total = sum(code_lines(nb) for nb in NOTEBOOKS)
    assert total <= MAX_LINES_IN_BOOK, f"the chapters hold {total} lines of code (budget {MAX_LINES_IN_BOOK})"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_plumbing_cells_are_hidden(notebook: Path) -> None:
    shown = [cell.source.splitlines()[0] for cell in code_cells(notebook)
             if PLUMBING.search(cell.source) and not HIDDEN & set(cell.metadata.get("tags", []))]
    assert not shown, f"{notebook.name} shows plumbing cells (tag them remove-input or hide-input): {shown}"


def test_the_plumbing_pattern_finds_imports_and_glue_but_not_calls() -> None:
    assert PLUMBING.search("from icegrad.pages import icenet\n")
    assert PLUMBING.search("x = 1\nglue_all(page)")
    assert PLUMBING.search("%matplotlib inline")
    assert not PLUMBING.search("skill = icenet.skill_section(ds, ens)\nskill.tables['leads']")
