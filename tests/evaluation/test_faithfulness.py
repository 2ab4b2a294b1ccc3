"""Deletion/insertion curves reward a faithful ranking and not a reversed one."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator, Mapping

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation.faithfulness import compare_orderings, deletion_insertion
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


def test_compare_orderings_shares_one_random_control(setting: tuple) -> None:
    model, result = setting
    reversed_ = result.assign(attribution=-result["attribution"])
    ds = compare_orderings(model, {"faithful": result, "reversed": reversed_}, fractions=(0, 0.1, 0.5, 1),
                           n_random=3)
    assert ds["order"].values.tolist() == ["faithful", "reversed", "random"]
    assert ds["deletion"].dims == ("order", "member", "lead", "fraction")
    assert ds["deletion"].shape == (3, 1, 1, 4)
    assert ds["deletion_gain"].dims == ("label", "member", "lead")
    assert ds["deletion_gain"].attrs["units"] == "1" and "long_name" in ds["insertion_gain"].attrs
    gains = ds[["deletion_gain", "insertion_gain"]]
    assert gains["deletion_gain"].sel(label="faithful").item() > 0
    assert gains["insertion_gain"].sel(label="faithful").item() > 0
    assert gains["deletion_gain"].sel(label="reversed").item() < 0
    assert gains["insertion_gain"].sel(label="reversed").item() < 0
    # one control: the random areas are the same whatever other method is compared beside it
    alone = compare_orderings(model, {"faithful": result}, fractions=(0, 0.1, 0.5, 1), n_random=3)
    assert alone["deletion_auc"].sel(order="random").item() == pytest.approx(
        ds["deletion_auc"].sel(order="random").item())
    faithful = gains["deletion_gain"].sel(label="faithful").item()
    assert alone["deletion_gain"].item() == pytest.approx(faithful)


def test_compare_orderings_refuses_results_of_different_forecasts(setting: tuple) -> None:
    model, result = setting
    other = result.assign(input=result["input"] + 1)
    with pytest.raises(AttributionError, match="'b' explains another forecast"):
        compare_orderings(model, {"a": result, "b": other})
    with pytest.raises(AttributionError, match="no attribution results"):
        compare_orderings(model, {})


class OnLookup(Mapping):
    """Results made when looked up (as pipeline.score_methods' lazy mapping reads them from the cache),
    recording how often each is asked for and which earlier ones are still alive at each lookup."""

    def __init__(self, results: dict[str, xr.Dataset]) -> None:
        self.results, self.lookups, self.alive_at_lookup = results, [], []
        self.handed_out: list[weakref.ref] = []

    def __getitem__(self, label: str) -> xr.Dataset:
        gc.collect()
        self.alive_at_lookup.append(sum(ref() is not None for ref in self.handed_out))
        self.lookups.append(label)
        fresh = self.results[label].copy(deep=True)
        self.handed_out.append(weakref.ref(fresh))
        return fresh

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


def test_compare_orderings_holds_one_result_at_a_time_with_the_same_curves(setting: tuple) -> None:
    model, result = setting
    plain = {"faithful": result, "reversed": result.assign(attribution=-result["attribution"]),
             "again": result}
    lazy = OnLookup(plain)
    curves = compare_orderings(model, lazy, fractions=(0, 0.1, 0.5, 1), n_random=2)
    assert lazy.lookups == list(plain) and lazy.alive_at_lookup == [0, 0, 0]
    expected = compare_orderings(model, plain, fractions=(0, 0.1, 0.5, 1), n_random=2)
    xr.testing.assert_identical(curves, expected)
