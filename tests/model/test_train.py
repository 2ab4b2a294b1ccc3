"""Training: losses against hand formulas, temperature fitting with a known answer, determinism,
streamed samples, pre-training and progress."""

from __future__ import annotations

import dataclasses
import errno
import tracemalloc
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from icegrad.cache import dataset_fingerprint
from icegrad.inputs.build import build_inputs, build_targets, fit_normalisation
from icegrad.inputs.checks import InputError
from icegrad.model.icenet import build_icenet, icenet_layer_order, temperature_layer
from icegrad.model.losses import (
    CategoricalFocalLoss,
    UnknownLossError,
    WeightedCategoricalCrossentropy,
    make_loss,
)
from icegrad.model.progress import EpochProgress
from icegrad.model.samples import CHUNK_STARTS, SampleError, SampleStore
from icegrad.model.skill import evaluate_skill
from icegrad.model.train import (
    TrainConfig,
    TrainingError,
    fit_temperature,
    learning_rate,
    load_or_train,
    model_cache_key,
    model_parameters,
    split_store,
    train_ensemble,
    train_members,
)
from icegrad.variables import SIC_ONLY_CHANNEL_NAMES

probabilities = arrays(np.float32, (2, 3, 3, 2), elements=st.floats(0.0625, 1.0, width=32))


def _normalise(p: np.ndarray) -> np.ndarray:
    return p / p.sum(axis=-2, keepdims=True)


@settings(max_examples=25, deadline=None)
@given(p=probabilities, labels=arrays(np.int64, (2, 3, 2), elements=st.integers(0, 2)))
def test_focal_loss_matches_formula_and_is_bounded_by_crossentropy(p, labels):
    p = _normalise(p)
    y = np.moveaxis(np.eye(3, dtype="float32")[labels], -1, -2)  # (2, 3, class, lead)
    focal = np.asarray(CategoricalFocalLoss(2.0).call(y, p))
    ce = np.asarray(WeightedCategoricalCrossentropy().call(y, p))
    p_true = np.clip((y * p).sum(axis=-2), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(focal, -((1 - p_true) ** 2) * np.log(p_true), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ce, -np.log(p_true), rtol=1e-4, atol=1e-6)
    assert focal.shape == (2, 3, 2)
    assert (focal <= ce + 1e-6).all()
    np.testing.assert_allclose(np.asarray(CategoricalFocalLoss(0.0).call(y, p)), ce, rtol=1e-5, atol=1e-6)


def test_sample_weights_zero_out_inactive_cells():
    y = np.zeros((1, 2, 2, 3, 1), dtype="float32")
    y[..., 0, :] = 1
    p = np.full((1, 2, 2, 3, 1), 1 / 3, dtype="float32")
    p_bad = p.copy()
    p_bad[0, 0, 0, :, 0] = [0.01, 0.01, 0.98]  # a terrible forecast, but in an inactive cell
    w = np.ones((1, 2, 2, 1), dtype="float32")
    w[0, 0, 0] = 0
    loss = make_loss("crossentropy")
    assert float(loss(y, p_bad, sample_weight=w)) == pytest.approx(float(loss(y, p, sample_weight=w)))
    assert float(loss(y, p_bad)) > float(loss(y, p))


def test_unknown_loss_and_bad_config_are_reported():
    with pytest.raises(UnknownLossError, match="focal"):
        make_loss("dice")
    with pytest.raises(TrainingError, match="loss"):
        TrainConfig(loss="dice")
    with pytest.raises(TrainingError, match="members"):
        TrainConfig(members=0)
    with pytest.raises(InputError):
        TrainConfig(val_years=(2000, 2005))


def test_mismatched_samples_are_reported(tiny_arrays, tmp_path):
    store = SampleStore(tmp_path)
    with pytest.raises(SampleError, match="same samples"):
        store.append(tiny_arrays["x"], tiny_arrays["y"][:4], tiny_arrays["w"][:4])
    with pytest.raises(SampleError, match="expected"):
        store.append(tiny_arrays["x"][0], tiny_arrays["y"], tiny_arrays["w"])
    store.append(**tiny_arrays)
    with pytest.raises(SampleError, match="cannot join"):
        store.append(tiny_arrays["x"][:, :8, :8], tiny_arrays["y"][:, :8, :8], tiny_arrays["w"][:, :8, :8])
    with pytest.raises(SampleError, match="empty"):
        SampleStore(tmp_path / "empty").dataset(2, shuffle=False, seed=0)


def test_streamed_batches_equal_the_samples_in_the_former_in_memory_order(tiny_store, tiny_arrays):
    """The stream reads samples back exactly, and shuffles them as ``from_tensor_slices(...).shuffle`` did
    for the same seed, so members trained before streaming are reproduced."""
    first = [[part.numpy() for part in b] for b in tiny_store.dataset(3, shuffle=True, seed=5)]
    again = [b[0].numpy() for b in tiny_store.dataset(3, shuffle=True, seed=5)]
    assert [len(b[0]) for b in first] == [3, 3, 2]
    assert all(np.array_equal(a[0], b) for a, b in zip(first, again, strict=True))
    in_memory = tf.data.Dataset.from_tensor_slices(tuple(tiny_arrays[k] for k in "xyw"))
    expected = list(in_memory.shuffle(8, seed=5, reshuffle_each_iteration=True).batch(3))
    for got, want in zip(first, expected, strict=True):
        for part, reference in zip(got, want, strict=True):
            np.testing.assert_array_equal(part, reference.numpy())
    unshuffled = next(iter(tiny_store.dataset(8, shuffle=False, seed=0)))
    for part, k in zip(unshuffled, "xyw", strict=True):
        np.testing.assert_array_equal(part.numpy(), tiny_arrays[k])


def test_temperature_fit_recovers_a_known_temperature(tmp_path):
    """A network with constant logits b, on labels whose weighted class shares are softmax(b / 2.5),
    has its validation NLL minimised exactly at T = 2.5."""
    model = build_icenet(16, 16, 1, filters_factor=0.0625, n_leads=1, seed=0)
    bias = np.array([0.0, 1.5, 3.0], dtype="float32")
    head = model.get_layer(icenet_layer_order(1)[0][-1])
    head.kernel.assign(np.zeros(head.kernel.shape, dtype="float32"))
    head.bias.assign(bias)
    target_share = np.exp(bias / 2.5) / np.exp(bias / 2.5).sum()
    classes = np.arange(16 * 16).reshape(16, 16) % 3
    y = np.broadcast_to(np.eye(3, dtype="float32")[classes][None, ..., None], (2, 16, 16, 3, 1)).copy()
    counts = np.bincount(classes.ravel(), minlength=3)
    w = np.broadcast_to((target_share / counts)[classes][None, ..., None], (2, 16, 16, 1)).astype("float32")
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 1)).astype("float32")
    store = SampleStore(tmp_path)
    store.append(x, y, w)
    fitted = fit_temperature(model, store)
    assert fitted == pytest.approx(2.5, rel=1e-3)
    assert float(temperature_layer(model).temperature.numpy()) == pytest.approx(fitted)


