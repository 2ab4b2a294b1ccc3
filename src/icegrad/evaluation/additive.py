"""An additive benchmark where the exact attribution of every input value is known by construction.

In the spirit of Mamalakis, Ebert-Uphoff and Barnes (2022, Environmental Data Science): if the target is
a sum of one-dimensional functions of the individual inputs, ``y = sum_i f_i(x_i)``, then the part of
``y(x) - y(x')`` owed to input ``i`` is unambiguous, ``f_i(x_i) - f_i(x'_i)``, and so is its local
sensitivity ``f_i'(x_i)``. Here every ``f_i`` is piecewise linear with shared breakpoints and its own
slopes, one per (pixel, channel):

``f_i(v) = s_0 v + sum_k (s_k - s_{k-1}) (relu(v - b_k) - relu(-b_k))``, so ``f_i(0) = 0``.

Two channels carry a planted signal of opposite sign over a smooth patch of the grid, the others none
(one of them a noisy copy of a linked channel, the proxy a network may lean on). Inputs are smooth
random fields. Two models are explained with the book's own methods (:mod:`icegrad.attribution.methods`):

* the **exact function** written in TensorFlow (:func:`exact_model`): whatever a method gets wrong
  here is the *method's* error (integrated gradients must be exact up to its quadrature, a vanilla
  gradient is the exact sensitivity);
* a small fully connected **network** trained to fit it (:func:`train_network`; seeded, CPU, seconds):
  the extra error is the *model's*, because the network learnt a function that only approximates the
  truth, and gradients of a near-perfect fit can still differ.

Scores (:func:`evaluate`) compare each method with the truth it estimates (the sensitivity for
vanilla gradients and SmoothGrad, the contribution relative to the zero baseline for gradient x input
and integrated gradients: here additivity defines it exactly, where the emulator's scores in
:mod:`icegrad.evaluation.fidelity` use each method applied to the optimal forecast), per sample over
all pixels and channels: Pearson correlation, relative error ``|A - T| / |T|`` and the sign agreement
of the linked channels' net attribution. :func:`decompose` splits each method's total error into the
method's (exact function vs truth) and the model's (network vs exact function, same method).

Example
-------
The book's run (``benchmark(seed=0)``: 12 x 12 cells, 8,000 training samples, 20 epochs) takes
minutes; a 4 x 4 one shows the calls. Plain gradients of the exact function are the truth itself:

>>> specs = [("vanilla_gradient", "none"), ("integrated_gradients", "zeros")]
>>> bench = benchmark(shape=(4, 4), n_train=100, n_test=2, epochs=1, steps=4, seed=0, specs=specs)
>>> errors = decompose(bench.scores)
>>> errors.columns.tolist()
['method_error', 'model_error', 'total_error', 'model_share']
>>> bool(errors.loc["vanilla_gradient", "method_error"] < 1e-6)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy.ndimage import gaussian_filter

from icegrad.attribution import methods
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation.fidelity import matched_kind, spec_label

BREAKPOINTS = (-1.0, 0.0, 1.0)
SIGNS = (1.0, -1.0, 0.0, 0.0)
"""Planted sign of each channel: two linked channels of opposite sign, two unlinked ones."""
PROXY_OF = {2: 0}
"""Unlinked channel -> the linked channel it is a noisy copy of (correlation about 0.8)."""
BENCH_SPECS: tuple[tuple[str, str], ...] = (
    ("vanilla_gradient", "none"), ("gradient_x_input", "none"), ("integrated_gradients", "zeros"),
    ("smoothgrad", "none"))
"""The methods scored here; the baseline is zero, the inputs' mean (their climatology)."""


class AdditiveError(AttributionError):
    """Bad settings for the additive benchmark."""


