"""Shared test fixtures: where the optional shared reference material lives, and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from icegrad.cores import share_cores

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("ICEGRAD_SHARED_DIR", REPO_ROOT.parent / "shared"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# pytest-xdist's workers (and the chapter kernels they start) run side by side: each gets its share of
# the cores, or TensorFlow's pools oversubscribe them (see icegrad.cores).
share_cores(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


LONGEST_GROUPS = ("book", "book-real")
"""The xdist groups that take longest, longest first: the coarse book (every chapter, then the rendered
HTML; ~8 of ``make test``'s minutes) and the chapters on the real NSIDC record (~3)."""


def grouped_first(items: list[pytest.Item]) -> None:
    """Put :data:`LONGEST_GROUPS` first, then the other grouped tests, in place; every other order is kept.

    Under ``--dist loadgroup`` a group is one unit of work, run whole on one worker, and units are handed
    out in collection order. In file order the coarse book waited until the workers reached
    ``tests/test_book.py`` and could then run on alone at the end; handed out first, the rest of the suite
    runs beside it.
    """
    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("xdist_group")
        group = None if marker is None else (marker.args[0] if marker.args else marker.kwargs.get("name"))
        if group in LONGEST_GROUPS:
            return LONGEST_GROUPS.index(group)
        return len(LONGEST_GROUPS) + (group is None)

    items.sort(key=rank)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    grouped_first(items)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The shared reference folder (../shared/reference); tests using it skip when it is absent."""
    path = SHARED_DIR / "reference"
    if not path.is_dir():
        pytest.skip(f"shared reference material not found at {path}")
    return path


@pytest.fixture(scope="session")
def real_book_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache of the runs on the real NSIDC record, in their own xdist group beside the coarse book's:
    the SIC-only network they share (200 km, two members, one epoch) trains once."""
    return tmp_path_factory.mktemp("real-book-cache")


@pytest.fixture(scope="session")
def uncopyable_layer() -> type:
    """A Keras layer whose configuration lacks its argument, so Keras cannot copy a network holding it
    (``Layer(factor)(x)`` scales ``x``): what the shared compiled functions must fall back for."""
    import keras

    class Scaled(keras.layers.Layer):
        def __init__(self, factor: float, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x: object) -> object:
            return x * self.factor

        def get_config(self) -> dict[str, object]:
            return {"name": self.name}

    return Scaled


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point icegrad's cache at a fresh temporary folder for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(cache))
    return cache


# Coarse settings: every chapter runs end to end, on a small grid with a small ensemble; ch. 8's input
# selection states the rankings' top-k without retraining.
COARSE_BOOK = {"resolution_km": 200, "members": 2, "epochs": 1, "steps": 8, "leads": [1, 3],
               "selection_setting": "reference", "randomisation_setting": "cached"}


class CoarseBook:
    """The book staged once per test session and its chapters executed at coarse settings on demand.

    tests/test_book.py executes each chapter through it and tests/test_rendered_book.py builds the
    HTML from the same executed notebooks, so no chapter is executed twice in one session.
    """

    def __init__(self, root: Path, stage: Path, cache: Path) -> None:
        from icegrad import book

        self.root, self.stage, self.cache = root, stage, cache
        self.settings = COARSE_BOOK
        self.executed: dict[Path, Path] = {}
        book.stage_sources(root, stage)

    def execute(self, notebook: Path) -> Path:
        """The executed copy of ``notebook`` in the stage (executed now unless it already was)."""
        import papermill

        from icegrad import book

        if notebook not in self.executed:
            declared = papermill.inspect_notebook(str(notebook))
            params = {k: v for k, v in self.settings.items() if k in declared}
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("ICEGRAD_CACHE_DIR", str(self.cache))
                self.executed[notebook] = book.execute_chapter(
                    notebook, self.stage / notebook.relative_to(self.root), params, progress=False)
        return self.executed[notebook]


@pytest.fixture(scope="session")
def coarse_book(tmp_path_factory: pytest.TempPathFactory) -> CoarseBook:
    return CoarseBook(REPO_ROOT, tmp_path_factory.mktemp("coarse-book") / "stage",
                      tmp_path_factory.mktemp("book-cache"))
