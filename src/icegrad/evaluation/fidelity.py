"""Does attribution find the truth? Scoring attributions against the best forecast's exact answer.

The truth is the **optimal forecast's**: for a forecast started in month ``s`` at lead ``l``,
``F(x) = E[ROI-mean P(SIC > 0.15) | x]``, the target the book differentiates, computed exactly from
the network's inputs ``x`` (:mod:`icegrad.data.emulator.optimal`: closed form, TensorFlow autodiff).
It is what a perfect IceNet would compute, so a perfect network would score perfectly. Its gradient
is the true sensitivity (:func:`true_channel_sensitivity`).

The emulator's causal links (:func:`icegrad.data.emulator.true_links`,
:func:`icegrad.data.emulator.true_sensitivity`) answer a different question, *what causes the ice*:
they include the future drivers no forecaster knows and leave out what today's inputs say about the
anomaly the ice carries. They are not what is scored here.

From the emulator's units to IceNet's channels
----------------------------------------------
``F`` reads physical fields: SIC of month ``s - 1`` and the linked drivers (``tas``, ``rsds``, ``psl``,
``tos``) of months ``s - 1`` and ``s - 2``. Channel ``*_k`` holds month ``s - k``, and the normalised
channel ``z`` maps to the physical value ``v`` by ``v = climatology + mean + std * z``
(:mod:`icegrad.inputs.normalisation`), so ``dF/dz = dF/dv * d v / d z``:

* ``siconca_abs_k``: SIC enters as a fraction, not normalised: scale 1;
* ``{var}_anom_k``: the variable's scalar ``{var}_std`` from the ensemble's ``stats``;
* every other channel is exactly zero: older SIC and drivers, the unlinked variables (``ta500``,
  ``rsus``, ``zg500``, ``zg250``, ``ua10``, ``uas``, ``vas``: functions of linked fields plus
  independent noise, so they say nothing more), the linear-trend forecasts (functions of past SIC),
  the land mask and cos/sin month. ``F`` conditions on the calendar (which fixes the forcing).

Which truth for which method
----------------------------
Each method is scored against the same method applied to the optimal forecast (:func:`matched_truth`),
so a perfect network would score perfectly whatever the method:

* vanilla gradients and SmoothGrad estimate a *sensitivity*: the truth is ``dF/dz`` itself;
* gradient x input: the truth is ``dF/dz * z``, the optimal forecast's own gradient x input;
* integrated gradients: the truth is the optimal forecast's integrated gradients along the same path
  from the same baseline (zero, or the climatological baseline), computed exactly
  (:func:`true_integrated_gradients`), not a first-order approximation of it. The paired baselines
  (counterfactual, persistence) have no truth here: ``F`` conditions on the forecast's own year, so a
  path from another year's inputs is not the network's question.

Scores (per lead, on the ensemble-mean attribution)
---------------------------------------------------
* ``spearman``: rank correlation over all channels of channel importance (mean |map| per cell) with
  the truth's; unlinked channels rank last in the truth (ties);
* ``sign_agreement``: the share of linked channels whose net attribution (sum over cells) has the
  sign of the net truth;
* ``spatial_correlation``: Pearson correlation over grid cells of each linked channel's map with the
  true map, averaged over those channels;
* ``top_recall``: the share of the truth's ``k`` most important channels among the method's ``k``
  most important (``k`` = the number of linked channels, at most :data:`TOP_K`);
* ``fidelity``: a composite to rank methods by, the mean of three terms that are each 0 by chance
  and 1 when perfect: ``spearman``, ``2 (sign_agreement - 0.5)`` (a coin gets half the signs right)
  and ``spatial_correlation`` (:func:`composite`).

A channel counts as *linked* at a lead when its true importance is at least :data:`LINKED_SHARE` of
the largest one's: the truth of a channel many months back (a persistence chain through winter) is
non-zero but so small that its sign is a matter of rounding.

Example
-------
With ``ds`` the emulated Arctic, ``ens`` an ensemble trained on it and ``roi`` a region of interest
(see :mod:`icegrad.pipeline`), two of the methods at one lead:

>>> from icegrad.pipeline import score_methods
>>> run = score_methods(ds, ens, roi, "2013-09", leads=(1,), steps=4,
...                     specs=[("vanilla_gradient", "none"), ("integrated_gradients", "zeros")])
>>> run.scores.groupby("label")["fidelity"].mean().index.tolist()
['integrated_gradients (zeros)', 'vanilla_gradient']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.methods import METHODS
from icegrad.attribution.results import validate_result
from icegrad.attribution.targets import check_leads, forecast_start
from icegrad.variables import MONTHLY_VARIABLES, channel

METHOD_SPECS: tuple[tuple[str, str], ...] = (
    ("vanilla_gradient", "none"),
    ("gradient_x_input", "none"),
    ("integrated_gradients", "zeros"),
    ("integrated_gradients", "climatology"),
    ("smoothgrad", "none"),
)
"""Every method of the book, integrated gradients with each of its baselines."""

SENSITIVITY_METHODS = ("vanilla_gradient", "smoothgrad")
"""Methods that estimate d target / d input (compared with the truth itself, not a contribution)."""
TRUTH_NAMES = {"vanilla_gradient": "sensitivity", "smoothgrad": "sensitivity",
               "gradient_x_input": "gradient x input", "integrated_gradients": "integrated gradients"}
"""The truth each method is scored against on the emulator: the method applied to the optimal forecast."""
IG_BASELINES = ("zeros", "climatology")
"""Integrated-gradients baselines with a truth (see the module docstring on the counterfactual)."""
LINKED_SHARE = 0.01
TOP_K = 5
IG_T_MAX = 20.0
"""The true IG's path variable ``t`` runs to here: ``alpha = 1 - exp(-20)``, the rest is below 1e-8."""
IG_MIN_STEPS = 128
SCORE_COLUMNS = ("spearman", "sign_agreement", "spatial_correlation", "top_recall", "fidelity")


