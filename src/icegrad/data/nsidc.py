"""Real Arctic sea-ice concentration: the NOAA/NSIDC Climate Data Record (G02202), versions 3 to 6.

The CDR is the observational record IceNet-style studies check against: monthly passive-microwave
sea-ice concentration on NSIDC's polar stereographic north 25 km grid (EPSG:3411, 304 x 448). This
module fetches its monthly files (:func:`download`, through the shared helper
:func:`icegrad.data.download.fetch`), reads them (:func:`open_cdr`: file -> xarray with CF attributes,
after the shared netCDF check :func:`icegrad.data.download.open_netcdf`), regrids them to EASE-Grid
2.0 North (:mod:`icegrad.data.regrid`) and returns icegrad's monthly dataset schema with one
variable, ``siconca`` - real SIC has no ERA5 fields, so chapters using it build the SIC-only channels.

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
>>> ds = load_embedded(200, "2007-01", "2013-12")  # the record in data/: offline, observed
>>> ds.attrs["data_source"], ds.attrs["observed"], ds.sizes["time"]
('nsidc', 'true', 84)
>>> embedded_septembers().sizes["time"]  # 1987 and 1989-2017 at 25 km
30
>>> ds = load(100, "2007-01", "2013-12", path="seaice_conc_monthly_nh_sic.nc")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

import cftime
import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data import catalogue, regrid
from icegrad.data.download import ChecksumRegistry, fetch, get_text, local_files, open_netcdf
from icegrad.data.land import land_mask
from icegrad.data.schema import as_monthly_dataset, month_starts
from icegrad.errors import IcegradError
from icegrad.io import cached_netcdf
from icegrad.paths import cache_dir as icegrad_cache_dir

NSIDC_DIR_ENV = "ICEGRAD_NSIDC_DIR"
FLAG_CODES = tuple(regrid.FLAG_MEANINGS)  # 251..255


PRODUCTS = catalogue.NSIDC_CDR
"""G02202 versions icegrad reads (3-6), from the one catalogue :data:`icegrad.data.catalogue.NSIDC_CDR`."""
PRODUCT_TITLE = catalogue.NSIDC_CDR_TITLE
NASA_TEAM_VARIABLE = "nsidc_nt_seaice_conc_monthly"
"""The v4 NASA Team field: the algorithm of the NSIDC Sea Ice Index, so extents computed from it are the
ones to compare with the index (the CDR field takes the larger of NASA Team and Bootstrap per cell)."""
DOWNLOAD_PERIOD = ("1979-01", "2020-12")
"""Months :func:`load` downloads when the default folder is empty and no period is given (IceNet's)."""
DAILY_VARIABLES = ("seaice_conc_cdr", "cdr_seaice_conc")


class NSIDCError(IcegradError):
    """A problem with NSIDC CDR input; the message names the file or month and the fix."""


class NotNSIDCFileError(NSIDCError):
    """A file that is not a monthly northern-hemisphere NSIDC sea-ice concentration CDR file."""


class UnknownVersionError(NSIDCError):
    """A CDR version icegrad cannot read (it reads G02202 versions 3 to 6)."""


class MissingMonthError(NSIDCError):
    """A requested month that the files (or the archive) do not hold."""


class NSIDCGapWarning(UserWarning):
    """The requested months had gaps, so a shorter consecutive run was kept."""


def describe_months(months: Iterable[pd.Timestamp]) -> str:
    """Months as compact runs, e.g. ``1987-09, 1989-01..2017-12`` — for coverage messages."""
    periods = sorted({pd.Timestamp(m).to_period("M") for m in months})
    if not periods:
        return "no months"
    runs: list[list[pd.Period]] = [[periods[0], periods[0]]]
    for p in periods[1:]:
        if p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in runs)


# ----------------------------------------------------------------------------------------------
# Reading files on the native grid
# ----------------------------------------------------------------------------------------------

def _open(path: Path) -> netCDF4.Dataset:
    """The shared netCDF check (:func:`icegrad.data.download.open_netcdf`) for any CDR file."""
    known = {name for p in PRODUCTS.values() for name in p.variables} | set(DAILY_VARIABLES)
    return open_netcdf(path, product="an NSIDC sea-ice concentration CDR", any_of=sorted(known),
                       error=NotNSIDCFileError, hint="delete it, or re-download it with "
                       "icegrad.data.nsidc.download(start, end)")


