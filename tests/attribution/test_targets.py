from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.targets import (
    RoiTarget,
    check_leads,
    forecast_start,
    roi_target,
    roi_weights,
    sample_for_forecast,
    target_month,
)


def test_start_month_of_september_2013_per_lead() -> None:
    starts = [f"{forecast_start('2013-09', lead):%Y-%m}" for lead in range(1, 7)]
    assert starts == ["2013-09", "2013-08", "2013-07", "2013-06", "2013-05", "2013-04"]


@given(year=st.integers(1980, 2030), month=st.integers(1, 12), lead=st.integers(1, 6))
def test_start_and_target_month_are_inverse(year: int, month: int, lead: int) -> None:
    target = pd.Timestamp(year=year, month=month, day=1)
    assert target_month(forecast_start(target, lead), lead) == target


@pytest.mark.parametrize("leads", [0, 7, (1, 1), (), (2.5,)])
def test_bad_leads_are_rejected(leads: object) -> None:
    with pytest.raises(AttributionError, match="lead"):
        check_leads(leads)  # type: ignore[arg-type]


def test_roi_rules() -> None:
    roi = np.zeros((4, 4), dtype=bool)
    with pytest.raises(AttributionError, match="empty"):
        roi_weights(roi)
    roi[1, 1] = roi[2, 2] = True
    land = np.zeros((4, 4), dtype=bool)
    land[1, 1] = land[2, 2] = True
    with pytest.raises(AttributionError, match="all land"):
        roi_weights(roi, land)
    with pytest.raises(AttributionError, match="boolean"):
        roi_weights(roi.astype(int))
    with pytest.raises(AttributionError, match="weighting"):
        roi_weights(roi, weighting="cosine")
    land[2, 2] = False
    weights = roi_weights(roi, land)
    assert weights[2, 2] == pytest.approx(1.0) and weights.sum() == pytest.approx(1.0)


def test_area_weighting_uses_cell_area() -> None:
    roi = xr.DataArray(np.array([[True, True]]), dims=("y", "x"),
                       coords={"cell_area": (("y", "x"), np.array([[1.0, 3.0]]))})
    np.testing.assert_allclose(roi_weights(roi, weighting="area"), [[0.25, 0.75]])
    np.testing.assert_allclose(roi_weights(roi, weighting="uniform"), [[0.5, 0.5]])


def test_sip_and_open_water_add_to_one_and_match_numpy() -> None:
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 5, 5, 3, 6))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-2, keepdims=True)
    roi = np.zeros((5, 5), dtype=bool)
    roi[1:4, 2:] = True
    sip = roi_target(roi, (1, 6), "sip")
    water = roi_target(roi, (1, 6), "open_water")
    got = sip(tf.constant(probs, tf.float32)).numpy()
    np.testing.assert_allclose(got + water(tf.constant(probs, tf.float32)).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(got, sip.numpy(probs), rtol=1e-5)
    expected = (probs[:, 1:4, 2:, 1:, 0]).sum(axis=-1).mean(axis=(1, 2))
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-5)


def test_unknown_target_and_wrong_output_shape() -> None:
    with pytest.raises(AttributionError, match="unknown target"):
        RoiTarget(np.ones((2, 2)) / 4, (1,), kind="thickness")
    with pytest.raises(AttributionError, match="not IceNet"):
        RoiTarget(np.ones((2, 2)) / 4, (6,))(tf.zeros((1, 2, 2, 3, 3)))


def test_sample_for_forecast_selects_start_and_names_missing_month() -> None:
    times = pd.date_range("2013-01-01", "2013-06-01", freq="MS")
    inputs = xr.DataArray(np.arange(6.0)[:, None, None, None] * np.ones((6, 2, 2, 1)),
                          dims=("time", "y", "x", "channel"), coords={"time": times})
    picked = sample_for_forecast(inputs, "2013-09", lead=5)
    assert float(picked[0, 0, 0]) == 4.0 and picked.attrs["forecast_start"] == "2013-05"
    with pytest.raises(AttributionError, match=r"2013-09.*lead 1.*2013-01 to 2013-06"):
        sample_for_forecast(inputs, "2013-09", lead=1)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.booleans(), min_size=16, max_size=16).filter(any))
def test_weights_are_a_distribution_over_the_roi(cells: list[bool]) -> None:
    roi = np.array(cells).reshape(4, 4)
    weights = roi_weights(roi)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights[~roi] == 0).all() and (weights[roi] > 0).all()
