"""The best forecast: what a perfect IceNet would compute from its inputs, exactly, in TensorFlow.

For a forecast started in month ``s`` (inputs up to month ``s - 1``) at lead ``l`` (target month
``T = s + l - 1``), the book differentiates the ROI-mean sea-ice probability. The optimal forecast of
that target from the network's inputs ``x`` (and the calendar, which fixes the forcing) is

    F(x) = sum_c w_c P(SIC_c(T) > 0.15 | x) = sum_c w_c Phi((b_c(T) + mu_c(x) - logit 0.15) / s_c(T))

because the rule (:mod:`icegrad.data.emulator.sea_ice`) is linear-Gaussian before the logistic:

* the anomaly now is read off the inputs: ``a(s-1) = logit(SIC(s-1)) - b(s-1)``;
* the driver anomalies of months ``s-1`` and ``s-2`` are read off their fields (field minus the known
  climatological part, :func:`icegrad.data.emulator.simulate.climatological_fields`); the links reach
  back at most two months, so the inputs hold every past driver the target depends on;
* future driver anomalies are forecast by their AR(1): ``E[d(t)] = sd(t) phi^(t-s+1) d(s-1)/sd(s-1)``;
* ``mu(x)`` runs the rule's mean recursion (memory, drift, links) from ``s`` to ``T`` with those;
* ``s(T)^2`` is the variance of everything not yet known (future driver and ice innovations, the
  events included, which no forecaster can foresee), exact from the random-wave bases, independent of
  ``x``. The innovations of month ``m`` reach ``T`` the same way whatever the start, so their share is
  computed once per month (:func:`innovation_variance`) and every start and lead sums the shares of the
  months from ``s`` to ``T``.

:meth:`OptimalForecast.probability` is the per-cell ``P(SIC_c(T) > 0.15 | x)``, the best any forecaster can
say of each cell; ``F`` is its ROI-weighted sum. :func:`probability_maps` gives it for many starts and
leads, the ceiling a network's skill is measured against (:mod:`icegrad.model.skill`).

Every other channel (older SIC, other variables, the trend forecasts) adds nothing given these: the
rule is Markov in ``(a, d)`` and the unlinked fields are functions of linked ones plus independent
noise. Their true sensitivity is exactly zero.

:func:`monte_carlo` simulates many futures of the generator itself from the same start, the
independent check of ``F``.

Everything here uses the rule of one :class:`~icegrad.data.emulator.tuning.Tuning`: the one a dataset
records (:func:`~icegrad.data.emulator.tuning.tuning_of`) for the functions that take a dataset, the
``tuning`` argument of :class:`OptimalForecast`, so a tuned Arctic is never forecast by the default rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
import tensorflow as tf
import xarray as xr
from scipy import sparse

from icegrad.config import LEADS
from icegrad.data.emulator import sea_ice
from icegrad.data.emulator.drivers import DRIVER_BY_NAME, wave_basis
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.links import LINKED_DRIVERS, MAX_LAG
from icegrad.data.emulator.rule import Rule, rule
from icegrad.data.emulator.simulate import climatological_fields
from icegrad.data.emulator.tuning import DEFAULT, Tuning, tuning_of

INPUT_MONTHS = (1, 2)
"""Months before the start (input lags) the optimal forecast reads."""
RANDOM = (*LINKED_DRIVERS, "ice")
THRESHOLD_LOGIT = float(np.log(sea_ice.SIC_THRESHOLD / (1.0 - sea_ice.SIC_THRESHOLD)))
HORIZON = max(LEADS)
"""Months ahead each month's innovations are followed (the longest lead), so one cached share serves all."""


def _year_month(stamp: pd.Timestamp) -> tuple[int, int]:
    return int(stamp.year), int(stamp.month)


