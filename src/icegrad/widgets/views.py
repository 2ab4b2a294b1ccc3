"""The explorer's three views, drawn into one figure: attribution map, input map, channel ranking.

The interactive explorer and the static still call the same :func:`draw_views`, so the HTML book
shows exactly what the live widget shows for the same selection. Maps and ranking reuse
:mod:`icegrad.plots.attribution` (its member averaging, input colours and ranking table), so the
explorer and chapters 5-7 never disagree on what a number means.

Example
-------
With ``result`` an attribution result (:func:`icegrad.pipeline.attributions`):

>>> results = {("2013-09", "integrated_gradients"): result}
>>> fig = explorer_still(results, target_month="2013-09", lead=3)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from icegrad.attribution.aggregate import channel_summary
from icegrad.plots.attribution import (
    MAGNITUDE_COLOUR,
    MAP_QUANTILE,
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    STATISTIC_LABELS,
    input_style,
    member_field,
    ranked,
)
from icegrad.plots.basemap import DEFAULT_MIN_LAT, map_crs, set_polar_extent
from icegrad.plots.figure1 import OUTLINE_COLOUR, source_label
from icegrad.plots.maps import polar_map, roi_outline
from icegrad.plots.styles import diverging_style
from icegrad.variables import channel
from icegrad.widgets.collection import ENSEMBLE_MEAN, Collection, Selection, as_collection

FIGSIZE = (13.0, 4.8)
HIGHLIGHT = "#ff8c1a"


def ranking_table(collection: Collection, selection: Selection) -> pd.DataFrame:
    """All channels of the selection ranked by ``|selection.by|`` (ensemble mean, or one member)."""
    result = collection.result(selection.target_month, selection.method)
    if selection.member != ENSEMBLE_MEAN:
        result = result.sel(member=[selection.member])
    return ranked(channel_summary(result), selection.lead, None, selection.by)


def _who(selection: Selection) -> str:
    return "ensemble mean" if selection.member == ENSEMBLE_MEAN else f"member {selection.member}"


def draw_views(fig: Figure, collection: Collection, selection: Selection,
               min_lat: float = DEFAULT_MIN_LAT) -> pd.DataFrame:
    """Clear ``fig`` and draw the three views of ``selection``; return the full channel ranking."""
    collection.check(selection)
    result = collection.result(selection.target_month, selection.method)
    lead, name = selection.lead, selection.channel
    fig.clear()
    grid = fig.add_gridspec(1, 3, width_ratios=[1.0, 1.0, 1.15])
    attr_ax = fig.add_subplot(grid[0], projection=map_crs())
    input_ax = fig.add_subplot(grid[1], projection=map_crs())
    rank_ax = fig.add_subplot(grid[2])
    roi = result["roi"].astype(bool)
    units = result["attribution"].attrs.get("units", "1")

    values = member_field(result, "attribution", selection.member).sel(lead=lead, channel=name, drop=True)
    set_polar_extent(attr_ax, min_lat)
    mesh = polar_map(attr_ax, values, title=f"{name}: attribution (net {float(values.sum()):+.3g})",
                     **diverging_style(values, MAP_QUANTILE))
    fig.colorbar(mesh, ax=attr_ax, orientation="horizontal", shrink=0.8, pad=0.03,
                 label=f"attribution ({units})" if units != "1" else "attribution (target units)")

    field = result["input"].sel(lead=lead, channel=name, drop=True)
    set_polar_extent(input_ax, min_lat)
    mesh = polar_map(input_ax, field, title=f"{name}: input", **input_style(name, field))
    is_sic = channel(name).variable == "siconca"
    fig.colorbar(mesh, ax=input_ax, orientation="horizontal", shrink=0.8, pad=0.03,
                 label="SIC (fraction)" if is_sic else "normalised input")
    for ax in (attr_ax, input_ax):
        roi_outline(ax, roi, color=OUTLINE_COLOUR, linewidth=1.0)

    table = ranking_table(collection, selection)
    _draw_ranking(rank_ax, table.head(selection.k), selection, units)
    start = _start(result, lead)
    fig.suptitle(f"{selection.method.replace('_', ' ')} — forecast of {selection.target_month} at lead "
                 f"{lead} (start {start}), {_who(selection)} — ROI outlined in orange\n"
                 f"{source_label(str(result.attrs.get('data_source', 'unknown')))}", fontsize="medium")
    return table


def _start(result: Any, lead: int) -> str:
    if "forecast_start" in result.coords:
        return str(result["forecast_start"].sel(lead=lead).values)
    return "unknown"


def _draw_ranking(ax: Any, table: pd.DataFrame, selection: Selection, units: str) -> None:
    """Horizontal bars of the ranking statistic, coloured by sign, the selected channel highlighted."""
    by = selection.by
    values = table[f"{by}_mean"].to_numpy(dtype="float64")
    spread = table[f"{by}_std"].to_numpy(dtype="float64")
    colours = [MAGNITUDE_COLOUR if by == "mean_abs" else POSITIVE_COLOUR if v >= 0 else NEGATIVE_COLOUR
               for v in values]
    rows = np.arange(len(table))
    error = None if np.isnan(spread).all() else np.nan_to_num(spread)
    bars = ax.barh(rows, values, xerr=error, color=colours, error_kw={"ecolor": "0.3", "capsize": 2})
    names = list(table["channel"])
    ax.set_yticks(rows, names, fontsize="small")
    if selection.channel in names:
        index = names.index(selection.channel)
        bars[index].set_edgecolor(HIGHLIGHT)
        bars[index].set_linewidth(2.5)
        ax.get_yticklabels()[index].set_fontweight("bold")
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.grid(axis="x", color="0.9")
    ax.set_axisbelow(True)
    ax.set_xlabel(STATISTIC_LABELS[by] + (f" ({units})" if units != "1" else ""))
    spread_note = "ensemble mean, error bars ±1 std over members" if error is not None else _who(selection)
    ax.set_title(f"top {len(table)} channels by {STATISTIC_LABELS[by]}\n{spread_note}", fontsize="medium")


def default_selection(collection: Collection, **chosen: Any) -> Selection:
    """A complete selection: the given choices, else the first month/method/lead, the ensemble mean,
    and the channel ranked first (so the maps open on the most influential input)."""
    month = chosen.pop("target_month", None) or collection.target_months[0]
    method = chosen.pop("method", None) or collection.methods(month)[0]
    lead = chosen.pop("lead", None) or collection.leads(month, method)[0]
    base = Selection(month, method, int(lead), chosen.pop("member", ENSEMBLE_MEAN), "", **{
        k: chosen.pop(k) for k in ("by", "k") if k in chosen})
    name = chosen.pop("channel", None)
    if chosen:
        raise TypeError(f"unknown selection argument(s) {sorted(chosen)}")
    placeholder = collection.check(replace(base, channel=collection.channels(month, method)[0]))
    if name is None:
        name = str(ranking_table(collection, placeholder)["channel"].iloc[0])
    return collection.check(replace(base, channel=name))


def explorer_still(results: Any, *, figsize: tuple[float, float] = FIGSIZE, min_lat: float = DEFAULT_MIN_LAT,
                   **selection: Any) -> Figure:
    """The explorer's views for one selection as a static figure (for the HTML book and papers).

    ``results`` is anything :class:`~icegrad.widgets.AttributionExplorer` accepts; ``selection`` takes
    ``target_month``, ``method``, ``lead``, ``member`` (``"mean"`` or a member), ``channel``, ``by``
    and ``k``, each defaulting as the live explorer opens.
    """
    collection = as_collection(results)
    fig = Figure(figsize=figsize, layout="constrained")
    draw_views(fig, collection, default_selection(collection, **selection), min_lat)
    return fig
