from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.api import attribute, attribute_forecast
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.references import climatology_baseline, streamed_climatology
from icegrad.attribution.results import REQUIRED_ATTRS, load_result, save_result
from icegrad.config import RunConfig


@pytest.fixture(scope="module")
def result(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray) -> xr.Dataset:
    return attribute([tiny_icenet, tiny_icenet], sample, roi, leads=(1, 3), steps=8, baseline="zeros",
                     data_source="emulated")


def test_result_follows_the_schema(result: xr.Dataset, sample: xr.DataArray) -> None:
    assert result["attribution"].dims == ("member", "lead", "channel", "y", "x")
    assert result.sizes == {"member": 2, "lead": 2, "channel": 50, "y": 32, "x": 32}
    assert set(REQUIRED_ATTRS) <= set(result.attrs) and result.attrs["steps"] == 8
    assert list(result["group"].values[:12]) == ["sic"] * 12 and result["group"].values[-1] == "seasonal"
    assert result["roi"].dtype == bool and "synthetic" in result.attrs["comment"]
    np.testing.assert_array_equal(result["input"].sel(lead=3).transpose("y", "x", "channel"), sample)
    # the land channel marks x < 4 as land, so the ROI (x 12..21) is untouched, but land cells are excluded
    assert result["roi"].sum() == 100
    # identical members give identical attributions
    np.testing.assert_array_equal(result["attribution"][0], result["attribution"][1])


def test_save_and_load_round_trip(result: xr.Dataset, tmp_path: Path) -> None:
    path = save_result(result, tmp_path / "r.nc")
    back = load_result(path)
    assert back["roi"].dtype == bool
    xr.testing.assert_allclose(back["attribution"], result["attribution"])
    assert not list(tmp_path.glob(".*part"))


def test_cache_returns_the_stored_result(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray,
                                         isolated_cache: Path) -> None:
    first = attribute(tiny_icenet, sample, roi, 1, "gradient_x_input", cache=True)
    files = list((isolated_cache / "attributions").glob("*.nc"))
    assert len(files) == 1
    second = attribute(tiny_icenet, sample, roi, 1, "gradient_x_input", cache=True)
    assert second.attrs["created"] == first.attrs["created"]
    attribute(tiny_icenet, sample, roi, 2, "gradient_x_input", cache=True)
    assert len(list((isolated_cache / "attributions").glob("*.nc"))) == 2


def test_attribute_forecast_uses_each_leads_own_start(tiny_icenet: keras.Model, roi: np.ndarray,
                                                      helpers: object) -> None:
    times = pd.date_range("2013-06-01", "2013-09-01", freq="MS")
    inputs = xr.concat([helpers.make_sample(seed=i) for i in range(4)], dim="time").assign_coords(time=times)
    ds = attribute_forecast(tiny_icenet, inputs, "2013-09", roi, leads=(1, 2), method="vanilla_gradient")
    assert list(ds["forecast_start"].values) == ["2013-09", "2013-08"]
    assert list(ds["target_month"].values) == ["2013-09", "2013-09"]
    np.testing.assert_array_equal(ds["input"].sel(lead=2).transpose("y", "x", "channel"),
                                  inputs.sel(time="2013-08-01"))
    with pytest.raises(AttributionError, match="no inputs for target month"):
        attribute_forecast(tiny_icenet, inputs, "2013-09", roi, leads=(5,))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "deeplift"}, "unknown method.*integrated_gradients"),
    ({"baseline": "blurred"}, "unknown baseline.*zeros"),
    ({"baseline": "climatology"}, "needs climatology"),
    ({"steps": 0}, "steps=0 must be a whole number >= 1"),
    ({"leads": (0,)}, "outside 1..6"),
    ({"leads": True}, r"lead\(s\) \[True\] outside"),
    ({"leads": (1, True)}, "outside 1..6"),
    ({"steps": True}, "steps=True must be a whole number"),
    ({"method": "smoothgrad", "samples": True}, "samples=True must be a whole number"),
    ({"method": "smoothgrad", "noise_level": float("nan")}, "noise_level=nan must be a finite number"),
    ({"method": "smoothgrad", "noise_level": float("inf")}, "noise_level=inf must be a finite number"),
])
def test_bad_arguments_are_named(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray,
                                 kwargs: dict, message: str) -> None:
    with pytest.raises(AttributionError, match=message):
        attribute(tiny_icenet, sample, roi, **kwargs)


def test_bad_inputs_are_named(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray) -> None:
    with pytest.raises(AttributionError, match="NaN"):
        attribute(tiny_icenet, sample.where(sample.channel != "tas_anom_1"), roi)
    with pytest.raises(AttributionError, match="all land"):
        attribute(tiny_icenet, sample, np.pad(np.ones((32, 2), bool), ((0, 0), (0, 30))))
    with pytest.raises(AttributionError, match="does not fit"):
        attribute(tiny_icenet, sample.isel(channel=slice(0, 10)), roi)


