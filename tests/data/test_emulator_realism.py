"""Does the emulated Arctic look like the Arctic? Geography, seasonal cycle, extents, events, physics.

One 1979-2020 run per resolution (module fixture): the default 100 km and the 200 km used by quick
book builds. The observation comparison reads the NSIDC Sea Ice Index from ../shared/reference and
skips cleanly when that folder is absent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import ndimage
from scipy.signal import detrend

from icegrad.data import emulator
from icegrad.data.emulator import climate
from icegrad.data.emulator.validation import compare_extents
from icegrad.diagnostics import sea_ice_extent

# Observed September extents (million km2), NSIDC Sea Ice Index v3 (Fetterer et al. 2017).
OBSERVED_SEPTEMBER = {2007: 4.27, 2012: 3.57, 2013: 5.21}


@pytest.fixture(scope="module", params=[100, 200])
def arctic(request: pytest.FixtureRequest) -> xr.Dataset:
    return emulator.generate(request.param, "1979-01", "2020-12", seed=0)


@pytest.fixture(scope="module")
def extent(arctic: xr.Dataset) -> pd.Series:
    return sea_ice_extent(arctic["siconca"]).to_series()


def _month(series: pd.Series, month: int) -> pd.Series:
    out = series[series.index.month == month]
    out.index = out.index.year
    return out


def _box(ds: xr.Dataset, lat: tuple[float, float], lon: tuple[float, float]) -> xr.DataArray:
    inside = (ds.lat >= lat[0]) & (ds.lat <= lat[1]) & (ds.lon >= lon[0]) & (ds.lon <= lon[1])
    return inside & ~ds["land"]


def _monthly_mean_sic(ds: xr.Dataset, mask: xr.DataArray) -> pd.Series:
    sic = ds["siconca"].where(mask).weighted(ds.cell_area.where(mask, 0)).mean(("y", "x"))
    return sic.groupby("time.month").mean().to_series()


# --- geography and the seasonal cycle -------------------------------------------------------------


def test_no_ice_where_there_never_is(arctic: xr.Dataset) -> None:
    sic = arctic["siconca"]
    # SIC is a logistic, never exactly zero: "no ice" is below 0.1 %, invisible and far below any extent
    assert float(sic.where(arctic.lat < 45).max()) < 1e-3, "ice south of 45 N"
    atlantic = _box(arctic, (45, 62), (-40, -5))
    assert int(atlantic.sum()) > 5
    assert float(sic.where(atlantic).max()) < 1e-3, "ice in the open North Atlantic south of Iceland"
    for lat, lon in [((40, 48), (45, 56)), ((40, 47), (27, 42)), ((41, 49.5), (-93, -75))]:  # Caspian,
        inland = _box(arctic, lat, lon)                                                      # Black Sea,
        assert float(sic.where(inland).max(skipna=True).fillna(0)) < 1e-3                    # Great Lakes


def test_marginal_seas_freeze_and_clear_in_the_right_months(arctic: xr.Dataset) -> None:
    regions = emulator.regions(arctic.attrs["resolution_km"])
    bering = _monthly_mean_sic(arctic, regions.sel(region="bering_okhotsk", drop=True))
    assert bering[3] > 0.2 and bering[7:10].max() < 0.01, bering.round(2).to_dict()
    for lat, lon in (((55, 60), (140, 155)), ((60, 65), (-180, -165))):  # northern Okhotsk, Bering shelf
        assert _monthly_mean_sic(arctic, _box(arctic, lat, lon))[3] > 0.7
    hudson = _monthly_mean_sic(arctic, _box(arctic, (55, 63), (-94, -78)))
    assert hudson[[2, 3]].min() > 0.85 and hudson[9] < 0.05, hudson.round(2).to_dict()
    baffin = _monthly_mean_sic(arctic, _box(arctic, (68, 75), (-70, -58)))
    assert baffin[3] > 0.85 and baffin[9] < 0.1, baffin.round(2).to_dict()
    barents = _monthly_mean_sic(arctic, _box(arctic, (70, 78), (20, 55)))
    assert barents[9] < 0.05 and 0.2 < barents[3] < 0.9, barents.round(2).to_dict()
    central = _monthly_mean_sic(arctic, regions.sel(region="central_arctic", drop=True))
    assert central.min() > 0.7 and central[[1, 2, 3]].min() > 0.95, central.round(2).to_dict()


def test_seasonal_cycle_peaks_in_march_and_bottoms_in_september(extent: pd.Series) -> None:
    cycle = extent.groupby(extent.index.month).mean()
    assert int(cycle.idxmax()) in (2, 3) and int(cycle.idxmin()) == 9
    assert 14.5 < cycle.max() < 16.0 and 5.0 < cycle.min() < 6.5


# --- extents and the three Septembers ------------------------------------------------------------


def test_march_and_september_extents_and_their_decline(arctic: xr.Dataset, extent: pd.Series) -> None:
    march, september = _month(extent, 3), _month(extent, 9)
    # the 200 km coastline loses some sea to land, so its March extents run ~0.2 million km2 lower
    low = 14.0 if arctic.attrs["resolution_km"] == 100 else 13.7
    assert march.between(low, 16.3).all(), march.round(2).to_dict()  # observed 1979: 16.34
    assert 15.2 < march.loc[1979:1988].mean() < 16.2
    assert 13.9 < march.loc[2011:2020].mean() < 15.0
    assert 6.5 < september.loc[1980:1989].mean() < 7.5
    assert 4.0 < september.loc[2010:2019].mean() < 5.2


def test_the_three_septembers_are_ordered_and_close_to_observed(extent: pd.Series) -> None:
    september = _month(extent, 9)
    assert september[2012] < september[2007] < september[2013]
    for year, observed in OBSERVED_SEPTEMBER.items():
        assert abs(september[year] - observed) < 0.4, (year, september[year], observed)


def test_2013_minus_2007_is_one_coherent_pacific_area(arctic: xr.Dataset) -> None:
    sic = arctic["siconca"]
    diff = (sic.sel(time="2013-09").squeeze("time") - sic.sel(time="2007-09").squeeze("time")).fillna(0)
    big = (diff >= 0.5).values
    labels, n = ndimage.label(big)
    assert n >= 1
    areas = ndimage.sum(arctic.cell_area.values, labels, range(1, n + 1)) / 1e6
    largest = labels == (int(np.argmax(areas)) + 1)
    assert 1.0 < areas.max() < 2.2, areas
    assert areas.max() > 0.85 * areas.sum(), "the difference is scattered, not one area"
    pacific = emulator.regions(arctic.attrs["resolution_km"]).sel(region="pacific_sector").values
    share = (arctic.cell_area.values * (largest & pacific)).sum() / (arctic.cell_area.values * largest).sum()
    assert share > 0.8, share


def test_the_central_september_pack_is_white_and_lies_toward_the_archipelago(arctic: xr.Dataset) -> None:
    sep = arctic["siconca"].sel(time=arctic.time.dt.month == 9)
    central = sep.where(arctic.lat >= 85).median(("y", "x"))
    assert float(central.min()) >= 0.95, central.to_series().round(3).nsmallest(3).to_dict()
    lon = arctic.lon
    archipelago = (arctic.lat > 80) & (arctic.lat < 86) & (lon > -120) & (lon < -40) & ~arctic["land"]
    pacific = (arctic.lat > 72) & (arctic.lat < 78) & ((lon > 165) | (lon < -165)) & ~arctic["land"]
    assert float(sep.where(archipelago).mean()) > 0.95
    for year in (2007, 2012):  # low years open the Pacific side
        assert float(sep.sel(time=f"{year}-09").where(pacific).mean()) < 0.15
    assert float(sep.sel(time=slice("1980", "1989")).where(pacific).mean()) > 0.2


def test_random_fields_are_smooth_and_isotropic_at_every_resolution(arctic: xr.Dataset) -> None:
    """No stripes: a field of plane waves would correlate more along one diagonal than the other."""
    from icegrad.data.emulator.drivers import DRIVERS, Weather
    from icegrad.data.emulator.rule import rule

    r = rule(arctic.attrs["resolution_km"])
    weather = Weather(r.lat, r.lon, r.x_km, r.y_km, 120, seed=0)
    fields = {d.name: [] for d in DRIVERS}
    for index in range(120):
        for name, z in weather.standardised(index).items():
            fields[name].append(z)
    step = max(1, 400 // arctic.attrs["resolution_km"])  # ~400 km apart
    for name, stack in fields.items():
        z = np.stack(stack)
        diagonal = np.corrcoef(z[:, step:, step:].ravel(), z[:, :-step, :-step].ravel())[0, 1]
        anti = np.corrcoef(z[:, step:, :-step].ravel(), z[:, :-step, step:].ravel())[0, 1]
        # one realisation's finite set of waves leaves some anisotropy (up to ~0.12 at 400 km for the
        # 450 km ice noise); stripes, as the first edition's lead-6 maps had, differ by far more
        assert abs(diagonal - anti) < 0.15, (name, diagonal, anti)
        assert abs(float(z[60:].std()) - 1.0) < 0.25, name


def test_control_years_share_one_climate() -> None:
    ds = emulator.generate(200, "2021-01", "2080-12", seed=0)
    september = _month(sea_ice_extent(ds["siconca"]).to_series(), 9)
    first, second = september.loc[2021:2050], september.loc[2051:2080]
    assert abs(first.mean() - second.mean()) < 0.35, (first.mean(), second.mean())
    assert 0.5 < first.std() / second.std() < 2.0


# --- comparison with the NSIDC Sea Ice Index ------------------------------------------------------


@pytest.mark.parametrize(("month", "min_corr", "max_rmse"), [(9, 0.85, 0.55), (3, 0.6, 0.55)])
def test_extents_track_the_sea_ice_index(arctic, shared_reference, record_property,
                                         month, min_corr, max_rmse) -> None:
    folder = shared_reference / "nsidc_sea_ice_index_v3" / "north"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    comparison = compare_extents(arctic, month, folder)
    assert len(comparison.table) >= 40
    res = arctic.attrs["resolution_km"]
    record_property(f"month{month}_{res}km_correlation", round(comparison.correlation, 3))
    record_property(f"month{month}_{res}km_rmse_million_km2", round(comparison.rmse, 3))
    print(f"\nemulated ({res} km) vs NSIDC Sea Ice Index, {comparison.summary()}")
    assert comparison.correlation > min_corr and comparison.rmse < max_rmse


# --- physically tied fields -----------------------------------------------------------------------


def test_sea_surface_temperature_is_tied_to_the_ice(arctic: xr.Dataset) -> None:
    sic, tos = arctic["siconca"], arctic["tos"]
    # under the pack the SST anomaly's spread fades to a few hundredths of a kelvin, but it fades with
    # the climatological pack, not the month's, so where they differ a few tenths remain
    assert float(np.abs(tos.where(sic > 0.95) - 271.35).quantile(0.99)) < 0.15
    assert float(np.abs(tos.where(sic > 0.95) - 271.35).max()) < 1.5
    open_water = tos.where(sic < 1e-3)
    assert float(open_water.quantile(0.001)) >= 271.35 - 0.2
    mean = open_water.mean("time")
    assert float(xr.corr(mean, arctic.lat)) < -0.7, "open water should warm toward the south"


def test_shortwave_is_insolation_times_clouds_and_reflected_by_ice(arctic: xr.Dataset) -> None:
    lat = arctic.lat.values
    for month in (6, 12):
        rsds = arctic["rsds"].sel(time=f"2000-{month:02d}").values[0]
        toa = climate.toa_insolation(lat, month)
        if month == 12:
            assert np.all(rsds[lat > 70] == 0.0), "sunlight in the polar night"
        lit = toa > 1.0
        assert np.all((rsds[lit] / toa[lit] >= 0.15 - 1e-4) & (rsds[lit] / toa[lit] <= 0.85 + 1e-4))
    june = arctic.sel(time="2000-06").squeeze("time")
    ocean = ~june["land"] & (june.rsds > 50)
    albedo = (june.rsus / june.rsds).where(ocean)
    assert float(np.abs(albedo.where(june.siconca < 1e-3) - 0.07).max()) < 1e-3
    assert float(albedo.where(june.siconca > 0.9).min()) > 0.6


def test_air_temperatures_are_arctic(arctic: xr.Dataset) -> None:
    central = emulator.regions(arctic.attrs["resolution_km"]).sel(region="central_arctic", drop=True)
    winter = float(arctic.tas.where(central).sel(time=arctic.time.dt.month.isin([1, 2])).mean()) - 273.15
    summer_ice = arctic.tas.where((arctic.siconca > 0.8) & (arctic.time.dt.month == 7))
    assert -33 < winter < -22
    assert -3 < float(summer_ice.mean()) - 273.15 < 1
    arctic_cells = arctic.lat > 65
    assert float((arctic.ta500 - arctic.tas).where(arctic_cells).mean()) < -10
    anom = arctic.groupby("time.month") - arctic.groupby("time.month").mean()
    assert float(xr.corr(anom.tas.where(arctic_cells), anom.ta500.where(arctic_cells))) > 0.6


def test_pressure_heights_and_stratospheric_wind(arctic: xr.Dataset) -> None:
    north = arctic.lat > 60
    assert 1008 < float(arctic.psl.where(north).mean()) / 100 < 1018
    assert 4.9 < float(arctic.zg500.where(north).mean()) / 1000 < 5.8
    assert 9.6 < float(arctic.zg250.where(north).mean()) / 1000 < 10.8
    anom = arctic.groupby("time.month") - arctic.groupby("time.month").mean()
    assert float(xr.corr(anom.psl.where(north), anom.zg500.where(north))) > 0.3
    band = (arctic.lat > 55) & (arctic.lat < 70)
    cycle = arctic.ua10.where(band).mean(("y", "x")).groupby("time.month").mean()
    assert cycle.sel(month=1) > 20 and -20 < cycle.sel(month=7) < 0


def test_surface_wind_is_geostrophic_and_turned_toward_low_pressure(arctic: xr.Dataset) -> None:
    month = arctic.sel(time="1995-01").squeeze("time")
    dp_drow, dp_dx = np.gradient(month.psl.values, arctic.attrs["resolution_km"] * 1000.0)
    grad = np.stack([dp_dx, -dp_drow])  # along +x, +y
    wind = np.stack([month.uas.values, month.vas.values])
    strong = (np.hypot(*grad) > 2e-4) & (month.lat.values > 50)
    along_isobars = (-grad[1] * wind[0] + grad[0] * wind[1])[strong]  # (k x grad p) . V
    down_gradient = (grad * wind).sum(axis=0)[strong]
    assert strong.sum() > 20
    assert (along_isobars > 0).mean() > 0.99, "low pressure must be on the left of the wind"
    assert (down_gradient < 0).mean() > 0.99, "friction must turn the wind toward low pressure"


# --- the links and the planted events show in the data --------------------------------------------


def test_warm_sunny_pacific_summers_precede_low_ice_septembers(arctic: xr.Dataset) -> None:
    pacific = emulator.regions(arctic.attrs["resolution_km"]).sel(region="pacific_sector", drop=True)
    regional = arctic.where(pacific).mean(("y", "x"))
    anom = regional.groupby("time.month") - regional.groupby("time.month").mean()
    sept = detrend(anom.siconca.sel(time=anom.time.dt.month == 9).values)
    for name, months in (("tas", [7, 8, 9]), ("rsds", [6, 7]), ("psl", [6, 7, 8])):
        summer = anom[name].sel(time=anom.time.dt.month.isin(months)).coarsen(time=len(months)).mean()
        corr = np.corrcoef(detrend(summer.values), sept)[0, 1]  # the links, not the shared trend
        print(f"\n{name} months {months} vs September Pacific SIC: r = {corr:.2f}")
        assert corr < (-0.3 if name == "psl" else -0.4), name  # psl acts in part of the sector only
    assert float(anom.psl.sel(time=slice("2007-06", "2007-08")).mean()) > 300.0, "the 2007 Beaufort High"
    jja = {year: float(regional.tas.sel(time=slice(f"{year}-06", f"{year}-08")).mean())
           for year in (2007, 2013)}
    assert jja[2013] < jja[2007] - 2.0, f"the cool 2013 summer after the warm 2007 one: {jja}"


@pytest.mark.slow
@pytest.mark.xdist_group("emulated-25km")
@pytest.mark.parametrize("resolution_km", [25, 50])
def test_fine_grids_agree_with_the_coarse_one(resolution_km: int, request: pytest.FixtureRequest) -> None:
    if resolution_km == 25:  # the 25 km run the other 25 km tests use (a minute to generate)
        fine = request.getfixturevalue("emulated_25km")
        period = tuple(f"{pd.Timestamp(t):%Y-%m}" for t in fine["time"].values[[0, -1]])
    else:
        period = ("2012-03", "2012-09")
        fine = emulator.generate(resolution_km, *period, seed=0)
    months = slice("2012-03", "2012-09")
    fine = fine.sel(time=months)
    coarse = emulator.generate(100, *period, seed=0).sel(time=months)
    fine_extent = sea_ice_extent(fine.siconca).values
    coarse_extent = sea_ice_extent(coarse.siconca).values
    assert np.allclose(fine_extent, coarse_extent, atol=0.6), (fine_extent, coarse_extent)
    assert fine.siconca.dtype == np.float32
