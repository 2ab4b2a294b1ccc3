"""The IceNet U-Net: parameter count by arithmetic, shapes at every grid size, serialisation, errors."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.model.icenet import (
    ModelShapeError,
    TemperatureScale,
    build_icenet,
    check_input_shape,
    icenet_layer_order,
    padding_for,
    temperature_layer,
)


def test_full_size_parameter_count_matches_arithmetic(layer_specs):
    convs, norms = layer_specs(n_channels=50, factor=2)
    expected = sum(kh * kw * c_in * c_out + c_out for kh, kw, c_in, c_out in convs)
    expected += sum(4 * c for c in norms)  # gamma, beta, moving mean, moving variance
    expected += 1  # the temperature
    model = build_icenet(432, 432, 50, filters_factor=2)
    assert model.count_params() == expected
    # The first block convolves 50 channels to 128 filters, as IceNet with n_filters_factor=2.
    assert model.get_layer("enc1_conv1").kernel.shape == (3, 3, 50, 128)


def test_layers_match_icenet_order_and_shapes(layer_specs):
    convs, norms = layer_specs(n_channels=7, factor=0.25, n_leads=4)
    model = build_icenet(54, 54, 7, filters_factor=0.25, n_leads=4)
    conv_names, norm_names = icenet_layer_order(4)
    assert [tuple(model.get_layer(n).kernel.shape) for n in conv_names] == convs
    assert [model.get_layer(n).gamma.shape[0] for n in norm_names] == norms
    # The shallowest skip bypasses the BatchNorm (IceNet concatenates conv1, not bn1).
    concat_inputs = model.get_layer("dec1_concat").input
    assert concat_inputs[0] is model.get_layer("enc1_conv2").output


@pytest.mark.parametrize("side", [54, 108])
def test_output_shape_and_probabilities_on_book_and_test_grids(side):
    model = build_icenet(side, side, n_channels=5, filters_factor=0.0625, seed=0)
    x = np.random.default_rng(0).standard_normal((1, side, side, 5)).astype("float32")
    probs = np.asarray(model(x))
    assert probs.shape == (1, side, side, 3, 6)
    np.testing.assert_allclose(probs.sum(axis=-2), 1.0, atol=1e-5)
    assert probs.dtype == np.float32


@given(side=st.integers(min_value=8, max_value=500))
def test_padding_reaches_a_multiple_of_16_symmetrically(side):
    before, after = padding_for(side)
    assert (side + before + after) % 16 == 0
    assert 0 <= after - before <= 1 and before + after < 16


def test_no_padding_layers_when_the_side_divides_by_16():
    names = {layer.name for layer in build_icenet(32, 48, 2, filters_factor=0.0625).layers}
    assert "pad_to_multiple_of_16" not in names and "crop_to_grid" not in names
    names = {layer.name for layer in build_icenet(54, 54, 2, filters_factor=0.0625).layers}
    assert {"pad_to_multiple_of_16", "crop_to_grid"} <= names


def test_seed_makes_initial_weights_reproducible():
    a = build_icenet(16, 16, 2, filters_factor=0.0625, seed=3).get_weights()
    b = build_icenet(16, 16, 2, filters_factor=0.0625, seed=3).get_weights()
    c = build_icenet(16, 16, 2, filters_factor=0.0625, seed=4).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c, strict=True))


@settings(max_examples=20, deadline=None)
@given(temperature=st.floats(0.1, 10.0), logits=st.lists(st.floats(-20, 20), min_size=3, max_size=3))
def test_temperature_scale_divides_logits(temperature, logits):
    layer = TemperatureScale(temperature)
    out = np.asarray(layer(np.array(logits, dtype="float32")))
    np.testing.assert_allclose(out, np.array(logits, dtype="float32") / temperature, rtol=1e-5, atol=1e-6)


def test_temperature_sharpens_or_flattens_the_softmax():
    model = build_icenet(16, 16, 2, filters_factor=0.0625, seed=0)
    x = np.random.default_rng(1).standard_normal((1, 16, 16, 2)).astype("float32")
    before = np.asarray(model(x))
    temperature_layer(model).temperature.assign(4.0)
    after = np.asarray(model(x))
    # A higher temperature moves every distribution towards uniform: its maximum drops.
    assert (after.max(axis=-2) <= before.max(axis=-2) + 1e-6).all()
    assert not np.allclose(before, after)


def test_keras_round_trip_keeps_temperature_and_outputs(tmp_path):
    model = build_icenet(24, 24, 3, filters_factor=0.0625, seed=0)
    temperature_layer(model).temperature.assign(2.5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    x = np.random.default_rng(2).standard_normal((2, 24, 24, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert math.isclose(float(temperature_layer(loaded).temperature.numpy()), 2.5)


def test_mixed_precision_keeps_probabilities_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_icenet(16, 16, 2, filters_factor=0.0625, seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("enc1_conv1").compute_dtype == "float16"
    out = model(np.zeros((1, 16, 16, 2), dtype="float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


@pytest.mark.parametrize("kwargs, match", [
    ({"height": 4, "width_px": 54}, "too small"),
    ({"height": 54, "width_px": 54, "filters_factor": 0}, "filters_factor"),
    ({"height": 54, "width_px": 54, "n_channels": 0}, "n_channels"),
    ({"height": 54.0, "width_px": 54}, "height"),
    ({"height": 54, "width_px": 54, "temperature": -1.0}, "temperature"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ModelShapeError, match=match):
        build_icenet(**{"filters_factor": 0.0625, **kwargs})


def test_wrong_input_shape_is_named():
    model = build_icenet(16, 16, 4, filters_factor=0.0625)
    check_input_shape(model, (3, 16, 16, 4))
    with pytest.raises(ModelShapeError, match=r"expects \(batch, 16, 16, 4\)"):
        check_input_shape(model, (3, 16, 16, 50))
    with pytest.raises(ModelShapeError):
        check_input_shape(model, (16, 16, 4))


def test_model_without_temperature_layer_is_reported():
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ModelShapeError, match="no TemperatureScale"):
        temperature_layer(model)
