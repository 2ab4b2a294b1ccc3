"""The objects icegrad's docstring examples share, built once per test session (``pytest`` collects the
examples with ``--doctest-modules``; this file is not part of the installed package).

Examples need a dataset, an ensemble and an attribution result to show a call; building them in every
example would cost minutes, so the examples use these, which are as small as the calls allow:

* ``ds``: the emulated Arctic at 200 km, ``load_dataset("emulated", resolution_km=200)`` (EMULATED
  data, 54 x 54 cells, 1979-2020);
* ``ens``: an *untrained* two-member IceNet ensemble (seeds 36 and 37, ``filters_factor=0.125``) with
  normalisation statistics fitted on ``ds``'s training years. Untrained, so the examples show calls and
  shapes, never skill: training is what :func:`icegrad.pipeline.ensemble` does, in minutes;
* ``roi``: the book's region of interest on ``ds``, ``pipeline.region(ds)`` (September 2013 vs 2007);
* ``result``: ``pipeline.attributions(ds, ens, roi, "2013-09", leads=(1, 3), steps=4,
  baseline="zeros")``.

Each is built the first time an example names it. While an example runs, the cache points at a
temporary folder of the examples' own, and figures are closed after every example.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED = ("ds", "ens", "roi", "result")


def _untrained_ensemble(ds: Any) -> Any:
    from icegrad.inputs.build import fit_normalisation
    from icegrad.model.ensemble import IceNetEnsemble, base_manifest
    from icegrad.model.icenet import build_icenet
    from icegrad.variables import CHANNEL_NAMES

    seeds = [36, 37]
    members = [build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels=len(CHANNEL_NAMES),
                            filters_factor=0.125, seed=seed) for seed in seeds]
    manifest = base_manifest(data_source=ds.attrs["data_source"], seeds=seeds, filters_factor=0.125,
                             splits={"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)},
                             comment="untrained: for docstring examples only")
    return IceNetEnsemble(members, fit_normalisation(ds), CHANNEL_NAMES, manifest)


class _Shared:
    """Builds each shared object on first use, so a run of examples that need none costs nothing."""

    def __init__(self) -> None:
        self.built: dict[str, Any] = {}

    def get(self, name: str) -> Any:
        if name not in self.built:
            from icegrad import pipeline

            if name == "ds":
                self.built[name] = pipeline.dataset("emulated", 200)
            elif name == "ens":
                self.built[name] = _untrained_ensemble(self.get("ds"))
            elif name == "roi":
                self.built[name] = pipeline.region(self.get("ds"))
            elif name == "result":
                self.built[name] = pipeline.attributions(self.get("ds"), self.get("ens"), self.get("roi"),
                                                         "2013-09", leads=(1, 3), steps=4, baseline="zeros")
        return self.built[name]


@pytest.fixture(scope="session")
def _shared() -> _Shared:
    return _Shared()


@pytest.fixture(scope="session")
def _doctest_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("doctest-cache"))


@pytest.fixture(autouse=True)
def _doctest_objects(request: pytest.FixtureRequest, doctest_namespace: dict[str, Any],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the cache at the examples' own folder, and put the shared objects an example's source
    names into its namespace (built on first use)."""
    test = getattr(request.node, "dtest", None)
    if test is None:
        return
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", request.getfixturevalue("_doctest_cache"))
    source = "".join(example.source for example in test.examples)
    for name in SHARED:
        if re.search(rf"\b{name}\b", source):
            doctest_namespace[name] = request.getfixturevalue("_shared").get(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the examples on one xdist worker (``make test`` runs ``--dist loadgroup``), so the shared
    objects are built once rather than once per worker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if isinstance(item, pytest.DoctestItem):
            item.add_marker(pytest.mark.xdist_group("doctests"))


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
