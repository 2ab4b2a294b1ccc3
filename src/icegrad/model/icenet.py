"""IceNet's U-Net (Andersson et al. 2021) in Keras 3, with its temperature-scaling layer.

The architecture follows the paper's released code layer for layer, because gradients are only as
meaningful as the network they are taken through:

* five encoder blocks of two 3x3 convolutions (ReLU, He-normal) and a BatchNorm, with 2x2 max-pooling
  between them; base filters 64, 128, 256, 256, 512 times ``filters_factor`` (2 in the paper);
* four decoder steps: nearest-neighbour 2x upsampling, a 2x2 convolution, concatenation with the
  encoder output of the same size (the BatchNorm output for blocks 4, 3, 2; the second convolution of
  block 1, which IceNet skips without normalising), then two 3x3 convolutions and a BatchNorm; the last
  step has three 3x3 convolutions and no BatchNorm;
* six 1x1 convolution heads (one per lead month) of three class logits, stacked on a last ``lead``
  axis, divided by a fitted temperature and passed through a softmax over the class axis.

Four max-pools need a side divisible by 16. The 25 km grid (432) is; 216, 108 and 54 are not, so for
those sides the model zero-pads its input symmetrically to the next multiple of 16 and crops the
output back. The padding is part of the model, so callers (and gradients) always see the grid's own
shape; at 432 no extra layers exist and the network is exactly IceNet's.

Example
-------
>>> model = build_icenet(54, 54, n_channels=50, filters_factor=0.125, seed=0)
>>> model.output_shape
(None, 54, 54, 3, 6)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from icegrad.errors import IcegradError

POOL_LEVELS = 4
SIDE_MULTIPLE = 2**POOL_LEVELS
BASE_FILTERS = (64, 128, 256, 256, 512)
"""IceNet's encoder filters per block before ``filters_factor`` is applied."""

DECODER_FILTERS = (256, 256, 128, 64)
"""Filters of the four decoder steps (up-convolution and the convolutions after it)."""


class ModelShapeError(IcegradError):
    """Arguments that cannot make an IceNet model, or inputs that do not fit a built one."""


@keras.saving.register_keras_serializable(package="icegrad")
class TemperatureScale(layers.Layer):
    """Divide logits by a scalar temperature (Guo et al. 2017), fitted after training on validation data.

    The temperature is a *non-trainable* weight so that ordinary training never touches it;
    :func:`icegrad.model.train.fit_temperature` sets it by minimising the validation negative
    log-likelihood. It is saved with the model's weights, and its initial value with the config.
    """

    def __init__(self, temperature: float = 1.0, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ModelShapeError(f"temperature must be positive, got {temperature!r}")
        self.initial_temperature = float(temperature)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_temperature),
            trainable=False,
            dtype="float32",
        )

    def call(self, logits: keras.KerasTensor) -> keras.KerasTensor:
        return ops.divide(ops.cast(logits, "float32"), self.temperature)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "temperature": self.initial_temperature}


def n_filters(base: int, filters_factor: float) -> int:
    """Filters of a layer: IceNet truncates ``base * factor`` to an integer (at least one filter)."""
    return max(1, int(base * filters_factor))


def padding_for(side: int) -> tuple[int, int]:
    """Zero padding (before, after) that brings ``side`` to the next multiple of 16."""
    total = -side % SIDE_MULTIPLE
    return total // 2, total - total // 2


def _conv(filters: int, size: int, name: str) -> layers.Conv2D:
    return layers.Conv2D(filters, size, activation="relu", padding="same",
                         kernel_initializer="he_normal", name=name)