class FidelityError(AttributionError):
    """A fidelity evaluation was asked for something it cannot score (e.g. observed data)."""


def spec_label(method: str, baseline: str = "none") -> str:
    """A short name for a (method, baseline) pair, e.g. ``integrated_gradients (climatology)``."""
    return f"{method} ({baseline})" if method == "integrated_gradients" else method


def matched_kind(method: str) -> str:
    """What a method estimates: ``sensitivity`` for the gradients, else a ``contribution`` (the additive
    benchmark, whose exact contributions are known, scores gradient x input and IG against them)."""
    if method not in METHODS:
        raise FidelityError(f"unknown method {method!r}; choose one of {METHODS}")
    return "sensitivity" if method in SENSITIVITY_METHODS else "contribution"


def channel_scale(stats: xr.Dataset, name: str) -> float | None:
    """``d value / d channel`` (physical units per normalised unit), or None for a channel with no truth.

    SIC channels enter as fractions (scale 1); z-scored channels scale by their variable's ``std``.
    """
    spec = channel(name)
    if spec.kind not in ("abs", "anom") or spec.variable not in MONTHLY_VARIABLES:
        return None
    if spec.variable == "siconca":
        return 1.0
    key = f"{spec.variable}_std"
    if key not in stats:
        raise FidelityError(f"the normalisation statistics lack {key!r}, needed to express the truth for "
                            f"{name} in normalised units; pass the ensemble's stats (ens.stats)")
    return float(stats[key])


def true_channel_sensitivity(ds: xr.Dataset, stats: xr.Dataset, target_month: str, leads: Sequence[int],
                             roi: xr.DataArray, channels: Sequence[str]) -> xr.DataArray:
    """The optimal forecast's exact ``dF / d(normalised channel)`` as ``(lead, channel, y, x)``.

    ``F`` is :class:`icegrad.data.emulator.optimal.OptimalForecast`: the ROI-mean sea-ice probability
    a perfect forecaster would give from the inputs. ``ds`` must be the emulated dataset the ensemble
    was trained on, ``stats`` the ensemble's normalisation statistics; channels ``F`` does not read are
    exactly zero.
    """
    from icegrad.data.emulator import optimal
    from icegrad.data.emulator.errors import EmulatorError
    from icegrad.data.emulator.sensitivity import _roi_weights

    if ds.attrs.get("data_source") != "emulated":
        raise FidelityError(f"a true sensitivity exists only for the emulated Arctic; this dataset's source "
                            f"is {ds.attrs.get('data_source')!r}. Score attributions against the truth with "
                            "data_source='emulated' (the additive benchmark needs no dataset)")
    leads = check_leads(leads)
    scales = {name: channel_scale(stats, name) for name in channels}
    values = np.zeros((len(leads), len(channels), ds.sizes["y"], ds.sizes["x"]))
    try:
        weights = _roi_weights(ds, roi)
        for i, lead in enumerate(leads):
            start = f"{forecast_start(target_month, lead):%Y-%m}"
            _, grads = optimal.forecast(ds, start, lead, weights)
            for j, name in enumerate(channels):
                spec = channel(name)
                key = (spec.variable, spec.lag)
                if scales[name] is not None and key in grads:
                    values[i, j] = grads[key] * scales[name]
    except EmulatorError as err:
        raise FidelityError(f"cannot compute the truth for {target_month}: {err}") from None
    coords = {"lead": ("lead", list(leads), {"units": "months"}), "channel": ("channel", list(channels))}
    coords.update({k: ds[k] for k in ("y", "x", "lat", "lon") if k in ds.coords})
    return xr.DataArray(values, dims=("lead", "channel", "y", "x"), coords=coords, name="true_sensitivity",
                        attrs={"units": "1 per normalised input unit",
                               "long_name": f"exact d(optimal forecast of ROI-mean P(SIC > 0.15), "
                                            f"{target_month}) / d(normalised input)",
                               "source": "SYNTHETIC: ground truth of the icegrad emulated Arctic"})


