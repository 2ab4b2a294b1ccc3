"""The letter's Figure 1 and its companion extent panel, built from a dataset and an ROI mask.

Figure 1 of Joakimsen et al. (2024) shows (a) SIC in September 2007, (b) SIC in September 2013 and
(c) the region of interest in white. :func:`figure1` draws the same three panels for whatever years,
month and rule the ROI was made with (they are read from the mask's attributes, so the figure cannot
disagree with the region it shows), and labels emulated data as such on the figure itself.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence

import matplotlib.pyplot as plt
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from icegrad.diagnostics import sea_ice_extent
from icegrad.plots.basemap import DEFAULT_MIN_LAT, DEFAULT_SCALE, PlotError, polar_axes
from icegrad.plots.lines import year_series_plot
from icegrad.plots.maps import ROI_COLOUR, polar_map, roi_fill, roi_outline
from icegrad.plots.provenance import source_label
from icegrad.plots.styles import SIC_CMAP, label_of, shared_colorbar, sic_style
from icegrad.roi import sic_for_month

OUTLINE_COLOUR = "#ff8c1a"
CASE_YEARS = (2007, 2012, 2013)


def _roi_attrs(roi: xr.DataArray) -> tuple[int, int, int, str]:
    missing = [k for k in ("reference_year", "target_year", "month", "rule") if k not in roi.attrs]
    if missing:
        raise PlotError(f"the ROI mask lacks attribute(s) {missing}; build it with "
                        "icegrad.roi.region_of_interest so the figure knows which years it compares")
    return (int(roi.attrs["reference_year"]), int(roi.attrs["target_year"]), int(roi.attrs["month"]),
            str(roi.attrs["rule"]))


def figure1(
    ds: xr.Dataset,
    roi: xr.DataArray,
    *,
    min_lat: float = DEFAULT_MIN_LAT,
    scale: str = DEFAULT_SCALE,
    outline_roi: bool = True,
) -> Figure:
    """Figure 1: (a) SIC of the reference year, (b) SIC of the target year, (c) the ROI in white.

    The figure has three map axes (``figure.axes[:3]``) and one shared SIC colour bar under (a) and
    (b). With ``outline_roi`` the ROI is also outlined on (a) and (b), so the reader can see which ice
    edge it follows.
    """
    reference_year, target_year, month, rule = _roi_attrs(roi)
    fig, axes = polar_axes(1, 3, min_lat=min_lat, figsize=(11.0, 4.6))
    month_name = calendar.month_name[month]
    mesh = None
    for ax, letter, year in zip(axes[:2], "ab", (reference_year, target_year), strict=True):
        sic = sic_for_month(ds, year, month)
        mesh = polar_map(ax, sic, title=f"({letter}) SIC {month_name} {year}", scale=scale, **sic_style())
        if outline_roi:
            roi_outline(ax, roi, color=OUTLINE_COLOUR, linewidth=1.0)
    roi_fill(axes[2], roi, scale=scale, title=f"(c) ROI: {rule}")
    handles = [Patch(facecolor=ROI_COLOUR, edgecolor="0.3", label=f"ROI ({int(roi.sum())} cells)"),
               Patch(facecolor=SIC_CMAP(0.0), label="other ocean")]
    axes[2].legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                   fontsize="small", frameon=False)
    shared_colorbar(fig, mesh, axes[:2], label_of(ds["siconca"]), shrink=0.8)
    fig.suptitle(f"{month_name} {target_year} versus {reference_year} — "
                 f"{source_label(str(ds.attrs.get('data_source', 'unknown')))}", fontsize="medium")
    return fig


def figure1_caption(roi: xr.DataArray, data_source: str) -> str:
    """A caption for :func:`figure1` naming the years, the ROI rule, its size and the data source."""
    reference_year, target_year, month, rule = _roi_attrs(roi)
    area = float(roi.attrs.get("area_km2", float("nan"))) / 1e6
    month_name = calendar.month_name[month]
    return (f"Sea-ice concentration in {month_name} (a) {reference_year} and (b) {target_year}, and (c) "
            f"the region of interest in white: ocean cells selected by the rule '{rule}' on the SIC "
            f"change from {reference_year} to {target_year} ({int(roi.sum())} cells, {area:.2f} million "
            f"km²). Data: {source_label(data_source)}.")


def extent_panel(
    ds: xr.Dataset, month: int, mark_years: Sequence[int] = CASE_YEARS, *,
    figsize: tuple[float, float] = (7.0, 3.0),
) -> Figure:
    """Sea-ice extent in ``month`` for every year of ``ds``, with ``mark_years`` highlighted."""
    sic = ds["siconca"].sel(time=ds["time"].dt.month == month)
    if sic.sizes["time"] == 0:
        raise PlotError(f"the dataset has no month {month}")
    extent = sea_ice_extent(sic)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    year_series_plot(ax, extent, mark_years)
    source = source_label(str(ds.attrs.get("data_source", "unknown")))
    ax.set_title(f"{calendar.month_name[month]} sea-ice extent — {source}", fontsize="medium")
    ax.set_ylabel("sea-ice extent (million km²)")
    return fig
