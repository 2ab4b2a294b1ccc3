"""What an attribution run costs, counted from IceNet's architecture without building the model.

:func:`estimate_cost` counts the multiply-adds of every convolution analytically (2 FLOPs each:
``2 k^2 C_in C_out H W``; pooling, BatchNorm, ReLU and softmax are negligible next to them) and the
activation values one sample creates, for the U-Net of :func:`icegrad.model.icenet.build_icenet`.
:func:`conv_flops` counts the same from a built model, so the two can be checked against each other.

Gradient cost: one forward pass is shared by all leads and each lead needs one backward pass.
A backward pass to the *input* only needs the data gradient of each convolution (about one forward
pass of arithmetic); TensorFlow may also form the filter gradients, so we budget
``BACKWARD_FLOP_FACTOR = 2`` forward passes per backward pass (an upper bound; the benchmark
measures the real ratio).

The full problem, for the record (``estimate_cost(432, 432, 2, members=25, leads=6, steps=64,
memory_budget=60e9)``): a forward pass of IceNet at 25 km is 1.02 TFLOP per sample. Reckoned as every
(member, lead, step) gradient taking its own forward and backward pass (3 forward passes each), the
run is 25 x 6 x 64 x 3 x 1.02 TFLOP = 29 PFLOP: a floor of ~30 s at an H100's ~1 PFLOP/s dense bf16
and ~60 s at its ~0.5 PFLOP/s TF32. Sharing the forward pass between leads, as the engine does, cuts
it to 25 x 64 x (1 + 6 x 2) x 1.02 TFLOP = 21 PFLOP. One sample creates 5.0e8 activation values
(2.0 GB in float32), ~4.3 GB with the backward pass; all 64 steps in one batch would need ~275 GB, so
on an 80 GB card with ``memory_budget=60e9`` the engine runs 5 batches of 13 steps per member
(~56 GB each), which fit.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import keras
import tensorflow as tf

from icegrad.attribution.execution import chunk_size, sample_bytes
from icegrad.model.icenet import BASE_FILTERS, DECODER_FILTERS, POOL_LEVELS, n_filters, padding_for

BACKWARD_FLOP_FACTOR = 2.0
"""Forward-pass equivalents of one backward pass to the input (upper bound, see module docstring)."""
NAIVE_GRADIENT_FACTOR = 3.0
"""Forward-pass equivalents of one independent forward + backward pass with filter gradients."""
H100_DENSE_TF32_FLOPS = 4.95e14
"""Peak dense TF32 tensor-core rate of one NVIDIA H100 SXM (datasheet: 989 TFLOP/s with sparsity,
half that dense), for a time floor: real runs reach a fraction of it."""


@dataclass(frozen=True)
class CostEstimate:
    """FLOPs and memory of an attribution run; ``*_flops`` in FLOP, ``*_bytes`` in bytes."""

    forward_flops: int
    gradient_flops: float
    total_flops: float
    naive_total_flops: float
    activation_elements: int
    bytes_per_sample: int
    unchunked_bytes: int
    memory_budget: int | None
    chunk_size: int
    chunked_bytes: int

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict, for printing or JSON."""
        return asdict(self)


def _conv(k: int, c_in: int, c_out: int, pixels: int) -> int:
    return 2 * k * k * c_in * c_out * pixels


