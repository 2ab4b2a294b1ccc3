"""IceNet's full observational inputs: OSI SAF sea ice (:mod:`icegrad.data.osisaf`) + ERA5 climate
(:mod:`icegrad.data.era5`), merged into one monthly dataset with ``data_source="observed"``.

This is the real-data counterpart of the embedded emulated Arctic: the same 12 schema variables, so
every later stage (input tensors, IceNet, attribution) runs on it unchanged. The two sources are
loaded (and cached) separately and must agree exactly on months and grid; they are never silently
aligned, because a month present in one and not the other would shift IceNet's lags.

Example
-------
``load(100, "2007-01", "2013-12")`` downloads OSI SAF and needs a CDS account for ERA5. How
:func:`merge` joins the two, shown on the emulated Arctic split into its sea ice and its climate:

>>> climate = [v for v in ds.data_vars if v != "siconca"]
>>> merged = merge(ds[["siconca"]], ds[climate])
>>> merged.attrs["data_source"], sorted(merged.data_vars) == sorted(ds.data_vars)
('observed', True)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data import era5, osisaf
from icegrad.data.schema import validate_monthly_dataset
from icegrad.errors import IcegradError

PathLike = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


class ObservedError(IcegradError):
    """OSI SAF and ERA5 datasets that cannot be merged; the message says how they disagree."""


def _describe(months: pd.DatetimeIndex) -> str:
    return ", ".join(f"{m:%Y-%m}" for m in months[:6]) + (" ..." if len(months) > 6 else "")


def merge(sea_ice: xr.Dataset, climate: xr.Dataset) -> xr.Dataset:
    """One schema dataset from an OSI SAF ``siconca`` dataset and an ERA5 climate dataset.

    Raises :class:`ObservedError` if their grids, land masks or months differ.
    """
    res_ice, res_clim = grid.resolution_of(sea_ice), grid.resolution_of(climate)
    if res_ice != res_clim:
        raise ObservedError(f"OSI SAF data are on the {res_ice} km grid but ERA5 on the {res_clim} km grid; "
                            "load both with the same resolution_km")
    for coord in ("x", "y"):
        if not np.allclose(sea_ice[coord].values, climate[coord].values):
            raise ObservedError(f"OSI SAF and ERA5 {coord} coordinates differ; both must be on icegrad's "
                                f"EASE2 {res_ice} km grid (icegrad.grid.ease2_grid)")
    if not np.array_equal(sea_ice["land"].values, climate["land"].values):
        raise ObservedError("OSI SAF and ERA5 datasets carry different land masks; both must use "
                            "icegrad.data.land.land_mask")
    t_ice, t_clim = pd.DatetimeIndex(sea_ice["time"].values), pd.DatetimeIndex(climate["time"].values)
    if not t_ice.equals(t_clim):
        only_ice, only_clim = t_ice.difference(t_clim), t_clim.difference(t_ice)
        raise ObservedError(
            f"OSI SAF and ERA5 months differ: only in OSI SAF {_describe(only_ice) or 'none'}; only in ERA5 "
            f"{_describe(only_clim) or 'none'}. Load both for the same start and end."
        )
    climate_vars = [v for v in era5.CLIMATE_VARIABLES if v in climate]
    ds = sea_ice[["siconca"]].assign({v: climate[v] for v in climate_vars})
    ds.attrs = {
        "title": f"Observed Arctic (OSI SAF sea ice + ERA5) on {grid.grid_name(res_ice)}",
        "data_source": "observed",
        "observed": "true",
        "source": f"siconca: {sea_ice.attrs.get('source', 'OSI SAF')} | climate variables: "
                  f"{climate.attrs.get('source', 'ERA5')}",
        "references": f"{sea_ice.attrs.get('references', '')} | {climate.attrs.get('references', '')}",
        "Conventions": "CF-1.8",
        "resolution_km": res_ice,
        "comment": f"siconca: {sea_ice.attrs.get('comment', '')} | "
                   f"climate: {climate.attrs.get('comment', '')}",
        "missing_days": sea_ice.attrs.get("missing_days", "none"),
        "era5t_months": climate.attrs.get("era5t_months", "none"),
    }
    return validate_monthly_dataset(ds)


def load(resolution_km: int = 100, start: str = "1979-01", end: str = "2020-12", refresh: bool = False, *,
         osisaf_path: PathLike | None = None, era5_path: PathLike | None = None,
         osisaf_options: Mapping[str, object] | None = None,
         era5_options: Mapping[str, object] | None = None) -> xr.Dataset:
    """OSI SAF SIC and ERA5 climate for ``start..end`` at ``resolution_km`` as one schema dataset.

    ``osisaf_path`` / ``era5_path`` point at local files (nothing downloaded for that source);
    ``osisaf_options`` / ``era5_options`` pass further keywords to :func:`icegrad.data.osisaf.load` and
    :func:`icegrad.data.era5.load` (e.g. ``{"min_days": 15}``, ``{"grid_deg": 0.5}``). OSI SAF's
    current record (OSI-450-a + OSI-430-a, v3p0) is the default; ``osisaf_options={"version": "v2p0"}``
    downloads the OSI-450 + OSI-430-b record IceNet was trained on.
    """
    sea_ice = osisaf.load(resolution_km, start, end, path=osisaf_path, refresh=refresh,
                          **dict(osisaf_options or {}))
    climate = era5.load(resolution_km, start, end, path=era5_path, refresh=refresh,
                        **dict(era5_options or {}))
    return merge(sea_ice, climate)
