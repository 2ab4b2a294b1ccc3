"""Randomisation checks: the cascade destroys layers from the top, and the score ignores (x - x')."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation.randomisation import (
    cascade,
    cascading_randomisation,
    data_randomisation,
    sensitivity,
    similarity,
    weighted_layers,
)


def test_cascade_reinitialises_only_the_top_layers(tiny_icenet: keras.Model) -> None:
    names = weighted_layers(tiny_icenet)
    copy = cascade(tiny_icenet, 2, seed=3)
    for i, name in enumerate(names):
        same = all(np.array_equal(a, b) for a, b in zip(tiny_icenet.get_layer(name).get_weights(),
                                                        copy.get_layer(name).get_weights(), strict=True))
        kernel_like = any(w.ndim > 1 for w in tiny_icenet.get_layer(name).get_weights())
        if i >= 2:
            assert same, name
        elif kernel_like:
            assert not same, name


def test_cascade_draws_the_weights_two_clones_drew(tiny_icenet: keras.Model) -> None:
    """The cascade once cloned twice (one fresh copy to take re-initialised layers from, one to keep the
    trained ones); one clone under the same seed gives the same network, weight for weight."""
    for n_layers, seed in ((1, 0), (3, 5), (len(weighted_layers(tiny_icenet)), 2)):
        keras.utils.set_random_seed(seed)
        fresh = keras.models.clone_model(tiny_icenet)
        expected = keras.models.clone_model(tiny_icenet)
        expected.set_weights(tiny_icenet.get_weights())
        for name in weighted_layers(tiny_icenet)[:n_layers]:
            expected.get_layer(name).set_weights(fresh.get_layer(name).get_weights())
        got = cascade(tiny_icenet, n_layers, seed)
        for a, b in zip(expected.get_weights(), got.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


def test_sensitivity_removes_the_input_factor(tiny_icenet: keras.Model, sample: xr.DataArray,
                                              roi: np.ndarray) -> None:
    gxi = attribute(tiny_icenet, sample, roi, 1, "gradient_x_input")
    grad = attribute(tiny_icenet, sample, roi, 1, "vanilla_gradient")
    effective = sensitivity(gxi, np.zeros(sample.shape, "float32"))
    ok = np.isfinite(effective.values)
    assert ok.mean() > 0.99
    np.testing.assert_allclose(effective.values[ok], grad["attribution"].values[ok], rtol=1e-3, atol=1e-9)
    assert similarity(gxi, gxi, np.zeros(sample.shape, "float32"))["spearman_sensitivity"].iloc[0] \
        == pytest.approx(1.0)


def test_cascading_randomisation_reports_each_stage(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                    roi: np.ndarray) -> None:
    table = cascading_randomisation(tiny_icenet, sample, roi, 1, "gradient_x_input", stages=[1, 3])
    assert table["stage"].tolist() == [1, 3]
    names = weighted_layers(tiny_icenet, [1])
    assert table["top_layer"].tolist() == [names[0], names[2]]
    assert "lead1_logits" in names and not any(f"lead{k}_logits" in names for k in range(2, 7))
    assert table[["spearman_sensitivity", "spearman_raw"]].abs().le(1).all().all()
    with pytest.raises(AttributionError, match=r"stages \[0\] outside 1"):
        cascading_randomisation(tiny_icenet, sample, roi, 1, "vanilla_gradient", stages=[0])


def test_every_stage_and_method_of_a_cascade_shares_one_compiled_engine(
        tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray) -> None:
    """Each stage is a copy of one architecture: an engine per stage traced the network again (seconds at
    100 km, most of ch. 5's cascade). Shared, the tables are exactly those of engines of their own."""
    from icegrad.attribution.methods import EngineCache

    engines = EngineCache()
    for method in ("vanilla_gradient", "integrated_gradients"):
        options = {"stages": [1, 3], "steps": 4, "baseline": "zeros"}
        shared = cascading_randomisation(tiny_icenet, sample, roi, 1, method, engines=engines, **options)
        alone = cascading_randomisation(tiny_icenet, sample, roi, 1, method, engines=None, **options)
        pd.testing.assert_frame_equal(shared, alone)
    assert len(engines) == 1


def test_data_randomisation_pairs_members(tiny_icenet: keras.Model, sample: xr.DataArray,
                                          roi: np.ndarray) -> None:
    other = cascade(tiny_icenet, len(weighted_layers(tiny_icenet)), seed=1)
    table = data_randomisation(tiny_icenet, other, sample, roi, 1, "vanilla_gradient")
    assert table["spearman_sensitivity"].iloc[0] < 0.9
    with pytest.raises(AttributionError, match="pair each member"):
        data_randomisation(tiny_icenet, [other, other], sample, roi, 1, "vanilla_gradient")


def test_shuffled_targets_keep_inputs_and_move_targets(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from icegrad import pipeline
    from icegrad.evaluation import randomisation
    from icegrad.model import shuffled
    from icegrad.model.icenet import build_icenet

    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path))
    ds = pipeline.dataset("emulated", 200)
    seen = {}

    def fake_training(train: object, val: object, config: object) -> tuple[list, list]:
        everything = train.read(np.arange(len(train)))  # type: ignore[attr-defined]
        seen.update(train=everything, config=config)
        n_channels = len(config.channels)  # type: ignore[attr-defined]
        return [build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels, 0.125, seed=0)], [{}]

    monkeypatch.setattr(shuffled, "train_members", fake_training)
    ens = randomisation.shuffled_target_ensemble(ds, seed=1)
    original = shuffled.split_store(ds, "train", ens.stats, seen["config"], tmp_path / "original")
    x, y, _ = original.read(np.arange(len(original)))
    np.testing.assert_array_equal(seen["train"][0], x)
    moved = [not np.array_equal(a, b) for a, b in zip(seen["train"][1], y, strict=True)]
    assert np.mean(moved) > 0.9 and "shuffled" in ens.manifest["training"]
    assert ens.manifest["shuffle_seed"] == 1
    assert ens.manifest["filters_factor"] == seen["config"].filters_factor  # what a release records
    # the same targets, reordered
    assert sorted(map(bytes, seen["train"][1])) == sorted(map(bytes, y))


