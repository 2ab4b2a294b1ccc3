from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from icegrad.attribution.execution import activation_elements, chunk_size
from icegrad.evaluation import cost
from icegrad.evaluation.cost import conv_flops, estimate_cost, icenet_counts, measured_flop_rate

icenet = pytest.importorskip("icegrad.model.icenet")


def test_conv_flops_matches_a_count_by_hand() -> None:
    # 2 FLOPs (multiply + add) per kernel weight per output value, worked out layer by layer:
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 2*(3*3)*2*4 * 8*8 = 9216
    x = keras.layers.Conv2D(3, (3, 1), padding="valid")(x)  # 2*(3*1)*4*3 * 6*8 = 3456
    x = keras.layers.Dense(5)(x)                               # not a convolution: 0
    inner_in = keras.Input((6, 8, 5))
    inner = keras.Model(inner_in, keras.layers.Conv2D(2, 2, strides=2)(inner_in))  # 2*4*5*2 * 3*4 = 960
    model = keras.Model(inputs, inner(x))
    assert conv_flops(model) == 9216 + 3456 + 960


@pytest.mark.parametrize(("side", "factor"), [(32, 0.125), (54, 0.25)])
def test_analytic_count_matches_the_built_model(side: int, factor: float) -> None:
    model = icenet.build_icenet(side, side, n_channels=50, filters_factor=factor, seed=0)
    flops, acts = icenet_counts(side, side, factor)
    assert flops == conv_flops(model)
    assert acts == activation_elements(model)


def test_full_problem_fits_an_80_gb_card_only_in_chunks() -> None:
    est = estimate_cost(432, 432, 2, members=25, leads=6, steps=64, memory_budget=int(60e9))
    assert 1.0e12 < est.forward_flops < 1.05e12
    assert 28e15 < est.naive_total_flops < 31e15
    assert est.total_flops < est.naive_total_flops
    assert est.unchunked_bytes > 80e9 >= est.chunked_bytes
    assert 1 <= est.chunk_size < 64


def test_chunk_size_evens_out_batches() -> None:
    assert chunk_size(64, 100, memory_budget=2000) == 16
    assert chunk_size(65, 1, memory_budget=None) == 65
    assert chunk_size(10, 1, batch_size=4) == 4
    with np.testing.assert_raises(ValueError):
        chunk_size(10, 10**9, memory_budget=10)


class _FakeClock:
    """A perf_counter that only moves when the fake model below runs."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


class _TimedModel:
    """Stands in for a Keras model: each *executed* call (not just its tracing) takes
    ``batch * per_sample[i]`` fake seconds, read in order, so the true rate is known exactly."""

    def __init__(self, clock: _FakeClock, per_sample: list[float]) -> None:
        self.clock, self.per_sample, self.calls = clock, list(per_sample), 0
        self.input_shape = (None, 4, 4, 2)
        self.inputs = [SimpleNamespace(dtype=tf.float32)]

    def _advance(self, x: tf.Tensor) -> tf.Tensor:
        self.clock.now += x.shape[0] * self.per_sample[self.calls]
        self.calls += 1
        return x

    def __call__(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        return tf.py_function(self._advance, [x], tf.float32)


def test_measured_flop_rate_is_flops_over_the_best_timed_call(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _FakeClock()
    monkeypatch.setattr(cost, "time", clock)
    # A warm-up call, then three timed calls whose best takes 0.002 s per sample. The warm-up is made
    # the fastest here so that timing it by mistake would show (it includes tracing, so must not count).
    model = _TimedModel(clock, [0.001, 0.004, 0.002, 0.003])
    rate = measured_flop_rate(model, forward_flops=1_000, batch=3, repeats=3)  # type: ignore[arg-type]
    assert model.calls == 4
    assert rate == pytest.approx(1_000 / 0.002)  # FLOPs per sample over seconds per sample


def test_measured_flop_rate_rejects_bad_arguments() -> None:
    model = icenet.build_icenet(32, 32, n_channels=50, filters_factor=0.125, seed=0)
    flops = conv_flops(model)
    with pytest.raises(ValueError, match="must both be >= 1"):
        measured_flop_rate(model, flops, batch=0)
    with pytest.raises(ValueError, match="conv_flops"):
        measured_flop_rate(model, 0)
