"""Scalar targets of IceNet's output: what a gradient is taken *of*.

IceNet outputs class probabilities ``(batch, y, x, class, lead)`` for three SIC classes (open water,
marginal ice, full ice) and six lead months. A gradient needs one number per forecast, so a target
reduces that tensor to the mean probability over a region of interest (ROI) at given leads:

* ``"sip"`` (default): sea-ice probability, P(marginal) + P(full) = P(SIC > 15 %), the quantity the
  letter interrogates;
* ``"open_water"``, ``"marginal_ice"``, ``"full_ice"``: one class's probability.

The ROI mean is weighted by cell area over the ROI's *ocean* cells (land cells are dropped: IceNet's
output there is meaningless). EASE-Grid 2.0 is equal-area, so on icegrad's grids the area-weighted
and the plain mean coincide; ``weighting="area"`` is still the default so that an ROI given on a
grid with unequal cells (carrying a ``cell_area`` coordinate) is averaged correctly.

Forecast bookkeeping follows IceNet: lead ``l`` of a forecast started in month ``s`` targets month
``s + l - 1``, so a fixed target month (e.g. September 2013) is explained by a different start (and
input sample) for every lead: :func:`forecast_start`.

Example
-------
>>> forecast_start("2013-09", lead=3)
Timestamp('2013-07-01 00:00:00')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.inputs.start_months import start_for_target
from icegrad.variables import N_LEADS, SIC_CLASSES

TARGETS = ("sip", *SIC_CLASSES)
"""Allowed target names: sea-ice probability or one of the three SIC classes."""

WEIGHTINGS = ("area", "uniform")

_CLASS_VECTORS = {
    "sip": (0.0, 1.0, 1.0),
    **{name: tuple(float(i == k) for i in range(len(SIC_CLASSES))) for k, name in enumerate(SIC_CLASSES)},
}


def check_count(name: str, value: object) -> int:
    """``value`` if it is a whole number >= 1 (``True`` is refused: it is a flag, not a count)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < 1:
        raise AttributionError(f"{name}={value!r} must be a whole number >= 1")
    return int(value)


def check_leads(leads: int | Sequence[int]) -> tuple[int, ...]:
    """Validate leads (1..6, no repeats; ``True`` is not lead 1) and return them as a tuple."""
    values = (leads,) if isinstance(leads, int | np.integer) else tuple(leads)
    if not values:
        raise AttributionError(f"no leads given; pass one or more of 1..{N_LEADS}")
    bad = [lead for lead in values if isinstance(lead, bool | np.bool_)
           or not isinstance(lead, int | np.integer) or not 1 <= lead <= N_LEADS]
    if bad:
        raise AttributionError(f"lead(s) {bad} outside 1..{N_LEADS}: IceNet forecasts {N_LEADS} "
                               "monthly leads, lead 1 being the forecast's start month")
    if len(set(values)) != len(values):
        raise AttributionError(f"leads {list(values)} contain repeats; list each lead once")
    return tuple(int(lead) for lead in values)


