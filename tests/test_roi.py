"""The region of interest: every rule, every error, and the invariants of the selection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyproj
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from icegrad import grid
from icegrad.config import RunConfig
from icegrad.data.land import land_mask
from icegrad.data.schema import month_starts
from icegrad.files import write_netcdf
from icegrad.roi import (
    SIGNS,
    RoiError,
    RoiRule,
    compare_rules,
    region_of_interest,
    roi_summary,
    select_cells,
    sic_difference,
)

RES = 200
BASE_SIC = 0.3
# Planted changes in September 2013 relative to every other month (rows, cols on the 54 x 54 grid):
GAIN_BLOCK = (slice(18, 22), slice(22, 27))  # 20 ocean cells, +0.65: the "rebound"
SPECK = (25, 28)  # one isolated ocean cell, +0.6
LOSS_BLOCK = (slice(30, 33), slice(28, 33))  # 15 ocean cells, -0.3
LAND_CELL = (14, 8)


def make_dataset(start: str = "2007-01", end: str = "2013-12", *, land_values: float = np.nan) -> xr.Dataset:
    """A small schema-valid SIC dataset (SYNTHETIC, for tests) with planted changes in 2013-09."""
    g = grid.ease2_grid(RES)
    land = land_mask(RES)
    assert not land.values[GAIN_BLOCK].any() and not land.values[SPECK] and not land.values[LOSS_BLOCK].any()
    assert land.values[LAND_CELL]
    times = month_starts(start, end)
    sic = np.full((len(times), *land.shape), BASE_SIC, dtype="float32")
    sic[:, land.values] = land_values
    if np.datetime64("2013-09-01") in times.values:
        t = times.get_loc("2013-09-01")
        sic[t][GAIN_BLOCK] = BASE_SIC + 0.65
        sic[t][SPECK] = BASE_SIC + 0.6
        sic[t][LOSS_BLOCK] = BASE_SIC - 0.3
        sic[t][LAND_CELL] = 1.0  # only reachable if land values are finite: must still never be selected
    ds = xr.Dataset(
        {"siconca": (("time", "y", "x"), sic, {"units": "1", "long_name": "sea ice area fraction",
                                                "standard_name": "sea_ice_area_fraction"})},
        coords={**g.coords, "time": times, "land": land.drop_vars(list(land.coords))},
        attrs={"data_source": "emulated", "source": "synthetic test data", "title": "test",
               "Conventions": "CF-1.8", "resolution_km": RES},
    )
    return ds


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return make_dataset()


def planted(*parts: tuple[slice | int, slice | int]) -> np.ndarray:
    mask = np.zeros((54, 54), dtype=bool)
    for part in parts:
        mask[part] = True
    return mask


def test_default_rule_is_the_run_configurations_and_selects_changes_of_either_sign(ds: xr.Dataset) -> None:
    roi = region_of_interest(ds)
    assert roi.name == "roi" and roi.dtype == bool and roi.dims == ("y", "x")
    np.testing.assert_array_equal(roi.values, planted(GAIN_BLOCK, SPECK))  # the loss (-0.3) is below 0.5
    assert roi.attrs["rule"] == "threshold:0.5,sign:abs" == str(RoiRule.parse(RunConfig().roi_rule))
    deeper_loss = ds.copy(deep=True)  # 2007 held 0.9 where 2013 holds 0.0: a loss of 0.9
    september_2007 = deeper_loss["siconca"].sel(time="2007-09-01")
    deeper_loss["siconca"].loc[{"time": "2007-09-01"}] = september_2007.where(~planted(LOSS_BLOCK), 0.9)
    both = region_of_interest(deeper_loss).values
    np.testing.assert_array_equal(both, planted(GAIN_BLOCK, SPECK, LOSS_BLOCK))
    assert (roi.attrs["reference_year"], roi.attrs["target_year"], roi.attrs["month"]) == (2007, 2013, 9)
    assert roi.attrs["n_cells"] == 21
    assert roi.attrs["area_km2"] == pytest.approx(21 * RES**2)
    assert roi.attrs["data_source"] == "emulated"
    assert {"lat", "lon", "cell_area"} <= set(roi.coords)


def test_threshold_is_inclusive_and_scores_the_difference(ds: xr.Dataset) -> None:
    diff = sic_difference(ds, 2007, 2013, 9)
    assert float(diff.values[SPECK]) == pytest.approx(0.6, abs=1e-6)
    assert region_of_interest(ds, rule="threshold:0.62").attrs["n_cells"] == 20
    assert diff.attrs["units"] == "1" and "2013" in diff.attrs["long_name"]


def test_min_cells_removes_specks(ds: xr.Dataset) -> None:
    roi = region_of_interest(ds, rule="threshold:0.5,min_cells:4")
    np.testing.assert_array_equal(roi.values, planted(GAIN_BLOCK))
    assert roi.attrs["rule"] == "threshold:0.5,min_cells:4"


def test_negative_sign_selects_losses_and_abs_selects_both(ds: xr.Dataset) -> None:
    losses = region_of_interest(ds, rule="threshold:0.25,sign:negative")
    np.testing.assert_array_equal(losses.values, planted(LOSS_BLOCK))
    either = region_of_interest(ds, rule="threshold:0.25,sign:abs")
    np.testing.assert_array_equal(either.values, planted(GAIN_BLOCK, SPECK, LOSS_BLOCK))


def test_swapping_years_flips_the_sign(ds: xr.Dataset) -> None:
    roi = region_of_interest(ds, reference_year=2013, target_year=2007, rule="threshold:0.25")
    np.testing.assert_array_equal(roi.values, planted(LOSS_BLOCK))


def test_top_fraction_takes_the_highest_scores(ds: xr.Dataset) -> None:
    n_ocean = int((~ds.land).sum())
    roi = region_of_interest(ds, rule=f"top_fraction:{20 / n_ocean!r}")
    np.testing.assert_array_equal(roi.values, planted(GAIN_BLOCK))
    # Asking for more cells than changed keeps only cells that gained ice.
    roi = region_of_interest(ds, rule="top_fraction:0.5")
    np.testing.assert_array_equal(roi.values, planted(GAIN_BLOCK, SPECK))


def test_land_is_never_selected_even_with_finite_values_on_land() -> None:
    ds = make_dataset(land_values=BASE_SIC)
    for rule in ("threshold:0.5", "top_fraction:0.5", "threshold:0.1,sign:abs"):
        roi = region_of_interest(ds, rule=rule)
        assert not roi.values[LAND_CELL] and not (roi & ds.land).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference_year": 1990}, "year 1990 is outside the data"),
        ({"target_year": 2030}, "year 2030 is outside the data"),
        ({"reference_year": 2013}, "both 2013"),
        ({"month": 13}, "month=13 must be an integer from 1"),
        ({"rule": "threshold:0.99"}, "selects no ocean cell"),
        ({"rule": "threshold:0.5,sign:negative"}, "selects no ocean cell"),
        ({"rule": "threshold:0.5,min_cells:25"}, "selects no ocean cell"),
    ],
)
def test_clear_errors(ds: xr.Dataset, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(RoiError, match=message):
        region_of_interest(ds, **kwargs)


def test_month_missing_from_the_data() -> None:
    ds = make_dataset(end="2013-06")
    with pytest.raises(RoiError, match="no September 2013"):
        region_of_interest(ds)


def test_month_with_only_missing_values() -> None:
    ds = make_dataset()
    ds["siconca"].loc[{"time": "2007-09-01"}] = np.nan
    with pytest.raises(RoiError, match="no valid ocean values in September 2007"):
        region_of_interest(ds)


def test_roi_error_is_a_value_error() -> None:
    assert issubclass(RoiError, ValueError)


@pytest.mark.parametrize(
    "text",
    ["", "threshold", "threshold:", "threshold:abc", "threshold:1.5", "threshold:-0.2", "top_fraction:0",
     "foo:0.5", "threshold:0.5,top_fraction:0.1", "min_cells:3", "threshold:0.5,min_cells:0",
     "threshold:0.5,min_cells:2.5", "threshold:0.5,sign:up", "threshold:0.5,threshold:0.4",
     "threshold:nan"],
)
def test_malformed_rules_are_rejected(text: str, ds: xr.Dataset) -> None:
    with pytest.raises(RoiError):
        RoiRule.parse(text)
    with pytest.raises(RoiError):
        region_of_interest(ds, rule=text)


def test_rule_dataclass_and_string_agree() -> None:
    rule = RoiRule("top_fraction", 0.05, min_cells=4, sign="abs")
    assert str(rule) == "top_fraction:0.05,min_cells:4,sign:abs"
    assert RoiRule.parse(" top_fraction:0.05, sign:abs,min_cells:4") == rule
    assert RoiRule.parse(rule) is rule
    with pytest.raises(RoiError, match="unknown ROI selection"):
        RoiRule("percentile", 0.5)


@given(
    selection=st.sampled_from(["threshold", "top_fraction"]),
    value=st.floats(min_value=1e-6, max_value=1.0),
    min_cells=st.integers(min_value=1, max_value=50),
    sign=st.sampled_from(["positive", "negative", "abs"]),
)
def test_rule_string_round_trips(selection: str, value: float, min_cells: int, sign: str) -> None:
    rule = RoiRule(selection, value, min_cells, sign)
    assert RoiRule.parse(str(rule)) == rule


grids = st.integers(min_value=2, max_value=12).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n, n), elements=st.floats(-1.0, 1.0)),
        arrays(np.bool_, (n, n)),
    )
)


@settings(max_examples=60, deadline=None)
@given(data=grids, fraction=st.floats(min_value=0.01, max_value=1.0), sign=st.sampled_from(SIGNS))
def test_top_fraction_selects_expected_count_and_never_land(
    data: tuple[np.ndarray, np.ndarray], fraction: float, sign: str
) -> None:
    diff, land = data
    ocean = ~land
    rule = RoiRule("top_fraction", fraction, sign=sign)
    selected = select_cells(diff, ocean, rule)
    score = {"positive": diff, "negative": -diff, "abs": np.abs(diff)}[sign]
    k = round(fraction * int(ocean.sum()))
    n_positive = int((score[ocean] > 0).sum())
    assert not (selected & land).any()
    # Exactly k cells, unless fewer ocean cells changed in the requested direction.
    assert int(selected.sum()) == min(k, n_positive)
    # Every selected cell scores at least as high as every unselected positive ocean cell.
    rest = ocean & ~selected & (score > 0)
    if selected.any() and rest.any():
        assert score[selected].min() >= score[rest].max()


@settings(max_examples=60, deadline=None)
@given(data=grids, threshold=st.floats(min_value=0.05, max_value=1.0), min_cells=st.integers(1, 6))
def test_threshold_with_specks_removed_keeps_only_large_components(
    data: tuple[np.ndarray, np.ndarray], threshold: float, min_cells: int
) -> None:
    diff, land = data
    ocean = ~land
    raw = select_cells(diff, ocean, RoiRule("threshold", threshold))
    np.testing.assert_array_equal(raw, ocean & (diff >= threshold))
    cleaned = select_cells(diff, ocean, RoiRule("threshold", threshold, min_cells=min_cells))
    assert not (cleaned & ~raw).any()
    labels, n = ndimage.label(raw, structure=np.ones((3, 3)))
    for component in range(1, n + 1):
        cells = labels == component
        expected = cells.sum() >= min_cells
        assert cleaned[cells].all() == expected and cleaned[cells].any() == expected


def test_summary_of_the_planted_region(ds: xr.Dataset) -> None:
    roi = region_of_interest(ds, rule="threshold:0.5,min_cells:4")
    summary = roi_summary(roi)
    assert summary.n_cells == 20 and summary.area_km2 == pytest.approx(20 * RES**2)
    # The block is 4 x 5 cells: its centroid is the centre of its middle row pair, middle column.
    x0 = float(ds.x[24])
    y0 = float((ds.y[19] + ds.y[20]) / 2)
    lon, lat = pyproj.Transformer.from_crs(6931, 4326, always_xy=True).transform(x0, y0)
    assert (summary.centroid_lat, summary.centroid_lon) == pytest.approx((lat, lon), abs=1e-6)


def test_summary_centroid_across_the_date_line(ds: xr.Dataset) -> None:
    # Two cells either side of x = 0 on the y > 0 half: longitudes about +170 and -170 degrees.
    roi = xr.zeros_like(ds.land.drop_vars("land", errors="ignore"), dtype=bool)
    roi[5, 26] = roi[5, 27] = True
    assert float(ds.lon[5, 26]) * float(ds.lon[5, 27]) < 0  # they straddle the date line
    summary = roi_summary(roi)
    assert abs(summary.centroid_lon) == pytest.approx(180.0, abs=1e-6)
    assert float(ds.lat[5, 26]) < summary.centroid_lat < 90.0


def test_summary_of_one_cell_is_that_cell(ds: xr.Dataset) -> None:
    roi = xr.zeros_like(ds.land.drop_vars("land", errors="ignore"), dtype=bool)
    roi[SPECK] = True
    summary = roi_summary(roi)
    assert summary.centroid_lat == pytest.approx(float(ds.lat[SPECK]))
    assert summary.centroid_lon == pytest.approx(float(ds.lon[SPECK]))


def test_summary_rejects_empty_or_non_boolean_masks(ds: xr.Dataset) -> None:
    empty = xr.zeros_like(ds.land.drop_vars("land", errors="ignore"), dtype=bool)
    with pytest.raises(RoiError, match="empty"):
        roi_summary(empty)
    with pytest.raises(RoiError, match="boolean"):
        roi_summary(empty.astype("float64"))


def test_compare_rules_reports_size_and_overlap(ds: xr.Dataset) -> None:
    table = compare_rules(ds, ["threshold:0.5", "threshold:0.5,min_cells:4", "threshold:0.25,sign:negative",
                               "threshold:0.99"])
    assert list(table.index) == ["threshold:0.5", "threshold:0.5,min_cells:4", "threshold:0.25,sign:negative",
                                 "threshold:0.99"]
    assert list(table.n_cells) == [21, 20, 15, 0]
    assert table.loc["threshold:0.5", "overlap_with_first"] == 1.0
    assert table.loc["threshold:0.5,min_cells:4", "overlap_with_first"] == pytest.approx(20 / 21)
    assert table.loc["threshold:0.25,sign:negative", "overlap_with_first"] == 0.0
    assert table.loc["threshold:0.5,min_cells:4", "area_km2"] == pytest.approx(20 * RES**2)
    assert np.isnan(table.loc["threshold:0.99", "area_km2"])
    with pytest.raises(RoiError, match="year 1990"):
        compare_rules(ds, ["threshold:0.5"], reference_year=1990)


def test_roi_survives_a_netcdf_round_trip(ds: xr.Dataset, tmp_path: Path) -> None:
    roi = region_of_interest(ds, rule="threshold:0.5,min_cells:4")
    path = write_netcdf(roi, tmp_path / "roi.nc")
    with xr.open_dataset(path) as saved:
        back = saved["roi"].load()
    assert back.dtype == bool
    np.testing.assert_array_equal(back.values, roi.values)
    assert back.attrs["rule"] == "threshold:0.5,min_cells:4" and back.attrs["n_cells"] == 20


@pytest.mark.slow
def test_default_roi_on_the_emulated_arctic_is_one_pacific_sector_region(isolated_cache: Path) -> None:
    emulator = pytest.importorskip("icegrad.data.emulator")
    arctic = emulator.load(resolution_km=200)
    roi = region_of_interest(arctic, 2007, 2013, 9, "threshold:0.5")
    summary = roi_summary(roi)
    # The letter's region (Chukchi, East Siberian, Beaufort seas) straddles the date line.
    assert abs(summary.centroid_lon) > 140 and 68 < summary.centroid_lat < 85
    _, n_regions = ndimage.label(roi.values, structure=np.ones((3, 3)))
    assert n_regions == 1
    assert roi.attrs["data_source"] == "emulated"