def build_icenet(
    height: int,
    width_px: int,
    n_channels: int = 50,
    filters_factor: float = 2,
    n_leads: int = 6,
    n_classes: int = 3,
    temperature: float = 1.0,
    seed: int | None = None,
) -> keras.Model:
    """Build an (uncompiled) IceNet U-Net for ``height x width_px`` grids of ``n_channels`` inputs.

    Output: class probabilities ``(batch, height, width_px, n_classes, n_leads)`` in float32, also
    under a mixed-precision policy. ``seed`` makes the initial weights reproducible.
    """
    for label, value in (("height", height), ("width_px", width_px), ("n_channels", n_channels),
                         ("n_leads", n_leads), ("n_classes", n_classes)):
        if not isinstance(value, int) or value < 1:
            raise ModelShapeError(f"{label} must be a positive integer, got {value!r}")
    if min(height, width_px) < SIDE_MULTIPLE // 2:
        raise ModelShapeError(f"grid of {height}x{width_px} is too small for IceNet's four 2x2 "
                              f"max-pools; use at least {SIDE_MULTIPLE // 2} cells a side (200 km = 54).")
    if not filters_factor > 0:
        raise ModelShapeError(f"filters_factor must be positive, got {filters_factor!r}")
    if seed is not None:
        keras.utils.set_random_seed(seed)

    inputs = keras.Input(shape=(height, width_px, n_channels), name="inputs")
    pad_y, pad_x = padding_for(height), padding_for(width_px)
    padded = any(pad_y + pad_x)
    x = layers.ZeroPadding2D((pad_y, pad_x), name="pad_to_multiple_of_16")(inputs) if padded else inputs

    skips = []
    for level, base in enumerate(BASE_FILTERS, start=1):
        filters = n_filters(base, filters_factor)
        x = _conv(filters, 3, f"enc{level}_conv1")(x)
        x = _conv(filters, 3, f"enc{level}_conv2")(x)
        # IceNet's shallowest skip leaves before the BatchNorm; the deeper ones after it.
        conv_out = x
        x = layers.BatchNormalization(axis=-1, name=f"enc{level}_bn")(x)
        if level <= POOL_LEVELS:
            skips.append(conv_out if level == 1 else x)
            x = layers.MaxPooling2D(pool_size=2, name=f"enc{level}_pool")(x)

    for step, (base, skip) in enumerate(zip(DECODER_FILTERS, reversed(skips), strict=True), start=1):
        filters = n_filters(base, filters_factor)
        level = POOL_LEVELS + 1 - step
        x = layers.UpSampling2D(size=2, interpolation="nearest", name=f"dec{level}_upsample")(x)
        x = _conv(filters, 2, f"dec{level}_upconv")(x)
        x = layers.Concatenate(axis=-1, name=f"dec{level}_concat")([skip, x])
        x = _conv(filters, 3, f"dec{level}_conv1")(x)
        x = _conv(filters, 3, f"dec{level}_conv2")(x)
        if level > 1:
            x = layers.BatchNormalization(axis=-1, name=f"dec{level}_bn")(x)
        else:
            x = _conv(filters, 3, f"dec{level}_conv3")(x)

    if padded:
        x = layers.Cropping2D((pad_y, pad_x), name="crop_to_grid")(x)

    heads = []
    for lead in range(1, n_leads + 1):
        head = layers.Conv2D(n_classes, 1, activation="linear", name=f"lead{lead}_logits")(x)
        heads.append(layers.Reshape((height, width_px, n_classes, 1), name=f"lead{lead}_expand")(head))
    logits = heads[0] if n_leads == 1 else layers.Concatenate(axis=-1, name="logits")(heads)
    scaled = TemperatureScale(temperature, name="temperature_scale", dtype="float32")(logits)
    probs = layers.Softmax(axis=-2, name="class_probabilities", dtype="float32")(scaled)
    return keras.Model(inputs, probs, name="icenet")


def icenet_layer_order(n_leads: int = 6) -> tuple[list[str], list[str]]:
    """Names of the Conv2D and BatchNormalization layers of :func:`build_icenet`, in IceNet's order.

    IceNet's code creates its layers in this order (so Keras 2 numbered them ``conv2d``, ``conv2d_1``,
    ... in it); :mod:`icegrad.model.weights` pairs the layers of a legacy file with ours by it.
    """
    convs = [f"enc{level}_conv{i}" for level in range(1, len(BASE_FILTERS) + 1) for i in (1, 2)]
    for level in range(POOL_LEVELS, 0, -1):
        convs += [f"dec{level}_upconv", f"dec{level}_conv1", f"dec{level}_conv2"]
        if level == 1:
            convs.append("dec1_conv3")
    convs += [f"lead{lead}_logits" for lead in range(1, n_leads + 1)]
    norms = [f"enc{level}_bn" for level in range(1, len(BASE_FILTERS) + 1)]
    norms += [f"dec{level}_bn" for level in range(POOL_LEVELS, 1, -1)]
    return convs, norms


def temperature_layer(model: keras.Model) -> TemperatureScale:
    """The model's :class:`TemperatureScale` layer (error if the model has none)."""
    for layer in model.layers:
        if isinstance(layer, TemperatureScale):
            return layer
    raise ModelShapeError(f"model {model.name!r} has no TemperatureScale layer; build it with build_icenet")


def check_input_shape(model: keras.Model, shape: tuple[int, ...]) -> None:
    """Raise :class:`ModelShapeError` unless an array of ``shape`` (batch, y, x, channel) fits ``model``."""
    expected = tuple(model.input_shape[1:])
    if len(shape) != 4 or tuple(shape[1:]) != expected:
        raise ModelShapeError(
            f"inputs of shape {tuple(shape)} do not fit model {model.name!r}, which expects "
            f"(batch, {expected[0]}, {expected[1]}, {expected[2]}) = (batch, y, x, channel); build inputs "
            "on the same grid and with the same channel list as the model was trained with."
        )
