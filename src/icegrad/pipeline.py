"""The book's cached stages: data -> ROI -> trained ensemble -> attributions.

Each chapter calls these with its parameters. Every stage is cached on disk under a key made from the
parameters that change its result (the dataset by source and resolution, the ensemble by its training
configuration and a fingerprint of the data, attributions by method settings and hashes of weights,
inputs and ROI), so the model is trained once for the whole book and a chapter re-run with another
method or lead recomputes only the attributions.

Every default is :class:`icegrad.config.RunConfig`'s. :func:`check_run` (from :mod:`icegrad.run_checks`)
makes the checks that need the data (years and forecast starts the source covers, a ROI that selects
ocean), so a caller fails in seconds, before :func:`ensemble` trains for minutes.

Example
-------
>>> ds = dataset("emulated", 200)
>>> roi = region(ds)                                                # 2013 vs 2007, September
>>> int(roi.sum())
44

``ens = ensemble(ds, members=2, epochs=1)`` trains the ensemble (minutes, once; cached afterwards).
With ``ens`` such an ensemble:

>>> result = attributions(ds, ens, roi, "2013-09", leads=(1, 3), steps=4, baseline="zeros")
>>> result.attrs["method"], result["lead"].values.tolist()
('integrated_gradients', [1, 3])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from icegrad import cache
from icegrad.attribution import attribute_forecast
from icegrad.attribution.methods import EngineCache
from icegrad.attribution.references import streamed_climatology
from icegrad.attribution.results import ResultsOnLookup
from icegrad.attribution.targets import check_count, check_leads, forecast_start, sample_for_forecast
from icegrad.config import (
    BASELINES,
    DEFAULTS,
    PAIRED_BASELINES,
    RunConfig,
    check_not_pretraining_weights,
    paired_month,
    pretraining_for,
)
from icegrad.data import load_dataset
from icegrad.evaluation import fidelity
from icegrad.evaluation.baselines import gallery_table
from icegrad.evaluation.permutation import permutation_importance
from icegrad.inputs import build as network_inputs
from icegrad.inputs import real_record
from icegrad.memory import release_freed_memory, releases_memory
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.train import TrainConfig, load_or_train
from icegrad.model.weights import load_icenet_release
from icegrad.roi import region_of_interest
from icegrad.run_checks import check_run as check_run

BOOK_ROI_RULE = DEFAULTS.roi_rule
"""The book's ROI rule (the run configuration's): cells where SIC changed by at least 0.5 either way."""


def dataset(data_source: str = DEFAULTS.data_source,
            resolution_km: int = DEFAULTS.resolution_km) -> xr.Dataset:
    """The monthly dataset of ``data_source`` at ``resolution_km`` (cached by its loader)."""
    return load_dataset(data_source, resolution_km=resolution_km)


def region(ds: xr.Dataset, reference_year: int = DEFAULTS.reference_year,
           target_year: int = DEFAULTS.target_year, month: int = DEFAULTS.month,
           roi_rule: str | None = BOOK_ROI_RULE) -> xr.DataArray:
    """The region of interest (see :func:`icegrad.roi.region_of_interest`; cheap, not cached)."""
    return region_of_interest(ds, reference_year, target_year, month, roi_rule or BOOK_ROI_RULE)


def ensemble(ds: xr.Dataset, members: int = DEFAULTS.members, width: float | None = DEFAULTS.width,
             epochs: int | None = DEFAULTS.epochs, weights: str | Path | None = DEFAULTS.weights,
             seed_base: int = 36,
             pretrain_realisations: Sequence[int] | None = DEFAULTS.pretrain_realisations) -> IceNetEnsemble:
    """The trained IceNet ensemble for ``ds``: from the cache, trained once, or the original release.

    ``weights`` names a folder holding the IceNet release's ``network_tempscaled_<seed>.h5`` files;
    when given, those networks are loaded (``members`` of them, seeds 36 upwards) instead of training.
    ``width`` is IceNet's filter factor (2 in the paper; the book uses a narrow network on CPU);
    ``width`` and ``epochs`` given as None take :class:`~icegrad.model.train.TrainConfig`'s defaults.
    Data without ERA5 fields (``data_source="nsidc"``) train the same network on the 21 SIC-only
    channels, and a record ending before 2020 gets test years inside it
    (:mod:`icegrad.inputs.real_record`). ``pretrain_realisations`` pre-trains each member on those
    weather seeds of the emulated Arctic first; None, the book's choice for the data
    (:func:`icegrad.config.pretraining_for`; see :func:`train_config`).
    """
    check_count("members", members)
    if epochs is not None:
        check_count("epochs", epochs)
    check_not_pretraining_weights(weights, pretrain_realisations)
    if weights:
        release = load_icenet_release(weights, range(seed_base, seed_base + members),
                                      height=ds.sizes["y"], width=ds.sizes["x"])
        stats = network_inputs.fit_normalisation(ds)
        return IceNetEnsemble(release.members, stats, release.channels, release.manifest)
    return load_or_train(ds, train_config(ds, members, width, epochs, seed_base, pretrain_realisations))


def run_ensemble(ds: xr.Dataset, config: RunConfig) -> IceNetEnsemble:
    """The ensemble run configuration ``config`` names on ``ds``: its members, width, epochs, released
    weights (if any) and pre-training realisations, passed to :func:`ensemble`."""
    return ensemble(ds, members=config.members, width=config.width, epochs=config.epochs,
                    weights=config.weights or None, pretrain_realisations=config.pretrain_realisations)


def train_config(ds: xr.Dataset, members: int = DEFAULTS.members, width: float | None = DEFAULTS.width,
                 epochs: int | None = DEFAULTS.epochs, seed_base: int = 36,
                 pretrain_realisations: Sequence[int] | None = DEFAULTS.pretrain_realisations) -> TrainConfig:
    """The training configuration :func:`ensemble` trains ``ds`` with (the book's recipe, also the one
    ``icegrad train --release`` ships networks with): channels and splits follow the data's record.

    With ``pretrain_realisations``, each member first trains for as many epochs, on the same training
    years of those realisations (other weather, same rule), then fine-tunes on ``ds``'s: IceNet's CMIP6
    pre-training, with one knob. :class:`~icegrad.model.train.TrainConfig` sets the stages apart."""
    options: dict[str, object] = {"members": members, "seed_base": seed_base,
                                  "data_source": str(ds.attrs.get("data_source"))}
    channels, splits = real_record.channels_for(ds), real_record.splits_for(ds)
    if channels != TrainConfig.channels:  # only non-defaults, so emulated cache keys stay as they were
        options["channels"] = channels
    if splits != network_inputs.Splits():
        options.update(train_years=splits.train, val_years=splits.validate, test_years=splits.test)
    if width is not None:
        options["filters_factor"] = width
    if epochs is not None:
        options["epochs"] = epochs
    realisations = pretraining_for(str(ds.attrs.get("data_source")), pretrain_realisations)
    if realisations:
        options.update(pretrain_epochs=epochs or TrainConfig.epochs,
                       pretrain_years=options.get("train_years", TrainConfig.train_years),
                       pretrain_realisations=realisations)
    return TrainConfig(**options)


def forecast_inputs(ds: xr.Dataset, ens: IceNetEnsemble, target_month: str,
                    leads: Sequence[int], paired: str | None = None) -> xr.DataArray:
    """Normalised inputs ``(time, y, x, channel)`` of the starts whose forecasts hit ``target_month``,
    and, with ``paired`` (a month, see :func:`icegrad.config.paired_month`), those whose forecasts hit
    it: the inputs a paired baseline (counterfactual, persistence) is taken from."""
    months = [target_month] if paired is None else [target_month, paired]
    starts = sorted({forecast_start(month, lead) for month in months for lead in check_leads(leads)})
    return network_inputs.build_inputs(ds, pd.DatetimeIndex(starts), ens.stats, list(ens.channels))


BASELINE_BATCH = 4
"""Start months whose inputs :func:`baseline_for` builds at a time (see
:func:`icegrad.attribution.references.streamed_climatology`)."""


def baseline_for(ds: xr.Dataset, ens: IceNetEnsemble, target_month: str, lead: int,
                 data_fingerprint: str | None = None) -> xr.DataArray:
    """The climatological IG baseline for one lead: the mean training-years input of that start month.

    Cached (stage ``baselines``) by the data, the ensemble's normalisation, channels and start months:
    the attributions' cache key holds the baseline's hash, so without this every re-run of a chapter
    rebuilt it (~2 s and, then, ~400 MiB of transient memory per lead at 100 km; now built
    :data:`BASELINE_BATCH` start months at a time, ~230 MiB) only to find its attributions cached.
    ``algorithm`` in the key: version 2 sums in float64, version 1's float32 mean differed by ~1e-6.
    ``data_fingerprint`` (:func:`icegrad.cache.dataset_fingerprint` of ``ds``) saves hashing the data
    again when a caller asks for several leads.
    """
    start = pd.Timestamp(forecast_start(target_month, lead))
    years = ens.manifest.get("splits", {}).get("train") or network_inputs.Splits().train
    starts = pd.date_range(f"{years[0]}-{start.month:02d}", f"{years[1]}-{start.month:02d}", freq="12MS")
    starts = starts.intersection(network_inputs.available_start_months(ds))
    stats = sorted(ens.stats.data_vars)
    params = {"algorithm": 2, "data": data_fingerprint or cache.dataset_fingerprint(ds), "stats": stats,
              "stats_hash": cache.array_digest(*(ens.stats[name].values for name in stats)),
              "channels": list(ens.channels), "starts": [f"{s:%Y-%m}" for s in starts],
              "month": start.month, "years": [int(years[0]), int(years[1])]}

    def compute() -> xr.Dataset:
        channels = list(ens.channels)
        batches = (network_inputs.build_inputs(ds, starts[i:i + BASELINE_BATCH], ens.stats, channels)
                   for i in range(0, len(starts), BASELINE_BATCH))
        mean = streamed_climatology(batches, month=start.month, years=range(years[0], years[1] + 1))
        return mean.to_dataset(name="baseline")

    return cache.cached_netcdf("baselines", params, compute)["baseline"]


def baseline_options(ds: xr.Dataset, ens: IceNetEnsemble, target_month: str, lead: int,
                     baseline: str = DEFAULTS.baseline, reference_year: int = DEFAULTS.reference_year,
                     method: str = DEFAULTS.method) -> dict[str, xr.DataArray]:
    """The arguments :func:`icegrad.attribution.attribute` needs besides ``baseline=`` to explain the
    ``lead`` forecast of ``target_month`` with ``method``: the climatology (:func:`baseline_for`), or a
    paired baseline's sample under its own name (the same forecast in ``reference_year`` for the
    counterfactual, one year earlier for persistence); none for zeros or a method without a baseline.

    One helper, so that every caller that attributes one sample (the sweep's jobs, chapter 5's
    randomisation test) gives a baseline what it needs, rather than failing on the paired ones or
    quietly explaining against another baseline.
    """
    if method != "integrated_gradients" or baseline not in ("climatology", *PAIRED_BASELINES):
        return {}
    if baseline == "climatology":
        return {"climatology": baseline_for(ds, ens, target_month, lead)}
    month = paired_month(baseline, f"{pd.Timestamp(target_month):%Y-%m}", reference_year)
    assert month is not None
    start = pd.DatetimeIndex([forecast_start(month, lead)])
    inputs = network_inputs.build_inputs(ds, start, ens.stats, list(ens.channels))
    return {baseline: sample_for_forecast(inputs, month, lead)}


@releases_memory
def attributions(ds: xr.Dataset, ens: IceNetEnsemble, roi: xr.DataArray,
                 target_month: str = DEFAULTS.target_month, leads: Sequence[int] = DEFAULTS.leads,
                 method: str = DEFAULTS.method, steps: int = DEFAULTS.steps,
                 baseline: str = DEFAULTS.baseline, reference_year: int = DEFAULTS.reference_year,
                 **options: object) -> xr.Dataset:
    """Attributions of every member's ROI forecast for ``target_month`` at each lead (cached).

    ``baseline`` is ``"climatology"`` (the training-years mean input of each lead's start month: the
    book's default, which explains the forecast's departure from a typical year), ``"zeros"``
    (normalised units: average weather but no ice and no land), ``"counterfactual"`` (the same
    forecast in ``reference_year``: explains T(target) - T(reference), the letter's question) or
    ``"persistence"`` (the same forecast one year earlier: what changed it from last year's);
    ``options`` go to :func:`icegrad.attribution.attribute`.
    """
    leads = check_leads(leads)
    paired = paired_month(baseline, f"{pd.Timestamp(target_month):%Y-%m}", reference_year) \
        if method == "integrated_gradients" else None
    inputs = forecast_inputs(ds, ens, target_month, leads, paired)
    model_id = f"IceNet ensemble {ens.manifest.get('created', '')} ({len(ens)} members)"
    common = {"method": method, "steps": steps, "cache": True, "model_id": model_id,
              "data_source": str(ds.attrs.get("data_source")), "land": ds["land"], **options}
    common.setdefault("engines", EngineCache())  # one compiled engine serves every member and lead
    if method != "integrated_gradients" or baseline != "climatology":
        result = attribute_forecast(ens.members, inputs, target_month, roi, leads, reference_year,
                                    baseline=baseline, **common)
        return result.assign_coords(member=ens.member_names)
    fingerprint = cache.dataset_fingerprint(ds)
    parts = [attribute_forecast(ens.members, inputs, target_month, roi, [lead], baseline="climatology",
                                climatology=baseline_for(ds, ens, target_month, lead, fingerprint), **common)
             for lead in leads]
    result = xr.concat(parts, dim="lead", data_vars="minimal", coords="minimal", compat="override",
                       join="override", combine_attrs="override")
    result["roi"] = parts[0]["roi"]
    return result.assign_coords(member=ens.member_names)


@releases_memory
def baseline_gallery(ds: xr.Dataset, ens: IceNetEnsemble, roi: xr.DataArray,
                     target_month: str = DEFAULTS.target_month, leads: Sequence[int] = DEFAULTS.leads,
                     steps: int = DEFAULTS.steps, baselines: Sequence[str] = BASELINES,
                     reference_year: int = DEFAULTS.reference_year, ranking: str = "net",
                     n_boot: int = 1000, **options: object) -> tuple[pd.DataFrame, dict[str, xr.Dataset]]:
    """Integrated gradients from every baseline in ``baselines``, each beside the question it answers.

    Returns :func:`icegrad.evaluation.baselines.gallery_table` of the results (under ``ranking``, with
    ``n_boot`` bootstrap draws across members) and
    the results by baseline name, so a chapter can also map them. Works on any data source; the
    results are cached like :func:`attributions`'s, to which ``options`` go. Every baseline runs through
    the same compiled engine (tracing a network costs more than its integrated gradients at the coarse
    setting, so a new engine per baseline made the gallery several times slower).
    """
    options.setdefault("engines", EngineCache())
    results = {name: attributions(ds, ens, roi, target_month, leads, method="integrated_gradients",
                                  steps=steps, baseline=name, reference_year=reference_year, **options)
               for name in baselines}
    return gallery_table(results, ranking, n_boot), results


@releases_memory
def permutations(ds: xr.Dataset, ens: IceNetEnsemble, n_permutations: int = 10, by: str = "channel",
                 seed: int = 0, start_months: Sequence[str] | None = None) -> xr.Dataset:
    """IceNet's permute-and-predict importance of every channel (or group) on the test years (cached).

    See :func:`icegrad.evaluation.permutation.permutation_importance`; ``start_months`` default to the
    ensemble's test years. Ten permutations is the IceNet paper's setting; with
    :func:`icegrad.evaluation.permutation.importance_test` "indistinguishable from zero" is a tested
    statement, and the cost is in the result's ``compute_seconds`` attribute.
    """
    return permutation_importance(ens, ds, start_months, by=by, n_permutations=n_permutations, seed=seed)


@releases_memory
def score_methods(ds: xr.Dataset, ens: IceNetEnsemble, roi: xr.DataArray,
                  target_month: str = DEFAULTS.target_month, leads: Sequence[int] = DEFAULTS.leads,
                  steps: int = DEFAULTS.steps, specs: Sequence[tuple[str, str]] = fidelity.METHOD_SPECS,
                  linked_share: float = fidelity.LINKED_SHARE, **options: object) -> fidelity.FidelityRun:
    """Attributions of every (method, baseline) in ``specs`` from the cached pipeline, each scored.

    ``ens`` is the ensemble the book trained on ``ds``; ``options`` go to :func:`attributions`. It lives
    here, not in :mod:`icegrad.evaluation.fidelity`, because it runs the cached pipeline; the scoring it
    calls is the evaluation layer's. Each method is scored against its matched truth
    (:func:`icegrad.evaluation.fidelity.matched_truth`): integrated gradients against the optimal
    forecast's own integrated gradients from the same baseline, whose gradient function is compiled one
    lead at a time and released once no later method needs it. Fails before any
    attribution work on observed data, for which no truth exists, and on the paired baselines
    (counterfactual, persistence), which have none.
    """
    leads = check_leads(leads)
    for method, baseline in specs:
        fidelity.matched_kind(method)
        if method == "integrated_gradients" and baseline not in fidelity.IG_BASELINES:
            raise fidelity.FidelityError(f"integrated gradients from the {baseline!r} baseline have no truth "
                                         "to score against (the optimal forecast conditions on its own year);"
                                         " choose baseline 'zeros' or 'climatology'")
    sensitivity = fidelity.true_channel_sensitivity(ds, ens.stats, target_month, leads, roi,
                                                    list(ens.channels))
    # The optimal forecast's compiled gradient (one lead's at a time, ~45 MiB at 100 km), dropped after the
    # last integrated gradients, so that it does not sit under the later methods' peaks.
    last_ig = max((i for i, (method, _) in enumerate(specs) if method == "integrated_gradients"), default=-1)
    gradients = fidelity.OptimalGradients(ds, ens.stats, target_month, roi) if last_ig >= 0 else None
    own_engines = "engines" not in options
    options.setdefault("engines", EngineCache())  # every method reuses the members' compiled engine
    loaders, truths, scores, channels = {}, {}, [], []
    for i, (method, baseline) in enumerate(specs):
        label = fidelity.spec_label(method, baseline)
        loaders[label] = functools.partial(
            attributions, ds, ens, roi, target_month, leads, method=method, steps=steps,
            baseline=baseline if method == "integrated_gradients" else "zeros", **options)
        result = loaders[label]()
        reference = None
        if method == "integrated_gradients" and baseline == "climatology":
            fingerprint = cache.dataset_fingerprint(ds)
            reference = xr.concat([baseline_for(ds, ens, target_month, lead, fingerprint) for lead in leads],
                                  dim="lead").assign_coords(lead=list(leads))
        truth = fidelity.matched_truth(result, sensitivity, gradients, reference)
        if i == last_ig:
            gradients = None
            release_freed_memory()  # freed, but resident until trimmed: the next peak would sit on it
        per_channel = fidelity.channel_scores(result, truth, linked_share)
        labels = {"label": label, "method": method, "baseline": baseline,
                  "truth": fidelity.TRUTH_NAMES[method]}
        scores.append(fidelity.summarise(per_channel).assign(**labels))
        channels.append(per_channel.assign(**labels))
        # scored above in float64; kept for the page's maps in float32: five truths of ~28 MiB at 100 km are
        # held together through the faithfulness curves, ch. 9's peak
        truths[label] = truth.astype("float32")
        del result, reference  # one method's maps at a time (see ResultsOnLookup)
    if own_engines:  # the loaders keep the cache; their results are cached, so a lookup compiles nothing
        options["engines"].clear()  # their compiled graphs (~46 MiB per engine at 100 km, measured)
    order = ["label", "method", "baseline", "truth", "lead", "n_linked", *fidelity.SCORE_COLUMNS]
    return fidelity.FidelityRun(pd.concat(scores, ignore_index=True)[order],
                                pd.concat(channels, ignore_index=True), sensitivity,
                                ResultsOnLookup(loaders), truths)
