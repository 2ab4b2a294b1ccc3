"""Reference inputs ("baselines") for integrated gradients: what the input is compared against.

Integrated gradients explains target(input) - target(reference). The choice of reference is part of
the question being asked, so it is explicit and recorded in every result:

* ``"zeros"``: all channels zero. IceNet's climate channels are z-scored anomalies, so zero is the
  climatological mean state for them; for SIC channels (left in 0..1) zero means *no ice at all*.
* ``"climatology"``: the normalised input of the climatological state, supplied by the caller
  (:func:`climatology_baseline` averages input samples of the same calendar month over training years).
* a user-given ``(y, x, channel)`` array or DataArray.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError

BASELINES = ("zeros", "climatology")
"""Named baselines; an array is also accepted (recorded as ``user``)."""


def climatology_baseline(
    inputs: xr.DataArray, month: int | None = None, years: Sequence[int] | None = None
) -> xr.DataArray:
    """Mean input sample ``(y, x, channel)`` over ``inputs`` (time, y, x, channel).

    ``month`` (1..12) keeps only forecasts starting in that calendar month (the seasonal channels and
    the SIC lags then describe the same season), ``years`` only those start years - pass the training
    years so the baseline carries no information from the period being explained.
    """
    if "time" not in inputs.dims:
        raise AttributionError(f"inputs have dims {inputs.dims}; climatology needs a 'time' dimension")
    times = pd.DatetimeIndex(inputs["time"].values)
    keep = np.ones(len(times), dtype=bool)
    if month is not None:
        keep &= times.month == month
    if years is not None:
        keep &= np.isin(times.year, list(years))
    if not keep.any():
        raise AttributionError(f"no input samples for month={month}, years={years}; the inputs hold "
                               f"{times.min():%Y-%m} to {times.max():%Y-%m}")
    mean = inputs.isel(time=np.flatnonzero(keep)).mean("time", keep_attrs=True)
    mean.attrs.update(long_name="climatological mean of normalised inputs",
                      baseline_rule=f"mean over {int(keep.sum())} start months (month={month}, years="
                                    f"{'all' if years is None else f'{min(years)}-{max(years)}'})")
    return mean


def resolve_baseline(
    baseline: str | np.ndarray | xr.DataArray, sample: xr.DataArray, climatology: xr.DataArray | None = None
) -> tuple[np.ndarray, str]:
    """The baseline as an array shaped like ``sample`` ``(y, x, channel)``, and its label for attrs."""
    if isinstance(baseline, str):
        if baseline not in BASELINES:
            raise AttributionError(f"unknown baseline {baseline!r}; choose one of {BASELINES} or pass "
                                   "an array shaped (y, x, channel)")
        if baseline == "zeros":
            return np.zeros(sample.shape, dtype=np.float32), "zeros (normalised units)"
        if climatology is None:
            raise AttributionError("baseline='climatology' needs climatology=<DataArray (y, x, channel)>; "
                                   "build it with icegrad.attribution.references.climatology_baseline")
        array, label = _as_sample_array(climatology, sample), "climatology"
        rule = climatology.attrs.get("baseline_rule") if isinstance(climatology, xr.DataArray) else None
        return array, f"{label} ({rule})" if rule else label
    return _as_sample_array(baseline, sample), "user-given array"


def _as_sample_array(values: np.ndarray | xr.DataArray, sample: xr.DataArray) -> np.ndarray:
    if isinstance(values, xr.DataArray):
        values = values.transpose(*sample.dims)
    array = np.asarray(values, dtype=np.float32)
    if array.shape != sample.shape:
        raise AttributionError(f"baseline of shape {array.shape} does not match the input sample "
                               f"{dict(sample.sizes)}; give it the same (y, x, channel) layout")
    if not np.isfinite(array).all():
        raise AttributionError("the baseline has NaN/inf values; fill them (e.g. with 0) first")
    return array
