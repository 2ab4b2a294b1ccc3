"""The docstring examples run as doctests (``--doctest-modules`` on ``src``, see pyproject.toml);
one that is skipped shows a call nobody checks, so none may be."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "icegrad"
SKIP = re.compile(r"doctest:.*[+]SKIP")


def skipped_examples(root: Path) -> list[str]:
    return [f"{path.relative_to(root.parent)}:{number}" for path in sorted(root.rglob("*.py"))
            for number, line in enumerate(path.read_text().splitlines(), start=1) if SKIP.search(line)]


def test_no_docstring_example_is_skipped() -> None:
    assert not skipped_examples(PACKAGE), ("make these examples cheap enough to run (see src/conftest.py "
                                           "for the shared small objects), or turn them into prose")


def test_the_check_sees_a_skip(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text('"""\n>>> slow()  # doctest: +SKIP\n>>> 1 + 1\n2\n"""\n')
    assert skipped_examples(tmp_path / "pkg") == ["pkg/m.py:2"]
