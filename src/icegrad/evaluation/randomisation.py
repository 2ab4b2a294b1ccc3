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
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from icegrad.attribution.api import attribute, check_sample
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.methods import EngineCache
from icegrad.attribution.references import resolve_baseline
from icegrad.attribution.targets import check_leads
from icegrad.config import DEFAULTS
from icegrad.evaluation.selection import SETTINGS, Setting, train_config
from icegrad.inputs import real_record
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.shuffled import shuffled_parameters, train_shuffled
from icegrad.model.train import TrainConfig, at_hand, cached_or_shipped, model_parameters

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
    re-initialised, the rest trained.

    One clone, freshly initialised under ``seed``, takes the trained weights of every other layer (a
    clone costs most of a second at 100 km, and a cascade makes one per stage and method).
    """
    keras.utils.set_random_seed(seed)
    out = keras.models.clone_model(model)
    fresh = set(weighted_layers(model, leads)[:n_layers])
    for layer in model.layers:
        if layer.name not in fresh and layer.weights:
            out.get_layer(layer.name).set_weights(layer.get_weights())
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
    options.setdefault("engines", EngineCache())  # every stage is the same architecture: one compiled engine
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
    options.setdefault("engines", EngineCache())  # twins of one architecture: one compiled engine
    trained = attribute(models, sample, roi, leads, method, **options)
    return similarity(trained, attribute(others, sample, roi, leads, method, **options),
                      reference).assign(method=method)


def shuffled_target_ensemble(ds: xr.Dataset, setting: Setting = SETTINGS["coarse"], seed: int = 0,
                             channels: Sequence[str] | None = None, refresh: bool = False,
                             shipped: bool = True) -> IceNetEnsemble:
    """An ensemble trained with every input paired with another start month's targets (and weights), cached.

    Adebayo et al.'s data randomisation: the inputs keep their statistics, but nothing links them to
    the targets, so an attribution that still looks like the trained network's shows the input, not
    a learnt relation. Trained at ``setting`` (coarse by default) on ``channels`` (default: the data
    source's) with the configuration :func:`icegrad.evaluation.selection.train_subset` uses, so the
    like-for-like trained network is ``train_subset(ds, channels, setting)``. Cached in the ``models``
    stage under :func:`shuffled_parameters`, and served from the shipped networks when they hold it (the
    book's defaults: ``make networks`` ships both networks of the check), so a re-run trains nothing.
    """
    config = shuffled_config(ds, setting, channels)
    return cached_or_shipped(shuffled_parameters(ds, config, seed), lambda: train_shuffled(ds, config, seed),
                             refresh=refresh, shipped=shipped)


def shuffled_config(ds: xr.Dataset, setting: Setting, channels: Sequence[str] | None = None) -> TrainConfig:
    """The training configuration of the data-randomisation networks at ``setting`` on ``channels``."""
    return train_config(ds, channels or real_record.channels_for(ds), setting)


def is_at_hand(ds: xr.Dataset, channels: Sequence[str], setting: Setting, seed: int = 0) -> bool:
    """Whether both networks of the data-randomisation check at ``setting`` can be had without training,
    cached intact or shipped (for readers that must not train, such as the discussion)."""
    config = shuffled_config(ds, setting, channels)
    return all(at_hand(params) for params in (model_parameters(ds, config),
                                              shuffled_parameters(ds, config, seed)))
