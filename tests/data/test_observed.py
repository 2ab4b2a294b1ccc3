"""OSI SAF + ERA5 merged into the observed dataset: end to end on local files written here in the real
formats (OSI SAF monthly netCDF, CDS netCDF), and the errors when the two disagree."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import grid
from icegrad.data import era5, load_dataset, observed
from icegrad.data.land import land_mask
from icegrad.variables import MONTHLY_VARIABLES

MONTHS = pd.DatetimeIndex(["2019-01-01", "2019-02-01"])
LAT = np.arange(90.0, 14.9, -5.0)
LON = np.arange(-180.0, 180.0, 5.0)


def write_osisaf_monthly(folder: Path, month: pd.Timestamp) -> None:
    """An OSI SAF monthly file (``..._icdr-v2p0_YYYYMM.nc``): ice_conc in % with _FillValue on land."""
    g = grid.ease2_grid(25)
    x = grid.cell_centres_m(25) / 1000.0
    percent = np.clip((g["lat"].values - 70.0) * 10.0, 0.0, 100.0)
    with netCDF4.Dataset(folder / f"ice_conc_nh_ease2-250_icdr-v2p0_{month:%Y%m}.nc", "w") as nc:
        nc.createDimension("time", 1)
        nc.createDimension("xc", 432)
        nc.createDimension("yc", 432)
        crs = nc.createVariable("Lambert_Azimuthal_Grid", "i4")
        crs.setncatts({"grid_mapping_name": "lambert_azimuthal_equal_area",
                       "latitude_of_projection_origin": 90.0, "longitude_of_projection_origin": 0.0})
        t = nc.createVariable("time", "f8", ("time",))
        t.units = "seconds since 1978-01-01 00:00:00"
        t[:] = [(month + pd.Timedelta(days=14) - pd.Timestamp("1978-01-01")).total_seconds()]
        for name, values in (("xc", x), ("yc", x[::-1])):
            v = nc.createVariable(name, "f8", (name,))
            v.units = "km"
            v[:] = values
        conc = nc.createVariable("ice_conc", "i4", ("time", "yc", "xc"), fill_value=np.int32(-32767))
        conc.setncatts({"units": "%", "scale_factor": np.float32(0.01),
                        "standard_name": "sea_ice_area_fraction"})
        conc.set_auto_maskandscale(False)
        conc[0] = np.round(percent * 100).astype(np.int32)


def write_cds(folder: Path, months: pd.DatetimeIndex) -> None:
    """CDS netCDF files (2024+ layout) with every variable era5.load needs: one single-level file and
    one pressure-level file holding 10, 250 and 500 hPa."""
    lat = np.broadcast_to(LAT[:, None], (LAT.size, LON.size)).astype(np.float32)
    single = {"t2m": (260.0, "K"), "sst": (272.0, "K"), "ssrd": (8.64e6, "J m**-2"),
              "ssr": (4.32e6, "J m**-2"), "msl": (101300.0, "Pa"), "u10": (3.0, "m s**-1"),
              "v10": (-2.0, "m s**-1")}
    coords = {"valid_time": months.values, "latitude": LAT, "longitude": LON}
    sl = xr.Dataset({k: (("valid_time", "latitude", "longitude"), np.stack([lat * 0 + v] * len(months)),
                         {"units": u}) for k, (v, u) in single.items()}, coords=coords)
    sl.assign_coords(expver=("valid_time", ["0001"] * len(months))).to_netcdf(folder / "single.nc")
    levels = np.array([10.0, 250.0, 500.0])
    shape = (len(months), levels.size, *lat.shape)
    pl = xr.Dataset({"t": (("valid_time", "pressure_level", "latitude", "longitude"), np.full(shape, 240.0),
                           {"units": "K"}),
                     "z": (("valid_time", "pressure_level", "latitude", "longitude"),
                           np.full(shape, era5.G0 * 5500.0), {"units": "m**2 s**-2"}),
                     "u": (("valid_time", "pressure_level", "latitude", "longitude"), np.full(shape, 25.0),
                           {"units": "m s**-1"})},
                    coords={**coords, "pressure_level": levels})
    pl.to_netcdf(folder / "pressure.nc")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ice, clim = tmp_path_factory.mktemp("osisaf"), tmp_path_factory.mktemp("era5")
    for month in MONTHS:
        write_osisaf_monthly(ice, month)
    write_cds(clim, MONTHS)
    return ice, clim


@pytest.fixture(scope="module")
def merged(files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        return load_dataset("observed", resolution_km=200, start="2019-01", end="2019-02",
                            osisaf_path=files[0], era5_path=files[1])


def test_load_dataset_observed_has_every_schema_variable(merged: xr.Dataset) -> None:
    assert set(merged.data_vars) == set(MONTHLY_VARIABLES)
    assert merged.attrs["data_source"] == "observed"
    assert "OSI-430-b" in merged.attrs["source"] and "ERA5" in merged.attrs["source"]
    np.testing.assert_allclose(merged["rsus"].values[np.isfinite(merged["rsus"].values)], 50.0, rtol=1e-5)
    np.testing.assert_allclose(merged["zg500"].values, 5500.0, rtol=1e-6)


def test_months_that_differ_are_named(merged: xr.Dataset) -> None:
    sea_ice = merged[["siconca"]]
    climate = merged.drop_vars("siconca").isel(time=[0])
    with pytest.raises(observed.ObservedError, match=r"only in OSI SAF 2019-02; only in ERA5 none"):
        observed.merge(sea_ice, climate)


def test_grids_or_land_masks_that_differ_are_refused(merged: xr.Dataset) -> None:
    climate = merged.drop_vars("siconca")
    g = grid.ease2_grid(100)
    finer = xr.Dataset({"siconca": (("time", "y", "x"), np.zeros((2, 108, 108), np.float32))},
                       coords={**g.coords, "time": merged["time"].values,
                               "land": (("y", "x"), land_mask(100).values)})
    with pytest.raises(observed.ObservedError, match="100 km grid but ERA5 on the 200 km grid"):
        observed.merge(finer, climate)
    with pytest.raises(observed.ObservedError, match="different land masks"):
        observed.merge(merged[["siconca"]], climate.assign_coords(land=~merged["land"]))


def test_missing_era5_months_stop_the_load(files: tuple[Path, Path], tmp_path: Path,
                                           isolated_cache: Path) -> None:
    write_cds(tmp_path, MONTHS[:1])
    with pytest.raises(era5.MissingMonthError, match="lack 2019-02"):
        observed.load(200, "2019-01", "2019-02", osisaf_path=files[0], era5_path=tmp_path)
