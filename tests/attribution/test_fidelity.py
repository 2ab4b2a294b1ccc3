"""Fidelity against the emulated Arctic's truth: channel mapping, scores, and planted-link recovery.

The mapping of the emulator's sensitivity onto IceNet's channels is checked against the input
builder itself (each channel holds the month the truth says it does, in the units it says). The
scores are checked on *oracle* networks built from that truth: a network linear in its inputs, whose
every method's attribution equals the matched truth exactly, and a saturating one, on which the best
method must still recover the planted links' signs and the top-ranked channels.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.methods import EngineCache
from icegrad.attribution.targets import forecast_start
from icegrad.data.emulator import true_sensitivity
from icegrad.evaluation import fidelity
from icegrad.inputs import build as network_inputs
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.variables import CHANNEL_NAMES, channel

MONTH = "2013-09"
LEADS = (1, 3)


@pytest.fixture(scope="module")
def arctic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The 200 km emulated Arctic, its ROI, normalisation and the true channel sensitivity."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("fidelity-cache")))
        ds = pipeline.dataset("emulated", 200)
        roi = pipeline.region(ds)
        stats = network_inputs.fit_normalisation(ds)
        truth = fidelity.true_channel_sensitivity(ds, stats, MONTH, LEADS, roi, CHANNEL_NAMES)
        yield {"ds": ds, "roi": roi, "stats": stats, "truth": truth}


class Oracle(keras.layers.Layer):
    """IceNet-shaped output whose sea-ice probability at lead l is g(sum over cells and channels K_l x) in
    every cell.

    The ROI weights sum to one, so with ``K_l = truth_l`` and g the identity the target's gradient is
    the truth, wherever it lies (the optimal forecast reads cells upstream of the ROI too).
    """

    def __init__(self, shape: tuple[int, ...], saturation: float | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kernel = self.add_weight(shape=tuple(shape), initializer="zeros", trainable=False, name="kernel")
        self.saturation = saturation

    def get_config(self) -> dict:
        return {**super().get_config(), "shape": tuple(self.kernel.shape), "saturation": self.saturation}

    def call(self, x: tf.Tensor) -> tf.Tensor:
        a = tf.einsum("byxc,yxcl->bl", x, self.kernel)
        if self.saturation:
            a = tf.tanh(self.saturation * a) / self.saturation
        a = tf.broadcast_to(a[:, tf.newaxis, tf.newaxis, :], tf.concat([tf.shape(x)[:3], tf.shape(a)[1:]], 0))
        zeros = tf.zeros_like(a)
        return tf.stack([zeros, a, zeros], axis=3)


class OptimalOracle(keras.layers.Layer):
    """IceNet-shaped output whose sea-ice probability at lead l is the optimal forecast F_l of the input.

    The normalised input ``z`` maps to the fields ``F`` reads as the truth does, ``v = v_actual + scale
    (z - z_actual)``, so this network *is* the optimal forecast around each lead's own input.
    """

    def __init__(self, arctic: dict, **kwargs: object) -> None:
        from icegrad.data.emulator import optimal
        from icegrad.data.emulator.sensitivity import _roi_weights

        super().__init__(**kwargs)
        ds, stats, weights = arctic["ds"], arctic["stats"], _roi_weights(arctic["ds"], arctic["roi"])
        self.parts = {}
        for lead in LEADS:
            start = forecast_start(MONTH, lead)
            physical = optimal.input_fields(ds, start)
            actual = network_inputs.build_inputs(ds, [start], stats).isel(time=0).values.astype("float64")
            read = {j: ((channel(n).variable, channel(n).lag), fidelity.channel_scale(stats, n))
                    for j, n in enumerate(CHANNEL_NAMES) if (channel(n).variable, channel(n).lag) in physical
                    and fidelity.channel_scale(stats, n) is not None}
            model = optimal.OptimalForecast(200, int(ds.attrs["seed"]), start, lead, weights)
            self.parts[lead] = (model, physical, actual, read)

    def get_config(self) -> dict:  # hashed into the attribution cache key; never rebuilt from it
        return {**super().get_config(), "oracle": f"optimal forecast of {MONTH}, leads {LEADS}"}

    def forecast(self, sample: tf.Tensor, lead: int) -> tf.Tensor:
        model, physical, actual, read = self.parts[lead]
        fields = {key: tf.constant(value) for key, value in physical.items()}
        for j, (key, scale) in read.items():
            fields[key] = physical[key] + scale * (tf.cast(sample[..., j], tf.float64) - actual[..., j])
        return tf.cast(model(fields), tf.float32)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        def one(sample: tf.Tensor) -> tf.Tensor:
            return tf.stack([self.forecast(sample, lead) if lead in self.parts else tf.constant(0.0)
                             for lead in range(1, 7)])

        a = tf.map_fn(one, x, fn_output_signature=tf.TensorSpec((6,), tf.float32))
        a = tf.broadcast_to(a[:, tf.newaxis, tf.newaxis, :], tf.concat([tf.shape(x)[:3], tf.shape(a)[1:]], 0))
        zeros = tf.zeros_like(a)
        return tf.stack([zeros, a, zeros], axis=3)


def oracle_ensemble(arctic: dict, saturation: float | None = None) -> IceNetEnsemble:
    ds, truth = arctic["ds"], arctic["truth"]
    kernel = np.zeros((ds.sizes["y"], ds.sizes["x"], len(CHANNEL_NAMES), 6), np.float32)
    for lead in LEADS:
        kernel[..., lead - 1] = truth.sel(lead=lead).transpose("y", "x", "channel").values
        if saturation:  # scale-free scores: rescale so the tanh's argument is +-saturation at the input
            x = network_inputs.build_inputs(ds, [forecast_start(MONTH, lead)], arctic["stats"]).isel(time=0)
            argument = float((kernel[..., lead - 1] * x.transpose("y", "x", "channel")).sum())
            kernel[..., lead - 1] /= abs(argument)
    inputs = keras.Input((ds.sizes["y"], ds.sizes["x"], len(CHANNEL_NAMES)))
    layer = Oracle(kernel.shape, saturation)
    model = keras.Model(inputs, layer(inputs), name=f"oracle_{saturation}")
    layer.kernel.assign(kernel)
    return wrap(arctic, model, f"oracle {saturation}")


def wrap(arctic: dict, model: keras.Model, created: str) -> IceNetEnsemble:
    manifest = {"data_source": "emulated", "seeds": [0], "created": created}
    return IceNetEnsemble([model], arctic["stats"], CHANNEL_NAMES, manifest)


@pytest.fixture(scope="module")
def linear_run(arctic: dict, tmp_path_factory: pytest.TempPathFactory) -> fidelity.FidelityRun:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("linear-oracle")))
        return pipeline.score_methods(arctic["ds"], oracle_ensemble(arctic), arctic["roi"], MONTH, LEADS,
                                      steps=4, samples=4)


def test_each_channel_holds_the_month_and_units_its_truth_is_for(arctic: dict) -> None:
    """De-normalising the input builder's channels recovers the dataset at the truth's input month."""
    ds, stats = arctic["ds"], arctic["stats"]
    sens = true_sensitivity(ds, MONTH, arctic["roi"], months_back=16)
    for lead in LEADS:
        x = network_inputs.build_inputs(ds, [forecast_start(MONTH, lead)], stats).isel(time=0)
        for name in ("siconca_abs_1", "siconca_abs_4", "tas_anom_1", "psl_anom_3"):
            spec = channel(name)
            month = pd.Timestamp(sens["input_time"].sel(lag=lead - 1 + spec.lag).values)
            raw = ds[spec.variable].sel(time=month)
            value = x.sel(channel=name)
            if spec.kind == "anom":
                clim = stats[f"{spec.variable}_climatology"].sel(month=month.month)
                value = value * stats[f"{spec.variable}_std"] + stats[f"{spec.variable}_mean"] + clim
            ocean = ~ds["land"].values
            np.testing.assert_allclose(value.values[ocean], raw.values[ocean], rtol=1e-4, atol=1e-3,
                                       err_msg=f"{name} at lead {lead} is not {month:%Y-%m}")


def test_truth_is_the_optimal_forecasts_gradient_times_the_z_score_scale(arctic: dict) -> None:
    from icegrad.data.emulator import optimal
    from icegrad.data.emulator.sensitivity import _roi_weights

    truth, stats, ds = arctic["truth"], arctic["stats"], arctic["ds"]
    start = f"{forecast_start(MONTH, 3):%Y-%m}"
    _, grads = optimal.forecast(ds, start, 3, _roi_weights(ds, arctic["roi"]))
    np.testing.assert_allclose(truth.sel(lead=3, channel="tas_anom_1").values,
                               grads[("tas", 1)] * float(stats["tas_std"]), rtol=1e-12)
    np.testing.assert_allclose(truth.sel(lead=3, channel="siconca_abs_1").values, grads[("siconca", 1)],
                               rtol=1e-12)
    # only the latest SIC carries the memory: older SIC says nothing more to the best forecast
    assert not np.abs(truth.sel(channel="siconca_abs_4").values).any()
    net = truth.sum(("y", "x"))
    for name in ("zg250_anom_1", "ta500_anom_1", "rsus_anom_2", "ua10_abs_1", "uas_abs_1",
                 "siconca_linear_trend_1", "land", "cos_month", "sin_month"):
        assert not np.abs(truth.sel(channel=name).values).any(), f"{name} has no link but a non-zero truth"
    assert (net.sel(channel="siconca_abs_1") > 0).all()  # persistence: more ice last month, more ice
    assert (net.sel(channel="tas_anom_1") < 0).all()     # warm air melts ice
    assert (net.sel(channel="psl_anom_1", lead=1) <= 0)  # the Beaufort High clears the Pacific sector


def test_the_integrated_gradients_truth_is_complete(arctic: dict) -> None:
    """IG of the optimal forecast sums to F(input) - F(reference); at a near reference it is first order."""
    from icegrad.data.emulator import optimal
    from icegrad.data.emulator.sensitivity import _roi_weights

    ds, stats, lead = arctic["ds"], arctic["stats"], 3
    start = forecast_start(MONTH, lead)
    x = network_inputs.build_inputs(ds, [start], stats).isel(time=0)
    inputs = x.transpose("channel", "y", "x").expand_dims(lead=[lead])
    reference = inputs * 0.5
    gradients = fidelity.OptimalGradients(ds, stats, MONTH, arctic["roi"])
    ig = fidelity.true_integrated_gradients(gradients, inputs, reference, steps=32)
    model = optimal.OptimalForecast(200, 0, start, lead, _roi_weights(ds, arctic["roi"]))
    physical = optimal.input_fields(ds, start)
    halfway = dict(physical)
    for name in ("siconca_abs_1", "siconca_abs_2", "tas_anom_1", "tas_anom_2", "rsds_anom_1", "rsds_anom_2",
                 "psl_anom_1", "psl_anom_2", "tos_anom_1", "tos_anom_2"):
        spec = channel(name)
        key = (spec.variable, spec.lag)
        halfway[key] = physical[key] - fidelity.channel_scale(stats, name) * 0.5 * x.sel(channel=name).values
    f1 = float(model({k: tf.constant(v) for k, v in physical.items()}))
    f0 = float(model({k: tf.constant(v) for k, v in halfway.items()}))
    assert float(ig.sum()) == pytest.approx(f1 - f0, rel=0.005)
    unread = [n for n in CHANNEL_NAMES if n.startswith(("ta500", "zg", "rsus", "land", "siconca_linear"))]
    unread += [f"siconca_abs_{k}" for k in range(3, 13)]
    assert not np.abs(ig.sel(channel=unread).values).any()


def test_gradient_methods_match_the_truth_of_a_linear_oracle(linear_run: fidelity.FidelityRun) -> None:
    """On a network linear in its inputs each gradient-type attribution is its matched truth, up to rounding.

    Its integrated gradients are the first-order contribution, not the optimal forecast's own IG (F is
    not linear): they must score below a perfect 1 on their maps.
    """
    scores = linear_run.scores
    assert set(scores["label"]) == {fidelity.spec_label(m, b) for m, b in fidelity.METHOD_SPECS}
    assert (scores["n_linked"] >= 1).all()
    exact = scores[scores["method"] != "integrated_gradients"]
    for column in ("spearman", "sign_agreement", "spatial_correlation", "top_recall", "fidelity"):
        np.testing.assert_allclose(exact[column], 1.0, atol=1e-4, err_msg=column)
    for label, result in linear_run.results.items():
        truth = linear_run.truths[label]
        assert truth.dims == ("lead", "channel", "y", "x")
        assert truth.dtype == np.float32, "kept for maps in float32 (ch. 9 holds all five at its peak)"
        if result.attrs["method"] == "integrated_gradients":
            continue
        model = result["attribution"].mean("member").transpose(*truth.dims)
        np.testing.assert_allclose(model.values, truth.values, atol=1e-6 * float(abs(truth).max()),
                                   err_msg=label)
    assert (scores.loc[scores["method"] == "integrated_gradients", "spatial_correlation"] < 0.9999).any()


def test_integrated_gradients_of_the_optimal_forecast_match_their_truth(
        arctic: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A network that *is* the optimal forecast: its IG from either baseline is the exact IG truth.

    Scored against the zero baseline's truth instead, the climatology-baseline attribution falls short:
    the truth follows the path the attribution took.
    """
    inputs = keras.Input((arctic["ds"].sizes["y"], arctic["ds"].sizes["x"], len(CHANNEL_NAMES)))
    ens = wrap(arctic, keras.Model(inputs, OptimalOracle(arctic)(inputs), name="optimal_oracle"), "optimal")
    specs = [("integrated_gradients", "zeros"), ("integrated_gradients", "climatology")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("optimal-oracle")))
        run = pipeline.score_methods(arctic["ds"], ens, arctic["roi"], MONTH, LEADS, steps=64, specs=specs)
    assert (run.scores["truth"] == "integrated gradients").all()
    assert (run.scores["sign_agreement"] == 1.0).all()
    assert (run.scores["spearman"] > 0.95).all(), run.scores
    assert (run.scores["spatial_correlation"] > 0.95).all(), run.scores
    label = fidelity.spec_label(*specs[1])
    result = run.results[label]
    for lead in LEADS:  # completeness: the truth sums to what the oracle's IG explains
        explained = float(result["target_value"].sel(lead=lead).item() - result["baseline_target_value"].sel(
            lead=lead).item())
        assert float(run.truths[label].sel(lead=lead).sum()) == pytest.approx(explained, rel=0.02, abs=1e-4)
    gradients = fidelity.OptimalGradients(arctic["ds"], arctic["stats"], MONTH, arctic["roi"])
    wrong = fidelity.matched_truth(result, run.sensitivity, gradients)  # the zero baseline's path
    assert list(gradients._leads) == [LEADS[-1]]  # one lead's compiled gradient kept at a time, the last
    rescored = fidelity.summarise(fidelity.channel_scores(result, wrong))
    assert (rescored["spatial_correlation"] < run.scores.loc[run.scores["label"] == label,
                                                             "spatial_correlation"].values).any()


