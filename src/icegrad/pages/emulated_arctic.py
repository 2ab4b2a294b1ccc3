"""Chapter 2, the embedded emulated Arctic: drivers, causal links, ice and causal sensitivities.

Every figure is stamped with :func:`label`, so no map of this chapter can be mistaken for observations.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from icegrad import plots
from icegrad.data import emulator
from icegrad.data.emulator.validation import compare_extents, sea_ice_index_folder
from icegrad.diagnostics import sea_ice_extent
from icegrad.errors import IcegradError
from icegrad.pages.common import Page, detached

DRIVERS = (("tas", "2 m air temperature anomaly (K)"), ("rsds", "downwelling shortwave anomaly (W m-2)"),
           ("psl", "sea-level pressure anomaly (Pa)"))
"""The three drivers drawn for July 2007: the Arctic-dipole summer's warmth, sunshine and pressure."""
PLANTED_YEARS = (2007, 2012, 2013)
SEA_ICE_INDEX = "../shared/reference/nsidc_sea_ice_index_v3"


def label(seed: int, resolution_km: int) -> str:
    """The stamp of every figure of the chapter: emulated, which seed, which grid."""
    return f"EMULATED data (synthetic, seed {seed}, {resolution_km} km)"


def load(data_source: str, resolution_km: int, seed: int) -> xr.Dataset:
    """The emulated Arctic (generated once, then cached); this chapter documents no other source."""
    if data_source != "emulated":
        raise IcegradError(f"this chapter documents the emulated Arctic; got data_source={data_source!r}. "
                           "Run it with data_source='emulated' (other sources are described elsewhere).")
    return emulator.load(resolution_km=resolution_km, seed=seed)


def monthly_anomalies(ds: xr.Dataset) -> xr.Dataset:
    """Every field minus its 1979-2020 mean of the same calendar month."""
    return ds.groupby("time.month") - ds.groupby("time.month").mean()


def drivers_figure(ds: xr.Dataset, stamp: str, min_lat: float) -> Figure:
    """The July 2007 anomalies of three drivers, each on its own diverging scale."""
    july = monthly_anomalies(ds[[name for name, _ in DRIVERS]]).sel(time="2007-07").squeeze("time")
    fig, axes = plots.polar_axes(1, len(DRIVERS), min_lat=min_lat)
    for ax, (name, text) in zip(axes, DRIVERS, strict=True):
        mesh = plots.polar_map(ax, july[name], **plots.diverging_style(july[name], quantile=0.99), title=name)
        fig.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.8, pad=0.03, label=text)
    fig.suptitle(f"{stamp}: drivers in July 2007, anomalies vs the 1979-2020 July mean")
    return detached(fig)


def links_table() -> pd.DataFrame:
    """The ground-truth links, with their calendar months spelled out (``Jun, Jul, Aug``)."""
    links = emulator.true_links()
    names = {m: pd.Timestamp(2000, m, 1).strftime("%b") for m in range(1, 13)}
    return links.assign(months=links.months.map(lambda ms: ", ".join(names[m] for m in ms)))


def season_figure(ds: xr.Dataset, years: Sequence[int], stamp: str, min_lat: float) -> Figure:
    """SIC in March (top row) and September (bottom row) of the ``years`` the dataset holds."""
    held = set(ds.time.dt.year.values.tolist())
    years = [y for y in years if y in held]
    fig, axes = plots.polar_axes(2, len(years), min_lat=min_lat)
    for row, month in enumerate((3, 9)):
        for col, year in enumerate(years):
            field = ds.siconca.sel(time=f"{year}-{month:02d}").squeeze("time")
            mesh = plots.polar_map(axes[row * len(years) + col], field, **plots.sic_style(),
                                   title=f"{pd.Timestamp(year, month, 1):%B %Y}")
    plots.shared_colorbar(fig, mesh, axes, "sea ice concentration (EMULATED)")
    fig.suptitle(f"{stamp}: sea-ice concentration")
    return detached(fig)


