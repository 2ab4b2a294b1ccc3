"""ERA5 monthly means: CDS requests (cdsapi.Client mocked), credentials, the netCDF layouts the CDS
delivers, unit conversions, ERA5/ERA5T merging, regridding and the rotation of winds onto EASE2."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import cdsapi
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import grid
from icegrad.data import era5, regrid
from icegrad.data.land import land_mask

SOURCE_LAT = np.arange(90.0, 14.9, -5.0)  # descending, as the CDS delivers
SOURCE_LON = np.arange(-180.0, 180.0, 5.0)
SHORT_NAMES = {"2m_temperature": "t2m", "sea_surface_temperature": "sst",
               "surface_solar_radiation_downwards": "ssrd", "surface_net_solar_radiation": "ssr",
               "mean_sea_level_pressure": "msl", "10m_u_component_of_wind": "u10",
               "10m_v_component_of_wind": "v10", "temperature": "t", "geopotential": "z",
               "u_component_of_wind": "u"}
UNITS = {"t2m": "K", "sst": "K", "ssrd": "J m**-2", "ssr": "J m**-2", "msl": "Pa", "u10": "m s**-1",
         "v10": "m s**-1", "t": "K", "z": "m**2 s**-2", "u": "m s**-1"}
SOURCE_LAND = (SOURCE_LAT[:, None] > 60) & (SOURCE_LAT[:, None] < 75) & (np.abs(SOURCE_LON[None]) < 30)


def field_value(short: str, lat: np.ndarray, level: int | None, month: pd.Timestamp) -> np.ndarray:
    """Analytic source fields: linear in latitude (bilinear regridding reproduces them exactly)."""
    m = month.month
    base = {"t2m": 250.0 + 0.3 * (90 - lat) + m, "sst": 271.0 + 0.1 * (90 - lat) + m,
            "ssrd": 8.64e6 + 1e4 * lat, "ssr": 6.48e6 + 1e4 * lat, "msl": 101300.0 + 10 * lat,
            "u10": 10.0 + 0 * lat, "v10": 0.0 * lat, "u": 30.0 + 0.1 * lat + m}
    if short == "t":
        return 240.0 + 0.2 * (90 - lat) + (level or 0) / 100.0
    if short == "z":
        return era5.G0 * ({500: 5500.0, 250: 10400.0}[level or 0] + lat)
    return base[short]


def cds_dataset(request: dict, layout: str = "new", era5t_from: str | None = None) -> xr.Dataset:
    """What the CDS returns for ``request``, in the 2024+ layout (valid_time, expver strings along
    time, pressure_level) or the legacy one (time, expver dimension 1/5, level)."""
    months = pd.DatetimeIndex([f"{y}-{m}-01" for y in request["year"] for m in request["month"]])
    levels = [int(v) for v in request.get("pressure_level", [])]
    lat2 = np.broadcast_to(SOURCE_LAT[:, None], (SOURCE_LAT.size, SOURCE_LON.size))
    tname, lname = ("valid_time", "pressure_level") if layout == "new" else ("time", "level")
    data = {}
    for long_name in request["variable"]:
        short = SHORT_NAMES[long_name]
        stack = []
        for month in months:
            if levels:
                stack.append(np.stack([field_value(short, lat2, lev, month) for lev in levels]))
            else:
                values = np.array(field_value(short, lat2, None, month), dtype=np.float64)
                if short == "sst":
                    values = np.where(SOURCE_LAND, np.nan, values)
                stack.append(values)
        dims = (tname, lname, "latitude", "longitude") if levels else (tname, "latitude", "longitude")
        data[short] = (dims, np.asarray(stack, dtype=np.float32), {"units": UNITS[short]})
    coords = {tname: months.values, "latitude": SOURCE_LAT, "longitude": SOURCE_LON}
    if levels:
        coords[lname] = np.array(levels, dtype=np.float64)
    ds = xr.Dataset(data, coords=coords)
    era5t = months >= pd.Timestamp(era5t_from) if era5t_from else np.zeros(len(months), bool)
    if layout == "new":
        ds = ds.assign_coords(number=0, expver=(tname, np.where(era5t, "0005", "0001")))
    elif era5t.any():  # legacy: expver is a dimension, NaN where a version has no data
        final = ds.where(xr.DataArray(~era5t, dims=tname))
        prelim = ds.where(xr.DataArray(era5t, dims=tname))
        ds = xr.concat([final, prelim], dim=xr.DataArray([1, 5], dims="expver", name="expver"))
    return ds


class FakeClient:
    """Stands in for cdsapi.Client: records every request and writes the CDS's answer to target."""

    calls: ClassVar[list[tuple[str, dict, str]]] = []
    layout = "new"
    era5t_from: str | None = None
    zipped = False

    def __init__(self, quiet: bool = False, progress: bool = True) -> None:
        assert quiet and not progress

    def retrieve(self, name: str, request: dict, target: str) -> None:
        FakeClient.calls.append((name, json.loads(json.dumps(request)), target))
        ds = cds_dataset(request, FakeClient.layout, FakeClient.era5t_from)
        if not FakeClient.zipped:
            ds.to_netcdf(target)
            return
        parts = [Path(target + f".{i}.nc") for i in range(2)]
        names = list(ds.data_vars)
        ds[names[:1]].to_netcdf(parts[0])
        ds[names[1:] or names[:1]].to_netcdf(parts[1])
        with zipfile.ZipFile(target, "w") as zf:
            for p in parts:
                zf.write(p, p.name.replace(".nc.", "_").replace(".nc", "") + ".nc")
                p.unlink()


