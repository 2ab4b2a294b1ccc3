"""Reading OSI SAF sea-ice concentration files: products, file checks, indexing and monthly means.

The *read* step of the OSI SAF reader (:mod:`icegrad.data.osisaf` loads, :mod:`icegrad.data.osisaf_fetch`
downloads; the files are already on icegrad's EASE2 25 km grid, and coarser grids come from
:func:`icegrad.data.regrid.to_resolution`). Every file passes the shared netCDF check
(:func:`icegrad.data.download.open_netcdf`) first; products, folders and DOIs are in
:data:`icegrad.data.catalogue.OSISAF`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data import catalogue
from icegrad.data.download import local_files, open_netcdf
from icegrad.errors import IcegradError

OSISAF_DIR_ENV = "ICEGRAD_OSISAF_DIR"
DEFAULT_MIN_DAYS = 10
FILE_PATTERN = re.compile(
    r"ice_conc_nh_ease2-250_(?P<kind>cdr|icdr)-(?P<version>v\dp\d)_(?P<date>\d{8}1200|\d{6})\.nc"
)
DEFAULT_FLAG_BITS = {"land": 1, "lake": 2}  # OSI-450 v2.0 status_flag bits, used if a file names none
Product = catalogue.OSIProduct
DEFAULT_VERSION = catalogue.OSISAF_DEFAULT_VERSION


class OSISAFError(IcegradError):
    """A problem with OSI SAF input; the message names the file or month and the fix."""


class NotOSISAFFileError(OSISAFError):
    """A file that is not a northern-hemisphere OSI SAF EASE2 25 km sea-ice concentration file."""


class MissingMonthError(OSISAFError):
    """A month without enough daily files (or without its monthly file) to make a monthly mean."""


class OSISAFMissingDaysWarning(UserWarning):
    """Some days of the requested months are missing; their months are means over the other days."""


def products(version: str = DEFAULT_VERSION) -> tuple[Product, ...]:
    """The OSI SAF records of ``version`` (``v3p0``: OSI-450-a + OSI-430-a; ``v2p0``: OSI-450 + OSI-430-b)."""
    if version not in catalogue.OSISAF:
        raise OSISAFError(f"OSI SAF version={version!r}; choose one of {sorted(catalogue.OSISAF)} (v3p0 is "
                          "current, v2p0 is IceNet's)")
    return catalogue.OSISAF[version]


def product_for(month: pd.Timestamp, version: str = DEFAULT_VERSION) -> Product:
    """The OSI SAF record of ``version`` that holds ``month``; error outside its coverage."""
    records = products(version)
    for product in records:
        after_last = product.last is not None and month > pd.Timestamp(product.last)
        if pd.Timestamp(product.first) <= month and not after_last:
            return product
    names = " + ".join(p.name for p in records)
    span = f"{records[0].first}..{records[-1].last or 'now'}"
    raise MissingMonthError(f"{month:%Y-%m} is outside the {names} record ({span}); choose months inside it")


def describe_days(days: Iterable[pd.Timestamp]) -> str:
    """Days as compact runs, e.g. ``1987-12-01..1987-12-31, 1988-01-05``."""
    stamps = sorted({pd.Timestamp(d).normalize() for d in days})
    if not stamps:
        return "none"
    runs = [[stamps[0], stamps[0]]]
    for d in stamps[1:]:
        if d - runs[-1][1] == pd.Timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return ", ".join(f"{a:%Y-%m-%d}" if a == b else f"{a:%Y-%m-%d}..{b:%Y-%m-%d}" for a, b in runs)


def check_file(path: Path) -> None:
    """Accept ``path`` only if it is a northern OSI SAF ``ice_conc`` file on the EASE2 25 km grid.

    Used to verify each download (a truncated file or an error page fails here) and on local files.
    """
    with open_netcdf(path, product="an OSI SAF sea-ice concentration", any_of=["ice_conc"],
                     error=NotOSISAFFileError, hint="delete it and download it again") as nc:
        names = set(nc.variables)
        if "ice_conc" not in names or "xc" not in names or "yc" not in names:
            raise NotOSISAFFileError(f"{path.name} lacks ice_conc/xc/yc (it has {sorted(names)[:8]}); it is "
                                     "not an OSI SAF sea-ice concentration file")
        origin = getattr(nc.variables.get("Lambert_Azimuthal_Grid"), "latitude_of_projection_origin", 90.0)
        if float(origin) != 90.0:
            raise NotOSISAFFileError(f"{path.name} is on a southern-hemisphere grid (projection origin "
                                     f"{origin}); icegrad needs the ice_conc_nh_ files")
        xc, yc = nc.variables["xc"], nc.variables["yc"]
        scale = {"km": 1000.0, "m": 1.0}.get(str(getattr(xc, "units", "km")))
        if scale is None:
            raise NotOSISAFFileError(f"{path.name}: xc has units {xc.units!r}; expected 'km'")
        check_ease2_coords(np.asarray(xc[:], float) * scale, np.asarray(yc[:], float) * scale, path.name)


def check_ease2_coords(x_m: np.ndarray, y_m: np.ndarray, what: str) -> None:
    """Error unless ``x_m`` (ascending) and ``y_m`` (descending) are the EASE2 25 km cell centres."""
    x_ref = grid.cell_centres_m(grid.BASE_RESOLUTION_KM)
    if x_m.shape != x_ref.shape or y_m.shape != x_ref.shape or not (
        np.allclose(x_m, x_ref, atol=1.0) and np.allclose(y_m, x_ref[::-1], atol=1.0)
    ):
        raise NotOSISAFFileError(
            f"{what}: xc/yc are not the EASE-Grid 2.0 North 25 km cell centres (432 values from -5387.5 km "
            f"to 5387.5 km, yc descending); got {x_m.size} x {y_m.size} values. icegrad reads the "
            "ice_conc_nh_ease2-250 files only (not polstere-100 or ease2-125 subsets)."
        )


@dataclass
class FileIndex:
    """Local OSI SAF files by month: daily files per month and monthly files (one per month)."""

    daily: dict[pd.Timestamp, list[Path]] = field(default_factory=dict)
    monthly: dict[pd.Timestamp, Path] = field(default_factory=dict)
    versions: set[str] = field(default_factory=set)


def index_files(paths: Sequence[Path]) -> FileIndex:
    """Sort files by OSI SAF name into daily and monthly files of each month (one CDR version)."""
    index = FileIndex()
    for path in paths:
        match = FILE_PATTERN.fullmatch(path.name)
        if match is None:
            continue
        index.versions.add(match.group("version"))
        date = match.group("date")
        month = pd.Timestamp(f"{date[:4]}-{date[4:6]}-01")
        if len(date) == 6:
            if month in index.monthly:
                raise OSISAFError(f"two monthly files for {month:%Y-%m}: {index.monthly[month]} and {path}; "
                                  "keep one")
            index.monthly[month] = path
        else:
            index.daily.setdefault(month, []).append(path)
    if len(index.versions) > 1:
        raise OSISAFError(f"the files mix OSI SAF CDR versions {sorted(index.versions)}; use one version "
                          "(v2p0 = OSI-450 + OSI-430-b, as IceNet) so the record is homogeneous")
    return index


def find_files(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """OSI SAF files named by ``path``: a folder (searched recursively), a file or a list of files."""
    return local_files(path, "ice_conc_*.nc", recursive=True, error=OSISAFError,
                       product=f"OSI SAF (or {OSISAF_DIR_ENV})",
                       empty_hint="download them with icegrad.data.osisaf.download(start, end, folder=...)")


def _flag_bits(status: xr.DataArray) -> int:
    """The status_flag bits meaning land or lake, from the file's own flag attributes."""
    meanings = str(status.attrs.get("flag_meanings", "")).split()
    masks = np.atleast_1d(status.attrs.get("flag_masks", status.attrs.get("flag_values", [])))
    named = {m: int(v) & 0xFF for m, v in zip(meanings, masks, strict=False)}
    return (named.get("land", DEFAULT_FLAG_BITS["land"]) | named.get("lake", DEFAULT_FLAG_BITS["lake"]))


