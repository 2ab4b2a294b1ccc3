"""Model- and data-randomisation checks (Adebayo et al. 2018), scored fairly for every method.

If an attribution barely changes when the network's weights are destroyed, it shows the input, not
what the network learnt. Two checks:

* :func:`cascading_randomisation`: re-initialise the network's weighted layers one by one from the
  top (output side) down, and compare each stage's attributions with the trained network's. A
  faithful method decays as more layers are destroyed.
* :func:`data_randomisation`: compare with a network trained on shuffled targets
  (:func:`shuffled_target_ensemble`: each training input paired with another start month's targets),
  which can have learnt nothing true about the inputs.

Why not compare attributions directly: input x gradient and integrated gradients carry the factor
(x - x') cell by cell (for IG exactly so when the gradient is constant along the path). That factor is
the same for the trained and the randomised network, so it alone makes their maps correlate, and a
high rank correlation says nothing about the network (Bommer et al. 2024 found IG and input x gradient
"fail" randomisation this way). :func:`sensitivity` therefore divides those attributions by
(x - x') where it is not tiny, leaving an (effective) gradient, and the checks score the rank
correlation of |sensitivity| maps. The raw |attribution| correlation is kept beside it to show how
much the shared factor alone would have contributed.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from icegrad import cache
from icegrad.attribution.api import attribute, check_sample
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.references import resolve_baseline
from icegrad.attribution.targets import check_leads
from icegrad.config import DEFAULTS
from icegrad.evaluation.selection import SETTINGS, Setting, train_config
from icegrad.inputs import build as network_inputs
from icegrad.inputs import real_record
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.samples import CHUNK_STARTS, SampleStore
from icegrad.model.train import TrainConfig, implausibility, model_parameters, split_store, train_members

MIN_DELTA = 1e-3
"""|x - x'| below this (normalised units) leaves the effective gradient undefined: such cells are dropped."""
INPUT_SCALED = ("gradient_x_input", "integrated_gradients")


def reference_input(sample: xr.DataArray, method: str, options: dict[str, Any]) -> np.ndarray | None:
    """The x' of an input-scaled method (zeros for input x gradient, IG's baseline), else None."""
    if method == "gradient_x_input":
        return np.zeros(sample.shape, dtype=np.float32)
    if method == "integrated_gradients":
        return resolve_baseline(options.get("baseline", DEFAULTS.baseline), sample,
                                options.get("climatology"), options.get("counterfactual"),
                                options.get("persistence"))[0]
    return None


def sensitivity(result: xr.Dataset, reference: np.ndarray | None) -> xr.DataArray:
    """Attribution divided by (x - x') where |x - x'| >= :data:`MIN_DELTA` (NaN elsewhere) for the
    input-scaled methods; the attribution itself for the gradients (``reference`` None)."""
    if reference is None:
        return result["attribution"]
    delta = result["input"] - xr.DataArray(np.moveaxis(reference, -1, 0), dims=("channel", "y", "x"))
    return (result["attribution"] / delta).where(abs(delta) >= MIN_DELTA)


def similarity(a: xr.Dataset, b: xr.Dataset, reference: np.ndarray | None) -> pd.DataFrame:
    """Per member and lead: Spearman correlation of |sensitivity| maps (the score) and of raw
    |attribution| maps (what the shared (x - x') factor would have made of it)."""
    sa, sb = sensitivity(a, reference), sensitivity(b, reference)
    rows = []
    for member in a["member"].values:
        for lead in a["lead"].values:
            pick = {"member": member, "lead": lead}
            u, v = np.abs(sa.sel(pick).values.ravel()), np.abs(sb.sel(pick).values.ravel())
            ok = np.isfinite(u) & np.isfinite(v)
            raw_a = np.abs(a["attribution"].sel(pick).values.ravel())
            raw_b = np.abs(b["attribution"].sel(pick).values.ravel())
            rows.append({"member": int(member), "lead": int(lead),
                         "spearman_sensitivity": float(spearmanr(u[ok], v[ok]).statistic),
                         "spearman_raw": float(spearmanr(raw_a, raw_b).statistic),
                         "cells": int(ok.sum())})
    return pd.DataFrame(rows)


def weighted_layers(model: keras.Model, leads: Sequence[int] | None = None) -> list[str]:
    """Names of the layers holding weights, from the output down (the cascade's order).

    With ``leads``, IceNet's output heads of other leads (``lead<k>_logits``) are left out: the
    explained target does not pass through them, so re-initialising them would be a stage that
    changes nothing by construction.
    """
    names = [layer.name for layer in reversed(model.layers) if layer.weights]
    if leads is None:
        return names
    return [n for n in names if not (m := re.fullmatch(r"lead(\d+)_logits", n)) or int(m.group(1)) in leads]


