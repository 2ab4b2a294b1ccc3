"""Tests of icegrad.inputs.labels: one-hot classes and their edges, active cells, equal monthly weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.inputs.build import InputError, active_grid_cell_mask, available_start_months, build_targets
from icegrad.inputs.labels import sic_class


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_class_edges_follow_icenet(dtype):
    low, high, up, down = dtype(0.15), dtype(0.8), dtype(1), dtype(0)
    sic = np.array([0.0, low, np.nextafter(low, up), 0.5, np.nextafter(high, down), high, 1.0, np.nan],
                   dtype=dtype)
    np.testing.assert_array_equal(sic_class(sic), [0, 0, 1, 1, 1, 2, 2, 0])


def test_targets_are_one_hot_classes_of_the_lead_month(monthly_ds, train_years):
    starts = ["1981-11", "1984-07"]
    out = build_targets(monthly_ds, starts, train_years=train_years)
    targets = out["targets"]
    assert targets.dims == ("time", "y", "x", "class", "lead") and targets.shape == (2, 54, 54, 3, 6)
    assert list(out["class"].values) == ["open_water", "marginal_ice", "full_ice"]
    np.testing.assert_array_equal(targets.sum("class").values, 1.0)
    for start in starts:
        for lead in (1, 4, 6):
            month = pd.Timestamp(start) + pd.DateOffset(months=lead - 1)
            sic = monthly_ds["siconca"].sel(time=month).fillna(0.0)
            expected = xr.concat([sic <= 0.15, (sic > 0.15) & (sic < 0.8), sic >= 0.8], dim="class")
            got = targets.sel(time=pd.Timestamp(start), lead=lead).transpose("class", "y", "x")
            np.testing.assert_array_equal(got.values, expected.values.astype(np.float32))
            assert pd.Timestamp(out["target_time"].sel(time=pd.Timestamp(start), lead=lead).values) == month


def test_every_month_weighs_alike(monthly_ds, train_years):
    out = build_targets(monthly_ds, available_start_months(monthly_ds, 6), train_years=train_years)
    weight = out["sample_weight"]
    assert weight.dims == ("time", "y", "x", "lead")
    totals = weight.sum(("y", "x")).values
    np.testing.assert_allclose(totals, totals[0, 0], rtol=1e-5)
    mask = active_grid_cell_mask(monthly_ds, train_years)
    assert totals[0, 0] == pytest.approx(float(mask.sum(("y", "x")).mean()), rel=1e-5)
    assert (weight.values[:, monthly_ds["land"].values] == 0).all()
    march = out["target_time"].dt.month == 3
    active = np.broadcast_to(mask.sel(month=3).values[..., None], weight.shape[1:])
    w_march = weight.where(march).values  # NaN where the target is not March
    ok = ~np.isnan(w_march)
    assert ((w_march > 0) == np.broadcast_to(active, w_march.shape))[ok].all()


def test_active_cells_are_the_training_years_monthly_maximum_extent(monthly_ds, train_years, month_index):
    ds = monthly_ds.copy(deep=True)
    sic = ds["siconca"]
    ocean_cells = np.argwhere(~ds["land"].values & (ds["lat"].values < 45))  # never icy in this fixture
    (a_y, a_x), (b_y, b_x) = ocean_cells[0], ocean_cells[1]
    assert float(sic[:, a_y, a_x].max()) <= 0.15 and float(sic[:, b_y, b_x].max()) <= 0.15
    sic.values[month_index(ds, "1981-03"), a_y, a_x] = 0.5  # ice in a training March
    sic.values[month_index(ds, "1984-03"), b_y, b_x] = 0.9  # ice in a test-year March
    mask = active_grid_cell_mask(ds, train_years)
    assert mask.dims == ("month", "y", "x") and mask.dtype == bool
    assert bool(mask.sel(month=3)[a_y, a_x]) and not mask.drop_sel(month=3)[:, a_y, a_x].any()
    assert not mask[:, b_y, b_x].any()
    assert not mask.values[:, ds["land"].values].any()


@pytest.mark.parametrize(
    ("mutate", "kwargs", "match"),
    [
        (lambda ds: ds, {"start_months": ["1984-08"]}, r"need 6 months of targets beyond.*1984-07"),
        (lambda ds: ds, {"n_leads": 7}, "n_leads must be between 1 and 6"),
        (lambda ds: ds.drop_vars("siconca"), {}, "siconca"),
        (lambda ds: ds, {"train_years": (1970, 1980)}, "not fully inside the dataset"),
        (lambda ds: ds.assign(siconca=ds["siconca"].where(ds["lat"] > 89, 0.0).where(~ds["land"])), {},
         r"no active cells"),
    ],
)
def test_bad_target_requests(monthly_ds, train_years, mutate, kwargs, match):
    args = {"start_months": ["1982-06"], "n_leads": 6, "train_years": train_years} | kwargs
    with pytest.raises(InputError, match=match):
        build_targets(mutate(monthly_ds), args["start_months"], args["n_leads"],
                      train_years=args["train_years"])


def test_fewer_leads_allow_later_starts(monthly_ds, train_years):
    out = build_targets(monthly_ds, ["1984-12"], n_leads=1, train_years=train_years)
    assert out["targets"].sizes["lead"] == 1
