"""IceNet's 50 input channels, built from any monthly dataset in icegrad's schema.

:func:`build_inputs` turns a monthly dataset (:mod:`icegrad.data.schema`) into the tensor IceNet
reads — ``(time, y, x, channel)``, float32, channels named and ordered as in
:data:`icegrad.variables.CHANNELS` — for any set of forecast start months, in one vectorised pass.

Lag convention (IceNet, Andersson et al. 2021): for a forecast starting in month ``s`` the present
month is ``s - 1``; channel ``*_k`` with lag ``k`` holds month ``s - k``; linear-trend channel ``k``
is the trend forecast for the target month ``s + k - 1``. Per channel family:

* ``siconca_abs_k``: SIC of month ``s - k`` in [0, 1], not normalised (as IceNet); land 0.
* ``siconca_linear_trend_k``: :mod:`icegrad.inputs.linear_trend` (same-month OLS over earlier years).
* ``{var}_anom_k``: anomaly of month ``s - k`` from the training-years monthly climatology, z-scored
  with one scalar per variable; ``ua10_abs_k``, ``uas_abs_1``, ``vas_abs_1``: absolute values
  z-scored (:mod:`icegrad.inputs.normalisation`); ``tos`` is 0 on land after normalisation.
* ``land`` 1/0; ``cos_month``, ``sin_month``: cos/sin(2 pi m / 12) of the start month ``m``.

Example
-------
With ``ds`` the emulated Arctic (``icegrad.data.load_dataset("emulated", resolution_km=200)``):

>>> stats = fit_normalisation(ds, train_years=(1980, 2011))
>>> x = build_inputs(ds, ["2013-06", "2013-07"], stats)
>>> dict(x.sizes)
{'time': 2, 'y': 54, 'x': 54, 'channel': 50}
>>> may = x.sel(channel="siconca_abs_1", time="2013-06")  # the forecast from June sees May's SIC
>>> bool((may.squeeze() == ds.siconca.sel(time="2013-05").squeeze().fillna(0)).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.inputs.checks import InputError, require_finite, validate_dataset
from icegrad.inputs.labels import active_grid_cell_mask, build_targets
from icegrad.inputs.linear_trend import LINEAR_TREND_RULE, TrendFits, linear_trend_forecast
from icegrad.inputs.normalisation import fit_normalisation, normalise_variable
from icegrad.inputs.splits import Splits
from icegrad.inputs.start_months import StartMonths, as_start_months, available_start_months, start_offsets
from icegrad.variables import CHANNEL_NAMES, N_LEADS, Channel, channel

_BLOCK_ELEMENTS = 2**22  # ~16 MB of float32 per block of starts while interleaving channels
LAG_CONVENTION = ("IceNet: time is the forecast start month s; present month = s - 1; channel lag k holds "
                  "month s - k; siconca_linear_trend_k forecasts target month s + k - 1; cos/sin of s")

__all__ = [
    "LAG_CONVENTION", "InputError", "Splits", "active_grid_cell_mask", "available_start_months",
    "build_inputs", "build_targets", "fit_normalisation", "inputs_for_forecast", "linear_trend_forecast",
]


def build_inputs(
    ds: xr.Dataset,
    start_months: StartMonths,
    stats: xr.Dataset,
    channels: Sequence[str] = CHANNEL_NAMES,
) -> xr.DataArray:
    """Input tensor ``(time, y, x, channel)`` for every start month, channels in the order given.

    ``stats`` comes from :func:`fit_normalisation` (it may be empty when only SIC-derived channels
    are asked for). Raises :class:`InputError` for unknown or repeated channels, a dataset lacking a
    variable they need or off the EASE2 grid, a start without 12 months of history, or NaN over the
    ocean in the months read.
    """
    specs = _resolve_channels(channels)
    variables = list(dict.fromkeys(c.variable for c in specs if c.variable not in ("land", "month")))
    _require_variables(ds, specs, variables)
    validate_dataset(ds, variables)
    starts = as_start_months(start_months)
    offsets = start_offsets(ds, starts)
    fields, trend = _source_fields(ds, specs, offsets, stats)
    out = np.empty((len(starts), ds.sizes["y"], ds.sizes["x"], len(specs)), dtype=np.float32)
    # Fill a block of starts channel-first, then interleave it into the channel-last output: writing
    # whole (y, x) planes into a small block and transposing once is several times faster than
    # scattering each channel across the large array with a stride of len(specs).
    step = max(1, _BLOCK_ELEMENTS // (len(specs) * ds.sizes["y"] * ds.sizes["x"]))
    for first in range(0, len(starts), step):
        chunk = slice(first, first + step)
        block = np.empty((len(specs), *out[chunk].shape[:3]), dtype=np.float32)
        for index, spec in enumerate(specs):
            block[index] = _channel_values(spec, fields, trend, offsets[chunk], starts[chunk], ds)
        out[chunk] = np.moveaxis(block, 0, -1)
    coords = {
        "time": ("time", starts, {"long_name": "forecast start month"}),
        "channel": ("channel", [c.name for c in specs], {"long_name": "IceNet input channel"}),
        "group": ("channel", [c.group for c in specs], {"long_name": "channel group"}),
    }
    coords.update({name: ds[name] for name in ("y", "x", "lat", "lon") if name in ds.coords})
    return xr.DataArray(out, dims=("time", "y", "x", "channel"), coords=coords, name="inputs", attrs={
        "units": "1",
        "long_name": "IceNet input channels (SIC fractions, z-scored climate fields, land, cos/sin month)",
        "data_source": str(ds.attrs.get("data_source", "unknown")),
        "source": str(ds.attrs.get("source", "")),
        "normalisation_train_years": str(stats.attrs.get("train_years", "unknown")),
        "lag_convention": LAG_CONVENTION,
        "linear_trend_rule": LINEAR_TREND_RULE,
    })


def inputs_for_forecast(
    ds: xr.Dataset,
    target_month: str | pd.Timestamp,
    lead: int,
    stats: xr.Dataset,
    channels: Sequence[str] = CHANNEL_NAMES,
) -> xr.DataArray:
    """The one input sample (time of length 1) whose forecast at ``lead`` is for ``target_month``.

    The start is ``target_month - lead + 1`` months (IceNet's lead convention), e.g. September 2013
    at lead 4 is the forecast started in June 2013.
    """
    if not 1 <= int(lead) <= N_LEADS:
        raise InputError(f"lead must be 1..{N_LEADS}, got {lead}")
    target = as_start_months(target_month)[0]
    start = target - pd.DateOffset(months=int(lead) - 1)
    sample = build_inputs(ds, [start], stats, channels)
    sample.attrs.update({"target_month": f"{target:%Y-%m}", "lead": int(lead)})
    return sample


def _resolve_channels(channels: Sequence[str]) -> list[Channel]:
    if isinstance(channels, str):
        raise InputError(f"channels must be a sequence of names, not the single string {channels!r}; "
                         f"pass [{channels!r}]")
    names = list(channels)
    if not names:
        raise InputError("no channels requested; pass icegrad.variables.CHANNEL_NAMES or a subset of it")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"channel(s) {repeated} requested more than once; list each channel once")
    specs = []
    for name in names:
        try:
            specs.append(channel(name))
        except KeyError as err:
            raise InputError(str(err.args[0])) from None
    return specs


def _require_variables(ds: xr.Dataset, specs: list[Channel], variables: list[str]) -> None:
    missing = [v for v in variables if v not in ds]
    if missing:
        needing = [c.name for c in specs if c.variable in missing]
        raise InputError(f"channels {needing[:4]}{'...' if len(needing) > 4 else ''} need variable(s) "
                         f"{missing}, which the dataset lacks (it has {list(ds.data_vars)}); load a source "
                         "that provides them, or request only the channels it supports (e.g. "
                         "icegrad.variables.SIC_ONLY_CHANNEL_NAMES)")


def _source_fields(
    ds: xr.Dataset, specs: list[Channel], offsets: np.ndarray, stats: xr.Dataset
) -> tuple[dict[str, tuple[np.ndarray, int]], TrendFits | None]:
    """Each needed field as (values, offset of its first month) read over the months used, and the trend fits.

    SIC is read from the data's start (the linear trend uses every earlier year); climate fields
    from the earliest lag to the latest present month, normalised once and then gathered per lag.
    """
    fields: dict[str, tuple[np.ndarray, int]] = {}
    last = int(offsets.max())
    for var in dict.fromkeys(c.variable for c in specs):
        if var in ("land", "month"):
            continue
        lags = [c.lag for c in specs if c.variable == var and c.kind != "linear_trend"]
        if var == "siconca":
            sic = ds["siconca"].isel(time=slice(0, last))
            require_finite(sic, ocean_only=True, valid_range=(0.0, 1.0))
            fields[var] = (np.nan_to_num(np.asarray(sic.values, dtype=np.float32), nan=0.0), 0)
            continue
        first = int(offsets.min()) - max(lags)
        window = ds[var].isel(time=slice(first, last))
        require_finite(window, ocean_only=var == "tos")
        fields[var] = (np.asarray(normalise_variable(window, stats).values), first)
    trend_leads = [c.lag for c in specs if c.kind == "linear_trend"]
    trend = None
    if trend_leads:  # only the fits these starts read: target = start + lead - 1; its line ends 12 earlier
        months = (offsets[:, None] + np.asarray(trend_leads)[None, :] - 1 - 12).ravel()
        trend = TrendFits.fit(fields["siconca"][0], months)
    return fields, trend


def _channel_values(
    spec: Channel, fields: dict[str, tuple[np.ndarray, int]], trend: TrendFits | None,
    offsets: np.ndarray, starts: pd.DatetimeIndex, ds: xr.Dataset,
) -> np.ndarray:
    """One channel for the given starts: (time, y, x), or a (y, x) / (time, 1, 1) array that broadcasts."""
    if spec.kind == "linear_trend":
        return cast(TrendFits, trend).at(offsets + spec.lag - 1)  # fitted whenever such a channel is asked
    if spec.kind in ("abs", "anom"):
        values, first = fields[spec.variable]
        return values[offsets - spec.lag - first]
    if spec.name == "land":
        return np.asarray(ds["land"].values, dtype=np.float32)
    angle = 2 * np.pi * starts.month.to_numpy() / 12
    wave = np.cos(angle) if spec.name == "cos_month" else np.sin(angle)
    return wave[:, None, None]
