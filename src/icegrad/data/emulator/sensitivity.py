"""What causes the ice: d(ROI-mean SIC) / d(every driver anomaly, every cell, lag), by the chain rule.

This is the *generator's* answer: how the ROI-mean SIC of a target month responds to a nudge of a
driver anomaly (or of SIC) in an earlier month, everything else in the realisation held fixed. It is
not what a forecaster should read (the future drivers are unknown to one): that is the optimal
forecast of :mod:`icegrad.data.emulator.optimal`, which the book scores attributions against.

The target is ``T = sum_c w_c SIC_c(t0)`` with ``w`` the ROI's ocean cell areas normalised to one.
With ``H(t) = dT/da(t)`` (``a`` the sea-ice anomaly of :mod:`icegrad.data.emulator.sea_ice`), the
chain rule runs backwards in time through the drift's adjoint:

* ``H(t0) = w * SIC(1 - SIC)`` and ``H(t - 1) = rho(m_t) * A_m^T [ocean * H(t)]``;
* a driver anomaly in month ``tau``: ``sum over links l of that driver`` of
  ``ocean * beta_l(cell) * H(tau + lag_l)`` where ``tau + lag_l`` is one of the link's months;
* SIC in month ``t``: ``H(t) / (SIC (1 - SIC))`` (SIC and ``a`` determine each other).

It needs only the stored SIC and the rule, the one of the tuning the dataset was generated with (its
``emulator_tuning`` attribute, :func:`icegrad.data.emulator.tuning.tuning_of`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data.emulator import drift, sea_ice
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.rule import rule
from icegrad.data.emulator.tuning import tuning_of
from icegrad.variables import MONTHLY_VARIABLES

DRIVER_UNITS = {"siconca": "1"}


def _roi_weights(ds: xr.Dataset, roi: xr.DataArray) -> np.ndarray:
    if roi.shape != ds["siconca"].shape[1:] or set(roi.dims) != {"y", "x"}:
        raise EmulatorError(f"roi must be a (y, x) mask on the dataset's grid {ds['siconca'].shape[1:]}, "
                            f"got dims {roi.dims} and shape {roi.shape}; build it with icegrad.roi "
                            "or from icegrad.data.emulator.regions(resolution_km)")
    mask = np.asarray(roi.transpose("y", "x").values, dtype=bool) & ~np.asarray(ds["land"].values, bool)
    area = np.where(mask, np.asarray(ds["cell_area"].values, "float64"), 0.0)
    if area.sum() <= 0:
        raise EmulatorError("the ROI has no ocean cells; choose a region over the sea")
    return area / area.sum()


def true_sensitivity(ds: xr.Dataset, target_time: str, roi: xr.DataArray,
                     months_back: int = 12) -> xr.Dataset:
    """Causal sensitivity of the ROI-mean SIC in ``target_time`` to each input anomaly, lag and cell.

    Returns a dataset with ``sensitivity`` of dims ``(variable, lag, y, x)`` (lag 0 = target month,
    ``siconca`` at lag k = derivative w.r.t. SIC k months earlier) and the ``roi_weight`` used.
    Variables without a link are exactly zero: that is the ground truth, not a missing value.

    Example
    -------
    With ``ds`` the emulated Arctic (``icegrad.data.load_dataset("emulated", resolution_km=200)``):

    >>> from icegrad.data.emulator.geography import regions
    >>> masks = regions(200)
    >>> sens = true_sensitivity(ds, "2013-09", masks.sel(region="pacific_sector"))
    >>> dict(sens["sensitivity"].sizes)
    {'variable': 12, 'lag': 12, 'y': 54, 'x': 54}
    """
    if "siconca" not in ds or ds.attrs.get("data_source") != "emulated":
        raise EmulatorError("true_sensitivity needs an emulated dataset (data_source='emulated') with "
                            "'siconca'; the ground truth exists only for icegrad.data.emulator output")
    resolution_km = grid.assert_on_grid(ds)
    times = pd.DatetimeIndex(ds["time"].values)
    target = pd.Timestamp(target_time).to_period("M").to_timestamp()
    if target not in times:
        raise EmulatorError(f"target_time {target_time!r} is not in the dataset ({times[0]:%Y-%m} to "
                            f"{times[-1]:%Y-%m})")
    t0 = times.get_loc(target)
    if months_back < 1 or t0 - months_back + 1 < 0:
        raise EmulatorError(f"months_back={months_back} needs {months_back} months up to {target:%Y-%m} "
                            f"but the dataset starts {times[0]:%Y-%m}; generate from an earlier start")
    weights = _roi_weights(ds, roi)
    sic = np.nan_to_num(ds["siconca"].values[t0 - months_back + 1: t0 + 1].astype("float64"))[::-1]
    months = [int(m) for m in times.month[t0 - months_back + 1: t0 + 1]][::-1]  # k = 0 is t0
    r = rule(resolution_km, tuning_of(ds))
    slope = sea_ice.sic_derivative(sic)
    names = list(MONTHLY_VARIABLES)
    out = np.zeros((len(names), months_back, *weights.shape))
    h = np.empty((months_back, *weights.shape))  # dT/da(t0 - k), on the ocean
    h[0] = weights * slope[0] * r.ocean
    for k in range(1, months_back):
        later = months[k - 1]
        h[k] = r.memory[later - 1] * drift.adjoint(h[k - 1], r.months[later - 1].drift) * r.ocean
    out[names.index("siconca"), 0] = weights
    with np.errstate(divide="ignore", invalid="ignore"):
        out[names.index("siconca"), 1:] = np.where(slope[1:] > 0, h[1:] / slope[1:], 0.0)
    for lk, w in r.links:
        for k in range(lk.lag, months_back):
            effect = k - lk.lag  # the SIC month the anomaly at k acts on
            if months[effect] in lk.months:
                out[names.index(lk.variable), k] += h[effect] * w
    return _as_dataset(ds, out, names, weights, target, months_back)


def _as_dataset(ds: xr.Dataset, values: np.ndarray, names: list[str], weights: np.ndarray,
                target: pd.Timestamp, months_back: int) -> xr.Dataset:
    coords = {k: ds[k] for k in ("y", "x", "lat", "lon", "cell_area") if k in ds.coords}
    input_time = [target - pd.DateOffset(months=k) for k in range(months_back)]
    units = [DRIVER_UNITS.get(n, MONTHLY_VARIABLES[n].units) for n in names]
    sens = xr.DataArray(values, dims=("variable", "lag", "y", "x"), coords={
        "variable": names, "lag": ("lag", np.arange(months_back), {"units": "months",
                                                                   "long_name": "months before target"}),
        "input_time": ("lag", pd.DatetimeIndex(input_time)), "input_units": ("variable", units), **coords},
        attrs={"units": "1 per unit of input_units",
               "long_name": f"exact d(ROI-mean SIC, {target:%Y-%m}) / d(input anomaly)",
               "note": "the generator's causal sensitivity (what causes the ice), not the optimal "
                       "forecast's"})
    roi = xr.DataArray(weights, dims=("y", "x"), coords=coords,
                       attrs={"units": "1", "long_name": "ROI area weight (sums to one)"})
    return xr.Dataset({"sensitivity": sens, "roi_weight": roi},
                      attrs={"target_time": f"{target:%Y-%m}", "data_source": "emulated",
                             "source": "SYNTHETIC: ground truth of the icegrad emulated Arctic",
                             "Conventions": "CF-1.10"})
