"""Tests of icegrad.inputs.linear_trend: exact on lines, clipped, past years only, same as a per-cell fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.inputs.build import InputError, build_inputs, linear_trend_forecast
from icegrad.inputs.linear_trend import TrendFits, trend_at


def _with_sic(ds: xr.Dataset, values: np.ndarray) -> xr.DataArray:
    sic = ds["siconca"].copy()
    sic.values = np.where(ds["land"].values, np.nan, values).astype(np.float32)
    return sic


def test_exact_on_a_perfectly_linear_series(monthly_ds):
    rng = np.random.default_rng(0)
    shape = monthly_ds["siconca"].shape
    years = monthly_ds["time"].dt.year.values - 1979.0
    months = monthly_ds["time"].dt.month.values - 1
    intercept = rng.uniform(0.3, 0.6, (12, *shape[1:]))  # a different line for every month and cell
    slope = rng.uniform(-0.04, 0.04, (12, *shape[1:]))
    sic = _with_sic(monthly_ds, intercept[months] + slope[months] * years[:, None, None])
    trend = linear_trend_forecast(sic, ["1981-05", "1984-03"])
    assert trend.dims == ("time", "lead", "y", "x") and trend.sizes["lead"] == 6
    ocean = ~monthly_ds["land"].values
    for start in trend.time.values:
        for lead in range(1, 7):
            target = pd.Timestamp(start) + pd.DateOffset(months=lead - 1)
            expected = intercept[target.month - 1] + slope[target.month - 1] * (target.year - 1979)
            got = trend.sel(time=start, lead=lead).values
            np.testing.assert_allclose(got[ocean], expected[ocean], atol=2e-6)
            assert (got[~ocean] == 0).all()
            assert pd.Timestamp(trend.sel(time=start, lead=lead).target_time.values) == target


def test_clipped_to_unit_interval(monthly_ds):
    years = monthly_ds["time"].dt.year.values - 1979.0
    rising = np.broadcast_to((0.5 + 0.15 * years)[:, None, None], monthly_ds["siconca"].shape)
    ocean = ~monthly_ds["land"].values
    up = linear_trend_forecast(_with_sic(monthly_ds, np.clip(rising, 0, 1)), ["1983-01"])
    down = linear_trend_forecast(_with_sic(monthly_ds, np.clip(1.0 - rising, 0, 1)), ["1983-01"])
    assert (up.values[:, :, ocean] == 1.0).all()  # the line reaches 1.1 in 1983: clipped
    down_late = linear_trend_forecast(_with_sic(monthly_ds, np.clip(1.0 - rising, 0, 1)), ["1984-07"])
    assert (down_late.values[:, :, ocean] == 0.0).all()  # the fit reaches -0.17 in 1984: clipped
    assert (down.values[:, :, ocean] == 0.0).all()  # the line reaches -0.1 in 1983: clipped


def test_one_past_year_is_persistence(monthly_ds):
    trend = linear_trend_forecast(monthly_ds["siconca"], ["1980-01"])  # only January 1979 behind lead 1
    last_year = monthly_ds["siconca"].sel(time="1979-01-01").fillna(0.0).values
    np.testing.assert_allclose(trend.sel(lead=1).values[0], last_year, atol=1e-7)


@settings(max_examples=15, deadline=None)
@given(targets=st.lists(st.integers(min_value=12, max_value=77), min_size=1, max_size=4))
def test_matches_an_independent_per_cell_fit_on_past_years_only(targets):
    rng = np.random.default_rng(sum(targets))
    values = rng.uniform(0, 1, (72, 3, 4))
    got = trend_at(values, np.array(targets))
    for t, target in enumerate(targets):
        past = np.arange(target - 12, -1, -12)[::-1]  # same calendar month, every earlier year
        x = past // 12
        for i, j in np.ndindex(3, 4):
            if len(past) == 1:
                expected = values[past[0], i, j]
            else:
                slope, intercept = np.polyfit(x, values[past, i, j], 1)
                expected = intercept + slope * (target // 12)
            assert got[t, i, j] == pytest.approx(np.clip(expected, 0, 1), abs=1e-9)


def test_trend_channels_equal_the_forecast(monthly_ds, norm_stats):
    starts = ["1981-02", "1984-12", "1985-01"]
    inputs = build_inputs(monthly_ds, starts, norm_stats,
                          channels=[f"siconca_linear_trend_{k}" for k in range(1, 7)])
    trend = linear_trend_forecast(monthly_ds["siconca"], starts)
    np.testing.assert_allclose(inputs.values, trend.transpose("time", "y", "x", "lead").values, atol=1e-6)


def test_bad_requests(monthly_ds):
    with pytest.raises(InputError, match="lack 12 months of history"):
        linear_trend_forecast(monthly_ds["siconca"], ["1979-06"])
    with pytest.raises(InputError, match="n_leads must be between 1 and 6"):
        linear_trend_forecast(monthly_ds["siconca"], ["1981-06"], n_leads=13)


def test_fits_only_the_months_read_and_gives_the_full_fits_values():
    """A few starts fit a few lines, not the whole record's, with exactly the values of fitting them all."""
    values = np.random.default_rng(3).uniform(0, 1, (120, 5, 6)).astype(np.float32)
    targets = np.array([[50, 51], [95, 107]])
    few = TrendFits.fit(values, targets - 12)
    assert few.mean.shape == few.slope.shape == (4, 5, 6)
    every = TrendFits.fit(values, np.arange(values.shape[0]))
    np.testing.assert_array_equal(few.at(targets), every.at(targets))
    with pytest.raises(InputError, match="fit those months"):
        few.at(np.array([52]))
    with pytest.raises(InputError, match="12 months of history"):
        TrendFits.fit(values, np.array([-1, 3]))