def test_temperature_fit_needs_active_cells(tiny_arrays, tmp_path):
    model = build_icenet(16, 16, 3, filters_factor=0.0625, n_leads=2, seed=0)
    store = SampleStore(tmp_path)
    store.append(tiny_arrays["x"], tiny_arrays["y"], np.zeros_like(tiny_arrays["w"]))
    with pytest.raises(TrainingError, match="zero"):
        fit_temperature(model, store)


@pytest.mark.slow  # two trainings: graph tracing alone takes ~10-30 s each on 2 shared cores
def test_training_is_deterministic_learns_and_early_stops(tiny_arrays, tiny_store, tmp_path, capsys):
    train = tiny_store
    val = SampleStore(tmp_path / "val")
    val.append(tiny_arrays["x"][:4], tiny_arrays["y"][:4], tiny_arrays["w"][:4])
    config = TrainConfig(filters_factor=0.0625, epochs=4, batch_size=4, patience=1, verbose=0,
                         learning_rate=5e-3, seed_base=6, members=2)
    # Seed 7 trained second, in a network its ensemble's first member trained in, and trained alone:
    # the same member bit for bit.
    (_, model_a), (_, summary_a) = train_members(train, val, config)
    (model_b,), (summary_b,) = train_members(train, val, dataclasses.replace(config, seed_base=7, members=1))
    for wa, wb in zip(model_a.get_weights(), model_b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert summary_a == summary_b and summary_a["seed"] == 7
    assert "epoch" not in capsys.readouterr().err  # verbose=0: no progress line
    assert 1 <= summary_a["epochs_run"] <= 4
    assert summary_a["temperature"] > 0
    assert len(summary_a["history"]["val_loss"]) == summary_a["epochs_run"]
    untrained = build_icenet(16, 16, 3, filters_factor=0.0625, n_leads=2, seed=7)
    loss = make_loss(config.loss)

    x, y, w = val.read(range(len(val)))

    def val_loss(m: keras.Model) -> float:
        return float(loss(y, m.predict(x, verbose=0), sample_weight=w))
    assert val_loss(model_a) < val_loss(untrained)


def test_cosine_schedule_warms_up_then_decays_to_zero_over_exactly_the_planned_epochs():
    config = TrainConfig(epochs=3, batch_size=2, learning_rate=2e-3, lr_schedule="cosine")
    schedule = learning_rate(config, n_samples=7)  # 4 steps per epoch (the last batch is short)
    assert float(schedule(0)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(2)) == pytest.approx(1e-3, rel=1e-5)  # halfway up the one-epoch ramp
    assert float(schedule(4)) == pytest.approx(2e-3, rel=1e-5)
    assert float(schedule(8)) == pytest.approx(1e-3, rel=1e-5)  # halfway down the cosine
    assert float(schedule(12)) == pytest.approx(0.0, abs=1e-9)
    one_epoch = learning_rate(dataclasses.replace(config, epochs=1), n_samples=7)
    assert float(one_epoch(0)) == pytest.approx(2e-3)
    assert learning_rate(dataclasses.replace(config, lr_schedule="constant"), 7) == 2e-3
    with pytest.raises(TrainingError, match="lr_schedule='step'"):
        TrainConfig(lr_schedule="step")


SMALL_SPLITS = {"train_years": (1980, 1982), "val_years": (1983, 1983), "test_years": (1984, 1984)}


def test_cache_key_follows_config_and_data_but_not_verbosity(sic_dataset):
    config = TrainConfig(channels=SIC_ONLY_CHANNEL_NAMES, **SMALL_SPLITS)
    key = model_cache_key(sic_dataset, config)
    assert key == model_cache_key(sic_dataset, dataclasses.replace(config, verbose=0))
    assert key != model_cache_key(sic_dataset, dataclasses.replace(config, members=2))
    changed = sic_dataset.copy(deep=True)
    changed["siconca"][0, 0, 0] = 0.5
    assert key != model_cache_key(changed, config)


def test_data_source_mismatch_is_reported_before_training(sic_dataset):
    with pytest.raises(TrainingError, match="data_source='emulated'"):
        train_ensemble(sic_dataset, TrainConfig(data_source="osisaf", **SMALL_SPLITS))


@pytest.mark.slow  # trains two tiny members on a synthetic 200 km dataset (~1 min on 2 shared cores)
def test_train_ensemble_end_to_end_cached_and_scored(sic_dataset, isolated_cache, monkeypatch):
    config = TrainConfig(members=2, epochs=1, filters_factor=0.0625, batch_size=6, verbose=0,
                         channels=SIC_ONLY_CHANNEL_NAMES, **SMALL_SPLITS)
    ensemble = load_or_train(sic_dataset, config)
    assert len(ensemble) == 2 and ensemble.channels == SIC_ONLY_CHANNEL_NAMES
    assert ensemble.manifest["seeds"] == [36, 37] and ensemble.manifest["n_train_samples"] == 36
    assert ensemble.manifest["n_val_samples"] == 12
    assert (isolated_cache / "models" / model_cache_key(sic_dataset, config) / "manifest.json").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("load_or_train retrained an ensemble that was cached")

    monkeypatch.setattr("icegrad.model.train.train_ensemble", no_training)
    cached = load_or_train(sic_dataset, config)
    for a, b in zip(ensemble.members[1].get_weights(), cached.members[1].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    scores = evaluate_skill(cached, sic_dataset)
    assert list(scores["model"].values) == ["icenet", "linear_trend", "persistence"]
    assert scores.sizes["lead"] == 6 and scores.attrs["years"] == "1984-1984"
    assert ((scores["binary_accuracy"] >= 0) & (scores["binary_accuracy"] <= 100)).all()
    assert (scores["sie_error"] >= 0).all()


def _traced_peak_of_building_and_one_epoch(make_dataset, years: int, tmp_path: Path) -> tuple[int, int]:
    """Peak bytes traced while building the training samples of ``years`` years and streaming them once,
    and the bytes those samples would take held in memory."""
    ds = make_dataset("1979-01", f"{1980 + years}-12")
    # Without the linear-trend channels: build_inputs fits the trend over the whole history, a transient
    # as large as one variable of the dataset itself, which belongs to the inputs, not to the stream.
    channels = tuple(c for c in SIC_ONLY_CHANNEL_NAMES if "trend" not in c)
    config = TrainConfig(channels=channels, train_years=(1980, 1979 + years), val_years=(1980 + years,) * 2,
                         test_years=(1981 + years,) * 2, verbose=0)
    stats = fit_normalisation(ds, config.train_years)
    tracemalloc.start()
    try:
        store = split_store(ds, "train", stats, config, tmp_path / f"years{years}")
        for _ in store.dataset(config.batch_size, shuffle=True, seed=0):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    x, y, w = store.read([0])
    return peak, len(store) * (x.nbytes + y.nbytes + w.nbytes)


def test_memory_of_streaming_an_epoch_stays_flat_as_years_are_added(sic_dataset_factory, tmp_path):
    peak_short, _ = _traced_peak_of_building_and_one_epoch(sic_dataset_factory, 4, tmp_path)
    peak_long, whole_split = _traced_peak_of_building_and_one_epoch(sic_dataset_factory, 12, tmp_path)
    assert peak_long < 1.25 * peak_short, (peak_short, peak_long)
    assert peak_long < whole_split / 3, (peak_long, whole_split)  # holding the split would fail this


def test_progress_line_names_the_member_epoch_and_batches_left(capsys):
    progress = EpochProgress("IceNet member 2/5 (seed 37)", epochs=3, steps=10)
    progress.on_train_begin()
    progress.on_epoch_begin(1)
    progress.on_train_batch_end(3, {"loss": 0.5})  # Keras reports the last batch of a compiled call
    assert progress.bar is not None and progress.bar.n == 14
    progress.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.45})
    progress.on_train_end()
    err = capsys.readouterr().err
    assert "IceNet member 2/5 (seed 37), epoch 2/3" in err and "14/30" in err and "val_loss=0.4500" in err


