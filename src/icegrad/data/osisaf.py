"""Real Arctic sea-ice concentration from EUMETSAT OSI SAF: OSI-450-a + OSI-430-a (v3p0, the default) or
OSI-450 + OSI-430-b (v2p0, IceNet's record).

IceNet was trained on the v2p0 record, which OSI SAF stopped supporting in June 2023; its successor
v3p0 (OSI-450-a, 1978-10..2020-12, and its extension OSI-430-a, 2021 onwards) is downloaded by
default, and ``version="v2p0"`` keeps IceNet's inputs for parity. All products are *daily* fields on
EASE-Grid 2.0 North 25 km (``ice_conc_nh_ease2-250``, 432 x 432 cells, ``xc``/``yc`` in km), i.e. exactly
icegrad's base grid, so
no resampling is needed: the reader checks the coordinates and takes the cells as they are. This
module downloads the daily files from the Norwegian Meteorological Institute's THREDDS file server,
averages them into monthly means and returns icegrad's monthly dataset schema with ``siconca`` only.

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

Coarser grids are block means of the 25 km field (:func:`icegrad.grid.coarsen`).

Users who already have OSI SAF *monthly* files (``..._YYYYMM.nc``) or daily files can pass their folder
as ``path``: nothing is downloaded then. A month with enough daily files uses them; otherwise its
monthly file is taken as it is (where it has no ``status_flag``, its undefined cells count as land).

Cost (measured on 2 shared cores): one month of 30 daily files becomes a 25 km monthly mean in ~4 s,
so the whole 1979-2020 record takes about half an hour once; the result is cached. Every ``load``
without ``path`` re-checks the SHA-256 of each stored daily file (it reads them all); pass
``download_missing=False`` once the files are complete to skip that.

Example
-------
>>> ds = load(100, "2007-01", "2013-12")  # doctest: +SKIP  (downloads ~2,500 daily files, ~3 GB)
"""

from __future__ import annotations

import hashlib
import json
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
from icegrad.data import catalogue, regrid
from icegrad.data.download import ChecksumRegistry, RemoteFileMissingError, fetch, local_files, open_netcdf
from icegrad.data.land import land_mask
from icegrad.data.schema import as_monthly_dataset, month_starts
from icegrad.errors import IcegradError
from icegrad.io import atomic_path, cached_netcdf
from icegrad.paths import cache_dir as icegrad_cache_dir
from icegrad.variables import MONTHLY_VARIABLES

OSISAF_DIR_ENV = "ICEGRAD_OSISAF_DIR"
DEFAULT_BASE_URL = catalogue.OSISAF_BASE_URL
DEFAULT_MIN_DAYS = 10
MONTH_MANIFEST = "icegrad_month.json"
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


# ----------------------------------------------------------------------------------------------
# Checking files
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Downloading daily files
# ----------------------------------------------------------------------------------------------

@dataclass
class DownloadReport:
    """What :func:`download` found: the daily files of each month and the days the archive lacks."""

    files: dict[pd.Timestamp, list[Path]] = field(default_factory=dict)
    missing_days: list[pd.Timestamp] = field(default_factory=list)


def default_folder(version: str = DEFAULT_VERSION) -> Path:
    """Where daily files are stored: ``$ICEGRAD_OSISAF_DIR``, else ``<icegrad cache>/osisaf/<version>``.

    One folder per version, since a record must not mix versions (:func:`index_files`).
    """
    override = os.environ.get(OSISAF_DIR_ENV)
    return Path(override).expanduser() if override else icegrad_cache_dir() / "osisaf" / version


def _month_folder(folder: Path, month: pd.Timestamp) -> Path:
    return folder / f"{month:%Y}" / f"{month:%m}"


def _read_manifest(month_dir: Path) -> set[pd.Timestamp]:
    """Days recorded as absent from the archive by an earlier complete download of this month."""
    path = month_dir / MONTH_MANIFEST
    if not path.exists():
        return set()
    return {pd.Timestamp(d) for d in json.loads(path.read_text())["missing_days"]}


def _write_manifest(month_dir: Path, missing: list[pd.Timestamp], url: str) -> None:
    with atomic_path(month_dir / MONTH_MANIFEST) as tmp:
        tmp.write_text(json.dumps({"missing_days": [f"{d:%Y-%m-%d}" for d in missing], "archive": url}))


def download(start: str, end: str, folder: str | os.PathLike[str] | None = None, *,
             version: str = DEFAULT_VERSION, base_url: str | None = None, recheck_missing: bool = False,
             retries: int = 3, backoff_s: float = 2.0) -> DownloadReport:
    """Fetch the daily files of ``start..end`` (``"YYYY-MM"``) of OSI SAF record ``version`` over HTTPS.

    ``version="v3p0"`` (default) fetches OSI-450-a / OSI-430-a, ``"v2p0"`` IceNet's OSI-450 / OSI-430-b.

    Files are stored as ``<folder>/YYYY/MM/<name>`` (``folder`` defaults to :func:`default_folder`)
    with the shared downloader: retries, a file appears only when complete and readable as OSI SAF
    SIC, and its SHA-256 is recorded per month folder and checked on reuse, so an interrupted run
    resumes where it stopped. A day the archive lacks (HTTP 404) is tolerated and listed; once a month
    is complete its absent days are remembered and not asked for again unless ``recheck_missing``.
    Any other failure (network down, corrupt file, checksum change) raises a
    :class:`~icegrad.data.download.DownloadError`.
    """
    months = month_starts(start, end)
    if not len(months):
        raise OSISAFError(f"start={start!r} is after end={end!r}")
    for month in months:
        product_for(month, version)
    root = Path(folder).expanduser() if folder is not None else default_folder(version)
    base = base_url or DEFAULT_BASE_URL
    report = DownloadReport()
    for month in months:
        product = product_for(month, version)
        month_dir = _month_folder(root, month)
        month_dir.mkdir(parents=True, exist_ok=True)
        known_missing = set() if recheck_missing else _read_manifest(month_dir)
        registry = ChecksumRegistry(month_dir)
        files, missing = [], []
        for day in pd.date_range(month, month + pd.offsets.MonthEnd(0), freq="D"):
            if day in known_missing:
                missing.append(day)
                continue
            try:
                target = month_dir / product.file_name(day)
                files.append(fetch(product.url(base, day), target, verify=check_file, registry=registry,
                                   retries=retries, backoff_s=backoff_s))
            except RemoteFileMissingError:
                missing.append(day)
        _write_manifest(month_dir, missing, f"{base.rstrip('/')}/{product.folder}")
        report.files[month] = files
        report.missing_days.extend(missing)
    return report


# ----------------------------------------------------------------------------------------------
# Local files and monthly means
# ----------------------------------------------------------------------------------------------

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
    if resolution_km != grid.BASE_RESOLUTION_KM:
        siconca = grid.coarsen(siconca, resolution_km)
        siconca = siconca.where(~land_mask(resolution_km).values).astype(np.float32)
        comment += f" Then block-averaged to {resolution_km} km (NaN-skipping)."
    siconca.attrs["comment"] = comment
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


def _files_digest(files: Iterable[Path]) -> str:
    """A short hash of the files' names, sizes and modification times (the cache key of a load)."""
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


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
              "min_days": min_days, "n_files": len(used), "files": _files_digest(used)}
    return cached_netcdf("osisaf", params, lambda: build_dataset(selection, resolution_km, min_days),
                         refresh=refresh)
