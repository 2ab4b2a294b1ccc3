"""Sanity checks against answers known in closed form or by construction, not recomputed from the code.

The models are ``output = W^T x^p`` per pixel (a power, then a 1x1 convolution without bias, read as
3 classes x 6 leads). Their ROI target (mean SIP over the ROI at one lead) is
``T(x) = mean over ROI pixels of sum_c w_c x_c^p`` with ``w_c = W[c, marginal, lead] + W[c, full, lead]``,
so, from the zeros baseline:

* p = 2: the IG integrand is linear in alpha, so the midpoint rule is exact and each attribution is
  ``w_c x_c^2 / n_roi``;
* p = 3: the midpoint rule with n steps sums ``3 ((k + 1/2) / n)^2 / n`` to ``1 - 1 / (4 n^2)``, so the
  attributions add up to that fraction of ``T(x) - T(0)``: a relative completeness error of
  ``1 / (4 n^2)`` exactly.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest

from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation.sanity import (
    completeness,
    ensemble_completeness,
    gradient_check,
    parameter_randomisation,
)
from icegrad.model.icenet import build_icenet

N_CHANNELS = 4
LEAD = 2


class Power(keras.layers.Layer):
    """x ** p, elementwise: a layer without weights."""

    def __init__(self, p: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.p = p

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return keras.ops.power(x, self.p)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "p": self.p}


def power_model(side: int, p: int, seed: int) -> tuple[keras.Model, np.ndarray]:
    """The model ``W^T x^p`` and its effective per-channel target weights ``w_c`` at ``LEAD``."""
    weights = np.random.default_rng(seed).standard_normal((N_CHANNELS, 18)).astype("float32")
    inputs = keras.Input((side, side, N_CHANNELS))
    conv = keras.layers.Conv2D(18, 1, use_bias=False)
    outputs = keras.layers.Reshape((side, side, 3, 6))(conv(Power(p)(inputs)))
    model = keras.Model(inputs, outputs, name=f"power{p}")
    conv.set_weights([weights.reshape(1, 1, N_CHANNELS, 18)])
    by_class = weights.reshape(N_CHANNELS, 3, 6)[:, :, LEAD - 1]
    return model, by_class[:, 1] + by_class[:, 2]  # marginal + full ice = SIP


def target(values: np.ndarray, roi: np.ndarray, w: np.ndarray, p: int) -> float:
    """T(x) by hand: mean over the ROI's pixels of sum_c w_c x_c^p."""
    return float((values[roi].astype("float64") ** p @ w).mean())


@pytest.fixture(scope="module")
def setup(helpers: SimpleNamespace) -> SimpleNamespace:
    sample = helpers.make_sample(n_channels=N_CHANNELS)
    return SimpleNamespace(sample=sample, values=sample.values, roi=helpers.make_roi(), side=helpers.SIDE)


def test_ig_on_a_quadratic_model_is_exact_and_complete(setup: SimpleNamespace) -> None:
    model, w = power_model(setup.side, p=2, seed=0)
    ds = attribute(model, setup.sample, setup.roi, leads=LEAD, steps=4, baseline="zeros")
    expected = np.where(setup.roi[..., None], setup.values.astype("float64") ** 2 * w, 0) / setup.roi.sum()
    np.testing.assert_allclose(ds["attribution"].sel(member=0, lead=LEAD).transpose("y", "x", "channel"),
                               expected, rtol=1e-4, atol=1e-9)
    row = completeness(ds).iloc[0]
    change = target(setup.values, setup.roi, w, 2)
    assert row.target_change == pytest.approx(change, rel=1e-5)
    assert row.attribution_sum == pytest.approx(change, rel=1e-4)
    assert row.relative_error < 1e-4


@pytest.mark.parametrize("steps", [2, 4, 8])
def test_completeness_reports_the_midpoint_rules_known_error_on_a_cubic_model(
        setup: SimpleNamespace, steps: int) -> None:
    model, w = power_model(setup.side, p=3, seed=1)
    row = completeness(attribute(model, setup.sample, setup.roi, leads=LEAD, steps=steps,
                                    baseline="zeros")).iloc[0]
    change = target(setup.values, setup.roi, w, 3)
    assert row.target_change == pytest.approx(change, rel=1e-5)
    assert row.attribution_sum == pytest.approx((1 - 1 / (4 * steps**2)) * change, rel=1e-4)
    assert row.relative_error == pytest.approx(1 / (4 * steps**2), rel=1e-3)


def test_ensemble_completeness_is_that_of_the_mean_attribution(setup: SimpleNamespace) -> None:
    (quadratic, wq), (cubic, wc) = power_model(setup.side, 2, seed=2), power_model(setup.side, 3, seed=3)
    steps = 4
    ds = attribute([quadratic, cubic], setup.sample, setup.roi, leads=(1, LEAD), steps=steps,
                   baseline="zeros")
    # member 0 is exact, member 1 misses 1/(4 n^2) of its change; the mean carries half of that miss
    c0, c1 = target(setup.values, setup.roi, wq, 2), target(setup.values, setup.roi, wc, 3)
    row = ensemble_completeness(ds).set_index("lead").loc[LEAD]
    assert row.target_change == pytest.approx((c0 + c1) / 2, rel=1e-5)
    assert row.abs_error == pytest.approx(abs(c1) / (4 * steps**2) / 2, rel=1e-3)
    assert row.relative_error == pytest.approx(abs(c1) / (4 * steps**2) / abs(c0 + c1), rel=1e-3)
    assert list(ensemble_completeness(ds)["lead"]) == [1, LEAD]


