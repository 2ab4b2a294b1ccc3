"""Small multiples of IceNet's input channels for one forecast start, grouped by family.

Before asking which inputs a forecast relied on, a reader should see what the network was shown. One
sample is 50 maps of very different kinds, so each family keeps its own visual language and its own
honestly labelled colour bar: SIC and its linear-trend forecast on the sea-ice colormap as fractions
in [0, 1]; z-scored climate anomalies and winds on one diverging colormap symmetric about zero, in
standard deviations (one scale for all of them, so their magnitudes compare); the land mask in grey
and white (land 1, ocean 0); cos/sin of the start month, constant fields in [-1, 1], with their value
in the panel title. Each family starts a new row unless it fits in what is left of the current one;
the land mask always starts a row, so the standard-deviation colour bar above it cannot be read as
its scale. :func:`input_style` and :func:`input_colorbar` give any single input map the same scale.

Example
-------
With ``ds`` a dataset and ``ens`` an ensemble (see :mod:`icegrad.pipeline`), three of the 50 inputs:

>>> from icegrad import pipeline
>>> sample = pipeline.forecast_inputs(ds, ens, "2013-09", [1]).isel(time=0)
>>> fig = channel_panels(sample, ["siconca_abs_1", "tas_anom_1", "land"])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colorbar import Colorbar
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from icegrad.plots.basemap import DEFAULT_MIN_LAT, PlotError, polar_axes
from icegrad.plots.maps import polar_map
from icegrad.plots.provenance import source_label
from icegrad.plots.styles import (
    DIVERGING_CMAP,
    MINUS,
    shared_colorbar,
    sic_style,
    symmetric_limit,
)
from icegrad.variables import channel

FAMILIES = ("sic", "trend", "anomaly", "wind", "land", "season")
"""Panel families in display order: SIC lags, linear-trend leads, climate anomalies, winds, land, season."""

WIND_VARIABLES = ("ua10", "uas", "vas")
LAND_CMAP = ListedColormap(["white", "#7f7f7f"])
ZSCORE_QUANTILE = 0.99
"""Colour limit of the z-scored panels: the 99th percentile of |value|, so a few extreme cells do not
wash out every anomaly map."""
OWN_ROW = ("land",)
"""Families that always start a new row of panels (see the module docstring)."""
SCALES = {"sic": "sic", "trend": "sic", "anomaly": "zscore", "wind": "zscore", "land": "land",
          "season": "season"}
"""The colour scale of each family: families sharing a scale share one colour bar."""
FAMILY_LABELS = {
    "sic": "sea ice concentration (fraction)",
    "trend": "linear-trend SIC forecast (fraction)",
    "anomaly": "normalised anomaly (standard deviations)",
    "wind": "normalised wind (standard deviations)",
    "land": "land mask (ocean 0, land 1)",
    "season": f"cos/sin of the month ({MINUS}1 to 1)",
}
"""Colour-bar label of a map of one family's channel."""
SCALE_LABELS = {
    "sic": "sea ice concentration and its linear-trend forecast (fraction)",
    "zscore": "normalised value (standard deviations)",
    "land": "land mask (ocean 0, land 1)",
    "season": f"cos/sin of the start month ({MINUS}1 to 1)",
}
"""Colour-bar label of a scale shared by the panels of several families."""


def channel_family(name: str) -> str:
    """The display family of an IceNet channel name (one of :data:`FAMILIES`)."""
    try:
        spec = channel(name)
    except KeyError as err:
        raise PlotError(str(err.args[0])) from None
    if spec.kind == "linear_trend":
        return "trend"
    if spec.variable == "siconca":
        return "sic"
    if spec.variable in WIND_VARIABLES:
        return "wind"
    if spec.kind == "anom":
        return "anomaly"
    return "land" if spec.kind == "static" else "season"


def panel_layout(families: Sequence[str], ncols: int, own_row: Sequence[str] = ()) -> list[int]:
    """Flat panel index of each channel: a family starts a new row unless it fits in the current one.

    ``families`` is the family of each channel, with every family's channels contiguous; families in
    ``own_row`` always start a new row. Returns one index per channel into a row-major grid of
    ``ncols`` columns.
    """
    if ncols < 1:
        raise PlotError(f"ncols must be at least 1, got {ncols}")
    runs: list[tuple[str, int]] = []
    for family in families:
        if runs and runs[-1][0] == family:
            runs[-1] = (family, runs[-1][1] + 1)
        else:
            runs.append((family, 1))
    positions: list[int] = []
    row, col = 0, 0
    for family, size in runs:
        if col and (col + size > ncols or family in own_row):
            row, col = row + 1, 0
        for _ in range(size):
            positions.append(row * ncols + col)
            col += 1
            if col == ncols:
                row, col = row + 1, 0
    return positions


def _one_sample(inputs_sample: xr.DataArray) -> xr.DataArray:
    """Check the sample is ``(y, x, channel)`` (a length-1 ``time`` is dropped) and return it."""
    if not isinstance(inputs_sample, xr.DataArray) or "channel" not in inputs_sample.dims:
        raise PlotError("expected an xarray.DataArray with a 'channel' dim, as made by "
                        "icegrad.inputs.build.build_inputs (select one start with .isel(time=0))")
    sample = inputs_sample
    if "time" in sample.dims:
        if sample.sizes["time"] != 1:
            raise PlotError(f"the inputs hold {sample.sizes['time']} start months; the panels show one: "
                            "select it first, e.g. inputs.sel(time='2013-09')")
        sample = sample.isel(time=0)
    extra = sorted(set(sample.dims) - {"y", "x", "channel"})
    if extra:
        raise PlotError(f"the inputs have extra dims {extra}; select one value of each first")
    return sample


