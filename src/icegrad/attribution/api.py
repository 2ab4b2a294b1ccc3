"""The one entry point: explain an IceNet ensemble's ROI forecast with a gradient method.

Its defaults (leads, method, steps, baseline) are the run configuration's
(:class:`icegrad.config.RunConfig`), so a call without them explains what the book explains. A ROI or
land mask given as a DataArray is matched to the input sample by its ``x``/``y`` coordinates, never by
position, so a mask of another grid (or the same grid flipped) fails with a clear error instead of
silently weighting the wrong cells.

Example
-------
With ``ens`` an ensemble, ``ds`` its data and ``roi`` a region of interest (see
:mod:`icegrad.pipeline`), the attributions of one input sample:

>>> from icegrad.inputs.build import build_inputs
>>> sample = build_inputs(ds, ["2013-09"], ens.stats, list(ens.channels)).isel(time=0)
>>> res = attribute(ens.members[:1], sample, roi, leads=(1, 3), method="integrated_gradients",
...                 steps=8, baseline="zeros")
>>> dict(res.attribution.sizes)
{'member': 1, 'lead': 2, 'channel': 50, 'y': 54, 'x': 54}
>>> total = res.attribution.sum(("channel", "y", "x"))  # ~ target - target(baseline): completeness
>>> change = res.target_value - res.baseline_target_value
>>> bool((abs(total - change) < 0.05 * abs(change).max()).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import xarray as xr

from icegrad.attribution import methods
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.execution import DEFAULT_MEMORY_BUDGET
from icegrad.attribution.methods import METHODS, EngineCache, Execution, GradientEngine, MemberAttribution
from icegrad.attribution.references import resolve_baseline
from icegrad.attribution.results import build_result, cached_result
from icegrad.attribution.targets import check_count, check_leads, roi_target, sample_for_forecast
from icegrad.cache import array_digest, model_digest
from icegrad.config import DEFAULTS, PAIRED_BASELINES, paired_month
from icegrad.progress import bar as progress_bar
from icegrad.variables import CHANNEL_NAMES

_UNITS = {"vanilla_gradient": "1 per normalised input unit", "smoothgrad": "1 per normalised input unit",
          "gradient_x_input": "1", "integrated_gradients": "1"}


def attribute(
    members: keras.Model | Sequence[keras.Model],
    inputs_sample: xr.DataArray,
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = DEFAULTS.leads,
    method: str = DEFAULTS.method,
    *,
    steps: int = DEFAULTS.steps,
    baseline: str | np.ndarray | xr.DataArray = DEFAULTS.baseline,
    climatology: xr.DataArray | None = None,
    counterfactual: xr.DataArray | None = None,
    persistence: xr.DataArray | None = None,
    rule: str = "midpoint",
    samples: int = 32,
    noise_level: float = 0.1,
    noise_scale: str = "range",
    seed: int = 0,
    target: str = "sip",
    weighting: str = "area",
    land: xr.DataArray | np.ndarray | None = None,
    memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
    batch_size: int | None = None,
    jit_compile: bool = False,
    precision: str = "float32",
    device: str | None = None,
    model_id: str | None = None,
    data_source: str | None = None,
    cache: bool = False,
    engines: EngineCache | None = None,
) -> xr.Dataset:
    """Attribute each member's ROI target at ``leads`` to every value of one input sample.

    ``inputs_sample`` is ``(y, x, channel)`` (a length-one ``time`` is dropped) in the model's
    normalised units. ``method`` is one of :data:`~icegrad.attribution.methods.METHODS`; ``steps``,
    ``baseline``/``climatology``/``counterfactual``/``persistence`` and ``rule`` configure integrated
    gradients (the default baseline, ``"climatology"``, needs ``climatology``:
    :func:`icegrad.pipeline.baseline_for` builds it; ``"counterfactual"`` needs ``counterfactual``, the
    reference year's sample of the same forecast, and ``"persistence"`` needs ``persistence``, the
    previous year's; :func:`attribute_forecast` picks both itself, :func:`icegrad.pipeline.baseline_options`
    gives every baseline's), ``samples``,
    ``noise_level``, ``noise_scale`` and ``seed`` SmoothGrad. ``target`` and ``weighting`` define the
    scalar (see :mod:`icegrad.attribution.targets`); ``land`` defaults to the sample's ``land``
    coordinate or channel. ``memory_budget`` (bytes, None = unlimited) or ``batch_size`` bound the batch
    of IG steps / SmoothGrad samples; ``jit_compile``, ``precision`` and ``device`` choose how it runs
    and do not change results beyond rounding. With ``cache=True`` the result is stored under
    ``cache_dir()/attributions`` keyed by every parameter that changes it, including hashes of the
    weights, input, ROI and baseline. ``engines`` reuses compiled engines across calls (see
    :class:`~icegrad.attribution.methods.EngineCache`; :func:`attribute_forecast` shares one across its
    leads). Returns a dataset in the :mod:`~icegrad.attribution.results` schema.
    """
    models = [members] if isinstance(members, keras.Model) else list(members)
    if not models:
        raise AttributionError("no ensemble members given; pass a keras.Model or a list of them")
    if method not in METHODS:
        raise AttributionError(f"unknown method {method!r}; choose one of {METHODS}")
    leads = check_leads(leads)
    if method == "integrated_gradients":
        check_count("steps", steps)
    if method == "smoothgrad":
        check_count("samples", samples)
        if isinstance(noise_level, bool) or not isinstance(noise_level, int | float | np.number) \
                or not np.isfinite(noise_level):
            raise AttributionError(f"noise_level={noise_level!r} must be a finite number (a fraction of the "
                                   "input's range or spread, e.g. 0.1)")
    sample = check_sample(inputs_sample, models[0])
    roi = on_sample_grid(roi, sample, "roi")
    land = land_for(sample, None if land is None else on_sample_grid(land, sample, "land"))
    target_fn = roi_target(roi, leads, target, land, weighting)
    base, base_label = resolve_baseline(baseline, sample, climatology, counterfactual, persistence) \
        if method == "integrated_gradients" else (None, "none")
    method_params: dict[str, Any] = {"integrated_gradients": {"steps": steps, "rule": rule},
                                     "smoothgrad": {"samples": samples, "noise_level": noise_level,
                                                    "noise_scale": noise_scale, "seed": seed}}.get(method, {})
    if method == "integrated_gradients":
        methods.integration_points(steps, rule)  # validates before any model work
    execution = Execution(memory_budget, batch_size, jit_compile, precision, device)

    def compute() -> xr.Dataset:
        x = np.asarray(sample.values, dtype=np.float32)
        cache = engines if engines is not None else EngineCache()
        members_bar = progress_bar(models, desc=f"{method.replace('_', ' ')}, lead(s) "
                                   f"{', '.join(map(str, leads))}", unit="member")
        outs = [_run(cache.get(model, target_fn, execution), method, x, base, method_params)
                for model in members_bar]
        attrs = {
            "method": method, "target": f"{target_fn.description} ({target})", "roi_rule": target_fn.rule,
            "model_id": model_id or ", ".join(m.name for m in models),
            "data_source": data_source or str(sample.attrs.get("data_source", "unknown")),
            "steps": int(outs[0].evaluations), "baseline": base_label, "precision": precision,
            "batch_size": int(outs[0].batch_size), "attribution_units": _UNITS[method],
            **{f"{method}_{k}": v for k, v in method_params.items()},
        }
        if attrs["data_source"] == "emulated":
            attrs["comment"] = "inputs come from icegrad's synthetic (emulated) Arctic, not observations"
        lead_coords = _lead_coords(sample, leads)
        paired = counterfactual if baseline == "counterfactual" else persistence
        if baseline_start := _paired_start(baseline, paired, method):
            lead_coords = {**(lead_coords or {}), "baseline_forecast_start": [baseline_start] * len(leads)}
        return build_result(
            np.stack([o.attribution for o in outs]), np.repeat(x[np.newaxis], len(leads), axis=0),
            np.stack([o.target for o in outs]),
            np.stack([o.baseline_target for o in outs]) if method == "integrated_gradients" else None,
            sample, target_fn.weights > 0, leads, attrs, lead_coords)

    if not cache:
        return compute()
    params = {"method": method, "leads": leads, "target": target, "weighting": weighting,
              "baseline": base_label, "baseline_hash": None if base is None else array_digest(base),
              "precision": precision, "input_hash": array_digest(sample.values),
              "roi_hash": array_digest(target_fn.weights), "weights_hash": [model_digest(m) for m in models],
              "model_id": model_id,
              "data_source": data_source, **method_params}
    return cached_result(params, compute)


def attribute_forecast(
    members: keras.Model | Sequence[keras.Model],
    inputs: xr.DataArray,
    target_month: str | pd.Timestamp,
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = DEFAULTS.leads,
    reference_year: int = DEFAULTS.reference_year,
    **options: Any,
) -> xr.Dataset:
    """Attribute the forecasts of one *target month* (e.g. ``"2013-09"``) made at each of ``leads``.

    Lead ``l`` is explained with the input sample of its own start month (target - (l - 1) months),
    taken from ``inputs`` ``(time, y, x, channel)``; the per-lead results are joined along ``lead``.
    ``options`` are those of :func:`attribute`; the leads share one compiled engine
    (:class:`~icegrad.attribution.methods.EngineCache`, which also serves every member).

    With a paired baseline (:data:`~icegrad.config.PAIRED_BASELINES`) each lead's baseline is the input
    of the forecast for the same calendar month at the same lead, of ``reference_year``
    (``"counterfactual"``) or of the year before the target (``"persistence"``), so ``inputs`` must hold
    those starts too: integrated gradients then explains T(target) - T(paired month) in the ROI, and the
    result records both values (``target_value``, ``baseline_target_value``), the paired month
    (``baseline_target_month`` attribute) and each lead's ``baseline_forecast_start``.
    """
    options.setdefault("engines", EngineCache())
    leads = check_leads(leads)
    month = f"{pd.Timestamp(target_month):%Y-%m}"
    baseline = options.get("baseline")
    paired = isinstance(baseline, str) and baseline in PAIRED_BASELINES and baseline not in options \
        and options.get("method", DEFAULTS.method) == "integrated_gradients"
    reference = paired_month(baseline, month, reference_year) if paired else None
    if reference == month:
        raise AttributionError(f"reference_year={reference_year} is the target month's own year; the "
                               "counterfactual baseline compares two different years (e.g. 2007 for 2013)")

    def explain(lead: int) -> xr.Dataset:
        extra = {baseline: sample_for_forecast(inputs, reference, lead)} if reference else {}
        return attribute(members, sample_for_forecast(inputs, target_month, lead), roi, lead,
                         **options, **extra)

    parts = [explain(lead) for lead in leads]
    ds = xr.concat(parts, dim="lead", data_vars="minimal", coords="minimal", compat="override",
                   join="override", combine_attrs="override")
    ds["roi"] = parts[0]["roi"]
    ds.attrs["target_month"] = month
    if reference:
        ds.attrs["baseline_target_month"] = reference
    return ds


def _run(engine: GradientEngine, method: str, x: np.ndarray, baseline: np.ndarray | None,
         params: dict[str, Any]) -> MemberAttribution:
    if method == "integrated_gradients":
        assert baseline is not None
        return methods.integrated_gradients(engine, x, baseline, **params)
    if method == "smoothgrad":
        return methods.smoothgrad(engine, x, **params)
    return getattr(methods, method)(engine, x)


def check_sample(sample: xr.DataArray, model: keras.Model) -> xr.DataArray:
    if not isinstance(sample, xr.DataArray):
        raise AttributionError(f"inputs_sample must be an xarray.DataArray (y, x, channel), got "
                               f"{type(sample).__name__}; wrap arrays with xr.DataArray(a, dims=...)")
    if "time" in sample.dims:
        if sample.sizes["time"] != 1:
            raise AttributionError(f"inputs_sample holds {sample.sizes['time']} times; pick one with "
                                   ".isel(time=i), or use attribute_forecast(...) for a target month")
        sample = sample.isel(time=0)
    if set(sample.dims) != {"y", "x", "channel"}:
        raise AttributionError(f"inputs_sample has dims {sample.dims}; expected (y, x, channel)")
    sample = sample.transpose("y", "x", "channel")
    expected = tuple(model.input_shape[1:])
    if sample.shape != expected:
        raise AttributionError(f"inputs_sample of shape {sample.shape} (y, x, channel) does not fit "
                               f"model {model.name!r}, which takes {expected}")
    if "channel" not in sample.coords:
        if sample.sizes["channel"] != len(CHANNEL_NAMES):
            raise AttributionError("inputs_sample has no 'channel' coordinate; label its channels "
                                   "with IceNet names (icegrad.variables.CHANNEL_NAMES)")
        sample = sample.assign_coords(channel=list(CHANNEL_NAMES))
    bad = ~np.isfinite(sample.values)
    if bad.any():
        where = [str(c) for c in sample["channel"].values[bad.any(axis=(0, 1))]][:5]
        raise AttributionError(f"inputs_sample has {int(bad.sum())} NaN/inf value(s) (channels {where}); "
                               "IceNet inputs must be finite - fill land/missing cells (e.g. with 0, the "
                               "normalised mean) when building them")
    return sample


def on_sample_grid(mask: xr.DataArray | np.ndarray, sample: xr.DataArray,
                   name: str) -> xr.DataArray | np.ndarray:
    """``mask`` ``(y, x)`` on the sample's grid, matched by ``x``/``y`` coordinates where both have them.

    Why by coordinates: a mask of another resolution or a flipped axis can have the right shape, and
    matching by position would then weight the wrong cells without a word. A plain array has no
    coordinates, so only its shape can be checked.
    """
    shape = (sample.sizes["y"], sample.sizes["x"])
    if not isinstance(mask, xr.DataArray):
        if np.shape(mask) != shape:
            raise AttributionError(f"{name} of shape {np.shape(mask)} does not match the input sample's "
                                   f"(y, x) grid {shape}; build it on the sample's grid")
        return mask
    if set(mask.dims) != {"y", "x"}:
        raise AttributionError(f"{name} has dims {mask.dims}; expected a (y, x) mask on the input's grid")
    mask = mask.transpose("y", "x")
    matched: dict[str, np.ndarray] = {}
    for axis in ("y", "x"):
        if axis not in mask.coords or axis not in sample.coords:
            if mask.sizes[axis] != sample.sizes[axis]:
                raise AttributionError(f"{name} has {mask.sizes[axis]} {axis} cells, the input sample "
                                       f"{sample.sizes[axis]}; build it on the sample's grid")
            continue
        theirs, ours = np.asarray(mask[axis].values, float), np.asarray(sample[axis].values, float)
        if theirs.shape != ours.shape or not np.allclose(np.sort(theirs), np.sort(ours), atol=1e-6):
            raise AttributionError(
                f"{name}'s {axis} coordinates ({theirs.size} values, {theirs.min():.6g} to "
                f"{theirs.max():.6g}) do not match the input sample's ({ours.size} values, {ours.min():.6g} "
                f"to {ours.max():.6g}); build the {name} on the same grid (same source and resolution_km)")
        matched[axis] = ours
    return mask.sel(matched, method="nearest") if matched else mask


def land_for(sample: xr.DataArray, land: xr.DataArray | np.ndarray | None) -> np.ndarray | None:
    if land is not None:
        return np.asarray(land, dtype=bool)
    if "land" in sample.coords:
        return np.asarray(sample["land"], dtype=bool)
    if "land" in sample["channel"].values:
        return np.asarray(sample.sel(channel="land").values > 0.5)
    return None


def _paired_start(baseline: object, paired: xr.DataArray | None, method: str) -> str | None:
    """The paired sample's forecast start (YYYY-MM), recorded so the file says what it explains."""
    if method != "integrated_gradients" or not isinstance(baseline, str) or baseline not in PAIRED_BASELINES:
        return None
    start = getattr(paired, "attrs", {}).get("forecast_start")
    if start is None and isinstance(paired, xr.DataArray) and "time" in paired.coords:
        start = f"{pd.Timestamp(paired['time'].values):%Y-%m}"
    return None if start is None else str(start)


def _lead_coords(sample: xr.DataArray, leads: tuple[int, ...]) -> dict[str, list[str]] | None:
    start = sample.attrs.get("forecast_start")
    if start is None and "time" in sample.coords:
        start = f"{pd.Timestamp(sample['time'].values):%Y-%m}"
    if start is None:
        return None
    stamp = pd.Timestamp(start)
    return {"forecast_start": [f"{stamp:%Y-%m}"] * len(leads),
            "target_month": [f"{stamp + pd.DateOffset(months=lead - 1):%Y-%m}" for lead in leads]}
