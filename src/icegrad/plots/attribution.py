"""Figures of gradient attributions: ranked importance, a lead x group heat map, and signed maps.

Attributions are signed: a positive value is evidence *for* more sea ice in the ROI, a negative one
evidence against. Every figure here keeps the sign visible (positive and negative sums drawn apart,
diverging colours symmetric about zero) because a ranking by magnitude alone would hide that two
channels can matter equally but push the forecast in opposite directions. Ensemble spread is drawn as
error bars (one standard deviation across members), so a reader sees which rankings the members
agree on. Every figure names its data source under its title (EMULATED for the emulated Arctic, see
:mod:`icegrad.plots.provenance`).

The summaries consumed here are those of :mod:`icegrad.attribution.aggregate`: a per-member
:func:`~icegrad.attribution.aggregate.channel_summary` or
:func:`~icegrad.attribution.aggregate.group_summary`; the maps read a result in the schema of
:mod:`icegrad.attribution.results`.

Example
-------
With ``result`` an attribution result (:func:`icegrad.pipeline.attributions`):

>>> from icegrad.attribution.aggregate import channel_summary, group_summary
>>> fig = ranking_bars(channel_summary(result), lead=1, k=15)
>>> fig = group_heatmap(group_summary(result), statistic="net")
>>> fig = attribution_maps(result, ["siconca_abs_1", "tas_anom_1"], lead=1)
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.collections import QuadMesh
from matplotlib.colorbar import Colorbar
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from icegrad.attribution.aggregate import STATISTICS
from icegrad.plots import channels as channel_maps
from icegrad.plots.basemap import DEFAULT_MIN_LAT, PlotError, polar_axes
from icegrad.plots.figure1 import OUTLINE_COLOUR
from icegrad.plots.maps import polar_map, roi_outline
from icegrad.plots.provenance import data_source_of, stamp_source
from icegrad.plots.styles import NEGLIGIBLE, diverging_style, figure_number, label_axis, label_colorbar
from icegrad.variables import GROUPS, MONTHLY_VARIABLES, channel

# The same sides as the maps' diverging colormap (cmocean balance): red positive, blue negative.
POSITIVE_COLOUR = "#b2182b"
NEGATIVE_COLOUR = "#2166ac"
MAGNITUDE_COLOUR = "#5e5e5e"
MAP_QUANTILE = 0.99
"""Colour limit of attribution maps: the 99th percentile of |value|, so that the few extreme cells
of a gradient map (typically along the ice edge) do not wash out the rest."""
STATISTIC_LABELS = {"positive": "sum of positive attributions", "negative": "sum of negative attributions",
                    "net": "net attribution", "mean_abs": "mean |attribution| per cell"}


def _item_dim(summary: xr.Dataset) -> str:
    """``channel`` or ``group``: what a summary ranks."""
    if not isinstance(summary, xr.Dataset) or "member" not in summary.dims:
        raise PlotError("expected a per-member summary (xarray.Dataset with a 'member' dimension); pass "
                        "icegrad.attribution.aggregate.channel_summary(result) or group_summary(result)")
    dims = [d for d in ("channel", "group") if d in summary.dims]
    missing = [s for s in STATISTICS if s not in summary]
    if len(dims) != 1 or missing or "lead" not in summary.dims:
        raise PlotError(f"not a channel or group summary (dims {tuple(summary.dims)}, missing statistics "
                        f"{missing}); build it with channel_summary(result) or group_summary(result)")
    return dims[0]


def _check_statistic(statistic: str) -> str:
    if statistic not in STATISTICS:
        raise PlotError(f"unknown statistic {statistic!r}; choose one of {STATISTICS}")
    return statistic


def _check_lead(summary: xr.Dataset | xr.DataArray, lead: int) -> int:
    leads = [int(v) for v in summary["lead"].values]
    if lead not in leads:
        raise PlotError(f"lead {lead} is not in this result (leads {leads}); choose one of them or "
                        "recompute the attributions with that lead")
    return int(lead)


def ranked(summary: xr.Dataset, lead: int, k: int | None = None, by: str = "mean_abs") -> pd.DataFrame:
    """Items (channels or groups) at ``lead`` ranked by ensemble-mean ``|by|``, with mean and std.

    One row per item, best first: ``rank``, the item, its ``group`` (channels only), and for every
    statistic its ensemble mean (``<stat>_mean``) and standard deviation across members
    (``<stat>_std``, ddof=1; NaN for a single member). ``k`` keeps the first ``k`` rows.
    """
    dim = _item_dim(summary)
    _check_statistic(by)
    lead = _check_lead(summary, lead)
    if k is not None and k < 1:
        raise PlotError(f"k must be at least 1, got {k}")
    at_lead = summary[list(STATISTICS)].sel(lead=lead)
    mean = at_lead.mean("member").to_dataframe()
    n_members = at_lead.sizes["member"]
    spread = at_lead.std("member", ddof=1).to_dataframe() if n_members > 1 else mean * np.nan
    table = pd.DataFrame({dim: mean.index.astype(str)})
    if "group" in at_lead.coords and dim == "channel":
        table["group"] = [str(g) for g in at_lead["group"].values]
    for stat in STATISTICS:
        table[f"{stat}_mean"] = mean[stat].to_numpy()
        table[f"{stat}_std"] = spread[stat].to_numpy()
    order = np.argsort(-np.abs(table[f"{by}_mean"].to_numpy()), kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table if k is None else table.head(k)


def ranking_bars(summary: xr.Dataset, lead: int, k: int = 15, by: str = "mean_abs",
                 title: str | None = None) -> Figure:
    """Signed importance of the top-``k`` channels (or groups) at ``lead``, ranked by ``by``.

    Left panel: the sums of positive and of negative attributions as bars on either side of zero and
    the net attribution as a black diamond; right panel: mean |attribution| per cell. Bars are
    ensemble means, error bars one standard deviation across members.
    """
    table = ranked(summary, lead, k, by)
    dim = _item_dim(summary)
    units = summary["net"].attrs.get("units", "1")
    n = len(table)
    fig, (signed, magnitude) = plt.subplots(1, 2, figsize=(9.0, 1.2 + 0.3 * n), sharey=True,
                                            layout="constrained", gridspec_kw={"width_ratios": [3, 2]})
    rows = np.arange(n)
    error = {"ecolor": "0.25", "capsize": 2, "elinewidth": 0.8}
    signed.barh(rows, table["positive_mean"], xerr=_err(table["positive_std"]), color=POSITIVE_COLOUR,
                alpha=0.8, label="positive sum", error_kw=error)
    signed.barh(rows, table["negative_mean"], xerr=_err(table["negative_std"]), color=NEGATIVE_COLOUR,
                alpha=0.8, label="negative sum", error_kw=error)
    signed.errorbar(table["net_mean"], rows, xerr=_err(table["net_std"]), fmt="D", color="black",
                    markersize=4, label="net", **error)
    signed.axvline(0.0, color="0.3", linewidth=0.8)
    signed.set_yticks(rows, table[dim])
    signed.invert_yaxis()
    signed.legend(loc="lower right", fontsize="small", frameon=False)
    magnitude.barh(rows, table["mean_abs_mean"], xerr=_err(table["mean_abs_std"]), color=MAGNITUDE_COLOUR,
                   error_kw=error)
    label_axis(signed.xaxis, f"attribution ({units})" if units != "1" else "attribution (target units)")
    label_axis(magnitude.xaxis, STATISTIC_LABELS["mean_abs"])
    for ax in (signed, magnitude):
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
    fig.suptitle(title or f"Lead {lead}: top {n} {dim}s by {STATISTIC_LABELS[by]} "
                 f"({summary.sizes['member']} members, error bars ±1 std)", fontsize="medium")
    return stamp_source(fig, data_source_of(summary))


def _err(std: pd.Series) -> np.ndarray | None:
    """Error-bar half-widths, or none at all when the spread is undefined (one member)."""
    values = std.to_numpy(dtype="float64")
    return None if np.isnan(values).all() else np.nan_to_num(values)


def group_heatmap(summary: xr.Dataset, statistic: str = "net", annotate: bool = True,
                  title: str | None = None) -> Figure:
    """Lead x group heat map of the ensemble-mean ``statistic`` of a group summary.

    Signed statistics use the diverging colormap symmetric about zero; ``mean_abs`` a sequential one.
    With ``annotate`` each cell shows the mean and, with several members, ± its standard deviation;
    a value at float rounding level of the largest one (e.g. the month inputs' integrated gradients
    from a climatological baseline) is printed as 0.
    """
    if _item_dim(summary) != "group":
        raise PlotError("a heat map needs a group summary: pass group_summary(result), not channel_summary")
    _check_statistic(statistic)
    groups = [g for g in GROUPS if g in summary["group"].values] + \
        [str(g) for g in summary["group"].values if g not in GROUPS]
    data = summary[statistic].sel(group=groups).transpose("member", "lead", "group")
    mean = data.mean("member").values
    std = data.std("member", ddof=1).values if data.sizes["member"] > 1 else None
    leads = [int(v) for v in data["lead"].values]
    if statistic == "mean_abs":
        style = {"cmap": "Greys", "vmin": 0.0, "vmax": float(np.nanmax(mean)) or 1.0}
    else:
        style = diverging_style(xr.DataArray(mean))
    fig, ax = plt.subplots(figsize=(1.3 * len(groups) + 2.2, 0.55 * len(leads) + 1.6), layout="constrained")
    image = ax.imshow(mean, aspect="auto", **style)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_yticks(range(len(leads)), [f"lead {lead}" for lead in leads])
    if annotate:
        limit = max(abs(style["vmin"]), abs(style["vmax"]))
        largest = float(np.nanmax(np.abs(mean))) if np.isfinite(mean).any() else 0.0
        for i, j in np.ndindex(mean.shape):
            text = figure_number(mean[i, j], largest) + (
                f"\n±{figure_number(std[i, j], largest, digits=1)}" if std is not None else "")
            dark = abs(mean[i, j]) > 0.6 * limit
            ax.text(j, i, text, ha="center", va="center", fontsize="x-small",
                    color="white" if dark else "black")
    units = summary[statistic].attrs.get("units", "1")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    label_colorbar(bar, STATISTIC_LABELS[statistic] + (f" ({units})" if units != "1" else ""))
    ax.set_title(title or f"{STATISTIC_LABELS[statistic]} per group and lead "
                 f"(mean of {data.sizes['member']} members)", fontsize="medium")
    return stamp_source(fig, data_source_of(summary))


def _map_colorbar(fig: Figure, mesh: QuadMesh, ax: object, label: str) -> Colorbar:
    """A colour bar under one map, with few ticks: map panels are narrow and the values have many digits.

    Any power of ten goes into the label (:func:`~icegrad.plots.styles.label_colorbar`): matplotlib's
    offset text would sit at the bar's right end, on top of the label.
    """
    bar = fig.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.75, pad=0.03,
                       ticks=MaxNLocator(nbins=4, symmetric=True))
    return label_colorbar(bar, label)


def member_field(result: xr.Dataset, name: str, member: str | int = "mean") -> xr.DataArray:
    """``result[name]`` for one member (a ``member`` coordinate value) or the ensemble ``"mean"``."""
    da = result[name]
    if "member" not in da.dims:
        return da
    if member == "mean":
        return da.mean("member", keep_attrs=True)
    members = list(result["member"].values)
    if member not in members:
        raise PlotError(f"member {member!r} is not in this result; choose 'mean' or one of {members}")
    return da.sel(member=member)


def input_style(channel_name: str, field: xr.DataArray) -> dict:
    """Colours of one input map: its family's scale (:func:`icegrad.plots.channels.input_style`)."""
    return channel_maps.input_style(channel_name, field, MAP_QUANTILE)


