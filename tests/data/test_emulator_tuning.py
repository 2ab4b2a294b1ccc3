"""The emulated Arctic's tuning: the default is today's constants, a bad one is refused in one line, and a
tuned Arctic's generator, causal sensitivity, optimal forecast and cache all follow the tuning it records.

200 km grid and windows of a year or two, like test_emulator.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import xarray as xr

from icegrad.data import emulator
from icegrad.data.emulator import optimal, sea_ice
from icegrad.data.emulator.drivers import DRIVER_BY_NAME
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.links import DRIVER_LINKS, driver_links
from icegrad.data.emulator.rule import rule
from icegrad.data.emulator.sensitivity import _roi_weights
from icegrad.data.emulator.tuning import ATTRIBUTE, DEFAULT, Tuning, tuning_of

RES = 200
START, END = "2011-10", "2012-09"
TUNED = Tuning.with_memory_floor(0.9, ice_sd=(0.5, 0.6), link_scale=1.3)
"""Every field away from the default: the sweep's best tuning with stronger links."""


@pytest.fixture(scope="module")
def pair() -> tuple[xr.Dataset, xr.Dataset]:
    """The same realisation (seed 0) under the default tuning and under :data:`TUNED`."""
    return (emulator.generate(RES, START, END, seed=0),
            emulator.generate(RES, START, END, seed=0, tuning=TUNED))


def test_the_default_tuning_is_the_module_constants() -> None:
    assert Tuning() == DEFAULT and hash(Tuning()) == hash(DEFAULT) and DEFAULT.is_default
    assert DEFAULT.memory == tuple(sea_ice.RHO) and len(DEFAULT.memory) == 12
    assert DEFAULT.ice_sd == DRIVER_BY_NAME["ice"].std == (0.25, 0.35)
    assert DEFAULT.link_scale == 1.0
    assert driver_links(DEFAULT) is DRIVER_LINKS
    r = rule(RES)
    assert r is rule(RES, DEFAULT) and r.tuning == DEFAULT
    assert np.array_equal(r.memory, sea_ice.RHO)
    for month in (1, 7):
        assert r.driver_std("ice", 2000, month) == pytest.approx(DRIVER_BY_NAME["ice"].seasonal_std(month))
    assert emulator.true_links().equals(emulator.true_links(DEFAULT))


@pytest.mark.parametrize(("changes", "problem"), [
    ({"memory": (0.9,) * 11}, "memory must be 12 values in \\[0, 1\\)"),
    ({"memory": (0.9,) * 11 + (1.0,)}, "memory must be 12 values in \\[0, 1\\)"),
    ({"memory": (0.9,) * 11 + (float("nan"),)}, "memory must be 12 values"),
    ({"memory": "0.9"}, "memory must be 12 values"),
    ({"ice_sd": (0.5,)}, "ice_sd must be two positive numbers"),
    ({"ice_sd": (0.5, -0.1)}, "ice_sd must be two positive numbers"),
    ({"link_scale": -1.0}, "link_scale must be a finite number >= 0"),
    ({"link_scale": float("inf")}, "link_scale must be a finite number >= 0"),
    ({"link_scale": "big"}, "link_scale must be a finite number >= 0"),
])
def test_an_invalid_tuning_is_refused_in_one_line_naming_the_fix(changes, problem) -> None:
    with pytest.raises(EmulatorError, match=problem) as err:
        Tuning(**changes)
    assert "\n" not in str(err.value) and "pass" in str(err.value)


def test_the_sweep_constructor_json_and_the_dataset_attribute_round_trip() -> None:
    floor = Tuning.with_memory_floor(0.9)
    assert floor.memory == tuple(max(v, 0.9) for v in sea_ice.RHO) and floor.ice_sd == DEFAULT.ice_sd
    assert isinstance(hash(TUNED), int) and TUNED != floor and not TUNED.is_default
    assert Tuning(memory=np.asarray(TUNED.memory), ice_sd=[0.5, 0.6], link_scale=1.3) == TUNED
    assert Tuning.from_json(TUNED.to_json()) == TUNED
    assert tuning_of({ATTRIBUTE: TUNED.to_json()}) == TUNED
    assert tuning_of({}) == DEFAULT  # datasets from before tunings were all the default
    assert "ice_sd 0.5 0.6" in TUNED.label() and DEFAULT.label() == "default"
    with pytest.raises(EmulatorError, match="emulator_tuning must be a JSON object"):
        tuning_of({ATTRIBUTE: '{"rho": 1}'})
    with pytest.raises(EmulatorError, match=r"tuning must be an icegrad\.data\.emulator\.tuning\.Tuning"):
        emulator.generate(RES, "2000-01", "2000-01", tuning={"link_scale": 1.0})


def test_the_rule_and_the_links_follow_the_tuning() -> None:
    r = rule(RES, TUNED)
    assert r is rule(RES, TUNED) and r is not rule(RES)
    assert np.array_equal(r.memory, TUNED.memory)
    assert r.driver_std("ice", 2000, 1) == pytest.approx(0.5)
    assert r.driver_std("ice", 2000, 7) == pytest.approx(0.6)
    for (tuned, weight), (default, base) in zip(r.links, rule(RES).links, strict=True):
        assert tuned.coefficient == pytest.approx(1.3 * default.coefficient)
        assert np.allclose(weight, 1.3 * base)
    table = emulator.true_links(TUNED)
    assert (table.loc[table.variable == "siconca", "coefficient"] >= 0.9).all()
    assert np.allclose(table.coefficient[2:], 1.3 * emulator.true_links().coefficient[2:])


