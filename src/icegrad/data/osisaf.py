"""Real Arctic sea-ice concentration from EUMETSAT OSI SAF: OSI-450-a + OSI-430-a (v3p0, the default) or
OSI-450 + OSI-430-b (v2p0, IceNet's record).

IceNet was trained on the v2p0 record, which OSI SAF stopped supporting in June 2023; its successor
v3p0 (OSI-450-a, 1978-10..2020-12, and its extension OSI-430-a, 2021 onwards) is downloaded by
default, and ``version="v2p0"`` keeps IceNet's inputs for parity. All products are *daily* fields on
EASE-Grid 2.0 North 25 km (``ice_conc_nh_ease2-250``, 432 x 432 cells, ``xc``/``yc`` in km), i.e. exactly
icegrad's base grid, so
no resampling is needed: the reader checks the coordinates and takes the cells as they are. This
module downloads the daily files from the Norwegian Meteorological Institute's THREDDS file server
(:mod:`icegrad.data.osisaf_fetch`), reads and averages them into monthly means
(:mod:`icegrad.data.osisaf_files`) and returns icegrad's monthly dataset schema with ``siconca`` only;
names of both step modules are re-exported here.

Products (archive folders, file names and DOIs in :data:`icegrad.data.catalogue.OSISAF`, the one
catalogue), e.g. ``reprocessed/ice/conc/v3p0/YYYY/MM/ice_conc_nh_ease2-250_cdr-v3p0_YYYYMMDD1200.nc``
and ``reprocessed/ice/conc-cont-reproc/v3p0/YYYY/MM/ice_conc_nh_ease2-250_icdr-v3p0_YYYYMMDD1200.nc``.

Monthly-mean rules (also written to the output's ``comment``):

* **ice_conc** is in percent (0-100, ``_FillValue`` where undefined) and becomes a fraction.
* **status_flag** cells flagged *land* or *lake* (bits named in the file's ``flag_meanings``; bits 1
  and 2 in v2.0) are not sea observations and are masked on that day.
* **missing days**: a month is the mean over its available days if at least ``min_days`` daily files
  exist (default 10: before August 1987 the SMMR record has data only every other day, so a stricter
  threshold would reject the whole SMMR era); missing days are listed in a warning and in the
  ``missing_days`` attribute. A month with fewer days is an error naming it.
* **cells without data on some days**: the OSI CDR has no pole hole (it is filled by interpolation and
  flagged), but a NaN can still occur. Each cell's mean is over the days it has a value, and every
  cell OSI treats as sea must have at least ``min_days`` of them, else the month is an error.
* **coastline**: icegrad's land mask (:func:`icegrad.data.land.land_mask`) decides land, so every data
  source shares one coastline: NaN there; sea cells that OSI flags as land or lake take the value of
  the nearest cell with data.

Coarser grids are block means of the 25 km field (:func:`icegrad.data.regrid.to_resolution`, as
for every reader).

Users who already have OSI SAF *monthly* files (``..._YYYYMM.nc``) or daily files can pass their folder
as ``path``: nothing is downloaded then. A month with enough daily files uses them; otherwise its
monthly file is taken as it is (where it has no ``status_flag``, its undefined cells count as land).

Cost (measured on 2 shared cores): one month of 30 daily files becomes a 25 km monthly mean in ~4 s,
so the whole 1979-2020 record takes about half an hour once; the result is cached. Every ``load``
without ``path`` re-checks the SHA-256 of each stored daily file (it reads them all); pass
``download_missing=False`` once the files are complete to skip that.

Example
-------
``load(100, "2007-01", "2013-12")`` downloads ~2,500 daily files (~3 GB) once. Offline: which record
serves a month, and how missing days are reported:

>>> product_for(pd.Timestamp("2013-09")).name, product_for(pd.Timestamp("2021-06")).name
('OSI-450-a', 'OSI-430-a')
>>> product_for(pd.Timestamp("2016-01"), version="v2p0").name  # IceNet's records
'OSI-430-b'
>>> describe_days(pd.date_range("1987-12-01", "1988-01-02").append(pd.DatetimeIndex(["1988-01-05"])))
'1987-12-01..1988-01-02, 1988-01-05'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import cache, grid
from icegrad.data import catalogue, regrid
from icegrad.data.land import land_mask
from icegrad.data.osisaf_fetch import (
    DEFAULT_BASE_URL,
    MONTH_MANIFEST,
    DownloadReport,
    default_folder,
    download,
)
from icegrad.data.osisaf_files import (
    DEFAULT_MIN_DAYS,
    DEFAULT_VERSION,
    FILE_PATTERN,
    OSISAF_DIR_ENV,
    FileIndex,
    MissingMonthError,
    NotOSISAFFileError,
    OSISAFError,
    OSISAFMissingDaysWarning,
    Product,
    check_ease2_coords,
    check_file,
    describe_days,
    find_files,
    index_files,
    open_month,
    product_for,
    products,
)
from icegrad.data.schema import as_monthly_dataset, month_starts
from icegrad.variables import MONTHLY_VARIABLES

READER_FORMAT = 2
"""Part of every cache key of :func:`load`: raised when the datasets it builds change (2: v3p0 products,
the ``observed`` attribute, coarsening through :func:`icegrad.data.regrid.to_resolution`)."""
FILL_RULES = (
    "Monthly mean of OSI SAF daily ice_conc (percent / 100) over the days with data, after masking cells "
    "status_flag marks land or lake; a month needs at least {min_days} daily files and every OSI sea cell "
    "at least {min_days} days with data (OSI monthly files, where used, are taken as they are). Land "
    "(icegrad Natural Earth mask): NaN. Sea cells OSI flags land or lake: value of the nearest cell with "
    "data. On the native EASE2 25 km grid, no resampling."
)


@dataclass
class Selection:
    """The files chosen for each month and the days missing from daily months."""

    files: dict[pd.Timestamp, list[Path]]
    monthly: set[pd.Timestamp]
    missing_days: list[pd.Timestamp]
    versions: set[str]
    kinds: set[str]


def _day_of(path: Path) -> pd.Timestamp:
    match = FILE_PATTERN.fullmatch(path.name)
    assert match is not None  # only indexed files get here
    return pd.Timestamp(match.group("date")[:8])


def select_files(index: FileIndex, months: pd.DatetimeIndex, min_days: int) -> Selection:
    """Daily files where a month has at least ``min_days``, else its monthly file, else an error."""
    chosen: dict[pd.Timestamp, list[Path]] = {}
    monthly: set[pd.Timestamp] = set()
    missing: list[pd.Timestamp] = []
    short: list[str] = []
    for month in months:
        daily = sorted(index.daily.get(month, []))
        if len(daily) >= min_days:
            chosen[month] = daily
            present = {_day_of(f) for f in daily}
            missing += [d for d in pd.date_range(month, month + pd.offsets.MonthEnd(0)) if d not in present]
        elif month in index.monthly:
            chosen[month] = [index.monthly[month]]
            monthly.add(month)
        else:
            short.append(f"{month:%Y-%m} ({len(daily)} daily files)")
    if short:
        raise MissingMonthError(
            f"month(s) {', '.join(short)} have fewer than min_days={min_days} daily OSI SAF files and no "
            "monthly file; download them (icegrad.data.osisaf.download), choose other months, or lower "
            "min_days if a mean over fewer days is acceptable"
        )
    kinds = {m.group("kind") for fs in chosen.values() for f in fs if (m := FILE_PATTERN.fullmatch(f.name))}
    return Selection(chosen, monthly, missing, set(index.versions), kinds)


def monthly_siconca(selection: Selection, min_days: int) -> np.ndarray:
    """SIC fraction (month, 432, 432) on the 25 km grid by the rules in :data:`FILL_RULES`."""
    land = np.asarray(land_mask(grid.BASE_RESOLUTION_KM).values)
    lat = grid.ease2_grid(grid.BASE_RESOLUTION_KM)["lat"].values
    lon = grid.ease2_grid(grid.BASE_RESOLUTION_KM)["lon"].values
    months = sorted(selection.files)
    out = np.empty((len(months), grid.BASE_SIZE, grid.BASE_SIZE), dtype=np.float32)
    for i, month in enumerate(months):
        mean = open_month(selection.files[month], month)
        need = 1 if month in selection.monthly else min_days
        sea = ~mean.not_sea & ~land
        short = sea & (mean.valid_days < need)
        if short.any():
            r, c = np.argwhere(short)[0]
            raise MissingMonthError(
                f"{month:%Y-%m}: {int(short.sum())} sea cell(s) have data on fewer than {need} of the "
                f"{mean.n_days} day(s) (first at {lat[r, c]:.2f} N, {lon[r, c]:.2f} E); the files are "
                "damaged or incomplete — re-download them or lower min_days"
            )
        values = mean.sic
        regrid.fill_from_nearest(values, ~land & ~sea, sea)
        values[land] = np.nan
        out[i] = values
    return out


def _source_text(selection: Selection) -> str:
    (version,) = selection.versions
    if version in catalogue.OSISAF:
        by_kind = {p.kind: p for p in catalogue.OSISAF[version]}
        parts = [f"EUMETSAT OSI SAF, {by_kind[k].title}, {by_kind[k].name}, doi:{by_kind[k].doi}"
                 for k in sorted(selection.kinds)]
    else:
        parts = [f"EUMETSAT OSI SAF ice_conc_nh_ease2-250 {k}-{version} files (a record icegrad does not "
                 "catalogue; cite the product of these files)" for k in sorted(selection.kinds)]
    return "; ".join(parts) + (". Observed, not emulated; from the OSI SAF archive of the Norwegian "
                               "Meteorological Institute (THREDDS/FTP).")


def build_dataset(selection: Selection, resolution_km: int, min_days: int) -> xr.Dataset:
    """The selected months as icegrad's monthly dataset (``siconca`` only) at ``resolution_km``."""
    months = pd.DatetimeIndex(sorted(selection.files))
    spec = MONTHLY_VARIABLES["siconca"]
    comment = FILL_RULES.format(min_days=min_days)
    base = grid.ease2_grid(grid.BASE_RESOLUTION_KM)
    siconca = xr.DataArray(
        monthly_siconca(selection, min_days), dims=("time", "y", "x"),
        coords={"time": months.values.astype("datetime64[ns]"), **base.coords}, name="siconca",
        attrs={"units": spec.units, "long_name": spec.long_name, "standard_name": spec.standard_name},
    )
    siconca = regrid.to_resolution(siconca.assign_attrs(comment=comment), resolution_km)
    return as_monthly_dataset(
        siconca.to_dataset(), resolution_km,
        title=f"OSI SAF sea-ice concentration on {grid.grid_name(resolution_km)}",
        data_source="osisaf",
        source=_source_text(selection),
        references=catalogue.OSISAF_REFERENCES.get(next(iter(selection.versions)), "OSI SAF"),
        observed="true",
        comment=comment,
        missing_days=describe_days(selection.missing_days),
        monthly_files_used_for=", ".join(f"{m:%Y-%m}" for m in sorted(selection.monthly)) or "none",
    )


