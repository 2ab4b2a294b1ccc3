"""Training IceNet ensembles: loss, optimiser, early stopping, temperature scaling, caching.

Each member is trained as in IceNet (Andersson et al. 2021): Adam (lr 5e-4), a focal or weighted
cross-entropy loss with per-pixel sample weights (zero outside the active region), early stopping on
the validation loss with the best weights restored, then a temperature fitted on the validation
months so the probabilities are calibrated. Members differ only in their seed (IceNet's release used
seeds 36-60; ``seed_base=36`` keeps that numbering). Optionally, as IceNet did with CMIP6, each member
is first pre-trained on another (e.g. long emulated control) dataset, then fine-tuned on the training
years. Samples stream from disk (:mod:`icegrad.model.samples`), so memory does not grow with the years
trained on; progress shows as one line per member on stderr (:mod:`icegrad.model.progress`).

Training is deterministic for a seed on CPU (``keras.utils.set_random_seed`` plus TensorFlow's op
determinism, switched on for the training only), so a chapter re-run reproduces the same network bit for
bit. Members train one after another in one compiled network per stage, which Keras traces once.
:func:`load_or_train` caches ensembles in the ``models`` stage of :mod:`icegrad.cache`, the key hashing
the configuration *and* the data, so chapters never retrain what already exists and never reuse a model
trained on other data; a damaged or implausible cached ensemble (non-finite weights) is named and retrained.

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

import contextlib
import dataclasses
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import minimize_scalar
from tensorflow.python.framework import config as tf_config  # the public API has no off switch

from icegrad import cache
from icegrad.cache import dataset_fingerprint
from icegrad.data import emulator
from icegrad.errors import IcegradError
from icegrad.inputs import build as network_inputs
from icegrad.inputs.splits import Splits
from icegrad.inputs.start_months import available_start_months
from icegrad.model.ensemble import IceNetEnsemble, base_manifest
from icegrad.model.icenet import build_icenet, check_input_shape, temperature_layer
from icegrad.model.losses import LOSSES, make_loss
from icegrad.model.progress import EpochProgress
from icegrad.model.samples import CHUNK_STARTS, ArrayFile, SampleStore, build_store
from icegrad.model.shipped import find_shipped, is_shipped
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
    """A training configuration or training data that cannot produce a model."""


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

    Pre-training (off by default): ``pretrain_epochs`` epochs on the starts of ``pretrain_years`` of a
    pre-training dataset (see :func:`train_ensemble`), early-stopped on the same validation years, before
    the ``epochs`` of fine-tuning on ``train_years``; each stage has its own learning-rate schedule.
    ``pretrain_realisations`` pre-trains instead on those realisations (weather seeds) of the emulated
    Arctic the training data come from, as IceNet pre-trained on CMIP6 runs: ``pretrain_years`` of each,
    generated one at a time, so memory does not grow with their number.
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
    pretrain_epochs: int = 0
    pretrain_years: tuple[int, int] | None = None
    pretrain_realisations: tuple[int, ...] = ()

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
        if self.pretrain_epochs < 0:
            raise TrainingError(f"pretrain_epochs must be >= 0 (0: no pre-training), "
                                f"got {self.pretrain_epochs}")
        if (self.pretrain_epochs > 0) != (self.pretrain_years is not None):
            raise TrainingError("pre-training needs both pretrain_epochs >= 1 and "
                                f"pretrain_years=(first, last); got pretrain_epochs={self.pretrain_epochs}, "
                                f"pretrain_years={self.pretrain_years}")
        if self.pretrain_years is not None and self.pretrain_years[0] > self.pretrain_years[1]:
            raise TrainingError(f"pretrain_years {self.pretrain_years} are reversed; pass (first, last)")
        seeds = self.pretrain_realisations
        if seeds and not self.pretrains:
            raise TrainingError(f"pretrain_realisations={seeds} need pre-training: set pretrain_epochs and "
                                "pretrain_years too")
        if any(not isinstance(seed, int) or seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
            raise TrainingError(f"pretrain_realisations must be distinct non-negative weather seeds, got "
                                f"{seeds}")

    @property
    def pretrains(self) -> bool:
        """Whether members are pre-trained before fine-tuning on ``train_years``."""
        return self.pretrain_epochs > 0

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


@contextlib.contextmanager
def deterministic_ops(enabled: bool = True) -> Iterator[None]:
    """TensorFlow's op determinism for the duration of a training, then as it was.

    Why scoped: the switch is process-wide, and XLA has no deterministic max-pool gradient, so left on
    it made an XLA attribution (``Execution(jit_compile=True)``) fail in any process that had trained.
    """
    switch = enabled and not tf_config.is_op_determinism_enabled()
    if switch:
        tf_config.enable_op_determinism()
    try:
        yield
    finally:
        if switch:
            tf_config.disable_op_determinism()


def _network(store: SampleStore, config: TrainConfig, seed: int | None = None) -> keras.Model:
    """An untrained IceNet for the samples of ``store``, at ``config``'s width (``seed``: its weights)."""
    height, width, n_channels = store.input_shape
    n_classes, n_leads = store.target_shape[-2:]
    return build_icenet(height, width, n_channels, config.filters_factor, n_leads, n_classes, seed=seed)