def test_pretraining_configuration_is_checked_and_keyed(sic_dataset, sic_dataset_factory):
    with pytest.raises(TrainingError, match="pretrain_years=\\(first, last\\)"):
        TrainConfig(pretrain_epochs=2)
    with pytest.raises(TrainingError, match="pretrain_epochs=0"):
        TrainConfig(pretrain_years=(1900, 1978))
    config = TrainConfig(channels=SIC_ONLY_CHANNEL_NAMES, **SMALL_SPLITS)
    control = sic_dataset_factory("1979-01", "1985-12", seed=1)
    pretrained = dataclasses.replace(config, pretrain_epochs=1, pretrain_years=(1980, 1984))
    with pytest.raises(TrainingError, match="reach into the training years"):
        train_ensemble(sic_dataset, pretrained)  # without a separate dataset they would be the same years
    with pytest.raises(TrainingError, match="pretrain_epochs is 0"):
        train_ensemble(sic_dataset, config, pretrain=control)
    keys = {model_cache_key(sic_dataset, config), model_cache_key(sic_dataset, pretrained, control),
            model_cache_key(sic_dataset, pretrained, sic_dataset_factory("1979-01", "1985-12", seed=2)),
            model_cache_key(sic_dataset, dataclasses.replace(pretrained, pretrain_epochs=2), control)}
    assert len(keys) == 4