def test_completeness_refuses_other_methods(setup: SimpleNamespace) -> None:
    model, _ = power_model(setup.side, p=2, seed=0)
    with pytest.raises(AttributionError, match="integrated gradients"):
        completeness(attribute(model, setup.sample, setup.roi, LEAD, "vanilla_gradient"))


def test_gradients_and_finite_differences_match_the_closed_form(setup: SimpleNamespace) -> None:
    model, w = power_model(setup.side, p=3, seed=4)
    table = gradient_check(model, setup.sample, setup.roi, lead=LEAD, n_pixels=4, eps=1e-3)
    channels = list(setup.sample["channel"].values)
    c = np.array([channels.index(name) for name in table["channel"]])
    x = setup.values[table["y"], table["x"], c].astype("float64")
    exact = 3 * x**2 * w[c] / setup.roi.sum()  # dT/dx_c at an ROI pixel
    assert setup.roi[table["y"], table["x"]].all()
    np.testing.assert_allclose(table["gradient"], exact, rtol=1e-4)
    np.testing.assert_allclose(table["finite_difference"], exact, rtol=1e-3)
    assert (table["relative_error"] < 1e-3).all()


class Ramp(keras.layers.Layer):
    """Output ``sum_c V[y, x, c] x_c``, tiled to (3 classes, 6 leads): its gradient is the weight map V.

    A fresh copy starts from the ramp 1, 2, ..., N, so a copy whose weights were set to ``-ramp`` has a
    gradient map exactly reversed in rank from the re-initialised one, with identical magnitudes."""

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape[1:])
        ramp = np.arange(1, np.prod(shape) + 1, dtype="float32").reshape(shape)
        self.v = self.add_weight(shape=shape, initializer=keras.initializers.Constant(0.0))
        self.v.assign(ramp)

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        pixel = keras.ops.sum(x * self.v, axis=-1, keepdims=True)
        return keras.ops.reshape(keras.ops.tile(pixel, (1, 1, 1, 18)), (-1, *x.shape[1:3], 3, 6))


def test_randomisation_sees_reversed_weights_as_reversed_ranks(setup: SimpleNamespace) -> None:
    inputs = keras.Input((setup.side, setup.side, N_CHANNELS))
    ramp = Ramp()
    model = keras.Model(inputs, ramp(inputs))
    ramp.v.assign(-ramp.v)  # "training" reversed every weight
    everywhere = np.ones_like(setup.roi)
    table = parameter_randomisation(model, setup.sample, everywhere, leads=(LEAD,), method="vanilla_gradient")
    assert list(table.columns) == ["member", "lead", "spearman_signed", "spearman_abs"]
    assert table["spearman_signed"].iloc[0] == pytest.approx(-1.0)
    assert table["spearman_abs"].iloc[0] == pytest.approx(1.0)


def test_cached_randomisation_is_read_back_not_computed_again(setup: SimpleNamespace,
                                                                isolated_cache: Path) -> None:
    # The seeded re-initialisation gives the same weights each time, so a second call (the discussion
    # re-checking ch. 5) finds both the trained and the randomised maps in the cache.
    model = build_icenet(setup.side, setup.side, n_channels=N_CHANNELS, filters_factor=0.125, seed=0)
    first = parameter_randomisation(model, setup.sample, setup.roi, leads=(LEAD,), method="vanilla_gradient",
                                    cache=True)
    entries = sorted((isolated_cache / "attributions").glob("*.nc"))
    assert len(entries) == 2
    stamps = [e.stat().st_mtime_ns for e in entries]
    again = parameter_randomisation(model, setup.sample, setup.roi, leads=(LEAD,), method="vanilla_gradient",
                                    cache=True)
    assert sorted((isolated_cache / "attributions").glob("*.nc")) == entries
    assert [e.stat().st_mtime_ns for e in entries] == stamps
    pd.testing.assert_frame_equal(first, again)


class FirstChannel(keras.layers.Layer):
    """The first input channel, repeated for 3 classes x 6 leads: a layer without weights."""

    def call(self, x: keras.KerasTensor) -> keras.KerasTensor:
        return keras.ops.tile(x[..., :1], (1, 1, 1, 18))


def test_randomisation_flags_a_map_that_ignores_the_weights(setup: SimpleNamespace) -> None:
    # No weights: the "re-initialised" network is the same function, so the maps correlate perfectly.
    inputs = keras.Input((setup.side, setup.side, N_CHANNELS))
    square = Power(2)(FirstChannel()(inputs))
    model = keras.Model(inputs, keras.layers.Reshape((setup.side, setup.side, 3, 6))(square))
    table = parameter_randomisation(model, setup.sample, setup.roi, leads=(LEAD,), method="vanilla_gradient")
    assert table["spearman_signed"].iloc[0] == pytest.approx(1.0)
    assert table["spearman_abs"].iloc[0] == pytest.approx(1.0)