def _without_noise(values: xr.DataArray, largest: float) -> xr.DataArray:
    """``values`` with cells at float rounding level of ``largest`` set to 0 (see styles.NEGLIGIBLE)."""
    return values.where(np.abs(values) > NEGLIGIBLE * largest, 0.0)


def attribution_maps(result: xr.Dataset, channels: Sequence[str], lead: int, member: str | int = "mean",
                     *, min_lat: float = DEFAULT_MIN_LAT, quantile: float | None = MAP_QUANTILE) -> Figure:
    """For each channel, its input field (left) beside its signed attribution (right), ROI outlined.

    Each attribution map has its own colour range, symmetric about zero at the ``quantile`` of
    |attribution| (None = the maximum): channels differ by orders of magnitude, and a shared range
    would leave all but the first blank. Values at float rounding level of the largest attribution at
    this lead are drawn as 0, and a channel with nothing else gets the lead's overall range, so it reads
    as blank rather than as noise magnified to full colour. Each input is on its own family's scale
    (SIC and trend fractions, standard deviations, land 0/1, cos/sin -1..1). The panel title gives the
    channel's net attribution; the data source is written under the figure's title.
    """
    if not channels:
        raise PlotError("no channels to draw; pass one or more IceNet channel names")
    unknown = [c for c in channels if c not in result["channel"].values]
    if unknown:
        raise PlotError(f"channel(s) {unknown} are not in this result; its channels are IceNet names such "
                        "as 'siconca_abs_1' (see icegrad.variables.CHANNEL_NAMES)")
    lead = _check_lead(result, lead)
    attribution = member_field(result, "attribution", member).sel(lead=lead)
    inputs = result["input"].sel(lead=lead)
    roi = result["roi"].astype(bool)
    units = result["attribution"].attrs.get("units", "1")
    largest = float(np.nanmax(np.abs(attribution.values))) if attribution.size else 0.0
    overall = diverging_style(attribution, quantile)
    fig, axes = polar_axes(len(channels), 2, min_lat=min_lat, panel_size=3.0)
    for row, name in enumerate(channels):
        field = inputs.sel(channel=name, drop=True)
        left, right = axes[2 * row], axes[2 * row + 1]
        mesh = polar_map(left, field, title=f"{name}: input", **input_style(name, field))
        channel_maps.input_colorbar(fig, mesh, left, name, orientation="horizontal", shrink=0.75, pad=0.03,
                                    aspect=20)
        values = _without_noise(attribution.sel(channel=name, drop=True), largest)
        net = float(values.sum())
        style = diverging_style(values, quantile) if bool((values != 0).any()) else overall
        mesh = polar_map(right, values, title=f"{name}: attribution (net {_signed(net, largest)})", **style)
        _map_colorbar(fig, mesh, right,
                      f"attribution ({units})" if units != "1" else "attribution (target units)")
        for ax in (left, right):
            roi_outline(ax, roi, color=OUTLINE_COLOUR, linewidth=1.0)
    who = "ensemble mean" if member == "mean" else f"member {member}"
    fig.suptitle(f"Lead {lead}, {who}", fontsize="medium")
    return stamp_source(fig, data_source_of(result))


