"""Tests of icegrad.inputs.build: channel order, IceNet's lag convention, no leakage, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icegrad.inputs.build import (
    InputError,
    available_start_months,
    build_inputs,
    fit_normalisation,
    inputs_for_forecast,
)
from icegrad.variables import CHANNEL_NAMES, SIC_ONLY_CHANNEL_NAMES

ICENET_ORDER = (
    [f"siconca_abs_{k}" for k in range(1, 13)]
    + [f"siconca_linear_trend_{k}" for k in range(1, 7)]
    + [f"{v}_anom_{k}" for v in ("tas", "ta500", "tos", "rsds", "rsus", "psl", "zg500", "zg250")
       for k in (1, 2, 3)]
    + ["ua10_abs_1", "ua10_abs_2", "ua10_abs_3", "uas_abs_1", "vas_abs_1", "land", "cos_month", "sin_month"]
)
"""IceNet's channel order, written out from the paper's table rather than from icegrad.variables."""


def _identity_stats(stats: xr.Dataset) -> xr.Dataset:
    """Statistics that leave values unchanged (climatology 0, mean 0, std 1), to read raw values back."""
    out = stats.copy(deep=True)
    for name in out.data_vars:
        out[name] = xr.zeros_like(out[name]) + (1.0 if name.endswith("_std") else 0.0)
    return out


def _month_coded(ds: xr.Dataset) -> xr.Dataset:
    """A copy whose every value encodes its own month: offset/1000 for SIC, 250 + offset otherwise."""
    out = ds.copy(deep=True)
    offset = np.arange(ds.sizes["time"], dtype=np.float32)[:, None, None]
    for name in out.data_vars:
        coded = offset / 1000.0 if name == "siconca" else 250.0 + offset
        coded = np.broadcast_to(coded, out[name].shape)
        out[name].values = np.where(np.isnan(ds[name].values), np.nan, coded).astype(np.float32)
    return out


def test_channels_are_icenets_in_order(monthly_ds, norm_stats):
    inputs = build_inputs(monthly_ds, ["1981-03", "1982-11"], norm_stats)
    assert list(inputs["channel"].values) == ICENET_ORDER
    assert inputs.dims == ("time", "y", "x", "channel")
    assert inputs.dtype == np.float32 and inputs.name == "inputs"
    assert inputs.shape == (2, 54, 54, 50)
    assert list(inputs["time"].values) == list(pd.DatetimeIndex(["1981-03-01", "1982-11-01"]))
    groups = dict(zip(inputs["channel"].values, inputs["group"].values, strict=True))
    assert groups["siconca_abs_7"] == "sic" and groups["siconca_linear_trend_2"] == "trend"
    assert groups["psl_anom_3"] == "climate" and groups["land"] == "static"
    assert groups["sin_month"] == "seasonal"
    assert {"lat", "lon"} <= set(inputs.coords)
    assert inputs.attrs["data_source"] == "emulated" and "synthetic" in inputs.attrs["source"]
    assert inputs.attrs["normalisation_train_years"] == "1980-1982"
    assert "s - k" in inputs.attrs["lag_convention"]
    assert np.isfinite(inputs.values).all()


def test_subset_keeps_requested_order_and_values(monthly_ds, norm_stats):
    wanted = ["sin_month", "tas_anom_2", "siconca_abs_3", "siconca_linear_trend_4"]
    starts = ["1981-06", "1983-01"]
    subset = build_inputs(monthly_ds, starts, norm_stats, channels=wanted)
    full = build_inputs(monthly_ds, starts, norm_stats)
    assert list(subset["channel"].values) == wanted
    np.testing.assert_array_equal(subset.values, full.sel(channel=wanted).values)


def test_sic_lags_follow_icenet_convention(monthly_ds, norm_stats, month_index):
    coded = _month_coded(monthly_ds)
    starts = available_start_months(coded)[[0, 17, -1]]  # includes the start one month past the data
    inputs = build_inputs(coded, starts, norm_stats, channels=[f"siconca_abs_{k}" for k in range(1, 13)])
    ocean = ~monthly_ds["land"].values
    for t, start in enumerate(starts):
        s = month_index(coded, start) if start <= coded.time.values[-1] else coded.sizes["time"]
        for k in range(1, 13):
            channel = inputs.sel(channel=f"siconca_abs_{k}").values[t]
            np.testing.assert_allclose(channel[ocean], (s - k) / 1000.0, rtol=1e-6)
            assert (channel[~ocean] == 0).all()


def test_climate_lags_follow_icenet_convention(monthly_ds, norm_stats, month_index):
    coded = _month_coded(monthly_ds)
    start = pd.Timestamp("1982-04")
    s = month_index(coded, start)
    names = ["tas_anom_1", "tas_anom_2", "tas_anom_3", "ua10_abs_1", "ua10_abs_3", "uas_abs_1", "vas_abs_1"]
    inputs = build_inputs(coded, [start], _identity_stats(norm_stats), channels=names).isel(time=0)
    for name in names:
        lag = int(name.rsplit("_", 1)[1])
        np.testing.assert_allclose(inputs.sel(channel=name).values, 250.0 + s - lag, rtol=1e-6)


def test_anomalies_match_an_independent_computation(monthly_ds, norm_stats):
    start = "1983-02"
    inputs = build_inputs(monthly_ds, [start], norm_stats).isel(time=0)
    for var, lag, month in (("tas", 1, "1983-01"), ("psl", 3, "1982-11"), ("tos", 2, "1982-12")):
        clim = monthly_ds[var].sel(time=slice("1980", "1982")).groupby("time.month").mean("time")
        value = monthly_ds[var].sel(time=pd.Timestamp(month)) - clim.sel(month=pd.Timestamp(month).month)
        expected = ((value - norm_stats[f"{var}_mean"]) / norm_stats[f"{var}_std"]).fillna(0.0)
        np.testing.assert_allclose(inputs.sel(channel=f"{var}_anom_{lag}").values, expected.values,
                                   rtol=1e-4, atol=1e-4)
    ua10 = monthly_ds["ua10"].sel(time=pd.Timestamp("1982-12"))
    ua10 = (ua10 - norm_stats["ua10_mean"]) / norm_stats["ua10_std"]
    np.testing.assert_allclose(inputs.sel(channel="ua10_abs_2").values, ua10.values, rtol=1e-5, atol=1e-5)


def test_land_cos_sin_and_tos_on_land(monthly_ds, norm_stats):
    starts = pd.date_range("1981-01", "1981-12", freq="MS")
    inputs = build_inputs(monthly_ds, starts, norm_stats)
    land = monthly_ds["land"].values
    np.testing.assert_array_equal(inputs.sel(channel="land").values, np.broadcast_to(land, (12, *land.shape)))
    for name in ("tos_anom_1", "tos_anom_3"):
        assert (inputs.sel(channel=name).values[:, land] == 0).all()
    month = np.arange(1, 13)
    cos = inputs.sel(channel="cos_month").values
    sin = inputs.sel(channel="sin_month").values
    assert (cos == cos[:, :1, :1]).all() and (sin == sin[:, :1, :1]).all()  # constant over the grid
    np.testing.assert_allclose(cos[:, 0, 0], np.cos(2 * np.pi * month / 12), atol=1e-7)
    np.testing.assert_allclose(sin[:, 0, 0], np.sin(2 * np.pi * month / 12), atol=1e-7)
    np.testing.assert_allclose([cos[2, 0, 0], sin[2, 0, 0]], [0.0, 1.0], atol=1e-7)  # March
    np.testing.assert_allclose([cos[11, 0, 0], sin[11, 0, 0]], [1.0, 0.0], atol=1e-7)  # December


def _perturb_from(ds: xr.Dataset, first: int, seed: int) -> xr.Dataset:
    """A copy with every variable replaced by new random values from month ``first`` on."""
    rng = np.random.default_rng(seed)
    out = ds.copy(deep=True)
    for name in out.data_vars:
        values = out[name].values
        tail = values[first:]
        noise = rng.uniform(0, 1, tail.shape) if name == "siconca" else tail + rng.normal(0, 50, tail.shape)
        values[first:] = np.where(np.isnan(tail), np.nan, noise).astype(np.float32)
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0, max_value=60), seed=st.integers(0, 2**16))
def test_no_leakage_from_the_start_month_onward(monthly_ds, norm_stats, month_index, position, seed):
    starts = available_start_months(monthly_ds)[: monthly_ds.sizes["time"] - 12]  # starts inside the data
    start = starts[position % len(starts)]
    perturbed = _perturb_from(monthly_ds, month_index(monthly_ds, start), seed)
    assert not perturbed["tas"].equals(monthly_ds["tas"])
    before = build_inputs(monthly_ds, [start], norm_stats)
    after = build_inputs(perturbed, [start], norm_stats)
    np.testing.assert_array_equal(before.values, after.values)


def test_inputs_need_only_the_past(monthly_ds, norm_stats):
    start = pd.Timestamp("1982-07")
    truncated = monthly_ds.sel(time=slice(None, start - pd.DateOffset(months=1)))
    np.testing.assert_array_equal(build_inputs(truncated, [start], norm_stats).values,
                                  build_inputs(monthly_ds, [start], norm_stats).values)


def test_a_change_just_before_the_start_does_show(monthly_ds, norm_stats, month_index):
    start = pd.Timestamp("1982-07")
    changed = _perturb_from(monthly_ds, month_index(monthly_ds, start) - 1, seed=1)
    before = build_inputs(monthly_ds, [start], norm_stats)
    after = build_inputs(changed, [start], norm_stats)
    differs = (before != after).any(("time", "y", "x"))
    lag1 = [n for n in CHANNEL_NAMES if n.endswith("_1") and "linear_trend" not in n]
    assert differs.sel(channel=lag1).all()
    assert not differs.sel(channel=["siconca_abs_2", "tas_anom_2", "land", "cos_month"]).any()


def test_sic_only_dataset_builds_sic_only_channels(dataset_factory):
    ds = dataset_factory(variables=["siconca"])
    stats = fit_normalisation(ds, (1980, 1982))
    assert not stats.data_vars
    inputs = build_inputs(ds, ["1983-05"], stats, channels=SIC_ONLY_CHANNEL_NAMES)
    assert inputs.sizes["channel"] == 21 and np.isfinite(inputs.values).all()


def test_inputs_for_forecast_picks_the_start_for_the_lead(monthly_ds, norm_stats):
    sample = inputs_for_forecast(monthly_ds, "1983-09", 4, norm_stats)
    assert sample.sizes["time"] == 1 and pd.Timestamp(sample.time.values[0]) == pd.Timestamp("1983-06")
    np.testing.assert_array_equal(sample.values, build_inputs(monthly_ds, ["1983-06"], norm_stats).values)
    assert sample.attrs["target_month"] == "1983-09" and sample.attrs["lead"] == 4
    lead1 = inputs_for_forecast(monthly_ds, "1983-09", 1, norm_stats)
    assert pd.Timestamp(lead1.time.values[0]) == pd.Timestamp("1983-09")
    with pytest.raises(InputError, match=r"lead must be 1\.\.6"):
        inputs_for_forecast(monthly_ds, "1983-09", 7, norm_stats)


def _nan_at(ds: xr.Dataset, var: str, month: str) -> xr.Dataset:
    out = ds.copy(deep=True)
    ocean = np.argwhere(~ds["land"].values)[0]
    out[var].loc[{"time": month, "y": ds.y[ocean[0]], "x": ds.x[ocean[1]]}] = np.nan
    return out


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda ds: ds.drop_vars("tas"), {}, r"need variable\(s\) \['tas'\].*SIC_ONLY_CHANNEL_NAMES"),
        (lambda ds: ds.isel(x=slice(0, 50)), {}, "EASE"),
        (lambda ds: _nan_at(ds, "siconca", "1982-03"), {}, "'siconca' has 1 NaN.*1982-03.*fill"),
        (lambda ds: _nan_at(ds, "rsds", "1982-04"), {}, "'rsds' has 1 NaN.*1982-04"),
        (lambda ds: ds, {"start_months": ["1979-12"]}, r"lack 12 months of history.*serves starts 1980-01"),
        (lambda ds: ds, {"start_months": ["1985-02"]}, "beyond the data's end"),
        (lambda ds: ds, {"start_months": ["1982-05-15"]}, "first day of a month"),
        (lambda ds: ds, {"channels": ["siconca_abs_13"]}, "unknown IceNet channel 'siconca_abs_13'"),
        (lambda ds: ds, {"channels": ["tas_anomaly_1"]}, "Did you mean tas_anom_1"),
        (lambda ds: ds, {"channels": ["land", "land"]}, "more than once"),
        (lambda ds: ds, {"channels": "land"}, "sequence of names"),
        (lambda ds: ds, {"channels": []}, "no channels"),
        (lambda ds: ds.assign(siconca=ds["siconca"] * 100), {}, "percent"),
    ],
)
def test_bad_input_raises_input_error_with_a_fix(monthly_ds, norm_stats, month_index, mutate, kwargs, match):
    args = {"start_months": ["1982-06"], "channels": CHANNEL_NAMES} | kwargs
    with pytest.raises(InputError, match=match) as caught:
        build_inputs(mutate(monthly_ds), args["start_months"], norm_stats, channels=args["channels"])
    assert isinstance(caught.value, ValueError)


def test_nan_after_the_start_does_not_block_it(monthly_ds, norm_stats, month_index):
    later = _nan_at(monthly_ds, "siconca", "1982-06")
    assert np.isfinite(build_inputs(later, ["1982-06"], norm_stats).values).all()


def test_statistics_must_fit_the_data(monthly_ds, norm_stats, dataset_factory):
    with pytest.raises(InputError, match=r"lack.*tas_mean.*refit"):
        build_inputs(monthly_ds, ["1982-06"], norm_stats.drop_vars(["tas_mean"]))
    coarse = norm_stats.isel(x=slice(0, 27), y=slice(0, 27))
    with pytest.raises(InputError, match="27x27 grid but the data is 54x54"):
        build_inputs(monthly_ds, ["1982-06"], coarse)