def test_climatology_baseline_is_used(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray,
                                      helpers: object) -> None:
    times = pd.date_range("2000-09-01", periods=3, freq="12MS")
    inputs = xr.concat([helpers.make_sample(seed=10 + i) for i in range(3)], "time").assign_coords(time=times)
    clim = climatology_baseline(inputs, month=9, years=[2000, 2001])
    np.testing.assert_allclose(clim, inputs.isel(time=[0, 1]).mean("time"))
    ds = attribute(tiny_icenet, sample, roi, 1, steps=4, baseline="climatology", climatology=clim)
    assert ds.attrs["baseline"].startswith("climatology")
    with pytest.raises(AttributionError, match="no input samples"):
        climatology_baseline(inputs, month=3)


def test_streamed_climatology_is_the_mean_of_all_batches_with_the_same_description(helpers: object) -> None:
    times = pd.date_range("2000-09-01", periods=5, freq="12MS")
    inputs = xr.concat([helpers.make_sample(seed=30 + i) for i in range(5)], "time").assign_coords(time=times)
    whole = climatology_baseline(inputs, month=9, years=range(2000, 2005))
    batches = (inputs.isel(time=slice(i, i + 2)) for i in range(0, 5, 2))  # 2, 2 and 1: not a mean of means
    streamed = streamed_climatology(batches, month=9, years=range(2000, 2005))
    np.testing.assert_allclose(streamed, whole, rtol=1e-6, atol=1e-6)
    assert streamed.dtype == np.float32 and streamed.attrs["baseline_rule"] == whole.attrs["baseline_rule"]
    with pytest.raises(AttributionError, match="no input samples"):
        streamed_climatology(iter([]), month=9)


def test_counterfactual_explains_the_difference_between_the_two_years(
        tiny_icenet: keras.Model, roi: np.ndarray, helpers: object) -> None:
    starts = pd.DatetimeIndex(["2007-07-01", "2007-09-01", "2013-07-01", "2013-09-01"])
    later = [helpers.make_sample(seed=20 + i) for i in range(2)]  # 2007 = 2013 + a small departure
    earlier = [x + 0.2 * helpers.make_sample(seed=30 + i) for i, x in enumerate(later)]
    inputs = xr.concat([*earlier, *later], "time").assign_coords(time=starts)
    ds = attribute_forecast(tiny_icenet, inputs, "2013-09", roi, leads=(1, 3), reference_year=2007,
                            baseline="counterfactual", steps=32)
    assert list(ds["baseline_forecast_start"].values) == ["2007-09", "2007-07"]
    assert ds.attrs["baseline_target_month"] == "2007-09"
    assert ds.attrs["baseline"].startswith("counterfactual")
    # the baseline's target is the reference year's own forecast, so the file holds T(2013) and T(2007)
    reference = attribute_forecast(tiny_icenet, inputs, "2007-09", roi, leads=(1, 3),
                                   method="vanilla_gradient")
    np.testing.assert_allclose(ds["baseline_target_value"], reference["target_value"], rtol=1e-4)
    change = ds["target_value"] - ds["baseline_target_value"]
    total = ds["attribution"].sum(("channel", "y", "x"))
    assert float(abs(total - change).max()) < 0.05 * float(abs(change).max())
    with pytest.raises(AttributionError, match="reference_year=2013 is the target month's own year"):
        attribute_forecast(tiny_icenet, inputs, "2013-09", roi, 1, reference_year=2013,
                           baseline="counterfactual")
    with pytest.raises(AttributionError, match="no inputs for target month 2006-09"):
        attribute_forecast(tiny_icenet, inputs, "2013-09", roi, 1, reference_year=2006,
                           baseline="counterfactual")


def test_counterfactual_needs_the_reference_sample(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                   roi: np.ndarray) -> None:
    with pytest.raises(AttributionError, match="needs counterfactual="):
        attribute(tiny_icenet, sample, roi, 1, steps=2, baseline="counterfactual")
    with pytest.raises(AttributionError, match="needs persistence=<the previous year's input sample"):
        attribute(tiny_icenet, sample, roi, 1, steps=2, baseline="persistence", counterfactual=sample)


def test_persistence_explains_the_change_from_the_previous_year(tiny_icenet: keras.Model, roi: np.ndarray,
                                                                helpers: object, tmp_path: Path) -> None:
    starts = pd.DatetimeIndex(["2007-07-01", "2007-09-01", "2012-07-01", "2012-09-01", "2013-07-01",
                               "2013-09-01"])
    later = [helpers.make_sample(seed=20 + i) for i in range(2)]
    earlier = [x + 0.2 * helpers.make_sample(seed=30 + i) for i, x in enumerate(later)]
    decoy = [helpers.make_sample(seed=40 + i) for i in range(2)]  # the reference year's, never the baseline
    inputs = xr.concat([*decoy, *earlier, *later], "time").assign_coords(time=starts)
    ds = attribute_forecast(tiny_icenet, inputs, "2013-09", roi, leads=(1, 3), reference_year=2007,
                            baseline="persistence", steps=32)
    assert list(ds["baseline_forecast_start"].values) == ["2012-09", "2012-07"]
    assert ds.attrs["baseline_target_month"] == "2012-09"
    assert ds.attrs["baseline"] == "persistence (input of the forecast started 2012-09)"
    previous = attribute_forecast(tiny_icenet, inputs, "2012-09", roi, leads=(1, 3),
                                  method="vanilla_gradient")
    np.testing.assert_allclose(ds["baseline_target_value"], previous["target_value"], rtol=1e-4)
    # completeness can be checked from the file alone: it holds both forecasts and the attributions
    saved = load_result(save_result(ds, tmp_path / "persistence.nc"))
    change = saved["target_value"] - saved["baseline_target_value"]
    total = saved["attribution"].sum(("channel", "y", "x"))
    assert float(abs(change).min()) > 0 and float(abs(total - change).max()) < 0.05 * float(abs(change).max())
    with pytest.raises(AttributionError, match="no inputs for target month 2011-09"):
        attribute_forecast(tiny_icenet, inputs, "2012-09", roi, 1, baseline="persistence")


