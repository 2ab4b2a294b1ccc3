"""Where and how attribution work runs: device, numeric precision, and memory-bounded batch sizes.

* **Device**: the first GPU TensorFlow lists (``tf.config.list_logical_devices``), else the CPU.
* **Precision**: ``"float32"`` (default), ``"mixed_float16"`` / ``"mixed_bfloat16"`` (faster on GPUs
  with tensor cores; results agree with float32 to a few per mille) or ``"float64"`` (for
  finite-difference checks). A model is re-cast by cloning its architecture under the new Keras dtype
  policy and copying the weights, so the caller's model is never modified.
* **Memory**: integrated gradients and SmoothGrad evaluate many perturbed inputs; they are run as
  batches of at most :func:`chunk_size` samples so that a forward and backward pass fits a budget.

The per-sample memory estimate (:func:`bytes_per_sample`) is

    bytes = dtype_bytes * (A * (1 + BACKWARD_FACTOR) + I * (2 + n_targets))

with ``A`` the number of activation values one sample creates in the forward pass (the sum of every
layer's output size, read from the model's graph), kept alive by the tape for the backward pass; the
backward pass creates gradient tensors of the same sizes, of which at most about ``BACKWARD_FACTOR``
times ``A`` are alive at once (TensorFlow frees them as it walks back, but concatenations and
independent per-lead passes overlap). ``I`` is the input size: the sample itself, its interpolation
or noise, and one input gradient per target. ``benchmarks/attribution.py`` compares the estimate with
the measured peak.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from icegrad.attribution.errors import AttributionError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "float64")
BACKWARD_FACTOR = 1.0
FLOAT32_LAYERS = ("Softmax", "TemperatureScale")
DEFAULT_MEMORY_BUDGET = 256 * 2**20
"""256 MiB for one batch's activations and gradients. A chapter must run in a 2 GB Binder session, where
TensorFlow's runtime (~610 MiB) and the data (~300 MiB at 100 km) are already resident. On CPU a bigger
batch buys no speed: integrated gradients of the book's 100 km network (~52 MiB a sample), two leads of
five members on one core, took 31.2 s in batches of 2, 28.5 s in batches of 4 (this budget) and
29.3-30.4 s in batches of 8 (512 MiB), while the process peaked at 1228, 1273 and 1364-1389 MiB
(measured 2026-12-08 on the 2-core reference machine, ``benchmarks/batch_budgets.py``). Raise it on a
GPU (e.g. 60e9 on an 80 GB card)."""


def select_device(device: str | None = None) -> str:
    """The TensorFlow device to run on: ``device`` if given and present, else GPU 0, else CPU 0."""
    available = {d.name.replace("/device:", "/").upper(): d.name for d in tf.config.list_logical_devices()}
    if device is not None:
        key = device.upper() if device.startswith("/") else f"/{device.upper()}"
        if key not in available:
            raise AttributionError(f"device {device!r} is not available; TensorFlow sees "
                                   f"{sorted(available)}")
        return available[key]
    gpus = tf.config.list_logical_devices("GPU")
    return gpus[0].name if gpus else tf.config.list_logical_devices("CPU")[0].name


def cast_model(model: keras.Model, precision: str = "float32", copy: bool = False) -> keras.Model:
    """``model`` under the dtype policy ``precision``: the model itself when nothing changes, unless
    ``copy`` asks for a model of its own (whose weights can be overwritten without touching ``model``)."""
    if precision not in PRECISIONS:
        raise AttributionError(f"unknown precision {precision!r}; choose one of {PRECISIONS}")
    unchanged = precision == "float32" and all(layer.dtype_policy.name == "float32" for layer in model.layers)
    if unchanged and not copy:
        return model

    def recast(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        # Under a mixed policy the softmax and temperature layers stay float32, as Keras recommends for
        # a model's final activations; in float64 everything is float64.
        if precision == "float64" or type(layer).__name__ not in FLOAT32_LAYERS:
            config["dtype"] = precision
        return layer.__class__.from_config(config)

    try:
        clone = keras.models.clone_model(model, clone_function=recast)
    except (ValueError, TypeError) as err:  # TypeError: a custom layer that its configuration cannot rebuild
        raise AttributionError(f"model {model.name!r} cannot be copied or re-cast to {precision} ({err}); "
                               "only functional or Sequential Keras models can; else use float32") from None
    clone.set_weights(model.get_weights())
    return clone


def _layer_output_sizes(model: keras.Model) -> list[int]:
    sizes = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            sizes += _layer_output_sizes(layer)
            continue
        if isinstance(layer, keras.layers.InputLayer):
            continue
        outputs = layer.output if isinstance(layer.output, list | tuple) else [layer.output]
        sizes += [math.prod(int(d) for d in out.shape[1:]) for out in outputs]
    return sizes


def activation_elements(model: keras.Model) -> int:
    """Activation values one sample creates in a forward pass: the sum of all layers' output sizes."""
    try:
        return sum(_layer_output_sizes(model))
    except (AttributeError, ValueError, TypeError) as err:
        raise AttributionError(f"cannot read layer output shapes of model {model.name!r} ({err}); pass "
                               "batch_size= explicitly instead of relying on the memory budget") from None


def sample_bytes(activations: int, inputs: int, n_targets: int, precision: str = "float32") -> int:
    """The module's per-sample memory formula, from activation and input element counts."""
    dtype_bytes = {"float32": 4, "float64": 8}.get(precision, 2)
    return int(dtype_bytes * activations * (1 + BACKWARD_FACTOR) + 4 * inputs * (2 + n_targets))


def bytes_per_sample(model: keras.Model, n_targets: int, precision: str = "float32") -> int:
    """Estimated peak bytes one sample needs for a forward pass and ``n_targets`` backward passes."""
    inputs = math.prod(int(d) for d in model.input_shape[1:])
    return sample_bytes(activation_elements(model), inputs, n_targets, precision)


def chunk_size(
    n_samples: int,
    per_sample_bytes: int,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    batch_size: int | None = None,
) -> int:
    """Samples per batch: ``batch_size`` if given, else as many as fit ``memory_budget`` (None: all).

    Chunks are then evened out (e.g. 64 samples with room for 20 become 4 batches of 16), so that
    every batch has the same shape and a compiled function is traced once.
    """
    if batch_size is not None:
        if batch_size < 1:
            raise AttributionError(f"batch_size must be >= 1, got {batch_size}")
        largest = batch_size
    elif memory_budget is None:
        largest = n_samples
    else:
        largest = memory_budget // max(per_sample_bytes, 1)
        if largest < 1:
            raise AttributionError(
                f"a memory budget of {memory_budget / 2**20:.0f} MiB cannot hold one sample "
                f"(~{per_sample_bytes / 2**20:.0f} MiB for a forward and backward pass); raise "
                "memory_budget or use a coarser grid")
    largest = max(1, min(largest, n_samples))
    n_chunks = math.ceil(n_samples / largest)
    return math.ceil(n_samples / n_chunks)


def padded_chunks(n_samples: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of ``size`` covering ``n_samples`` (the last may be short)."""
    return [(start, min(start + size, n_samples)) for start in range(0, n_samples, size)]


def pad_to(array: np.ndarray, size: int) -> np.ndarray:
    """Pad ``array`` along axis 0 with zeros to ``size`` rows (zero weights make the padding inert)."""
    missing = size - array.shape[0]
    if missing <= 0:
        return array
    return np.concatenate([array, np.zeros((missing, *array.shape[1:]), dtype=array.dtype)])
