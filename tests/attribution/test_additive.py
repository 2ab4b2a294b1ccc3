"""The additive benchmark: exact attributions by construction, methods exact where theory says so."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.evaluation import additive

SHAPE = (6, 6)


@pytest.fixture(scope="module")
def function() -> additive.AdditiveFunction:
    return additive.planted_function(SHAPE, seed=3)


@pytest.fixture(scope="module")
def x(function: additive.AdditiveFunction) -> np.ndarray:
    return additive.smooth_inputs(4, function.shape, seed=5)


def test_terms_are_piecewise_linear_with_the_planted_slopes(function: additive.AdditiveFunction) -> None:
    """Finite differences inside each segment recover its slope; f(0) = 0; TF and NumPy agree."""
    probe = np.full((1, *function.shape), 0.0)
    assert not function.terms(probe).any()
    for k, v in enumerate((-2.0, -0.5, 0.5, 2.0)):
        h = 1e-3
        slope = (function.terms(probe + v + h) - function.terms(probe + v - h)) / (2 * h)
        np.testing.assert_allclose(slope[0], function.slopes[k], atol=1e-9)
        np.testing.assert_allclose(function.sensitivity(probe + v)[0], function.slopes[k])
    inputs = additive.smooth_inputs(3, function.shape, seed=1)
    exact = additive.exact_model(function)
    np.testing.assert_allclose(exact(inputs).numpy()[:, 0], function(inputs), rtol=1e-4, atol=1e-4)


def test_planted_channels_have_their_sign_and_the_others_none(function: additive.AdditiveFunction) -> None:
    for c, sign in enumerate(additive.SIGNS):
        slopes = function.slopes[..., c]
        assert (np.sign(slopes) == sign).any() if sign else not slopes.any()
        assert (slopes * sign >= 0).all()


def test_integrated_gradients_on_the_exact_function_is_exact_up_to_quadrature(
        function: additive.AdditiveFunction, x: np.ndarray) -> None:
    exact = additive.exact_model(function)
    truth = function.contribution(x)
    for steps in (8, 64):
        ig = additive.explain(exact, x, "integrated_gradients", steps=steps)
        bound = function.quadrature_bound(x, np.zeros_like(x), steps)
        assert (np.abs(ig - truth) <= bound + 1e-4 + 1e-4 * np.abs(truth)).all(), steps
    assert np.abs(additive.explain(exact, x, "integrated_gradients", steps=64) - truth).max() < \
        np.abs(additive.explain(exact, x, "integrated_gradients", steps=8) - truth).max()
    # completeness: the attributions sum to f(x) - f(0)
    np.testing.assert_allclose(ig.reshape(len(x), -1).sum(axis=1), function(x), rtol=1e-3, atol=1e-3)


def test_vanilla_gradient_of_the_exact_function_is_its_sensitivity(function: additive.AdditiveFunction,
                                                                    x: np.ndarray) -> None:
    grads = additive.explain(additive.exact_model(function), x, "vanilla_gradient")
    np.testing.assert_allclose(grads, function.sensitivity(x), atol=1e-6)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0))
def test_linear_function_gradient_x_input_and_ig_equal_the_truth(seed: int, scale: float) -> None:
    """With one slope per input (no bends), x * f'(x) and IG from zero are both f(x) - f(0), exactly."""
    rng = np.random.default_rng(seed)
    slope = rng.normal(size=(1, 3, 3, 2)) * scale
    function = additive.AdditiveFunction(np.asarray(additive.BREAKPOINTS), np.repeat(slope, 4, axis=0))
    inputs = rng.normal(size=(2, 3, 3, 2)).astype(np.float32) * 2
    exact = additive.exact_model(function)
    truth = function.contribution(inputs)
    tolerance = 1e-5 * scale * 10
    np.testing.assert_allclose(additive.explain(exact, inputs, "gradient_x_input"), truth, atol=tolerance)
    np.testing.assert_allclose(additive.explain(exact, inputs, "integrated_gradients", steps=3), truth,
                               atol=tolerance)


def test_benchmark_separates_method_error_from_model_error() -> None:
    """A near-perfect fit still errs in its attributions: that error is the model's, not the method's."""
    bench = additive.benchmark(shape=SHAPE, n_train=3000, n_test=6, epochs=15, steps=32, seed=1)
    assert bench.r2 > 0.9
    errors = additive.decompose(bench.scores)
    assert list(errors.index) == [additive.spec_label(m, b) for m, b in additive.BENCH_SPECS]
    assert errors.loc["vanilla_gradient", "method_error"] < 1e-5       # the gradient *is* the sensitivity
    assert errors.loc["integrated_gradients (zeros)", "method_error"] < 0.05  # quadrature only
    assert errors.loc["gradient_x_input", "method_error"] > 0.05       # x f'(x) is not f(x) - f(0) once bent
    assert (errors["model_error"] > errors["method_error"]).loc[
        ["vanilla_gradient", "integrated_gradients (zeros)"]].all()
    # the best method on the network still finds the planted channels and their signs
    network = bench.scores[bench.scores["model"] == "network"].set_index("label")
    best = network["correlation"].idxmax()
    assert network.loc[best, "sign_agreement"] == 1.0
    importance = np.abs(bench.attributions[best, "network"]).mean(axis=(0, 1, 2))
    linked = [c for c, s in enumerate(additive.SIGNS) if s]
    assert set(np.argsort(importance)[::-1][:len(linked)]) == set(linked)


def test_bad_settings_are_refused(function: additive.AdditiveFunction, x: np.ndarray) -> None:
    with pytest.raises(additive.AdditiveError, match="increasing"):
        additive.AdditiveFunction(np.array([1.0, 0.0]), np.zeros((3, 2, 2, 1)))
    with pytest.raises(additive.AdditiveError, match="slopes must be"):
        additive.AdditiveFunction(np.array([0.0]), np.zeros((3, 2, 2, 1)))
    with pytest.raises(additive.AdditiveError, match="do not end in"):
        function(np.zeros((1, 2, 2, 1)))
    with pytest.raises(additive.AdditiveError, match="at least 2x2"):
        additive.planted_function((1, 5))
    with pytest.raises(additive.AdditiveError, match="at least one sample"):
        additive.smooth_inputs(0, function.shape)
    with pytest.raises(additive.AdditiveError, match="unknown method"):
        additive.explain(additive.exact_model(function), x, "saliency")
    with pytest.raises(additive.AdditiveError, match="zero baseline"):
        additive.evaluate(function, additive.exact_model(function), x,
                          [("integrated_gradients", "climatology")])
    with pytest.raises(additive.AdditiveError, match="unknown truth kind"):
        additive.truth(function, x, "exact")
    with pytest.raises(additive.AdditiveError, match="n_train"):
        additive.benchmark(n_train=10)
