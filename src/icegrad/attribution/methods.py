"""Gradient attribution methods for IceNet-style models: the numerical core of icegrad.

Four methods, all explaining a :class:`~icegrad.attribution.targets.RoiTarget` (one scalar per lead)
with respect to every input value ``(y, x, channel)``:

* ``vanilla_gradient``: d target / d input (Simonyan et al. 2014), a local sensitivity;
* ``gradient_x_input``: gradient times input, the first-order contribution of each input value
  relative to an all-zero input (zero = the climatological mean in IceNet's normalised units);
* ``integrated_gradients`` (Sundararajan et al. 2017): (input - baseline) times the gradient averaged
  along the straight path from the baseline; its attributions sum to target(input) - target(baseline)
  (completeness), up to the quadrature error of the chosen rule;
* ``smoothgrad`` (Smilkov et al. 2017): the gradient averaged over noisy copies of the input, which
  suppresses the shattered, pixel-to-pixel noise of ReLU-network gradients.

How the work is done (:class:`GradientEngine`):

* one ``tf.function`` holds a ``tf.GradientTape``; optionally XLA-compiled (``jit_compile``);
* **all leads from one forward pass**: the tape is persistent and each lead's target gets its own
  backward pass (``tape.gradient`` with the sample weights as output gradients), inside the same
  compiled function. A forward pass is shared by all leads, so K leads cost 1 forward + K backward
  passes rather than K x (forward + backward); a full Jacobian (``tape.jacobian``, vectorised with
  pfor) does the same arithmetic but holds K backward passes in memory at once, and memory - not
  arithmetic - is what limits batch sizes here;
* integrated-gradient steps and SmoothGrad samples are evaluated as **batches** whose size comes from
  a memory budget (:mod:`icegrad.attribution.execution`); the weighted sum over the batch is taken on
  the device, so only one ``(lead, y, x, channel)`` array per batch comes back to the host;
* the last batch is padded with zero-weight samples, so every call has one shape and traces once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from icegrad import config
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.execution import (
    DEFAULT_MEMORY_BUDGET,
    bytes_per_sample,
    cast_model,
    chunk_size,
    pad_to,
    padded_chunks,
    select_device,
)
from icegrad.attribution.targets import RoiTarget
from icegrad.model.ensemble import architecture

METHODS = config.METHODS  # the run configuration names them; the engine implements them
RULES = ("left", "right", "midpoint", "trapezoid")
NOISE_SCALES = ("range", "std")


@dataclass(frozen=True)
class Execution:
    """How to run: memory budget (bytes, None = unlimited) or fixed batch size, XLA, precision, device."""

    memory_budget: int | None = DEFAULT_MEMORY_BUDGET
    batch_size: int | None = None
    jit_compile: bool = False
    precision: str = "float32"
    device: str | None = None


@dataclass(frozen=True)
class MemberAttribution:
    """One model's attribution of one input sample, for each lead of its target."""

    attribution: np.ndarray
    """(lead, y, x, channel), signed, in target units."""
    target: np.ndarray
    """(lead,) target value at the input."""
    baseline_target: np.ndarray | None
    """(lead,) target value at the baseline (integrated gradients only)."""
    evaluations: int
    """Gradient evaluations (samples) spent."""
    batch_size: int