SURFACE_TYPE_FLAGS = {"polehole_mask": 251, "lake": 252, "coast": 253, "land": 254}
"""v5/v6 ``surface_type_mask`` meanings -> the v3/v4 flag codes the regridder understands (by meaning,
not by value, so a renumbering between releases cannot mislabel cells)."""


def _surface_flags(nc: netCDF4.Dataset, version: int, shape: tuple[int, ...], path: Path) -> np.ndarray:
    """v5/v6: flag codes (0 = ocean) from the ``surface_type_mask`` in the supplementary group."""
    group_name = PRODUCTS[version].group
    group = nc.groups.get(group_name) if group_name else None
    source = group if group is not None and "surface_type_mask" in group.variables else nc
    if "surface_type_mask" not in source.variables:
        raise NotNSIDCFileError(f"{path.name} (G02202 v{version}) lacks {group_name}/surface_type_mask, "
                                "which says where land, lakes, coast and the pole hole are; re-download it")
    var = source.variables["surface_type_mask"]
    var.set_auto_maskandscale(False)
    mask = np.asarray(var[:]).reshape(-1, *regrid.NSIDC_NORTH_SHAPE)[-1]
    meanings = str(getattr(var, "flag_meanings", "")).split()
    values = np.atleast_1d(getattr(var, "flag_values", []))
    flags = np.zeros(regrid.NSIDC_NORTH_SHAPE, dtype=np.uint8)
    for meaning, value in zip(meanings, values, strict=False):
        if meaning in SURFACE_TYPE_FLAGS:
            flags[mask == value] = SURFACE_TYPE_FLAGS[meaning]
    return np.broadcast_to(flags, shape)


def _file_version(nc: netCDF4.Dataset, path: Path) -> int:
    """The CDR version of an open file, from its ``product_version`` attribute and its variables.

    v4, v5 and v6 share the variable ``cdr_seaice_conc_monthly``; the stated version decides, and
    without one the netCDF group (v5/v6 only) does.
    """
    names = set(nc.variables)
    stated = str(getattr(nc, "product_version", getattr(nc, "original_product_version", "")))
    match = re.match(r"v0?(\d+)r", stated)
    if match and int(match.group(1)) not in PRODUCTS:
        raise UnknownVersionError(f"{path.name} is G02202 product version {stated}; icegrad reads versions "
                                  f"{sorted(PRODUCTS)}. Download a supported version with "
                                  "icegrad.data.nsidc.download(start, end, version=5).")
    candidates = [v for v, p in PRODUCTS.items() if p.variables[0] in names]
    if not candidates:
        if names & set(DAILY_VARIABLES):
            raise NotNSIDCFileError(f"{path.name} is a *daily* NSIDC CDR file; icegrad needs the monthly "
                                    "files (seaice_conc_monthly_nh_*.nc, sic_psn25_YYYYMM_*.nc).")
        raise NotNSIDCFileError(
            f"{path} is not an NSIDC sea-ice concentration CDR monthly file: it has none of the variables "
            f"{sorted({p.variables[0] for p in PRODUCTS.values()})} (it has {sorted(names)[:8]}). Point path "
            "at G02202 monthly northern-hemisphere files."
        )
    if match:
        version = int(match.group(1))
        if version not in candidates:
            raise UnknownVersionError(f"{path.name} states product_version {stated} but has the variables of "
                                      f"version {candidates}; the file is inconsistent, re-download it.")
        return version
    grouped = [v for v in candidates if (PRODUCTS[v].group in nc.groups) == (PRODUCTS[v].group is not None)]
    return min(grouped or candidates)


def _file_times(nc: netCDF4.Dataset, path: Path) -> pd.DatetimeIndex:
    """Month starts of the file's time axis (CF ``days since 1601-01-01`` in NSIDC files)."""
    if "time" not in nc.variables:
        raise NotNSIDCFileError(f"{path.name} has no 'time' variable; it is not a CDR monthly file")
    var = nc.variables["time"]
    dates = cftime.num2date(np.atleast_1d(var[:]), var.units, getattr(var, "calendar", "standard"),
                            only_use_cftime_datetimes=False, only_use_python_datetimes=True)
    return pd.DatetimeIndex(pd.to_datetime(list(dates))).to_period("M").to_timestamp()


