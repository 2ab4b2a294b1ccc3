"""The attribution result schema: building, checking, saving, loading and caching it.

A result is an ``xr.Dataset`` with

* ``attribution (member, lead, channel, y, x)``: signed attribution, in units of the target
  (probability) for methods whose values sum to a change in target (integrated gradients,
  gradient x input), in target units per normalised input unit for the gradients;
* ``input (lead, channel, y, x)``: the normalised input each lead's attribution explains (one sample
  shared by all leads for a single forecast, a different start per lead for a fixed target month);
* ``target_value (member, lead)`` and, for integrated gradients, ``baseline_target_value``: the
  explained scalars, so completeness can be checked from the file alone;
* ``roi (y, x)``: the ROI mask (boolean in memory, ``int8`` flag on disk);
* coordinates ``channel`` (IceNet names), ``group`` (sic, trend, climate, seasonal, static), ``lat``,
  ``lon``, ``x``, ``y`` when the input carries them, per lead ``forecast_start``/``target_month``
  when known, and ``baseline_forecast_start`` for a paired baseline (counterfactual or persistence: the
  start of the other year's forecast whose input is the baseline; the ``baseline_target_month``
  attribute names its target month);
* attributes: method, target, roi_rule, model_id, data_source, steps, baseline, package version and
  creation time (ISO 8601), among others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

import icegrad
from icegrad import cache
from icegrad.attribution.errors import AttributionError
from icegrad.files import NETCDF_LOCK, atomic_path, read_netcdf
from icegrad.variables import channel_groups

RESULT_DIMS = ("member", "lead", "channel", "y", "x")
REQUIRED_ATTRS = ("method", "target", "roi_rule", "model_id", "data_source", "steps", "baseline",
                  "icegrad_version", "created")
CACHE_STAGE = "attributions"


def build_result(
    attribution: np.ndarray,
    inputs: np.ndarray,
    target_value: np.ndarray,
    baseline_target_value: np.ndarray | None,
    sample: xr.DataArray,
    roi: np.ndarray,
    leads: tuple[int, ...],
    attrs: Mapping[str, Any],
    lead_coords: Mapping[str, list[str]] | None = None,
) -> xr.Dataset:
    """Assemble a result from arrays in engine layout: attribution (member, lead, y, x, channel),
    inputs (lead, y, x, channel), target values (member, lead); ``sample`` supplies coordinates."""
    channels = [str(c) for c in sample["channel"].values]
    coords: dict[str, Any] = {
        "member": ("member", np.arange(attribution.shape[0]), {"long_name": "ensemble member index"}),
        "lead": ("lead", np.asarray(leads), {"long_name": "forecast lead", "units": "months"}),
        "channel": ("channel", channels, {"long_name": "IceNet input channel"}),
        "group": ("channel", channel_groups(channels), {"long_name": "channel group"}),
    }
    for name in ("y", "x", "lat", "lon", "cell_area"):
        if name in sample.coords and set(sample[name].dims) <= {"y", "x"}:
            coords[name] = sample[name]
    for name, values in (lead_coords or {}).items():
        coords[name] = ("lead", values, {"long_name": name.replace("_", " ") + " (YYYY-MM)"})
    units = attrs.get("attribution_units", "1")
    data = {
        "attribution": (RESULT_DIMS, np.moveaxis(attribution, -1, 2).astype(np.float32),
                        {"long_name": f"{attrs['method'].replace('_', ' ')} attribution of the target",
                         "units": units}),
        "input": (("lead", "channel", "y", "x"), np.moveaxis(inputs, -1, 1).astype(np.float32),
                  {"long_name": "normalised model input explained", "units": "1"}),
        "target_value": (("member", "lead"), target_value.astype(np.float64),
                         {"long_name": "target at the input", "units": "1"}),
        "roi": (("y", "x"), np.asarray(roi, dtype=bool), {"long_name": "region of interest mask"}),
    }
    if baseline_target_value is not None:
        data["baseline_target_value"] = (("member", "lead"), baseline_target_value.astype(np.float64),
                                         {"long_name": "target at the integrated-gradients baseline",
                                          "units": "1"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs = {
        "title": "icegrad gradient attribution of an IceNet forecast",
        "Conventions": "CF-1.8",
        **{k: v for k, v in attrs.items() if k != "attribution_units"},
        "icegrad_version": icegrad.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return validate_result(ds)


def validate_result(ds: xr.Dataset) -> xr.Dataset:
    """Raise :class:`AttributionError` unless ``ds`` follows the result schema; return it."""
    if "attribution" not in ds or ds["attribution"].dims != RESULT_DIMS:
        raise AttributionError(f"not an attribution result: expected variable 'attribution' with dims "
                               f"{RESULT_DIMS}; load results with icegrad.attribution.results.load_result")
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise AttributionError(f"attribution result lacks attribute(s) {missing}")
    for name in ("input", "roi", "target_value"):
        if name not in ds:
            raise AttributionError(f"attribution result lacks variable {name!r}")
    return ds


Reduced = TypeVar("Reduced", xr.DataArray, xr.Dataset)


def by_member(attribution: xr.DataArray, reduce: Callable[[xr.DataArray], Reduced]) -> Reduced:
    """``reduce`` of each member's maps in float64, one member at a time, concatenated along ``member``.

    Why: reducing a whole result in float64 held its float64 copy plus the clipped, absolute and
    NaN-skipping copies xarray makes, each twice the result's size (~567 MiB above the start for a
    6-lead result at 100 km, 70 MiB of float32); a member at a time holds a fifth of that for the
    book's five members. ``reduce`` must leave the ``member`` dimension (of length one) in place. Each
    member's reductions are the same sums, so the figures are the same as on the whole result.
    """
    members = range(attribution.sizes["member"])
    parts = [reduce(attribution.isel(member=[i]).astype("float64")) for i in members]
    return xr.concat(parts, dim="member", combine_attrs="override")


def save_result(ds: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a result to netCDF atomically (the ROI as an int8 flag, since netCDF has no booleans)."""
    validate_result(ds)
    out = ds.assign(roi=ds["roi"].astype(np.int8).assign_attrs(
        ds["roi"].attrs, flag_values=np.array([0, 1], dtype=np.int8), flag_meanings="outside inside"))
    out.attrs = {k: (json.dumps(v) if isinstance(v, list | tuple | dict | bool) or v is None else v)
                 for k, v in out.attrs.items()}
    encoding = {name: {"zlib": True, "complevel": 4} for name in out.data_vars}
    with atomic_path(path) as tmp, NETCDF_LOCK:
        out.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return Path(path)