class GradientEngine:
    """Target values and input gradients of one model, compiled once and evaluated in batches."""

    def __init__(self, model: keras.Model, target: RoiTarget, execution: Execution = Execution(), *,
                 own_copy: bool = False) -> None:
        self.execution = execution
        self.device = select_device(execution.device)
        self.source_model = model
        # With its own copy of the network, the engine can explain any model of the same architecture
        # (:meth:`load`) without touching the caller's: its compiled functions read the copy's variables.
        self.architecture = architecture(model) if own_copy else None
        if own_copy and self.architecture is None:
            raise AttributionError(f"model {model.name!r} has no Keras configuration, so it cannot be "
                                   "copied; build the engine without own_copy")
        self.model = cast_model(model, execution.precision, copy=own_copy)
        self.target = target
        self.dtype = tf.float64 if execution.precision == "float64" else tf.float32
        self.n_targets = len(target.leads)
        # An ROI target's weights and lead indices live in variables that the compiled functions read,
        # so :meth:`retarget` switches ROI or lead without retracing. Other scalar targets (any callable
        # with ``leads``) are traced as they are.
        self._retargetable = isinstance(target, RoiTarget)
        if self._retargetable:
            with tf.device(self.device):
                self._roi_weights = tf.Variable(np.asarray(target.weights), dtype=self.dtype, trainable=False)
                self._lead_index = tf.Variable([lead - 1 for lead in target.leads], dtype=tf.int32,
                                               trainable=False)
        jit = execution.jit_compile
        self._forward = tf.function(self._targets, jit_compile=jit)
        self._batch = tf.function(self._weighted_gradients, jit_compile=jit)
        self._path = tf.function(self._path_gradients, jit_compile=jit)

    # -- compiled pieces ---------------------------------------------------------------------------
    def _targets(self, x: tf.Tensor) -> tf.Tensor:
        probabilities = self.model(x, training=False)
        if self._retargetable:
            return self.target.apply(probabilities, self._roi_weights, self._lead_index)
        return self.target(probabilities)

    def retarget(self, target: RoiTarget) -> None:
        """Explain ``target`` from now on; it must have this engine's kind, number of leads and grid."""
        if not (self._retargetable and isinstance(target, RoiTarget)) or \
                (target.kind, len(target.leads), np.shape(target.weights)) != \
                (self.target.kind, self.n_targets, np.shape(self.target.weights)):
            raise AttributionError("retarget needs a target of the same kind, number of leads and grid; "
                                   "build a new GradientEngine for another shape")
        self._roi_weights.assign(np.asarray(target.weights))
        self._lead_index.assign([lead - 1 for lead in target.leads])
        self.target = target

    def load(self, model: keras.Model) -> None:
        """Explain ``model`` from now on, with the weights it has now: they are copied into this engine's
        own network, which must be of ``model``'s architecture (an engine built with ``own_copy``)."""
        if self.architecture is None:
            raise AttributionError(f"this engine explains its own model, not {model.name!r}: it was "
                                   "built without own_copy; build one with own_copy=True to load others")
        if architecture(model) != self.architecture:
            raise AttributionError(f"model {model.name!r} is of another architecture than this engine's "
                                   "network; build a GradientEngine for it (EngineCache.get does)")
        self.model.set_weights(model.get_weights())
        self.source_model = model

    def _weighted_gradients(self, x: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Targets ``(B, K)`` and, per lead, the weighted sum over the batch of the input gradients."""
        with tf.GradientTape(persistent=self.n_targets > 1) as tape:
            tape.watch(x)
            values = self._targets(x)
            per_lead = tf.unstack(values, num=self.n_targets, axis=1)  # sliced on tape, or no gradient
        weights = tf.cast(weights, values.dtype)
        grads = [tf.reduce_sum(tape.gradient(lead, x, output_gradients=weights), axis=0) for lead in per_lead]
        return values, tf.stack(grads)

    def _path_gradients(self, start: tf.Tensor, delta: tf.Tensor, alphas: tf.Tensor,
                        weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = start[tf.newaxis] + tf.cast(alphas, start.dtype)[:, tf.newaxis, tf.newaxis, tf.newaxis] * delta
        return self._weighted_gradients(x, weights)

    # -- NumPy-facing API --------------------------------------------------------------------------
    def _tensor(self, array: np.ndarray) -> tf.Tensor:
        return tf.constant(np.asarray(array), dtype=self.dtype)

    def chunk_size(self, n_samples: int) -> int:
        """Samples per batch for ``n_samples`` evaluations under this engine's memory settings."""
        per_sample = 0
        if self.execution.batch_size is None and self.execution.memory_budget is not None:
            per_sample = bytes_per_sample(self.model, self.n_targets, self.execution.precision)
        return chunk_size(n_samples, per_sample, self.execution.memory_budget, self.execution.batch_size)

    def targets(self, x: np.ndarray) -> np.ndarray:
        """Target values ``(batch, lead)`` of a batch of inputs ``(batch, y, x, channel)``."""
        with tf.device(self.device):
            return self._forward(self._tensor(x)).numpy()

    def gradient(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Targets ``(lead,)`` and gradients ``(lead, y, x, channel)`` of one input ``(y, x, channel)``."""
        with tf.device(self.device):
            values, grads = self._batch(self._tensor(x[np.newaxis]), tf.ones((1,), self.dtype))
        return values.numpy()[0], grads.numpy()

    def path_integral(self, start: np.ndarray, end: np.ndarray, alphas: np.ndarray,
                      weights: np.ndarray) -> tuple[np.ndarray, int]:
        """Sum over points of ``weights * gradient(start + alpha * (end - start))``, and the batch size."""
        size = self.chunk_size(len(alphas))
        start_t, delta_t = self._tensor(start), self._tensor(end - start)
        total = np.zeros((self.n_targets, *start.shape), dtype=np.float64)
        with tf.device(self.device):
            for lo, hi in padded_chunks(len(alphas), size):
                _, grads = self._path(start_t, delta_t, self._tensor(pad_to(alphas[lo:hi], size)),
                                      self._tensor(pad_to(weights[lo:hi], size)))
                total += grads.numpy()
        return total, size

    def sample_integral(self, make_samples: Callable[[int, int], np.ndarray], n_samples: int,
                        weights: np.ndarray) -> tuple[np.ndarray, int]:
        """Sum of ``weights * gradient(sample)`` over samples built chunk by chunk by ``make_samples``."""
        size = self.chunk_size(n_samples)
        total = np.zeros((self.n_targets, *self.model.input_shape[1:]), dtype=np.float64)
        with tf.device(self.device):
            for lo, hi in padded_chunks(n_samples, size):
                _, grads = self._batch(self._tensor(pad_to(make_samples(lo, hi), size)),
                                       self._tensor(pad_to(weights[lo:hi], size)))
                total += grads.numpy()
        return total, size


class EngineCache:
    """Compiled engines kept for reuse across the members, leads, ROIs and calls of one piece of work.

    Why: tracing a U-Net's forward and backward pass into a ``tf.function`` costs seconds (~1.2 s for the
    book's 100 km network, against ~2.4 s for the 64 integrated-gradient steps that follow it, measured),
    and every traced engine keeps its graphs resident (~46 MiB each). An ensemble's members differ only in
    their weights, so one engine serves all of them: it compiles its own copy of the network once and
    :meth:`GradientEngine.load` copies each member's weights in (milliseconds), where an engine per
    member held five sets of graphs. An engine is reused for the same architecture (the model's Keras
    configuration), execution settings, target kind, number of leads and grid, with
    :meth:`GradientEngine.retarget`. Keep one cache per task, and one per thread: an engine explains one
    model and one target at a time, with the weights it had when :meth:`get` returned the engine.
    """

    def __init__(self) -> None:
        self._engines: dict[tuple[Any, ...], GradientEngine] = {}

    def get(self, model: keras.Model, target: RoiTarget,
            execution: Execution = Execution()) -> GradientEngine:
        """An engine explaining ``model``'s ``target``: a cached one loaded and retargeted, or a new one
        (of its own, for a network Keras cannot copy)."""
        if not isinstance(target, RoiTarget):
            return GradientEngine(model, target, execution)
        shape = (execution, target.kind, len(target.leads), np.shape(target.weights))
        shared = self._engines.get((architecture(model), *shape))
        if shared is not None:
            shared.load(model)
            shared.retarget(target)
            return shared
        own = self._engines.get((id(model), *shape))
        if own is not None and own.source_model is model:
            own.retarget(target)
            return own
        try:
            engine = GradientEngine(model, target, execution, own_copy=True)
            key = (engine.architecture, *shape)
        except AttributionError:
            engine = GradientEngine(model, target, execution)
            key = (id(model), *shape)
        self._engines[key] = engine
        return engine

    def __len__(self) -> int:
        return len(self._engines)

    def clear(self) -> None:
        """Drop every engine, and with them their compiled functions and the models they hold: a task done
        with its engines frees them even while something (a lazy mapping of results) still holds the cache."""
        self._engines.clear()


def integration_points(steps: int, rule: str = "midpoint") -> tuple[np.ndarray, np.ndarray]:
    """Path positions ``alpha`` in [0, 1] and quadrature weights for integrated gradients.

    ``left``/``right``/``midpoint`` Riemann sums use ``steps`` points of weight 1/steps at k/steps,
    (k+1)/steps or (k+1/2)/steps; the ``trapezoid`` rule uses ``steps + 1`` points k/steps with weight
    1/steps, halved at both ends. Midpoint and trapezoid are second-order accurate; left and right
    only first-order, so they need more steps for the same completeness.
    """
    if not isinstance(steps, int | np.integer) or steps < 1:
        raise AttributionError(f"steps must be an integer >= 1, got {steps!r} (64 is a good default)")
    if rule not in RULES:
        raise AttributionError(f"unknown integration rule {rule!r}; choose one of {RULES}")
    k = np.arange(steps, dtype=np.float64)
    if rule == "trapezoid":
        alphas = np.arange(steps + 1, dtype=np.float64) / steps
        weights = np.full(steps + 1, 1.0 / steps)
        weights[[0, -1]] /= 2
        return alphas, weights
    offset = {"left": 0.0, "right": 1.0, "midpoint": 0.5}[rule]
    return (k + offset) / steps, np.full(steps, 1.0 / steps)


def vanilla_gradient(engine: GradientEngine, x: np.ndarray) -> MemberAttribution:
    """d target / d input at ``x`` ``(y, x, channel)``."""
    values, grads = engine.gradient(x)
    return MemberAttribution(grads.astype(np.float32), values, None, 1, 1)


def gradient_x_input(engine: GradientEngine, x: np.ndarray) -> MemberAttribution:
    """Gradient times input: each value's first-order contribution relative to zero input."""
    values, grads = engine.gradient(x)
    return MemberAttribution((grads * x[np.newaxis]).astype(np.float32), values, None, 1, 1)


def integrated_gradients(engine: GradientEngine, x: np.ndarray, baseline: np.ndarray, steps: int = 64,
                         rule: str = "midpoint") -> MemberAttribution:
    """Integrated gradients of ``x`` relative to ``baseline`` (both ``(y, x, channel)``)."""
    alphas, weights = integration_points(steps, rule)
    if baseline.shape != x.shape:
        raise AttributionError(f"baseline of shape {baseline.shape} does not match the input {x.shape}")
    mean_gradient, size = engine.path_integral(baseline, x, alphas, weights)
    ends = engine.targets(np.stack([x, baseline]))
    attribution = (mean_gradient * (x - baseline)[np.newaxis]).astype(np.float32)
    return MemberAttribution(attribution, ends[0], ends[1], len(alphas), size)


def noise_sigma(x: np.ndarray, noise_level: float, noise_scale: str = "range") -> np.ndarray:
    """Per-channel noise standard deviation: ``noise_level`` times the channel's range or std over (y, x).

    A channel that is constant over the grid (the land mask on an all-ocean tile, cos/sin month) gets
    no noise: there is no natural scale to perturb it by.
    """
    if noise_scale not in NOISE_SCALES:
        raise AttributionError(f"unknown noise_scale {noise_scale!r}; choose one of {NOISE_SCALES}")
    if not noise_level > 0:
        raise AttributionError(f"noise_level must be > 0 (a fraction such as 0.1), got {noise_level!r}")
    flat = x.reshape(-1, x.shape[-1])
    scale = np.ptp(flat, axis=0) if noise_scale == "range" else flat.std(axis=0)
    return noise_level * scale


def smoothgrad(engine: GradientEngine, x: np.ndarray, samples: int = 32, noise_level: float = 0.1,
               noise_scale: str = "range", seed: int = 0) -> MemberAttribution:
    """SmoothGrad: the mean gradient over ``samples`` copies of ``x`` plus Gaussian noise.

    Sample ``i`` draws its noise from ``numpy.random.default_rng([seed, i])``, so results do not depend
    on how samples are batched.
    """
    if not isinstance(samples, int | np.integer) or samples < 1:
        raise AttributionError(f"samples must be an integer >= 1, got {samples!r}")
    sigma = noise_sigma(x, noise_level, noise_scale)
    # Each sample is cast to the engine's precision as it is made: a float64 stack of the batch was twice
    # the batch's size on top of it (~150 MiB for 32 samples at 100 km), and rounded to the same values.
    dtype = engine.dtype.as_numpy_dtype

    def make_samples(lo: int, hi: int) -> np.ndarray:
        batch = np.empty((hi - lo, *x.shape), dtype=dtype)
        for row, i in enumerate(range(lo, hi)):
            batch[row] = x + np.random.default_rng([seed, i]).standard_normal(x.shape) * sigma
        return batch

    total, size = engine.sample_integral(make_samples, samples, np.full(samples, 1.0 / samples))
    values = engine.targets(x[np.newaxis])[0]
    return MemberAttribution(total.astype(np.float32), values, None, samples, size)