def test_default_baseline_is_the_run_configurations(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                    roi: np.ndarray) -> None:
    assert RunConfig().baseline == "climatology"
    with pytest.raises(AttributionError, match="needs climatology"):  # the book's baseline, not zeros
        attribute(tiny_icenet, sample, roi, 1, steps=2)


def on_grid(sample: xr.DataArray, spacing: float = 100e3) -> xr.DataArray:
    """The sample with projected x/y coordinates (metres), as icegrad's datasets carry them."""
    side = sample.sizes["x"]
    return sample.assign_coords(x=np.arange(side) * spacing, y=np.arange(side)[::-1] * spacing)


def test_roi_and_land_are_matched_by_coordinates_not_position(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                              roi: np.ndarray) -> None:
    gridded = on_grid(sample)
    mask = xr.DataArray(roi, dims=("y", "x"), coords={"y": gridded.y, "x": gridded.x})
    by_array = attribute(tiny_icenet, gridded, roi, 1, "gradient_x_input")
    flipped = mask.isel(y=slice(None, None, -1)).transpose("x", "y")  # same cells, other order and layout
    by_coords = attribute(tiny_icenet, gridded, flipped, 1, "gradient_x_input")
    xr.testing.assert_allclose(by_coords["attribution"], by_array["attribution"])
    np.testing.assert_array_equal(by_coords["roi"].values, by_array["roi"].values)
    land = xr.DataArray(np.zeros(roi.shape, bool), dims=("y", "x"), coords=mask.coords)
    land[:, 20:25] = True  # the ROI's (columns 12-21) last two columns; mirrored, none of them
    flipped_land = land.isel(x=slice(None, None, -1))
    with_land = attribute(tiny_icenet, gridded, mask, 1, "gradient_x_input", land=flipped_land)
    assert int(with_land["roi"].sum()) == 80


@pytest.mark.parametrize("name", ["roi", "land"])
def test_a_mask_of_another_grid_is_refused(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray,
                                           name: str) -> None:
    gridded = on_grid(sample)
    shifted = on_grid(sample, spacing=200e3)  # the same shape on a grid twice as coarse
    mask = xr.DataArray(roi, dims=("y", "x"), coords={"y": shifted.y, "x": shifted.x})
    arguments = {"roi": mask} if name == "roi" else {"roi": roi, "land": mask.copy(data=np.zeros_like(roi))}
    with pytest.raises(AttributionError, match=f"{name}'s y coordinates .* do not match the input sample's"):
        attribute(tiny_icenet, gridded, arguments.pop("roi"), 1, "vanilla_gradient", **arguments)
    with pytest.raises(AttributionError, match="does not match the input sample's"):
        attribute(tiny_icenet, gridded, roi[:30], 1, "vanilla_gradient")


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0, -1.0])
def test_cell_area_must_be_finite_and_positive(tiny_icenet: keras.Model, sample: xr.DataArray,
                                               roi: np.ndarray, bad: float) -> None:
    area = np.full(roi.shape, 1e4)
    area[15, 15] = bad  # a cell inside the ROI
    mask = xr.DataArray(roi, dims=("y", "x"), coords={"cell_area": (("y", "x"), area)})
    with pytest.raises(AttributionError, match="cell_area holds 1 non-finite or non-positive value"):
        attribute(tiny_icenet, sample, mask, 1, "vanilla_gradient")
    uniform = attribute(tiny_icenet, sample, mask, 1, "vanilla_gradient", weighting="uniform")
    assert np.isfinite(uniform["attribution"].values).all()


def test_progress_names_the_work_and_counts_members(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                   roi: np.ndarray, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    attribute([tiny_icenet, tiny_icenet], sample, roi, leads=(1, 3), steps=2, baseline="zeros")
    err = capsys.readouterr().err
    assert "integrated gradients, lead(s) 1, 3" in err and "0/2" in err and "member" in err
    monkeypatch.setenv("TQDM_DISABLE", "1")  # what icegrad's --quiet sets
    attribute(tiny_icenet, sample, roi, leads=1, method="vanilla_gradient")
    assert "vanilla gradient" not in capsys.readouterr().err