def test_gradient_scores_are_scale_free_under_a_saturating_oracle(arctic: dict,
                                                                    tmp_path_factory: pytest.TempPathFactory,
                                                                    ) -> None:
    """A tanh of the linear oracle shrinks every gradient by sech^2 (0.42 at the input) but keeps its
    pattern: the scale-free scores of the gradient-type methods stay perfect though the values do not.

    Integrated gradients are left out: their truth is the optimal forecast's own, which a tanh of the
    first-order forecast is not (the optimal oracle above tests them).
    """
    specs = [spec for spec in fidelity.METHOD_SPECS if spec[0] != "integrated_gradients"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("saturating-oracle")))
        ens = oracle_ensemble(arctic, saturation=1.0)  # tanh(+-1) at each lead's input
        run = pipeline.score_methods(arctic["ds"], ens, arctic["roi"], MONTH, LEADS, steps=16, samples=8,
                                     specs=specs)
    scores = run.scores
    assert (scores["sign_agreement"] == 1.0).all() and (scores["top_recall"] == 1.0).all()
    assert (scores["spearman"] > 0.999).all() and (scores["spatial_correlation"] > 0.999).all()
    vanilla = run.results["vanilla_gradient"]["attribution"].mean("member")
    ratio = float(abs(vanilla).sum() / abs(run.truths["vanilla_gradient"]).sum())
    assert ratio < 0.9  # the saturation is felt in the values


