"""Chapter 7's statistics and text on synthetic results whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.aggregate import channel_summary
from icegrad.pages import where_they_matter as page

SIDE = 6


def two_channel_result(result_factory):
    inside = np.zeros((SIDE, SIDE))
    inside[:2, :2] = 1.0  # all of it in the 2 x 2 ROI
    uniform = np.full((SIDE, SIDE), -0.5)  # spread evenly over the grid
    return result_factory({"siconca_abs_1": inside, "tas_anom_1": uniform})


def ocean(result: xr.Dataset) -> xr.DataArray:
    return xr.zeros_like(result["roi"], dtype=float)


def test_locality_measures_the_share_inside_the_roi_against_its_share_of_the_ocean(result_factory) -> None:
    result = two_channel_result(result_factory)
    table = page.locality(result, ocean(result), {1: ["siconca_abs_1", "tas_anom_1"]}).set_index("channel")
    assert page.roi_share(result, ocean(result)) == pytest.approx(4 / 36)
    assert table.loc["siconca_abs_1", "share inside ROI"] == pytest.approx(1.0)
    assert table.loc["siconca_abs_1", page.RATIO] == pytest.approx(9.0)
    assert table.loc["tas_anom_1", page.RATIO] == pytest.approx(1.0)


def test_locality_text_counts_the_concentrated_pairs_and_names_the_extremes() -> None:
    table = pd.DataFrame({"lead": [1, 3, 1], "channel": ["a", "b", "c"], page.RATIO: [9.0, 0.5, 1.0]})
    text = page.locality_text(table)
    assert text.startswith("1 of the 3 mapped channel-lead pairs concentrate")
    assert "most concentrated is a at lead 1 (ratio 9.0)" in text
    assert "the least b at lead 3 (ratio 0.5)" in text
    remote = page.locality_text(table.assign(**{page.RATIO: [0.2, 0.5, 0.9]}))
    assert remote.startswith("0 of the 3")


def test_chosen_channels_are_the_largest_by_mean_magnitude(result_factory) -> None:
    summary = channel_summary(two_channel_result(result_factory))
    assert page.chosen_channels(summary, [1, 2], 1) == {1: ["tas_anom_1"], 2: ["tas_anom_1"]}


def test_truth_driver_is_the_leading_linked_climate_channel(result_factory) -> None:
    maps = {"siconca_abs_1": np.full((SIDE, SIDE), 9.0), "tas_anom_1": np.ones((SIDE, SIDE)),
            "psl_anom_1": np.full((SIDE, SIDE), 2.0), "ua10_abs_1": np.full((SIDE, SIDE), 5.0)}
    summary = channel_summary(result_factory(maps))
    assert page.truth_driver(summary, 1) == "psl_anom_1"
    with pytest.raises(ValueError, match="no channel of"):
        page.truth_driver(summary, 1, variables=("rsds",))


def test_anomaly_is_relative_to_the_same_calendar_month_of_the_given_years() -> None:
    time = pd.date_range("2000-01", periods=36, freq="MS")
    field = xr.DataArray(np.arange(36.0), dims="time", coords={"time": time})
    # Septembers 2000 and 2001 are 8 and 20: mean 14; September 2002 is 32.
    assert float(page.anomaly(field, pd.Timestamp("2002-09"), (2000, 2001))) == pytest.approx(18.0)


def test_spatial_correlation_ignores_land() -> None:
    a = xr.DataArray(np.array([[1.0, 2.0], [3.0, 100.0]]), dims=("y", "x"))
    land = xr.DataArray(np.array([[0, 0], [0, 1]]), dims=("y", "x"))
    assert page.spatial_correlation(a, -a, land) == pytest.approx(-1.0)


def test_on_observed_data_the_truth_comparison_says_there_is_none() -> None:
    import matplotlib.pyplot as plt

    from icegrad.config import RunConfig
    from icegrad.pages.common import Run

    run = Run(RunConfig(data_source="nsidc"), xr.Dataset(attrs={"data_source": "nsidc"}), None, [])
    values = page.truth_comparison(run, xr.Dataset(), "unused")
    assert values["truth_driver"] == "none"
    assert "no known true sensitivity" in values["truth_text"]
    assert values["truth_caption"].startswith("No ground truth for")
    plt.close(values["fig_truth"])
