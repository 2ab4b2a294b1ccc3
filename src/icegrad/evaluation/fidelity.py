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
Vanilla gradients and SmoothGrad estimate a *sensitivity* and are compared with the truth itself.
Gradient x input and integrated gradients estimate a *contribution* relative to a reference input
(zero, or the climatological baseline), so they are compared with the first-order true contribution
``truth * (input - reference)`` - exact for a linear rule, an approximation when the reference is far
(the additive benchmark in :mod:`icegrad.evaluation.additive` has an exact answer for both).

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
* ``fidelity``: the unweighted mean of the first three, a single number to rank methods by.

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
TRUTH_KINDS = ("sensitivity", "contribution")
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
    """The truth a method estimates: ``sensitivity`` for the gradients, else ``contribution``."""
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


def true_integrated_gradients(ds: xr.Dataset, stats: xr.Dataset, target_month: str, roi: xr.DataArray,
                              inputs: xr.DataArray, reference: xr.DataArray | None = None,
                              steps: int = 64) -> xr.DataArray:
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

    from icegrad.data.emulator import optimal
    from icegrad.data.emulator.sensitivity import _roi_weights

    if ds.attrs.get("data_source") != "emulated":
        raise FidelityError("an integrated-gradients truth exists only for the emulated Arctic; this "
                            f"dataset's source is {ds.attrs.get('data_source')!r}")
    inputs = inputs.transpose("lead", "channel", "y", "x")
    reference = xr.zeros_like(inputs) if reference is None else reference.transpose(*inputs.dims)
    n = max(int(steps), IG_MIN_STEPS)
    t = (np.arange(n) + 0.5) * IG_T_MAX / n
    alphas, weights_q = 1.0 - np.exp(-t), np.exp(-t) * IG_T_MAX / n
    weights = _roi_weights(ds, roi)
    out = np.zeros(inputs.shape)
    names = [str(n) for n in inputs["channel"].values]
    for i, lead in enumerate(int(v) for v in inputs["lead"].values):
        start = forecast_start(target_month, lead)
        model = optimal.OptimalForecast(int(ds.attrs["resolution_km"]), int(ds.attrs["seed"]), start, lead,
                                        weights)
        physical = optimal.input_fields(ds, start)
        read = {j: (channel(n).variable, channel(n).lag) for j, n in enumerate(names)
                if (channel(n).variable, channel(n).lag) in physical and channel_scale(stats, n) is not None}
        x1 = inputs.values[i].astype("float64")
        x0 = reference.values[i].astype("float64")
        total = np.zeros_like(x1)
        for alpha, weight in zip(alphas, weights_q, strict=True):
            point = x0 + alpha * (x1 - x0)
            fields = {key: tf.constant(value) for key, value in physical.items()}
            for j, key in read.items():  # v = v_actual + scale * (z - z_actual)
                fields[key] = tf.constant(physical[key] + channel_scale(stats, names[j]) * (point[j] - x1[j]))
            with tf.GradientTape() as tape:
                tape.watch(list(fields.values()))
                value = model(fields)
            grads = tape.gradient(value, fields)
            for j, key in read.items():
                if grads[key] is not None:
                    total[j] += weight * grads[key].numpy() * channel_scale(stats, names[j])
        out[i] = total * (x1 - x0)
    return xr.DataArray(out, dims=inputs.dims, coords=inputs.coords, name="true_integrated_gradients",
                        attrs={"units": "1", "long_name": "integrated gradients of the optimal forecast "
                                                         "(ROI-mean P(SIC > 0.15)) from the reference"})


def truth_for(result: xr.Dataset, sensitivity: xr.DataArray, kind: str,
              reference: xr.DataArray | None = None) -> xr.DataArray:
    """The truth of ``kind`` on the result's leads and channels, ``(lead, channel, y, x)``.

    ``contribution`` multiplies the sensitivity by ``input - reference`` (the result's own input;
    ``reference`` ``(lead, channel, y, x)`` defaults to zero, gradient x input's and the zero
    baseline's reference).
    """
    if kind not in TRUTH_KINDS:
        raise FidelityError(f"unknown truth kind {kind!r}; choose one of {TRUTH_KINDS}")
    missing = sorted(set(result["lead"].values.tolist()) - set(sensitivity["lead"].values.tolist()))
    if missing or list(sensitivity["channel"].values) != list(result["channel"].values):
        raise FidelityError(f"the truth does not match the result (leads missing: {missing}, or different "
                            "channels); build it with true_channel_sensitivity for the result's leads "
                            "and channels")
    truth = sensitivity.sel(lead=result["lead"])
    if kind == "sensitivity":
        return truth
    delta = result["input"] if reference is None else result["input"] - reference
    return (truth * delta.transpose(*truth.dims).values).assign_attrs(
        units="1", long_name="first-order true contribution relative to the reference input")


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
    attribution = validate_result(result)["attribution"].mean("member").transpose("lead", "channel", "y", "x")
    truth = truth.transpose("lead", "channel", "y", "x")
    if attribution.shape != truth.shape:
        raise FidelityError(f"truth of shape {truth.shape} does not match the attribution "
                            f"{attribution.shape}")
    rows = []
    for i, lead in enumerate(attribution["lead"].values):
        model, true = attribution.values[i].astype(np.float64), truth.values[i].astype(np.float64)
        true_importance, model_importance = _importance(true), _importance(model)
        linked = true_importance >= linked_share * true_importance.max() if true_importance.max() > 0 \
            else np.zeros(len(true), bool)
        for j, name in enumerate(attribution["channel"].values):
            rows.append({"lead": int(lead), "channel": str(name), "linked": bool(linked[j]),
                         "true_importance": true_importance[j], "importance": model_importance[j],
                         "true_net": true[j].sum(), "net": model[j].sum(),
                         "map_correlation": _pearson(model[j], true[j]) if linked[j] else float("nan")})
    return pd.DataFrame(rows)


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
        row["fidelity"] = float(np.nanmean([row["spearman"], row["sign_agreement"],
                                            row["spatial_correlation"]]))
        rows.append(row)
    return pd.DataFrame(rows)


def score(result: xr.Dataset, sensitivity: xr.DataArray, truth: str = "matched",
          reference: xr.DataArray | None = None, linked_share: float = LINKED_SHARE) -> pd.DataFrame:
    """Per-lead scores of one attribution result against the truth (``matched`` picks the method's kind)."""
    method = str(validate_result(result).attrs["method"])
    kind = matched_kind(method) if truth == "matched" else truth
    table = summarise(channel_scores(result, truth_for(result, sensitivity, kind, reference), linked_share))
    return table.assign(truth=kind)


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
    """The attribution results by label (:func:`spec_label`)."""
    references: Mapping[str, xr.DataArray | None]
    """The reference input of each label's contribution truth (None: zero)."""

    def truth(self, label: str) -> xr.DataArray:
        """The truth the method behind ``label`` is scored against."""
        result = self.results[label]
        kind = matched_kind(result.attrs["method"])
        return truth_for(result, self.sensitivity, kind, self.references[label])


def ranking(scores: pd.DataFrame) -> pd.DataFrame:
    """Scores averaged over leads, one row per method label, best ``fidelity`` first."""
    if "label" not in scores or scores.empty:
        raise FidelityError("ranking needs the scores table of pipeline.score_methods (a 'label' column, "
                            "not empty)")
    table = scores.groupby("label", sort=False)[list(SCORE_COLUMNS)].mean()
    return table.sort_values("fidelity", ascending=False)