def _conc_variable(nc: netCDF4.Dataset, version: int, variable: str | None, path: Path) -> str:
    allowed = PRODUCTS[version].variables
    name = variable or allowed[0]
    if name == PRODUCTS[version].nasa_team_daily:
        raise NSIDCError(f"G02202 v{version} monthly files carry no NASA Team field: {name} is only in the "
                         f"daily files (group {PRODUCTS[version].group}); read it with "
                         "icegrad.data.nsidc.load_nasa_team(resolution_km, path=<folder of daily files>)")
    if name not in allowed:
        raise NSIDCError(f"variable={name!r} is not a version-{version} concentration; "
                         f"choose one of {allowed}")
    if name not in nc.variables:
        raise NotNSIDCFileError(f"{path.name} lacks the variable {name!r}")
    return name


def _decode(raw: np.ndarray, var: netCDF4.Variable, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Raw int8/uint8 concentrations -> (SIC fraction with NaN at flags, flag codes with 0 = valid)."""
    codes = raw.view(np.uint8) if raw.dtype == np.int8 else raw.astype(np.uint8)
    valid_max = int(np.asarray(getattr(var, "valid_range", [0, 100])).view(np.uint8)[-1])
    flagged = np.isin(codes, FLAG_CODES)
    bad = ~flagged & (codes > valid_max)
    if bad.any():
        raise NSIDCError(f"{path.name}: {int(bad.sum())} value(s) above valid_range max {valid_max} that are "
                         f"not NSIDC flags {FLAG_CODES}; the file is corrupt or not a CDR file")
    scale = float(getattr(var, "scale_factor", 0.01))
    sic = np.where(flagged, np.nan, codes.astype(np.float64) * scale).astype(np.float32)
    return sic, np.where(flagged, codes, 0).astype(np.uint8)


def _file_xy(nc: netCDF4.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Projected coordinates from the file (v3 record: x/y; NSIDC files: xgrid/ygrid) or the grid."""
    x_ref, y_ref = regrid.polar_stereo_north_coords()
    for xn, yn in (("x", "y"), ("xgrid", "ygrid")):
        if xn in nc.variables and yn in nc.variables and nc.variables[xn].ndim == 1:
            return np.asarray(nc.variables[xn][:], dtype=np.float64), np.asarray(nc.variables[yn][:],
                                                                                dtype=np.float64)
    return x_ref, y_ref


def _file_doi(nc: netCDF4.Dataset, version: int) -> str:
    for attr in ("doi", "id"):
        value = str(getattr(nc, attr, ""))
        match = re.search(r"10\.\d{4,}/\S+", value)
        if match:
            return match.group(0)
    return PRODUCTS[version].doi


def _read_file(path: Path, version: int | None, variable: str | None,
               months: pd.DatetimeIndex | None) -> xr.Dataset:
    with _open(path) as nc:
        file_version = _file_version(nc, path)
        if version is not None and file_version != version:
            raise UnknownVersionError(f"{path.name} is G02202 version {file_version} but version={version} "
                                      "was requested; pass version=None or the matching version")
        name = _conc_variable(nc, file_version, variable, path)
        var = nc.variables[name]
        var.set_auto_maskandscale(False)
        if tuple(var.shape[-2:]) != regrid.NSIDC_NORTH_SHAPE or var.ndim not in (2, 3):
            raise NotNSIDCFileError(f"{path.name}: {name} has shape {var.shape}; expected (time,) 448 x 304 "
                                    "(the northern-hemisphere grid; southern files are 332 x 316)")
        times = _file_times(nc, path)
        keep = np.arange(len(times)) if months is None else np.flatnonzero(times.isin(months))
        raw = np.asarray(var[:]) if var.ndim == 2 else np.asarray(var[keep, :, :])
        raw = raw.reshape(-1, *regrid.NSIDC_NORTH_SHAPE)
        if var.ndim == 2:
            raw = raw[keep]
        if PRODUCTS[file_version].group is not None:
            surface = _surface_flags(nc, file_version, raw.shape, path)
            raw = np.where((surface > 0) & (raw.view(np.uint8) == 255), surface, raw).astype(np.uint8)
        sic, flag = _decode(raw, var, path)
        x, y = _file_xy(nc)
        attrs = {"version": file_version, "product_version": PRODUCTS[file_version].product_version,
                 "doi": _file_doi(nc, file_version), "variable": name}
    return _native_dataset(sic, flag, times[keep], x, y, {**attrs, "source_files": path.name})


def _native_dataset(sic: np.ndarray, flag: np.ndarray, times: pd.DatetimeIndex, x: np.ndarray, y: np.ndarray,
                    attrs: dict[str, object]) -> xr.Dataset:
    """Decoded months on the native grid with CF attributes: what every CDR read returns."""
    coords = {"time": times.astype("datetime64[ns]"),
              "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
              "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"})}
    ds = xr.Dataset(
        {"sic": (("time", "y", "x"), sic, {"units": "1", "standard_name": "sea_ice_area_fraction",
                                            "long_name": "sea ice area fraction (NaN where flagged)"}),
         "flag": (("time", "y", "x"), flag, {
             "long_name": "NSIDC flag of cells without a concentration (0 = valid)",
             "flag_values": np.array((0, *FLAG_CODES), dtype=np.uint8),
             "flag_meanings": "valid " + " ".join(regrid.FLAG_MEANINGS.values())})},
        coords=coords, attrs=attrs,
    )
    ds = ds.sortby("x").sortby("y", ascending=False)
    regrid.check_on_polar_stereo(ds["sic"])
    return ds