class _Stage:
    """One training stage (pre-training, or the training proper), compiled once and reused by every member.

    Why: Keras traces a compiled model's train and validation steps at its first fit, and TensorFlow
    optimises the graphs at their first run: about 10 s per freshly compiled model on two CPU cores
    (profiled: 21 of 47 s for two one-epoch members at 200 km), more than a coarse member's whole
    training. A stage trains each member in its one network, from the member's own initial weights and
    with the optimiser's state reset to its fresh values: what a network built and compiled afresh for
    the member starts from, so the weights come out the same bit for bit (tested).
    """

    def __init__(self, train: SampleStore, val: SampleStore, config: TrainConfig, epochs: int,
                 name: str) -> None:
        self.train, self.val, self.config, self.epochs, self.name = train, val, config, epochs, name
        self.model = _network(train, config)
        check_input_shape(self.model, (len(val), *val.input_shape))
        # Several batches per compiled call: at IceNet's batch of 2 the per-step Python dispatch is a
        # visible share of a CPU step (measured: 81 -> 76 ms per step at 100 km); the updates are the same.
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate(config, len(train), epochs=epochs)),
                           loss=make_loss(config.loss, config.focal_gamma),
                           steps_per_execution=STEPS_PER_EXECUTION)
        self.model.optimizer.build(self.model.trainable_variables)
        self._fresh_optimiser = [variable.numpy() for variable in self.model.optimizer.variables]

    def fit(self, weights: list[np.ndarray], seed: int,
            label: str) -> tuple[list[np.ndarray], dict[str, list[float]]]:
        """Train from ``weights`` with Adam afresh, early-stopped on the validation samples (best weights
        restored); the trained weights and the per-epoch history. ``label`` titles the progress line."""
        self.model.set_weights(weights)
        for variable, fresh in zip(self.model.optimizer.variables, self._fresh_optimiser, strict=True):
            variable.assign(fresh)
        config = self.config
        callbacks: list[keras.callbacks.Callback] = [keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True)]
        if config.verbose:
            callbacks.append(EpochProgress(label, self.epochs, -(-len(self.train) // config.batch_size)))
        history = self.model.fit(
            self.train.dataset(config.batch_size, shuffle=True, seed=seed),
            validation_data=self.val.dataset(config.batch_size, shuffle=False, seed=seed),
            epochs=self.epochs, callbacks=callbacks, verbose=0,
            shuffle=False)  # the tf.data pipeline shuffles, reproducibly
        return self.model.get_weights(), {k: [float(v) for v in vs] for k, vs in history.history.items()}


def _history_summary(history: dict[str, list[float]]) -> dict[str, Any]:
    """Epochs run, best validation loss and the per-epoch history of one training stage."""
    return {"epochs_run": len(history["loss"]), "best_val_loss": float(min(history["val_loss"])),
            "history": history}


def learning_rate(config: TrainConfig, n_samples: int, *,
                  epochs: int | None = None) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The step size (or schedule) of ``config`` for ``n_samples`` samples per epoch over ``epochs``
    (default ``config.epochs``; pre-training passes its own).

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
    epochs = config.epochs if epochs is None else epochs
    per_epoch = -(-n_samples // config.batch_size)
    warmup = per_epoch if epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else config.learning_rate, decay_steps=epochs * per_epoch - warmup,
        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)


def fit_temperature(model: keras.Model, val: SampleStore, batch_size: int = 8) -> float:
    """Set the model's temperature to the value minimising the weighted validation NLL; return it.

    Only the temperature changes: the logits are computed once with the rest of the network fixed,
    and the one-dimensional problem is solved over log T (Guo et al. 2017). The logits go to a file
    beside the samples and every evaluation of the NLL streams them back a chunk at a time, so the
    validation split is never in memory at once.
    """
    layer = temperature_layer(model)
    logits_model = keras.Model(model.inputs, layer.input)
    logits = ArrayFile(val.directory / "logits.f32", "float32")
    logits.path.unlink(missing_ok=True)
    total = 0.0
    for x, _, w in val.chunks():
        logits.append(logits_model.predict(x, batch_size=batch_size, verbose=0))
        total += float(w.astype("float64").sum())
    if not total > 0:
        raise TrainingError("validation sample weights sum to zero: no active cells to calibrate on")

    def nll(log_t: float) -> float:
        loss = 0.0
        for first in range(0, len(val), CHUNK_STARTS):
            index = np.arange(first, min(first + CHUNK_STARTS, len(val)))
            _, y, w = val.read(index)
            z = logits.read(index).astype("float64") / np.exp(log_t)
            z = z - z.max(axis=-2, keepdims=True)
            log_p = z - np.log(np.exp(z).sum(axis=-2, keepdims=True))
            loss -= float((w.astype("float64") * (y.astype("float64") * log_p).sum(axis=-2)).sum())
        return loss / total

    lo, hi = np.log(TEMPERATURE_BOUNDS)
    result = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
    temperature = float(np.exp(result.x))
    layer.temperature.assign(temperature)
    return temperature


def train_members(train: SampleStore, val: SampleStore, config: TrainConfig, *,
                  pretrain: SampleStore | None = None) -> tuple[list[keras.Model], list[dict]]:
    """Train ``config.members`` members (seeds ``config.seeds``) on the same samples.

    Each member starts from its seed's initial weights, trains ``config.pretrain_epochs`` on ``pretrain``
    first when given, then ``config.epochs`` on ``train`` (each stage with Adam afresh, early-stopped on
    ``val``), and is then temperature-scaled on ``val``. Returns the members and their summaries: epochs
    run, best validation loss, fitted temperature and the per-epoch Keras history, so the book can plot
    training curves from the saved manifest; the pre-training stage's own under ``pretrain``. A member
    is the same, bit for bit, whichever members are trained with it.
    """
    models, summaries = [], []
    with deterministic_ops(config.deterministic):
        stages = [] if pretrain is None else [_Stage(pretrain, val, config, config.pretrain_epochs,
                                                     "pre-training")]
        stages.append(_Stage(train, val, config, config.epochs, "" if pretrain is None else "fine-tuning"))
        for i, seed in enumerate(config.seeds, start=1):
            log.info("training member %d/%d (seed %d)", i, config.members, seed)
            label = f"IceNet member {i}/{config.members} (seed {seed})"
            keras.utils.set_random_seed(seed)
            model = _network(train, config, seed)
            weights, histories = model.get_weights(), []
            for stage in stages:
                weights, history = stage.fit(weights, seed, f"{label}, {stage.name}" if stage.name else label)
                histories.append(history)
            model.set_weights(weights)
            history = histories[-1]
            summary = {"seed": seed, "epochs_run": len(history["loss"]),
                       "best_val_loss": float(min(history["val_loss"])),
                       "final_train_loss": float(history["loss"][-1]),
                       "temperature": fit_temperature(model, val, batch_size=config.batch_size),
                       "history": history}
            if pretrain is not None:
                summary["pretrain"] = _history_summary(histories[0])
            models.append(model)
            summaries.append(summary)
    return models, summaries


def split_store(ds: xr.Dataset, kind: str, stats: xr.Dataset, config: TrainConfig,
                destination: Path | SampleStore, *, years: tuple[int, int] | None = None,
                mask_years: tuple[int, int] | None = None) -> SampleStore:
    """Inputs, targets and sample weights of every start month of split ``kind`` that ``ds`` serves,
    written to a new store in directory ``destination`` or appended to the store ``destination``;
    ``years`` overrides the split's years (pre-training), ``mask_years`` the years of the targets'
    active-cell masks (default the training years)."""
    years = years or config.splits.years(kind)
    starts = available_start_months(ds, config.n_leads)
    starts = starts[(starts.year >= years[0]) & (starts.year <= years[1])]
    if len(starts) == 0:
        raise TrainingError(f"the data ({pd.Timestamp(ds.time.values[0]):%Y-%m} to "
                            f"{pd.Timestamp(ds.time.values[-1]):%Y-%m}) has no forecast start month in "
                            f"{years[0]}-{years[1]} ({kind}); adjust the TrainConfig years to the data's "
                            "years")
    return build_store(ds, starts, stats, destination, channels=config.channels, n_leads=config.n_leads,
                       train_years=mask_years or config.train_years, label=kind, verbose=bool(config.verbose))


def train_ensemble(ds: xr.Dataset, config: TrainConfig | None = None, *,
                   pretrain: xr.Dataset | None = None) -> IceNetEnsemble:
    """Train an IceNet ensemble on a monthly dataset (:mod:`icegrad.data.schema`) with ``config``.

    Normalisation statistics are fitted on the training years only; the ensemble carries them, the
    channel list and a manifest of data source, splits, seeds and per-member training summaries.
    With ``config.pretrain_epochs``, members are pre-trained on the starts of ``config.pretrain_years``
    in ``pretrain`` (a separate dataset, e.g. a long emulated control run), or in each of
    ``config.pretrain_realisations`` of the emulated Arctic, or else in ``ds`` itself (whose years must
    then end before the training years), normalised with the same statistics, then fine-tuned on ``ds``.
    The samples live in a scratch directory for the duration of the training.
    """
    config = config or TrainConfig()
    if ds.attrs.get("data_source") != config.data_source:
        raise TrainingError(f"the dataset's data_source is {ds.attrs.get('data_source')!r} but the "
                            f"TrainConfig says {config.data_source!r}; pass "
                            f"TrainConfig(data_source={ds.attrs.get('data_source')!r}) or load that source")
    sources = _pretraining_data(ds, config, pretrain)
    stats = network_inputs.fit_normalisation(ds, config.train_years)
    extra: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="icegrad-samples-") as scratch:
        train = split_store(ds, "train", stats, config, Path(scratch) / "train")
        val = split_store(ds, "validate", stats, config, Path(scratch) / "validate")
        pre = None
        if sources is not None:
            pre, names, fingerprints = SampleStore(Path(scratch) / "pretrain"), [], []
            for source in sources:  # generated one at a time, each once the last is stored: two at most
                split_store(source, "pre-training", stats, config, pre, years=config.pretrain_years,
                            mask_years=config.pretrain_years)
                names.append(str(source.attrs.get("source", "")))
                fingerprints.append(dataset_fingerprint(source))
            one = len(names) == 1
            extra = {"n_pretrain_samples": len(pre), "pretrain_source": names[0] if one else names,
                     "pretrain_data_fingerprint": fingerprints[0] if one else fingerprints}
        log.info("training on %d samples, validating on %d%s", len(train), len(val),
                 f", pre-training on {len(pre)}" if pre is not None else "")
        models, summaries = train_members(train, val, config, pretrain=pre)
        n_train, n_val = len(train), len(val)
    manifest = trained_manifest(ds, config, summaries, n_train, n_val, **extra)
    return IceNetEnsemble(models, stats, config.channels, manifest)


def trained_manifest(ds: xr.Dataset, config: TrainConfig, summaries: list[dict[str, Any]], n_train: int,
                     n_val: int, **extra: Any) -> dict[str, Any]:
    """What every ensemble the book trains records (data, splits, seeds, width, loss, configuration,
    recipe, each member's training), plus ``extra``: the shipped networks' manifest is built from it."""
    return base_manifest(
        data_source=config.data_source, source=str(ds.attrs.get("source", "")),
        resolution_km=ds.attrs.get("resolution_km"),
        data_fingerprint=dataset_fingerprint(ds),
        splits={"train": config.train_years, "val": config.val_years, "test": config.test_years},
        seeds=config.seeds, filters_factor=config.filters_factor, loss=config.loss,
        train_config=config.as_dict(), training_recipe=TRAINING_RECIPE, members_summary=summaries,
        n_train_samples=n_train, n_val_samples=n_val, **extra)


def _pretraining_data(ds: xr.Dataset, config: TrainConfig,
                      pretrain: xr.Dataset | None) -> Iterable[xr.Dataset] | None:
    """The datasets to pre-train on (None without pre-training), checked against ``config`` before any
    work; emulated realisations are generated as they are iterated."""
    if not config.pretrains:
        if pretrain is not None:
            raise TrainingError("a pre-training dataset was given but TrainConfig.pretrain_epochs is 0; "
                                "set pretrain_epochs and pretrain_years to use it, or drop it")
        return None
    if config.pretrain_realisations:
        return _realisations(ds, config, pretrain)
    if pretrain is None:
        if config.pretrain_years[1] >= config.train_years[0]:
            raise TrainingError(f"pretrain_years {config.pretrain_years} reach into the training years "
                                f"{config.train_years} of the same dataset; end them before "
                                f"{config.train_years[0]} or pass a separate pre-training dataset")
        return [ds]
    missing = [v for v in ds.data_vars if v not in pretrain]
    if missing or pretrain.sizes.get("y") != ds.sizes["y"] or pretrain.sizes.get("x") != ds.sizes["x"]:
        raise TrainingError(f"the pre-training dataset must hold the training data's variables on its grid "
                            f"({ds.sizes['y']}x{ds.sizes['x']}); it lacks {missing} or is "
                            f"{pretrain.sizes.get('y')}x{pretrain.sizes.get('x')}: load it at the same "
                            "resolution")
    return [pretrain]


def _realisations(ds: xr.Dataset, config: TrainConfig, pretrain: xr.Dataset | None) -> Iterator[xr.Dataset]:
    """``config.pretrain_realisations`` of the emulated Arctic ``ds`` comes from (its resolution, months and
    tuning; other weather), generated one at a time; the checks run before the first is generated."""
    if pretrain is not None:
        raise TrainingError("pass either a pre-training dataset or TrainConfig.pretrain_realisations, "
                            "not both")
    if ds.attrs.get("data_source") != "emulated":
        raise TrainingError(f"pretrain_realisations are realisations of the emulated Arctic, but the "
                            f"training data's data_source is {ds.attrs.get('data_source')!r}; pass a "
                            "pre-training dataset instead")
    if ds.attrs.get("seed") in config.pretrain_realisations:
        raise TrainingError(f"realisation {ds.attrs['seed']} is the training data's own weather; pre-train "
                            "on other seeds")
    return (emulator.realisation(ds, seed) for seed in config.pretrain_realisations)


def model_parameters(ds: xr.Dataset, config: TrainConfig,
                      pretrain: xr.Dataset | None = None) -> dict[str, Any]:
    """What decides the ensemble ``config`` trains on ``ds`` (the ``verbose`` setting excluded).

    Without pre-training its fields are left out, and without pre-training realisations theirs, so the
    keys of ensembles trained before these existed still name them. Realisations are named by their seeds
    alone: the rest (generator, tuning, resolution, months) is the training data's, whose fingerprint
    covers it.
    """
    skip = ({"verbose"} | (set() if config.pretrains else {"pretrain_epochs", "pretrain_years"})
            | (set() if config.pretrain_realisations else {"pretrain_realisations"}))
    params: dict[str, Any] = {"config": {k: v for k, v in config.as_dict().items() if k not in skip},
                              "data": dataset_fingerprint(ds), "recipe": TRAINING_RECIPE}
    if config.pretrain_realisations:
        params["pretrain_data"] = "emulated realisations"
    elif config.pretrains:
        params["pretrain_data"] = "training data" if pretrain is None else dataset_fingerprint(pretrain)
    return params


def model_cache_key(ds: xr.Dataset, config: TrainConfig, pretrain: xr.Dataset | None = None) -> str:
    """The cache key of the ensemble ``config`` trains on ``ds`` (pre-trained on ``pretrain``)."""
    return cache.parameter_key(model_parameters(ds, config, pretrain))


def implausibility(ensemble: IceNetEnsemble) -> str | None:
    """Why a (cached) ensemble cannot forecast: non-finite weights or impossible normalisation, or None."""
    for name, model in zip(ensemble.member_names, ensemble.members, strict=True):
        if not all(np.isfinite(w).all() for w in model.get_weights()):
            return f"implausible (member {name} has non-finite weights)"
    return cache.implausibility(ensemble.stats)


def load_or_train(
    ds: xr.Dataset, config: TrainConfig | None = None, *, pretrain: xr.Dataset | None = None,
    refresh: bool = False, shipped: bool = True,
) -> IceNetEnsemble:
    """The ensemble for ``(ds, config, pretrain)``: the cached one; else, with ``shipped``, the shipped one
    trained with exactly these parameters (``data/networks``, :mod:`icegrad.model.shipped`, checksums
    verified); else trained now. Whatever is not read from the cache is saved to it.

    ``refresh`` (or ``--refresh`` / ``ICEGRAD_REFRESH``, :func:`icegrad.cache.refresh_since`) retrains:
    it skips the cache and the shipped networks alike. ``pretrain`` is the pre-training dataset when
    ``config`` asks for pre-training. ``shipped=False`` is how ``icegrad train --release`` makes them.
    """
    config = config or TrainConfig()
    return cached_or_shipped(model_parameters(ds, config, pretrain),
                             lambda: train_ensemble(ds, config, pretrain=pretrain), refresh=refresh,
                             shipped=shipped)


def cached_or_shipped(params: dict[str, Any], train: Callable[[], IceNetEnsemble], *, refresh: bool = False,
                      shipped: bool = True) -> IceNetEnsemble:
    """The ensemble ``params`` name: cached; else shipped with exactly these parameters (unless
    ``shipped`` is False or a refresh is asked); else ``train()``, saved to the cache.

    Every trained network of the book comes through here (:func:`load_or_train`, and the shuffled-target
    networks of :mod:`icegrad.evaluation.randomisation`), so each can ship in ``data/networks``.
    """
    def compute() -> IceNetEnsemble:
        if shipped and not refresh and cache.refresh_since() is None:
            found = find_shipped(params)
            if found is not None:
                return found
        return train()

    return cache.cached("models", params, compute, load=IceNetEnsemble.load, save=IceNetEnsemble.save,
                        check=implausibility, refresh=refresh)


def at_hand(params: dict[str, Any]) -> bool:
    """Whether :func:`cached_or_shipped` would serve ``params`` without training: cached intact, or shipped
    (files not read). Readers that must never train (the discussion) ask this first."""
    entry = cache.entry_path("models", params)
    return (entry.exists() and cache.damage(entry) is None) or is_shipped(params)