@dataclass
class MonthMean:
    """A month on the 25 km grid: mean SIC (fraction), valid-day counts and the OSI land/lake mask."""

    sic: np.ndarray
    valid_days: np.ndarray
    not_sea: np.ndarray
    n_days: int


def open_month(files: Sequence[Path], month: pd.Timestamp) -> MonthMean:
    """Mean of one month's files (daily, or a single monthly file) with dask, one file per chunk."""
    check_file(files[0])
    try:
        ds = xr.open_mfdataset(
            sorted(files), combine="nested", concat_dim="time", chunks={"time": 1}, engine="netcdf4",
            data_vars="minimal", coords="minimal", compat="override", join="exact", parallel=False,
        )
    except ValueError as err:
        raise NotOSISAFFileError(f"the files of {month:%Y-%m} are not on one grid or do not share one "
                                 f"structure ({err}); check them with icegrad.data.osisaf.check_file") \
            from None
    with ds:
        times = pd.DatetimeIndex(ds["time"].values)
        wrong = times[times.to_period("M") != month.to_period("M")]
        if len(wrong):
            raise OSISAFError(f"files filed under {month:%Y-%m} hold times "
                              f"{list(wrong.strftime('%Y-%m-%d'))}; a file is misnamed or misplaced")
        conc = ds["ice_conc"]
        if conc.attrs.get("units", "%") not in ("%", "percent"):
            raise NotOSISAFFileError(f"ice_conc of {month:%Y-%m} has units {conc.attrs.get('units')!r}; "
                                     "expected '%'")
        if "status_flag" in ds:
            flags = ds["status_flag"].fillna(0).astype("int64") & 0xFF
            not_sea_daily = (flags & _flag_bits(ds["status_flag"])) != 0
        else:  # monthly files may carry no flags: undefined cells are then all treated as not sea
            not_sea_daily = conc.isnull()
        sic = (conc / 100.0).where(~not_sea_daily)
        with warnings.catch_warnings():  # all-NaN cells (land) make numpy warn about empty means
            warnings.simplefilter("ignore", RuntimeWarning)
            stats = xr.Dataset({"mean": sic.mean("time"), "valid": sic.notnull().sum("time"),
                                "not_sea": not_sea_daily.all("time"), "lo": sic.min(), "hi": sic.max()})
            stats = stats.compute()
    lo, hi = float(stats["lo"]), float(stats["hi"])
    if np.isfinite(lo) and (lo < 0 or hi > 1.0 + 1e-6):
        raise OSISAFError(f"ice_conc of {month:%Y-%m} spans {lo * 100:.3g}..{hi * 100:.3g} %, outside "
                          "0..100; these are not OSI SAF concentrations (raw_ice_conc_values?)")
    return MonthMean(stats["mean"].values.astype(np.float32), stats["valid"].values.astype(np.int32),
                     stats["not_sea"].values.astype(bool), len(times))
