"""Real Arctic sea-ice concentration: the NOAA/NSIDC Climate Data Record (G02202), versions 3 to 6.

The CDR is the observational record IceNet-style studies check against: monthly passive-microwave
sea-ice concentration on NSIDC's polar stereographic north 25 km grid (EPSG:3411, 304 x 448). This
module is the entry point (:func:`load`) and joins three steps kept apart: *fetch*
(:mod:`icegrad.data.nsidc_fetch`: :func:`download`, through the shared helper
:func:`icegrad.data.download.fetch`), *read* (:mod:`icegrad.data.nsidc_files`: :func:`open_cdr`, file ->
xarray with CF attributes, after the shared netCDF check :func:`icegrad.data.download.open_netcdf`)
and *regrid* (:mod:`icegrad.data.regrid`) to EASE-Grid 2.0 North. It returns icegrad's monthly dataset
schema with one variable, ``siconca`` - real SIC has no ERA5 fields, so chapters using it build the
SIC-only channels. The names of the two step modules are re-exported here.

Offline, :func:`load` reads the compact record embedded in ``data/`` (:mod:`icegrad.data.nsidc_record`:
G02202 v3, every month 1989-2017 at 100 and 200 km; :func:`embedded_septembers` gives the Septembers
at 25 km for the letter's Figure 1); the downloader adds months and resolutions.

File layouts read, from a file or a folder of files (names, variables and DOIs in the one catalogue,
:data:`icegrad.data.catalogue.NSIDC_CDR`):

* v3 ``seaice_conc_monthly_nh_f13_200709_v03r01.nc`` (variable ``seaice_conc_monthly_cdr``;
  ``goddard_merged_seaice_conc_monthly`` on request);
* v4 ``seaice_conc_monthly_nh_202112_f17_v04r00.nc`` (``cdr_seaice_conc_monthly``; the NASA Team and
  Bootstrap inputs of the CDR, ``nsidc_nt_seaice_conc_monthly`` and ``nsidc_bt_seaice_conc_monthly``,
  on request: NASA Team is the algorithm of the Sea Ice Index, version 4 today);
* v5 / v6 ``sic_psn25_202109_F17_v05r00.nc`` / ``..._v06r00.nc`` (``cdr_seaice_conc_monthly``, values
  below 10 % set to 0 by NSIDC; land, lakes, coast and the pole hole come from
  ``cdr_supplementary/surface_type_mask``, a netCDF group). Their NASA Team field,
  ``raw_nt_seaice_conc``, exists in the *daily* files only; asking a monthly file for it says so;
* multi-month record files holding the same variables along ``time``.

Decoding is done on the raw bytes, not by xarray's mask-and-scale: v3 stores concentrations as
*int8* with ``_Unsigned="true"`` and flags -5..-1 (= 251..255 unsigned), v4 as uint8 251..255, and
xarray's default decoding leaves the flags as concentrations of 2.51..2.55 (v5/v6 store 255 at every
non-ocean cell and say which it is in the surface-type mask). Here values 0..100
times ``scale_factor`` become SIC in [0, 1]; flags become NaN plus a separate ``flag`` variable.

Gaps. The v3 record has no data for 1987-12..1988-01 (an F08 sensor outage) and the compact v3
record file in ``shared/`` also lacks 1987-10..1988-12. :func:`load` never invents months: by default
it keeps the longest run of consecutive months inside ``[start, end]`` (the latest, on a tie) and
warns with :class:`NSIDCGapWarning`; ``gaps="error"`` raises instead. Without ``start`` and ``end``
it takes the longest consecutive run the files hold (1989-01..2017-12 for the shared v3 record).

Example
-------
``load(100, "2007-01", "2013-12", path="seaice_conc_monthly_nh_sic.nc")`` reads a local record (or a
folder of monthly files) and regrids it. The gap rule, offline: of 1987-07..1988-06 without the F08
outage, the later of the two equally long runs is kept:

>>> wanted = pd.date_range("1987-07", "1988-06", freq="MS")
>>> outage = pd.DatetimeIndex(["1987-12-01", "1988-01-01"])
>>> describe_months(consecutive_run(wanted, wanted.difference(outage)))
'1988-02..1988-06'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import cache, grid
from icegrad.data import regrid
from icegrad.data.land import land_mask
from icegrad.data.nsidc_fetch import default_folder, download, remote_files
from icegrad.data.nsidc_files import (
    DAILY_VARIABLES,
    NASA_TEAM_VARIABLE,
    NSIDC_DIR_ENV,
    PRODUCT_TITLE,
    PRODUCTS,
    MissingMonthError,
    NotNSIDCFileError,
    NSIDCError,
    NSIDCGapWarning,
    UnknownVersionError,
    describe_months,
    find_files,
    month_index,
    open_cdr,
    open_nasa_team,
    verify_monthly_file,
)
from icegrad.data.schema import as_monthly_dataset, month_starts

DOWNLOAD_PERIOD = ("1979-01", "2020-12")
"""Months :func:`load` downloads when the default folder is empty and no period is given (IceNet's)."""
READER_FORMAT = 2
"""Part of every cache key of :func:`load`: raised when the datasets it builds change (2: the
``observed`` and ``doi`` attributes and the catalogue's citation), so no older cached result is served."""
EMBEDDED_PERIOD = ("1987-09", "2017-12")
"""First and last month of the embedded record (G02202 v3; 1987-10..1988-12 are missing)."""


def consecutive_run(requested: pd.DatetimeIndex, available: Iterable[pd.Timestamp]) -> pd.DatetimeIndex:
    """The longest run of consecutive ``requested`` months that are ``available`` (latest on a tie)."""
    have = requested.isin(pd.DatetimeIndex(list(available)))
    best, best_len, start = (0, 0), 0, None
    for i, ok in enumerate([*have, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            if i - start >= best_len:
                best, best_len = (start, i), i - start
            start = None
    return requested[best[0]:best[1]]


def _select_months(index: dict[pd.Timestamp, Path], start: str, end: str,
                   gaps: Literal["longest", "error"]) -> pd.DatetimeIndex:
    requested = month_starts(start, end)
    if not len(requested):
        raise NSIDCError(f"start={start!r} is after end={end!r}")
    first, last = min(index), max(index)
    if requested[0] < first or requested[-1] > last:
        raise MissingMonthError(
            f"requested {start}..{end} but the NSIDC files cover only {describe_months(index)}; choose "
            f"start/end inside that, or download more months with icegrad.data.nsidc.download({start!r}, "
            f"{end!r})"
        )
    missing = requested.difference(pd.DatetimeIndex(list(index)))
    if not len(missing):
        return requested
    if gaps == "error":
        raise MissingMonthError(f"month(s) {describe_months(missing)} inside {start}..{end} are missing from "
                                "the NSIDC files; pass gaps='longest' to keep the longest consecutive run")
    if gaps != "longest":
        raise NSIDCError(f"gaps={gaps!r}; choose 'longest' or 'error'")
    run = consecutive_run(requested, index)
    if not len(run):
        raise MissingMonthError(f"none of {start}..{end} is in the NSIDC files ({describe_months(index)})")
    warnings.warn(
        f"NSIDC files lack {describe_months(missing)} inside {start}..{end}; keeping the longest consecutive "
        f"run {run[0]:%Y-%m}..{run[-1]:%Y-%m} ({len(run)} months), since icegrad datasets have no gaps",
        NSIDCGapWarning, stacklevel=3,
    )
    return run


def _source_text(ds: xr.Dataset) -> str:
    version = int(ds.attrs["version"])
    return (f"{PRODUCT_TITLE}, Version {version} (NSIDC G02202 {PRODUCTS[version].product_version}, "
            f"variable {ds.attrs['variable']}), doi:{ds.attrs['doi']}; observed, not emulated; files: "
            f"{ds.attrs['source_files']}")


def build_dataset(native: xr.Dataset, resolution_km: int) -> xr.Dataset:
    """Decoded CDR months (from :func:`open_cdr`) as an icegrad monthly dataset on EASE2."""
    siconca = regrid.ps_to_ease2(native["sic"], native["flag"], resolution_km)
    return as_monthly_dataset(
        siconca.to_dataset(), resolution_km,
        title=f"NSIDC sea-ice concentration CDR on {grid.grid_name(resolution_km)}",
        data_source="nsidc",
        source=_source_text(native),
        references=PRODUCTS[int(native.attrs["version"])].citation,
        comment=siconca.attrs["comment"],
        observed="true",
        doi=str(native.attrs["doi"]),
    )


def has_downloaded_files(version: int = 4) -> bool:
    """Whether ``$ICEGRAD_NSIDC_DIR`` or the download folder holds CDR files (else the embedded record
    serves)."""
    return _has_files(default_folder(version))


def _has_files(folder: Path) -> bool:
    try:
        find_files(folder)
    except NSIDCError:
        return False
    return True


def load_embedded(resolution_km: int = 100, start: str | None = None, end: str | None = None, *,
                  gaps: Literal["longest", "error"] = "longest") -> xr.Dataset:
    """The CDR months of the record embedded in ``data/`` (100 or 200 km) as a monthly schema dataset.

    Observed SIC with no download (see :mod:`icegrad.data.nsidc_record`): 1987-09 and 1989-01..2017-12
    from G02202 v3. Month selection follows :func:`load` (longest consecutive run by default).
    """
    from icegrad.data import nsidc_record

    monthly = nsidc_record.read_monthly(resolution_km)  # 25 and 50 km: one line naming the fix
    index = {pd.Timestamp(t): nsidc_record.record_path(resolution_km) for t in monthly["time"].values}
    if start is None and end is None:
        months = consecutive_run(month_starts(f"{min(index):%Y-%m}", f"{max(index):%Y-%m}"), index)
    else:
        months = _select_months(index, start or f"{min(index):%Y-%m}", end or f"{max(index):%Y-%m}", gaps)
    return nsidc_record.as_schema(monthly, months, resolution_km)


def embedded_septembers() -> xr.Dataset:
    """Every observed September of the embedded CDR record at 25 km on EASE2 (the letter's Figure 1).

    ``siconca`` (time, y, x) in [0, 1], NaN on land, with a ``land`` coordinate; the months are
    Septembers only (1987 and 1989-2017), so it feeds maps and ROIs, never IceNet's inputs.
    """
    from icegrad.data import nsidc_record

    return nsidc_record.read_septembers()


def load(resolution_km: int = 100, start: str | None = None, end: str | None = None,
         path: str | os.PathLike[str] | None = None, version: int | None = None, refresh: bool = False, *,
         variable: str | None = None, gaps: Literal["longest", "error"] = "longest",
         download_missing: bool = True) -> xr.Dataset:
    """Monthly NSIDC CDR sea-ice concentration on EASE2 at ``resolution_km``, in icegrad's schema.

    Where the data come from, in order:

    1. ``path``, a CDR file or a folder of them;
    2. ``$ICEGRAD_NSIDC_DIR`` when set (the user named the files: never replaced by anything else),
       else the folder :func:`download` fills, when it holds files;
    3. the record embedded in ``data/`` (:func:`load_embedded`), when it serves the request (100 or
       200 km, default variable and version, months inside 1987-09..2017-12) - offline, no download;
    4. otherwise, with ``download_missing``, the months ``start..end`` (default :data:`DOWNLOAD_PERIOD`)
       are downloaded into the default folder first. The downloader thus adds months and resolutions.

    Without ``start``/``end`` the longest run of consecutive months is used. Months beyond the
    files' coverage raise :class:`MissingMonthError` listing it; gaps inside ``[start, end]`` are
    handled per ``gaps`` (see the module docstring). File results are cached under the parameters
    and the files' names, sizes and modification times.
    """
    grid.coarsening_factor(resolution_km)
    if path is None and not os.environ.get(NSIDC_DIR_ENV) and not has_downloaded_files(version or 4) \
            and _embedded_serves(resolution_km, start, end, version, variable):
        return load_embedded(resolution_km, start, end, gaps=gaps)
    if path is None and not os.environ.get(NSIDC_DIR_ENV) and download_missing:
        download(start or DOWNLOAD_PERIOD[0], end or DOWNLOAD_PERIOD[1], version or 4, skip_absent=True)
    files = find_files(path if path is not None else default_folder(version or 4))
    index = month_index(files, version)
    if start is None and end is None:
        months = consecutive_run(month_starts(f"{min(index):%Y-%m}", f"{max(index):%Y-%m}"), index)
    else:
        months = _select_months(index, start or f"{min(index):%Y-%m}", end or f"{max(index):%Y-%m}", gaps)
    used = sorted({index[m] for m in months})
    params = {
        "resolution_km": resolution_km, "start": f"{months[0]:%Y-%m}", "end": f"{months[-1]:%Y-%m}",
        "version": version, "variable": variable, "format": READER_FORMAT,
        "files": cache.files_fingerprint(used),
    }

    def compute() -> xr.Dataset:
        return build_dataset(open_cdr(used, version, variable, months), resolution_km)

    return cache.cached_netcdf("nsidc", params, compute, refresh=refresh)


def _embedded_serves(resolution_km: int, start: str | None, end: str | None, version: int | None,
                     variable: str | None) -> bool:
    inside = all(m is None or EMBEDDED_PERIOD[0] <= f"{pd.Timestamp(m):%Y-%m}" <= EMBEDDED_PERIOD[1]
                 for m in (start, end))
    return resolution_km in (100, 200) and version in (None, 3) and variable is None and inside


def load_nasa_team(resolution_km: int, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                   months: Iterable[pd.Timestamp] | None = None) -> xr.Dataset:
    """v5/v6 NASA Team monthly SIC on EASE2 at ``resolution_km`` from daily files (regridded as the CDR).

    ``siconca`` with a ``land`` coordinate; the months need not be consecutive (e.g. the three
    Septembers to compare with the Sea Ice Index), so it feeds extents and maps, not IceNet's inputs.
    """
    native = open_nasa_team(path, months)
    siconca = regrid.ps_to_ease2(native["sic"], native["flag"], resolution_km)
    siconca.attrs["comment"] += " NASA Team: monthly means of the daily raw field, capped at 100 %."
    land = np.asarray(land_mask(resolution_km).values)
    return siconca.to_dataset().assign_coords(
        land=(("y", "x"), land, {"long_name": "land mask", "flag_meanings": "ocean land"})).assign_attrs(
        title=f"NSIDC CDR NASA Team sea-ice concentration on {grid.grid_name(resolution_km)}",
        data_source="nsidc", observed="true", source=_source_text(native), resolution_km=resolution_km)


__all__ = [
    "DAILY_VARIABLES", "DOWNLOAD_PERIOD", "EMBEDDED_PERIOD", "NASA_TEAM_VARIABLE", "NSIDC_DIR_ENV",
    "PRODUCTS", "PRODUCT_TITLE", "MissingMonthError", "NSIDCError", "NSIDCGapWarning", "NotNSIDCFileError",
    "UnknownVersionError", "build_dataset", "consecutive_run", "default_folder", "describe_months",
    "download", "embedded_septembers", "find_files", "has_downloaded_files", "load", "load_embedded",
    "load_nasa_team", "month_index", "open_cdr", "open_nasa_team", "remote_files", "verify_monthly_file",
]
