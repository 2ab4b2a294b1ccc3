"""Training IceNet ensembles: loss, optimiser, early stopping, temperature scaling, caching.

Each member is trained as in IceNet (Andersson et al. 2021): Adam (lr 5e-4), a focal or weighted
cross-entropy loss with per-pixel sample weights (zero outside the active region), early stopping on
the validation loss with the best weights restored, then a temperature fitted on the validation
months so the probabilities are calibrated. Members differ only in their seed (IceNet's release used
seeds 36-60; ``seed_base=36`` keeps that numbering).

Training is deterministic for a seed on CPU (``keras.utils.set_random_seed`` plus TensorFlow's op
determinism), so a chapter re-run reproduces the same network bit for bit. :func:`load_or_train`
caches ensembles in the ``models`` stage of :mod:`icegrad.cache`, the key hashing the configuration
*and* the data, so chapters never retrain what already exists and never reuse a model trained on other
data; a damaged or implausible cached ensemble (non-finite weights) is named and retrained.

Example
-------
Training takes minutes, so it is not run here: ``load_or_train(load_dataset("emulated", 200),
TrainConfig(members=2, epochs=1))`` trains two members once and reads them from the cache afterwards.
The configuration names that cache entry, the data too, and the log level does not:

>>> config = TrainConfig(members=2, epochs=1)
>>> config.seeds
[36, 37]
>>> model_cache_key(ds, config) == model_cache_key(ds, TrainConfig(members=2, epochs=1, verbose=0))
True
>>> model_cache_key(ds, config) == model_cache_key(ds.isel(time=slice(12, None)), config)
False
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
import xarray as xr
from scipy.optimize import minimize_scalar

from icegrad import cache
from icegrad.cache import dataset_fingerprint
from icegrad.errors import IcegradError
from icegrad.inputs import build as network_inputs
from icegrad.inputs.splits import Splits
from icegrad.model.ensemble import IceNetEnsemble, base_manifest
from icegrad.model.icenet import build_icenet, check_input_shape, temperature_layer
from icegrad.model.losses import LOSSES, make_loss
from icegrad.variables import CHANNEL_NAMES, N_LEADS

log = logging.getLogger(__name__)

TEMPERATURE_BOUNDS = (0.05, 20.0)
"""Search range of the fitted temperature; outside it the network is broken, not miscalibrated."""


TRAINING_RECIPE = 2
"""Version of how :func:`fit_member` trains, beyond what :class:`TrainConfig` says (e.g. the warm-up of the
cosine schedule). It is part of the cache key: bump it whenever training changes, so cached ensembles
trained the old way are not mistaken for new ones."""

LR_SCHEDULES = ("constant", "cosine")
"""Adam's step size: fixed (IceNet's release), or cosine-decayed to zero over the planned epochs."""


class TrainingError(IcegradError):
    """A training configuration or training arrays that cannot produce a model."""


STEPS_PER_EXECUTION = 16
"""Training batches run per compiled call (Keras ``steps_per_execution``)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what :func:`train_ensemble` produces (and so names its cache entry).

    The defaults are the book's: a narrow IceNet (``filters_factor=0.25``, filters 16-128 instead of
    128-1024), five members, IceNet's batch size (2), and a short schedule tuned for two CPU cores:
    8 epochs of Adam at 2e-3 with a one-epoch warm-up and cosine decay, on weighted cross-entropy.
    Why not IceNet's focal loss at a fixed 5e-4: IceNet trained for many more epochs than a CPU
    affords, and at this budget the measured single-member binary accuracies on the test years
    (2018-2020, emulated Arctic at 100 km, seed 36) were 92.3 % (focal, cosine 2e-3), 93.4 %
    (cross-entropy, fixed 1e-3), 90.9 % (cross-entropy, cosine 3e-3) and 93.7 % (cross-entropy,
    cosine 2e-3), against 93.8 % for the linear-trend forecast. The default five-member ensemble
    scored 94.0 % and 93.9 % averaged over leads 1-6 on two machines (numerics differ with the CPU),
    beating the linear trend (93.8 %) both times by a thin margin, and took 8-14 min of wall time on
    two idle cores (``benchmarks/training.py``; chapter 4 shows the run's own numbers).
    ``loss="focal"``, ``learning_rate=5e-4``, ``lr_schedule="constant"``, ``filters_factor=2``,
    ``members=25`` and many more epochs give the paper's setting on a GPU.
    """

    members: int = 5
    filters_factor: float = 0.25
    epochs: int = 8
    batch_size: int = 2
    patience: int = 3
    learning_rate: float = 2e-3
    lr_schedule: str = "cosine"
    loss: str = "crossentropy"
    focal_gamma: float = 2.0
    train_years: tuple[int, int] = (1980, 2011)
    val_years: tuple[int, int] = (2012, 2017)
    test_years: tuple[int, int] = (2018, 2020)
    seed_base: int = 36
    data_source: str = "emulated"
    channels: tuple[str, ...] = CHANNEL_NAMES
    n_leads: int = N_LEADS
    deterministic: bool = True
    verbose: int = 2

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise TrainingError(f"lr_schedule={self.lr_schedule!r} is unknown; choose one of {LR_SCHEDULES}")
        if self.loss not in LOSSES:
            raise TrainingError(f"loss={self.loss!r} is unknown; choose one of {LOSSES}")
        for name in ("members", "epochs", "batch_size", "n_leads"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if self.patience < 0 or not self.learning_rate > 0 or not self.filters_factor > 0:
            raise TrainingError("patience must be >= 0, learning_rate and filters_factor positive")
        Splits(self.train_years, self.val_years, self.test_years)  # InputError names a bad year range

    @property
    def splits(self) -> Splits:
        """The train/validate/test years as :class:`icegrad.inputs.splits.Splits`."""
        return Splits(train=self.train_years, validate=self.val_years, test=self.test_years)

    @property
    def seeds(self) -> list[int]:
        """One seed per member: ``seed_base``, ``seed_base + 1``, ..."""
        return [self.seed_base + i for i in range(self.members)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (the cache key and the manifest are made from it)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Arrays:
    """Training arrays: inputs ``(n, y, x, channel)``, one-hot targets ``(n, y, x, class, lead)``, sample
    weights ``(n, y, x, lead)``; checked for agreement so a mix-up fails here, not deep inside Keras."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.x)
        if self.x.ndim != 4 or self.y.ndim != 5 or self.w.ndim != 4:
            raise TrainingError(f"expected x (n, y, x, channel), targets (n, y, x, class, lead) and weights "
                                f"(n, y, x, lead); got shapes {self.x.shape}, {self.y.shape}, {self.w.shape}")
        if not (len(self.y) == len(self.w) == n) or self.y.shape[1:3] != self.x.shape[1:3] \
                or self.w.shape != self.y.shape[:3] + self.y.shape[4:]:
            raise TrainingError(f"inputs {self.x.shape}, targets {self.y.shape} and weights {self.w.shape} "
                                "do not describe the same samples, grid and leads")
        if n == 0:
            raise TrainingError("no samples: the split selects no forecast start months in the data")


def make_tf_dataset(arrays: Arrays, batch_size: int, *, shuffle: bool, seed: int) -> tf.data.Dataset:
    """A batched ``(x, y, w)`` pipeline; shuffled reproducibly for a seed when ``shuffle``."""
    data = tf.data.Dataset.from_tensor_slices((arrays.x.astype("float32"), arrays.y.astype("float32"),
                                               arrays.w.astype("float32")))
    if shuffle:
        data = data.shuffle(len(arrays.x), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def set_determinism(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow; with ``deterministic`` also make TF ops reproducible."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def fit_member(train: Arrays, val: Arrays, config: TrainConfig, seed: int) -> tuple[keras.Model, dict]:
    """Train one IceNet member on ``train``, early-stopped on ``val``, then temperature-scaled on ``val``.

    Returns the model and a summary (epochs run, best validation loss, fitted temperature, and the
    per-epoch Keras history, so the book can plot training curves from the saved manifest).
    """
    set_determinism(seed, config.deterministic)
    _, height, width, n_channels = train.x.shape
    n_classes, n_leads = train.y.shape[-2:]
    model = build_icenet(height, width, n_channels, config.filters_factor, n_leads, n_classes, seed=seed)
    check_input_shape(model, val.x.shape)
    # Several batches per compiled call: at IceNet's batch of 2 the per-step Python dispatch is a
    # visible share of a CPU step (measured: 81 -> 76 ms per step at 100 km); the updates are the same.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate(config, len(train.x))),
                  loss=make_loss(config.loss, config.focal_gamma), steps_per_execution=STEPS_PER_EXECUTION)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                         restore_best_weights=True)
    history = model.fit(make_tf_dataset(train, config.batch_size, shuffle=True, seed=seed),
                        validation_data=make_tf_dataset(val, config.batch_size, shuffle=False, seed=seed),
                        epochs=config.epochs, callbacks=[stop], verbose=config.verbose,
                        shuffle=False)  # the tf.data pipeline shuffles, reproducibly
    temperature = fit_temperature(model, val, batch_size=config.batch_size)
    summary = {"seed": seed, "epochs_run": len(history.history["loss"]),
               "best_val_loss": float(min(history.history["val_loss"])),
               "final_train_loss": float(history.history["loss"][-1]), "temperature": temperature,
               "history": {k: [float(v) for v in values] for k, values in history.history.items()}}
    return model, summary


def learning_rate(config: TrainConfig,
                  n_samples: int) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The step size (or schedule) of ``config`` for ``n_samples`` training samples per epoch.

    Why cosine: with a budget of a few epochs, batch-2 Adam at a step large enough to learn fast keeps
    bouncing around the minimum; decaying the step to zero over exactly the planned epochs lets the
    last epochs settle (Loshchilov & Hutter 2017), which a fixed step only reaches with many more epochs.
    Why the warm-up (a linear ramp over the first epoch when there are several): at the full step from
    the first batch, one seed in five of the book's ensemble collapsed to a constant prediction (dead
    ReLUs, training loss flat from epoch 2); ramping the step up while BatchNorm's statistics settle
    avoids that.
    """
    if config.lr_schedule == "constant":
        return config.learning_rate
    per_epoch = -(-n_samples // config.batch_size)
    warmup = per_epoch if config.epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate, decay_steps=config.epochs * per_epoch - warmup,
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)


def fit_temperature(model: keras.Model, val: Arrays, batch_size: int = 8) -> float:
    """Set the model's temperature to the value minimising the weighted validation NLL; return it.

    Only the temperature changes: the logits are computed once with the rest of the network fixed,
    and the one-dimensional problem is solved over log T (Guo et al. 2017).
    """
    layer = temperature_layer(model)
    logits_model = keras.Model(model.inputs, layer.input)
    logits = np.asarray(logits_model.predict(val.x, batch_size=batch_size, verbose=0), dtype="float64")
    y, w = val.y.astype("float64"), val.w.astype("float64")
    total = w.sum()
    if not total > 0:
        raise TrainingError("validation sample weights sum to zero: no active cells to calibrate on")

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=-2, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=-2, keepdims=True))
        return float(-(w * (y * log_p).sum(axis=-2)).sum() / total)

    lo, hi = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    temperature = float(np.exp(result.x))
    layer.temperature.assign(temperature)
    return temperature


def train_members(train: Arrays, val: Arrays, config: TrainConfig) -> tuple[list[keras.Model], list[dict]]:
    """Train ``config.members`` members (seeds ``config.seeds``) on the same arrays."""
    models, summaries = [], []
    for i, seed in enumerate(config.seeds, start=1):
        log.info("training member %d/%d (seed %d)", i, config.members, seed)
        if config.verbose:
            print(f"IceNet member {i}/{config.members} (seed {seed})", flush=True)
        model, summary = fit_member(train, val, config, seed)
        models.append(model)
        summaries.append(summary)
    return models, summaries


def split_arrays(ds: xr.Dataset, kind: str, stats: xr.Dataset, config: TrainConfig) -> Arrays:
    """Inputs, targets and sample weights of every start month of split ``kind`` that ``ds`` serves."""
    starts = config.splits.start_months(kind, ds, config.n_leads)
    years = config.splits.years(kind)
    if len(starts) == 0:
        raise TrainingError(f"the data ({pd.Timestamp(ds.time.values[0]):%Y-%m} to "
                            f"{pd.Timestamp(ds.time.values[-1]):%Y-%m}) has no forecast start month in "
                            f"{years[0]}-{years[1]}; adjust the TrainConfig splits to the data's years")
    x = network_inputs.build_inputs(ds, starts, stats, list(config.channels))
    targets = network_inputs.build_targets(ds, starts, n_leads=config.n_leads, train_years=config.train_years)
    return Arrays(
        np.asarray(x.transpose("time", "y", "x", "channel").values, dtype="float32"),
        np.asarray(targets["targets"].transpose("time", "y", "x", "class", "lead").values, dtype="float32"),
        np.asarray(targets["sample_weight"].transpose("time", "y", "x", "lead").values, dtype="float32"),
    )


def train_ensemble(ds: xr.Dataset, config: TrainConfig | None = None) -> IceNetEnsemble:
    """Train an IceNet ensemble on a monthly dataset (:mod:`icegrad.data.schema`) with ``config``.

    Normalisation statistics are fitted on the training years only; the ensemble carries them, the
    channel list and a manifest of data source, splits, seeds and per-member training summaries.
    """
    config = config or TrainConfig()
    if ds.attrs.get("data_source") != config.data_source:
        raise TrainingError(f"the dataset's data_source is {ds.attrs.get('data_source')!r} but the "
                            f"TrainConfig says {config.data_source!r}; pass "
                            f"TrainConfig(data_source={ds.attrs.get('data_source')!r}) or load that source")
    stats = network_inputs.fit_normalisation(ds, config.train_years)
    train = split_arrays(ds, "train", stats, config)
    val = split_arrays(ds, "validate", stats, config)
    log.info("training on %d samples, validating on %d", len(train.x), len(val.x))
    models, summaries = train_members(train, val, config)
    manifest = base_manifest(
        data_source=config.data_source, source=str(ds.attrs.get("source", "")),
        resolution_km=ds.attrs.get("resolution_km"),
        data_fingerprint=dataset_fingerprint(ds),
        splits={"train": config.train_years, "val": config.val_years, "test": config.test_years},
        seeds=config.seeds, filters_factor=config.filters_factor, loss=config.loss,
        train_config=config.as_dict(), training_recipe=TRAINING_RECIPE, members_summary=summaries,
        n_train_samples=len(train.x), n_val_samples=len(val.x),
    )
    return IceNetEnsemble(models, stats, config.channels, manifest)


def _cache_parameters(ds: xr.Dataset, config: TrainConfig) -> dict[str, Any]:
    """What decides the ensemble ``config`` trains on ``ds`` (the ``verbose`` setting excluded)."""
    params = {k: v for k, v in config.as_dict().items() if k != "verbose"}
    return {"config": params, "data": dataset_fingerprint(ds), "recipe": TRAINING_RECIPE}


def model_cache_key(ds: xr.Dataset, config: TrainConfig) -> str:
    """The cache key of the ensemble ``config`` trains on ``ds``."""
    return cache.parameter_key(_cache_parameters(ds, config))


def implausibility(ensemble: IceNetEnsemble) -> str | None:
    """Why a (cached) ensemble cannot forecast: non-finite weights or impossible normalisation, or None."""
    for name, model in zip(ensemble.member_names, ensemble.members, strict=True):
        if not all(np.isfinite(w).all() for w in model.get_weights()):
            return f"implausible (member {name} has non-finite weights)"
    return cache.implausibility(ensemble.stats)


def load_or_train(
    ds: xr.Dataset, config: TrainConfig | None = None, *, refresh: bool = False
) -> IceNetEnsemble:
    """The cached ensemble for ``(ds, config)``; trained and saved first if not cached (or ``refresh``)."""
    config = config or TrainConfig()
    return cache.cached("models", _cache_parameters(ds, config), lambda: train_ensemble(ds, config),
                        load=IceNetEnsemble.load, save=IceNetEnsemble.save, check=implausibility,
                        refresh=refresh)