def cascade(model: keras.Model, n_layers: int, seed: int = 0, leads: Sequence[int] | None = None
            ) -> keras.Model:
    """A copy of ``model`` whose top ``n_layers`` weighted layers (:func:`weighted_layers`) are
    re-initialised, the rest trained."""
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)
    out = keras.models.clone_model(model)
    out.set_weights(model.get_weights())
    for name in weighted_layers(model, leads)[:n_layers]:
        out.get_layer(name).set_weights(fresh.get_layer(name).get_weights())
    return out


def cascading_randomisation(
    members: keras.Model | Sequence[keras.Model],
    inputs_sample: xr.DataArray,
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = (1,),
    method: str = DEFAULTS.method,
    stages: Sequence[int] | None = None,
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Similarity of each cascade stage's attributions to the trained network's (see :func:`similarity`).

    ``stages`` are numbers of re-initialised layers from the top (default: 1, 2, 4, ... and all);
    rows carry ``stage`` (layers randomised), ``top_layer`` (the deepest one re-initialised) and the
    similarity columns per member and lead. ``options`` go to :func:`icegrad.attribution.attribute`.
    """
    models = [members] if isinstance(members, keras.Model) else list(members)
    names = weighted_layers(models[0], check_leads(leads))
    if stages is None:
        stages = sorted({*(2 ** i for i in range(len(names).bit_length()) if 2 ** i < len(names)),
                         len(names)})
    bad = [s for s in stages if not 1 <= s <= len(names)]
    if bad:
        raise AttributionError(f"stages {bad} outside 1..{len(names)}: the network has {len(names)} "
                               "weighted layers; count re-initialised layers from the top")
    sample = check_sample(inputs_sample, models[0])
    reference = reference_input(sample, method, options)
    trained = attribute(models, sample, roi, leads, method, **options)
    tables = []
    for stage in stages:
        randomised = [cascade(m, stage, seed + i, check_leads(leads)) for i, m in enumerate(models)]
        table = similarity(trained, attribute(randomised, sample, roi, leads, method, **options), reference)
        tables.append(table.assign(stage=stage, top_layer=names[stage - 1], method=method))
    return pd.concat(tables, ignore_index=True)


def data_randomisation(
    members: keras.Model | Sequence[keras.Model],
    shuffled: keras.Model | Sequence[keras.Model],
    inputs_sample: xr.DataArray,
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = (1,),
    method: str = DEFAULTS.method,
    **options: Any,
) -> pd.DataFrame:
    """Similarity of the trained networks' attributions to those of networks trained on shuffled targets."""
    models = [members] if isinstance(members, keras.Model) else list(members)
    others = [shuffled] if isinstance(shuffled, keras.Model) else list(shuffled)
    if len(others) != len(models):
        raise AttributionError(f"{len(models)} trained but {len(others)} shuffled-target network(s); pair "
                               "each member with one trained on shuffled targets")
    sample = check_sample(inputs_sample, models[0])
    reference = reference_input(sample, method, options)
    trained = attribute(models, sample, roi, leads, method, **options)
    return similarity(trained, attribute(others, sample, roi, leads, method, **options),
                      reference).assign(method=method)


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
    manifest = {"data_source": config.data_source, "created": "shuffled targets", "seeds": list(config.seeds),
                "splits": {"train": config.train_years, "val": config.val_years, "test": config.test_years},
                "training": SHUFFLED_TARGETS, "shuffle_seed": seed, "members_summary": summaries}
    return IceNetEnsemble(models, stats, config.channels, manifest)


def shuffled_target_ensemble(ds: xr.Dataset, setting: Setting = SETTINGS["coarse"], seed: int = 0,
                             channels: Sequence[str] | None = None, refresh: bool = False) -> IceNetEnsemble:
    """An ensemble trained with every input paired with another start month's targets (and weights), cached.

    Adebayo et al.'s data randomisation: the inputs keep their statistics, but nothing links them to
    the targets, so an attribution that still looks like the trained network's shows the input, not
    a learnt relation. Trained at ``setting`` (coarse by default) on ``channels`` (default: the data
    source's) with the configuration :func:`icegrad.evaluation.selection.train_subset` uses, so the
    like-for-like trained network is ``train_subset(ds, channels, setting)``. Cached in the ``models``
    stage under :func:`shuffled_parameters`: a re-run trains nothing.
    """
    config = train_config(ds, channels or real_record.channels_for(ds), setting)
    return cache.cached("models", shuffled_parameters(ds, config, seed),
                        lambda: train_shuffled(ds, config, seed), load=IceNetEnsemble.load,
                        save=IceNetEnsemble.save, check=implausibility, refresh=refresh)


def is_cached(ds: xr.Dataset, channels: Sequence[str], setting: Setting, seed: int = 0) -> bool:
    """Whether both networks of the data-randomisation check at ``setting`` are cached, intact
    (for readers that must not train, such as the discussion)."""
    config = train_config(ds, channels, setting)
    entries = [cache.entry_path("models", model_parameters(ds, config)),
               cache.entry_path("models", shuffled_parameters(ds, config, seed))]
    return all(entry.exists() and cache.damage(entry) is None for entry in entries)
