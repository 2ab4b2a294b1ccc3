"""The optimal forecast, the book's truth: it agrees with the generator's own futures and its gradient
with finite differences, and it reads only what a forecaster can see."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import xarray as xr

from icegrad.data import emulator
from icegrad.data.emulator import optimal, sea_ice
from icegrad.data.emulator.rule import rule
from icegrad.data.emulator.sensitivity import _roi_weights

RES = 200


@pytest.fixture(scope="module")
def arctic() -> tuple[xr.Dataset, np.ndarray]:
    ds = emulator.generate(RES, "2012-01", "2013-09", seed=0)
    roi = emulator.regions(RES).sel(region="pacific_sector", drop=True)
    return ds, _roi_weights(ds, roi)


@pytest.mark.parametrize(("start", "lead"), [("2013-09", 1), ("2013-07", 3), ("2013-04", 6)])
def test_the_closed_form_agrees_with_a_monte_carlo_of_the_generator(arctic, start, lead) -> None:
    ds, weights = arctic
    value, _ = optimal.forecast(ds, start, lead, weights)
    mean, se = optimal.monte_carlo(ds, start, lead, weights, n=300)
    assert abs(value - mean) < 4 * se + 1e-3, (value, mean, se)


@pytest.mark.parametrize(("key", "delta"), [(("siconca", 1), 1e-4), (("tas", 1), 0.05),
                                            (("rsds", 2), 0.5), (("psl", 1), 5.0)])
def test_the_gradient_agrees_with_finite_differences(arctic, key, delta) -> None:
    ds, weights = arctic
    start, lead = "2013-08", 2
    _, grads = optimal.forecast(ds, start, lead, weights)
    field = grads[key]
    cell = np.unravel_index(np.argmax(np.abs(field)), field.shape)
    assert abs(field[cell]) > 0
    model = optimal.OptimalForecast(RES, 0, start, lead, weights)
    fields = optimal.input_fields(ds, start)
    values = []
    for sign in (1.0, -1.0):
        nudged = {k: v.copy() for k, v in fields.items()}
        nudged[key][cell] += sign * delta
        values.append(float(model({k: tf.constant(v) for k, v in nudged.items()})))
    fd = (values[0] - values[1]) / (2 * delta)
    assert fd == pytest.approx(field[cell], rel=0.02), (key, cell)


def test_the_memory_is_read_off_the_sic_the_forecaster_sees(arctic) -> None:
    ds, _ = arctic
    r = rule(RES)
    sic = ds["siconca"].sel(time="2013-06").values[0].astype("float64")
    a = (sea_ice.state_from_sic(np.nan_to_num(sic)) - r.base(2013, 6)) * r.ocean
    assert np.allclose(sea_ice.sic_from_state(r.base(2013, 6) + a)[~r.land], sic[~r.land], atol=1e-6)


def test_inputs_the_forecast_does_not_need_have_no_gradient(arctic) -> None:
    ds, weights = arctic
    _, grads = optimal.forecast(ds, "2013-09", 1, weights)  # September: no Atlantic SST link acts
    assert float(np.abs(grads[("tos", 1)]).max()) == 0.0
    assert float(np.abs(grads[("siconca", 1)]).sum()) > 0
    assert set(grads) == {(name, k) for name in ("siconca", "tas", "rsds", "psl", "tos") for k in (1, 2)}


def test_missing_input_months_are_named(arctic) -> None:
    ds, weights = arctic
    with pytest.raises(emulator.EmulatorError, match="2011-12"):
        optimal.forecast(ds, "2012-01", 1, weights)


@pytest.mark.parametrize(("start", "lead"), [("2013-07", 3), ("2013-04", 6)])
def test_the_per_cell_probability_agrees_with_the_generator_at_the_edge(arctic, start, lead) -> None:
    ds, _ = arctic
    model = optimal.OptimalForecast(RES, 0, start, lead)
    fields = {k: tf.constant(v) for k, v in optimal.input_fields(ds, start).items()}
    probability = model.probability(fields).numpy()
    cell = np.unravel_index(np.argmin(np.abs(probability - 0.5)), probability.shape)  # most uncertain
    one_cell = np.zeros(probability.shape)
    one_cell[cell] = 1.0
    mean, se = optimal.monte_carlo(ds, start, lead, one_cell, n=300)
    assert abs(probability[cell] - mean) < 4 * se + 1e-3, (cell, probability[cell], mean, se)


def test_the_roi_forecast_is_the_weighted_sum_of_the_per_cell_map(arctic) -> None:
    ds, weights = arctic
    start, lead = "2013-08", 2
    fields = {k: tf.constant(v) for k, v in optimal.input_fields(ds, start).items()}
    model = optimal.OptimalForecast(RES, 0, start, lead, weights)
    assert float(model(fields)) == pytest.approx(float((weights * model.probability(fields).numpy()).sum()))
    with pytest.raises(emulator.EmulatorError, match="weights"):
        optimal.OptimalForecast(RES, 0, start, lead)(fields)


def test_probability_maps_hold_each_start_and_lead_and_refuse_a_real_product(arctic) -> None:
    ds, _ = arctic
    maps = optimal.probability_maps(ds, ["2013-02", "2013-05"], [1, 4])
    assert maps.dims == ("time", "y", "x", "lead") and list(maps["lead"].values) == [1, 4]
    assert "SYNTHETIC" in maps.attrs["source"]
    fields = {k: tf.constant(v) for k, v in optimal.input_fields(ds, "2013-05").items()}
    expected = optimal.OptimalForecast(RES, 0, "2013-05", 4).probability(fields).numpy()
    assert np.allclose(maps.sel(time="2013-05-01", lead=4).values, expected)
    assert not np.allclose(maps.isel(time=0, lead=0).values, maps.isel(time=1, lead=1).values)
    with pytest.raises(emulator.EmulatorError, match="only the emulated"):
        optimal.probability_maps(ds.assign_attrs(data_source="nsidc"), ["2013-05"], [1])
