"""The emulated Arctic's contract: schema, determinism, ground-truth table, regions and exact sensitivity.

Runs on the 200 km grid and short windows so the whole file stays within a few seconds per test;
the realism checks (geography, extents, observations) live in test_emulator_realism.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icegrad.data import emulator
from icegrad.data.emulator.geography import REGIONS
from icegrad.data.schema import validate_monthly_dataset
from icegrad.variables import MONTHLY_VARIABLES

RES = 200


@pytest.fixture(scope="module")
def short() -> xr.Dataset:
    return emulator.generate(RES, "2011-01", "2012-12", seed=0)


def test_output_follows_the_schema_with_cf_and_synthetic_labels(short: xr.Dataset) -> None:
    validate_monthly_dataset(short)
    assert list(short.data_vars) == list(MONTHLY_VARIABLES)
    for name, var in short.data_vars.items():
        assert var.dtype == np.float32, name
        assert var.dims == ("time", "y", "x")
        assert var.attrs["units"] == MONTHLY_VARIABLES[name].units
        assert "emulated" in var.attrs["long_name"]
    for coord in ("lat", "lon", "cell_area", "crs", "land"):
        assert coord in short.coords
    assert short["land"].dtype == bool
    attrs = short.attrs
    assert attrs["data_source"] == "emulated" and attrs["Conventions"] == "CF-1.10"
    assert "SYNTHETIC" in attrs["source"] and "not observations" in attrs["source"]
    assert attrs["resolution_km"] == RES and attrs["seed"] == 0
    assert {"title", "history", "icegrad_version"} <= set(attrs)


def test_sic_and_sst_are_nan_on_land_and_finite_at_sea(short: xr.Dataset) -> None:
    land = short["land"].values
    for name in ("siconca", "tos"):
        values = short[name].values
        assert np.isnan(values[:, land]).all()
        assert np.isfinite(values[:, ~land]).all()
    for name in ("tas", "psl", "uas", "rsds"):
        assert np.isfinite(short[name].values).all()


def test_same_seed_same_arctic_other_seed_other_weather(short: xr.Dataset) -> None:
    again = emulator.generate(RES, "2011-01", "2012-12", seed=0)
    other = emulator.generate(RES, "2011-01", "2012-12", seed=1)
    xr.testing.assert_equal(short, again)
    assert not np.allclose(short["tas"].values, other["tas"].values)
    assert np.nanmax(np.abs(short["siconca"].values - other["siconca"].values)) > 0.1


def test_a_window_is_a_slice_of_the_same_realisation(short: xr.Dataset) -> None:
    window = emulator.generate(RES, "2012-06", "2012-09", seed=0)
    xr.testing.assert_equal(window, short.sel(time=slice("2012-06", "2012-09")))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"resolution_km": 150}, "resolution_km=150"), ({"start": "1970-01"}, "1979-01"),
     ({"start": "2012-05", "end": "2012-01"}, "ordered"), ({"seed": -1}, "seed"),
     ({"end": "not-a-date"}, "YYYY-MM")],
)
def test_bad_parameters_are_named_with_the_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(emulator.EmulatorError, match=message) as info:
        emulator.generate(**kwargs)
    assert isinstance(info.value, ValueError)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_any_seed_gives_physical_fields(seed: int) -> None:
    ds = emulator.generate(RES, "1990-01", "1990-12", seed=seed)
    sic = ds["siconca"].values
    assert np.nanmin(sic) >= 0.0 and np.nanmax(sic) <= 1.0
    assert (ds["rsus"].values <= ds["rsds"].values + 1e-3).all()
    assert (ds["rsds"].values >= 0).all()
    # the SST anomaly's spread fades toward the freezing point under the climatological pack, not the
    # month's actual ice: a few tenths of a kelvin either side of freezing remain possible where they
    # differ (60 seeds of 1990 at 200 km: at most 0.63 K under SIC > 0.9; seed 237715 put one cell of
    # 3,329 at 0.604 K, past the 0.6 K this test first allowed). Open water's SST under the ice would be
    # kelvins off.
    assert np.nanmin(ds["tos"].values) >= 271.35 - 1.0
    ice = sic > 0.9
    assert np.allclose(ds["tos"].values[ice], 271.35, atol=1.0)


def test_load_caches_atomically_and_returns_the_same_data(isolated_cache) -> None:
    first = emulator.load(RES, seed=3, start="2000-01", end="2000-03")
    files = list((isolated_cache / "emulator").glob("*.nc"))
    assert len(files) == 1 and not list((isolated_cache / "emulator").glob("*.part"))
    second = emulator.load(RES, seed=3, start="2000-01", end="2000-03")
    assert second["land"].dtype == bool
    xr.testing.assert_allclose(first.drop_vars("crs"), second.drop_vars("crs"))
    validate_monthly_dataset(second)


def test_true_links_document_a_checkable_ground_truth() -> None:
    table = emulator.true_links()
    columns = {"variable", "lag", "months", "region", "sign", "coefficient", "units", "description"}
    assert columns <= set(table)
    assert ((table.variable == "siconca") & (table.lag == 1)).any(), "persistence must be a row"
    for unlinked in ("zg250", "ua10", "rsus", "ta500"):
        assert unlinked not in set(table.variable)
    assert set(table.variable) <= set(MONTHLY_VARIABLES)
    assert set(table.region) <= {*emulator.REGION_NAMES, "all"}
    assert (np.sign(table.coefficient) == table.sign).all()
    assert table.months.map(lambda ms: set(ms) <= set(range(1, 13))).all()
    drivers = table[table.variable != "siconca"]
    assert (drivers.sign == -1).all(), "every driver link is a warming/sunshine/high-pressure loss of ice"
    assert drivers.description.str.len().min() > 20


def test_module_docstring_carries_the_links_in_prose() -> None:
    doc = emulator.__doc__
    for variable in ("persistence", "air temperature", "shortwave", "pressure", "Sea surface temperature"):
        assert variable in doc
    for unlinked in ("ta500", "zg250", "ua10"):
        assert unlinked in doc


def test_regions_are_named_disjoint_ocean_masks_in_the_right_places() -> None:
    masks = emulator.regions(100)
    assert list(masks.region.values) == [r.name for r in REGIONS]
    assert masks.dtype == bool
    assert int(masks.sum("region").max()) == 1, "regions overlap"
    from icegrad.data.land import land_mask

    assert not (masks.any("region") & land_mask(100)).any()
    area = (masks * masks.cell_area).sum(("y", "x")) / 1e6
    assert (area > 0.5).all(), area.to_series()
    pacific = masks.sel(region="pacific_sector")
    lon = masks.lon.where(pacific)
    assert float(masks.lat.where(pacific).min()) >= 66
    assert bool(((lon >= 150) | (lon <= -125)).where(pacific, True).all())


# --- exact sensitivity against finite differences of the generator itself -------------------------


@pytest.fixture(scope="module")
def sens_setup() -> tuple[xr.Dataset, xr.DataArray]:
    ds = emulator.generate(RES, "2011-10", "2012-09", seed=0)
    roi = emulator.regions(RES).sel(region="pacific_sector", drop=True)
    return ds, roi


def _target(ds: xr.Dataset, time: str, weights: np.ndarray) -> float:
    return float((np.nan_to_num(ds["siconca"].sel(time=time).values[0].astype("float64")) * weights).sum())


def _finite_difference(variable: str, time: str, cell: tuple[int, int], delta: float, target: str,
                       start: str, end: str, weights: np.ndarray) -> float:
    values = []
    for sign in (1.0, -1.0):
        pert = emulator.Perturbation(variable, time, cell[0], cell[1], sign * delta)
        ds = emulator.generate(RES, start, end, seed=0, perturbation=pert)
        values.append(_target(ds, target, weights))
    return (values[0] - values[1]) / (2.0 * delta)


def _check_against_fd(ds, sens, variable, lag, delta, start, end, target) -> None:
    field = sens["sensitivity"].sel(variable=variable, lag=lag).values
    if variable == "siconca":  # nudge SIC where it is not saturated, so a finite step stays linear
        time = f"{pd.Timestamp(target) - pd.DateOffset(months=lag):%Y-%m}"
        sic = np.nan_to_num(ds["siconca"].sel(time=time).values[0])
        field = np.where((sic > 0.2) & (sic < 0.8), field, 0.0)
    cell = np.unravel_index(np.argmax(np.abs(field)), field.shape)
    assert abs(field[cell]) > 0, f"{variable} lag {lag} has no sensitivity to test"
    time = f"{pd.Timestamp(target) - pd.DateOffset(months=lag):%Y-%m}"
    fd = _finite_difference(variable, time, cell, delta, target, start, end, sens["roi_weight"].values)
    assert fd == pytest.approx(field[cell], rel=0.03), (variable, lag, cell)


@pytest.mark.parametrize(("variable", "lag", "delta"),
                         [("tas", 1, 0.05), ("psl", 0, 20.0), ("siconca", 2, 0.002)])
def test_true_sensitivity_matches_finite_differences(sens_setup, variable, lag, delta) -> None:
    ds, roi = sens_setup
    sens = emulator.true_sensitivity(ds, "2012-09", roi, months_back=6)
    _check_against_fd(ds, sens, variable, lag, delta, "2011-10", "2012-09", "2012-09")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "lag", "delta", "region", "target"),
    [("tas", 0, 0.05, "pacific_sector", "2012-09"), ("rsds", 1, 1.0, "pacific_sector", "2012-09"),
     ("rsds", 2, 1.0, "pacific_sector", "2012-09"), ("psl", 1, 20.0, "pacific_sector", "2012-09"),
     ("siconca", 1, 0.002, "pacific_sector", "2012-09"), ("tas", 4, 0.05, "pacific_sector", "2012-09"),
     ("tos", 1, 0.05, "atlantic_sector", "2012-03"), ("tos", 2, 0.05, "atlantic_sector", "2012-03")],
)
def test_true_sensitivity_matches_finite_differences_for_every_link(variable, lag, delta, region, target):
    ds = emulator.generate(RES, "2011-01", target, seed=0)
    roi = emulator.regions(RES).sel(region=region, drop=True)
    sens = emulator.true_sensitivity(ds, target, roi, months_back=6)
    _check_against_fd(ds, sens, variable, lag, delta, "2011-01", target, target)


def test_true_sensitivity_is_zero_for_unlinked_variables_and_shaped_for_attribution(sens_setup) -> None:
    ds, roi = sens_setup
    sens = emulator.true_sensitivity(ds, "2012-09", roi, months_back=12)["sensitivity"]
    assert sens.dims == ("variable", "lag", "y", "x")
    assert list(sens["variable"].values) == list(MONTHLY_VARIABLES)
    assert sens.sizes["lag"] == 12
    for name in emulator.UNLINKED_VARIABLES:
        assert float(np.abs(sens.sel(variable=name)).max()) == 0.0
    for name in ("tas", "rsds", "psl", "siconca"):
        assert float(np.abs(sens.sel(variable=name)).max()) > 0.0
    # Pacific September ice barely feels the Atlantic (winter) SST link; psl acts in the Pacific sector
    tas_scale = float(np.abs(sens.sel(variable="tas")).max())
    assert float(np.abs(sens.sel(variable="tos")).max()) < 1e-3 * tas_scale
    psl = np.abs(sens.sel(variable="psl")).max("lag")
    pacific = emulator.regions(RES).sel(region="pacific_sector", drop=True)
    assert float(psl.where(pacific, 0).max()) == float(psl.max())
    # warm air before a low-ice September lowers it: signs follow the table
    assert float(sens.sel(variable="tas", lag=0).sum()) < 0
    assert float(sens.sel(variable="siconca", lag=1).sum()) > 0


def test_perturbations_must_target_an_input_of_the_rule_inside_the_run() -> None:
    with pytest.raises(emulator.EmulatorError, match="zg250"):
        emulator.Perturbation("zg250", "2000-01", 0, 0, 1.0)
    with pytest.raises(emulator.EmulatorError, match="outside"):
        late = emulator.Perturbation("tas", "2001-01", 0, 0, 1.0)
        emulator.generate(RES, "2000-01", "2000-03", perturbation=late)


def test_true_sensitivity_rejects_what_it_cannot_answer(sens_setup) -> None:
    ds, roi = sens_setup
    with pytest.raises(emulator.EmulatorError, match="months_back"):
        emulator.true_sensitivity(ds, "2012-09", roi, months_back=24)
    with pytest.raises(emulator.EmulatorError, match="not in the dataset"):
        emulator.true_sensitivity(ds, "2015-09", roi)
    with pytest.raises(emulator.EmulatorError, match="ocean"):
        emulator.true_sensitivity(ds, "2012-09", roi & False)
    with pytest.raises(emulator.EmulatorError, match="emulated"):
        emulator.true_sensitivity(ds.assign_attrs(data_source="observed"), "2012-09", roi)


def test_a_realisation_keeps_the_months_grid_and_tuning_and_changes_the_weather() -> None:
    tuned = emulator.Tuning(link_scale=0.5)
    ds = emulator.generate(200, "2010-01", "2011-06", 0, tuning=tuned)
    xr.testing.assert_equal(emulator.realisation(ds, 0), ds)  # its own seed gives it back
    other = emulator.realisation(ds, 3)
    assert other.attrs["seed"] == 3 and other.attrs["emulator_tuning"] == ds.attrs["emulator_tuning"]
    xr.testing.assert_identical(other["time"], ds["time"])
    assert other.sizes == ds.sizes
    assert not np.allclose(other["siconca"].fillna(0), ds["siconca"].fillna(0))
