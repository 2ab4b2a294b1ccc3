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

:func:`compare_orderings` draws these curves for several methods' results of one forecast against one
shared set of random orderings, so the methods are compared on equal terms (chapter 9);
:func:`deletion_insertion` is its view of a single result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
            fractions: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Target along deletion and insertion of the values in ``order`` (flat indices of x).

    ``ends`` holds the target at x and at the reference: every ordering shares them (nothing or
    everything replaced), so only the fractions strictly between cost a forward pass.
    """
    counts = np.round(fractions * order.size).astype(int)
    full = counts >= order.size
    deletion = np.where(full, ends[1], ends[0]).astype(float)
    insertion = np.where(full, ends[0], ends[1]).astype(float)
    inner = np.flatnonzero((counts > 0) & ~full)
    if inner.size:
        deleted = np.repeat(x.ravel()[np.newaxis], inner.size, axis=0)
        inserted = np.repeat(reference.ravel()[np.newaxis], inner.size, axis=0)
        for row, count in enumerate(counts[inner]):
            picks = order[:count]
            deleted[row, picks] = reference.ravel()[picks]
            inserted[row, picks] = x.ravel()[picks]
        values = engine.targets(np.concatenate([deleted, inserted]).reshape(-1, *x.shape))[:, 0]
        deletion[inner], insertion[inner] = values[:inner.size], values[inner.size:]
    return deletion, insertion


def _ends(engine: GradientEngine, x: np.ndarray, reference: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """The target at x and at the reference, in a batch of the size :func:`_curves` sends.

    Every batch of one engine then has one shape, so its forward function is traced once: a new batch
    size retraces it, which at 100 km cost more than the passes themselves.
    """
    counts = np.round(fractions * x.size).astype(int)
    rows = max(1, int(np.sum((counts > 0) & (counts < x.size))))
    return engine.targets(np.stack([x, reference] * rows))[:2, 0]


def _land(result: xr.Dataset, land: xr.DataArray | np.ndarray | None) -> np.ndarray | None:
    """The land mask the attribution's target used: given, or read from the input's land channel."""
    if land is not None:
        return np.asarray(land, dtype=bool)
    if "land" in result["channel"].values:
        return result["input"].isel(lead=0).sel(channel="land").transpose("y", "x").values > 0.5
    return None


def _check_same_forecast(first: xr.Dataset, name: str, other: xr.Dataset, label: str) -> None:
    """Fail unless ``other`` explains the forecast ``first`` explains: same members, leads, input and ROI."""
    same = (np.array_equal(first["member"].values, other["member"].values)
            and np.array_equal(first["lead"].values, other["lead"].values)
            and first["input"].shape == other["input"].shape
            and np.allclose(first["input"].values, other["input"].transpose(*first["input"].dims).values)
            and np.array_equal(first["roi"].values, other["roi"].values))
    if not same:
        raise AttributionError(f"result {label!r} explains another forecast than {name!r} "
                               "(members, leads, input or ROI differ); compare results of one forecast")


def _reference(x: np.ndarray, reference: np.ndarray | xr.DataArray | None) -> np.ndarray:
    """x' as a ``(y, x, channel)`` array of the input's shape: zeros unless given."""
    if reference is None:
        return np.zeros_like(x)
    ref = np.asarray(reference.transpose("y", "x", "channel") if isinstance(reference, xr.DataArray)
                     else reference, dtype=np.float32)
    if ref.shape != x.shape:
        raise AttributionError(f"reference of shape {ref.shape} does not match the input {x.shape} "
                               "(y, x, channel)")
    return ref


def _check_settings(fractions: Sequence[float], n_random: int) -> np.ndarray:
    fr = np.asarray(sorted(fractions), dtype=float)
    if fr.size < 2 or fr[0] < 0 or fr[-1] > 1:
        raise AttributionError(f"fractions {list(fractions)} must hold two or more values in 0..1")
    if n_random < 1:
        raise AttributionError(f"n_random={n_random!r} must be a whole number >= 1")
    return fr


def compare_orderings(
    members: keras.Model | Sequence[keras.Model],
    results: Mapping[str, xr.Dataset],
    reference: np.ndarray | xr.DataArray | None = None,
    fractions: Sequence[float] = FRACTIONS,
    n_random: int = 3,
    seed: int = 0,
    land: xr.DataArray | np.ndarray | None = None,
) -> xr.Dataset:
    """Deletion and insertion curves of several methods' results for one forecast, against one control.

    ``results`` maps a label to an attribution result; all must explain the same forecast (members in
    ``members``' order, leads, input, ROI). Every method is set against the *same* random orderings
    (``n_random`` per lead, shared by members and methods), so the methods' gains differ only by their
    rankings. Returns ``deletion`` and ``insertion`` ``(order, member, lead, fraction)`` with ``order``
    the labels then ``"random"`` (the mean of the random curves), their areas ``deletion_auc`` and
    ``insertion_auc`` ``(order, member, lead)``, and the gains over random ``deletion_gain`` and
    ``insertion_gain`` ``(label, member, lead)``: positive means more faithful than random. (The gains'
    dimension is ``label``, not ``method``: ``.sel(method=...)`` is xarray's own keyword.)
    """
    labels = list(results)
    if not labels:
        raise AttributionError("no attribution results to compare; pass {label: result} for one forecast")
    first = validate_result(results[labels[0]])
    models = [members] if isinstance(members, keras.Model) else list(members)
    if len(models) != first.sizes["member"]:
        raise AttributionError(f"{len(models)} model(s) for a result of {first.sizes['member']} member(s); "
                               "pass the networks the result was computed with, in its member order")
    fr = _check_settings(fractions, n_random)
    rng = np.random.default_rng(seed)
    engines = EngineCache()
    leads = first["lead"].values.tolist()
    shape = (len(labels) + 1, len(models), len(leads), fr.size)
    deletion, insertion = np.empty(shape), np.empty(shape)
    # what every other result is checked against, and the coordinates of the curves (not the maps)
    forecast = first.drop_vars([name for name in first.data_vars if name not in ("input", "roi")])
    cases = []  # per lead: the input, the reference, the ROI target and each member's ends
    for j, lead in enumerate(leads):
        x = first["input"].sel(lead=lead).transpose("y", "x", "channel").values.astype(np.float32)
        ref = _reference(x, reference)
        target = roi_target(first["roi"].values.astype(bool), lead, land=_land(first, land))
        randoms = [rng.permutation(x.size) for _ in range(n_random)]
        ends = []
        for m, model in enumerate(models):
            engine = engines.get(model, target)
            ends.append(_ends(engine, x, ref, fr))
            runs = [_curves(engine, x, ref, r, fr, ends[m]) for r in randoms]
            deletion[-1, m, j] = np.mean([d for d, _ in runs], axis=0)
            insertion[-1, m, j] = np.mean([i for _, i in runs], axis=0)
        cases.append((x, ref, target, ends))
    # One result at a time, released before the next is looked up: a lazy mapping (pipeline.score_methods')
    # then holds one method's maps in memory, not every method's (~80 MiB each at the book's defaults).
    loaded: xr.Dataset | None = first
    del first
    for k, label in enumerate(labels):
        result = loaded if loaded is not None else validate_result(results[label])
        loaded = None
        if k:
            _check_same_forecast(forecast, labels[0], result, label)
        for j, (lead, (x, ref, target, ends)) in enumerate(zip(leads, cases, strict=True)):
            for m, model in enumerate(models):
                attribution = result["attribution"].isel(member=m).sel(lead=lead)
                order = np.argsort(-attribution.transpose("y", "x", "channel").values.ravel(), kind="stable")
                deletion[k, m, j], insertion[k, m, j] = _curves(engines.get(model, target), x, ref, order, fr,
                                                                ends[m])
        del result
    return _as_dataset(deletion, insertion, [*labels, "random"], forecast, fr, n_random, seed, reference)


def _as_dataset(deletion: np.ndarray, insertion: np.ndarray, orders: list[str], first: xr.Dataset,
                fr: np.ndarray, n_random: int, seed: int, reference: object) -> xr.Dataset:
    """The curves, their areas and the gains over the shared random control, with CF-style attributes."""
    dims = ("order", "member", "lead", "fraction")
    coords = {"order": ("order", orders, {"long_name": "ordering of the input values (method or random)"}),
              "member": first["member"], "lead": first["lead"],
              "fraction": ("fraction", fr, {"long_name": "fraction of input values replaced", "units": "1"})}
    ds = xr.Dataset({
        "deletion": (dims, deletion, {"long_name": "ROI target with the top fraction set to the reference",
                                      "units": "1"}),
        "insertion": (dims, insertion, {"long_name": "ROI target with the top fraction restored from the "
                                                     "reference", "units": "1"})}, coords=coords)
    for curve in ("deletion", "insertion"):
        auc = xr.apply_ufunc(lambda v: _auc(fr, v), ds[curve], input_core_dims=[["fraction"]], vectorize=True)
        ds[f"{curve}_auc"] = auc.assign_attrs(long_name=f"area under the {curve} curve (mean over fractions)",
                                              units="1")
    label = ("label", orders[:-1], {"long_name": "attribution method (the result's label)"})
    for curve, sign, sense in (("deletion", -1, "random minus method"),
                               ("insertion", 1, "method minus random")):
        auc = ds[f"{curve}_auc"].values
        ds[f"{curve}_gain"] = xr.DataArray(
            sign * (auc[:-1] - auc[-1:]), dims=("label", "member", "lead"),
            coords={"label": label, "member": first["member"], "lead": first["lead"]},
            attrs={"long_name": f"{curve} gain over random ({sense} area; positive = faithful)",
                   "units": "1"})
    ds.attrs = {"title": "deletion and insertion curves against a shared random control",
                "data_source": str(first.attrs.get("data_source", "unknown")),
                "target": str(first.attrs.get("target", "")), "n_random": n_random, "seed": seed,
                "reference": "zeros" if reference is None else "given",
                "references": "Samek et al. 2017 (IEEE TNNLS); Petsiuk et al. 2018 (BMVC)"}
    if "target_month" in first.attrs:
        ds.attrs["target_month"] = str(first.attrs["target_month"])
    return ds


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
    ``insertion``) and the summary (AUCs and gains per member and lead, with the method's name).
    One result's view of :func:`compare_orderings`."""
    ds = compare_orderings(members, {"method": validate_result(result)}, reference, fractions, n_random,
                           seed, land)
    curves = ds[["deletion", "insertion"]].to_dataframe().reset_index()[
        ["member", "lead", "order", "fraction", "deletion", "insertion"]]
    aucs = ds[["deletion_auc", "insertion_auc"]]
    table = aucs.sel(order="method", drop=True).to_dataframe().reset_index()
    random = aucs.sel(order="random", drop=True).to_dataframe().reset_index()
    table.insert(2, "method", result.attrs["method"])
    table["random_deletion_auc"] = random["deletion_auc"].to_numpy()
    table["random_insertion_auc"] = random["insertion_auc"].to_numpy()
    table["deletion_gain"] = table["random_deletion_auc"] - table["deletion_auc"]
    table["insertion_gain"] = table["insertion_auc"] - table["random_insertion_auc"]
    return curves, table
