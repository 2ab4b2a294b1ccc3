"""ERA5 monthly means of IceNet's 11 climate inputs, on icegrad's EASE-Grid 2.0 North grids.

IceNet's climate channels come from ECMWF's ERA5 reanalysis (Hersbach et al. 2020). The monthly means
are fetched from the Copernicus Climate Data Store (CDS) through ``cdsapi``
(:mod:`icegrad.data.era5_fetch`), read and normalised (:mod:`icegrad.data.era5_files`), regridded to
EASE2 (:mod:`icegrad.data.regrid`) and converted here to the schema's variables and SI units (names
of both step modules are re-exported here):

=========  =======================================================  ==============================
schema     ERA5 (CDS name, netCDF short name)                        conversion
=========  =======================================================  ==============================
tas        2m_temperature ``t2m``                                    K, as is
tos        sea_surface_temperature ``sst``                           K; NaN on land (schema)
rsds       surface_solar_radiation_downwards ``ssrd``               J m-2 per day / 86400 s -> W m-2
rsus       ssrd - surface_net_solar_radiation ``ssr``               upward = downward - net, / 86400
psl        mean_sea_level_pressure ``msl``                           Pa, as is
uas, vas   10m_u/v_component_of_wind ``u10``, ``v10``               rotated onto the grid's x/y axes
ta500      temperature ``t`` at 500 hPa                              K, as is
zg500/250  geopotential ``z`` at 500 / 250 hPa                       / g0 (9.80665 m s-2) -> m
ua10       u_component_of_wind ``u`` at 10 hPa                       m s-1, eastward (not rotated)
=========  =======================================================  ==============================

ERA5 *monthly averaged reanalysis* stores accumulated fields as the mean of daily accumulations, in
J m-2 per day, hence the division by 86400 s.

Requests (one per dataset, variable group and year; see :func:`requests_for`) cover latitudes north
of :data:`DEFAULT_SOUTH_DEG` = 15 N: the corners of the 432 x 432 EASE2 grid reach 16.6 N, and every
cell needs data, so the usual "north of 25 N" would leave the corners empty. A downloaded request is
stored under a hash of its content and never asked for again; the file is written to a temporary
name and renamed only when complete (and unzipped if the CDS sends a zip of netCDF files).

ERA5T: the latest months are preliminary (``expver`` 5) until the final ERA5 (``expver`` 1) replaces
them. Both are merged into one time axis, preferring final ERA5 wherever both exist; the months still
from ERA5T are listed in the ``era5t_months`` attribute.

Regridding is **bilinear in latitude/longitude** from the regular ERA5 grid to each EASE2 25 km cell
centre (exact weights, computed once as a sparse matrix, periodic in longitude), then block means for
coarser grids. Bilinear rather than nearest because these are smooth fields whose source grid
(0.25 deg, ~28 km) is close to the target's, so nearest would add a staircase. pyresample (used for the
NSIDC grid in :mod:`icegrad.data.regrid`) is not needed: on a regular latitude/longitude source the
four neighbours and their weights follow from arithmetic. ``tos``: the weights are renormalised over
neighbours with data, sea cells with none take the nearest value, and icegrad's land mask sets NaN.

Winds: EASE2 North is a polar Lambert azimuthal projection with ``lon_0 = 0``, where a cell at
longitude lambda has its eastward direction at angle lambda from the grid's x axis (and northward at
lambda + 90 deg, toward the pole), so ``uas = u cos(lambda) - v sin(lambda)`` and
``vas = u sin(lambda) + v cos(lambda)`` (:func:`icegrad.data.regrid.rotate_to_grid`; checked numerically
with pyproj in the tests).

Example
-------
Loading needs a CDS account (:func:`check_credentials`) and downloads each request once:
``load(100, "2012-01", "2013-12")``. What that asks the CDS for, worked out offline, one request per
variable group and year:

>>> requests = requests_for(pd.date_range("2012-01", "2013-12", freq="MS"))
>>> sorted({year for _, year, _ in requests}), requests[0][2]["month"][:3]
([2012, 2013], ['01', '02', '03'])

and a wind blowing east at 90 E blows along the grid's y axis:

>>> uas, vas = regrid.rotate_to_grid(np.array([1.0]), np.array([0.0]), np.array([90.0]))
>>> round(float(uas[0]), 6), round(float(vas[0]), 6)
(0.0, 1.0)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import cache, grid
from icegrad.data import catalogue, regrid
from icegrad.data.era5_fetch import (
    DEFAULT_GRID_DEG,
    DEFAULT_SOUTH_DEG,
    ERA5_DIR_ENV,
    GROUPS,
    PRESSURE_LEVELS,
    SINGLE_LEVELS,
    RequestGroup,
    check_credentials,
    default_folder,
    download,
    requests_for,
    retrieve,
)
from icegrad.data.era5_files import (
    EXPECTED_UNITS,
    CDSCredentialsError,
    ERA5Error,
    MissingMonthError,
    check_file,
    merge_expver,
    normalise,
    open_files,
)
from icegrad.data.land import land_mask
from icegrad.data.schema import as_monthly_dataset, month_starts
from icegrad.variables import MONTHLY_VARIABLES

G0 = 9.80665  # standard gravity, m s-2 (ECMWF's value for geopotential height)
SECONDS_PER_DAY = 86400.0
CLIMATE_VARIABLES = ("tas", "ta500", "tos", "rsds", "rsus", "psl", "zg500", "zg250", "ua10", "uas", "vas")


def _source_fields(block: xr.Dataset) -> dict[str, xr.DataArray]:
    """Schema variables (still on latitude/longitude) from a block of CDS fields, in schema units."""
    needed = {"t2m", "sst", "ssrd", "ssr", "msl", "u10", "v10", "t_500hPa", "z_500hPa", "z_250hPa", "u_10hPa"}
    missing = sorted(needed - set(map(str, block.data_vars)))
    if missing:
        raise ERA5Error(f"the ERA5 files lack {missing}; download all request groups "
                        "(icegrad.data.era5.download) or pass every file to path")
    return {
        "tas": block["t2m"], "tos": block["sst"], "psl": block["msl"],
        "rsds": block["ssrd"] / SECONDS_PER_DAY, "rsus": (block["ssrd"] - block["ssr"]) / SECONDS_PER_DAY,
        "ta500": block["t_500hPa"], "zg500": block["z_500hPa"] / G0, "zg250": block["z_250hPa"] / G0,
        "ua10": block["u_10hPa"], "u10": block["u10"], "v10": block["v10"],
    }


COMMENTS = {
    "rsds": "ERA5 ssrd (monthly mean of daily accumulations, J m-2 per day) / 86400 s",
    "rsus": "ERA5 ssrd - ssr (upward = downward - net shortwave), / 86400 s",
    "zg500": "ERA5 geopotential at 500 hPa / g0 (9.80665 m s-2)",
    "zg250": "ERA5 geopotential at 250 hPa / g0 (9.80665 m s-2)",
    "uas": "ERA5 u10/v10 rotated onto the EASE2 x axis (angle = longitude)",
    "vas": "ERA5 u10/v10 rotated onto the EASE2 y axis (angle = longitude)",
    "tos": "ERA5 sst; NaN on icegrad's land mask, coastal gaps filled from the nearest sea value",
    "ua10": "ERA5 u at 10 hPa, eastward (not rotated)",
}


def to_ease2(source: xr.Dataset, months: pd.DatetimeIndex, resolution_km: int,
             block_months: int = 12) -> dict[str, np.ndarray]:
    """The 11 schema variables ``(time, y, x)`` at ``resolution_km``, computed a block of months at a time."""
    base = grid.ease2_grid(grid.BASE_RESOLUTION_KM)
    weights = regrid.bilinear_weights(source["latitude"].values, source["longitude"].values,
                                      base["lat"].values, base["lon"].values)
    land25 = np.asarray(land_mask(grid.BASE_RESOLUTION_KM).values)
    land = np.asarray(land_mask(resolution_km).values)
    shape25 = (grid.BASE_SIZE, grid.BASE_SIZE)
    out: dict[str, list[np.ndarray]] = {name: [] for name in CLIMATE_VARIABLES}
    for first in range(0, len(months), block_months):
        chunk = months[first:first + block_months]
        fields = _source_fields(source.sel(time=chunk.values.astype("datetime64[ns]")))
        on25 = {}
        for name, da in fields.items():
            values = np.asarray(da.transpose("time", "latitude", "longitude").values, dtype=np.float64)
            on25[name] = regrid.apply_weights(weights, values).reshape(len(chunk), *shape25)
        on25["uas"], on25["vas"] = regrid.rotate_to_grid(on25.pop("u10"), on25.pop("v10"), base["lon"].values)
        has = np.isfinite(on25["tos"])
        regrid.fill_from_nearest(on25["tos"], ~has & ~land25, has)
        on25["tos"][:, land25] = np.nan
        for name in CLIMATE_VARIABLES:
            values = on25[name]
            if resolution_km != grid.BASE_RESOLUTION_KM:
                da = xr.DataArray(values, dims=("time", "y", "x"), coords=base.coords)
                values = np.asarray(grid.coarsen(da, resolution_km).values)
                if name == "tos":
                    values[:, land] = np.nan
            out[name].append(values.astype(np.float32))
    return {name: np.concatenate(parts) for name, parts in out.items()}


def build_dataset(source: xr.Dataset, months: pd.DatetimeIndex, resolution_km: int,
                  era5t: Sequence[pd.Timestamp]) -> xr.Dataset:
    """ERA5 fields for ``months`` as icegrad's monthly dataset (the 11 climate variables)."""
    have = pd.DatetimeIndex(source["time"].values)
    absent = months.difference(have)
    if len(absent):
        raise MissingMonthError(f"the ERA5 files lack {', '.join(f'{m:%Y-%m}' for m in absent)}; they "
                                f"hold {have.min():%Y-%m}..{have.max():%Y-%m}. Download them or choose other "
                                "months.")
    values = to_ease2(source, months, resolution_km)
    g = grid.ease2_grid(resolution_km)
    data = {}
    for name in CLIMATE_VARIABLES:
        spec = MONTHLY_VARIABLES[name]
        attrs = {"units": spec.units, "long_name": spec.long_name, "standard_name": spec.standard_name}
        if name in COMMENTS:
            attrs["comment"] = COMMENTS[name]
        data[name] = (("time", "y", "x"), values[name], attrs)
    ds = xr.Dataset(data, coords={"time": months.values.astype("datetime64[ns]"), **g.coords})
    used_t = [m for m in era5t if m in set(months)]
    return as_monthly_dataset(
        ds, resolution_km,
        title=f"ERA5 monthly means of IceNet's climate inputs on {grid.grid_name(resolution_km)}",
        data_source="observed",
        source="ECMWF ERA5 reanalysis, monthly averaged reanalysis on single and pressure levels "
               f"(Copernicus Climate Data Store: {SINGLE_LEVELS}, {PRESSURE_LEVELS}), "
               f"doi:{catalogue.ERA5_SINGLE_LEVELS.doi} and doi:{catalogue.ERA5_PRESSURE_LEVELS.doi}",
        references=catalogue.ERA5_REFERENCE,
        comment="Bilinear (latitude/longitude) to EASE2 25 km cell centres, then block means; 10 m winds "
                "rotated onto the grid axes; see icegrad.data.era5.",
        era5t_months=", ".join(f"{m:%Y-%m}" for m in sorted(used_t)) or "none",
    )


