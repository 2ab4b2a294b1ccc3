"""Reading ERA5 monthly means as the CDS delivers them: the shared netCDF check, ERA5/ERA5T merge, names.

The *read* step of the ERA5 reader (:mod:`icegrad.data.era5` loads, :mod:`icegrad.data.era5_fetch`
retrieves from the Copernicus Climate Data Store, :mod:`icegrad.data.regrid` regrids). The new CDS
writes ``valid_time`` (not ``time``), ``pressure_level`` and adds ``number`` and ``expver``; this
module turns every file into ``time`` (month starts), ``level``, ascending ``latitude`` and
``longitude`` in [-180, 180), and keeps final ERA5 over preliminary ERA5T where both exist.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.data.download import open_netcdf
from icegrad.errors import IcegradError

EXPECTED_UNITS = {"t2m": "K", "sst": "K", "ssrd": "J m**-2", "ssr": "J m**-2", "msl": "Pa", "u10": "m s**-1",
                  "v10": "m s**-1", "t": "K", "z": "m**2 s**-2", "u": "m s**-1"}


class ERA5Error(IcegradError):
    """A problem with ERA5 input; the message names the file, variable or month and the fix."""


class CDSCredentialsError(ERA5Error):
    """No usable CDS API credentials were found."""


class MissingMonthError(ERA5Error):
    """Requested months that the ERA5 files do not hold."""


def check_file(path: str | os.PathLike[str]) -> None:
    """The shared netCDF check (:func:`icegrad.data.download.open_netcdf`) for a CDS ERA5 file."""
    with open_netcdf(path, product="an ERA5 monthly-means (CDS)", any_of=sorted(EXPECTED_UNITS),
                     error=ERA5Error, hint="delete it and download it again with icegrad.data.era5.download"):
        pass


def _expver_number(value: object) -> int:
    return int(str(value.decode() if isinstance(value, bytes) else value).strip())


def merge_expver(ds: xr.Dataset) -> tuple[xr.Dataset, list[pd.Timestamp]]:
    """One time axis from ERA5 (expver 1) and ERA5T (expver 5), final ERA5 first; ERA5T months listed.

    Handles both layouts the CDS has used: ``expver`` as a dimension (NaN where a version has no data)
    and ``expver`` as a coordinate along time (possibly with a month present twice).
    """
    if "expver" not in ds.variables:
        return ds, []
    times = pd.DatetimeIndex(ds["time"].values)
    if "expver" in ds.dims:
        versions = {_expver_number(v): v for v in ds["expver"].values}
        ordered = [versions[n] for n in sorted(versions, key=lambda n: (n != 1, n))]  # final ERA5 first
        merged = ds.sel(expver=ordered[0], drop=True)
        for label in ordered[1:]:
            merged = merged.combine_first(ds.sel(expver=label, drop=True))
        if 1 not in versions:
            return merged, list(times)
        final = ds.sel(expver=versions[1], drop=True).to_array()
        has_final = np.asarray(final.notnull().any(dim=[d for d in final.dims if d != "time"]))
        return merged, list(times[~has_final])
    numbers = np.array([_expver_number(v) for v in np.ravel(ds["expver"].values)])
    if ds["expver"].ndim == 0:  # one version for the whole file
        numbers = np.full(ds.sizes["time"], numbers[0])
    order = np.lexsort((numbers != 1, ds["time"].values))  # by time, final ERA5 first within a time
    ds = ds.isel(time=order)
    numbers = numbers[order]
    keep = ~pd.Index(ds["time"].values).duplicated(keep="first")
    ds, numbers = ds.isel(time=keep), numbers[keep]
    era5t = list(pd.DatetimeIndex(ds["time"].values)[numbers != 1])
    return ds.drop_vars("expver"), era5t


def normalise(ds: xr.Dataset, name: str) -> tuple[xr.Dataset, list[pd.Timestamp]]:
    """A CDS netCDF as ``time`` (month starts), ``level``, ``latitude`` ascending, ``longitude`` in
    [-180, 180) ascending, one value per time; returns the months still from ERA5T too."""
    renames = {"valid_time": "time", "pressure_level": "level"}
    ds = ds.rename({k: v for k, v in renames.items() if k in ds.variables})
    if "time" not in ds.dims or "latitude" not in ds.dims or "longitude" not in ds.dims:
        raise ERA5Error(f"{name} has dims {dict(ds.sizes)}; an ERA5 CDS netCDF needs valid_time (or time), "
                        "latitude and longitude")
    ds = ds.drop_vars([v for v in ("number", "step", "surface") if v in ds.variables])
    ds, era5t = merge_expver(ds)
    for var in ds.data_vars:
        expected = EXPECTED_UNITS.get(str(var))
        if expected and ds[var].attrs.get("units", expected) != expected:
            raise ERA5Error(f"{name}: {var} has units {ds[var].attrs['units']!r}, expected {expected!r}; is "
                            "it the monthly_averaged_reanalysis product?")
    if "level" in ds.dims:  # one variable per level, e.g. z_500hPa: groups hold different levels
        flat = [ds[v] for v in ds.data_vars if "level" not in ds[v].dims]
        ds = xr.merge(flat + [ds[v].sel(level=lev, drop=True).rename(f"{v}_{int(lev)}hPa")
                              for v in ds.data_vars for lev in ds["level"].values if "level" in ds[v].dims])
    months = pd.DatetimeIndex(ds["time"].values).to_period("M").to_timestamp()
    lon = ((ds["longitude"].values + 180.0) % 360.0) - 180.0
    ds = ds.assign_coords(time=months.values.astype("datetime64[ns]"), longitude=lon)
    ds = ds.isel(longitude=~pd.Index(lon).duplicated()).sortby("longitude").sortby("latitude")
    return ds, [m.to_period("M").to_timestamp() for m in era5t]


def open_files(files: Sequence[Path]) -> tuple[xr.Dataset, list[pd.Timestamp]]:
    """All CDS files as one lazily loaded dataset (dask), variables merged, times concatenated."""
    by_vars: dict[frozenset[str], list[xr.Dataset]] = {}
    era5t: list[pd.Timestamp] = []
    for path in files:
        check_file(path)
        try:
            raw = xr.open_dataset(path, chunks={})
        except (OSError, ValueError) as err:
            raise ERA5Error(f"{path} cannot be opened as netCDF ({err}); delete it and download it "
                            "again") from None
        ds, t = normalise(raw, Path(path).name)
        era5t += t
        by_vars.setdefault(frozenset(map(str, ds.data_vars)), []).append(ds)
    parts = []
    first = next(iter(by_vars.values()))[0]
    for group in by_vars.values():
        for ds in group:
            if not (np.array_equal(ds["latitude"], first["latitude"])
                    and np.array_equal(ds["longitude"], first["longitude"])):
                raise ERA5Error("the ERA5 files are not on one latitude/longitude grid; download them all "
                                "with the same grid and area")
        part = xr.concat(group, dim="time", join="exact") if len(group) > 1 else group[0]
        keep = ~pd.Index(part["time"].values).duplicated()
        parts.append(part.isel(time=keep).sortby("time"))
    merged = xr.merge(parts, join="inner", compat="override", combine_attrs="drop_conflicts")
    return merged, sorted(set(era5t))