def _ordered(names: Sequence[str]) -> list[str]:
    """The channels sorted by family (stable within a family), so each family's panels sit together."""
    return sorted(names, key=lambda n: FAMILIES.index(channel_family(n)))


def _start_label(sample: xr.DataArray) -> str:
    if "time" in sample.coords:
        return f"forecast start {pd.Timestamp(sample['time'].values):%B %Y}"
    return "one forecast start"


def channel_panels(
    inputs_sample: xr.DataArray,
    channels: Sequence[str] | None = None,
    *,
    ncols: int = 12,
    panel_size: float = 1.45,
    min_lat: float = DEFAULT_MIN_LAT,
    scale: str = "110m",
) -> Figure:
    """Polar maps of one start month's input channels, grouped by family, with shared colour bars.

    ``inputs_sample`` is :func:`icegrad.inputs.build.build_inputs`'s output for one start month (a
    length-1 ``time`` is fine); ``channels`` picks and orders a subset (default: all of them). The
    coarse Natural Earth ``scale`` keeps 50 small maps quick to draw. The figure's title names the
    start month and, for emulated data, says EMULATED.
    """
    sample = _one_sample(inputs_sample)
    present = [str(c) for c in sample["channel"].values]
    names = list(channels) if channels is not None else present
    missing = [n for n in names if n not in present]
    if missing or not names:
        raise PlotError(f"channel(s) {missing} are not in the inputs; available: {present}"
                        if missing else "no channels to draw; pass at least one channel name")
    names = _ordered(names)
    families = [channel_family(n) for n in names]
    positions = panel_layout(families, ncols, OWN_ROW)
    nrows = positions[-1] // ncols + 1
    fig, axes = polar_axes(nrows, ncols, min_lat=min_lat, panel_size=panel_size)
    zscored = [n for n, f in zip(names, families, strict=True) if SCALES[f] == "zscore"]
    limit = symmetric_limit(sample.sel(channel=zscored), ZSCORE_QUANTILE) if zscored else 1.0
    meshes: dict[str, tuple[Any, list[Any]]] = {}
    for name, family, index in zip(names, families, positions, strict=True):
        ax = axes[index]
        field = sample.sel(channel=name, drop=True)
        title = name
        if family == "season":
            value = round(float(field.mean()), 2) + 0.0  # + 0.0: no "-0.00"
            title = f"{name} = {value:+.2f}".replace("-", MINUS)
        mesh = polar_map(ax, field, title=title, scale=scale, land=family != "land",
                         **family_style(family, limit))
        ax.title.set_fontsize("x-small")
        meshes.setdefault(SCALES[family], (mesh, []))[1].append(ax)
    for ax in np.delete(axes, positions):
        ax.set_visible(False)
    for key, (mesh, used) in meshes.items():
        small = key in ("land", "season")
        _scale_colorbar(fig, mesh, used, key, shrink=0.9 if small else 0.5, aspect=12 if small else 40,
                        extend="both" if key == "zscore" else "neither")
    source = source_label(str(sample.attrs.get("data_source", "unknown")))
    fig.suptitle(f"IceNet's {len(names)} input channels, {_start_label(sample)} — {source}",
                 fontsize="medium")
    return fig


def family_style(family: str, limit: float = 1.0) -> dict[str, Any]:
    """Colormap and limits of one panel by family; ``limit`` is the z-scored families' half-range."""
    scale = SCALES[family]
    if scale == "sic":
        return sic_style()
    if scale == "zscore":
        return {"cmap": DIVERGING_CMAP, "vmin": -limit, "vmax": limit}
    if scale == "land":
        return {"cmap": LAND_CMAP, "vmin": 0.0, "vmax": 1.0}
    return {"cmap": DIVERGING_CMAP, "vmin": -1.0, "vmax": 1.0}


def input_style(name: str, field: xr.DataArray, quantile: float | None = ZSCORE_QUANTILE) -> dict[str, Any]:
    """Colours of one channel's input map: its family's scale, z-scored ones at ``field``'s ``quantile``."""
    family = channel_family(name)
    limit = symmetric_limit(field, quantile) if SCALES[family] == "zscore" else 1.0
    return family_style(family, limit)


def _scale_colorbar(fig: Figure, mesh: Any, axes: Sequence[Any], scale: str, label: str | None = None,
                    **kwargs: Any) -> Colorbar:
    """A colour bar for one scale; the land mask's names its two values, cos/sin's has ticks -1, 0, 1."""
    bar = shared_colorbar(fig, mesh, axes, label or SCALE_LABELS[scale], **kwargs)
    if scale == "land":
        bar.set_ticks([0.25, 0.75], labels=["ocean", "land"])
    elif scale == "season":
        bar.set_ticks([-1.0, 0.0, 1.0], labels=[f"{MINUS}1", "0", "1"])
    return bar


def input_colorbar(fig: Figure, mesh: Any, ax: Any, name: str, **kwargs: Any) -> Colorbar:
    """The colour bar of one channel's input map, labelled with what its values are (see FAMILY_LABELS)."""
    family = channel_family(name)
    return _scale_colorbar(fig, mesh, [ax], SCALES[family], FAMILY_LABELS[family], **kwargs)

