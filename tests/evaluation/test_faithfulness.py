"""Deletion/insertion curves reward a faithful ranking and not a reversed one."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation.faithfulness import deletion_insertion
from icegrad.variables import CHANNEL_NAMES

SIDE = 8


def linear_model(seed: int = 0) -> keras.Model:
    """Output (batch, y, x, 3, 6) linear in a 4-channel input: input x gradient is exact for it."""
    inputs = keras.Input((SIDE, SIDE, 4))
    conv = keras.layers.Conv2D(18, 1, kernel_initializer=keras.initializers.RandomNormal(seed=seed))(inputs)
    return keras.Model(inputs, keras.layers.Reshape((SIDE, SIDE, 3, 6))(conv))


@pytest.fixture(scope="module")
def setting() -> tuple[keras.Model, xr.Dataset]:
    model = linear_model()
    values = np.random.default_rng(0).standard_normal((SIDE, SIDE, 4)).astype("float32")
    sample = xr.DataArray(values, dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES[:4])})
    roi = np.zeros((SIDE, SIDE), bool)
    roi[2:6, 2:6] = True
    return model, attribute(model, sample, roi, 1, "gradient_x_input")


def test_a_faithful_ranking_beats_random_and_its_reverse_does_not(setting: tuple) -> None:
    model, result = setting
    curves, summary = deletion_insertion(model, result, n_random=4)
    assert summary["deletion_gain"].iloc[0] > 0 and summary["insertion_gain"].iloc[0] > 0
    method = curves[curves["order"] == "method"]
    assert method["deletion"].iloc[-1] == pytest.approx(method["insertion"].iloc[0], abs=1e-5)  # all x'
    reversed_ = result.assign(attribution=-result["attribution"])
    assert deletion_insertion(model, reversed_, n_random=4)[1]["deletion_gain"].iloc[0] < 0


def test_bad_settings_are_named(setting: tuple) -> None:
    model, result = setting
    with pytest.raises(AttributionError, match="2 model"):
        deletion_insertion([model, model], result)
    with pytest.raises(AttributionError, match="fractions"):
        deletion_insertion(model, result, fractions=[0.5])