def test_a_tuned_arctic_has_the_same_weather_other_ice_and_records_its_tuning(pair) -> None:
    default, tuned = pair
    assert tuning_of(default) == DEFAULT and tuning_of(tuned) == TUNED
    assert tuned.attrs[ATTRIBUTE] == TUNED.to_json() and "tuning=Tuning(" in tuned.attrs["history"]
    xr.testing.assert_equal(default["psl"], tuned["psl"])  # the seed's weather, whatever the tuning
    assert not np.allclose(np.nan_to_num(default["siconca"].values), np.nan_to_num(tuned["siconca"].values))


def test_the_optimal_forecast_of_a_tuned_arctic_uses_its_tuning(pair) -> None:
    _, tuned = pair
    start, lead = "2012-07", 3
    maps = optimal.probability_maps(tuned, [start], [lead]).isel(time=0, lead=0).values
    fields = {k: tf.constant(v) for k, v in optimal.input_fields(tuned, start).items()}
    right = optimal.OptimalForecast(RES, 0, start, lead, tuning=TUNED).probability(fields).numpy()
    wrong = optimal.OptimalForecast(RES, 0, start, lead).probability(fields).numpy()
    assert np.allclose(maps, right, atol=1e-12)
    assert np.abs(maps - wrong).max() > 0.05  # the default rule would be a different forecast


def test_the_closed_form_agrees_with_the_tuned_generators_own_futures(pair) -> None:
    _, tuned = pair
    weights = _roi_weights(tuned, emulator.regions(RES).sel(region="pacific_sector", drop=True))
    start, lead = "2012-08", 2
    value, _ = optimal.forecast(tuned, start, lead, weights)
    mean, se = optimal.monte_carlo(tuned, start, lead, weights, n=200)
    assert abs(value - mean) < 4 * se + 1e-3, (value, mean, se)
    as_default = tuned.assign_attrs({ATTRIBUTE: DEFAULT.to_json()})
    default_value, _ = optimal.forecast(as_default, start, lead, weights)
    assert abs(default_value - value) > 4 * se  # so the agreement above is the tuning's, not chance


def test_the_true_sensitivity_of_a_tuned_arctic_uses_its_memory_and_links(pair) -> None:
    _, tuned = pair
    roi = emulator.regions(RES).sel(region="pacific_sector", drop=True)
    as_default = tuned.assign_attrs({ATTRIBUTE: DEFAULT.to_json()})  # same SIC, the default rule
    truth = emulator.true_sensitivity(tuned, END, roi, months_back=3)
    sens, weights = truth["sensitivity"], truth["roi_weight"].values
    base = emulator.true_sensitivity(as_default, END, roi, months_back=3)["sensitivity"]
    ratio = TUNED.memory[8] / DEFAULT.memory[8]  # one month of September's memory back from the target
    field = sens.sel(variable="siconca", lag=1).values
    assert np.abs(field).max() > 0
    assert np.allclose(field, ratio * base.sel(variable="siconca", lag=1).values, rtol=1e-12, atol=0.0)
    assert np.allclose(sens.sel(variable="tas", lag=0).values, 1.3 * base.sel(variable="tas", lag=0).values)
    # and it is the tuned generator's own sensitivity: a finite difference of generate(..., tuning=TUNED)
    lag1 = sens.sel(variable="tas", lag=1).values
    cell = np.unravel_index(np.argmax(np.abs(lag1)), lag1.shape)
    values = []
    for sign in (1.0, -1.0):
        nudged = emulator.generate(RES, START, END, seed=0, tuning=TUNED,
                                   perturbation=emulator.Perturbation("tas", "2012-08", *cell, sign * 0.05))
        values.append(float((np.nan_to_num(nudged["siconca"].sel(time=END).values[0].astype("float64"))
                             * weights).sum()))
    assert (values[0] - values[1]) / 0.1 == pytest.approx(lag1[cell], rel=0.03)


def test_load_keeps_one_cache_entry_per_tuning(isolated_cache) -> None:
    window = {"seed": 3, "start": "2000-01", "end": "2000-03"}
    default = emulator.load(RES, **window)
    tuned = emulator.load(RES, **window, tuning=TUNED)
    assert len(list((isolated_cache / "emulator").glob("*.nc"))) == 2
    assert tuning_of(default) == DEFAULT and tuning_of(tuned) == TUNED
    assert not np.allclose(np.nan_to_num(default["siconca"].values), np.nan_to_num(tuned["siconca"].values))
    again = emulator.load(RES, **window, tuning=TUNED)
    assert len(list((isolated_cache / "emulator").glob("*.nc"))) == 2
    xr.testing.assert_allclose(again["siconca"], tuned["siconca"])
    assert "tuning" not in default.attrs["cache_parameters"]  # the default's key is the one it always had