@dataclass(frozen=True)
class AdditiveFunction:
    """``y = sum over (y, x, channel) of f(x)``, each ``f`` piecewise linear: the known truth."""

    breakpoints: np.ndarray
    """(K,) increasing breakpoints shared by every term."""
    slopes: np.ndarray
    """(K + 1, y, x, channel) slope of each segment, left to right."""

    def __post_init__(self) -> None:
        b = np.asarray(self.breakpoints)
        if b.ndim != 1 or not np.all(np.diff(b) > 0):
            raise AdditiveError(f"breakpoints must be a 1-D increasing sequence, got {self.breakpoints!r}")
        if self.slopes.ndim != 4 or self.slopes.shape[0] != len(b) + 1:
            raise AdditiveError(f"slopes must be (len(breakpoints) + 1, y, x, channel) = ({len(b) + 1}, "
                                f"...), got shape {self.slopes.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The input shape ``(y, x, channel)``."""
        return tuple(int(n) for n in self.slopes.shape[1:])  # type: ignore[return-value]

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[-3:] != self.shape:
            raise AdditiveError(f"inputs of shape {x.shape} do not end in the function's {self.shape}")
        return x

    def terms(self, x: np.ndarray) -> np.ndarray:
        """Each input's own term ``f_i(x_i)``, same shape as ``x``."""
        x = self._check(x)
        s = self.slopes
        out = s[0] * x
        for k, b in enumerate(self.breakpoints):
            out = out + (s[k + 1] - s[k]) * (np.maximum(x - b, 0.0) - max(-b, 0.0))
        return out

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The target ``(n,)`` of inputs ``(n, y, x, channel)``."""
        return self.terms(x).reshape(len(x), -1).sum(axis=1)

    def sensitivity(self, x: np.ndarray) -> np.ndarray:
        """The exact local slope ``f_i'(x_i)`` (right derivative at a breakpoint)."""
        x = self._check(x)
        out = np.broadcast_to(self.slopes[0], x.shape)
        for k, b in enumerate(self.breakpoints):
            out = np.where(x >= b, self.slopes[k + 1], out)
        return out

    def contribution(self, x: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
        """The exact attribution ``f_i(x_i) - f_i(x'_i)`` relative to ``baseline`` (default zero)."""
        return self.terms(x) - (0.0 if baseline is None else self.terms(baseline))

    def quadrature_bound(self, x: np.ndarray, baseline: np.ndarray, steps: int) -> np.ndarray:
        """Worst-case error of ``steps``-point midpoint integrated gradients, per input.

        Along the path the integrand is a step function; each breakpoint crossed puts one jump
        ``|s_k - s_{k-1}| |x - x'|`` inside one of the ``steps`` sub-intervals, where the midpoint rule
        is off by at most half the interval times the jump.
        """
        x, baseline = self._check(x), self._check(baseline)
        lo, hi = np.minimum(x, baseline), np.maximum(x, baseline)
        bound = np.zeros_like(x)
        for k, b in enumerate(self.breakpoints):
            crossed = (lo < b) & (b < hi)
            bound += crossed * np.abs(self.slopes[k + 1] - self.slopes[k]) * (hi - lo) / (2 * steps)
        return bound


def planted_function(shape: tuple[int, int] = (12, 12), signs: Sequence[float] = SIGNS,
                     seed: int = 0) -> AdditiveFunction:
    """A random additive function: each linked channel acts over a smooth patch with its sign.

    Segment slopes are the patch amplitude times a random factor in [0.25, 1.75], so every term is
    monotone with the channel's sign but bends at each breakpoint; unlinked channels have slope 0.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    if ny < 2 or nx < 2 or not signs:
        raise AdditiveError(f"need a grid of at least 2x2 and one channel sign, got {shape} and {signs!r}")
    yy, xx = np.mgrid[0:ny, 0:nx] / max(ny, nx)
    amplitude = np.zeros((ny, nx, len(signs)))
    for c, sign in enumerate(signs):
        centre = rng.uniform(0.2, 0.8, 2)
        patch = np.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * 0.2 ** 2))
        amplitude[..., c] = sign * patch
    factors = rng.uniform(0.25, 1.75, (len(BREAKPOINTS) + 1, ny, nx, len(signs)))
    slopes = amplitude[np.newaxis] * factors
    return AdditiveFunction(np.asarray(BREAKPOINTS), slopes / np.sqrt((amplitude ** 2).sum()))


def smooth_inputs(n: int, shape: tuple[int, int, int], seed: int = 0, smoothing: float = 1.5,
                  proxy_of: dict[int, int] | None = None) -> np.ndarray:
    """``n`` standardised, spatially smooth random fields ``(n, y, x, channel)``, float32.

    ``proxy_of`` maps a channel to one it copies with noise (correlation about 0.8), like a
    geopotential height that follows a temperature the target really depends on.
    """
    if n < 1:
        raise AdditiveError(f"need at least one sample, got n={n}")
    proxy_of = PROXY_OF if proxy_of is None else proxy_of
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, *shape))
    fields = gaussian_filter(noise, sigma=(0, smoothing, smoothing, 0), mode="wrap")
    fields /= fields.std(axis=(0, 1, 2), keepdims=True)
    for target, source in proxy_of.items():
        if target < shape[-1] and source < shape[-1]:
            fields[..., target] = 0.8 * fields[..., source] + 0.6 * fields[..., target]
    return fields.astype(np.float32)


class _Terms(keras.layers.Layer):
    """The additive function in TensorFlow: the sum of every piecewise-linear term."""

    def __init__(self, function: AdditiveFunction, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.breakpoints = [float(b) for b in function.breakpoints]
        self.slopes = tf.constant(function.slopes, tf.float32)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        out = self.slopes[0] * x
        for k, b in enumerate(self.breakpoints):
            out += (self.slopes[k + 1] - self.slopes[k]) * (tf.nn.relu(x - b) - max(-b, 0.0))
        return tf.reduce_sum(out, axis=(1, 2, 3))[:, tf.newaxis]


def exact_model(function: AdditiveFunction) -> keras.Model:
    """The exact function as a Keras model ``(batch, y, x, channel) -> (batch, 1)``."""
    inputs = keras.Input(function.shape)
    return keras.Model(inputs, _Terms(function)(inputs), name="additive_exact")


def train_network(function: AdditiveFunction, x: np.ndarray, seed: int = 0, epochs: int = 20,
                  hidden: tuple[int, ...] = (128, 64)) -> keras.Model:
    """A fully connected network fitted to ``function`` on inputs ``x`` (seeded; Adam, MSE)."""
    if epochs < 1:
        raise AdditiveError(f"epochs must be >= 1, got {epochs}")
    keras.utils.set_random_seed(seed)
    y = function(x).astype(np.float32)
    inputs = keras.Input(function.shape)
    h = keras.layers.Flatten()(inputs)
    for width in hidden:
        h = keras.layers.Dense(width, activation="relu")(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h), name="additive_network")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return model


@dataclass(frozen=True)
class ScalarTarget:
    """The model's single output as the target the gradient engine explains (one 'lead')."""

    leads: tuple[int, ...] = (1,)

    def __call__(self, output: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.cast(output, tf.float32), (-1, 1))


def explain(model: keras.Model, x: np.ndarray, method: str, steps: int = 64, samples: int = 32,
            noise_level: float = 0.1) -> np.ndarray:
    """Attributions ``(n, y, x, channel)`` of ``model`` at each input with the book's method code."""
    engine = methods.GradientEngine(model, ScalarTarget(), methods.Execution(batch_size=64))
    zero = np.zeros(x.shape[1:], np.float32)
    out = []
    for sample in np.asarray(x, np.float32):
        if method == "vanilla_gradient":
            result = methods.vanilla_gradient(engine, sample)
        elif method == "gradient_x_input":
            result = methods.gradient_x_input(engine, sample)
        elif method == "integrated_gradients":
            result = methods.integrated_gradients(engine, sample, zero, steps)
        elif method == "smoothgrad":
            result = methods.smoothgrad(engine, sample, samples, noise_level)
        else:
            raise AdditiveError(f"unknown method {method!r}; choose one of {methods.METHODS}")
        out.append(result.attribution[0])
    return np.stack(out)


def truth(function: AdditiveFunction, x: np.ndarray, kind: str) -> np.ndarray:
    """The exact ``sensitivity`` or ``contribution`` (relative to zero) at inputs ``x``."""
    if kind == "sensitivity":
        return function.sensitivity(x)
    if kind == "contribution":
        return function.contribution(x)
    raise AdditiveError(f"unknown truth kind {kind!r}; choose sensitivity or contribution")


def _per_sample_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(axis=1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(axis=1) / denominator, np.nan)


def compare(attribution: np.ndarray, reference: np.ndarray, linked: np.ndarray) -> dict[str, float]:
    """Mean over samples of correlation, relative error and linked-channel net sign agreement."""
    if attribution.shape != reference.shape:
        raise AdditiveError(f"attribution {attribution.shape} and reference {reference.shape} differ "
                            "in shape")
    n = len(attribution)
    error = np.linalg.norm((attribution - reference).reshape(n, -1), axis=1)
    size = np.linalg.norm(reference.reshape(n, -1), axis=1)
    net_a, net_t = attribution.sum(axis=(1, 2))[:, linked], reference.sum(axis=(1, 2))[:, linked]
    return {"correlation": float(np.nanmean(_per_sample_correlation(attribution, reference))),
            "relative_error": float(np.mean(error / np.where(size > 0, size, np.nan))),
            "sign_agreement": float(np.mean(np.sign(net_a) == np.sign(net_t)))}


@dataclass(frozen=True)
class Benchmark:
    """The additive benchmark's function, data, fitted network, its skill and the scores."""

    function: AdditiveFunction
    network: keras.Model
    x_test: np.ndarray
    n_train: int
    """Training samples the network was fitted on."""
    r2: float
    """The network's coefficient of determination on held-out inputs."""
    scores: pd.DataFrame
    """One row per (method, model) with the :func:`compare` scores against the matched truth, and one
    per method comparing the network's attribution with the exact function's (``model`` =
    ``network vs exact``)."""
    attributions: dict[tuple[str, str], np.ndarray]
    """Attributions of the test inputs by (label, model)."""


def evaluate(function: AdditiveFunction, network: keras.Model, x: np.ndarray,
             specs: Sequence[tuple[str, str]] = BENCH_SPECS, steps: int = 64,
             ) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Score every method on the exact function and on ``network`` at inputs ``x``."""
    linked = np.abs(function.slopes).reshape(-1, function.shape[-1]).max(axis=0) > 0
    exact = exact_model(function)
    rows, maps = [], {}
    for method, baseline in specs:
        if method == "integrated_gradients" and baseline != "zeros":
            raise AdditiveError(f"the additive benchmark uses the zero baseline (the inputs' mean); got "
                                f"{baseline!r}")
        kind, label = matched_kind(method), spec_label(method, baseline)
        true = truth(function, x, kind)
        by_model = {name: explain(model, x, method, steps) for name, model in
                    (("exact", exact), ("network", network))}
        for name, attribution in by_model.items():
            rows.append({"label": label, "method": method, "truth": kind, "model": name,
                         **compare(attribution, true, linked)})
            maps[label, name] = attribution
        rows.append({"label": label, "method": method, "truth": kind, "model": "network vs exact",
                     **compare(by_model["network"], by_model["exact"], linked)})
    return pd.DataFrame(rows), maps


def decompose(scores: pd.DataFrame) -> pd.DataFrame:
    """Per method: the total relative error and its split into the method's and the model's.

    ``method_error`` is the method on the exact function against the truth, ``model_error`` the same
    method on the network against on the exact function, ``total_error`` the network against the
    truth; ``model_share`` = model / (method + model), a rough share (the errors add as vectors).
    """
    needed = {"label", "model", "relative_error"}
    if not needed <= set(scores.columns):
        raise AdditiveError(f"decompose needs the scores of evaluate (columns {sorted(needed)})")
    wide = scores.pivot(index="label", columns="model", values="relative_error")
    out = pd.DataFrame({"method_error": wide["exact"], "model_error": wide["network vs exact"],
                        "total_error": wide["network"]})
    out["model_share"] = out["model_error"] / (out["method_error"] + out["model_error"])
    return out.loc[list(dict.fromkeys(scores["label"]))]


def benchmark(shape: tuple[int, int] = (12, 12), n_train: int = 8000, n_test: int = 32, seed: int = 0,
              epochs: int = 20, steps: int = 64, specs: Sequence[tuple[str, str]] = BENCH_SPECS,
              ) -> Benchmark:
    """Build the planted function, train the network, and score every method on both models."""
    if n_train < 100 or n_test < 1:
        raise AdditiveError(f"need n_train >= 100 and n_test >= 1, got {n_train} and {n_test}")
    function = planted_function(shape, seed=seed)
    x_train = smooth_inputs(n_train, function.shape, seed=seed)
    x_test = smooth_inputs(n_test, function.shape, seed=seed + 1)
    network = train_network(function, x_train, seed=seed, epochs=epochs)
    y = function(x_test)
    predicted = network.predict(x_test, verbose=0)[:, 0]
    r2 = float(1 - ((y - predicted) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    scores, maps = evaluate(function, network, x_test, specs, steps)
    return Benchmark(function, network, x_test, n_train, r2, scores, maps)