class OptimalForecast:
    """``F`` for one start month, lead and ROI on one grid; call it on the input fields (physical units).

    ``weights`` is the ROI's ``(y, x)`` area weight summing to one (None when only the per-cell
    :meth:`probability` is wanted); ``seed`` the realisation's (it fixes the random-wave bases, hence the
    spatial covariance of the innovations); ``tuning`` the rule's (the dataset's ``emulator_tuning``).
    """

    def __init__(self, resolution_km: int, seed: int, start: str | pd.Timestamp, lead: int,
                 weights: np.ndarray | None = None, tuning: Tuning = DEFAULT) -> None:
        self.rule: Rule = rule(resolution_km, tuning)
        self.start = pd.Timestamp(start).to_period("M").to_timestamp()
        self.lead = int(lead)
        self.weights = None if weights is None else np.asarray(weights, dtype="float64")
        self.inputs = {k: _year_month(self.start - pd.DateOffset(months=k)) for k in INPUT_MONTHS}
        self.future = [_year_month(self.start + pd.DateOffset(months=j)) for j in range(self.lead)]
        self.bases = random_bases(resolution_km, seed)
        horizon = max(self.lead, HORIZON)
        variance = sum(innovation_variance(resolution_km, seed, *month, horizon, tuning)[self.lead - 1 - j]
                       for j, month in enumerate(self.future))
        self.sd_target = np.sqrt(np.maximum(variance.reshape(self.rule.lat.shape), 1e-12))
        self.base_target = self.rule.base(*self.future[-1])

    # --- the mean: a differentiable function of the inputs -------------------------------------

    def __call__(self, fields: dict[tuple[str, int], tf.Tensor]) -> tf.Tensor:
        """F from ``fields[(variable, k)]``: the ``(y, x)`` field of month ``s - k`` (SIC as a fraction)."""
        if self.weights is None:
            raise EmulatorError("this optimal forecast has no ROI weights; pass weights to OptimalForecast "
                                "for the ROI mean, or call .probability(fields) for the per-cell map")
        return tf.reduce_sum(self.weights * self.probability(fields))

    def probability(self, fields: dict[tuple[str, int], tf.Tensor]) -> tf.Tensor:
        """``P(SIC(T) > 0.15 | inputs)`` per cell, ``(y, x)``, from the same ``fields`` as the call."""
        r = self.rule
        ocean = tf.constant(r.ocean)
        observed = {}
        for k, (year, month) in self.inputs.items():
            sic = tf.cast(fields[("siconca", k)], tf.float64)
            clim = climatological_fields(r, np.zeros(r.lat.shape), year, month)
            for name in LINKED_DRIVERS:
                value = tf.cast(fields[(name, k)], tf.float64) - clim[name]
                if name == "tos":  # the freezing-point blend uses the SIC the forecaster sees
                    value = value - sic * (sea_ice_freeze_kelvin() - clim["tos"])
                observed[(name, -k)] = value
        year, month = self.inputs[1]
        p = tf.clip_by_value(tf.cast(fields[("siconca", 1)], tf.float64), 1e-7, 1.0 - 1e-7)
        a = ocean * (tf.math.log(p) - tf.math.log1p(-p) - r.base(year, month))
        z_now = {name: observed[(name, -1)] / np.maximum(r.driver_std(name, year, month), 1e-12)
                 for name in LINKED_DRIVERS if r.drivers[name].phi > 0}
        means = dict(observed)
        for j, (fy, fm) in enumerate(self.future):
            for name in LINKED_DRIVERS:
                phi = r.drivers[name].phi
                means[(name, j)] = (r.driver_std(name, fy, fm) * phi ** (j + 1) * z_now[name]) if phi > 0 \
                    else 0.0
            total = r.memory[fm - 1] * _advect_tf(a, r.months[fm - 1].drift)
            for lk, weight in r.links:
                if fm in lk.months:
                    total = total + weight * means[(lk.variable, j - lk.lag)]
            a = ocean * total
        z = (self.base_target + a - THRESHOLD_LOGIT) / self.sd_target
        return 0.5 * (1.0 + tf.math.erf(z / np.sqrt(2.0)))


# --- the spread: what nobody knows yet ------------------------------------------------------------

@lru_cache(maxsize=1)
def random_bases(resolution_km: int, seed: int) -> dict[str, np.ndarray]:
    """The random-wave bases ``(cells, waves)`` of every innovation (cached for one grid and realisation, the
    run's: each start reuses them; 54 MB at 100 km). They are unit-variance fields, the same under every
    tuning (which scales them, in :func:`innovation_variance`), so the cache needs no tuning in its key."""
    r = rule(resolution_km)
    bases = {name: wave_basis(DRIVER_BY_NAME[name], r.x_km, r.y_km, seed) for name in RANDOM}
    for basis in bases.values():
        basis.flags.writeable = False  # shared by every caller
    return bases


