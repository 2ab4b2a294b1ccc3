"""NSIDC CDR readers, the EASE2 dataset and downloads: on files written here in the real structure,
and on the real v3 record and v4 samples in ../shared when present."""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr

from icegrad.data import catalogue, load_dataset, nsidc, regrid
from icegrad.data.download import ChecksumRegistry, DownloadError
from icegrad.diagnostics import sea_ice_extent

EPOCH = pd.Timestamp("1601-01-01")
V3_RECORD = "nsidc_g02202v3_monthly_nh_sic.nc"
V4_MONTHLY = "seaice_conc_monthly_nh_202112_f17_v04r00.nc"
V4_DAILY = "seaice_conc_daily_nh_20211231_f17_v04r00.nc"


# ---------------------------------------------------------------------------------------------
# Writing small files with the exact structure of the real ones
# ---------------------------------------------------------------------------------------------

def synthetic_codes(seed: int = 0) -> np.ndarray:
    """Unsigned NSIDC codes (448, 304): ice cap near the pole, open water, land, coast, flags."""
    x, y = regrid.polar_stereo_north_coords()
    xx, yy = np.meshgrid(x, y)
    r = np.hypot(xx, yy)
    rng = np.random.default_rng(seed)
    codes = np.where(r < 1_500_000, 90, np.where(r < 2_000_000, 40, 0)).astype(np.uint8)
    codes[r < 2_000_000] -= rng.integers(0, 5, size=int((r < 2_000_000).sum()), dtype=np.uint8)
    codes[400:448, 0:60] = 254  # land
    codes[398:400, 0:62] = 253  # coast
    codes[10:12, 10:12] = 252  # lake
    codes[200:202, 20:22] = 255  # missing
    codes[r < 100_000] = 251  # pole hole
    return codes


def write_v3(path: Path, months: list[str], codes: list[np.ndarray], platform: str = "f13") -> Path:
    """A v03r01 monthly file: int8 with _Unsigned, flags -5..-1, dims (time, ygrid, xgrid)."""
    x, y = regrid.polar_stereo_north_coords()
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("ygrid", 448)
        nc.createDimension("xgrid", 304)
        t = nc.createVariable("time", "f8", ("time",))
        t.setncatts({"units": "days since 1601-01-01 00:00:00", "calendar": "gregorian", "axis": "T"})
        t[:] = [(pd.Timestamp(m) - EPOCH).days for m in months]
        for name, values in (("xgrid", x), ("ygrid", y)):
            v = nc.createVariable(name, "f4", (name,))
            v.units = "meters"
            v[:] = values
        for var in ("seaice_conc_monthly_cdr", "goddard_merged_seaice_conc_monthly"):
            v = nc.createVariable(var, "i1", ("time", "ygrid", "xgrid"), fill_value=np.int8(-1), zlib=True)
            v.setncatts({"valid_range": np.array([0, 100], np.int8), "_Unsigned": "true",
                         "scale_factor": np.float32(0.01), "units": "1",
                         "flag_values": np.array([-5, -4, -3, -2, -1], np.int8),
                         "flag_meanings": "pole_hole lakes coastal land_mask missing_data"})
            v.set_auto_maskandscale(False)
            v[:] = np.stack(codes).view(np.int8)
        nc.setncatts({"product_version": "v03r01", "id": "G02202", "platform": platform})
    return path


def write_v4(path: Path, month: str, codes: np.ndarray, product_version: str = "v04r00") -> Path:
    """A v04r00 monthly file: uint8 flags 251..255, dim tdim, float32 time, xgrid/ygrid, no lat/lon."""
    x, y = regrid.polar_stereo_north_coords()
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("tdim", None)
        nc.createDimension("y", 448)
        nc.createDimension("x", 304)
        t = nc.createVariable("time", "f4", ("tdim",))
        t.setncatts({"units": "days since 1601-01-01 00:00:00", "calendar": "gregorian"})
        t[:] = [(pd.Timestamp(month) - EPOCH).days]
        for name, dim, values in (("xgrid", "x", x), ("ygrid", "y", y)):
            v = nc.createVariable(name, "f4", (dim,))
            v.units = "meters"
            v[:] = values
        v = nc.createVariable("cdr_seaice_conc_monthly", "u1", ("tdim", "y", "x"), fill_value=np.uint8(255),
                              zlib=True)
        v.setncatts({"valid_range": np.array([0, 100], np.uint8), "_Unsigned": "true",
                     "scale_factor": np.float32(0.01), "units": "1",
                     "flag_values": np.array([251, 252, 253, 254, 255], np.uint8),
                     "flag_meanings": "pole_hole lakes coastal land_mask missing_data"})
        v.set_auto_maskandscale(False)
        v[:] = codes[None]
        nc.setncatts({"product_version": product_version, "id": "https://doi.org/10.7265/sr8p-kc62"})
    return path