def extent_section(ds: xr.Dataset, stamp: str) -> Page:
    """March and September extents 1979-2020 beside the Sea Ice Index where its folder is present."""
    extent = sea_ice_extent(ds.siconca)
    folder = sea_ice_index_folder()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    rows = []
    for ax, month in zip(axes, (3, 9), strict=True):
        plots.year_series_plot(ax, extent, list(PLANTED_YEARS), month=month)
        ax.lines[0].set_label("emulated")
        if folder is not None:
            comparison = compare_extents(ds, month, folder)
            ax.plot(comparison.table.index, comparison.table.observed, color="tab:blue", alpha=0.7,
                    linewidth=1.2, label="observed (NSIDC Sea Ice Index)")
            rows.append({"month": month, "correlation": comparison.correlation,
                         "RMSE (million km2)": comparison.rmse, "bias (million km2)": comparison.bias})
        ax.legend(fontsize="small", frameon=False)
        ax.set_title(f"{pd.Timestamp(2000, month, 1):%B} extent")
    fig.suptitle(f"{stamp} vs observations")
    if folder is None:
        return Page(figures={"extent": detached(fig)}, notes=[
            f"The Sea Ice Index reference folder ({SEA_ICE_INDEX}) is absent: only the emulated extents "
            "are shown."])
    return Page(tables={"comparison": pd.DataFrame(rows).set_index("month").round(2)},
                figures={"extent": detached(fig)})


def regions_figure(resolution_km: int, min_lat: float) -> Figure:
    """The named regions the links act in, one colour each."""
    regions = emulator.regions(resolution_km)
    n = regions.sizes["region"]
    code_map = xr.where(regions.any("region"), regions.argmax("region"), np.nan)
    fig, axes = plots.polar_axes(1, 1, min_lat=min_lat, panel_size=5.5)
    mesh = plots.polar_map(axes[0], code_map, cmap=ListedColormap(plt.get_cmap("tab10").colors[:n]),
                           vmin=-0.5, vmax=n - 0.5)
    bar = fig.colorbar(mesh, ax=axes[0], ticks=range(n), shrink=0.8)
    bar.ax.set_yticklabels(list(regions["region"].values))
    axes[0].set_title("emulator regions (the sector links are centred on two of these)")
    return detached(fig)


def typical_effects(truth: xr.DataArray, anomalies: xr.Dataset) -> pd.DataFrame:
    """Exact derivatives summed over the grid, times one standard deviation of each input's anomalies.

    Derivatives per kelvin, per pascal or per W m-2 cannot be compared; scaled by a typical anomaly
    they are changes of the target. ``siconca`` at lag 0 is the target itself and is left out.
    """
    typical = xr.DataArray([float(anomalies[name].std()) for name in truth["variable"].values],
                           dims="variable", coords={"variable": truth["variable"]})
    effect = (truth.sum(("y", "x")) * typical).to_pandas()
    if "siconca" in effect.index and 0 in effect.columns:
        effect.loc["siconca", 0] = np.nan  # d(target)/d(target) = 1, not an input
    effect.index.name, effect.columns.name = "input", "lag (months)"
    return effect


def sensitivity_section(ds: xr.Dataset, resolution_km: int, target: str, stamp: str) -> Page:
    """The causal sensitivity of Pacific-sector SIC in ``target``: a table of changes per typical anomaly,
    and maps of its four largest entries."""
    roi = emulator.regions(resolution_km).sel(region="pacific_sector", drop=True)
    truth = emulator.true_sensitivity(ds, target, roi, months_back=6)["sensitivity"]
    effect = typical_effects(truth, monthly_anomalies(ds))
    limit = float(np.nanmax(np.abs(effect.values)))
    styled = (effect.round(4).style.background_gradient(cmap="RdBu", vmin=-limit, vmax=limit, axis=None)
              .set_caption(f"{stamp}: change of Pacific-sector SIC in {target} per typical anomaly"))
    fig, axes = plots.polar_axes(1, 4, min_lat=60.0)
    largest = effect.abs().stack().sort_values(ascending=False).index[:4]
    for ax, (name, lag) in zip(axes, largest, strict=True):
        field = truth.sel(variable=name, lag=lag)
        mesh = plots.polar_map(ax, field.where(field != 0), **plots.diverging_style(field),
                               title=f"{name}, lag {lag}")
        fig.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.8, pad=0.03,
                     label=f"per {truth.input_units.sel(variable=name).item()}")
    fig.suptitle(f"{stamp}: causal d(Pacific-sector SIC, {target}) / d(input)")
    return Page(tables={"effects": styled}, figures={"maps": detached(fig)})

