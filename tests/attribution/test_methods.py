from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.attribution import methods
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.methods import Execution, GradientEngine, integration_points
from icegrad.attribution.targets import roi_target

LEADS = (1, 4, 6)
SIDE = 32


@pytest.fixture(scope="module")
def linear(helpers: SimpleNamespace) -> keras.Model:
    return helpers.linear_model()


@pytest.fixture(scope="module")
def linear_engine(linear: keras.Model, roi: np.ndarray) -> GradientEngine:
    return GradientEngine(linear, roi_target(roi, LEADS), Execution(batch_size=5))


def exact_gradient(model: keras.Model, roi: np.ndarray, leads: tuple[int, ...] = LEADS) -> np.ndarray:
    """d target / d input of the linear model, from its kernel: (lead, y, x, channel)."""
    kernel = model.layers[1].get_weights()[0][0, 0]  # (channel, 18) -> class * 6 + lead
    per_class = kernel.reshape(-1, 3, 6)
    weights = roi_target(roi, leads).weights
    sip = per_class[:, 1, :] + per_class[:, 2, :]  # (channel, lead)
    return np.stack([weights[..., None] * sip[None, None, :, lead - 1] for lead in leads])


@pytest.mark.parametrize("rule", methods.RULES)
def test_integration_points_are_a_quadrature_of_one(rule: str) -> None:
    alphas, weights = integration_points(8, rule)
    assert weights.sum() == pytest.approx(1.0)
    assert (alphas >= 0).all() and (alphas <= 1).all()
    # every rule integrates a linear function exactly; midpoint and trapezoid are symmetric
    if rule in ("midpoint", "trapezoid"):
        assert (weights * alphas).sum() == pytest.approx(0.5)


@pytest.mark.parametrize(("steps", "rule"), [(0, "midpoint"), (-3, "left"), (4, "simpson")])
def test_bad_integration_settings(steps: int, rule: str) -> None:
    with pytest.raises(AttributionError):
        integration_points(steps, rule)


def test_vanilla_gradient_of_linear_model_is_its_kernel(linear: keras.Model, linear_engine: GradientEngine,
                                                        roi: np.ndarray) -> None:
    x = np.random.default_rng(0).standard_normal((SIDE, SIDE, 4)).astype("float32")
    result = methods.vanilla_gradient(linear_engine, x)
    np.testing.assert_allclose(result.attribution, exact_gradient(linear, roi), atol=1e-7)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.1, 10.0))
def test_gradient_x_input_of_linear_model_is_the_exact_contribution(
        linear: keras.Model, linear_engine: GradientEngine, roi: np.ndarray, seed: int, scale: float) -> None:
    x = (np.random.default_rng(seed).standard_normal((SIDE, SIDE, 4)) * scale).astype("float32")
    result = methods.gradient_x_input(linear_engine, x)
    np.testing.assert_allclose(result.attribution, exact_gradient(linear, roi) * x, rtol=1e-5, atol=1e-8)
    zero = linear_engine.targets(np.zeros((1, SIDE, SIDE, 4)))[0]
    total = result.attribution.reshape(len(LEADS), -1).sum(axis=1)
    np.testing.assert_allclose(total, result.target - zero, rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 9), rule=st.sampled_from(methods.RULES))
def test_ig_completeness_is_exact_on_a_linear_model_for_any_baseline(
        linear_engine: GradientEngine, seed: int, steps: int, rule: str) -> None:
    rng = np.random.default_rng(seed)
    x, baseline = rng.standard_normal((2, SIDE, SIDE, 4)).astype("float32") * 3
    result = methods.integrated_gradients(linear_engine, x, baseline, steps=steps, rule=rule)
    total = result.attribution.reshape(len(LEADS), -1).sum(axis=1)
    np.testing.assert_allclose(total, result.target - result.baseline_target, rtol=1e-4, atol=1e-5)


def _ig_runs(model: keras.Model, roi: np.ndarray, executions: list[Execution]) -> list:
    x = np.random.default_rng(2).standard_normal(model.input_shape[1:]).astype("float32")
    target = roi_target(roi, (1, 2))
    return [methods.integrated_gradients(GradientEngine(model, target, ex), x, np.zeros_like(x), 12)
            for ex in executions]


