"""The monthly dataset schema every data source produces and every later stage consumes.

One schema, whatever the source (the embedded emulated Arctic, NSIDC, OSI SAF + ERA5):

* dims ``(time, y, x)`` on an icegrad EASE-Grid 2.0 North grid (:mod:`icegrad.grid`), with the
  grid's coordinates ``x``, ``y``, ``lat``, ``lon``, ``cell_area`` and ``crs``;
* ``time``: the first day of each month (``datetime64[ns]``), consecutive months, no gaps;
* a boolean ``land`` coordinate ``(y, x)``;
* data variables named as in :data:`icegrad.variables.MONTHLY_VARIABLES` (``siconca`` in [0, 1],
  the ERA5-like fields in SI units), float32, with ``units``, ``long_name`` and ``standard_name``;
  ``siconca`` and ``tos`` are NaN on land (as in the observations), every other value is finite;
* global attributes ``data_source`` (``emulated``, ``nsidc``, ``osisaf`` or ``observed``), ``source``
  (for emulated data it says so: *synthetic*), ``title``, ``Conventions`` and ``resolution_km``.

:func:`validate_monthly_dataset` checks all of this and names what is wrong and how to fix it, so a
user who brings their own data learns at once why it does not fit.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import config, grid
from icegrad.data.land import land_mask
from icegrad.errors import IcegradError
from icegrad.variables import MONTHLY_VARIABLES

DATA_SOURCES = config.DATA_SOURCES
NAN_ON_LAND = ("siconca", "tos")


class SchemaError(IcegradError):
    """A dataset that does not follow icegrad's monthly dataset schema."""


def month_starts(start: str, end: str) -> pd.DatetimeIndex:
    """Month-start timestamps from ``start`` to ``end`` inclusive (``"YYYY-MM"`` strings)."""
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS")


def as_monthly_dataset(ds: xr.Dataset, resolution_km: int, *, title: str, data_source: str, source: str,
                       references: str, comment: str, **extra: str) -> xr.Dataset:
    """Attach the land coordinate and the schema's global attributes to a reader's fields, then validate.

    Every real-data reader ends the same way; one function keeps the attribute names and the land
    coordinate identical across products, which is what lets later stages ignore where data came from.
    """
    ds = ds.assign_coords(land=(("y", "x"), np.asarray(land_mask(resolution_km).values),
                                {"long_name": "land mask", "flag_meanings": "ocean land"}))
    ds.attrs = {"title": title, "data_source": data_source, "source": source, "Conventions": "CF-1.8",
                "resolution_km": resolution_km, "references": references, "comment": comment, **extra}
    return validate_monthly_dataset(ds)


def validate_monthly_dataset(
    ds: xr.Dataset, variables: Iterable[str] | None = None, *, check_values: bool = True
) -> xr.Dataset:
    """Check ``ds`` against the schema (optionally only ``variables``); return it unchanged.

    Raises :class:`SchemaError` naming the first problem found and the fix.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    wanted = list(variables) if variables is not None else [v for v in MONTHLY_VARIABLES if v in ds]
    unknown = [v for v in wanted if v not in MONTHLY_VARIABLES]
    if unknown:
        raise SchemaError(f"unknown variable(s) {unknown}; icegrad knows {list(MONTHLY_VARIABLES)}")
    missing = [v for v in wanted if v not in ds]
    if missing:
        raise SchemaError(f"dataset lacks variable(s) {missing} (it has {list(ds.data_vars)}); "
                          "load a source that provides them, or restrict the channels to what it has "
                          "(e.g. the 21 SIC-only channels, icegrad.variables.SIC_ONLY_CHANNEL_NAMES).")
    try:
        grid.assert_on_grid(ds)
    except grid.GridError as err:
        raise SchemaError(str(err)) from None
    if "time" not in ds.dims:
        raise SchemaError("dataset has no 'time' dimension; monthly data needs time, y, x")
    times = pd.DatetimeIndex(ds["time"].values)
    if len(times) and not (times == times.to_period("M").to_timestamp()).all():
        raise SchemaError("time values must be the first day of each month; convert them with "
                          "ds.assign_coords(time=ds.indexes['time'].to_period('M').to_timestamp())")
    if len(times) > 1 and not (times == pd.date_range(times[0], periods=len(times), freq="MS")).all():
        raise SchemaError(f"time must be consecutive months with no gaps ({times[0]:%Y-%m} to "
                          f"{times[-1]:%Y-%m}); fill missing months (e.g. by interpolation) first")
    if "land" not in ds.coords or ds["land"].dtype != bool:
        raise SchemaError("dataset needs a boolean 'land' coordinate (y, x); "
                          "add icegrad.data.land.land_mask(resolution_km)")
    for name in wanted:
        var = ds[name]
        spec = MONTHLY_VARIABLES[name]
        if var.dims != ("time", "y", "x"):
            raise SchemaError(f"variable {name!r} has dims {var.dims}; expected ('time', 'y', 'x')")
        if var.attrs.get("units") != spec.units:
            raise SchemaError(f"variable {name!r} has units {var.attrs.get('units')!r}; expected "
                              f"{spec.units!r} — convert it (e.g. SIC percent / 100, degC + 273.15)")
        if check_values:
            _check_values(ds, name)
    return ds


def _check_values(ds: xr.Dataset, name: str) -> None:
    values = ds[name].values
    ocean = ~np.asarray(ds["land"].values)
    where = ocean if name in NAN_ON_LAND else np.ones_like(ocean)
    bad = ~np.isfinite(values[:, where])
    if bad.any():
        t = int(np.argwhere(bad.any(axis=1))[0, 0])
        raise SchemaError(f"variable {name!r} has {int(bad.sum())} NaN/inf value(s) where data is "
                          f"required (first in {pd.Timestamp(ds.time.values[t]):%Y-%m}); fill or "
                          "interpolate them before building inputs")
    if name == "siconca":
        finite = values[np.isfinite(values)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise SchemaError(f"siconca must be a fraction in [0, 1]; found {finite.min():.3g} to "
                              f"{finite.max():.3g} (percent? divide by 100)")