def test_summarise_scores_a_sign_flip_and_a_shuffled_ranking() -> None:
    base = pd.DataFrame({"lead": 1, "channel": list("abcdef"), "linked": [True] * 3 + [False] * 3,
                         "true_importance": [3.0, 2.0, 1.0, 0, 0, 0], "true_net": [3.0, -2.0, 1.0, 0, 0, 0],
                         "map_correlation": [1.0, 0.5, 0.0, np.nan, np.nan, np.nan]})
    perfect = fidelity.summarise(base.assign(importance=base["true_importance"], net=base["true_net"]),
                                 top_k=2)
    assert perfect.loc[0, "spearman"] == pytest.approx(1.0)
    assert perfect.loc[0, "sign_agreement"] == 1.0 and perfect.loc[0, "top_recall"] == 1.0
    assert perfect.loc[0, "spatial_correlation"] == pytest.approx(0.5)
    assert perfect.loc[0, "fidelity"] == pytest.approx((1.0 + 1.0 + 0.5) / 3)
    wrong = fidelity.summarise(base.assign(importance=[0, 0, 0, 3.0, 2.0, 1.0], net=-base["true_net"]),
                               top_k=2)
    assert wrong.loc[0, "sign_agreement"] == 0.0 and wrong.loc[0, "top_recall"] == 0.0
    assert wrong.loc[0, "spearman"] < 0
    # chance level is 0 for every term: a coin's signs add nothing to the composite
    coin = fidelity.summarise(base.assign(importance=base["true_importance"], net=[3.0, 2.0, -1.0, 0, 0, 0],
                                          map_correlation=0.0), top_k=2)
    assert coin.loc[0, "sign_agreement"] == pytest.approx(1 / 3)
    assert coin.loc[0, "fidelity"] == pytest.approx((1.0 + 2 * (1 / 3 - 0.5) + 0.0) / 3)