SURFACE_TYPES = {"ocean": 50, "lake": 75, "polehole_mask": 100, "coast": 200, "land": 250}
"""Surface-type codes of the v5/v6 fixture. Only the *meanings* come from the product (NSIDC's
seaice_ecdr code names ``polehole_mask``); the reader maps by meaning, so the numbers are arbitrary."""


def write_v56(path: Path, month: str, codes: np.ndarray, version: int = 5) -> Path:
    """A G02202 v5/v6 monthly file in the documented layout (no real v5/v6 file is at hand).

    Followed: NSIDC's production code nsidc/seaice_ecdr (intermediate_monthly.py, publish_monthly.py):
    dims (time, y, x) with coordinate variables x/y in metres and time in days since 1970-01-01; root
    variables cdr_seaice_conc_monthly (uint8, scale_factor 0.01, _FillValue 255, valid_range 0-100,
    values below 10 % set to 0) and cdr_seaice_conc_monthly_qa_flag; group cdr_supplementary with
    surface_type_mask (flag_values/flag_meanings) and cdr_melt_onset_day_monthly. Non-ocean cells are
    _FillValue in the concentration; the mask says what they are.
    """
    x, y = regrid.polar_stereo_north_coords()
    conc = np.where(codes > 100, 255, np.where(codes < 10, 0, codes)).astype(np.uint8)
    surface = np.full(codes.shape, SURFACE_TYPES["ocean"], dtype=np.uint8)
    for code, meaning in ((251, "polehole_mask"), (252, "lake"), (253, "coast"), (254, "land")):
        surface[codes == code] = SURFACE_TYPES[meaning]
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("y", 448)
        nc.createDimension("x", 304)
        t = nc.createVariable("time", "f8", ("time",))
        t.setncatts({"units": "days since 1970-01-01 00:00:00", "calendar": "standard", "axis": "T"})
        t[:] = [(pd.Timestamp(month) - pd.Timestamp("1970-01-01")).days]
        for name, values in (("x", x), ("y", y)):
            v = nc.createVariable(name, "f8", (name,))
            v.units = "meters"
            v[:] = values
        nc.createVariable("crs", "i4").grid_mapping_name = "polar_stereographic"
        v = nc.createVariable("cdr_seaice_conc_monthly", "u1", ("time", "y", "x"), fill_value=np.uint8(255),
                              zlib=True)
        v.setncatts({"valid_range": np.array([0, 100], np.uint8), "scale_factor": np.float32(0.01),
                     "add_offset": np.float32(0.0), "units": "1", "standard_name": "sea_ice_area_fraction",
                     "grid_mapping": "crs"})
        v.set_auto_maskandscale(False)
        v[:] = conc[None]
        nc.createVariable("cdr_seaice_conc_monthly_qa_flag", "u1", ("time", "y", "x"))[:] = 0
        group = nc.createGroup("cdr_supplementary")
        mask = group.createVariable("surface_type_mask", "u1", ("y", "x"))
        mask.setncatts({"flag_values": np.array(list(SURFACE_TYPES.values()), np.uint8),
                        "flag_meanings": " ".join(SURFACE_TYPES)})
        mask[:] = surface
        group.createVariable("cdr_melt_onset_day_monthly", "u1", ("y", "x"))[:] = 255
        nc.setncatts({"product_version": f"v0{version}r00", "id": catalogue.NSIDC_CDR[version].doi})
    return path


