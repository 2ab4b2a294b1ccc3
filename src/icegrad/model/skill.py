"""Forecast skill of an IceNet ensemble against the two baselines IceNet was compared with.

Two metrics per lead month, on the test years, as in Andersson et al. (2021):

* **binary accuracy** (%): a cell is forecast as ice when the sea-ice probability
  P(marginal) + P(full) exceeds 0.5, observed as ice when its SIC exceeds 0.15; the share of correct
  cells is weighted by IceNet's sample weights, so it counts only the active region (cells that held
  ice in that calendar month in some training year) and every month equally;
* **sea-ice-extent error** (million km^2): mean absolute difference between forecast and observed
  extent, summed over the grid's true cell areas (land excluded). As in IceNet, every forecast is
  open water outside the active region: a network is never trained there (its sample weight is zero),
  so whatever it outputs in those cells is not a forecast.

:func:`headline` condenses them into the figures the book and ``benchmarks/science.py`` state: binary
accuracy per lead of the ensemble, the trend and persistence; the ensemble's mean gain over the trend
with a paired bootstrap interval over forecasts (start months, resampled with all their leads, the
same draw for both models); and the September-extent RMSE (million km^2) of every model.

The baselines are the inputs' own SIC channels, not recomputed, so they are exactly what the network
saw: the linear-trend forecast ``siconca_linear_trend_<lead>`` and persistence of the last observed
month ``siconca_abs_1``, each thresholded at SIC > 0.15.

On the emulated Arctic a fourth forecast exists: the **optimal** one, P(SIC > 0.15 | the network's
inputs) in closed form (:func:`icegrad.data.emulator.optimal.probability_maps`), the best any forecaster
can do from what the network sees. ``held_out_forecasts(..., optimal=True)`` scores it beside the others
with the same cells and weights; :func:`ceiling` says how much gain over the trend it leaves attainable
and how much of it the ensemble realises. A real product has no optimal forecast, hence no ceiling.

Example
-------
With ``ens`` an ensemble and ``ds`` its data (see :mod:`icegrad.pipeline`), here on one test year:

>>> skill = evaluate_skill(ens, ds, years=(2019, 2019))
>>> table = skill_table(skill).query("lead == 1")
>>> sorted(table["model"].unique()), "binary_accuracy" in set(table["metric"])
(['icenet', 'linear_trend', 'persistence'], True)
>>> top = headline(held_out_forecasts(ens, ds, years=(2019, 2019)), n_boot=200)
>>> top.ci[0] <= top.gain <= top.ci[1], sorted(top.extent_rmse)
(True, ['icenet', 'linear_trend', 'persistence'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data.emulator.optimal import probability_maps
from icegrad.diagnostics import EXTENT_THRESHOLD
from icegrad.errors import IcegradError
from icegrad.inputs import build as network_inputs
from icegrad.inputs.splits import Splits
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.variables import N_LEADS, SIC_CLASSES

ICE_CLASSES = list(SIC_CLASSES[1:])
PROBABILITY_THRESHOLD = 0.5
BASELINE_CHANNELS = ("siconca_abs_1", *(f"siconca_linear_trend_{k}" for k in range(1, 7)))
SEPTEMBER = 9
OPTIMAL = "optimal"
"""The emulated Arctic's optimal forecast, as a model name in forecasts and scores."""
TARGET_GAIN = 1.0
"""The mean gain over the linear trend (points of binary accuracy) issue #13 asks of the ensemble."""


class SkillError(IcegradError):
    """Forecasts and observations that cannot be scored together."""


def sea_ice_probability(probabilities: xr.DataArray) -> xr.DataArray:
    """P(SIC > 0.15) = P(marginal) + P(full) from class probabilities ``(..., class, lead)``."""
    out = probabilities.sel({"class": ICE_CLASSES}).sum("class")
    out.name = "sea_ice_probability"
    out.attrs = {"units": "1", "long_name": "sea ice probability, P(SIC > 0.15)"}
    return out


def observed_ice(targets: xr.Dataset) -> xr.DataArray:
    """Whether each target cell holds ice, ``(time, y, x, lead)``: SIC > 0.15, a marginal or full class."""
    return targets["targets"].sel({"class": ICE_CLASSES}).sum("class") > 0.5