def load_result(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a result written by :func:`save_result`, with the ROI back as a boolean mask."""
    ds = read_netcdf(path)
    ds["roi"] = (ds["roi"] == 1).assign_attrs(long_name=ds["roi"].attrs.get("long_name", "ROI"))
    return validate_result(ds)


def cached_result(params: Mapping[str, Any], compute: Callable[[], xr.Dataset], refresh: bool = False,
                  ) -> xr.Dataset:
    """The result for ``params`` from the ``attributions`` cache stage (:mod:`icegrad.cache`), computed if
    absent, damaged or implausible (a target value outside 0-1, a non-finite attribution)."""
    def computed() -> xr.Dataset:
        ds = compute()
        ds.attrs["cache_parameters"] = json.dumps(params, sort_keys=True, default=str)
        return ds

    return cache.cached(CACHE_STAGE, params, computed, load=load_result, save=save_result,
                        check=cache.implausibility, refresh=refresh)


K = TypeVar("K", bound=Hashable)


class ResultsOnLookup(Mapping[K, xr.Dataset]):
    """Attribution results by label, each made (read back from the cache) when looked up and not kept.

    Why: ch. 9 compares five methods' results of one forecast, ~80 MiB each at the book's defaults;
    held side by side they took ~470 MiB of a 2 GB session. Consumers that take one result at a time
    (:func:`icegrad.evaluation.faithfulness.compare_orderings`, a figure of two methods) then hold one.
    Each lookup costs what its loader costs (a cached result: one read, ~1 s at 100 km).
    """

    def __init__(self, loaders: Mapping[K, Callable[[], xr.Dataset]]) -> None:
        self._loaders = dict(loaders)

    def __getitem__(self, label: K) -> xr.Dataset:
        return self._loaders[label]()

    def __iter__(self) -> Iterator[K]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)
