"""Small models and inputs for the attribution tests: a tiny IceNet and an exactly linear model."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.variables import CHANNEL_NAMES

SIDE = 32


def make_sample(side: int = SIDE, seed: int = 0, n_channels: int = 50) -> xr.DataArray:
    """A random normalised input sample (y, x, channel) with IceNet channel names."""
    values = np.random.default_rng(seed).standard_normal((side, side, n_channels)).astype("float32")
    names = list(CHANNEL_NAMES[:n_channels])
    sample = xr.DataArray(values, dims=("y", "x", "channel"), coords={"channel": names})
    if "land" in names:
        land = np.zeros((side, side), dtype="float32")
        land[:, :4] = 1.0  # a western coast
        sample.loc[{"channel": "land"}] = land
    return sample


def make_roi(side: int = SIDE) -> np.ndarray:
    roi = np.zeros((side, side), dtype=bool)
    roi[10:20, 12:22] = True
    return roi


def linear_model(side: int = SIDE, n_channels: int = 4, seed: int = 0) -> keras.Model:
    """Output (batch, y, x, 3, 6) that is linear in the input: a 1x1 convolution, no softmax."""
    inputs = keras.Input((side, side, n_channels))
    conv = keras.layers.Conv2D(18, 1, kernel_initializer=keras.initializers.RandomNormal(seed=seed),
                               bias_initializer=keras.initializers.RandomNormal(seed=seed + 1))(inputs)
    outputs = keras.layers.Reshape((side, side, 3, 6))(conv)
    return keras.Model(inputs, outputs, name="linear")


@pytest.fixture(scope="module")
def tiny_icenet() -> keras.Model:
    icenet = pytest.importorskip("icegrad.model.icenet")
    return icenet.build_icenet(SIDE, SIDE, n_channels=50, filters_factor=0.125, seed=0)


@pytest.fixture(scope="module")
def sample() -> xr.DataArray:
    return make_sample()


@pytest.fixture(scope="module")
def roi() -> np.ndarray:
    return make_roi()


@pytest.fixture(scope="session")
def helpers() -> SimpleNamespace:
    """The builders above, for tests (pytest's importlib mode cannot import conftest directly)."""
    return SimpleNamespace(SIDE=SIDE, make_sample=make_sample, make_roi=make_roi, linear_model=linear_model)
