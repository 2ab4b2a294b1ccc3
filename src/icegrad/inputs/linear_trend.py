"""IceNet's linear-trend SIC forecast: a per-cell straight line through past years of the same month.

Rule (for a forecast starting in month ``s`` and lead ``k``, target month ``T = s + k - 1``): fit,
by ordinary least squares, SIC against year on the values of the *same calendar month* as ``T`` in
*every* earlier year the dataset holds, i.e. months ``T - 12, T - 24, ...`` back to the data's start.
All of them precede ``s`` (``T - 12 <= s - 7``), so the forecast uses only what was known at the
start. Evaluate the line at ``T``'s year and clip to [0, 1]. There is no minimum beyond one year:
with a single past year the least-squares line has no defined slope and the forecast is that year's
value (the minimum-norm solution, i.e. persistence of last year's same month); with two or more years
it is the usual OLS line. Land is 0.

The fit is closed-form and vectorised: running sums of ``1, q, q^2, v, q v`` (``q`` the year number
of each month, ``v`` the SIC) along each calendar month's series give every start's fit at once with
no loop over cells or starts, and only the months a forecast reads are kept.

Example
-------
With ``ds`` the emulated Arctic (``icegrad.data.load_dataset("emulated", resolution_km=200)``):

>>> trend = linear_trend_forecast(ds["siconca"], ["2013-09"])
>>> dict(trend.sel(lead=1).sizes)  # September 2013 from Septembers up to 2012
{'time': 1, 'y': 54, 'x': 54}
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.inputs.checks import InputError, require_finite
from icegrad.inputs.start_months import StartMonths, as_start_months, start_offsets
from icegrad.variables import N_LEADS

LINEAR_TREND_RULE = (
    "per-cell OLS of SIC on year over the same calendar month of every earlier year in the data "
    "(months T-12, T-24, ...; all before the forecast start), evaluated at the target year and clipped "
    "to [0, 1]; one past year gives persistence of that year"
)


def linear_trend_forecast(
    sic: xr.DataArray, start_months: StartMonths, n_leads: int = N_LEADS
) -> xr.DataArray:
    """Linear-trend SIC forecast (time, lead, y, x) for each start month and leads 1..``n_leads``.

    ``n_leads`` is at most 6 (IceNet's leads), which keeps every fitted month before the start.
    """
    if not 1 <= n_leads <= N_LEADS:
        raise InputError(f"n_leads must be between 1 and {N_LEADS}, got {n_leads}")
    starts = as_start_months(start_months)
    offsets = start_offsets(sic, starts)
    require_finite(sic.isel(time=slice(0, int(offsets.max()))), ocean_only=True, valid_range=(0.0, 1.0))
    values = np.nan_to_num(np.asarray(sic.values, dtype=np.float64), nan=0.0)
    targets = offsets[:, None] + np.arange(n_leads)[None, :]
    forecast = trend_at(values[: int(offsets.max())], targets)
    origin = pd.Timestamp(sic["time"].values[0])
    target_time = np.array([[origin + pd.DateOffset(months=int(t)) for t in row] for row in targets],
                           dtype="datetime64[ns]")
    coords = {"time": starts, "lead": ("lead", np.arange(1, n_leads + 1), {"long_name": "lead (months)"}),
              "target_time": (("time", "lead"), target_time, {"long_name": "target month"})}
    coords.update({name: sic[name] for name in ("y", "x", "lat", "lon", "land") if name in sic.coords})
    return xr.DataArray(forecast.astype(np.float32), dims=("time", "lead", "y", "x"), coords=coords,
                        name="siconca_linear_trend",
                        attrs={"units": "1", "long_name": "linear-trend sea ice concentration forecast",
                               "standard_name": "sea_ice_area_fraction", "comment": LINEAR_TREND_RULE})


@dataclass(frozen=True)
class TrendFits:
    """The same-month OLS lines ending at ``months``: each fitted on months ``i, i - 12, ... >= 0``.

    Stored as the mean SIC, the slope per year and the mean year number of each fit, so that the
    forecast for target ``T`` is ``mean[T-12] + slope[T-12] * (year(T) - mean_year[T-12])``: fitting
    once per month and evaluating per target costs one gather per channel, whatever the number of
    starts and leads.

    Why only the months asked for: a chapter builds the inputs of a few starts from the whole record,
    and fitting every month held about seven record-sized float64 arrays at once (~260 MiB at 100 km,
    the peak of chapter 9's warm run), to read back a dozen of them.
    """

    months: np.ndarray  # (fits,) month offsets of the fits' last months, ascending
    mean: np.ndarray  # (fits, y, x)
    slope: np.ndarray  # (fits, y, x), 0 where a single year is available
    mean_year: np.ndarray  # (fits,)

    @classmethod
    def fit(cls, values: np.ndarray, months: np.ndarray) -> TrendFits:
        """Fit the lines ending at each of ``months`` from ``values`` (months, y, x), NaN-free, closed form.

        One calendar month at a time: the running sums of its own series (index ``c + 12 q``) give every
        asked month of it at once, in float64, holding a twelfth of the record at a time.
        """
        months = np.unique(np.asarray(months, dtype=np.int64))
        if months.size and (months[0] < 0 or months[-1] > values.shape[0] - 1):
            raise InputError("each linear-trend target needs its month 12 months earlier inside the data; "
                             "give at least 12 months of history before the forecast start")
        sum_v = np.empty((months.size, *values.shape[1:]), dtype=np.float64)
        sum_qv = np.empty_like(sum_v)
        for calendar in range(12):
            wanted = np.flatnonzero(months % 12 == calendar)
            if not wanted.size:
                continue
            series = np.asarray(values[calendar: months[wanted[-1]] + 1: 12], dtype=np.float64)
            q = np.arange(series.shape[0], dtype=np.float64)[:, None, None]
            years = months[wanted] // 12
            sum_v[wanted] = np.cumsum(series, axis=0)[years]
            sum_qv[wanted] = np.cumsum(series * q, axis=0)[years]
        q = months // 12  # year number of each fit's last month within its calendar month's series
        count = (q + 1).astype(np.float64)
        sum_q = q * (q + 1) / 2.0
        sum_qq = q * (q + 1) * (2 * q + 1) / 6.0
        denom = count * sum_qq - sum_q**2  # 0 exactly when a single year is available
        expand = (..., None, None)
        safe_denom = np.where(denom > 0, denom, 1.0)[expand]
        covariance = count[expand] * sum_qv - sum_q[expand] * sum_v
        slope = np.where(denom[expand] > 0, covariance / safe_denom, 0.0)
        return cls(months=months, mean=sum_v / count[expand], slope=slope, mean_year=sum_q / count)

    def at(self, targets: np.ndarray) -> np.ndarray:
        """Clipped forecasts at month offsets ``targets`` (any shape): ``targets.shape + (y, x)``.

        Every ``targets - 12`` must be one of the fitted months (see :func:`trend_at`).
        """
        targets = np.asarray(targets)
        last = targets - 12
        index = np.searchsorted(self.months, last)
        if index.size and (index.max() >= self.months.size or not np.array_equal(self.months[index], last)):
            raise InputError(f"the linear-trend fits end at months {self.months.tolist()}, not at every "
                             f"month 12 before the targets {np.unique(targets).tolist()}; fit those months")
        dx = (targets // 12 - self.mean_year[index])[..., None, None]
        return np.clip(self.mean[index] + self.slope[index] * dx, 0.0, 1.0)


def trend_at(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Clipped OLS trend of ``values`` (months, y, x) evaluated at month offsets ``targets`` (any shape).

    Each target ``T`` is fitted on months ``T - 12, T - 24, ... >= 0``; ``T - 12`` must be inside
    ``values``. Returns ``targets.shape + (y, x)``.
    """
    targets = np.asarray(targets)
    return TrendFits.fit(values, targets - 12).at(targets)
