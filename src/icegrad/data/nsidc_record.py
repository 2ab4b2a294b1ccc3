"""The NSIDC CDR record embedded in ``data/``: real sea ice for the book with no download.

The letter's Figure 1 and the SIC-only network need *observed* sea-ice concentration, and a reader
of the rendered book should see it without fetching 40 years of files. So the repository carries a
compact, derived copy of the NOAA/NSIDC CDR (G02202) monthly northern-hemisphere record, already
regridded the way the book regrids (:func:`icegrad.data.regrid.ps_to_ease2` at 25 km, then
:func:`icegrad.data.regrid.to_resolution`):

* :data:`RECORD_FILES` ``[25]``: every September at 25 km on EASE-Grid 2.0 North (Figure 1);
* :data:`RECORD_FILES` ``[100]`` and ``[200]``: every month at 100 and 200 km (the SIC-only network).

Storage: SIC as unsigned bytes in *percent* (0-100, rounded to the nearest percent: the CDR's own
precision is 1 %, and the block means at 100/200 km lose at most 0.5 %), ``254`` on land, ``255``
(the ``_FillValue``) for missing data, zlib level 9 with shuffle, one month per chunk. No
``scale_factor`` on purpose: xarray's default decoding would then turn the land code into a
concentration of 2.54, the very pitfall NSIDC's own files have. :func:`decode` reads the bytes.

Provenance lives in each file's global attributes (source files with SHA-256, DOI, citation,
terms of use, the building script and :data:`RECORD_VERSION`); ``data/README.md`` repeats it.
The files are made by ``data/scripts/make_nsidc_record.py`` calling :func:`build_record`, which a
test re-runs against the committed files whenever the shared source files are at hand.

Example
-------
>>> sorted(RECORD_FILES)
[25, 100, 200]
>>> decode(np.array([0, 15, 100, LAND_CODE, FILL_CODE], dtype=np.uint8)).tolist()
[0.0, 0.15000000596046448, 1.0, nan, nan]

Sources: the CDR's user guide, NSIDC Special Report / G02202 documentation
(https://nsidc.org/data/g02202), for variables, flags 251-255 and the 25 km polar stereographic grid;
CF conventions 1.10 section 3.5 (flags) and the standard name table (``sea_ice_area_fraction``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.cache import file_digest
from icegrad.data import catalogue, nsidc_files, regrid
from icegrad.data.land import land_mask
from icegrad.data.schema import as_monthly_dataset
from icegrad.errors import IcegradError
from icegrad.files import NETCDF_LOCK, atomic_path, read_netcdf
from icegrad.paths import data_dir
from icegrad.variables import MONTHLY_VARIABLES

RECORD_VERSION = "1"
"""Bumped whenever :func:`build_record` would write different bytes or attributes from the same sources."""
SCRIPT = "data/scripts/make_nsidc_record.py"
RECORD_FILES = {25: "nsidc_cdr_nh_sic_septembers_25km.nc", 100: "nsidc_cdr_nh_sic_monthly_100km.nc",
                200: "nsidc_cdr_nh_sic_monthly_200km.nc"}
SEPTEMBER = 9
LAND_CODE = 254
FILL_CODE = 255
CHUNK_MONTHS = 36
"""Months regridded at once while building: bounds the 25 km working arrays to about 100 MB."""


class RecordError(IcegradError):
    """The embedded record is missing, damaged, or cannot serve a request; the message says the fix."""


def record_path(resolution_km: int, folder: str | os.PathLike[str] | None = None) -> Path:
    """Path of the embedded file for ``resolution_km`` (25, 100 or 200) in ``folder`` (default data/)."""
    if resolution_km not in RECORD_FILES:
        raise RecordError(f"resolution_km={resolution_km} has no embedded NSIDC record (it holds "
                          f"{sorted(RECORD_FILES)} km); download the CDR with "
                          "icegrad.data.nsidc.download(start, end) for other resolutions")
    return Path(folder) / RECORD_FILES[resolution_km] if folder is not None else \
        data_dir() / RECORD_FILES[resolution_km]


# ----------------------------------------------------------------------------------------------
# Encoding: fraction <-> uint8 percent
# ----------------------------------------------------------------------------------------------

def encode(siconca: xr.DataArray, land: np.ndarray) -> np.ndarray:
    """SIC fractions ``(time, y, x)`` -> uint8 percent, :data:`LAND_CODE` on ``land``, fill elsewhere NaN."""
    values = np.asarray(siconca.values, dtype=np.float64)
    codes = np.full(values.shape, FILL_CODE, dtype=np.uint8)
    finite = np.isfinite(values)
    codes[finite] = np.clip(np.rint(values[finite] * 100.0), 0, 100).astype(np.uint8)
    codes[:, land] = LAND_CODE
    return codes


def decode(codes: np.ndarray) -> np.ndarray:
    """uint8 percent codes -> float32 SIC fractions with NaN on land and missing cells."""
    codes = np.asarray(codes)
    bad = codes[(codes > 100) & (codes != LAND_CODE) & (codes != FILL_CODE)]
    if bad.size:
        raise RecordError(f"the embedded record holds code {int(bad[0])}, neither 0-100 % nor a flag "
                          f"({LAND_CODE} land, {FILL_CODE} missing); rebuild it with {SCRIPT}")
    return np.where(codes <= 100, codes.astype(np.float32) / np.float32(100.0), np.float32(np.nan))


# ----------------------------------------------------------------------------------------------
# Building from NSIDC files
# ----------------------------------------------------------------------------------------------

def monthly_files(files: Sequence[Path]) -> dict[int, list[Path]]:
    """The monthly CDR files among ``files`` by version; daily and foreign files are left out."""
    by_version: dict[int, list[Path]] = {}
    for f in files:
        for v in nsidc_files.PRODUCTS:
            if _holds_version(f, v):
                by_version.setdefault(v, []).append(f)
    if not by_version:
        raise RecordError(f"none of {[f.name for f in files][:5]} is a monthly NSIDC CDR file")
    return by_version


def _holds_version(path: Path, version: int) -> bool:
    try:
        nsidc_files.month_index([path], version)
    except nsidc_files.NSIDCError:
        return False
    return True


def choose_version(files: Sequence[Path]) -> int:
    """The CDR version holding the most months among ``files`` (ties: the newer version)."""
    counts = {v: len(nsidc_files.month_index(fs, v)) for v, fs in monthly_files(files).items()}
    return max(counts, key=lambda v: (counts[v], v))


def _regridded(files: Sequence[Path], version: int, months: pd.DatetimeIndex) -> dict[int, np.ndarray]:
    """uint8 codes per resolution; Septembers only at 25 km. Regridded in chunks to bound memory."""
    parts: dict[int, list[np.ndarray]] = {res: [] for res in RECORD_FILES}
    land = {res: np.asarray(land_mask(res).values) for res in RECORD_FILES}
    for start in range(0, len(months), CHUNK_MONTHS):
        chunk = months[start:start + CHUNK_MONTHS]
        native = nsidc_files.open_cdr(files, version, None, chunk)
        base = regrid.ps_to_ease2(native["sic"], native["flag"], grid.BASE_RESOLUTION_KM)
        septembers = base.isel(time=np.flatnonzero(pd.DatetimeIndex(base.time.values).month == SEPTEMBER))
        parts[25].append(encode(septembers, land[25]))
        for res in (100, 200):
            parts[res].append(encode(regrid.to_resolution(base, res), land[res]))
    return {res: np.concatenate(p) for res, p in parts.items()}


def _provenance(files: Sequence[Path], version: int, months: pd.DatetimeIndex,
                index: dict[pd.Timestamp, Path]) -> dict[str, str]:
    product = catalogue.NSIDC_CDR[version]
    used = sorted({index[m] for m in months})
    lines = []
    for f in used:
        n = sum(1 for m in months if index[m] == f)
        lines.append(f"{f.name} sha256:{file_digest(f)} ({n} month{'s' if n > 1 else ''})")
    return {
        "source": f"{nsidc_files.PRODUCT_TITLE}, Version {version} (NSIDC G02202 {product.product_version}), "
                  f"monthly northern hemisphere, variable {product.variables[0]}: observed, not emulated",
        "source_files": "; ".join(lines),
        "source_months": nsidc_files.describe_months(months),
        "doi": product.doi,
        "citation": product.citation,
        "license": catalogue.NSIDC_TERMS_OF_USE,
        "product_url": product.landing_page,
        "processing": regrid.FILL_RULES + " 100 and 200 km: block means of the 25 km field "
                      "(icegrad.data.regrid.to_resolution). Stored as uint8 percent rounded to the "
                      f"nearest integer; {LAND_CODE} = land, {FILL_CODE} = missing.",
        "script": SCRIPT,
        "script_version": RECORD_VERSION,
    }


def _as_file_dataset(codes: np.ndarray, months: pd.DatetimeIndex, resolution_km: int,
                     attrs: dict[str, str]) -> xr.Dataset:
    spec = MONTHLY_VARIABLES["siconca"]
    coords = grid.ease2_grid(resolution_km)
    what = "every September" if resolution_km == 25 else "every month"
    ds = xr.Dataset(
        {"siconca": (("time", "y", "x"), codes, {
            "standard_name": spec.standard_name, "long_name": f"{spec.long_name} (observed, NSIDC CDR)",
            "units": "percent", "valid_range": np.array([0, 100], dtype=np.uint8),
            "flag_values": np.array([LAND_CODE, FILL_CODE], dtype=np.uint8),
            "flag_meanings": "land missing_data", "grid_mapping": "crs",
            "comment": "0-100 = sea-ice area fraction in percent; decode with "
                       "icegrad.data.nsidc_record.decode (no scale_factor, so flags never pass as ice)"})},
        coords={"time": ("time", months.values.astype("datetime64[ns]"), {"standard_name": "time"}),
                "y": coords["y"], "x": coords["x"], "crs": coords["crs"]},
    )
    ds.attrs = {"title": f"NSIDC sea-ice concentration CDR, {what}, on {grid.grid_name(resolution_km)} "
                         "(icegrad's embedded observed record)",
                "Conventions": "CF-1.10", "data_source": "nsidc", "observed": "true",
                "resolution_km": resolution_km, **attrs}
    return ds


def _encoding(ds: xr.Dataset) -> dict[str, dict[str, object]]:
    ny, nx = ds.sizes["y"], ds.sizes["x"]
    return {"siconca": {"zlib": True, "complevel": 9, "shuffle": True, "chunksizes": (1, ny, nx),
                        "_FillValue": np.uint8(FILL_CODE), "dtype": "uint8"},
            "time": {"units": "days since 1970-01-01", "calendar": "standard", "dtype": "int32"}}


def build_record(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 out_dir: str | os.PathLike[str], version: int | None = None) -> dict[int, Path]:
    """Write the three embedded files into ``out_dir`` from NSIDC monthly files; return their paths.

    ``source`` is a folder (the downloader's output, or any local copy such as the shared v3 record)
    or a list of files; ``version`` picks one CDR version when the folder mixes them (default: the
    version with the most months). Every month the files hold is kept, gaps included: the loader
    picks consecutive runs. Each file is written atomically.
    """
    found = nsidc_files.find_files(source)
    version = version if version is not None else choose_version(found)
    files = monthly_files(found).get(version, [])
    if not files:
        raise RecordError(f"no G02202 version-{version} monthly files among {[f.name for f in found][:5]}")
    index = nsidc_files.month_index(files, version)
    months = pd.DatetimeIndex(list(index))
    attrs = _provenance(files, version, months, index)
    codes = _regridded(files, version, months)
    out = {}
    for res, values in codes.items():
        res_months = months[months.month == SEPTEMBER] if res == 25 else months
        ds = _as_file_dataset(values, res_months, res, attrs)
        target = record_path(res, out_dir)
        with atomic_path(target) as tmp, NETCDF_LOCK:
            ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))
        out[res] = target
    return out


# ----------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------

def open_record(resolution_km: int, folder: str | os.PathLike[str] | None = None) -> xr.Dataset:
    """The embedded file as stored (uint8 codes, attributes as written), for checks and provenance."""
    path = record_path(resolution_km, folder)
    if not path.is_file():
        raise RecordError(f"the embedded NSIDC record {path} is missing; rebuild it with "
                          f"python {SCRIPT} <folder of NSIDC files>")
    try:
        return read_netcdf(path, mask_and_scale=False, decode_times=True)
    except (OSError, ValueError) as err:
        raise RecordError(f"the embedded NSIDC record {path} cannot be read ({err}); restore it with "
                          f"git checkout, or rebuild it with python {SCRIPT}") from None


def _as_fraction_dataset(stored: xr.Dataset, resolution_km: int) -> xr.Dataset:
    spec = MONTHLY_VARIABLES["siconca"]
    coords = grid.ease2_grid(resolution_km)
    siconca = xr.DataArray(
        decode(stored["siconca"].values), dims=("time", "y", "x"),
        coords={"time": stored["time"].values, **coords.coords}, name="siconca",
        attrs={"units": spec.units, "long_name": spec.long_name, "standard_name": spec.standard_name,
               "comment": "observed (NSIDC CDR), not emulated; stored rounded to 1 %"},
    )
    return siconca.to_dataset()


def read_monthly(resolution_km: int, folder: str | os.PathLike[str] | None = None) -> xr.Dataset:
    """Every month of the embedded record at 100 or 200 km, gaps included, as SIC fractions.

    Not yet a schema dataset (the record has a gap after 1987-09): :func:`icegrad.data.nsidc.load`
    selects the consecutive months and finishes it.
    """
    if resolution_km == 25:
        raise RecordError("the embedded 25 km record holds Septembers only; use "
                          "icegrad.data.nsidc.embedded_septembers(), or download the CDR with "
                          "icegrad.data.nsidc.download(start, end) for every month at 25 km")
    stored = open_record(resolution_km, folder)
    return _as_fraction_dataset(stored, resolution_km).assign_attrs(stored.attrs)


def read_septembers(folder: str | os.PathLike[str] | None = None) -> xr.Dataset:
    """Every September of the embedded record at 25 km: ``siconca`` (time, y, x) with a land coordinate.

    The months are not consecutive, so this is not a monthly schema dataset (inputs cannot be built
    from it); it is what Figure 1 draws. Global attributes carry the provenance.
    """
    stored = open_record(25, folder)
    ds = _as_fraction_dataset(stored, 25)
    ds = ds.assign_coords(land=(("y", "x"), np.asarray(land_mask(25).values),
                                {"long_name": "land mask", "flag_meanings": "ocean land"}))
    return ds.assign_attrs(stored.attrs, month_selection="September of each year")


def as_schema(monthly: xr.Dataset, months: pd.DatetimeIndex, resolution_km: int) -> xr.Dataset:
    """The embedded ``months`` (consecutive) as a monthly schema dataset marked observed."""
    attrs = monthly.attrs
    ds = monthly[["siconca"]].sel(time=months.values.astype("datetime64[ns]"))
    return as_monthly_dataset(
        ds, resolution_km,
        title=f"NSIDC sea-ice concentration CDR on {grid.grid_name(resolution_km)} (embedded record)",
        data_source="nsidc", source=attrs["source"], references=attrs["citation"],
        comment=attrs["processing"], observed="true", doi=attrs["doi"], license=attrs["license"],
        source_files=attrs["source_files"], record=f"{RECORD_FILES[resolution_km]} "
        f"(icegrad embedded record, {SCRIPT} v{attrs['script_version']})",
    )