@lru_cache(maxsize=48)
def _memory_matrix(resolution_km: int, month: int, tuning: Tuning) -> sparse.csr_matrix:
    """One month of the rule's memory on the anomaly, ``ocean * rho * advect(.)``, as a sparse
    ``(cells, cells)`` matrix (cached for two tunings' twelve months at two resolutions)."""
    r = rule(resolution_km, tuning)
    index, weight = r.months[month - 1].drift
    rows = np.repeat(np.arange(index.shape[0]), index.shape[1])
    values = (r.memory[month - 1] * r.ocean.reshape(-1, 1) * weight).ravel()
    return sparse.csr_matrix((values, (rows, index.ravel())), shape=(index.shape[0],) * 2)


@lru_cache(maxsize=16)
def innovation_variance(resolution_km: int, seed: int, year: int, month: int, horizon: int,
                        tuning: Tuning = DEFAULT) -> np.ndarray:
    """Var of the anomaly ``a`` that month ``(year, month)``'s innovations cause ``i`` months later,
    ``(horizon, cells)`` for ``i = 0 .. horizon - 1``, summed over every innovation's random-wave amplitudes.

    The innovations of a month reach a later month the same way whatever the forecast's start, so a
    forecast's ``s(T)^2`` is the sum of these shares over the months from its start to ``T``. Cached: the
    starts of a run share most of their months (a run in time order needs :data:`HORIZON` at a time).
    The tuning is part of the key: it sets the memory, the ice innovation and the links' strength.
    """
    r = rule(resolution_km, tuning)
    bases = random_bases(resolution_km, seed)
    first = pd.Timestamp(year=year, month=month, day=1)
    months = [_year_month(first + pd.DateOffset(months=i)) for i in range(horizon)]
    out = np.zeros((horizon, r.lat.size))
    for name in RANDOM:
        phi = r.drivers[name].phi
        response = None  # zero until the innovation first reaches the ice
        for i, (fy, fm) in enumerate(months):
            if name == "ice":  # the ice's own innovation enters once, in its month
                entry = r.driver_std("ice", fy, fm) if i == 0 else 0.0
            else:  # a driver's innovation, carried by its AR(1), enters through every link that acts
                entry = sum((weight * r.driver_std(name, *months[i - lk.lag]) * phi ** (i - lk.lag)
                             * np.sqrt(1 - phi**2) for lk, weight in r.links
                             if lk.variable == name and fm in lk.months and i >= lk.lag), 0.0)
            if response is not None:
                response = _memory_matrix(resolution_km, fm, tuning) @ response
            if np.any(entry):
                term = (r.ocean * entry).reshape(-1, 1) * bases[name]
                response = term if response is None else response + term
            if response is not None:
                out[i] += np.einsum("ij,ij->i", response, response)
    out.flags.writeable = False  # shared by every caller
    return out


def sea_ice_freeze_kelvin() -> float:
    """The freezing point of sea water (K) the SST shows under the ice."""
    from icegrad.data.emulator.climate import KELVIN, T_FREEZE_C
    return T_FREEZE_C + KELVIN


def _advect_tf(field: tf.Tensor, operator: tuple[np.ndarray, np.ndarray]) -> tf.Tensor:
    index, weight = operator
    moved = tf.reduce_sum(tf.gather(tf.reshape(field, [-1]), index) * weight, axis=1)
    return tf.reshape(moved, tf.shape(field))


def input_fields(ds: xr.Dataset, start: str | pd.Timestamp) -> dict[tuple[str, int], np.ndarray]:
    """The fields the optimal forecast reads, from an emulated dataset (land as the inputs have it: 0)."""
    start = pd.Timestamp(start).to_period("M").to_timestamp()
    out = {}
    for k in INPUT_MONTHS:
        month = start - pd.DateOffset(months=k)
        for name in ("siconca", *LINKED_DRIVERS):
            try:
                values = ds[name].sel(time=month).values
            except KeyError:
                raise EmulatorError(f"the dataset lacks {name} for {month:%Y-%m}, an input of the forecast "
                                    f"started {start:%Y-%m}; generate from an earlier start") from None
            out[(name, k)] = np.nan_to_num(np.asarray(values, dtype="float64").squeeze())
    return out