def test_bad_input_is_refused_with_the_fix(arctic: dict, linear_run: fidelity.FidelityRun) -> None:
    observed = arctic["ds"].assign_attrs(data_source="nsidc")
    with pytest.raises(fidelity.FidelityError, match="only for the emulated Arctic"):
        fidelity.true_channel_sensitivity(observed, arctic["stats"], MONTH, LEADS, arctic["roi"], ["land"])
    with pytest.raises(fidelity.FidelityError, match="lack 'tas_std'"):
        fidelity.channel_scale(xr.Dataset(), "tas_anom_1")
    with pytest.raises(fidelity.FidelityError, match="cannot compute the truth"):
        fidelity.true_channel_sensitivity(arctic["ds"], arctic["stats"], "1979-01", (1,), arctic["roi"],
                                          ["siconca_abs_12"])
    result = linear_run.results["vanilla_gradient"]
    with pytest.raises(fidelity.FidelityError, match="does not match the result"):
        fidelity.matched_truth(result, linear_run.sensitivity.sel(lead=[1]))
    ig = linear_run.results[fidelity.spec_label("integrated_gradients", "zeros")]
    with pytest.raises(fidelity.FidelityError, match="needs the optimal forecast's gradients"):
        fidelity.matched_truth(ig, linear_run.sensitivity)
    with pytest.raises(fidelity.FidelityError, match="'counterfactual' baseline have no truth"):
        fidelity.matched_truth(ig.assign_attrs(baseline="counterfactual (input of 2007-09)"),
                               linear_run.sensitivity)
    with pytest.raises(fidelity.FidelityError, match="linked_share"):
        fidelity.channel_scores(result, linear_run.sensitivity, linked_share=1.5)
    with pytest.raises(fidelity.FidelityError, match="unknown method"):
        fidelity.matched_kind("saliency")
    for baseline in ("mean", "counterfactual"):
        with pytest.raises(fidelity.FidelityError, match=f"the '{baseline}' baseline have no truth.*choose"):
            pipeline.score_methods(arctic["ds"], None, arctic["roi"], MONTH, LEADS,
                                   specs=[("integrated_gradients", baseline)])
    with pytest.raises(fidelity.FidelityError, match="ranking needs"):
        fidelity.ranking(pd.DataFrame())