def test_shuffled_and_trained_networks_never_share_a_cache_entry(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The "targets" marker and seed enter the key: each kind of network is trained once, cached, and only
    ever read back where the same kind is asked for."""
    from icegrad import cache, pipeline
    from icegrad.evaluation import randomisation
    from icegrad.evaluation.selection import SETTINGS, train_config, train_subset
    from icegrad.inputs import build as network_inputs
    from icegrad.inputs import real_record
    from icegrad.model import shipped, train
    from icegrad.model.ensemble import IceNetEnsemble
    from icegrad.model.icenet import build_icenet

    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shipped, "default_folder", lambda: tmp_path / "no-release")
    ds = pipeline.dataset("emulated", 200)
    channels = list(real_record.channels_for(ds))
    config = train_config(ds, channels, SETTINGS["coarse"])
    trained: list[str] = []

    def fake(kind: str) -> IceNetEnsemble:
        trained.append(kind)
        model = build_icenet(ds.sizes["y"], ds.sizes["x"], len(channels), 0.125, seed=0)
        stats = network_inputs.fit_normalisation(ds, config.train_years)
        return IceNetEnsemble([model], stats, config.channels, {"seeds": [36], "kind": kind,
                                                                "filters_factor": 0.125})

    monkeypatch.setattr(train, "train_ensemble", lambda ds, config, pretrain=None: fake("true"))
    monkeypatch.setattr(randomisation, "train_shuffled", lambda ds, config, seed: fake(f"shuffled {seed}"))
    keys = {train.model_cache_key(ds, config),
            *(cache.parameter_key(randomisation.shuffled_parameters(ds, config, seed)) for seed in (0, 1))}
    assert len(keys) == 3
    assert not randomisation.is_at_hand(ds, channels, SETTINGS["coarse"])
    for _ in range(2):
        assert randomisation.shuffled_target_ensemble(ds, channels=channels).manifest["kind"] == "shuffled 0"
        assert train_subset(ds, channels, SETTINGS["coarse"]).manifest["kind"] == "true"
        assert randomisation.shuffled_target_ensemble(ds, seed=1).manifest["kind"] == "shuffled 1"
    assert trained == ["shuffled 0", "true", "shuffled 1"], "each network trained once, then read back"
    assert randomisation.is_at_hand(ds, channels, SETTINGS["coarse"])

    # Shipped, not cached: both networks are at hand, and served without training.
    release = [shipped.Release("coarse", train.model_parameters(ds, config), fake("true shipped")),
               shipped.Release("coarse_shuffled", randomisation.shuffled_parameters(ds, config, 0),
                               fake("shuffled 0 shipped"))]
    shipped.write_release(tmp_path / "release", release)
    monkeypatch.setattr(shipped, "default_folder", lambda: tmp_path / "release")
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path / "empty-cache"))
    trained.clear()
    assert randomisation.is_at_hand(ds, channels, SETTINGS["coarse"])
    assert not randomisation.is_at_hand(ds, channels, SETTINGS["coarse"], seed=1)
    assert "shipped" in randomisation.shuffled_target_ensemble(ds, channels=channels).manifest
    assert "shipped" in train_subset(ds, channels, SETTINGS["coarse"]).manifest
    assert trained == [], "nothing trained: both came from the release"
