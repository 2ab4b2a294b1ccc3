"""The results an explorer browses, and one choice among them.

An explorer must work without a model, from results already computed: a dict ``{(target_month,
method): result}`` (what the book's chapters hold after :func:`icegrad.pipeline.attributions`), a
single result, or a sweep store folder (:func:`icegrad.sweep.results.load_results`). They are all
turned into one :class:`Collection`, which also knows what can be chosen (leads, members, channels)
for each (target month, method), so the widgets only ever offer combinations that exist.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from icegrad.attribution.aggregate import STATISTICS
from icegrad.attribution.results import ResultsOnLookup, validate_result
from icegrad.errors import IcegradError

ENSEMBLE_MEAN = "mean"
"""The member choice that averages the ensemble."""

Key = tuple[str, str]


class ExplorerError(IcegradError):
    """Results an explorer cannot show, or a selection that is not among them."""


@dataclass(frozen=True)
class Selection:
    """What the explorer shows: one result (month, method), one lead, member or mean, one channel.

    ``by`` is the statistic the channel ranking uses (:data:`icegrad.attribution.aggregate.STATISTICS`)
    and ``k`` how many channels it lists.
    """

    target_month: str
    method: str
    lead: int
    member: Any
    channel: str
    by: str = "mean_abs"
    k: int = 10


class Collection:
    """Attribution results keyed by ``(target_month, method)``, validated against the result schema.

    Results given in memory (a dict) are validated at once. Results given as
    :class:`icegrad.attribution.results.ResultsOnLookup` (ch. 10's: read from the cache when looked up)
    are validated when first shown, and only the one on display is held: four results of ~80 MiB each
    at the book's defaults no longer sit side by side in a 2 GB session; a new choice reads its result
    back (~1 s at 100 km).
    """

    def __init__(self, results: Mapping[Key, xr.Dataset]) -> None:
        if not results:
            raise ExplorerError("no attribution results to explore; compute some with "
                                "icegrad.pipeline.attributions or icegrad.sweep.run_sweep")
        self._source, self._keys = results, {}
        for key in results:
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ExplorerError(f"result key {key!r} is not a (target_month, method) pair, e.g. "
                                    "('2013-09', 'integrated_gradients')")
            self._keys[(str(key[0]), str(key[1]))] = key
        if not isinstance(results, ResultsOnLookup):
            for key in self._keys.values():
                validate_result(results[key])
        self._shown: tuple[Key, xr.Dataset] | None = None

    @property
    def keys(self) -> list[Key]:
        """Every ``(target_month, method)`` there is a result for."""
        return list(self._keys)

    @property
    def target_months(self) -> list[str]:
        return sorted({month for month, _ in self._keys})

    def methods(self, target_month: str) -> list[str]:
        """Methods computed for ``target_month``."""
        return sorted(method for month, method in self._keys if month == target_month)

    def result(self, target_month: str, method: str) -> xr.Dataset:
        """The result of ``(target_month, method)``: the one last shown, or looked up and validated."""
        key = (target_month, method)
        if key not in self._keys:
            raise ExplorerError(f"no result for {target_month} with {method}; available: "
                                f"{sorted(self._keys)}")
        if self._shown is None or self._shown[0] != key:
            self._shown = None  # release the previous result before reading the next
            self._shown = (key, validate_result(self._source[self._keys[key]]))
        return self._shown[1]

    def leads(self, target_month: str, method: str) -> list[int]:
        return [int(v) for v in self.result(target_month, method)["lead"].values]

    def members(self, target_month: str, method: str) -> list[Any]:
        """The member choices: the ensemble mean first, then each member's coordinate value."""
        return [ENSEMBLE_MEAN, *[_plain(v) for v in self.result(target_month, method)["member"].values]]

    def channels(self, target_month: str, method: str) -> list[str]:
        return [str(c) for c in self.result(target_month, method)["channel"].values]

    def check(self, selection: Selection) -> Selection:
        """Raise :class:`ExplorerError` naming the valid choices unless ``selection`` exists."""
        options = {"lead": self.leads(selection.target_month, selection.method),
                   "member": self.members(selection.target_month, selection.method),
                   "channel": self.channels(selection.target_month, selection.method),
                   "by": list(STATISTICS)}
        for name, allowed in options.items():
            if getattr(selection, name) not in allowed:
                raise ExplorerError(f"{name}={getattr(selection, name)!r} is not available for "
                                    f"{selection.target_month} / {selection.method}; choose one of {allowed}")
        if selection.k < 1:
            raise ExplorerError(f"k must be at least 1, got {selection.k}")
        return selection


def _plain(value: Any) -> Any:
    """NumPy scalars as Python values, so widget options and selections compare equal."""
    return value.item() if hasattr(value, "item") else value


def as_collection(results: Collection | Mapping[Key, xr.Dataset] | xr.Dataset | str | os.PathLike[str]
                  ) -> Collection:
    """A :class:`Collection` from a dict of results, one result, or a sweep store folder."""
    if isinstance(results, Collection):
        return results
    if isinstance(results, str | os.PathLike):
        from icegrad.sweep.results import load_results

        return Collection(load_results(Path(results)))
    if isinstance(results, xr.Dataset):
        validate_result(results)
        month = results.attrs.get("target_month")
        if month is None and "target_month" in results.coords:
            month = str(results["target_month"].values[0])
        return Collection({(str(month or "unknown"), str(results.attrs["method"])): results})
    if isinstance(results, Mapping):
        return Collection(results)
    raise ExplorerError(f"cannot explore a {type(results).__name__}; pass a dict {{(target_month, method): "
                        "result}}, one attribution result, or a sweep store folder")