def test_the_optimal_forecasts_gradients_are_released_after_the_last_integrated_gradients(
        arctic: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Their compiled functions (~260 MiB at 100 km) must not stay resident under the later methods' peaks,
    nor the attribution engines under the next chapter section's."""
    created: list[weakref.ref] = []
    alive_at: list[tuple[str, bool]] = []

    class Recorded(fidelity.OptimalGradients):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            created.append(weakref.ref(self))

    def recording(*args: object, method: str, **kwargs: object) -> xr.Dataset:
        gc.collect()
        alive_at.append((method, any(ref() is not None for ref in created)))
        return attributions(*args, method=method, **kwargs)

    class RecordedEngines(EngineCache):
        def __init__(self) -> None:
            super().__init__()
            caches.append(self)

    caches: list[EngineCache] = []
    attributions = pipeline.attributions
    specs = [("integrated_gradients", "zeros"), ("vanilla_gradient", "none")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("released")))
        mp.setattr(fidelity, "OptimalGradients", Recorded)
        mp.setattr(pipeline, "attributions", recording)
        mp.setattr(pipeline, "EngineCache", RecordedEngines)
        run = pipeline.score_methods(arctic["ds"], oracle_ensemble(arctic), arctic["roi"], MONTH, LEADS,
                                     steps=4, specs=specs)
    assert alive_at == [("integrated_gradients", True), ("vanilla_gradient", False)]
    assert run.scores["label"].tolist() == [fidelity.spec_label(*spec) for spec in specs for _ in LEADS]
    # The compiled attribution engines are dropped too, though the lazy results still hold their cache.
    assert caches and all(len(cache) == 0 for cache in caches)
