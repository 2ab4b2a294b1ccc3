"""Deletion and insertion curves: does removing what an attribution ranks first change the forecast?

An attribution is faithful to the network if the input values it ranks highest are the ones the
target depends on (Samek et al. 2017; Petsiuk et al. 2018). For each member and lead of a result:

* **deletion**: replace the top fraction f of input values (cell x channel), ranked by the
  attribution, with the reference value x' and evaluate the target; a faithful ranking makes the
  target fall fastest. The ranking is by *signed* attribution, most positive first, because the target
  is signed (more ice in the ROI): deleting the evidence for more ice should lower it.
* **insertion**: start from x' and put back the top fraction of x; the target should rise fastest.

Each curve is set against the same curves for random orderings (the control: any ranking changes
the target as values are replaced). The summary is the area under each curve (mean over the
fractions, trapezoid rule) and the gain over random: ``deletion_gain`` = random AUC minus the
method's (positive = faithful), ``insertion_gain`` = the method's minus random. The reference is
zeros (normalised units: the climatological mean of the anomaly channels) unless given; pass the IG
baseline to test IG against its own question.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.methods import EngineCache, GradientEngine
from icegrad.attribution.results import validate_result
from icegrad.attribution.targets import roi_target

FRACTIONS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)
"""Fractions of input values replaced; dense at the start, where faithful rankings differ from random."""


def _auc(fractions: np.ndarray, values: np.ndarray) -> float:
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(fractions)) / (fractions[-1] - fractions[0]))


def _curves(engine: GradientEngine, x: np.ndarray, reference: np.ndarray, order: np.ndarray,
            fractions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Target along deletion and insertion of the values in ``order`` (flat indices of x)."""
    counts = np.round(fractions * order.size).astype(int)
    deleted = np.repeat(x.ravel()[np.newaxis], len(counts), axis=0)
    inserted = np.repeat(reference.ravel()[np.newaxis], len(counts), axis=0)
    for i, count in enumerate(counts):
        picks = order[:count]
        deleted[i, picks] = reference.ravel()[picks]
        inserted[i, picks] = x.ravel()[picks]
    batch = np.concatenate([deleted, inserted]).reshape(-1, *x.shape)
    values = engine.targets(batch)[:, 0]
    return values[:len(counts)], values[len(counts):]


def _land(result: xr.Dataset, land: xr.DataArray | np.ndarray | None) -> np.ndarray | None:
    """The land mask the attribution's target used: given, or read from the input's land channel."""
    if land is not None:
        return np.asarray(land, dtype=bool)
    if "land" in result["channel"].values:
        return result["input"].isel(lead=0).sel(channel="land").transpose("y", "x").values > 0.5
    return None


def deletion_insertion(
    members: keras.Model | Sequence[keras.Model],
    result: xr.Dataset,
    reference: np.ndarray | xr.DataArray | None = None,
    fractions: Sequence[float] = FRACTIONS,
    n_random: int = 3,
    seed: int = 0,
    land: xr.DataArray | np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deletion/insertion curves and their summary for each member (``members`` in the result's order)
    and lead of ``result``. ``reference`` is x' as ``(y, x, channel)`` (default zeros); ``land`` defaults
    to the input's land channel, as in :func:`icegrad.attribution.attribute`. Returns the
    curves (``member``, ``lead``, ``order`` = method or random, ``fraction``, ``deletion``,
    ``insertion``) and the summary (AUCs and gains per member and lead, with the method's name)."""
    result = validate_result(result)
    models = [members] if isinstance(members, keras.Model) else list(members)
    if len(models) != result.sizes["member"]:
        raise AttributionError(f"{len(models)} model(s) for a result of {result.sizes['member']} member(s); "
                               "pass the networks the result was computed with, in its member order")
    fr = np.asarray(sorted(fractions), dtype=float)
    if fr.size < 2 or fr[0] < 0 or fr[-1] > 1:
        raise AttributionError(f"fractions {list(fractions)} must hold two or more values in 0..1")
    if n_random < 1:
        raise AttributionError(f"n_random={n_random!r} must be a whole number >= 1")
    rng = np.random.default_rng(seed)
    engines = EngineCache()
    curves, summary = [], []
    for lead in result["lead"].values.tolist():
        x = result["input"].sel(lead=lead).transpose("y", "x", "channel").values.astype(np.float32)
        ref = np.zeros_like(x) if reference is None else np.asarray(
            reference.transpose("y", "x", "channel") if isinstance(reference, xr.DataArray) else reference,
            dtype=np.float32)
        if ref.shape != x.shape:
            raise AttributionError(f"reference of shape {ref.shape} does not match the input {x.shape} "
                                   "(y, x, channel)")
        target = roi_target(result["roi"].values.astype(bool), lead, land=_land(result, land))
        randoms = [rng.permutation(x.size) for _ in range(n_random)]
        for m, model in enumerate(models):
            engine = engines.get(model, target)
            attribution = result["attribution"].isel(member=m).sel(lead=lead).transpose("y", "x", "channel")
            order = np.argsort(-attribution.values.ravel(), kind="stable")
            deletion, insertion = _curves(engine, x, ref, order, fr)
            random_runs = [_curves(engine, x, ref, r, fr) for r in randoms]
            random_del = np.mean([d for d, _ in random_runs], axis=0)
            random_ins = np.mean([i for _, i in random_runs], axis=0)
            member = result["member"].values[m]
            for name, d, i in (("method", deletion, insertion), ("random", random_del, random_ins)):
                curves.append(pd.DataFrame({"member": member, "lead": lead, "order": name, "fraction": fr,
                                            "deletion": d, "insertion": i}))
            summary.append({"member": member, "lead": lead, "method": result.attrs["method"],
                            "deletion_auc": _auc(fr, deletion), "insertion_auc": _auc(fr, insertion),
                            "random_deletion_auc": _auc(fr, random_del),
                            "random_insertion_auc": _auc(fr, random_ins)})
    table = pd.DataFrame(summary)
    table["deletion_gain"] = table["random_deletion_auc"] - table["deletion_auc"]
    table["insertion_gain"] = table["insertion_auc"] - table["random_insertion_auc"]
    return pd.concat(curves, ignore_index=True), table
