"""ERA5 monthly means of IceNet's 11 climate inputs, on icegrad's EASE-Grid 2.0 North grids.

IceNet's climate channels come from ECMWF's ERA5 reanalysis (Hersbach et al. 2020). This module asks
the Copernicus Climate Data Store (CDS) for the monthly means through ``cdsapi``, converts them to the
schema's variables and SI units, and regrids them to EASE2:

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
>>> ds = load(100, "2012-01", "2013-12")  # doctest: +SKIP  (needs a CDS account; see check_credentials)
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cdsapi
import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data import regrid
from icegrad.data.download import open_netcdf
from icegrad.data.land import land_mask
from icegrad.data.schema import as_monthly_dataset, month_starts
from icegrad.errors import IcegradError
from icegrad.io import atomic_path, cached_netcdf, parameter_key
from icegrad.paths import cache_dir as icegrad_cache_dir
from icegrad.variables import MONTHLY_VARIABLES

ERA5_DIR_ENV = "ICEGRAD_ERA5_DIR"
SINGLE_LEVELS = "reanalysis-era5-single-levels-monthly-means"
PRESSURE_LEVELS = "reanalysis-era5-pressure-levels-monthly-means"
G0 = 9.80665  # standard gravity, m s-2 (ECMWF's value for geopotential height)
SECONDS_PER_DAY = 86400.0
DEFAULT_SOUTH_DEG = 15.0
DEFAULT_GRID_DEG = 0.25
CLIMATE_VARIABLES = ("tas", "ta500", "tos", "rsds", "rsus", "psl", "zg500", "zg250", "ua10", "uas", "vas")
EXPECTED_UNITS = {"t2m": "K", "sst": "K", "ssrd": "J m**-2", "ssr": "J m**-2", "msl": "Pa", "u10": "m s**-1",
                  "v10": "m s**-1", "t": "K", "z": "m**2 s**-2", "u": "m s**-1"}
CDSAPIRC_HELP = (
    "ERA5 downloads need a Copernicus Climate Data Store account: register at "
    "https://cds.climate.copernicus.eu, accept the ERA5 licence on the dataset pages, copy your personal "
    "access token from your profile page and either write a file ~/.cdsapirc with two lines\n"
    "    url: https://cds.climate.copernicus.eu/api\n"
    "    key: <your-personal-access-token>\n"
    "or set the environment variables CDSAPI_URL and CDSAPI_KEY (CDSAPI_RC may point to another file)."
)


@dataclass(frozen=True)
class RequestGroup:
    """One kind of CDS request: a dataset, its variables and (for pressure levels) the levels."""

    dataset: str
    variables: tuple[str, ...]
    levels: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "single" if not self.levels else f"{self.variables[0]}_{'_'.join(self.levels)}hPa"


GROUPS = (
    RequestGroup(SINGLE_LEVELS, ("2m_temperature", "sea_surface_temperature",
                                 "surface_solar_radiation_downwards", "surface_net_solar_radiation",
                                 "mean_sea_level_pressure", "10m_u_component_of_wind",
                                 "10m_v_component_of_wind")),
    RequestGroup(PRESSURE_LEVELS, ("temperature",), ("500",)),
    RequestGroup(PRESSURE_LEVELS, ("geopotential",), ("250", "500")),
    RequestGroup(PRESSURE_LEVELS, ("u_component_of_wind",), ("10",)),
)


class ERA5Error(IcegradError):
    """A problem with ERA5 input; the message names the file, variable or month and the fix."""


class CDSCredentialsError(ERA5Error):
    """No usable CDS API credentials were found."""


class MissingMonthError(ERA5Error):
    """Requested months that the ERA5 files do not hold."""


# ----------------------------------------------------------------------------------------------
# Requests to the Climate Data Store
# ----------------------------------------------------------------------------------------------

def check_credentials() -> None:
    """Error with set-up instructions unless ``cdsapi`` will find a URL and a key."""
    if os.environ.get("CDSAPI_URL") and os.environ.get("CDSAPI_KEY"):
        return
    rc = Path(os.environ.get("CDSAPI_RC") or Path.home() / ".cdsapirc").expanduser()
    if not rc.is_file():
        raise CDSCredentialsError(f"no CDS API credentials: {rc} does not exist and CDSAPI_URL/CDSAPI_KEY "
                                  f"are not set. {CDSAPIRC_HELP}")
    keys = {line.partition(":")[0].strip() for line in rc.read_text().splitlines() if ":" in line}
    if not {"url", "key"} <= keys:
        raise CDSCredentialsError(f"{rc} lacks a 'url:' or 'key:' line. {CDSAPIRC_HELP}")


def requests_for(months: pd.DatetimeIndex, *, south_deg: float = DEFAULT_SOUTH_DEG,
                 grid_deg: float = DEFAULT_GRID_DEG) -> list[tuple[RequestGroup, int, dict[str, object]]]:
    """The CDS requests covering ``months``: one per request group and calendar year."""
    out = []
    for year in sorted(set(months.year)):
        wanted = [f"{m:02d}" for m in sorted(months[months.year == year].month)]
        for group in GROUPS:
            request: dict[str, object] = {
                "product_type": ["monthly_averaged_reanalysis"], "variable": list(group.variables),
                "year": [str(year)], "month": wanted, "time": ["00:00"],
                "area": [90, -180, south_deg, 180], "grid": [grid_deg, grid_deg],
                "data_format": "netcdf", "download_format": "unarchived",
            }
            if group.levels:
                request["pressure_level"] = list(group.levels)
            out.append((group, int(year), request))
    return out


def default_folder() -> Path:
    """Where CDS downloads are kept: ``$ICEGRAD_ERA5_DIR``, else ``<icegrad cache>/era5``."""
    override = os.environ.get(ERA5_DIR_ENV)
    return Path(override).expanduser() if override else icegrad_cache_dir() / "era5"


def _unzip_if_needed(path: Path) -> None:
    """The CDS may send a zip of netCDF files (e.g. one per ERA5 step type): merge them into one."""
    if not zipfile.is_zipfile(path):
        return
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp, zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.endswith(".nc")]
        if not names:
            raise ERA5Error(f"the CDS sent a zip without netCDF files ({zf.namelist()})")
        zf.extractall(tmp, members=names)
        parts = []
        for name in names:
            with xr.open_dataset(Path(tmp) / name) as part:
                parts.append(part.load())
        merged = xr.merge(parts, compat="override", combine_attrs="drop_conflicts")
        path.unlink()
        merged.to_netcdf(path)


def retrieve(group: RequestGroup, year: int, request: dict[str, object], folder: Path,
             refresh: bool = False) -> Path:
    """The netCDF file of ``request``, fetched from the CDS unless a file of the same request exists."""
    key = parameter_key({"dataset": group.dataset, **request})
    target = folder / f"era5_{group.label}_{year}_{key}.nc"
    if target.exists() and not refresh:
        return target
    check_credentials()
    client = cdsapi.Client(quiet=True, progress=False)
    with atomic_path(target) as tmp:
        client.retrieve(group.dataset, request, str(tmp))
        _unzip_if_needed(tmp)
        check_file(tmp)
    with atomic_path(target.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps({"dataset": group.dataset, "request": request}, indent=1))
    return target


def download(start: str, end: str, folder: str | os.PathLike[str] | None = None, *,
             south_deg: float = DEFAULT_SOUTH_DEG, grid_deg: float = DEFAULT_GRID_DEG,
             refresh: bool = False) -> list[Path]:
    """Fetch (or reuse) the CDS files for ``start..end``; returns their paths."""
    months = month_starts(start, end)
    if not len(months):
        raise ERA5Error(f"start={start!r} is after end={end!r}")
    root = Path(folder).expanduser() if folder is not None else default_folder()
    return [retrieve(group, year, request, root, refresh)
            for group, year, request in requests_for(months, south_deg=south_deg, grid_deg=grid_deg)]


# ----------------------------------------------------------------------------------------------
# Reading CDS netCDF files
# ----------------------------------------------------------------------------------------------

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


def check_file(path: str | os.PathLike[str]) -> None:
    """The shared netCDF check (:func:`icegrad.data.download.open_netcdf`) for a CDS ERA5 file."""
    with open_netcdf(path, product="an ERA5 monthly-means (CDS)", any_of=sorted(EXPECTED_UNITS),
                     error=ERA5Error, hint="delete it and download it again with icegrad.data.era5.download"):
        pass


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


# ----------------------------------------------------------------------------------------------
# Regridding and winds
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# The monthly dataset
# ----------------------------------------------------------------------------------------------

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
               "doi:10.24381/cds.f17050d7 and doi:10.24381/cds.6860a573",
        references="Hersbach, H., et al. (2020), The ERA5 global reanalysis, Q. J. R. Meteorol. Soc. 146, "
                   "1999-2049, doi:10.1002/qj.3803",
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
              "files": sorted((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files)}

    def compute() -> xr.Dataset:
        source, era5t = open_files(files)
        with source:
            return build_dataset(source, months, resolution_km, era5t)

    return cached_netcdf("era5", {**params, "files": parameter_key({"f": params["files"]})}, compute,
                         refresh=refresh)


__all__ = ["CDSCredentialsError", "ERA5Error", "MissingMonthError", "check_credentials", "check_file",
           "download", "load", "merge_expver", "requests_for"]
