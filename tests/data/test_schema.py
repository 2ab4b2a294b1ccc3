"""The monthly dataset schema: a valid dataset passes, each kind of mistake is named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import grid
from icegrad.data.land import land_mask
from icegrad.data.schema import SchemaError, month_starts, validate_monthly_dataset


def small_dataset(months: int = 3) -> xr.Dataset:
    g = grid.ease2_grid(200)
    land = land_mask(200)
    time = month_starts("2000-01", f"2000-{months:02d}")
    sic = np.where(land.values, np.nan, 0.5).astype("float32")[None].repeat(months, axis=0)
    tas = np.full((months, 54, 54), 250.0, dtype="float32")
    ds = xr.Dataset(
        {"siconca": (("time", "y", "x"), sic, {"units": "1"}),
         "tas": (("time", "y", "x"), tas, {"units": "K"})},
        coords={**g.coords, "time": time, "land": land},
    )
    return ds


def test_valid_dataset_passes() -> None:
    ds = small_dataset()
    assert validate_monthly_dataset(ds) is ds


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda ds: ds.drop_vars("tas"), "lacks variable"),
        (lambda ds: ds.assign(siconca=ds.siconca * 100), "percent"),
        (lambda ds: ds.assign(tas=ds.tas.where(ds.tas.time != ds.time[1])), "NaN"),
        (lambda ds: ds.assign_attrs().drop_vars("land"), "boolean 'land'"),
        (lambda ds: ds.isel(time=[0, 2]), "consecutive"),
        (lambda ds: ds.assign_coords(time=ds.time + pd.Timedelta(days=3)), "first day"),
        (lambda ds: ds.isel(x=slice(0, 50)), "EASE-Grid"),
    ],
)
def test_each_problem_is_named(mutate, message: str) -> None:
    ds = small_dataset()
    ds["tas"].attrs["units"] = "K"
    with pytest.raises(SchemaError, match=message):
        validate_monthly_dataset(mutate(ds), variables=["siconca", "tas"])


def test_wrong_units_and_unknown_variable() -> None:
    ds = small_dataset()
    ds["tas"].attrs["units"] = "degC"
    with pytest.raises(SchemaError, match="units"):
        validate_monthly_dataset(ds)
    with pytest.raises(SchemaError, match="unknown variable"):
        validate_monthly_dataset(small_dataset(), variables=["temperature"])