class OptimalGradients:
    """The optimal forecast's gradient with respect to its input fields at one lead, compiled for the lead
    last asked for.

    Built once per dataset, normalisation, target month and ROI. Only the last lead's compiled TensorFlow
    function is kept: each holds ~45 MiB at 100 km and traces in ~0.4 s (measured), so keeping all six for
    the second baseline's truth held ~260 MiB to save ~2.4 s.
    """

    def __init__(self, ds: xr.Dataset, stats: xr.Dataset, target_month: str, roi: xr.DataArray) -> None:
        from icegrad.data.emulator.sensitivity import _roi_weights

        if ds.attrs.get("data_source") != "emulated":
            raise FidelityError("an integrated-gradients truth exists only for the emulated Arctic; this "
                                f"dataset's source is {ds.attrs.get('data_source')!r}")
        self.ds, self.stats, self.target_month = ds, stats, target_month
        self.weights = _roi_weights(ds, roi)
        self._leads: dict[int, tuple[dict, list, object]] = {}

    def lead(self, lead: int) -> tuple[dict[tuple[str, int], np.ndarray], list[tuple[str, int]], object]:
        """The physical input fields of the lead's forecast, their keys, and ``fields -> gradients``."""
        if lead not in self._leads:
            self._leads.clear()  # the previous lead's function goes before this one is traced
            import tensorflow as tf

            from icegrad.data.emulator import optimal
            from icegrad.data.emulator.tuning import tuning_of

            start = forecast_start(self.target_month, lead)
            model = optimal.OptimalForecast(int(self.ds.attrs["resolution_km"]), int(self.ds.attrs["seed"]),
                                            start, lead, self.weights, tuning_of(self.ds))
            physical = optimal.input_fields(self.ds, start)
            keys = sorted(physical)

            @tf.function(reduce_retracing=True)
            def gradient(*tensors: tf.Tensor) -> list[tf.Tensor]:
                with tf.GradientTape() as tape:
                    tape.watch(tensors)
                    value = model(dict(zip(keys, tensors, strict=True)))
                grads = tape.gradient(value, list(tensors))
                return [tf.zeros_like(t) if g is None else g for g, t in zip(grads, tensors, strict=True)]

            self._leads[lead] = (physical, keys, gradient)
        return self._leads[lead]


