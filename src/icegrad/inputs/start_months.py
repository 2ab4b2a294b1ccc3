"""Forecast start months: parsing them, and which ones a monthly dataset can serve.

IceNet's lag convention (Andersson et al. 2021): for a forecast that *starts* in month ``s`` the
present month is ``s - 1``; lag ``k`` is month ``s - k`` (k = 1..12 for SIC, 1..3 for climate);
lead ``l`` targets month ``s + l - 1`` (l = 1..6). A start therefore needs the 12 months
``s - 12 .. s - 1`` in the dataset, and its targets need ``s .. s + n_leads - 1``. The start month
itself may lie one month past the end of the data: that is a real forecast of the unseen future.

Months are handled as integer offsets from the dataset's first month, so lags become array indices
and every start month is served in one vectorised gather.

Example
-------
>>> as_start_months(["2012-09", "2013-01"])
DatetimeIndex(['2012-09-01', '2013-01-01'], dtype='datetime64[ns]', freq=None)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.inputs.checks import InputError

N_HISTORY_MONTHS = 12
"""Months of history every start needs: the 12 lagged SIC channels reach back to ``s - 12``."""

StartMonths = Sequence[str | pd.Timestamp] | pd.DatetimeIndex | str | pd.Timestamp


def start_for_target(target_month: pd.Timestamp, lead: int) -> pd.Timestamp:
    """Start month of the forecast whose lead ``lead`` targets ``target_month``: target - (lead - 1).

    IceNet's bookkeeping (lead 1 is the start month itself). The engine's
    :func:`icegrad.attribution.targets.forecast_start` and the pre-run checks both use it; it lives in
    this TensorFlow-free layer so that the checks stay fast.
    """
    return target_month.to_period("M").to_timestamp() - pd.DateOffset(months=lead - 1)


def as_start_months(start_months: StartMonths) -> pd.DatetimeIndex:
    """Parse start months (``"YYYY-MM"`` strings, timestamps, or an index) into month starts.

    Timestamps must fall on the first day of a month at midnight, because the dataset's ``time``
    holds month starts and a mid-month date would be ambiguous about which month it means.
    """
    if isinstance(start_months, str | pd.Timestamp):
        start_months = [start_months]
    try:
        index = pd.DatetimeIndex([pd.Timestamp(s) for s in start_months]).astype("datetime64[ns]")
    except (ValueError, TypeError) as err:
        raise InputError(f"could not read start months {list(start_months)!r} as dates ({err}); "
                         "pass 'YYYY-MM' strings or month-start pandas Timestamps") from None
    if len(index) == 0:
        raise InputError("no start months given; pass at least one, e.g. ['2012-09'] or "
                         "icegrad.inputs.build.available_start_months(ds)")
    month_start = index.to_period("M").to_timestamp()
    off = index[index != month_start]
    if len(off):
        raise InputError(f"start months must be the first day of a month at 00:00; got "
                         f"{[str(t) for t in off[:3]]}; pass e.g. '{off[0]:%Y-%m}' instead")
    return index


def month_offsets(times: pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    """Whole months from ``origin`` to each of ``times`` (negative before it), as int64."""
    return ((times.year - origin.year) * 12 + (times.month - origin.month)).to_numpy(dtype=np.int64)


def calendar_month(offsets: np.ndarray, origin: pd.Timestamp) -> np.ndarray:
    """Calendar month (1..12) of month offsets counted from ``origin``."""
    return (origin.month - 1 + np.asarray(offsets)) % 12 + 1


def dataset_months(ds: xr.Dataset | xr.DataArray) -> pd.DatetimeIndex:
    """The dataset's months (``time`` coordinate) as a DatetimeIndex; error if it has none."""
    if "time" not in ds.dims or ds.sizes["time"] == 0:
        raise InputError("the dataset has no months (empty or missing 'time' dimension); "
                         "load a monthly dataset with icegrad.data.load_dataset(...)")
    return pd.DatetimeIndex(ds["time"].values)


def available_start_months(ds: xr.Dataset, n_leads: int = 0) -> pd.DatetimeIndex:
    """Every start month ``ds`` can serve: 12 months of history, and ``n_leads`` months of targets.

    With ``n_leads=0`` (inputs only) the last start is the month after the data ends; with
    ``n_leads=6`` it is the start whose sixth lead is the last month of the data.
    """
    if n_leads < 0:
        raise InputError(f"n_leads must be >= 0, got {n_leads}")
    months = dataset_months(ds)
    first = months[0] + pd.DateOffset(months=N_HISTORY_MONTHS)
    last = months[-1] + pd.DateOffset(months=1 - n_leads)
    return pd.date_range(first, last, freq="MS").astype("datetime64[ns]")


def start_offsets(ds: xr.Dataset | xr.DataArray, start_months: StartMonths, n_leads: int = 0) -> np.ndarray:
    """Offsets of ``start_months`` from the dataset's first month, after checking each is servable.

    Raises :class:`InputError` naming the starts that lack 12 months of history (or ``n_leads``
    months of targets) and the range of starts the dataset can serve.
    """
    starts = as_start_months(start_months)
    months = dataset_months(ds)
    offsets = month_offsets(starts, months[0])
    n = len(months)
    short_history = starts[offsets < N_HISTORY_MONTHS]
    beyond = starts[offsets - 1 > n - 1] if n_leads == 0 else starts[offsets + n_leads - 1 > n - 1]
    if len(short_history) or len(beyond):
        ok = available_start_months(ds, n_leads)
        span = f"{ok[0]:%Y-%m} to {ok[-1]:%Y-%m}" if len(ok) else "none (the dataset is too short)"
        what = []
        if len(short_history):
            what.append(f"{[f'{t:%Y-%m}' for t in short_history[:5]]} lack {N_HISTORY_MONTHS} months "
                        f"of history (data start {months[0]:%Y-%m})")
        if len(beyond):
            need = "their present month" if n_leads == 0 else f"{n_leads} months of targets"
            what.append(f"{[f'{t:%Y-%m}' for t in beyond[:5]]} need {need} beyond the data's end "
                        f"({months[-1]:%Y-%m})")
        raise InputError("start month(s) " + "; ".join(what) + f". This dataset serves starts {span}; "
                         "pick starts from icegrad.inputs.build.available_start_months(ds"
                         + (f", n_leads={n_leads}" if n_leads else "") + ").")
    return offsets