def _month(value: str | pd.Timestamp, label: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise AttributionError(f"could not read {label} {value!r} as a month; pass 'YYYY-MM'") from None
    return stamp.to_period("M").to_timestamp()


def forecast_start(target_month: str | pd.Timestamp, lead: int) -> pd.Timestamp:
    """Start month of the forecast whose lead ``lead`` targets ``target_month``: target - (lead - 1)."""
    (lead,) = check_leads(lead)
    return start_for_target(_month(target_month, "target month"), lead)


def target_month(start: str | pd.Timestamp, lead: int) -> pd.Timestamp:
    """Month targeted by lead ``lead`` of a forecast starting in ``start``: start + (lead - 1)."""
    (lead,) = check_leads(lead)
    return _month(start, "start month") + pd.DateOffset(months=lead - 1)


def sample_for_forecast(inputs: xr.DataArray, target: str | pd.Timestamp, lead: int) -> xr.DataArray:
    """The input sample ``(y, x, channel)`` of the forecast whose lead ``lead`` targets ``target``.

    ``inputs`` is indexed by forecast start month (``time``), as built by :mod:`icegrad.inputs.build`.
    """
    start = forecast_start(target, lead)
    if "time" not in inputs.dims:
        raise AttributionError(f"inputs have dims {inputs.dims}; expected a 'time' dimension of forecast "
                               "start months, e.g. from icegrad.inputs.build")
    times = pd.DatetimeIndex(inputs["time"].values)
    hits = np.flatnonzero(times.to_period("M") == start.to_period("M"))
    if hits.size == 0:
        span = f"{times.min():%Y-%m} to {times.max():%Y-%m}" if len(times) else "none"
        raise AttributionError(
            f"no inputs for target month {_month(target, 'target month'):%Y-%m} at lead {lead}: its "
            f"forecast starts in {start:%Y-%m}, but the inputs hold starts {span}. Build inputs that "
            "include that start month, or choose another target month or lead.")
    sample = inputs.isel(time=int(hits[0]))
    return sample.assign_attrs(forecast_start=f"{start:%Y-%m}",
                               target_month=f"{target_month(start, lead):%Y-%m}")


def roi_weights(
    roi: xr.DataArray | np.ndarray,
    land: xr.DataArray | np.ndarray | None = None,
    weighting: str = "area",
) -> np.ndarray:
    """Normalised ``(y, x)`` weights of the ROI's ocean cells, summing to one.

    ``land`` (True on land) defaults to the ROI's ``land`` coordinate when it has one; ``weighting``
    is ``"area"`` (by the ``cell_area`` coordinate when present) or ``"uniform"``.
    """
    if weighting not in WEIGHTINGS:
        raise AttributionError(f"unknown ROI weighting {weighting!r}; choose one of {WEIGHTINGS}")
    mask = np.asarray(roi)
    if mask.ndim != 2 or mask.dtype != bool:
        raise AttributionError(f"the ROI must be a boolean (y, x) mask; got dtype {mask.dtype} with "
                               f"shape {mask.shape}. Build it with a comparison, e.g. diff > 0.5.")
    if land is None and isinstance(roi, xr.DataArray) and "land" in roi.coords:
        land = roi["land"]
    ocean = mask if land is None else mask & ~np.asarray(land, dtype=bool)
    if not mask.any():
        raise AttributionError("the ROI is empty (all False); widen its rule or check the years it compares")
    if not ocean.any():
        raise AttributionError(f"the ROI's {int(mask.sum())} cell(s) are all land, so there is no sea ice "
                               "to explain; define the ROI over ocean cells")
    area = np.ones(mask.shape)
    if weighting == "area" and isinstance(roi, xr.DataArray) and "cell_area" in roi.coords:
        area = np.asarray(roi["cell_area"], dtype=float)
        bad = ocean & ~(np.isfinite(area) & (area > 0))
        if bad.any():
            raise AttributionError(f"cell_area holds {int(bad.sum())} non-finite or non-positive value(s) in "
                                   f"the ROI (e.g. {area[bad][0]!r}); cell areas must be finite and > 0: fix "
                                   "the grid's cell_area coordinate or pass weighting='uniform'")
    weights = np.where(ocean, area, 0.0)
    return weights / weights.sum()


@dataclass(frozen=True)
class RoiTarget:
    """Mean probability of a class set over the ROI, at each of ``leads``: the scalars to explain.

    Calling it on a probability tensor ``(batch, y, x, class, lead)`` returns ``(batch, len(leads))``.
    """

    weights: np.ndarray
    leads: tuple[int, ...]
    kind: str = "sip"
    rule: str = "ROI mask"

    def __post_init__(self) -> None:
        if self.kind not in TARGETS:
            raise AttributionError(f"unknown target {self.kind!r}; choose one of {TARGETS}")
        check_leads(self.leads)

    @property
    def description(self) -> str:
        """Human-readable definition stored in result attributes."""
        what = "sea-ice probability P(SIC>0.15)" if self.kind == "sip" else f"probability of {self.kind}"
        return f"area-weighted mean {what} over the ROI's ocean cells"

    def __call__(self, probabilities: tf.Tensor) -> tf.Tensor:
        return self.apply(probabilities, self.weights, [lead - 1 for lead in self.leads])

    def apply(self, probabilities: tf.Tensor, weights: tf.Tensor | np.ndarray,
              lead_index: tf.Tensor | list[int]) -> tf.Tensor:
        """The target with the ROI ``weights`` and 0-based ``lead_index`` as (possibly variable) tensors.

        Why: a compiled gradient function that reads them from variables serves every ROI and lead of
        the same shape, so the engine traces once instead of once per lead and member.
        """
        # float64 models (finite-difference checks) keep float64; everything else is reduced in float32.
        dtype = tf.float64 if probabilities.dtype == tf.float64 else tf.float32
        probs = tf.cast(probabilities, dtype)
        n_classes, n_leads = probs.shape[-2], probs.shape[-1]
        if probs.shape.rank != 5 or n_classes != len(SIC_CLASSES) or max(self.leads) > n_leads:
            raise AttributionError(
                f"model output of shape {tuple(probs.shape)} is not IceNet's (batch, y, x, 3 classes, "
                f"leads>={max(self.leads)}); pass a model built by icegrad.model.icenet.build_icenet")
        selected = tf.gather(probs, lead_index, axis=-1)
        per_class = tf.einsum("byxck,yx->bck", selected, tf.cast(weights, dtype))
        return tf.einsum("bck,c->bk", per_class, tf.constant(_CLASS_VECTORS[self.kind], dtype))

    def numpy(self, probabilities: np.ndarray) -> np.ndarray:
        """The same target in float64 NumPy, for finite-difference checks."""
        selected = np.asarray(probabilities, dtype=np.float64)[..., [lead - 1 for lead in self.leads]]
        per_class = np.einsum("byxck,yx->bck", selected, self.weights)
        return np.einsum("bck,c->bk", per_class, np.asarray(_CLASS_VECTORS[self.kind]))


def roi_target(
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = tuple(range(1, N_LEADS + 1)),
    kind: str = "sip",
    land: xr.DataArray | np.ndarray | None = None,
    weighting: str = "area",
) -> RoiTarget:
    """Build the :class:`RoiTarget` for a boolean ROI mask; see :func:`roi_weights` for the rules."""
    weights = roi_weights(roi, land, weighting)
    rule = roi.attrs.get("rule", roi.attrs.get("long_name", "ROI mask")) if isinstance(roi, xr.DataArray) \
        else "ROI mask (user-given array)"
    return RoiTarget(weights=weights, leads=check_leads(leads), kind=kind,
                     rule=f"{rule}; {weighting}-weighted over {int((weights > 0).sum())} ocean cells")
