"""Tests of icegrad.inputs.normalisation: training years only, IceNet's statistics, netCDF round trip."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from icegrad.files import write_netcdf
from icegrad.inputs.build import InputError, build_inputs, fit_normalisation
from icegrad.inputs.normalisation import ANOMALY_VARIABLES, NORMALISED_VARIABLES, normalise_variable


def _perturb_years(ds: xr.Dataset, years: list[int], seed: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    chosen = ds["time"].dt.year.isin(years).values
    for name in out.data_vars:
        values = out[name].values
        values[chosen] = (values[chosen] * rng.uniform(0.5, 1.5, values[chosen].shape)).astype(np.float32)
    return out


def test_statistics_ignore_years_outside_training(monthly_ds, norm_stats, train_years):
    outside = [y for y in range(1979, 1985) if not train_years[0] <= y <= train_years[1]]
    refit = fit_normalisation(_perturb_years(monthly_ds, outside), train_years)
    xr.testing.assert_identical(refit, norm_stats)


def test_statistics_do_follow_the_training_years(monthly_ds, norm_stats, train_years):
    refit = fit_normalisation(_perturb_years(monthly_ds, [train_years[1]]), train_years)
    for var in NORMALISED_VARIABLES:
        assert float(refit[f"{var}_std"]) != float(norm_stats[f"{var}_std"])


def test_statistics_follow_icenet_conventions(monthly_ds, norm_stats, train_years):
    train = monthly_ds.sel(time=slice(str(train_years[0]), str(train_years[1]))).astype("float64")
    ocean = ~monthly_ds["land"].values
    for var in ANOMALY_VARIABLES:
        clim = train[var].groupby("time.month").mean("time")
        np.testing.assert_allclose(norm_stats[f"{var}_climatology"].values, clim.values, rtol=1e-6)
        anomaly = (train[var].groupby("time.month") - clim).values
        pixels = anomaly[:, ocean] if var == "tos" else anomaly  # tos: ocean only, every other: all pixels
        np.testing.assert_allclose(float(norm_stats[f"{var}_std"]), pixels.std(), rtol=1e-6)
        np.testing.assert_allclose(float(norm_stats[f"{var}_mean"]), 0.0, atol=1e-6)
    for var in ("ua10", "uas", "vas"):
        assert f"{var}_climatology" not in norm_stats
        np.testing.assert_allclose(float(norm_stats[f"{var}_mean"]), train[var].values.mean(), rtol=1e-6)
        np.testing.assert_allclose(float(norm_stats[f"{var}_std"]), train[var].values.std(), rtol=1e-6)
    assert "siconca_mean" not in norm_stats  # SIC stays a fraction, as in IceNet
    assert norm_stats.attrs["train_start_year"] == 1980 and norm_stats.attrs["train_end_year"] == 1982
    assert norm_stats["tas_climatology"].dims == ("month", "y", "x")
    assert norm_stats["tas_climatology"].attrs["units"] == "K" and "long_name" in norm_stats["tas_std"].attrs


def test_training_months_are_z_scored(monthly_ds, norm_stats, train_years):
    train = monthly_ds.sel(time=slice(str(train_years[0]), str(train_years[1])))
    ocean = ~monthly_ds["land"].values
    for var in NORMALISED_VARIABLES:
        z = normalise_variable(train[var], norm_stats).values.astype(np.float64)
        pixels = z[:, ocean] if var == "tos" else z
        assert abs(pixels.mean()) < 1e-5 and abs(pixels.std() - 1.0) < 1e-5, var
    tos = normalise_variable(train["tos"], norm_stats)
    assert (tos.values[:, ~ocean] == 0).all() and tos.attrs["units"] == "1"


def test_round_trips_through_netcdf(monthly_ds, norm_stats, tmp_path):
    path = write_netcdf(norm_stats, tmp_path / "stats.nc")
    with xr.open_dataset(path) as reloaded:
        reloaded = reloaded.load()
    xr.testing.assert_allclose(reloaded, norm_stats)
    assert reloaded.attrs["train_years"] == "1980-1982"
    np.testing.assert_array_equal(build_inputs(monthly_ds, ["1983-04"], reloaded).values,
                                  build_inputs(monthly_ds, ["1983-04"], norm_stats).values)


@pytest.mark.parametrize(
    ("train_years", "match"),
    [((1975, 1982), r"not fully inside the dataset \(1979-01 to 1984-12\).*\(1979, 1984\)"),
     ((1982, 1980), "reversed"),
     (("x", 1980), "two years")],
)
def test_bad_training_years(monthly_ds, train_years, match):
    with pytest.raises(InputError, match=match):
        fit_normalisation(monthly_ds, train_years)


def test_constant_or_gappy_training_data_is_refused(monthly_ds, train_years):
    constant = monthly_ds.assign(uas=xr.full_like(monthly_ds["uas"], 2.0))
    with pytest.raises(InputError, match=r"'uas' value has zero.*spread"):
        fit_normalisation(constant, train_years)
    gappy = monthly_ds.copy(deep=True)
    gappy["psl"].values[20, 5, 5] = np.nan
    with pytest.raises(InputError, match=r"'psl' has 1 NaN.*fill or interpolate"):
        fit_normalisation(gappy, train_years)
