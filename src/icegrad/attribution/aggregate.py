"""Summaries of attribution maps per channel and per channel group.

For each member and lead, the signed map of one channel is reduced over the grid to

* ``positive``: sum of positive attributions (evidence *for* more sea ice in the ROI),
* ``negative``: sum of negative attributions (evidence against),
* ``net``: their sum (for integrated gradients: the channel's share of the target change),
* ``mean_abs``: mean absolute attribution per grid cell (magnitude regardless of sign).

Groups (sic, trend, climate, seasonal, static) add the per-channel ``positive``, ``negative`` and
``net`` sums and average ``mean_abs``. :func:`ensemble_summary` gives the mean and spread (standard
deviation, ddof=1) over members; :func:`top_channels` ranks channels; :func:`to_tidy` flattens any
of these to a long pandas table for plotting or export.
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import by_member, validate_result

STATISTICS = ("positive", "negative", "net", "mean_abs")


def channel_summary(ds: xr.Dataset) -> xr.Dataset:
    """``positive``, ``negative``, ``net``, ``mean_abs`` with dims (member, lead, channel), in float64
    (summed a member at a time: :func:`icegrad.attribution.results.by_member`)."""
    out = by_member(validate_result(ds)["attribution"], _statistics)
    out.attrs = {k: ds.attrs[k] for k in ("method", "target", "model_id", "data_source") if k in ds.attrs}
    return out


def _statistics(attribution: xr.DataArray) -> xr.Dataset:
    """:func:`channel_summary`'s statistics of (float64) maps."""
    units = attribution.attrs.get("units", "1")
    space = ("y", "x")
    return xr.Dataset({
        "positive": attribution.clip(min=0).sum(space).assign_attrs(
            long_name="sum of positive attributions", units=units),
        "negative": attribution.clip(max=0).sum(space).assign_attrs(
            long_name="sum of negative attributions", units=units),
        "net": attribution.sum(space).assign_attrs(long_name="net attribution", units=units),
        "mean_abs": abs(attribution).mean(space).assign_attrs(
            long_name="mean absolute attribution per grid cell", units=units),
    })


def group_summary(ds: xr.Dataset) -> xr.Dataset:
    """The channel statistics combined per group: dims (member, lead, group)."""
    channels = channel_summary(ds)
    sums = channels[["positive", "negative", "net"]].groupby("group").sum()
    means = channels[["mean_abs"]].groupby("group").mean()
    out = xr.merge([sums, means])
    for name in STATISTICS:
        out[name].attrs = channels[name].attrs
    out.attrs = channels.attrs
    return out


def ensemble_summary(summary: xr.Dataset) -> xr.Dataset:
    """Mean and spread (std over members, ddof=1; NaN for one member) of a channel/group summary."""
    if "member" not in summary.dims:
        raise AttributionError("ensemble_summary needs a 'member' dimension; pass channel_summary(ds)")
    mean = summary.mean("member", keep_attrs=True)
    spread = summary.std("member", ddof=1, keep_attrs=True) if summary.sizes["member"] > 1 \
        else summary.isel(member=0, drop=True) * float("nan")
    return xr.merge([mean.rename({k: f"{k}_mean" for k in mean.data_vars}),
                     spread.rename({k: f"{k}_std" for k in spread.data_vars})])


def top_channels(ds: xr.Dataset, k: int = 10, by: str = "mean_abs") -> pd.DataFrame:
    """The ``k`` channels with the largest ensemble-mean ``|by|`` for each lead, ranked 1..k."""
    if by not in STATISTICS:
        raise AttributionError(f"unknown statistic {by!r}; choose one of {STATISTICS}")
    if k < 1:
        raise AttributionError(f"k must be >= 1, got {k}")
    table = to_tidy(ensemble_summary(channel_summary(ds)))
    table["score"] = table[f"{by}_mean"].abs()
    table = table.sort_values(["lead", "score"], ascending=[True, False])
    table["rank"] = table.groupby("lead").cumcount() + 1
    return table[table["rank"] <= k].drop(columns="score").reset_index(drop=True)


def to_tidy(summary: xr.Dataset) -> pd.DataFrame:
    """A long table: one row per coordinate combination, one column per statistic (and ``group``)."""
    return summary.to_dataframe().reset_index()
