"""OSI SAF readers, monthly means and downloads, on files written here in the real OSI-450 structure and
served by a local HTTP server that fails on purpose (127.0.0.1 only)."""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import grid
from icegrad.data import load_dataset, osisaf
from icegrad.data.download import ChecksumMismatchError, DownloadError
from icegrad.data.land import land_mask

EPOCH = pd.Timestamp("1978-01-01")
LAND = np.asarray(land_mask(25).values)
LAT = grid.ease2_grid(25)["lat"].values
# A coastline that differs from icegrad's: OSI calls some icegrad sea cells land (one row of the
# Natural Earth coast, shifted), as two land masks of different origin do.
OSI_LAND = LAND | np.roll(LAND, 1, axis=0)
OSI_LAKE = np.zeros_like(LAND)
OSI_LAKE[300:302, 300:302] = ~LAND[300:302, 300:302]


def daily_percent(day: pd.Timestamp) -> np.ndarray:
    """A plausible SIC field in percent: ice north of a latitude that moves with the day of year."""
    edge = 70.0 + 8.0 * np.cos(2 * np.pi * (day.day_of_year - 60) / 365.25)
    return np.clip((LAT - edge) * 20.0 + day.day * 0.5, 0.0, 100.0)


def write_osisaf(path: Path, time: pd.Timestamp, percent: np.ndarray, *, kind: str = "cdr",
                 bounds_days: int = 1, xc_km: np.ndarray | None = None, origin: float = 90.0) -> Path:
    """A file with the structure of OSI-450 ``ice_conc_nh_ease2-250_cdr-v2p0_*.nc`` (one time step).

    The same structure serves the v3p0 (OSI-450-a / OSI-430-a) fixtures: no real v3p0 file is at hand,
    and OSI SAF's v3p0 description (https://osisaf-hl.met.no/osi-450a-430a-desc) keeps the v2p0 daily
    product (``ice_conc`` in %, ``status_flag``, ``xc``/``yc`` in km on EASE2 25 km); the v3p0 fixtures
    differ in their file names only. The reader takes the land and lake bits from the file's own
    ``flag_meanings``, so a renumbered ``status_flag`` would still be read correctly.

    ``percent`` may hold NaN (written as _FillValue); land and lake cells get the fill value and their
    status_flag bits, as in the real files.
    """
    x = grid.cell_centres_m(25) / 1000.0 if xc_km is None else xc_km
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 1)
        nc.createDimension("nv", 2)
        nc.createDimension("xc", x.size)
        nc.createDimension("yc", x.size)
        crs = nc.createVariable("Lambert_Azimuthal_Grid", "i4")
        crs.setncatts({"grid_mapping_name": "lambert_azimuthal_equal_area",
                       "longitude_of_projection_origin": 0.0, "latitude_of_projection_origin": origin,
                       "false_easting": 0.0, "false_northing": 0.0, "semi_major_axis": 6378137.0,
                       "inverse_flattening": 298.257223563,
                       "proj4_string": "+proj=laea +lon_0=0 +datum=WGS84 +ellps=WGS84 +lat_0=90.0"})
        t = nc.createVariable("time", "f8", ("time",))
        t.setncatts({"units": "seconds since 1978-01-01 00:00:00", "calendar": "standard",
                     "long_name": "reference time of product", "axis": "T", "bounds": "time_bnds"})
        t[:] = [(time - EPOCH).total_seconds()]
        tb = nc.createVariable("time_bnds", "f8", ("time", "nv"))
        start = time.normalize() if bounds_days == 1 else time.to_period("M").to_timestamp()
        tb[:] = [[(start - EPOCH).total_seconds(),
                  (start + pd.Timedelta(days=bounds_days) - EPOCH).total_seconds()]]
        for name, values, axis in (("xc", x, "X"), ("yc", x[::-1], "Y")):
            v = nc.createVariable(name, "f8", (name,))
            v.setncatts({"units": "km", "axis": axis,
                         "standard_name": f"projection_{axis.lower()}_coordinate"})
            v[:] = values
        g = grid.ease2_grid(25) if xc_km is None else None
        for name in ("lat", "lon"):
            v = nc.createVariable(name, "f4", ("yc", "xc"))
            v.units = "degrees_north" if name == "lat" else "degrees_east"
            v[:] = g[name].values if g is not None else np.zeros((x.size, x.size))
        conc = nc.createVariable("ice_conc", "i4", ("time", "yc", "xc"), fill_value=np.int32(-32767),
                                 zlib=True)
        conc.setncatts({"units": "%", "long_name": "fully filtered concentration of sea ice using "
                        "atmospheric correction of brightness temperatures and open water filters",
                        "standard_name": "sea_ice_area_fraction", "scale_factor": np.float32(0.01),
                        "valid_min": np.int32(0), "valid_max": np.int32(10000),
                        "grid_mapping": "Lambert_Azimuthal_Grid", "coordinates": "time lat lon",
                        "ancillary_variables": "total_standard_error status_flag"})
        flags = nc.createVariable("status_flag", "i1", ("time", "yc", "xc"), zlib=True)
        flags.setncatts({"flag_masks": np.array([1, 2, 4, 8, 16, 32, 64, -128], np.int8),
                         "flag_meanings": "land lake open_water_filtered land_spill_over high_t2m "
                                          "spatial_interp temporal_interp max_ice_climo",
                         "long_name": "status flag bit array for sea ice concentration retrievals"})
        sic = np.array(percent, dtype=np.float64)
        if sic.shape == (432, 432):
            sic[OSI_LAND | OSI_LAKE] = np.nan
            status = np.where(OSI_LAND, 1, np.where(OSI_LAKE, 2, np.where(sic == 0, 4, 0))).astype(np.int8)
            status[200:210, 200:210] |= 32  # spatially interpolated cells (near the pole): still data
        else:
            status = np.zeros(sic.shape, np.int8)
        conc.set_auto_maskandscale(False)
        conc[0] = np.where(np.isfinite(sic), np.round(sic * 100), -32767).astype(np.int32)
        flags[0] = status
        nc.setncatts({"title": "Sea Ice Concentration Climate Data Record", "product_id": "OSI-450",
                      "product_name": "osi_saf_ice_conc_cdr", "Conventions": "CF-1.6"})
    return path