def _patch(mp: pytest.MonkeyPatch, folder: Path) -> type[FakeClient]:
    mp.setattr(cdsapi, "Client", FakeClient)
    mp.setenv("CDSAPI_URL", "https://cds.example/api")
    mp.setenv("CDSAPI_KEY", "test-token")
    mp.setenv(era5.ERA5_DIR_ENV, str(folder / "era5"))
    mp.setenv("ICEGRAD_CACHE_DIR", str(folder / "cache"))
    FakeClient.calls, FakeClient.layout, FakeClient.era5t_from, FakeClient.zipped = [], "new", None, False
    return FakeClient


@pytest.fixture
def cds(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[FakeClient]:
    """A fresh mocked CDS, download folder and cache for one test."""
    return _patch(monkeypatch, tmp_path)


def load_small(**options: object) -> xr.Dataset:
    return era5.load(25, "2020-12", "2021-01", south_deg=15.0, grid_deg=5.0, **options)


@pytest.fixture(scope="module")
def first_load(tmp_path_factory: pytest.TempPathFactory) -> tuple[xr.Dataset, list, Path]:
    """One load at 25 km through the mocked CDS (January 2021 still ERA5T), shared by the module."""
    folder = tmp_path_factory.mktemp("era5")
    with pytest.MonkeyPatch.context() as mp:
        cds = _patch(mp, folder)
        cds.era5t_from = "2021-01-01"
        return load_small(), list(cds.calls), folder


@pytest.fixture
def loaded(first_load: tuple[xr.Dataset, list, Path]) -> xr.Dataset:
    return first_load[0]


# ---------------------------------------------------------------------------------------------
# Requests and credentials
# ---------------------------------------------------------------------------------------------

def test_requests_sent_to_the_cds_are_exactly_these(first_load: tuple[xr.Dataset, list, Path]) -> None:
    common = {"product_type": ["monthly_averaged_reanalysis"], "time": ["00:00"],
              "area": [90, -180, 15.0, 180], "grid": [5.0, 5.0], "data_format": "netcdf",
              "download_format": "unarchived"}
    expected = []
    for year, months in (("2020", ["12"]), ("2021", ["01"])):
        when = {"year": [year], "month": months}
        expected += [
            (era5.SINGLE_LEVELS, {**common, **when, "variable": [
                "2m_temperature", "sea_surface_temperature", "surface_solar_radiation_downwards",
                "surface_net_solar_radiation", "mean_sea_level_pressure", "10m_u_component_of_wind",
                "10m_v_component_of_wind"]}),
            (era5.PRESSURE_LEVELS, {**common, **when, "variable": ["temperature"],
                                    "pressure_level": ["500"]}),
            (era5.PRESSURE_LEVELS, {**common, **when, "variable": ["geopotential"],
                                    "pressure_level": ["250", "500"]}),
            (era5.PRESSURE_LEVELS, {**common, **when, "variable": ["u_component_of_wind"],
                                    "pressure_level": ["10"]}),
        ]
    calls = first_load[1]
    assert [(name, request) for name, request, _ in calls] == expected
    assert all(Path(target).name.endswith(".part") for _, _, target in calls)  # written to a temp name


def test_a_request_already_done_is_not_repeated(first_load: tuple[xr.Dataset, list, Path],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    _, calls, folder = first_load
    cds = _patch(monkeypatch, folder)
    files = era5.download("2020-12", "2021-01", south_deg=15.0, grid_deg=5.0)
    assert cds.calls == [] and sorted(files) == sorted((folder / "era5").glob("*.nc"))
    saved = json.loads(files[0].with_suffix(".json").read_text())
    assert (saved["dataset"], saved["request"]) == calls[0][:2]


def test_an_interrupted_retrieval_leaves_nothing(cds: type[FakeClient],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: FakeClient, name: str, request: dict, target: str) -> None:
        Path(target).write_bytes(b"CDF\x01 half a file")
        raise ConnectionError("connection reset by peer")

    monkeypatch.setattr(FakeClient, "retrieve", broken)
    with pytest.raises(ConnectionError):
        load_small()
    assert list(era5.default_folder().iterdir()) == []


def test_zipped_delivery_is_merged(cds: type[FakeClient]) -> None:
    cds.zipped = True
    ds = era5.load(200, "2020-12", "2020-12", south_deg=15.0, grid_deg=5.0)
    assert set(ds.data_vars) == set(era5.CLIMATE_VARIABLES)


def test_missing_credentials_say_how_to_set_them_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CDSAPI_URL", "CDSAPI_KEY", "CDSAPI_RC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(era5.CDSCredentialsError, match=r"(?s)\.cdsapirc does not exist.*url: https://cds"):
        era5.check_credentials()
    (tmp_path / ".cdsapirc").write_text("url: https://cds.climate.copernicus.eu/api\n")
    with pytest.raises(era5.CDSCredentialsError, match="lacks a 'url:' or 'key:' line"):
        era5.check_credentials()
    (tmp_path / ".cdsapirc").write_text("url: https://cds.climate.copernicus.eu/api\nkey: abc-123\n")
    era5.check_credentials()
    (tmp_path / ".cdsapirc").unlink()
    monkeypatch.setenv("CDSAPI_URL", "https://cds.climate.copernicus.eu/api")
    monkeypatch.setenv("CDSAPI_KEY", "abc-123")
    era5.check_credentials()


def test_load_without_credentials_fails_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           isolated_cache: Path) -> None:
    for name in ("CDSAPI_URL", "CDSAPI_KEY", "CDSAPI_RC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(cdsapi, "Client", None)  # any use would fail differently
    with pytest.raises(era5.CDSCredentialsError, match="Copernicus Climate Data Store account"):
        era5.load(200, "2000-01", "2000-01")


# ---------------------------------------------------------------------------------------------
# Conversions, regridding, ERA5T
# ---------------------------------------------------------------------------------------------

def test_unit_conversions_and_rsus(loaded: xr.Dataset) -> None:
    lat = grid.ease2_grid(25)["lat"].values
    assert loaded.attrs["data_source"] == "observed" and loaded.sizes == {"time": 2, "y": 432, "x": 432}
    np.testing.assert_allclose(loaded["rsds"].values[0], (8.64e6 + 1e4 * lat) / 86400, rtol=1e-5)
    np.testing.assert_allclose(loaded["rsus"].values[0], (8.64e6 - 6.48e6) / 86400, rtol=1e-5)
    np.testing.assert_allclose(loaded["zg500"].values[1], 5500.0 + lat, rtol=1e-6)
    np.testing.assert_allclose(loaded["zg250"].values[1], 10400.0 + lat, rtol=1e-6)
    np.testing.assert_allclose(loaded["tas"].sel(time="2021-01").values[0], 250 + 0.3 * (90 - lat) + 1,
                               rtol=1e-6)
    np.testing.assert_allclose(loaded["ta500"].values[0], 240 + 0.2 * (90 - lat) + 5, rtol=1e-6)
    np.testing.assert_allclose(loaded["ua10"].values[0], 30 + 0.1 * lat + 12, rtol=1e-5)
    assert loaded["rsus"].attrs["units"] == "W m-2" and "ssrd - ssr" in loaded["rsus"].attrs["comment"]


def test_winds_are_rotated_onto_the_grid(loaded: xr.Dataset) -> None:
    lam = np.deg2rad(grid.ease2_grid(25)["lon"].values)
    np.testing.assert_allclose(loaded["uas"].values[0], 10 * np.cos(lam), atol=1e-4)
    np.testing.assert_allclose(loaded["vas"].values[0], 10 * np.sin(lam), atol=1e-4)


def test_tos_is_nan_exactly_on_land_and_filled_at_coasts(loaded: xr.Dataset) -> None:
    land = land_mask(25).values
    tos = loaded["tos"].values
    assert np.isnan(tos[:, land]).all() and np.isfinite(tos[:, ~land]).all()
    assert all(np.isfinite(loaded[v].values).all() for v in era5.CLIMATE_VARIABLES if v != "tos")


def test_era5t_months_are_reported(loaded: xr.Dataset) -> None:
    assert loaded.attrs["era5t_months"] == "2021-01"


def test_coarse_grid_from_local_files_is_the_block_mean(first_load: tuple[xr.Dataset, list, Path],
                                                        isolated_cache: Path) -> None:
    fine, _, folder = first_load
    coarse = era5.load(100, "2020-12", "2021-01", path=folder / "era5")
    expected = grid.coarsen(fine["tas"], 100)
    np.testing.assert_allclose(coarse["tas"].values, expected.values, rtol=1e-6)
    assert np.isnan(coarse["tos"].values[:, land_mask(100).values]).all()


@pytest.mark.parametrize("layout", ["new", "old"])
def test_expver_merge_prefers_final_era5(layout: str) -> None:
    request = {"variable": ["2m_temperature"], "year": ["2023"], "month": ["10", "11", "12"]}
    ds = cds_dataset(request, layout, era5t_from="2023-12-01")
    if layout == "new":  # November delivered twice: as ERA5T (different values) and as final ERA5
        dup = ds.isel(valid_time=[1]).assign_coords(expver=("valid_time", ["0005"]))
        ds = xr.concat([ds, dup + 5.0], dim="valid_time")
    merged, era5t = era5.normalise(ds, "test.nc")
    assert list(pd.DatetimeIndex(merged["time"].values).month) == [10, 11, 12]
    assert era5t == [pd.Timestamp("2023-12-01")]
    lat = merged["latitude"].values[:, None]
    np.testing.assert_allclose(merged["t2m"].sel(time="2023-11-01").values,
                               np.broadcast_to(250 + 0.3 * (90 - lat) + 11, merged["t2m"].shape[1:]),
                               rtol=1e-6)
    assert merged["latitude"].values[0] < merged["latitude"].values[-1]


def test_files_missing_months_or_levels_or_too_far_north(cds: type[FakeClient], tmp_path: Path) -> None:
    folder = era5.default_folder()
    era5.download("2020-11", "2020-12", south_deg=15.0, grid_deg=5.0)
    with pytest.raises(era5.MissingMonthError, match="lack 2021-01"):
        era5.load(200, "2020-12", "2021-01", path=folder)
    with pytest.raises(era5.ERA5Error, match=r"lack \['u_10hPa'\]"):
        era5.load(200, "2020-12", "2020-12",
                  path=[f for f in folder.glob("*.nc") if "u_component" not in f.name])
    north = cds_dataset({"variable": ["2m_temperature"], "year": ["2020"], "month": ["01"]}).sel(
        latitude=slice(90, 30))
    src, _ = era5.normalise(north, "north.nc")
    g = grid.ease2_grid(25)
    with pytest.raises(regrid.RegridError, match="download with south_deg <= 16"):
        regrid.bilinear_weights(src["latitude"].values, src["longitude"].values, g["lat"].values,
                              g["lon"].values)
    bad = tmp_path / "bad.nc"
    cds_dataset({"variable": ["surface_net_solar_radiation"], "year": ["2020"], "month": ["01"]}).assign(
        ssr=lambda d: d["ssr"].assign_attrs(units="W m**-2")).to_netcdf(bad)
    with pytest.raises(era5.ERA5Error, match="monthly_averaged_reanalysis"):
        era5.open_files([bad])


# ---------------------------------------------------------------------------------------------
# Wind rotation: properties and a numerical check with pyproj
# ---------------------------------------------------------------------------------------------

TO_EASE2 = pyproj.Transformer.from_crs(4326, grid.EASE2_NORTH_EPSG, always_xy=True)
lons = st.floats(-180.0, 180.0, allow_nan=False)
lats = st.floats(20.0, 89.0, allow_nan=False)
speeds = st.floats(-60.0, 60.0, allow_nan=False)


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.hypot(*vector)


@settings(max_examples=200, deadline=None)
@given(u=speeds, v=speeds, lon=lons)
def test_rotation_preserves_speed(u: float, v: float, lon: float) -> None:
    x, y = regrid.rotate_to_grid(np.array(u), np.array(v), np.array(lon))
    assert np.hypot(x, y) == pytest.approx(np.hypot(u, v), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(lon=lons, lat=lats, speed=st.floats(0.5, 60.0))
def test_a_wind_toward_the_pole_points_at_the_pole_on_the_grid(lon: float, lat: float, speed: float) -> None:
    x, y = TO_EASE2.transform(lon, lat)  # the pole is at (0, 0)
    gx, gy = regrid.rotate_to_grid(np.array(0.0), np.array(speed), np.array(lon))
    np.testing.assert_allclose(unit(np.array([gx, gy])), unit(-np.array([x, y])), atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(lon=lons, lat=lats)
def test_rotation_matches_the_projection_numerically(lon: float, lat: float) -> None:
    eps = 1e-5
    here = np.array(TO_EASE2.transform(lon, lat))
    east = unit(np.array(TO_EASE2.transform(lon + eps, lat)) - here)
    north = unit(np.array(TO_EASE2.transform(lon, lat + eps)) - here)
    rot: Callable[[float, float], np.ndarray] = lambda u, v: np.array(  # noqa: E731
        regrid.rotate_to_grid(np.array(u), np.array(v), np.array(lon)))
    np.testing.assert_allclose(rot(1.0, 0.0), east, atol=1e-6)
    np.testing.assert_allclose(rot(0.0, 1.0), north, atol=1e-6)

