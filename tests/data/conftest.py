"""Small schema-valid monthly datasets for the data-stage tests, built in memory in well under a second.

The 200 km grid (54 x 54) and a few years keep every test fast. Values are synthetic: SIC follows
latitude with a seasonal cycle, a slow decline and noise, so every calendar month has ice and open
water; the climate fields are random around plausible means in SI units. The dataset says so in its
``source`` attribute, as emulated data must.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.data.land import land_mask
from icegrad.data.schema import NAN_ON_LAND, month_starts
from icegrad.grid import ease2_grid
from icegrad.variables import MONTHLY_VARIABLES

RESOLUTION_KM = 200
TRAIN_YEARS = (1980, 1982)
"""Training years of the small datasets (they span 1979-1984)."""

_MEANS = {"tas": 260.0, "ta500": 245.0, "tos": 272.0, "rsds": 120.0, "rsus": 60.0, "psl": 101300.0,
          "zg500": 5500.0, "zg250": 10400.0, "ua10": 15.0, "uas": 0.5, "vas": -0.3}
_SPREADS = {"tas": 8.0, "ta500": 5.0, "tos": 2.0, "rsds": 60.0, "rsus": 40.0, "psl": 900.0,
            "zg500": 80.0, "zg250": 120.0, "ua10": 12.0, "uas": 3.0, "vas": 3.0}


def make_monthly_dataset(
    start: str = "1979-01", end: str = "1984-12", variables: Iterable[str] | None = None, seed: int = 0
) -> xr.Dataset:
    """A synthetic dataset in icegrad's monthly schema on the 200 km EASE2 grid."""
    rng = np.random.default_rng(seed)
    grid = ease2_grid(RESOLUTION_KM)
    land = land_mask(RESOLUTION_KM)
    times = month_starts(start, end).astype("datetime64[ns]")
    months = times.month.to_numpy()[:, None, None]
    years = (times.year.to_numpy() - 1979)[:, None, None]
    lat = grid["lat"].values[None]
    shape = (len(times), *lat.shape[1:])
    data = {}
    for name in variables if variables is not None else MONTHLY_VARIABLES:
        if name == "siconca":
            edge = 70.0 + 8.0 * np.cos(2 * np.pi * (months - 3) / 12) + 0.2 * years
            values = 1.0 / (1.0 + np.exp(-(lat - edge) / 2.0)) + rng.normal(0.0, 0.05, shape)
            values = np.clip(values, 0.0, 1.0)
        else:
            seasonal = np.cos(2 * np.pi * months / 12) * _SPREADS[name] * (lat - 40.0) / 50.0
            values = _MEANS[name] + seasonal + rng.normal(0.0, _SPREADS[name], shape)
        if name in NAN_ON_LAND:
            values = np.where(land.values[None], np.nan, values)
        spec = MONTHLY_VARIABLES[name]
        data[name] = (("time", "y", "x"), values.astype(np.float32),
                      {"units": spec.units, "long_name": spec.long_name, "standard_name": spec.standard_name})
    ds = xr.Dataset(data, coords={**grid.coords, "time": times, "land": land.drop_vars(
        [c for c in land.coords if c not in ("y", "x")])})
    ds.attrs = {"data_source": "emulated",
                "source": "synthetic test fixture (random fields), not observations",
                "title": "icegrad test dataset", "Conventions": "CF-1.8", "resolution_km": RESOLUTION_KM}
    return ds


@pytest.fixture(scope="session")
def dataset_factory() -> Callable[..., xr.Dataset]:
    """The factory itself, for tests that need another period, variable subset or seed."""
    return make_monthly_dataset


@pytest.fixture(scope="session")
def monthly_ds() -> xr.Dataset:
    """1979-1984, every schema variable (shared: copy before modifying)."""
    return make_monthly_dataset()


@pytest.fixture(scope="session")
def train_years() -> tuple[int, int]:
    return TRAIN_YEARS


@pytest.fixture(scope="session")
def norm_stats(monthly_ds: xr.Dataset) -> xr.Dataset:
    """Normalisation statistics of :func:`monthly_ds` over :data:`TRAIN_YEARS`."""
    from icegrad.inputs.build import fit_normalisation

    return fit_normalisation(monthly_ds, TRAIN_YEARS)


def _month_index(ds: xr.Dataset, month: str | pd.Timestamp) -> int:
    return int(pd.DatetimeIndex(ds["time"].values).get_loc(pd.Timestamp(month)))


@pytest.fixture(scope="session")
def month_index() -> Callable[[xr.Dataset, str | pd.Timestamp], int]:
    """``month_index(ds, month)``: the position of ``month`` on the dataset's time axis."""
    return _month_index


FINE_PERIOD = ("2005-01", "2013-12")
"""The 25 km tests' years: enough for 12 lags, the linear trend and the 2007/2013 ROI."""


@pytest.fixture(scope="session")
def emulated_25km() -> xr.Dataset:
    """The emulated Arctic at 25 km (432 x 432) over :data:`FINE_PERIOD`, generated once per worker.

    Generating it takes about a minute whatever the period, so the 25 km tests share it and their xdist
    group (``emulated-25km``) puts them on one worker.
    """
    from icegrad.data import emulator, validate_monthly_dataset

    return validate_monthly_dataset(emulator.generate(25, *FINE_PERIOD, seed=0), check_values=False)