def icenet_counts(height: int, width_px: int, filters_factor: float, n_channels: int = 50,
                  n_leads: int = 6, n_classes: int = 3) -> tuple[int, int]:
    """Forward FLOPs and activation elements per sample of ``build_icenet`` with these arguments."""
    (py0, py1), (px0, px1) = padding_for(height), padding_for(width_px)
    sy, sx = height + py0 + py1, width_px + px0 + px1
    padded = (py0 + py1 + px0 + px1) > 0
    flops, acts = 0, (sy * sx * n_channels if padded else 0)
    enc = [n_filters(b, filters_factor) for b in BASE_FILTERS]
    c_in = n_channels
    for level, f in enumerate(enc, start=1):
        px = (sy >> (level - 1)) * (sx >> (level - 1))
        flops += _conv(3, c_in, f, px) + _conv(3, f, f, px)
        acts += 3 * px * f  # two convolutions and the BatchNorm
        if level <= POOL_LEVELS:
            acts += px * f // 4
        c_in = f
    for step, base in enumerate(DECODER_FILTERS, start=1):
        level = POOL_LEVELS + 1 - step
        px = (sy >> (level - 1)) * (sx >> (level - 1))
        f, skip = n_filters(base, filters_factor), enc[level - 1]
        flops += _conv(2, c_in, f, px) + _conv(3, skip + f, f, px) + _conv(3, f, f, px)
        acts += px * c_in + px * f + px * (skip + f) + 2 * px * f  # upsample, upconv, concat, 2 convs
        flops += _conv(3, f, f, px) if level == 1 else 0
        acts += px * f  # BatchNorm, or the third convolution of the last step
        c_in = f
    grid = height * width_px
    if padded:
        acts += grid * c_in
    flops += n_leads * _conv(1, c_in, n_classes, grid)
    acts += n_leads * 2 * grid * n_classes + (grid * n_classes * n_leads if n_leads > 1 else 0)
    acts += 2 * grid * n_classes * n_leads  # temperature scaling and softmax
    return flops, acts


def separate_pass_flops(forward_flops: int, members: int, leads: int, steps: int) -> float:
    """FLOPs of integrated gradients when every (member, lead, step) gradient takes its own forward and
    backward pass: the book's case, since each lead starts from its own month and so has its own input.

    ``forward_flops`` is one forward pass of one sample, from :func:`icenet_counts` or, for networks
    in hand, :func:`conv_flops`.
    """
    return members * leads * steps * NAIVE_GRADIENT_FACTOR * forward_flops


def estimate_cost(height: int, width_px: int, filters_factor: float, members: int = 1, leads: int = 6,
                  steps: int = 64, memory_budget: int | None = None, n_channels: int = 50,
                  precision: str = "float32") -> CostEstimate:
    """FLOPs and memory of integrated gradients with ``steps`` points for ``members`` x ``leads``.

    ``chunk_size`` is the batch the engine would choose under ``memory_budget`` (None = all steps at
    once); ``chunked_bytes`` the resulting peak estimate.
    """
    forward, acts = icenet_counts(height, width_px, filters_factor, n_channels)
    per_sample = sample_bytes(acts, height * width_px * n_channels, leads, precision)
    size = chunk_size(steps, per_sample, memory_budget)
    gradient = forward * (1 + leads * BACKWARD_FLOP_FACTOR)
    return CostEstimate(
        forward_flops=forward,
        gradient_flops=gradient,
        total_flops=members * steps * gradient,
        naive_total_flops=separate_pass_flops(forward, members, leads, steps),
        activation_elements=acts,
        bytes_per_sample=per_sample,
        unchunked_bytes=steps * per_sample,
        memory_budget=memory_budget,
        chunk_size=size,
        chunked_bytes=size * per_sample,
    )


def conv_flops(model: keras.Model) -> int:
    """Convolution FLOPs of one forward pass of a built Keras model, from its layers' shapes."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += conv_flops(layer)
        elif isinstance(layer, keras.layers.Conv2D):
            k = math.prod(layer.kernel_size)
            c_in = int(layer.input.shape[-1])
            out = layer.output.shape
            total += 2 * k * c_in * int(out[-1]) * int(out[1]) * int(out[2])
    return total


def measured_flop_rate(model: keras.Model, forward_flops: int, batch: int = 4, repeats: int = 3) -> float:
    """Convolution FLOP/s of ``model``'s forward pass on this machine (best of ``repeats`` timed calls).

    Turns the analytic counts into wall-clock estimates for the hardware at hand; the first call,
    which includes graph tracing and memory allocation, is not timed. Runs on the device TensorFlow
    places the model on, so a GPU machine reports a GPU rate.
    """
    if batch < 1 or repeats < 1:
        raise ValueError(f"batch={batch} and repeats={repeats} must both be >= 1")
    if forward_flops <= 0:
        raise ValueError(f"forward_flops={forward_flops} must be positive; count it with conv_flops(model)")
    inputs = tf.zeros((batch, *model.input_shape[1:]), dtype=model.inputs[0].dtype)
    forward = tf.function(lambda x: model(x, training=False))
    forward(inputs)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        forward(inputs).numpy()
        best = min(best, time.perf_counter() - start)
    return batch * forward_flops / best