def _signed(value: float, largest: float) -> str:
    """``value`` with an explicit sign, 3 significant digits, 0 when it is rounding noise."""
    text = figure_number(value, largest, digits=3)
    return text if text == "0" or text.startswith("\u2212") else "+" + text


def compare_maps(fields: Sequence[xr.DataArray], roi: xr.DataArray, titles: Sequence[str],
                 labels: Sequence[str], *, min_lat: float = DEFAULT_MIN_LAT,
                 quantile: float | None = MAP_QUANTILE, data_source: str | None = None) -> Figure:
    """Signed (y, x) fields side by side, each on its own symmetric diverging scale, ROI outlined.

    For fields in different units (a model's attribution next to the emulator's exact sensitivity),
    where only pattern and sign can be compared. The data source written under the maps is
    ``data_source``, else the ``data_source`` attribute of the ROI or of a field.
    """
    if not fields or not len(fields) == len(titles) == len(labels):
        raise PlotError(f"need one title and one colour-bar label per field; got {len(fields)} fields, "
                        f"{len(titles)} titles and {len(labels)} labels")
    fig, axes = polar_axes(1, len(fields), min_lat=min_lat, panel_size=3.2)
    for ax, field, title, label in zip(axes, fields, titles, labels, strict=True):
        mesh = polar_map(ax, field, title=title, **diverging_style(field, quantile))
        _map_colorbar(fig, mesh, ax, label)
        roi_outline(ax, roi.astype(bool), color=OUTLINE_COLOUR, linewidth=1.0)
    return stamp_source(fig, data_source or data_source_of(roi, *fields))