# ----------------------------------------------------------------------------------------------
# v5 / v6 NASA Team: monthly means of the daily files' raw field
# ----------------------------------------------------------------------------------------------

DAILY_V56_PATTERN = re.compile(r"sic_psn25_(?P<day>\d{8})_(?P<platform>[A-Za-z]\w\d)_v0[56]r\d\d\.nc")
"""v5/v6 daily NH file names (nsidc/seaice_ecdr ``standard_daily_filename``), e.g.
``sic_psn25_20130901_F17_v05r00.nc``."""


def _daily_nasa_team(path: Path) -> tuple[int, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, str]]:
    """(version, NASA Team fraction with NaN where absent, surface flags, (x, y, doi)) of a daily file."""
    with _open(path) as nc:
        stated = re.match(r"v0?(\d+)r", str(getattr(nc, "product_version", "")))
        version = int(stated.group(1)) if stated else None
        product = PRODUCTS.get(version) if version else None
        if product is None or product.nasa_team_daily is None or "cdr_seaice_conc" not in nc.variables:
            raise NotNSIDCFileError(f"{path.name} is not a G02202 v5/v6 *daily* file (product_version "
                                    f"{getattr(nc, 'product_version', 'missing')}); the NASA Team field of "
                                    "v5/v6 is in the daily sic_psn25_YYYYMMDD_*.nc files")
        group = nc.groups.get(product.group)
        if group is None or product.nasa_team_daily not in group.variables:
            raise NotNSIDCFileError(f"{path.name} lacks {product.group}/{product.nasa_team_daily}; "
                                    "re-download it")
        var = group.variables[product.nasa_team_daily]
        var.set_auto_maskandscale(False)
        codes = np.asarray(var[:]).reshape(regrid.NSIDC_NORTH_SHAPE).view(np.uint8)
        fill = int(np.asarray(getattr(var, "_FillValue", 255)).astype(np.uint8))
        scale = float(getattr(var, "scale_factor", 0.01))
        nt = np.where(codes == fill, np.nan, np.minimum(codes * scale, 1.0)).astype(np.float32)
        surface = _surface_flags(nc, version, (1, *regrid.NSIDC_NORTH_SHAPE), path)[0]
        return version, nt, surface, (*_file_xy(nc), _file_doi(nc, version))