def write_v56_daily(path: Path, day: str, nt_codes: np.ndarray, surface_codes: np.ndarray,
                    version: int = 5) -> Path:
    """A G02202 v5/v6 *daily* file in the documented layout (no real one is at hand).

    Followed: nsidc/seaice_ecdr publish_daily.py (root ``cdr_seaice_conc``; group ``cdr_supplementary``
    with ``raw_bt_seaice_conc``, ``raw_nt_seaice_conc``, ``surface_type_mask``, ``cdr_melt_onset_day``)
    and initial_daily_ecdr.py (``raw_nt_seaice_conc``: "NASA Team sea ice concentration, raw field with
    no masking", uint8 with scale_factor 0.01); the variable list matches the real v6 daily test file
    of stactools-packages/noaa-cdr. ``nt_codes`` are raw uint8 (255 = fill).
    """
    x, y = regrid.polar_stereo_north_coords()
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("y", 448)
        nc.createDimension("x", 304)
        t = nc.createVariable("time", "f8", ("time",))
        t.setncatts({"units": "days since 1970-01-01 00:00:00", "calendar": "standard"})
        t[:] = [(pd.Timestamp(day) - pd.Timestamp("1970-01-01")).days]
        for name, values in (("x", x), ("y", y)):
            nc.createVariable(name, "f8", (name,))[:] = values
        nc.createVariable("cdr_seaice_conc", "u1", ("time", "y", "x"), fill_value=np.uint8(255))[:] = 0
        group = nc.createGroup("cdr_supplementary")
        for name in ("raw_nt_seaice_conc", "raw_bt_seaice_conc"):
            v = group.createVariable(name, "u1", ("time", "y", "x"), fill_value=np.uint8(255))
            v.setncatts({"scale_factor": np.float32(0.01), "standard_name": "sea_ice_area_fraction"})
            v.set_auto_maskandscale(False)
            v[:] = nt_codes[None]
        mask = group.createVariable("surface_type_mask", "u1", ("y", "x"))
        mask.setncatts({"flag_values": np.array(list(SURFACE_TYPES.values()), np.uint8),
                        "flag_meanings": " ".join(SURFACE_TYPES)})
        mask[:] = surface_codes
        group.createVariable("cdr_melt_onset_day", "u1", ("time", "y", "x"))[:] = 255
        nc.setncatts({"product_version": f"v0{version}r00", "id": catalogue.NSIDC_CDR[version].doi})
    return path


def v3_folder(folder: Path, months: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, month in enumerate(months):
        write_v3(folder / f"seaice_conc_monthly_nh_f13_{month.replace('-', '')}_v03r01.nc", [month],
                 [synthetic_codes(i)])
    return folder


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [3, 4])
def test_decoding_gives_fractions_nan_at_flags_and_a_flag_mask(tmp_path: Path, version: int) -> None:
    codes = synthetic_codes()
    path = (write_v3(tmp_path / "v3.nc", ["2007-09"], [codes]) if version == 3
            else write_v4(tmp_path / "v4.nc", "2007-09", codes))
    ds = nsidc.open_cdr(path)
    assert ds.attrs["version"] == version
    assert list(ds.time.values) == [np.datetime64("2007-09-01", "ns")]
    sic, flag = ds.sic.values[0], ds.flag.values[0]
    valid = codes <= 100
    np.testing.assert_allclose(sic[valid], codes[valid] / 100.0, rtol=1e-6)
    assert np.isnan(sic[~valid]).all()
    np.testing.assert_array_equal(flag, np.where(valid, 0, codes))
    assert ds.sic.attrs["units"] == "1" and ds.x.attrs["units"] == "m"


def test_xarray_default_decoding_would_turn_flags_into_concentrations(tmp_path: Path) -> None:
    """Why the reader decodes raw bytes: xarray leaves the v3 flags as SIC 2.51..2.54."""
    path = write_v3(tmp_path / "v3.nc", ["2007-09"], [synthetic_codes()])
    with xr.open_dataset(path) as naive:
        assert float(naive["seaice_conc_monthly_cdr"].max()) > 2.5
    assert float(nsidc.open_cdr(path).sic.max()) <= 1.0


def test_record_file_and_folder_of_single_months_agree(tmp_path: Path) -> None:
    months = ["2012-08", "2012-09", "2012-10"]
    codes = [synthetic_codes(i) for i in range(3)]
    record = write_v3(tmp_path / "record.nc", months, codes)
    folder = v3_folder(tmp_path / "singles", months)
    a, b = nsidc.open_cdr(record), nsidc.open_cdr(folder)
    xr.testing.assert_equal(a.sic, b.sic)
    assert "3 files" not in b.attrs["source_files"] and "f13_201209" in b.attrs["source_files"]
    one = nsidc.open_cdr(record, months=[pd.Timestamp("2012-09-01")])
    xr.testing.assert_equal(one.sic, a.sic.isel(time=[1]))


def test_goddard_merged_variable_on_request(tmp_path: Path) -> None:
    path = write_v3(tmp_path / "v3.nc", ["2007-09"], [synthetic_codes()])
    ds = nsidc.open_cdr(path, variable="goddard_merged_seaice_conc_monthly")
    assert ds.attrs["variable"] == "goddard_merged_seaice_conc_monthly"
    with pytest.raises(nsidc.NSIDCError, match="choose one of"):
        nsidc.open_cdr(path, variable="cdr_seaice_conc_monthly")