def true_integrated_gradients(gradients: OptimalGradients, inputs: xr.DataArray,
                              reference: xr.DataArray | None = None, steps: int = 64) -> xr.DataArray:
    """The optimal forecast's own integrated gradients, ``(lead, channel, y, x)``: the exact IG truth.

    ``inputs`` ``(lead, channel, y, x)`` are the normalised inputs the attribution explains (a result's
    ``input``), ``reference`` the baseline on the same dims (default zero). The path is the book's,
    ``reference + alpha (input - reference)``. ``F`` reads SIC through logit(SIC), whose derivative
    along the path peaks sharply where the path ends at SIC near 1, so the integral substitutes
    ``alpha = 1 - exp(-t)`` (``t`` up to :data:`IG_T_MAX`, ``steps`` midpoint points in ``t``, at least
    :data:`IG_MIN_STEPS`); completeness holds to the quadrature: the sum over channels and cells is
    ``F(input) - F(reference)``. Channels ``F`` does not read are zero.
    """
    import tensorflow as tf

    inputs = inputs.transpose("lead", "channel", "y", "x")
    reference = xr.zeros_like(inputs) if reference is None else reference.transpose(*inputs.dims)
    n = max(int(steps), IG_MIN_STEPS)
    t = (np.arange(n) + 0.5) * IG_T_MAX / n
    alphas, weights_q = 1.0 - np.exp(-t), np.exp(-t) * IG_T_MAX / n
    names = [str(n) for n in inputs["channel"].values]
    scales = {j: channel_scale(gradients.stats, name) for j, name in enumerate(names)}
    out = np.zeros(inputs.shape)
    for i, lead in enumerate(int(v) for v in inputs["lead"].values):
        physical, keys, gradient = gradients.lead(lead)
        read = {j: (channel(name).variable, channel(name).lag) for j, name in enumerate(names)
                if scales[j] is not None and (channel(name).variable, channel(name).lag) in physical}
        x1 = inputs.values[i].astype("float64")
        x0 = reference.values[i].astype("float64")
        total = np.zeros_like(x1)
        for alpha, weight in zip(alphas, weights_q, strict=True):
            point = x0 + alpha * (x1 - x0)
            fields = dict(physical)
            for j, key in read.items():  # v = v_actual + scale * (z - z_actual)
                fields[key] = physical[key] + scales[j] * (point[j] - x1[j])
            grads = dict(zip(keys, gradient(*(tf.constant(fields[k]) for k in keys)), strict=True))
            for j, key in read.items():
                total[j] += weight * grads[key].numpy() * scales[j]
        out[i] = total * (x1 - x0)
    return xr.DataArray(out, dims=inputs.dims, coords=inputs.coords, name="true_integrated_gradients",
                        attrs={"units": "1", "long_name": "integrated gradients of the optimal forecast "
                                                         "(ROI-mean P(SIC > 0.15)) from the reference"})


def matched_truth(result: xr.Dataset, sensitivity: xr.DataArray, gradients: OptimalGradients | None = None,
                  reference: xr.DataArray | None = None, steps: int = IG_MIN_STEPS) -> xr.DataArray:
    """The truth ``result``'s method is scored against, on its leads and channels, ``(lead, channel, y, x)``.

    The method applied to the optimal forecast: the true ``sensitivity`` for vanilla gradients and
    SmoothGrad, ``sensitivity x input`` for gradient x input, and for integrated gradients
    :func:`true_integrated_gradients` along the same path from ``reference`` (``(lead, channel, y,
    x)``, default zero: the zero baseline), which needs ``gradients``.
    """
    method = str(validate_result(result).attrs["method"])
    missing = sorted(set(result["lead"].values.tolist()) - set(sensitivity["lead"].values.tolist()))
    if missing or list(sensitivity["channel"].values) != list(result["channel"].values):
        raise FidelityError(f"the truth does not match the result (leads missing: {missing}, or different "
                            "channels); build it with true_channel_sensitivity for the result's leads "
                            "and channels")
    truth = sensitivity.sel(lead=result["lead"])
    if method == "gradient_x_input":
        return (truth * result["input"].transpose(*truth.dims).values).assign_attrs(
            units="1", long_name="gradient x input of the optimal forecast")
    if method != "integrated_gradients":
        return truth
    baseline = str(result.attrs.get("baseline", "")).split(" (")[0]
    if baseline not in IG_BASELINES:
        raise FidelityError(f"integrated gradients from the {baseline!r} baseline have no truth (the optimal "
                            "forecast conditions on its own year); score baseline 'zeros' or 'climatology'")
    if gradients is None:
        raise FidelityError("an integrated-gradients truth needs the optimal forecast's gradients: pass "
                            "gradients=OptimalGradients(ds, stats, target_month, roi)")
    return true_integrated_gradients(gradients, result["input"], reference, steps)