def binary_accuracy(sip: np.ndarray, observed: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Binary accuracy (%) per lead of P(SIC > 0.15) ``sip`` against ``observed`` ice, over active cells.

    All three are ``(time, y, x, lead)`` arrays; ``weight`` is IceNet's sample weight, zero outside the
    active region. This is the one definition of the score: :func:`skill_scores` applies it to labelled
    forecasts, and permute-and-predict to hundreds of plain forecast arrays, for which wrapping each in
    xarray cost more than the scoring itself.
    """
    predicted = (sip > PROBABILITY_THRESHOLD) & (weight > 0)
    correct = (predicted == observed).astype("float64")
    return 100 * (correct * weight).sum(axis=(0, 1, 2)) / weight.sum(axis=(0, 1, 2))


def baseline_forecasts(inputs: xr.DataArray, n_leads: int) -> dict[str, xr.DataArray]:
    """Binary ice forecasts ``(time, y, x, lead)`` of the linear-trend and persistence baselines."""
    missing = [c for c in BASELINE_CHANNELS[: n_leads + 1] if c not in inputs["channel"].values]
    if missing:
        raise SkillError(f"inputs lack the baseline channel(s) {missing}; build them with "
                         "icegrad.inputs.build.build_inputs(..., channels=BASELINE_CHANNELS)")
    leads = xr.DataArray(np.arange(1, n_leads + 1), dims="lead", name="lead")
    trend = xr.concat([inputs.sel(channel=f"siconca_linear_trend_{k}", drop=True) for k in leads.values],
                      dim=leads)
    persistence = inputs.sel(channel="siconca_abs_1", drop=True).expand_dims(lead=leads)
    return {name: (field > EXTENT_THRESHOLD).astype("float32").transpose("time", "y", "x", "lead")
            for name, field in (("linear_trend", trend), ("persistence", persistence))}


def skill_scores(forecasts: Mapping[str, xr.DataArray], targets: xr.Dataset) -> xr.Dataset:
    """Binary accuracy and SIE error ``(model, lead)`` of sea-ice probability forecasts.

    ``forecasts`` maps a model name to P(SIC > 0.15) (or a 0/1 forecast) ``(time, y, x, lead)``;
    ``targets`` is :func:`icegrad.inputs.build.build_targets`'s output for the same start months.
    """
    observed = observed_ice(targets)
    weight = targets["sample_weight"].transpose(*observed.dims)
    active = weight > 0
    if float(weight.sum()) <= 0:
        raise SkillError("the targets' sample weights are all zero: no active cells to score")
    ocean = ~targets["land"] if "land" in targets.coords else xr.ones_like(observed.isel(time=0, lead=0))
    area = grid.ease2_grid(grid.resolution_of(targets))["cell_area"].drop_vars(["lat", "lon", "crs"])
    observed_extent = (observed.where(ocean, False) * area).sum(("y", "x")) / 1e6
    accuracy, sie_error = [], []
    for name, sip in forecasts.items():
        if sip.sizes != observed.sizes or sip.sizes["time"] == 0:
            raise SkillError(f"forecast {name!r} has sizes {dict(sip.sizes)}; the targets have "
                             f"{dict(observed.sizes)} (time, y, x, lead must match)")
        sip = sip.transpose(*observed.dims)
        accuracy.append(xr.DataArray(binary_accuracy(sip.values, observed.values, weight.values), dims="lead",
                                     coords={"lead": observed["lead"]}))
        predicted = (sip > PROBABILITY_THRESHOLD).assign_coords(observed.coords) & active
        extent = (predicted.where(ocean, False) * area).sum(("y", "x")) / 1e6
        sie_error.append(abs(extent - observed_extent).mean("time"))
    models = xr.DataArray(list(forecasts), dims="model", name="model")
    out = xr.Dataset({
        "binary_accuracy": xr.concat(accuracy, dim=models).assign_attrs(
            units="%", long_name="binary accuracy of P(SIC > 0.15) > 0.5 over the active region"),
        "sie_error": xr.concat(sie_error, dim=models).assign_attrs(
            units="1e6 km2", long_name="mean absolute sea ice extent error"),
    })
    out["lead"].attrs = {"long_name": "lead time", "units": "months"}
    out.attrs = {"n_forecasts": int(observed.sizes["time"]),
                 "first_start": f"{pd.Timestamp(observed.time.values[0]):%Y-%m}",
                 "last_start": f"{pd.Timestamp(observed.time.values[-1]):%Y-%m}",
                 "data_source": str(targets.attrs.get("data_source", "unknown"))}
    return out


@dataclass(frozen=True)
class HeldOut:
    """Forecasts of the held-out (test) years by the ensemble and both baselines, with their targets."""

    forecasts: dict[str, xr.DataArray]
    """P(SIC > 0.15) of the ensemble mean (``icenet``), 0/1 forecasts of the baselines, and, when asked for
    on the emulated Arctic, the optimal forecast's P(SIC > 0.15) (``optimal``), ``(time, y, x, lead)``."""
    targets: xr.Dataset
    """:func:`icegrad.inputs.build.build_targets` for the same start months."""
    years: tuple[int, int]
    members: int


def held_out_forecasts(ensemble: IceNetEnsemble, ds: xr.Dataset, years: tuple[int, int] | None = None,
                       *, batch_size: int = 4, optimal: bool = False) -> HeldOut:
    """The ensemble's and the baselines' forecasts of ``years`` (default: the test split) and the targets.

    The start months are those of the years whose targets all lie in ``ds``. ``optimal`` adds the
    emulated Arctic's optimal forecast (:data:`OPTIMAL`) when ``ds`` is emulated; a real product has none,
    and its forecasts stay the ensemble's and the baselines'.
    """
    splits = ensemble.manifest.get("splits") or {}
    train_years = tuple(splits.get("train", Splits().train))
    years = tuple(years or splits.get("test", Splits().test))
    n_leads = ensemble.members[0].output_shape[-1]
    starts = held_out_starts(ds, years, n_leads)
    inputs = network_inputs.build_inputs(ds, starts, ensemble.stats, list(ensemble.channels))
    targets = network_inputs.build_targets(ds, starts, n_leads, train_years=train_years)
    probabilities = ensemble.predict(inputs, mean=True, batch_size=batch_size)
    forecasts = {"icenet": sea_ice_probability(probabilities),
                 **reference_forecasts(ds, starts, ensemble.stats, n_leads, optimal=optimal)}
    return HeldOut(forecasts, targets, (int(years[0]), int(years[1])), len(ensemble))


def held_out_starts(ds: xr.Dataset, years: tuple[int, int], n_leads: int = N_LEADS) -> pd.DatetimeIndex:
    """The start months of ``years`` (first, last) whose ``n_leads`` targets all lie in ``ds``; a
    :class:`SkillError` naming the fix when there are none, so a caller can check years before it loads a
    network."""
    starts = network_inputs.available_start_months(ds, n_leads)
    starts = starts[(starts.year >= years[0]) & (starts.year <= years[1])]
    if len(starts) == 0:
        raise SkillError(f"no forecast start month in {years[0]}-{years[1]} has {n_leads} months of "
                         "observations in the dataset; choose years the data covers")
    return starts


def reference_forecasts(ds: xr.Dataset, starts: pd.DatetimeIndex, stats: xr.Dataset, n_leads: int, *,
                        optimal: bool = False) -> dict[str, xr.DataArray]:
    """What a network's forecasts from ``starts`` are measured against: the baselines
    (:func:`baseline_forecasts`, from inputs normalised by ``stats``) and, if ``optimal`` and ``ds`` is
    emulated, the emulated Arctic's optimal forecast (:data:`OPTIMAL`); a real product has none."""
    baseline_inputs = network_inputs.build_inputs(ds, starts, stats, list(BASELINE_CHANNELS))
    forecasts = baseline_forecasts(baseline_inputs, n_leads)
    if optimal and ds.attrs.get("data_source") == "emulated":
        forecasts[OPTIMAL] = probability_maps(ds, starts, range(1, n_leads + 1))
    return forecasts


def evaluate_skill(ensemble: IceNetEnsemble, ds: xr.Dataset, years: tuple[int, int] | None = None,
                   *, batch_size: int = 4) -> xr.Dataset:
    """Skill ``(model, lead)`` of the ensemble mean and both baselines on ``years`` (default: the test split).

    The start months are those of the test years whose targets all lie in ``ds``.
    """
    return skill_of(held_out_forecasts(ensemble, ds, years, batch_size=batch_size))


def skill_of(held: HeldOut) -> xr.Dataset:
    """:func:`skill_scores` of held-out forecasts, with the years and the ensemble size as attributes."""
    out = skill_scores(held.forecasts, held.targets)
    out.attrs.update({"years": f"{held.years[0]}-{held.years[1]}", "members": held.members,
                      "icenet_forecast": "ensemble mean of the members' class probabilities"})
    return out


def _scored(sip: xr.DataArray, targets: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Per forecast ``(time, lead)``: weighted correct cells, weights, and forecast minus observed extent."""
    observed = observed_ice(targets)
    weight = targets["sample_weight"]
    predicted = (sip.transpose(*observed.dims) > PROBABILITY_THRESHOLD).assign_coords(observed.coords)
    predicted = predicted & (weight > 0)
    correct = ((predicted == observed) * weight).sum(("y", "x"))
    ocean = ~targets["land"] if "land" in targets.coords else xr.ones_like(observed.isel(time=0, lead=0))
    area = grid.ease2_grid(grid.resolution_of(targets))["cell_area"].drop_vars(["lat", "lon", "crs"])
    extent = ((predicted.where(ocean, False) * area).sum(("y", "x"))
              - (observed.where(ocean, False) * area).sum(("y", "x"))) / 1e6
    return correct, weight.sum(("y", "x")), extent


def paired_bootstrap(correct: np.ndarray, weight: np.ndarray, n_boot: int = 2000, seed: int = 0,
                     level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean-over-leads accuracy gain of model 0 over model 1 (points) and its bootstrap interval.

    ``correct`` ``(2, time, lead)`` and ``weight`` ``(time, lead)`` from the scored forecasts; each draw
    resamples the start months with replacement, the same months for both models (paired), and
    recomputes each lead's weighted accuracy as :func:`skill_scores` does.

    >>> w = np.ones((4, 2))
    >>> gain, (lo, hi) = paired_bootstrap(np.stack([w, 0.5 * w]), w, n_boot=100)
    >>> gain, lo, hi
    (50.0, 50.0, 50.0)
    """
    if n_boot < 1 or not 0 < level < 1:
        raise SkillError(f"need n_boot >= 1 and 0 < level < 1, got {n_boot} and {level}")

    def gain(index: np.ndarray) -> np.ndarray:
        total = weight[index].sum(axis=-2)
        accuracy = 100 * correct[:, index].sum(axis=-2) / total
        return (accuracy[0] - accuracy[1]).mean(axis=-1)

    draws = np.random.default_rng(seed).integers(0, weight.shape[0], (n_boot, weight.shape[0]))
    samples = np.array([gain(index) for index in draws])
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(gain(np.arange(weight.shape[0]))), (float(low), float(high))


@dataclass(frozen=True)
class Headline:
    """The skill figures the book and ``benchmarks/science.py`` state (accuracy in %, extent in 1e6 km2)."""

    accuracy: pd.DataFrame
    """Binary accuracy per lead (rows) and model (columns)."""
    gain: float
    """Ensemble minus trend, mean over leads, percentage points."""
    ci: tuple[float, float]
    """Paired bootstrap interval of ``gain`` over forecasts."""
    level: float
    extent_rmse: dict[str, float]
    """RMSE of each model's September extent over the forecasts that target a September."""
    n_forecasts: int
    n_september: int
    """Forecasts (start month and lead) whose target month is September."""
    years: tuple[int, int]
    attainable_ci: tuple[float, float] | None = None
    """Paired bootstrap interval of the optimal forecast's mean gain over the trend (same draws as ``ci``),
    when the forecasts hold the optimal one."""

    @property
    def mean(self) -> pd.Series:
        """Mean binary accuracy over the leads, by model."""
        return self.accuracy.mean()


def headline(held: HeldOut, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Headline:
    """Accuracy per lead, the ensemble's gain over the trend with its interval, September-extent RMSE."""
    parts = {name: _scored(sip, held.targets) for name, sip in held.forecasts.items()}
    weight = next(iter(parts.values()))[1]
    accuracy = pd.DataFrame({name: (100 * c.sum("time") / w.sum("time")).to_series()
                             for name, (c, w, _) in parts.items()})
    weights = weight.transpose("time", "lead").values

    def versus_trend(name: str) -> tuple[float, tuple[float, float]]:
        correct = np.stack([parts[m][0].transpose("time", "lead").values for m in (name, "linear_trend")])
        return paired_bootstrap(correct, weights, n_boot, seed, level)

    gain, ci = versus_trend("icenet")
    attainable_ci = versus_trend(OPTIMAL)[1] if OPTIMAL in parts else None
    starts = pd.DatetimeIndex(held.targets["time"].values)
    leads = held.targets["lead"].values
    september = np.array([[(start + pd.DateOffset(months=int(lead) - 1)).month == SEPTEMBER for lead in leads]
                          for start in starts])
    if not september.any():
        raise SkillError(f"no forecast of {held.years[0]}-{held.years[1]} targets a September; score years "
                         "whose Septembers the data cover")
    rmse = {name: float(np.sqrt((error.transpose("time", "lead").values[september] ** 2).mean()))
            for name, (_, _, error) in parts.items()}
    return Headline(accuracy, gain, ci, level, rmse, int(starts.size), int(september.sum()), held.years,
                    attainable_ci)


@dataclass(frozen=True)
class Ceiling:
    """What the best possible forecast scores on the same forecasts, cells and weights as the ensemble."""

    accuracy: pd.DataFrame
    """Binary accuracy (%) per lead (rows) of the optimal forecast, the ensemble and the trend (columns)."""
    attainable: float
    """Optimal minus trend, mean over leads (points): the most any forecaster could gain over the trend."""
    attainable_ci: tuple[float, float]
    """Paired bootstrap interval of ``attainable`` over forecasts."""
    gain: float
    """Ensemble minus trend, mean over leads (points)."""
    extent_rmse: dict[str, float]
    """September-extent RMSE (million km2) of the optimal forecast, the ensemble and the trend."""

    @property
    def reachable(self) -> bool:
        """Whether even the optimal forecast gains :data:`TARGET_GAIN` points or more over the trend."""
        return self.attainable >= TARGET_GAIN

    @property
    def leads_reachable(self) -> int:
        """The leads at which the optimal forecast gains :data:`TARGET_GAIN` points or more over the trend."""
        return int((self.accuracy[OPTIMAL] - self.accuracy["linear_trend"] >= TARGET_GAIN).sum())

    @property
    def realised(self) -> float:
        """The share of the attainable gain the ensemble realises (NaN when no gain is attainable)."""
        return self.gain / self.attainable if self.attainable > 0 else float("nan")


def ceiling(top: Headline) -> Ceiling | None:
    """The optimal forecast's skill beside the ensemble's and the trend's, or None when ``top`` holds no
    optimal forecast (a real product has none: only the emulated Arctic's is known)."""
    if OPTIMAL not in top.accuracy or top.attainable_ci is None:
        return None
    models = [OPTIMAL, "icenet", "linear_trend"]
    accuracy = top.accuracy[models]
    mean = accuracy.mean()
    return Ceiling(accuracy, float(mean[OPTIMAL] - mean["linear_trend"]), top.attainable_ci, top.gain,
                   {name: top.extent_rmse[name] for name in models})


def skill_table(skill: xr.Dataset) -> pd.DataFrame:
    """A tidy table (one row per model, lead and metric) with the metric's units."""
    rows = []
    for metric, var in skill.data_vars.items():
        frame = var.to_dataframe(name="value").reset_index()[["model", "lead", "value"]]
        rows.append(frame.assign(metric=metric, units=var.attrs.get("units", "")))
    return pd.concat(rows, ignore_index=True)[["model", "lead", "metric", "value", "units"]]