def open_nasa_team(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                   months: Iterable[pd.Timestamp] | None = None) -> xr.Dataset:
    """v5/v6 NASA Team SIC on the native grid, as monthly means of the daily files (like :func:`open_cdr`).

    NASA Team is the algorithm of the Sea Ice Index, so its extents are the ones to compare with the
    index. From version 5 NSIDC publishes it only as ``cdr_supplementary/raw_nt_seaice_conc`` of the
    *daily* files (NSIDC's seaice_ecdr: "NASA Team sea ice concentration, raw field with no
    masking"). A month is the mean over its days with a value; the unmasked raw values above 100 %
    count as 100 %; land, lake and coast cells take their surface-type flag, and cells without any
    value the pole-hole flag where the surface mask says pole hole, else missing.
    """
    by_month: dict[pd.Timestamp, list[Path]] = {}
    for f in find_files(path):
        if match := DAILY_V56_PATTERN.fullmatch(f.name):
            by_month.setdefault(pd.Timestamp(match.group("day")[:6] + "01"), []).append(f)
    if not by_month:
        raise MissingMonthError(f"no daily G02202 v5/v6 files (sic_psn25_YYYYMMDD_*.nc) in {path}")
    wanted = sorted(by_month) if months is None else list(pd.DatetimeIndex(list(months)))
    absent = [m for m in wanted if m not in by_month]
    if absent:
        raise MissingMonthError(f"no daily files for {describe_months(absent)}; the folder holds "
                                f"{describe_months(by_month)}")
    sic, flag, versions, names = [], [], set(), []
    for month in wanted:
        days = [_daily_nasa_team(f) for f in sorted(by_month[month])]
        versions |= {d[0] for d in days}
        stack = np.stack([d[1] for d in days])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # cells without any value: NaN, flagged below
            mean = np.nanmean(stack, axis=0)
        surface = days[-1][2]
        never = ~np.isfinite(mean)
        codes = np.where(never, np.where(surface == regrid.POLE_HOLE_FLAG, regrid.POLE_HOLE_FLAG, 255), 0)
        codes = np.where(np.isin(surface, (252, 253, 254)), surface, codes).astype(np.uint8)
        sic.append(np.where(codes > 0, np.nan, mean).astype(np.float32))
        flag.append(codes)
        names += [f.name for f in by_month[month]]
    if len(versions) > 1:
        raise NSIDCError(f"the daily files mix CDR versions {sorted(versions)}; use one version")
    (version,) = versions
    x, y, doi = days[-1][3]
    attrs = {"version": version, "product_version": PRODUCTS[version].product_version, "doi": doi,
             "variable": f"{PRODUCTS[version].nasa_team_daily} (monthly mean of daily files)",
             "source_files": f"{len(names)} daily files: {names[0]} ... {names[-1]}"}
    return _native_dataset(np.stack(sic), np.stack(flag), pd.DatetimeIndex(wanted), x, y, attrs)


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


