"""The one exception the input-tensor stage raises for bad input, and the checks that raise it.

A separate module so that every part of the stage (start months, normalisation, linear trend,
targets, tensors) raises the same type without importing each other: callers catch one
:class:`InputError` whatever went wrong, and its message always says how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.data.schema import SchemaError, validate_monthly_dataset
from icegrad.errors import IcegradError


class InputError(IcegradError):
    """Input that cannot be turned into IceNet tensors; the message names the problem and the fix."""


def validate_dataset(ds: xr.Dataset, variables: Iterable[str]) -> xr.Dataset:
    """Check the schema (grid, time axis, land, units) of ``variables`` in ``ds``; SchemaError -> InputError.

    Values are not checked here: only the months an input reads are, by :func:`require_finite`.
    """
    try:
        return validate_monthly_dataset(ds, list(variables), check_values=False)
    except SchemaError as err:
        raise InputError(str(err)) from err


def require_finite(
    field: xr.DataArray, *, ocean_only: bool, valid_range: tuple[float, float] | None = None
) -> None:
    """Raise :class:`InputError` if ``field`` (the months an input reads) holds NaN/inf where data is needed.

    Callers pass only the months their inputs read, so a gap *after* the forecast start (which the
    inputs never see) does not block a forecast. ``ocean_only`` skips land cells, where SIC and SST
    are NaN by the schema and are set to 0 by the stage. ``valid_range`` also rejects values outside
    it (SIC must be a fraction, not a percentage).
    """
    values = np.asarray(field.values)
    where = ~np.asarray(field["land"].values, dtype=bool) if ocean_only else slice(None)
    checked = values[:, where]
    bad = ~np.isfinite(checked)
    if bad.any():
        first = pd.Timestamp(field["time"].values[int(np.argwhere(bad.any(axis=1))[0, 0])])
        place = "ocean cells" if ocean_only else "cells"
        raise InputError(f"{field.name!r} has {int(bad.sum())} NaN/inf value(s) over {place} in the months "
                         f"the inputs read (first in {first:%Y-%m}); fill or interpolate them (e.g. "
                         "ds.interpolate_na('time')) before building inputs")
    if valid_range is not None and checked.size:
        low, high = float(checked.min()), float(checked.max())
        if low < valid_range[0] or high > valid_range[1]:
            raise InputError(f"{field.name!r} ranges {low:.3g} to {high:.3g}, outside {valid_range}; "
                             "convert it first (SIC in percent: divide by 100)")