def test_clear_errors_for_wrong_files_versions_and_months(tmp_path: Path) -> None:
    other = tmp_path / "other.nc"
    xr.Dataset({"tas": (("y", "x"), np.zeros((2, 2)))}).to_netcdf(other)
    with pytest.raises(nsidc.NotNSIDCFileError, match="not an NSIDC"):
        nsidc.open_cdr(other)
    v7 = write_v4(tmp_path / "v7.nc", "2021-12", synthetic_codes(), product_version="v07r00")
    with pytest.raises(nsidc.UnknownVersionError, match="v07r00"):
        nsidc.open_cdr(v7)
    v3 = write_v3(tmp_path / "v3.nc", ["2007-09"], [synthetic_codes()])
    with pytest.raises(nsidc.UnknownVersionError, match="version=4"):
        nsidc.open_cdr(v3, version=4)
    with pytest.raises(nsidc.MissingMonthError, match="cover 2007-09"):
        nsidc.open_cdr(v3, months=[pd.Timestamp("2008-09-01")])
    garbage = tmp_path / "garbage.nc"
    garbage.write_bytes(b"not netcdf")
    with pytest.raises(nsidc.NotNSIDCFileError, match="re-download"):
        nsidc.open_cdr(garbage)


@pytest.mark.parametrize("version", [5, 6])
def test_v5_v6_monthly_files_decode_like_v4(tmp_path: Path, version: int) -> None:
    codes = synthetic_codes()
    name = f"sic_psn25_202109_F17_v0{version}r00.nc"
    assert catalogue.NSIDC_CDR[version].file_pattern.fullmatch(name)
    path = write_v56(tmp_path / name, "2021-09", codes, version)
    ds = nsidc.open_cdr(path)
    assert ds.attrs["version"] == version
    flag = ds.flag.values[0][::-1] if ds.y.values[0] < ds.y.values[-1] else ds.flag.values[0]
    for code in (251, 252, 253, 254):
        assert (flag[codes == code] == code).all()
    sic = ds.sic.values[0]
    ocean = codes <= 100
    expected = np.where(codes[ocean] < 10, 0, codes[ocean]) / 100
    np.testing.assert_allclose(sic[ocean], expected, atol=1e-6)
    with pytest.raises(nsidc.NSIDCError, match="only in the daily files"):
        nsidc.open_cdr(path, variable="raw_nt_seaice_conc")


def test_v5_nasa_team_is_the_monthly_mean_of_the_daily_raw_field(tmp_path: Path,
                                                                  isolated_cache: Path) -> None:
    codes = synthetic_codes()
    surface = np.full(codes.shape, SURFACE_TYPES["ocean"], dtype=np.uint8)
    for code, meaning in ((251, "polehole_mask"), (252, "lake"), (253, "coast"), (254, "land")):
        surface[codes == code] = SURFACE_TYPES[meaning]
    ocean = codes <= 100
    day1 = np.where(ocean, 50, 255).astype(np.uint8)
    day1[codes == 254] = 80  # the raw field is unmasked: values over land must not count
    day2 = np.where(ocean, 70, 255).astype(np.uint8)
    day2[300, 150] = 120  # raw NASA Team above 100 % counts as 100 %
    day2[301, 150] = 255  # a day without a value: the mean is over the other day
    folder = tmp_path / "daily"
    folder.mkdir()
    for day, nt in (("2013-09-01", day1), ("2013-09-02", day2)):
        write_v56_daily(folder / f"sic_psn25_{day.replace('-', '')}_F17_v05r00.nc", day, nt, surface)
    ds = nsidc.open_nasa_team(folder)
    sic, flag = ds.sic.values[0], ds.flag.values[0]
    assert ds.attrs["version"] == 5 and "raw_nt_seaice_conc" in ds.attrs["variable"]
    assert np.isclose(sic[300, 150], (0.5 + 1.0) / 2) and np.isclose(sic[301, 150], 0.5)
    inner = ocean.copy()
    inner[300:302, 150] = False
    np.testing.assert_allclose(sic[inner], 0.6, atol=1e-6)
    for code in (251, 252, 253, 254):
        assert (flag[codes == code] == code).all()
    on_grid = nsidc.load_nasa_team(200, folder)
    assert on_grid.attrs["observed"] == "true" and "Version 5" in on_grid.attrs["source"]
    assert np.isfinite(on_grid.siconca.values[0][~on_grid.land.values]).all()
    monthly = write_v56(tmp_path / "sic_psn25_201309_F17_v05r00.nc", "2013-09", codes)
    with pytest.raises(nsidc.NSIDCError, match="load_nasa_team"):
        nsidc.open_cdr(monthly, variable="raw_nt_seaice_conc")
    with pytest.raises(nsidc.MissingMonthError, match="2013-09"):
        nsidc.open_nasa_team(folder, months=[pd.Timestamp("2013-10-01")])


