"""Line plots: yearly series (September sea-ice extent with the case-study years marked) and the
deletion/insertion curves of attribution methods against random orderings."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from icegrad.plots.basemap import PlotError
from icegrad.plots.provenance import data_source_of, stamp_source
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


CURVE_TITLES = {"deletion": "deletion: top fraction set to the reference (lower = faithful)",
                "insertion": "insertion: top fraction restored from the reference (higher = faithful)"}


def faithfulness_curves(curves: xr.Dataset, title: str = "") -> Figure:
    """Deletion and insertion curves of every ordering, averaged over members and leads, side by side.

    ``curves`` is :func:`icegrad.evaluation.faithfulness.compare_orderings`'s result: each method is a
    solid line, the shared random control a dashed grey one, so a faithful method lies below it on the
    left and above it on the right. The fraction axis is linear near zero and logarithmic above 1 %,
    where the few first-ranked values that separate methods from random would otherwise be squeezed.
    """
    missing = [name for name in ("deletion", "insertion") if name not in curves]
    if missing or "order" not in curves.dims:
        raise PlotError(f"expected compare_orderings' curves (variables deletion, insertion over 'order'), "
                        f"missing {missing or ['order']}")
    mean = curves[["deletion", "insertion"]].mean(("member", "lead"))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True, layout="constrained")
    fractions = curves["fraction"].values
    for ax, curve in zip(axes, ("deletion", "insertion"), strict=True):
        for i, order in enumerate(curves["order"].values.tolist()):
            random = order == "random"
            ax.plot(fractions, mean[curve].sel(order=order).values, marker="o", markersize=3,
                    color="0.45" if random else MARK_COLOURS[i % len(MARK_COLOURS)],
                    linestyle="--" if random else "-", label="random (shared control)" if random else order)
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of input values replaced")
        ax.set_title(CURVE_TITLES[curve], fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ROI target (mean over members, leads)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, fontsize="small", loc="outside lower center",
               ncols=min(len(labels), 3))
    if title:
        fig.suptitle(title, fontsize="medium")
    return stamp_source(fig, data_source_of(curves))
