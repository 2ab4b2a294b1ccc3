"""The suite's own order: grouped tests first (see conftest.grouped_first)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import grouped_first


def item(name: str, group: str | None = None) -> SimpleNamespace:
    marker = SimpleNamespace(args=(group,)) if group else None
    return SimpleNamespace(name=name, get_closest_marker=lambda m: marker if m == "xdist_group" else None)


def test_grouped_tests_come_first_and_every_other_order_is_kept() -> None:
    items = [item("doc", "doctests"), item("a"), item("real", "book-real"), item("book1", "book"), item("b"),
             item("book2", "book"), item("c")]
    grouped_first(items)
    assert [i.name for i in items] == ["book1", "book2", "real", "doc", "a", "b", "c"]


def test_this_run_collected_the_coarse_book_before_ungrouped_tests(request: pytest.FixtureRequest) -> None:
    names = [i.nodeid for i in request.session.items]
    grouped = [n for n in names if "test_chapter_executes_at_coarse_settings" in n]
    if not grouped:
        pytest.skip("the coarse book is not part of this run")
    assert names.index(grouped[0]) < names.index(request.node.nodeid)