def test_folder_mixing_versions_needs_a_choice(tmp_path: Path) -> None:
    write_v3(tmp_path / "a_v3.nc", ["2007-09"], [synthetic_codes()])
    write_v4(tmp_path / "b_v4.nc", "2021-12", synthetic_codes())
    with pytest.raises(nsidc.NSIDCError, match="mix CDR versions"):
        nsidc.open_cdr(tmp_path)
    assert nsidc.open_cdr(tmp_path, version=4).attrs["version"] == 4


# ---------------------------------------------------------------------------------------------
# load(): schema, coverage, gaps, cache
# ---------------------------------------------------------------------------------------------

def test_load_builds_the_schema_with_siconca_only(tmp_path: Path, isolated_cache: Path) -> None:
    folder = v3_folder(tmp_path / "nsidc", ["2012-08", "2012-09"])
    ds = load_dataset("nsidc", resolution_km=200, start="2012-08", end="2012-09", path=folder)
    assert list(ds.data_vars) == ["siconca"] and ds.sizes == {"time": 2, "y": 54, "x": 54}
    assert ds.attrs["data_source"] == "nsidc"
    assert "G02202" in ds.attrs["source"] and "10.7265/N59P2ZTG" in ds.attrs["source"]
    assert "seaice_conc_monthly_nh_f13_201209_v03r01.nc" in ds.attrs["source"]
    assert np.isnan(ds.siconca.values[:, ds.land.values]).all()
    assert list((isolated_cache / "nsidc").glob("*.nc"))


def test_load_outside_coverage_lists_the_coverage(tmp_path: Path, isolated_cache: Path) -> None:
    folder = v3_folder(tmp_path / "nsidc", ["2012-08", "2012-09"])
    with pytest.raises(nsidc.MissingMonthError, match=r"cover only 2012-08\.\.2012-09"):
        nsidc.load(200, "2012-01", "2012-09", path=folder)


