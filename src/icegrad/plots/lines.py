"""Line plots of yearly series, e.g. September sea-ice extent with the case-study years marked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from icegrad.plots.basemap import PlotError
from icegrad.plots.styles import label_of

MARK_COLOURS = ("#c0392b", "#8e44ad", "#1f77b4", "#e67e22", "#16a085")


def yearly(series: xr.DataArray, month: int | None = None) -> xr.DataArray:
    """A monthly ``time`` series reduced to one value per year (only ``month``, if given), dim ``year``."""
    if series.dims != ("time",):
        raise PlotError(f"expected a 1-D series over 'time', got dims {series.dims}")
    if month is not None:
        series = series.sel(time=series["time"].dt.month == month)
    if series.sizes["time"] == 0:
        raise PlotError(f"the series has no values for month {month}")
    years = series["time"].dt.year.values
    if len(np.unique(years)) != len(years):
        raise PlotError("the series has several values per year; pass month= to pick one month")
    out = series.assign_coords(year=("time", years)).swap_dims(time="year").drop_vars("time")
    out.attrs = dict(series.attrs)
    return out


def year_series_plot(
    ax: Axes,
    series: xr.DataArray,
    mark_years: Sequence[int] = (),
    *,
    month: int | None = None,
    color: str = "0.25",
) -> list[Line2D]:
    """Plot a yearly series (or one ``month`` of a monthly one) and mark ``mark_years`` with labels.

    Marked years are highlighted with a coloured point and listed with their value in the legend, so
    the reader can compare the case-study years with the trend. A year that is not in the series is an
    error, not a silent omission, because the caption will name it. Returns one marker artist per
    marked year.
    """
    values = series if "year" in series.dims else yearly(series, month)
    years = values["year"].values
    missing = sorted(set(int(y) for y in mark_years) - set(int(y) for y in years))
    if missing:
        raise PlotError(f"year(s) {missing} to mark are not in the series ({years.min()}-{years.max()})")
    ax.plot(years, values.values, color=color, linewidth=1.2, marker="o", markersize=2.5)
    markers = []
    for i, year in enumerate(sorted(set(int(y) for y in mark_years))):
        value = float(values.sel(year=year))
        colour = MARK_COLOURS[i % len(MARK_COLOURS)]
        (marker,) = ax.plot([year], [value], "o", color=colour, markersize=7, zorder=3,
                            label=f"{year}: {value:.2f}")
        markers.append(marker)
    if markers:
        ax.legend(fontsize="small", frameon=False)
    ax.set_xlabel("year")
    ax.set_ylabel(label_of(values))
    ax.grid(alpha=0.3)
    return markers