def load(resolution_km: int = 100, start: str = "1979-01", end: str = "2020-12",
         path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
         refresh: bool = False, *, version: str = DEFAULT_VERSION, download_missing: bool = True,
         base_url: str | None = None, min_days: int = DEFAULT_MIN_DAYS, retries: int = 3,
         backoff_s: float = 2.0) -> xr.Dataset:
    """Monthly OSI SAF sea-ice concentration on EASE2 at ``resolution_km``, in icegrad's schema.

    With ``path`` (a folder, searched recursively, or files), only those local daily or monthly files
    are read (their file names say the version). Without it, the daily files of record ``version``
    (default v3p0; ``"v2p0"`` for IceNet's record) are downloaded into :func:`default_folder` first
    (skipped with ``download_missing=False``; already verified files are reused). Missing days are reported
    with :class:`OSISAFMissingDaysWarning` (also on cache hits) and in the ``missing_days`` attribute.
    The result is cached under the parameters and a digest of the files used.
    """
    grid.coarsening_factor(resolution_km)
    if min_days < 1:
        raise OSISAFError(f"min_days={min_days}; it must be at least 1")
    months = month_starts(start, end)
    if not len(months):
        raise OSISAFError(f"start={start!r} is after end={end!r}")
    if path is None:
        folder = default_folder(version)
        if download_missing:
            download(start, end, folder, version=version, base_url=base_url, retries=retries,
                     backoff_s=backoff_s)
        path = folder
    selection = select_files(index_files(find_files(path)), months, min_days)
    if selection.missing_days:
        warnings.warn(f"OSI SAF daily files are missing for {describe_days(selection.missing_days)}; those "
                      f"months are means over their other days (at least {min_days})",
                      OSISAFMissingDaysWarning, stacklevel=2)
    used = [f for m in months for f in selection.files[m]]
    params = {"resolution_km": resolution_km, "start": f"{months[0]:%Y-%m}", "end": f"{months[-1]:%Y-%m}",
              "min_days": min_days, "n_files": len(used), "files": cache.files_fingerprint(used),
              "format": READER_FORMAT}
    return cache.cached_netcdf("osisaf", params, lambda: build_dataset(selection, resolution_km, min_days),
                               refresh=refresh)


__all__ = [
    "DEFAULT_BASE_URL", "DEFAULT_MIN_DAYS", "DEFAULT_VERSION", "FILE_PATTERN", "FILL_RULES", "MONTH_MANIFEST",
    "OSISAF_DIR_ENV", "DownloadReport", "FileIndex", "MissingMonthError", "NotOSISAFFileError", "OSISAFError",
    "OSISAFMissingDaysWarning", "Product", "Selection", "build_dataset", "check_ease2_coords", "check_file",
    "default_folder", "describe_days", "download", "find_files", "index_files", "load", "monthly_siconca",
    "open_month", "product_for", "products", "select_files",
]