def test_gaps_keep_the_longest_run_with_a_warning_or_raise(tmp_path: Path, isolated_cache: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = v3_folder(tmp_path / "nsidc", ["2012-01", "2012-03", "2012-04", "2012-05"])
    monkeypatch.setenv(nsidc.NSIDC_DIR_ENV, str(folder))
    with pytest.warns(nsidc.NSIDCGapWarning, match="lack 2012-02"):
        ds = nsidc.load(200, "2012-01", "2012-05")
    assert [f"{t:%Y-%m}" for t in pd.DatetimeIndex(ds.time.values)] == ["2012-03", "2012-04", "2012-05"]
    with pytest.raises(nsidc.MissingMonthError, match="2012-02"):
        nsidc.load(200, "2012-01", "2012-05", gaps="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error", nsidc.NSIDCGapWarning)  # no period asked: no warning
        whole = nsidc.load(200)
    xr.testing.assert_identical(whole.siconca, ds.siconca)


def test_consecutive_run_prefers_the_latest_on_a_tie() -> None:
    requested = pd.date_range("2000-01-01", periods=6, freq="MS")
    run = nsidc.consecutive_run(requested, requested[[0, 1, 3, 4]])
    assert list(run) == list(requested[[3, 4]])


# ---------------------------------------------------------------------------------------------
# Download from a local archive that looks like NSIDC's (platform changes between months)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "archive"
    root.mkdir()
    write_v4(root / "seaice_conc_monthly_nh_200712_f13_v04r00.nc", "2007-12", synthetic_codes(1))
    write_v4(root / "seaice_conc_monthly_nh_200801_f17_v04r00.nc", "2008-01", synthetic_codes(2))
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    httpd.shutdown()
    httpd.server_close()


def test_download_finds_platform_codes_in_the_listing(archive: tuple[str, Path], tmp_path: Path,
                                                      isolated_cache: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, root = archive
    cache = tmp_path / "mine"
    paths = nsidc.download("2007-12", "2008-01", cache_dir=cache, base_url=url, backoff_s=0)
    assert "NSIDC G02202 v4 monthly files" in capsys.readouterr().err  # the download's progress
    assert [p.name for p in paths] == ["seaice_conc_monthly_nh_200712_f13_v04r00.nc",
                                       "seaice_conc_monthly_nh_200801_f17_v04r00.nc"]
    assert ChecksumRegistry(cache).get(paths[0].name) is not None
    # offline re-use: the archive can vanish, the verified files are used as they are
    for f in root.iterdir():
        f.unlink()
    assert nsidc.download("2007-12", "2008-01", cache_dir=cache, base_url=url, backoff_s=0) == paths
    ds = nsidc.load(200, "2007-12", "2008-01", path=cache)
    assert ds.sizes["time"] == 2 and "10.7265/sr8p-kc62" in ds.attrs["source"]


def test_download_of_months_the_archive_lacks_says_what_it_has(archive: tuple[str, Path],
                                                               tmp_path: Path) -> None:
    url, _ = archive
    with pytest.raises(nsidc.MissingMonthError, match=r"2008-02.*lists 2007-12\.\.2008-01"):
        nsidc.download("2008-01", "2008-02", cache_dir=tmp_path / "c", base_url=url, backoff_s=0)
    assert not list((tmp_path / "c").glob("*.nc"))


def test_download_can_skip_months_the_archive_lacks(archive: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = archive
    with pytest.warns(nsidc.NSIDCGapWarning, match="lacks 2008-02"):
        paths = nsidc.download("2007-12", "2008-02", cache_dir=tmp_path / "c", base_url=url, backoff_s=0,
                               skip_absent=True)
    assert [p.name[23:29] for p in paths] == ["200712", "200801"]


def test_load_downloads_into_the_default_folder_only(archive: tuple[str, Path], tmp_path: Path,
                                                     isolated_cache: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With no path and no $ICEGRAD_NSIDC_DIR, load() reads the embedded record when it serves the request
    and otherwise fetches the period first; with $ICEGRAD_NSIDC_DIR it never downloads."""
    url, _ = archive
    calls = []
    real_download = nsidc.download

    def mirror(start: str, end: str, version: int = 4, **kw: object) -> list[Path]:
        calls.append((start, end, version))
        return real_download(start, end, version, base_url=url, backoff_s=0, **kw)

    monkeypatch.delenv(nsidc.NSIDC_DIR_ENV, raising=False)
    monkeypatch.setattr(nsidc, "download", mirror)
    embedded = nsidc.load(200, "2007-12", "2008-01")
    assert calls == [] and embedded.attrs["observed"] == "true" and "embedded" in embedded.attrs["title"]
    ds = nsidc.load(200, "2007-12", "2008-01", version=4)
    assert calls == [("2007-12", "2008-01", 4)] and ds.sizes["time"] == 2
    assert (isolated_cache / "nsidc" / "G02202_V4" / "seaice_conc_monthly_nh_200712_f13_v04r00.nc").exists()
    monkeypatch.setenv(nsidc.NSIDC_DIR_ENV, str(isolated_cache / "nsidc" / "G02202_V4"))
    nsidc.load(200, "2007-12", "2008-01", version=4)
    assert len(calls) == 1


def test_download_rejects_a_file_of_the_wrong_product(archive: tuple[str, Path], tmp_path: Path) -> None:
    url, root = archive
    bad = root / "seaice_conc_monthly_nh_200802_f17_v04r00.nc"
    xr.Dataset({"tas": (("y", "x"), np.zeros((2, 2)))}).to_netcdf(bad)
    with pytest.raises(DownloadError, match="not the expected product"):
        nsidc.download("2008-02", "2008-02", cache_dir=tmp_path / "c", base_url=url, retries=0, backoff_s=0)
    assert not (tmp_path / "c" / bad.name).exists()


# ---------------------------------------------------------------------------------------------
# The real files in ../shared
# ---------------------------------------------------------------------------------------------

def real(shared_reference: Path, name: str) -> Path:
    path = shared_reference / "real_files" / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


SEPTEMBERS = pd.to_datetime(["2007-09-01", "2012-09-01", "2013-09-01"])


@pytest.fixture(scope="module")
def real_septembers(shared_reference: Path) -> xr.Dataset:
    return nsidc.open_cdr(real(shared_reference, V3_RECORD), months=SEPTEMBERS)


def test_real_v3_record_decodes_to_the_documented_counts(real_septembers: xr.Dataset) -> None:
    """Counts from the README of ../shared/reference/real_files (raw integers >= 15, pole hole)."""
    raw = np.round(real_septembers.sic.values * 100)
    assert [int((raw[i] >= 15).sum()) for i in range(3)] == [6972, 6565, 9127]
    assert [int((real_septembers.flag.values[i] == 251).sum()) for i in range(3)] == [468, 44, 44]
    assert [int((real_septembers.flag.values[i] == 254).sum()) for i in range(3)] == [63212] * 3
    assert real_septembers.attrs["doi"] == "10.7265/N59P2ZTG"


def test_real_v4_monthly_and_daily(shared_reference: Path) -> None:
    ds = nsidc.open_cdr(real(shared_reference, V4_MONTHLY))
    assert ds.attrs["version"] == 4 and ds.attrs["doi"] == "10.7265/sr8p-kc62"
    assert list(ds.time.values) == [np.datetime64("2021-12-01", "ns")]
    assert float(ds.sic.max()) <= 1.0 and set(np.unique(ds.flag.values)) <= {0, 251, 252, 253, 254, 255}
    winter_extent = sea_ice_extent(regrid.ps_to_ease2(ds.sic, ds.flag, 25)).item()
    assert 10.0 < winter_extent < 14.5  # December: roughly 12 million km2 in the 2020s
    with pytest.raises(nsidc.NotNSIDCFileError, match="daily"):
        nsidc.open_cdr(real(shared_reference, V4_DAILY))


def native_extent(native: xr.Dataset) -> np.ndarray:
    """Independent extent on the polar stereographic grid: true cell areas, raw >= 15 %, pole = ice."""
    xx, yy = np.meshgrid(native.x.values, native.y.values)
    proj = pyproj.Proj(regrid.NSIDC_NORTH_EPSG)
    lon, lat = proj(xx, yy, inverse=True)
    area = 625.0 / proj.get_factors(lon, lat).areal_scale
    ice = (np.round(native.sic.values * 100) >= 15) | (native.flag.values == regrid.POLE_HOLE_FLAG)
    return (ice * area).sum(axis=(1, 2)) / 1e6


def sea_ice_index_september(shared_reference: Path) -> pd.Series:
    """September extents of the Sea Ice Index: the shared files are version 3, whose values the current
    version 4 (catalogue.SEA_ICE_INDEX) keeps unchanged before 2025."""
    assert catalogue.SEA_ICE_INDEX.version == 4 and "before 2025" in catalogue.SEA_ICE_INDEX.note
    path = shared_reference / "nsidc_sea_ice_index_v3" / "north" / "N_09_extent_v3.0.csv"
    table = pd.read_csv(path, skipinitialspace=True)
    return table.set_index("year")["extent"].replace(-9999, np.nan)


@pytest.fixture(scope="module")
def real_ease2(real_septembers: xr.Dataset) -> np.ndarray:
    return sea_ice_extent(regrid.ps_to_ease2(real_septembers.sic, real_septembers.flag, 25)).values


def test_regridding_preserves_the_real_september_extents(real_septembers: xr.Dataset,
                                                         real_ease2: np.ndarray) -> None:
    np.testing.assert_allclose(real_ease2, native_extent(real_septembers), atol=0.1)
    e2007, e2012, e2013 = real_ease2
    assert e2012 < e2007 < e2013


def test_real_september_changes_match_the_sea_ice_index(shared_reference: Path,
                                                        real_ease2: np.ndarray) -> None:
    """Year-to-year changes agree with the Sea Ice Index within 0.3 million km2."""
    sii = sea_ice_index_september(shared_reference).loc[[2007, 2012, 2013]].to_numpy()
    np.testing.assert_allclose(np.diff(real_ease2), np.diff(sii), atol=0.3)
    np.testing.assert_allclose(real_ease2[2] - real_ease2[0], sii[2] - sii[0], atol=0.3)


def test_regridding_adds_little_extent_in_any_season(shared_reference: Path) -> None:
    """Every month of 2012-2013: EASE2 extent minus native-grid extent stays in [0, 0.25] million km2.

    The excess is NSIDC's coast-flagged cells that icegrad's coastline calls ocean (filled from their
    neighbours). Before ocean outside the NSIDC grid was set to open water, winter ice was copied
    across the Black and Caspian seas and this difference reached 1.8 million km2 in winter.
    """
    months = pd.date_range("2012-01-01", "2013-12-01", freq="MS")
    native = nsidc.open_cdr(real(shared_reference, V3_RECORD), months=months)
    excess = sea_ice_extent(regrid.ps_to_ease2(native.sic, native.flag, 25)).values - native_extent(native)
    assert excess.min() >= 0.0 and excess.max() <= 0.25, np.round(excess, 3)


def test_v4_nasa_team_field_is_read_and_never_exceeds_the_cdr_much(shared_reference: Path) -> None:
    """The CDR takes the larger of NASA Team and Bootstrap per cell, so NASA Team (the Sea Ice Index's
    algorithm) is at most the CDR almost everywhere; both share one flag layout."""
    path = real(shared_reference, V4_MONTHLY)
    cdr, team = nsidc.open_cdr(path), nsidc.open_cdr(path, variable=nsidc.NASA_TEAM_VARIABLE)
    assert team.attrs["variable"] == nsidc.NASA_TEAM_VARIABLE
    np.testing.assert_array_equal(team.flag.values, cdr.flag.values)
    both = np.isfinite(cdr.sic.values)
    assert (team.sic.values[both] <= cdr.sic.values[both] + 1e-6).mean() > 0.95
    assert sea_ice_area_native(team) < sea_ice_area_native(cdr)
    with pytest.raises(nsidc.NSIDCError, match="choose one of"):
        nsidc.open_cdr(real(shared_reference, V3_RECORD), variable=nsidc.NASA_TEAM_VARIABLE,
                       months=SEPTEMBERS[:1])


def sea_ice_area_native(native: xr.Dataset) -> float:
    return float(np.nansum(native.sic.values))


@pytest.mark.xfail(strict=True, reason=(
    "Product difference, not a bug: the CDR takes the larger of NASA Team and Bootstrap per cell, the "
    "Sea Ice Index uses NASA Team alone. On the native grid with true cell areas and the pole hole as "
    "ice the CDR gives 4.86/4.32/5.97 vs 4.27/3.57/5.21 million km2 (2007/2012/2013); regridding adds "
    "only 0.03-0.05. The CDR's ice AREA exceeds the index's in every month of 1989-2017 (by 0.5-1.6), "
    "winter included, as Bootstrap's higher pack-ice concentrations would. The v3 record has no NASA "
    "Team field for these months (v4 files do: variable=nsidc.NASA_TEAM_VARIABLE); its Goddard merged "
    "field gives 4.61/3.91/5.74, also 0.34-0.53 above the index."))
def test_real_september_extents_within_0_3_of_the_sea_ice_index(shared_reference: Path,
                                                               real_ease2: np.ndarray) -> None:
    sii = sea_ice_index_september(shared_reference).loc[[2007, 2012, 2013]].to_numpy()
    np.testing.assert_allclose(real_ease2, sii, atol=0.3)


def test_nasa_team_september_extents_within_0_3_of_the_sea_ice_index(shared_reference: Path) -> None:
    """The absolute check on the index's own algorithm, where version-4 files for the three Septembers
    have been downloaded (``nsidc.download(m, m)`` for 2007-09, 2012-09 and 2013-09 into
    :func:`nsidc.default_folder`, or ``ICEGRAD_NSIDC_DIR``). The shared record is the CDR, whose
    larger-of-two-algorithms field cannot meet it (the strict xfail above); without network the
    NASA Team files are not at hand and this test skips, naming the command that fetches them."""
    folder = nsidc.default_folder(4)
    try:
        team = nsidc.open_cdr(folder, version=4, variable=nsidc.NASA_TEAM_VARIABLE, months=SEPTEMBERS)
    except (nsidc.NotNSIDCFileError, nsidc.UnknownVersionError):
        raise  # files are there but wrong: that must fail, not skip
    except nsidc.NSIDCError as err:
        pytest.skip(f"no NASA Team Septembers in {folder} ({err}); fetch them with: python -c \"from "
                    "icegrad.data import nsidc; [nsidc.download(m, m) for m in ('2007-09', '2012-09', "
                    "'2013-09')]\"")
    extents = sea_ice_extent(regrid.ps_to_ease2(team.sic, team.flag, 25)).values
    sii = sea_ice_index_september(shared_reference).loc[[2007, 2012, 2013]].to_numpy()
    np.testing.assert_allclose(extents, sii, atol=0.3)


@pytest.mark.slow
def test_whole_real_v3_record_loads_at_25km(shared_reference: Path, isolated_cache: Path) -> None:
    path = real(shared_reference, V3_RECORD)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = nsidc.load(25, "1987-09", "2017-12", path=path)
    assert any(issubclass(w.category, nsidc.NSIDCGapWarning) for w in caught)
    assert ds.sizes["time"] == 348 and f"{pd.Timestamp(ds.time.values[0]):%Y-%m}" == "1989-01"
    sept = sea_ice_extent(ds.siconca.sel(time=ds.time.dt.month == 9))
    assert int(sept.idxmin().dt.year) == 2012
    with pytest.warns(nsidc.NSIDCGapWarning):  # the warning is repeated when the cache answers
        cached = nsidc.load(25, "1987-09", "2017-12", path=path)
    xr.testing.assert_identical(cached.siconca, ds.siconca)