@pytest.mark.slow  # pre-trains and fine-tunes one tiny member on 200 km synthetic data (~1 min)
def test_pretraining_on_a_control_dataset_then_fine_tuning(sic_dataset, sic_dataset_factory, isolated_cache):
    control = sic_dataset_factory("1979-01", "1985-12", seed=1)  # stands in for an emulated control run
    config = TrainConfig(members=1, epochs=1, filters_factor=0.0625, batch_size=6, verbose=0,
                         channels=SIC_ONLY_CHANNEL_NAMES, pretrain_epochs=2, pretrain_years=(1980, 1984),
                         **SMALL_SPLITS)
    ensemble = load_or_train(sic_dataset, config, pretrain=control)
    summary = ensemble.manifest["members_summary"][0]
    assert ensemble.manifest["n_pretrain_samples"] == 60 and ensemble.manifest["n_train_samples"] == 36
    assert 1 <= summary["pretrain"]["epochs_run"] <= 2 and summary["epochs_run"] == 1
    assert len(summary["pretrain"]["history"]["val_loss"]) == summary["pretrain"]["epochs_run"]
    assert (isolated_cache / "models" / model_cache_key(sic_dataset, config, control)).is_dir()


def test_pretraining_realisations_are_checked_before_any_work_and_keyed_by_their_seeds(sic_dataset):
    pretrained = TrainConfig(pretrain_epochs=1, pretrain_years=(1980, 2011))
    with pytest.raises(TrainingError, match="need pre-training"):
        TrainConfig(pretrain_realisations=(1, 2))
    for bad in ((1, 1), (-1,)):
        with pytest.raises(TrainingError, match="distinct non-negative"):
            dataclasses.replace(pretrained, pretrain_realisations=bad)
    emulated = xr.Dataset(attrs={"data_source": "emulated", "seed": 0})
    with pytest.raises(TrainingError, match="own weather"):
        train_ensemble(emulated, dataclasses.replace(pretrained, pretrain_realisations=(0, 1)))
    with pytest.raises(TrainingError, match="not both"):
        train_ensemble(emulated, dataclasses.replace(pretrained, pretrain_realisations=(1,)),
                       pretrain=emulated)
    real = xr.Dataset(attrs={"data_source": "nsidc"})
    with pytest.raises(TrainingError, match="realisations of the emulated Arctic"):
        train_ensemble(real, dataclasses.replace(pretrained, data_source="nsidc", pretrain_realisations=(1,)))
    # Without realisations the key is what it was before they existed; with them, their seeds name it.
    assert "pretrain_realisations" not in model_parameters(sic_dataset, pretrained)["config"]
    assert "pretrain_realisations" not in model_parameters(sic_dataset, TrainConfig())["config"]
    params = model_parameters(sic_dataset, dataclasses.replace(pretrained, pretrain_realisations=(1, 2)))
    assert params["config"]["pretrain_realisations"] == (1, 2)
    assert params["pretrain_data"] == "emulated realisations"
    assert len({model_cache_key(sic_dataset, dataclasses.replace(pretrained, pretrain_realisations=seeds))
                for seeds in ((1,), (2,), (1, 2))}) == 3