def truth_lag(channel_name: str, lead: int) -> int:
    """Months between an input channel's month and the month that ``lead`` targets.

    A forecast starting in month ``s`` reads ``{var}_*_{k}`` from month ``s - k`` and its lead ``l``
    targets ``s + l - 1``, so the channel lies ``l - 1 + k`` months before the target: the ``lag`` of
    :func:`icegrad.data.emulator.true_sensitivity`.
    """
    spec = channel(channel_name)
    if spec.variable not in MONTHLY_VARIABLES or spec.kind not in ("abs", "anom") or spec.lag is None:
        raise PlotError(f"{channel_name!r} is not a lagged monthly field (it is a {spec.kind} channel); the "
                        "emulator's sensitivity exists for SIC and climate channels such as 'tas_anom_1'")
    return lead - 1 + spec.lag


def truth_for_channel(truth: xr.Dataset, channel_name: str, lead: int) -> xr.DataArray:
    """The emulator's exact sensitivity map for the variable and month an input channel holds.

    ``truth`` is the output of :func:`icegrad.data.emulator.true_sensitivity` for the target month;
    units are the target per unit of the *physical* anomaly (e.g. per K), not per normalised unit.
    """
    if "sensitivity" not in truth:
        raise PlotError("truth must be the dataset returned by icegrad.data.emulator.true_sensitivity")
    spec = channel(channel_name)
    lag = truth_lag(channel_name, lead)
    if lag not in truth["lag"].values:
        raise PlotError(f"{channel_name} at lead {lead} lies {lag} months before the target, beyond the "
                        f"{truth.sizes['lag']} months of this truth; call true_sensitivity with "
                        f"months_back={lag + 1} or more")
    field = truth["sensitivity"].sel(variable=spec.variable, lag=lag, drop=True)
    units = str(truth["input_units"].sel(variable=spec.variable).values)
    return field.drop_vars(["input_time", "input_units"], errors="ignore").assign_attrs(
        long_name=f"exact sensitivity to {spec.variable} {lag} months before the target",
        units=f"1 per {units}")