def probability_maps(ds: xr.Dataset, starts: Sequence[str | pd.Timestamp],
                     leads: Sequence[int]) -> xr.DataArray:
    """The optimal forecast's ``P(SIC > 0.15)`` per cell, ``(time, y, x, lead)``, for forecasts started
    in ``starts`` (``time``) at ``leads``, from the emulated dataset's own inputs: the best any forecaster
    can do.
    """
    if ds.attrs.get("data_source") != "emulated":
        raise EmulatorError(f"only the emulated Arctic has an optimal forecast; this dataset's source is "
                            f"{ds.attrs.get('data_source')!r}")
    resolution_km, seed, tuning = int(ds.attrs["resolution_km"]), int(ds.attrs["seed"]), tuning_of(ds)
    times = pd.DatetimeIndex([pd.Timestamp(s).to_period("M").to_timestamp() for s in starts])
    out = np.zeros((len(times), ds.sizes["y"], ds.sizes["x"], len(leads)))
    for i, start in enumerate(times):
        fields = {key: tf.constant(value) for key, value in input_fields(ds, start).items()}
        for j, lead in enumerate(leads):
            out[i, :, :, j] = OptimalForecast(resolution_km, seed, start, lead,
                                              tuning=tuning).probability(fields).numpy()
    coords = {"time": times, "lead": ("lead", [int(lead) for lead in leads], {"units": "months"})}
    coords.update({k: ds[k] for k in ("y", "x", "lat", "lon") if k in ds.coords})
    return xr.DataArray(out, dims=("time", "y", "x", "lead"), coords=coords, name="sea_ice_probability",
                        attrs={"units": "1", "long_name": "optimal forecast's sea ice probability, "
                                                          "P(SIC > 0.15 | the network's inputs)",
                               "source": "SYNTHETIC: exact optimal forecast of the icegrad emulated Arctic"})


def forecast(ds: xr.Dataset, start: str, lead: int, weights: np.ndarray) -> tuple[float, dict]:
    """F at the dataset's own inputs and its gradient with respect to each input field."""
    model = OptimalForecast(int(ds.attrs["resolution_km"]), int(ds.attrs["seed"]), start, lead, weights,
                            tuning_of(ds))
    fields = {key: tf.constant(value) for key, value in input_fields(ds, start).items()}
    with tf.GradientTape() as tape:
        tape.watch(list(fields.values()))
        value = model(fields)
    grads = tape.gradient(value, fields)
    return float(value), {key: np.zeros(fields[key].shape) if g is None else g.numpy()
                          for key, g in grads.items()}


def monte_carlo(ds: xr.Dataset, start: str, lead: int, weights: np.ndarray, n: int = 400,
                seed: int = 1) -> tuple[float, float]:
    """Mean and standard error of the ROI-mean ``1[SIC(T) > 0.15]`` over ``n`` futures of the generator
    itself, run by :meth:`Rule.step` from the dataset's state at the start (fresh innovations)."""
    r = rule(int(ds.attrs["resolution_km"]), tuning_of(ds))
    model = OptimalForecast(r.resolution_km, int(ds.attrs["seed"]), start, lead, weights, r.tuning)
    fields = input_fields(ds, start)
    rng = np.random.default_rng(seed)
    history0 = []
    for k, (year, month) in model.inputs.items():
        sic = fields[("siconca", k)]
        clim = climatological_fields(r, sic, year, month)
        history0.append({name: fields[(name, k)] - clim[name] for name in LINKED_DRIVERS})
    year, month = model.inputs[1]
    a0 = (sea_ice.state_from_sic(fields[("siconca", 1)]) - r.base(year, month)) * r.ocean
    z0 = {name: history0[0][name] / np.maximum(r.driver_std(name, year, month), 1e-12)
          for name in LINKED_DRIVERS}
    outcomes = np.empty(n)
    for i in range(n):
        a, history, z = a0, list(history0), dict(z0)
        for fy, fm in model.future:
            e = {name: (model.bases[name] @ rng.standard_normal(model.bases[name].shape[1])).reshape(a.shape)
                 for name in RANDOM}
            for name in LINKED_DRIVERS:
                phi = r.drivers[name].phi
                z[name] = phi * z[name] + np.sqrt(1 - phi**2) * e[name]
            d = {name: r.driver_std(name, fy, fm) * z[name] for name in LINKED_DRIVERS}
            history = [d, *history[:MAX_LAG]]
            a = r.step(a, history, e["ice"], fy, fm)
        outcomes[i] = (model.weights * (model.base_target + a > THRESHOLD_LOGIT)).sum()
    return float(outcomes.mean()), float(outcomes.std(ddof=1) / np.sqrt(n))