def _importance(maps: np.ndarray) -> np.ndarray:
    return np.abs(maps).reshape(maps.shape[0], -1).mean(axis=1)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def channel_scores(result: xr.Dataset, truth: xr.DataArray, linked_share: float = LINKED_SHARE,
                   ) -> pd.DataFrame:
    """Per lead and channel: true and attributed importance and net value, linked flag, map correlation."""
    if not 0 < linked_share < 1:
        raise FidelityError(f"linked_share must be a fraction in (0, 1), got {linked_share!r}")
    attribution = validate_result(result)["attribution"].transpose("member", "lead", "channel", "y", "x")
    truth = truth.transpose("lead", "channel", "y", "x")
    if attribution.shape[1:] != truth.shape:
        raise FidelityError(f"truth of shape {truth.shape} does not match the attribution "
                            f"{attribution.shape[1:]}")
    rows = []
    for i, lead in enumerate(attribution["lead"].values):
        # the member mean a lead at a time: of the whole result it held two copies of it (+100 MiB in ch. 9)
        model = attribution.isel(lead=i).mean("member").values.astype(np.float64)
        true = truth.values[i].astype(np.float64)
        true_importance, model_importance = _importance(true), _importance(model)
        linked = true_importance >= linked_share * true_importance.max() if true_importance.max() > 0 \
            else np.zeros(len(true), bool)
        for j, name in enumerate(attribution["channel"].values):
            rows.append({"lead": int(lead), "channel": str(name), "linked": bool(linked[j]),
                         "true_importance": true_importance[j], "importance": model_importance[j],
                         "true_net": true[j].sum(), "net": model[j].sum(),
                         "map_correlation": _pearson(model[j], true[j]) if linked[j] else float("nan")})
    return pd.DataFrame(rows)


def composite(spearman: float, sign_agreement: float, spatial_correlation: float) -> float:
    """The fidelity composite: the mean of three scores that are each 0 by chance and 1 when perfect.

    A coin gets half the signs right, so sign agreement enters as ``2 (sign_agreement - 0.5)``; the
    two correlations are 0 by chance already. NaN terms (no linked channel) are left out.

    >>> composite(1.0, 1.0, 1.0), composite(0.0, 0.5, 0.0), round(composite(0.6, 0.75, 0.3), 3)
    (1.0, 0.0, 0.467)
    """
    terms = [spearman, 2 * (sign_agreement - 0.5), spatial_correlation]
    return float(np.nanmean(terms)) if not np.isnan(terms).all() else float("nan")


def summarise(channels: pd.DataFrame, top_k: int = TOP_K) -> pd.DataFrame:
    """Per-lead scores (see the module docstring) from a :func:`channel_scores` table."""
    rows = []
    for lead, table in channels.groupby("lead", sort=True):
        linked = table[table["linked"]]
        rho = spearmanr(table["importance"], table["true_importance"]).statistic \
            if table["importance"].nunique() > 1 and table["true_importance"].nunique() > 1 else float("nan")
        signs = np.sign(linked["net"]) == np.sign(linked["true_net"])
        k = min(top_k, len(linked))
        true_top = set(table.nlargest(k, "true_importance")["channel"])
        model_top = set(table.nlargest(k, "importance")["channel"])
        row = {"lead": int(lead), "n_linked": len(linked), "spearman": float(rho),
               "sign_agreement": float(signs.mean()) if len(linked) else float("nan"),
               "spatial_correlation": float(linked["map_correlation"].mean()),
               "top_recall": len(true_top & model_top) / k if k else float("nan")}
        row["fidelity"] = composite(row["spearman"], row["sign_agreement"], row["spatial_correlation"])
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class FidelityRun:
    """Everything :func:`icegrad.pipeline.score_methods` computed: tables, the truth and the results."""

    scores: pd.DataFrame
    """One row per (method, baseline, lead): the scores of :func:`summarise` and the truth kind."""
    channels: pd.DataFrame
    """One row per (method, baseline, lead, channel): :func:`channel_scores`."""
    sensitivity: xr.DataArray
    """The true sensitivity ``(lead, channel, y, x)`` in normalised units."""
    results: Mapping[str, xr.Dataset]
    """The attribution results by label (:func:`spec_label`); :func:`icegrad.pipeline.score_methods` gives
    a mapping that reads each from the cache when looked up (hold one at a time)."""
    truths: Mapping[str, xr.DataArray]
    """The truth each label was scored against (:func:`matched_truth`), ``(lead, channel, y, x)``; kept in
    float32 by :func:`icegrad.pipeline.score_methods`, which scores each in float64 first."""


def ranking(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores averaged over leads, one row per method label, best ``fidelity`` first."""
    if "label" not in scores or scores.empty:
        raise FidelityError("ranking needs the scores table of pipeline.score_methods (a 'label' column, "
                            "not empty)")
    table = scores.groupby("label", sort=False)[list(SCORE_COLUMNS)].mean()
    return table.sort_values("fidelity", ascending=False)
