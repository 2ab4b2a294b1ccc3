"""Training on shuffled targets: the networks of Adebayo et al.'s data-randomisation check.

Every training input is paired with another start month's targets and weights, so the inputs keep their
statistics but nothing links them to the targets; a network trained so can have learnt nothing true about
its inputs (:mod:`icegrad.evaluation.randomisation` compares its attributions with a trained network's).
It is a training recipe of its own, so it lives beside :mod:`icegrad.model.train` and is one of the
files that decide shipped weights (:data:`icegrad.model.shipped.CODE_FILES`): the book ships the
shuffled network of ch. 5's default check.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from icegrad.inputs import build as network_inputs
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.samples import CHUNK_STARTS, SampleStore
from icegrad.model.train import TrainConfig, model_parameters, split_store, train_members, trained_manifest


def shuffled_store(store: SampleStore, directory: Path, rng: np.random.Generator) -> SampleStore:
    """The samples of ``store`` with every input paired with another sample's targets and weights.

    Streamed a chunk at a time, like training itself, so a long record never sits in memory.
    """
    shuffled = SampleStore(directory)
    order = rng.permutation(len(store))
    for first in range(0, len(store), CHUNK_STARTS):
        index = np.arange(first, min(first + CHUNK_STARTS, len(store)))
        x, _, _ = store.read(index)
        _, y, w = store.read(order[index])
        shuffled.append(x, y.astype(np.uint8), w)
    return shuffled


SHUFFLED_TARGETS = "targets shuffled across start months (data randomisation)"
"""The marker a shuffled-target ensemble's cache key and manifest carry (with the shuffle's seed)."""


def shuffled_parameters(ds: xr.Dataset, config: TrainConfig, seed: int) -> dict[str, Any]:
    """The cache parameters of the ensemble ``config`` trains on ``ds`` with targets shuffled by ``seed``.

    The book recipe's parameters (:func:`icegrad.model.train.model_parameters`) plus a ``targets`` field
    that a normally trained ensemble's never has: the two keys cannot coincide, so a shuffled network is
    never loaded where a trained one is asked for, nor the reverse, and each shuffle seed has its own entry.
    """
    return {**model_parameters(ds, config), "targets": {"training": SHUFFLED_TARGETS, "seed": seed}}


def train_shuffled(ds: xr.Dataset, config: TrainConfig, seed: int) -> IceNetEnsemble:
    """Train ``config``'s members with every input paired with another start month's targets (and weights)."""
    stats = network_inputs.fit_normalisation(ds, config.train_years)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="icegrad-shuffled-") as folder:
        stores = {kind: shuffled_store(split_store(ds, kind, stats, config, Path(folder) / kind),
                                       Path(folder) / f"{kind}-shuffled", rng)
                  for kind in ("train", "validate")}
        models, summaries = train_members(stores["train"], stores["validate"], config)
        n_train, n_val = len(stores["train"]), len(stores["validate"])
    manifest = trained_manifest(ds, config, summaries, n_train, n_val, training=SHUFFLED_TARGETS,
                                shuffle_seed=seed)
    return IceNetEnsemble(models, stats, config.channels, manifest)