def find_files(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The netCDF files named by ``path``: a file, a folder (its ``*.nc`` files) or a list of files."""
    return local_files(path, "*.nc", recursive=False, error=NSIDCError, product=f"NSIDC (or {NSIDC_DIR_ENV})",
                       empty_hint="download some with icegrad.data.nsidc.download(start, end, cache_dir=...)")


def month_index(files: Sequence[Path], version: int | None = None) -> dict[pd.Timestamp, Path]:
    """Which file holds each month; reads only the headers and time axes.

    Errors when files mix versions (unless ``version`` picks one; other versions are then skipped)
    or when two files hold the same month.
    """
    index: dict[pd.Timestamp, Path] = {}
    versions: dict[int, Path] = {}
    skipped: dict[int, Path] = {}
    for path in files:
        with _open(path) as nc:
            file_version = _file_version(nc, path)
            if version is not None and file_version != version:
                skipped.setdefault(file_version, path)
                continue
            versions.setdefault(file_version, path)
            for month in _file_times(nc, path):
                if month in index:
                    raise NSIDCError(f"month {month:%Y-%m} is in both {index[month].name} and {path.name}; "
                                     "remove one of them from the folder")
                index[month] = path
    if len(versions) > 1:
        raise NSIDCError(f"the files mix CDR versions {sorted(versions)} (e.g. {list(versions.values())}); "
                         "pass version=3 or version=4 to use one")
    if not index and skipped:
        example = next(iter(skipped.values())).name
        raise UnknownVersionError(f"the files are G02202 version {sorted(skipped)} (e.g. {example}) but "
                                  f"version={version} was requested; pass version=None or the matching one")
    if not index:
        raise MissingMonthError(f"the files hold no CDR months: {[f.name for f in files][:5]}")
    return dict(sorted(index.items()))


def open_cdr(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], version: int | None = None,
             variable: str | None = None, months: Iterable[pd.Timestamp] | None = None) -> xr.Dataset:
    """Decode CDR monthly files on their native polar stereographic grid.

    Returns ``sic`` (time, y, x) in [0, 1] with NaN where NSIDC flags a cell and ``flag`` (0 = valid,
    251 pole hole, 252 lakes, 253 coast, 254 land, 255 missing); ``x``/``y`` in metres (EPSG:3411);
    attrs ``version``, ``product_version``, ``doi``, ``variable``, ``source_files``. ``months``
    restricts the months read; asking for a month the files lack raises :class:`MissingMonthError`.
    """
    if version is not None and version not in PRODUCTS:
        raise UnknownVersionError(f"version={version!r}; icegrad reads G02202 versions {sorted(PRODUCTS)}")
    index = month_index(find_files(path), version)
    wanted = pd.DatetimeIndex(sorted(index) if months is None else
                              pd.DatetimeIndex(list(months)).to_period("M").to_timestamp())
    absent = wanted.difference(pd.DatetimeIndex(list(index)))
    if len(absent):
        raise MissingMonthError(f"month(s) {describe_months(absent)} are not in the NSIDC files, which cover "
                                f"{describe_months(index)}")
    by_file: dict[Path, list[pd.Timestamp]] = {}
    for month in wanted:
        by_file.setdefault(index[month], []).append(month)
    parts = [_read_file(f, version, variable, pd.DatetimeIndex(ms)) for f, ms in by_file.items()]
    ds = xr.concat(parts, dim="time", combine_attrs="drop_conflicts").sortby("time")
    names = [f.name for f in by_file]
    ds.attrs["source_files"] = ", ".join(names) if len(names) <= 4 else (
        f"{len(names)} files: {names[0]} ... {names[-1]}")
    return ds


# ----------------------------------------------------------------------------------------------
# The monthly dataset on EASE2
# ----------------------------------------------------------------------------------------------

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


def default_folder(version: int = 4) -> Path:
    """Where :func:`download` stores files and :func:`load` looks for them by default."""
    override = os.environ.get(NSIDC_DIR_ENV)
    return Path(override).expanduser() if override else icegrad_cache_dir() / "nsidc" / f"G02202_V{version}"


def _source_text(ds: xr.Dataset) -> str:
    version = int(ds.attrs["version"])
    return (f"{PRODUCT_TITLE}, Version {version} (NSIDC G02202 {PRODUCTS[version].product_version}, "
            f"variable {ds.attrs['variable']}), doi:{ds.attrs['doi']}; files: {ds.attrs['source_files']}")


def build_dataset(native: xr.Dataset, resolution_km: int) -> xr.Dataset:
    """Decoded CDR months (from :func:`open_cdr`) as an icegrad monthly dataset on EASE2."""
    siconca = regrid.ps_to_ease2(native["sic"], native["flag"], resolution_km)
    return as_monthly_dataset(
        siconca.to_dataset(), resolution_km,
        title=f"NSIDC sea-ice concentration CDR on {grid.grid_name(resolution_km)}",
        data_source="nsidc",
        source=_source_text(native),
        references="Meier, W. N., et al. NOAA/NSIDC Climate Data Record of Passive Microwave Sea Ice "
                   f"Concentration, Version {native.attrs['version']}. NSIDC. doi:{native.attrs['doi']}",
        comment=siconca.attrs["comment"],
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
    2. ``$ICEGRAD_NSIDC_DIR`` or the folder :func:`download` fills, when it holds files;
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
    if path is None and not _has_files(default_folder(version or 4)) and _embedded_serves(
            resolution_km, start, end, version, variable):
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
        "version": version, "variable": variable,
        "files": [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in used],
    }

    def compute() -> xr.Dataset:
        return build_dataset(open_cdr(used, version, variable, months), resolution_km)

    return cached_netcdf("nsidc", params, compute, refresh=refresh)


EMBEDDED_PERIOD = ("1987-09", "2017-12")
"""First and last month of the embedded record (G02202 v3; 1987-10..1988-12 are missing)."""


def _embedded_serves(resolution_km: int, start: str | None, end: str | None, version: int | None,
                     variable: str | None) -> bool:
    inside = all(m is None or EMBEDDED_PERIOD[0] <= f"{pd.Timestamp(m):%Y-%m}" <= EMBEDDED_PERIOD[1]
                 for m in (start, end))
    return resolution_km in (100, 200) and version in (None, 3) and variable is None and inside


# ----------------------------------------------------------------------------------------------
# Downloading from NSIDC's public HTTPS archive
# ----------------------------------------------------------------------------------------------

def remote_files(listing_html: str, version: int) -> dict[pd.Timestamp, str]:
    """Month -> file name from an archive directory listing.

    The platform code in NSIDC's names (n07, f08, f11, f13, f17, ...) changes with the satellite,
    so names are taken from the listing rather than guessed. Should a month appear under two
    platforms, the later platform (higher code) is used, as NSIDC's own record does after overlaps.
    """
    pattern = PRODUCTS[version].file_pattern
    found: dict[pd.Timestamp, str] = {}
    for match in sorted(pattern.finditer(listing_html), key=lambda m: m.group("platform")):
        found[pd.Timestamp(f"{match.group('month')[:4]}-{match.group('month')[4:]}-01")] = match.group(0)
    return found


def verify_monthly_file(path: Path, version: int) -> None:
    """Accept a downloaded file only if it decodes as a monthly CDR file of ``version``."""
    _read_file(Path(path), version, None, None)


def download(start: str, end: str, version: int = 4, cache_dir: str | os.PathLike[str] | None = None, *,
             base_url: str | None = None, retries: int = 3, backoff_s: float = 2.0,
             skip_absent: bool = False) -> list[Path]:
    """Fetch the monthly NH CDR files for ``start..end`` over HTTPS (no account needed).

    Files go to ``cache_dir`` (default :func:`default_folder`); each is checked to decode as the
    expected product and its SHA-256 is recorded in the folder's registry and verified on reuse, so
    re-running after an interruption fetches only what is missing. ``base_url`` points at a mirror.
    Months the archive lacks raise :class:`MissingMonthError`, or with ``skip_absent`` are left out
    with an :class:`NSIDCGapWarning` (the SSM/I outage of 1987-12..1988-01 is such a gap).
    Returns the local paths in month order.
    """
    if version not in PRODUCTS:
        raise UnknownVersionError(f"version={version!r}; NSIDC G02202 versions {sorted(PRODUCTS)} can be "
                                  "downloaded")
    months = month_starts(start, end)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_folder(version)
    folder.mkdir(parents=True, exist_ok=True)
    url = base_url or PRODUCTS[version].archive_url
    url = url if url.endswith("/") else url + "/"
    pattern = PRODUCTS[version].file_pattern
    local = {pd.Timestamp(f"{m.group('month')[:4]}-{m.group('month')[4:]}-01"): m.group(0)
             for f in folder.glob("*.nc") if (m := pattern.fullmatch(f.name))}
    names = {m: local[m] for m in months if m in local}
    if len(names) < len(months):
        remote = remote_files(get_text(url, retries=retries, backoff_s=backoff_s), version)
        absent = [m for m in months if m not in remote and m not in local]
        if absent and not skip_absent:
            raise MissingMonthError(f"month(s) {describe_months(absent)} are not in the NSIDC archive {url}, "
                                    f"which lists {describe_months(remote)}")
        if absent:
            warnings.warn(f"the NSIDC archive {url} lacks {describe_months(absent)}; downloading the other "
                          "months", NSIDCGapWarning, stacklevel=2)
        names.update({m: remote[m] for m in months if m not in names and m in remote})
    registry = ChecksumRegistry(folder)
    check = partial(verify_monthly_file, version=version)
    return [fetch(url + names[m], folder / names[m], verify=check, registry=registry, retries=retries,
                  backoff_s=backoff_s) for m in months if m in names]