@pytest.mark.slow  # generates two short realisations and trains one tiny member on 200 km emulated data
def test_pretraining_on_other_realisations_of_the_emulated_arctic(isolated_cache):
    from icegrad.data import emulator

    ds = emulator.generate(200, "1979-01", "1985-12", seed=0)
    config = TrainConfig(members=1, epochs=1, filters_factor=0.0625, batch_size=6, verbose=0,
                         pretrain_epochs=1, pretrain_years=(1980, 1982), pretrain_realisations=(3, 4),
                         **SMALL_SPLITS)
    manifest = train_ensemble(ds, config).manifest
    assert manifest["n_pretrain_samples"] == 2 * manifest["n_train_samples"] == 72  # 36 starts a realisation
    fingerprints = manifest["pretrain_data_fingerprint"]
    others = [emulator.generate(200, "1979-01", "1985-12", seed=seed) for seed in (3, 4)]
    assert fingerprints == [dataset_fingerprint(other) for other in others] != [dataset_fingerprint(ds)] * 2
    assert len(manifest["pretrain_source"]) == 2 and "SYNTHETIC" in manifest["pretrain_source"][0]
    assert manifest["members_summary"][0]["pretrain"]["epochs_run"] == 1


def test_samples_built_a_chunk_at_a_time_equal_one_build_of_the_whole_split(sic_dataset, tmp_path):
    config = TrainConfig(channels=SIC_ONLY_CHANNEL_NAMES, **SMALL_SPLITS)
    stats = fit_normalisation(sic_dataset, config.train_years)
    store = split_store(sic_dataset, "train", stats, config, tmp_path)
    starts = config.splits.start_months("train", sic_dataset, config.n_leads)
    assert len(store) == len(starts) > CHUNK_STARTS  # more than one chunk
    x, y, w = store.read(range(len(store)))
    whole = build_inputs(sic_dataset, starts, stats, SIC_ONLY_CHANNEL_NAMES)
    targets = build_targets(sic_dataset, starts, n_leads=config.n_leads, train_years=config.train_years)
    np.testing.assert_array_equal(x, whole.transpose("time", "y", "x", "channel").values)
    np.testing.assert_array_equal(y, targets["targets"].transpose("time", "y", "x", "class", "lead").values)
    np.testing.assert_array_equal(w, targets["sample_weight"].transpose("time", "y", "x", "lead").values)


def test_building_samples_shows_progress_unless_quiet(sic_dataset, tmp_path, capsys):
    config = TrainConfig(channels=SIC_ONLY_CHANNEL_NAMES, **SMALL_SPLITS)
    stats = fit_normalisation(sic_dataset, config.train_years)
    split_store(sic_dataset, "validate", stats, dataclasses.replace(config, verbose=0), tmp_path / "quiet")
    assert capsys.readouterr().err == ""
    split_store(sic_dataset, "validate", stats, config, tmp_path / "shown")
    assert "building validate samples" in capsys.readouterr().err


def test_a_full_disk_is_reported_with_the_fix(tiny_arrays, tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(SampleError, match="set TMPDIR to a larger disk"):
        SampleStore(tmp_path).append(**tiny_arrays)