def _assert_same(runs: list) -> None:
    for other in runs[1:]:
        np.testing.assert_allclose(other.attribution, runs[0].attribution, rtol=1e-3, atol=1e-7)
        np.testing.assert_allclose(other.target, runs[0].target, rtol=1e-5)


def test_batching_does_not_change_results(tiny_icenet: keras.Model, roi: np.ndarray) -> None:
    runs = _ig_runs(tiny_icenet, roi, [Execution(memory_budget=None), Execution(batch_size=5)])
    assert [r.batch_size for r in runs] == [12, 4]
    _assert_same(runs)


def test_xla_does_not_change_results_on_a_linear_model(linear: keras.Model, roi: np.ndarray) -> None:
    _assert_same(_ig_runs(linear, roi, [Execution(batch_size=5), Execution(batch_size=5, jit_compile=True)]))


@pytest.mark.slow
def test_xla_does_not_change_results_on_icenet(tiny_icenet: keras.Model, roi: np.ndarray) -> None:
    runs = [Execution(batch_size=6), Execution(batch_size=6, jit_compile=True)]
    _assert_same(_ig_runs(tiny_icenet, roi, runs))


@pytest.mark.slow
def test_xla_fails_under_op_determinism_so_training_switches_it_back_off(tiny_icenet: keras.Model,
                                                                          roi: np.ndarray) -> None:
    """XLA has no deterministic max-pool gradient: while training's op determinism is on, an XLA attribution
    fails; once training is over it works again in the same process (before, it stayed on for good)."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    from icegrad.model.train import deterministic_ops

    xla = [Execution(batch_size=6, jit_compile=True)]
    with deterministic_ops(), pytest.raises(tf.errors.UnimplementedError, match="deterministic XLA"):
        _ig_runs(tiny_icenet, roi, xla)
    assert not tf_config.is_op_determinism_enabled()
    assert np.isfinite(_ig_runs(tiny_icenet, roi, xla)[0].attribution).all()


def test_smoothgrad_is_deterministic_and_independent_of_batching(
        linear_engine: GradientEngine, tiny_icenet: keras.Model, roi: np.ndarray) -> None:
    x = np.random.default_rng(3).standard_normal((SIDE, SIDE, 50)).astype("float32")
    target = roi_target(roi, (1,))
    engine = GradientEngine(tiny_icenet, target, Execution(batch_size=6))
    a = methods.smoothgrad(GradientEngine(tiny_icenet, target, Execution(batch_size=3)), x, samples=6, seed=4)
    b = methods.smoothgrad(engine, x, samples=6, seed=4)
    c = methods.smoothgrad(engine, x, samples=6, seed=5)
    np.testing.assert_allclose(a.attribution, b.attribution, rtol=1e-4, atol=1e-8)
    assert not np.allclose(a.attribution, c.attribution)
    # on a linear model noise cannot change the gradient
    xl = x[..., :4]
    smooth = methods.smoothgrad(linear_engine, xl, samples=4, noise_level=0.5)
    np.testing.assert_allclose(smooth.attribution, methods.vanilla_gradient(linear_engine, xl).attribution,
                               rtol=1e-5, atol=1e-8)


def test_noise_sigma_follows_channel_scale() -> None:
    x = np.zeros((4, 4, 3))
    x[..., 0] = np.arange(16).reshape(4, 4)
    x[..., 1] = 7.0  # constant channel: no noise
    x[..., 2] = np.tile([0.0, 2.0], 8).reshape(4, 4)
    np.testing.assert_allclose(methods.noise_sigma(x, 0.1, "range"), [1.5, 0.0, 0.2])
    np.testing.assert_allclose(methods.noise_sigma(x, 1.0, "std"), [x[..., 0].std(), 0.0, 1.0])
    with pytest.raises(AttributionError, match="noise_scale"):
        methods.noise_sigma(x, 0.1, "iqr")
    with pytest.raises(AttributionError, match="noise_level"):
        methods.noise_sigma(x, 0.0)


def test_engine_cache_reuses_one_trace_across_leads_and_rois(tiny_icenet: keras.Model,
                                                            roi: np.ndarray) -> None:
    x = np.random.default_rng(4).standard_normal(tiny_icenet.input_shape[1:]).astype("float32")
    other_roi = np.roll(roi, 3, axis=1)
    cache = methods.EngineCache()
    results = {}
    for lead, mask in ((1, roi), (4, roi), (4, other_roi)):
        engine = cache.get(tiny_icenet, roi_target(mask, lead), Execution(batch_size=4))
        reused = methods.integrated_gradients(engine, x, np.zeros_like(x), 8)
        fresh = methods.integrated_gradients(GradientEngine(tiny_icenet, roi_target(mask, lead),
                                                            Execution(batch_size=4)), x, np.zeros_like(x), 8)
        np.testing.assert_allclose(reused.attribution, fresh.attribution, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(reused.target, fresh.target, rtol=1e-6)
        results[lead, mask is roi] = reused.target
    assert len(cache) == 1
    assert engine._path.experimental_get_tracing_count() == 1  # retargeting never retraced
    assert results[1, True] != results[4, True] and results[4, True] != results[4, False]


def test_one_engine_serves_every_member_of_an_architecture(roi: np.ndarray) -> None:
    icenet = pytest.importorskip("icegrad.model.icenet")
    members = [icenet.build_icenet(32, 32, n_channels=50, filters_factor=0.125, seed=seed) for seed in (0, 1)]
    before = [m.get_weights() for m in members]
    x = np.random.default_rng(5).standard_normal(members[0].input_shape[1:]).astype("float32")
    target, execution = roi_target(roi, 1), Execution(batch_size=4)
    cache = methods.EngineCache()
    shared = [methods.integrated_gradients(cache.get(m, target, execution), x, np.zeros_like(x), 8)
              for m in (*members, members[0])]
    own = [methods.integrated_gradients(GradientEngine(m, target, execution), x, np.zeros_like(x), 8)
           for m in members]
    assert len(cache) == 1
    for got, want in zip(shared, [*own, own[0]], strict=True):  # back and forth between members
        np.testing.assert_array_equal(got.attribution, want.attribution)
        np.testing.assert_array_equal(got.target, want.target)
    assert not np.array_equal(own[0].attribution, own[1].attribution)  # two different networks
    for model, weights in zip(members, before, strict=True):  # the callers' networks are untouched
        for got, want in zip(model.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(got, want)
    icenet.temperature_layer(members[1]).temperature.assign(2.0)  # weights changed in place: taken up
    changed = [methods.integrated_gradients(engine, x, np.zeros_like(x), 8).attribution for engine in
               (cache.get(members[1], target, execution), GradientEngine(members[1], target, execution))]
    np.testing.assert_array_equal(*changed)
    assert not np.array_equal(changed[0], own[1].attribution)
    wider = icenet.build_icenet(32, 32, n_channels=50, filters_factor=0.25, seed=0)
    cache.get(wider, target, execution)
    assert len(cache) == 2  # another architecture gets an engine of its own
    with pytest.raises(AttributionError, match="another architecture"):
        cache.get(members[0], target, execution).load(wider)
    with pytest.raises(AttributionError, match="without own_copy"):
        GradientEngine(members[0], target, execution).load(members[1])


def test_a_network_keras_cannot_copy_gets_an_engine_of_its_own(tiny_icenet: keras.Model, roi: np.ndarray,
                                                                uncopyable_layer: type) -> None:
    inputs = keras.Input(tiny_icenet.input_shape[1:])
    odd = keras.Model(inputs, tiny_icenet(uncopyable_layer(1.0)(inputs)), name="uncopyable")
    x = np.random.default_rng(6).standard_normal(odd.input_shape[1:]).astype("float32")
    target, execution = roi_target(roi, 1), Execution(batch_size=4)
    cache = methods.EngineCache()
    engine = cache.get(odd, target, execution)
    assert engine.architecture is None and engine.model is odd
    assert cache.get(odd, target, execution) is engine and len(cache) == 1
    fresh = GradientEngine(odd, target, execution)
    np.testing.assert_array_equal(methods.vanilla_gradient(engine, x).attribution,
                                  methods.vanilla_gradient(fresh, x).attribution)


def test_retarget_refuses_another_shape(tiny_icenet: keras.Model, roi: np.ndarray) -> None:
    engine = GradientEngine(tiny_icenet, roi_target(roi, 1))
    with pytest.raises(AttributionError, match="same kind, number of leads"):
        engine.retarget(roi_target(roi, (1, 2)))