def daily_name(day: pd.Timestamp, kind: str = "cdr", version: str = osisaf.DEFAULT_VERSION) -> str:
    return f"ice_conc_nh_ease2-250_{kind}-{version}_{day:%Y%m%d}1200.nc"


def write_days(folder: Path, days: list[str], kind: str = "cdr") -> list[Path]:
    out = []
    for d in pd.DatetimeIndex(days):
        noon = d + pd.Timedelta(hours=12)
        out.append(write_osisaf(folder / f"{d:%Y}" / f"{d:%m}" / daily_name(d, kind), noon, daily_percent(d)))
    return out


def expected_mean(days: list[str]) -> np.ndarray:
    """What the documented rules give on icegrad's sea cells that OSI also calls sea."""
    return np.mean([daily_percent(d) for d in pd.DatetimeIndex(days)], axis=0) / 100.0


JAN = ["2007-01-03", "2007-01-04", "2007-01-20"]
FEB = ["2007-02-01", "2007-02-14", "2007-02-15"]


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("osisaf")
    write_days(folder, JAN + FEB)
    return folder


@pytest.fixture(scope="module")
def loaded_25km(two_months: Path, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", osisaf.OSISAFMissingDaysWarning)
            return osisaf.load(25, "2007-01", "2007-02", path=two_months, min_days=3)


# ---------------------------------------------------------------------------------------------
# Monthly means on files in the real structure
# ---------------------------------------------------------------------------------------------

def test_monthly_mean_is_the_mean_of_the_days_as_a_fraction(loaded_25km: xr.Dataset) -> None:
    sea_both = ~OSI_LAND & ~OSI_LAKE & ~LAND
    for month, days in (("2007-01", JAN), ("2007-02", FEB)):
        got = loaded_25km["siconca"].sel(time=month).values[0]
        np.testing.assert_allclose(got[sea_both], expected_mean(days)[sea_both], atol=1e-4)
    assert loaded_25km.attrs["data_source"] == "osisaf"
    assert "OSI-450-a" in loaded_25km.attrs["source"]  # the files' names say v3p0, the catalogue the DOI
    assert "10.15770/EUM_SAF_OSI_0013" in loaded_25km.attrs["source"]


def test_land_is_nan_and_osi_only_land_or_lake_is_filled(loaded_25km: xr.Dataset) -> None:
    values = loaded_25km["siconca"].values
    assert np.isnan(values[:, LAND]).all()
    filled = (OSI_LAND | OSI_LAKE) & ~LAND
    assert filled.sum() > 100
    assert np.isfinite(values[:, filled]).all()
    assert ((values[np.isfinite(values)] >= 0) & (values[np.isfinite(values)] <= 1)).all()


def test_missing_days_are_warned_listed_and_repeated_on_cache_hits(two_months: Path,
                                                                    isolated_cache: Path) -> None:
    for _ in range(2):  # the second call is a cache hit
        with pytest.warns(osisaf.OSISAFMissingDaysWarning, match="2007-01-01..2007-01-02"):
            ds = osisaf.load(200, "2007-01", "2007-01", path=two_months, min_days=3)
    assert ds.attrs["missing_days"].startswith("2007-01-01..2007-01-02, 2007-01-05..2007-01-19")
    assert len(list((isolated_cache / "osisaf").glob("*.nc"))) == 1


def test_a_month_with_too_few_days_is_an_error_naming_it(two_months: Path, isolated_cache: Path) -> None:
    with pytest.raises(osisaf.MissingMonthError, match=r"2007-02 \(3 daily files\)"):
        osisaf.load(100, "2007-01", "2007-02", path=two_months, min_days=4)
    with pytest.raises(osisaf.MissingMonthError, match=r"2007-03 \(0 daily files\)"):
        osisaf.load(100, "2007-02", "2007-03", path=two_months, min_days=3)


def test_nan_days_in_a_sea_cell_use_the_other_days_or_fail(tmp_path: Path, isolated_cache: Path) -> None:
    days = pd.DatetimeIndex(["1990-03-01", "1990-03-02", "1990-03-03"])
    for i, d in enumerate(days):
        field = daily_percent(d)
        field[216, 216] = np.nan if i == 0 else field[216, 216]  # one missing day at the pole
        field[230, 230] = np.nan if i < 2 else field[230, 230]  # two missing days elsewhere
        write_osisaf(tmp_path / daily_name(d), d + pd.Timedelta(hours=12), field)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", osisaf.OSISAFMissingDaysWarning)
        ds = osisaf.load(25, "1990-03", "1990-03", path=tmp_path, min_days=1)
        np.testing.assert_allclose(ds["siconca"].values[0, 216, 216],
                                   np.mean([daily_percent(d)[216, 216] for d in days[1:]]) / 100, atol=1e-4)
        with pytest.raises(osisaf.MissingMonthError, match=r"1990-03: 1 sea cell\(s\) have data on fewer "):
            osisaf.load(25, "1990-03", "1990-03", path=tmp_path, min_days=2)


def test_coarser_grids_are_block_means_of_the_25km_field(two_months: Path, loaded_25km: xr.Dataset,
                                                         isolated_cache: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", osisaf.OSISAFMissingDaysWarning)
        coarse = osisaf.load(100, "2007-01", "2007-02", path=two_months, min_days=3)
    expected = grid.coarsen(loaded_25km["siconca"], 100).where(~land_mask(100).values)
    np.testing.assert_allclose(coarse["siconca"].values, expected.values, atol=1e-6)
    assert "block-averaged to 100 km" in coarse["siconca"].attrs["comment"]


def test_osisaf_monthly_files_are_read_when_no_daily_files(tmp_path: Path, isolated_cache: Path) -> None:
    field = daily_percent(pd.Timestamp("2016-09-15"))
    write_osisaf(tmp_path / "ice_conc_nh_ease2-250_icdr-v2p0_201609.nc", pd.Timestamp("2016-09-16"), field,
                 bounds_days=30)
    ds = osisaf.load(25, "2016-09", "2016-09", path=tmp_path)
    sea = ~OSI_LAND & ~OSI_LAKE & ~LAND
    np.testing.assert_allclose(ds["siconca"].values[0][sea], field[sea] / 100, atol=1e-4)
    assert ds.attrs["monthly_files_used_for"] == "2016-09"
    assert "OSI-430-b" in ds.attrs["source"] and "EUM_SAF_OSI_NRT_2008" in ds.attrs["source"]


def test_files_off_the_ease2_25km_grid_or_southern_are_refused(tmp_path: Path) -> None:
    day = pd.Timestamp("2000-01-01T12")
    shifted = grid.cell_centres_m(25) / 1000.0 + 12.5
    bad = write_osisaf(tmp_path / "a" / daily_name(day), day, daily_percent(day), xc_km=shifted)
    with pytest.raises(osisaf.NotOSISAFFileError, match=r"not the EASE-Grid 2\.0 North 25 km cell centres"):
        osisaf.check_file(bad)
    small = write_osisaf(tmp_path / "b" / daily_name(day), day, np.zeros((216, 216)),
                         xc_km=grid.cell_centres_m(50) / 1000.0)
    with pytest.raises(osisaf.NotOSISAFFileError, match="got 216 x 216"):
        osisaf.check_file(small)
    south = write_osisaf(tmp_path / "c" / daily_name(day), day, daily_percent(day), origin=-90.0)
    with pytest.raises(osisaf.NotOSISAFFileError, match="southern"):
        osisaf.check_file(south)
    junk = tmp_path / "d" / daily_name(day)
    junk.parent.mkdir()
    junk.write_bytes(b"<html>Service unavailable</html>")
    with pytest.raises(osisaf.NotOSISAFFileError, match="not a netCDF file"):
        osisaf.check_file(junk)


def test_products_file_names_and_urls() -> None:
    osi450 = osisaf.product_for(pd.Timestamp("2015-12-01"), "v2p0")
    osi430b = osisaf.product_for(pd.Timestamp("2016-01-01"), "v2p0")
    assert osi450.url("https://host/base/", pd.Timestamp("2015-12-31")) == (
        "https://host/base/reprocessed/ice/conc/v2p0/2015/12/ice_conc_nh_ease2-250_cdr-v2p0_201512311200.nc")
    assert osi430b.url("https://host/base", pd.Timestamp("2016-01-01")) == (
        "https://host/base/reprocessed/ice/conc-cont-reproc/v2p0/2016/01/"
        "ice_conc_nh_ease2-250_icdr-v2p0_201601011200.nc")
    with pytest.raises(osisaf.MissingMonthError, match="1978-12 is outside the OSI-450 \\+ OSI-430-b"):
        osisaf.product_for(pd.Timestamp("1978-12-01"), "v2p0")
    assert osisaf.product_for(pd.Timestamp("1978-12-01")).name == "OSI-450-a"
    assert osisaf.product_for(pd.Timestamp("2026-11-01")).name == "OSI-430-a"
    with pytest.raises(osisaf.MissingMonthError, match="1978-09 is outside the OSI-450-a \\+ OSI-430-a"):
        osisaf.product_for(pd.Timestamp("1978-09-01"))
    with pytest.raises(osisaf.OSISAFError, match="choose one of"):
        osisaf.products("v1p2")


def test_mixed_versions_are_refused(tmp_path: Path) -> None:
    names = [tmp_path / "ice_conc_nh_ease2-250_cdr-v2p0_200001011200.nc",
             tmp_path / "ice_conc_nh_ease2-250_cdr-v3p0_200001021200.nc"]
    with pytest.raises(osisaf.OSISAFError, match="mix OSI SAF CDR versions"):
        osisaf.index_files(names)


def test_load_dataset_osisaf_validates_against_the_schema(two_months: Path, isolated_cache: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", osisaf.OSISAFMissingDaysWarning)
        ds = load_dataset("osisaf", resolution_km=200, start="2007-01", end="2007-02", path=two_months,
                          min_days=3)
    assert list(ds.data_vars) == ["siconca"] and ds.sizes == {"time": 2, "y": 54, "x": 54}


# ---------------------------------------------------------------------------------------------
# Downloads against a local server that misbehaves on purpose
# ---------------------------------------------------------------------------------------------

class Archive:
    """Serves ``files`` by URL path; ``plan[path]`` lists behaviours of successive requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.plan: dict[str, list[str]] = {}
        self.requests: Counter[str] = Counter()
        archive = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                archive.requests[name] += 1
                steps = archive.plan.get(name, [])
                step = steps.pop(0) if steps else "ok"
                body = archive.files.get(name)
                if body is None:
                    self.send_error(404)
                elif step == "500":
                    self.send_error(500)
                else:  # "cut": promise the whole file, send half and hang up; "short": a consistent
                    # reply holding the first half only (a truncated file); "ok": the file
                    payload = body[: len(body) // 2] if step == "short" else body
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(body if step == "ok" else body[: len(body) // 2])
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def add_days(self, tmp: Path, days: list[str], version: str = osisaf.DEFAULT_VERSION) -> None:
        """Serve ``days``; to keep tests fast, the days of one month share the first day's content."""
        content: dict[pd.Period, bytes] = {}
        for d in pd.DatetimeIndex(days):
            product = osisaf.product_for(d.to_period("M").to_timestamp(), version)
            if d.to_period("M") not in content:
                local = write_osisaf(tmp / product.file_name(d), d + pd.Timedelta(hours=12), daily_percent(d))
                content[d.to_period("M")] = local.read_bytes()
            self.files[product.url("", d).lstrip("/")] = content[d.to_period("M")]

    def path_of(self, day: str) -> str:
        d = pd.Timestamp(day)
        return osisaf.product_for(d.to_period("M").to_timestamp()).url("", d).lstrip("/")


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    srv = Archive()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def month_days(month: str, skip: tuple[int, ...] = ()) -> list[str]:
    days = pd.date_range(month, pd.Timestamp(month) + pd.offsets.MonthEnd(0))
    return [f"{d:%Y-%m-%d}" for d in days if d.day not in skip]


def partial_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_download_tolerates_missing_days_and_remembers_them(archive: Archive, tmp_path: Path) -> None:
    archive.add_days(tmp_path / "src", month_days("2015-02", skip=(7, 8)))
    folder = tmp_path / "dl"
    report = osisaf.download("2015-02", "2015-02", folder, base_url=archive.url, backoff_s=0)
    assert [f"{d:%d}" for d in report.missing_days] == ["07", "08"]
    assert len(report.files[pd.Timestamp("2015-02-01")]) == 26
    assert (folder / "2015" / "02" / "sha256_registry.txt").read_text().count("sha256:") == 26
    archive.requests.clear()
    osisaf.download("2015-02", "2015-02", folder, base_url=archive.url, backoff_s=0)
    assert sum(archive.requests.values()) == 0  # verified files reused, absent days not asked again


def test_download_spans_osi450_and_osi430b_for_icenet_parity(archive: Archive, tmp_path: Path) -> None:
    archive.add_days(tmp_path / "src", ["2015-12-31", "2016-01-01"], version="v2p0")
    report = osisaf.download("2015-12", "2016-01", tmp_path / "dl", version="v2p0", base_url=archive.url,
                             backoff_s=0)
    names = [f.name for fs in report.files.values() for f in fs]
    assert names == [daily_name(pd.Timestamp("2015-12-31"), "cdr", "v2p0"),
                     daily_name(pd.Timestamp("2016-01-01"), "icdr", "v2p0")]


def test_download_defaults_to_osi450a_and_osi430a(archive: Archive, tmp_path: Path) -> None:
    archive.add_days(tmp_path / "src", ["2020-12-31", "2021-01-01"])
    report = osisaf.download("2020-12", "2021-01", tmp_path / "dl", base_url=archive.url, backoff_s=0)
    names = [f.name for fs in report.files.values() for f in fs]
    assert names == [daily_name(pd.Timestamp("2020-12-31")), daily_name(pd.Timestamp("2021-01-01"), "icdr")]
    assert archive.requests["reprocessed/ice/conc-cont-reproc/v3p0/2021/01/" + names[1]] == 1


def test_download_retries_server_errors_and_truncated_files(archive: Archive, tmp_path: Path) -> None:
    days = ["1995-06-01", "1995-06-02"]
    archive.add_days(tmp_path / "src", days)
    archive.plan[archive.path_of(days[0])] = ["500", "cut", "short"]
    report = osisaf.download("1995-06", "1995-06", tmp_path / "dl", base_url=archive.url, backoff_s=0)
    assert archive.requests[archive.path_of(days[0])] == 4
    assert len(report.files[pd.Timestamp("1995-06-01")]) == 2
    assert not partial_files(tmp_path / "dl")


def test_interrupted_download_resumes_with_nothing_partial(archive: Archive, tmp_path: Path) -> None:
    days = ["1995-06-01", "1995-06-02", "1995-06-03"]
    archive.add_days(tmp_path / "src", days)
    archive.plan[archive.path_of(days[1])] = ["cut"] * 2  # the connection drops on both attempts
    folder = tmp_path / "dl"
    with pytest.raises(DownloadError, match="after 2 attempts"):
        osisaf.download("1995-06", "1995-06", folder, base_url=archive.url, retries=1, backoff_s=0)
    assert [p.name for p in folder.rglob("*.nc")] == [daily_name(pd.Timestamp(days[0]))]
    assert not partial_files(folder) and not (folder / "1995" / "06" / osisaf.MONTH_MANIFEST).exists()
    archive.requests.clear()
    report = osisaf.download("1995-06", "1995-06", folder, base_url=archive.url, backoff_s=0)
    assert archive.requests[archive.path_of(days[0])] == 0 and archive.requests[archive.path_of(days[1])] == 1
    assert len(report.files[pd.Timestamp("1995-06-01")]) == 3


def test_a_changed_file_on_the_server_is_a_checksum_error(archive: Archive, tmp_path: Path) -> None:
    day = "1995-06-01"
    archive.add_days(tmp_path / "src", [day])
    folder = tmp_path / "dl"
    osisaf.download("1995-06", "1995-06", folder, base_url=archive.url, backoff_s=0)
    local = next(folder.rglob("*.nc"))
    local.write_bytes(local.read_bytes()[:-10] + b"0123456789")  # corrupted on disk since
    archive.files[archive.path_of(day)] += b"\0"  # and the server's copy changed too
    with pytest.warns(UserWarning, match="no longer matches"), pytest.raises(ChecksumMismatchError):
        osisaf.download("1995-06", "1995-06", folder, base_url=archive.url, recheck_missing=True, backoff_s=0)
    assert not local.exists() and not partial_files(folder)


def test_load_downloads_into_the_osisaf_dir_and_builds_the_schema(archive: Archive, tmp_path: Path,
                                                                  isolated_cache: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    archive.add_days(tmp_path / "src", month_days("2012-09", skip=tuple(range(5, 31))))
    monkeypatch.setenv(osisaf.OSISAF_DIR_ENV, str(tmp_path / "osisaf"))
    with pytest.warns(osisaf.OSISAFMissingDaysWarning, match="2012-09-05..2012-09-30"):
        ds = load_dataset("osisaf", resolution_km=200, start="2012-09", end="2012-09", base_url=archive.url,
                          min_days=4, backoff_s=0)
    assert (tmp_path / "osisaf" / "2012" / "09" / daily_name(pd.Timestamp("2012-09-01"))).is_file()
    assert "OSI-450-a" in ds.attrs["source"] and ds.attrs["observed"] == "true"
    sea = ~land_mask(200).values
    assert np.isfinite(ds["siconca"].values[0][sea]).all()