def _era5_files(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(path, (str, os.PathLike)):
        p = Path(path).expanduser()
        files = sorted(p.glob("*.nc")) if p.is_dir() else [p]
    else:
        files = [Path(q).expanduser() for q in path]
    absent = [str(f) for f in files if not f.is_file()]
    if not files or absent:
        raise ERA5Error(f"no ERA5 netCDF files at {path!r}{f' (missing {absent})' if absent else ''}; "
                        "download them with icegrad.data.era5.download(start, end)")
    return files


def load(resolution_km: int = 100, start: str = "1979-01", end: str = "2020-12",
         path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
         refresh: bool = False, *, south_deg: float = DEFAULT_SOUTH_DEG,
         grid_deg: float = DEFAULT_GRID_DEG) -> xr.Dataset:
    """ERA5 monthly means of the 11 climate variables on EASE2 at ``resolution_km``, in icegrad's schema.

    With ``path`` (a folder of CDS netCDF files, or files) nothing is downloaded; otherwise the CDS
    requests of :func:`requests_for` are fetched into :func:`default_folder` (or reused). ``refresh``
    recomputes the cached dataset (downloaded files are kept: delete them to fetch again).
    """
    grid.coarsening_factor(resolution_km)
    months = month_starts(start, end)
    if not len(months):
        raise ERA5Error(f"start={start!r} is after end={end!r}")
    if path is None:
        files = download(start, end, south_deg=south_deg, grid_deg=grid_deg)
    else:
        files = _era5_files(path)
    params = {"resolution_km": resolution_km, "start": f"{months[0]:%Y-%m}", "end": f"{months[-1]:%Y-%m}",
              "files": cache.files_fingerprint(sorted(files))}

    def compute() -> xr.Dataset:
        source, era5t = open_files(files)
        with source:
            return build_dataset(source, months, resolution_km, era5t)

    return cache.cached_netcdf("era5", params, compute, refresh=refresh)


__all__ = [
    "CLIMATE_VARIABLES", "DEFAULT_GRID_DEG", "DEFAULT_SOUTH_DEG", "ERA5_DIR_ENV", "EXPECTED_UNITS", "G0",
    "GROUPS", "PRESSURE_LEVELS", "SINGLE_LEVELS", "CDSCredentialsError", "ERA5Error", "MissingMonthError",
    "RequestGroup", "build_dataset", "check_credentials", "check_file", "default_folder", "download", "load",
    "merge_expver", "normalise", "open_files", "requests_for", "retrieve", "to_ease2",
]
