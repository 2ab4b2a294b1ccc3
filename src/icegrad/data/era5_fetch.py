"""Retrieving ERA5 monthly means from the Copernicus Climate Data Store (cdsapi, new CDS API).

The *fetch* step of the ERA5 reader: one request per variable group and year, written atomically
(a zip of netCDF files, which the CDS sends when step types are mixed, is merged into one file),
checked with the shared netCDF check (:func:`icegrad.data.era5_files.check_file`) and reused when the
same request was made before. CDS downloads go through ``cdsapi``, not the HTTP helper of
:mod:`icegrad.data.download`, because the CDS queues and builds each request server-side.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cdsapi
import pandas as pd
import xarray as xr

from icegrad.cache import parameter_key
from icegrad.data import catalogue
from icegrad.data.era5_files import CDSCredentialsError, ERA5Error, check_file
from icegrad.data.schema import month_starts
from icegrad.files import atomic_path
from icegrad.paths import cache_dir as icegrad_cache_dir

ERA5_DIR_ENV = "ICEGRAD_ERA5_DIR"
SINGLE_LEVELS = catalogue.ERA5_SINGLE_LEVELS.name
PRESSURE_LEVELS = catalogue.ERA5_PRESSURE_LEVELS.name
DEFAULT_SOUTH_DEG = 15.0
DEFAULT_GRID_DEG = 0.25
CDSAPIRC_HELP = (
    "ERA5 downloads need a Copernicus Climate Data Store account: register at "
    "https://cds.climate.copernicus.eu, accept the ERA5 licence on the dataset pages, copy your personal "
    "access token from your profile page and either write a file ~/.cdsapirc with two lines\n"
    f"    url: {catalogue.CDS_API_URL}\n"
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
