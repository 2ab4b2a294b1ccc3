"""Tiny networks and samples for the evaluation tests (the attribution tests' builders, re-used)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.variables import CHANNEL_NAMES

SIDE = 16


@pytest.fixture(scope="module")
def tiny_icenet() -> keras.Model:
    icenet = pytest.importorskip("icegrad.model.icenet")
    return icenet.build_icenet(SIDE, SIDE, n_channels=50, filters_factor=0.125, seed=0)


@pytest.fixture(scope="module")
def sample() -> xr.DataArray:
    values = np.random.default_rng(0).standard_normal((SIDE, SIDE, 50)).astype("float32")
    return xr.DataArray(values, dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES)})


@pytest.fixture(scope="module")
def roi() -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    mask[4:10, 5:11] = True
    return mask
