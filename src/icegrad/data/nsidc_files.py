"""Reading NOAA/NSIDC CDR (G02202) files: file -> decoded xarray on the native grid, with CF attributes.

The *read* step of the NSIDC reader (:mod:`icegrad.data.nsidc` loads, :mod:`icegrad.data.nsidc_fetch`
downloads, :mod:`icegrad.data.regrid` regrids). Every file passes the shared netCDF check
(:func:`icegrad.data.download.open_netcdf`) first. Versions 3 to 6 are read; what distinguishes them
(variables, file names, groups, DOIs) is in :data:`icegrad.data.catalogue.NSIDC_CDR`. Decoding works
on the raw bytes, never xarray's mask-and-scale, which would turn flags 251-255 into concentrations
of 2.51-2.55.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import cftime
import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from icegrad.data import catalogue, regrid
from icegrad.data.download import local_files, open_netcdf
from icegrad.errors import IcegradError

NSIDC_DIR_ENV = "ICEGRAD_NSIDC_DIR"
FLAG_CODES = tuple(regrid.FLAG_MEANINGS)  # 251..255
PRODUCTS = catalogue.NSIDC_CDR
"""G02202 versions icegrad reads (3-6), from the one catalogue :data:`icegrad.data.catalogue.NSIDC_CDR`."""
PRODUCT_TITLE = catalogue.NSIDC_CDR_TITLE
NASA_TEAM_VARIABLE = "nsidc_nt_seaice_conc_monthly"
"""The v4 NASA Team field: the algorithm of the NSIDC Sea Ice Index, so extents computed from it are the
ones to compare with the index (the CDR field takes the larger of NASA Team and Bootstrap per cell)."""
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


def verify_monthly_file(path: Path, version: int) -> None:
    """Accept a downloaded file only if it decodes as a monthly CDR file of ``version``."""
    _read_file(Path(path), version, None, None)


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
