"""IceNet's training losses over ``(batch, y, x, class, lead)`` one-hot targets.

IceNet's released code trains with a categorical focal loss (Lin et al. 2017, gamma = 2), which
down-weights the many easy cells (open ocean in summer, pack ice in winter) so that training effort
goes to the ice edge; a weighted categorical cross-entropy is its plain alternative. Both reduce the
class axis (-2) only and return a loss per ``(batch, y, x, lead)``, so Keras multiplies it by IceNet's
per-pixel, per-lead sample weights (zero outside the active region) before averaging.
"""

from __future__ import annotations

import keras
from keras import ops

from icegrad.errors import IcegradError

EPSILON = 1e-7
LOSSES = ("focal", "crossentropy")


class UnknownLossError(IcegradError):
    """A loss name icegrad does not provide."""


@keras.saving.register_keras_serializable(package="icegrad")
class CategoricalFocalLoss(keras.losses.Loss):
    """``-sum_c y_c (1 - p_c)^gamma log p_c`` over the class axis (-2)."""

    def __init__(self, gamma: float = 2.0, name: str = "categorical_focal_loss", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)
        self.gamma = float(gamma)

    def call(self, y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
        p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
        y = ops.cast(y_true, "float32")
        return -ops.sum(y * ops.power(1.0 - p, self.gamma) * ops.log(p), axis=-2)

    def get_config(self) -> dict[str, object]:
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="icegrad")
class WeightedCategoricalCrossentropy(keras.losses.Loss):
    """``-sum_c y_c log p_c`` over the class axis (-2); the weighting comes from the sample weights."""

    def __init__(self, name: str = "weighted_categorical_crossentropy", **kwargs: object) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: keras.KerasTensor, y_pred: keras.KerasTensor) -> keras.KerasTensor:
        p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
        return -ops.sum(ops.cast(y_true, "float32") * ops.log(p), axis=-2)


def make_loss(name: str, gamma: float = 2.0) -> keras.losses.Loss:
    """The loss called ``name`` (``"focal"`` or ``"crossentropy"``)."""
    if name == "focal":
        return CategoricalFocalLoss(gamma)
    if name == "crossentropy":
        return WeightedCategoricalCrossentropy()
    raise UnknownLossError(f"unknown loss {name!r}; choose one of {LOSSES}")
