"""IceNet's normalisation of the climate inputs, fitted on the training years only.

IceNet (Andersson et al. 2021) feeds the network climate *anomalies*, z-scored with one scalar per
variable, and absolute winds, z-scored the same way; SIC is left as a fraction in [0, 1]. Every
statistic here is computed from the training years alone, so that no information from the
validation or test years reaches the inputs the model is trained or evaluated on:

* ``{var}_climatology`` (month, y, x): the mean of each calendar month over the training years, for
  the eight anomaly variables (``tas``, ``ta500``, ``tos``, ``rsds``, ``rsus``, ``psl``, ``zg500``,
  ``zg250``);
* ``{var}_mean``, ``{var}_std``: one scalar pair per variable, over all training months and all
  pixels where the variable is defined — ocean *and* land for every variable except ``tos`` (sea
  surface temperature, undefined on land), which uses ocean pixels only. For anomaly variables they
  are the statistics of the anomalies; for ``ua10``, ``uas`` and ``vas`` of the absolute values.
  The standard deviation is the population one (``ddof=0``).

The statistics are an ``xr.Dataset`` that round-trips through netCDF, because a trained model is
only meaningful together with the normalisation it was trained on.

Example
-------
With ``ds`` the emulated Arctic (``icegrad.data.load_dataset("emulated", resolution_km=200)``):

>>> stats = fit_normalisation(ds, train_years=(1980, 2011))
>>> z = normalise_variable(ds["tas"], stats)
>>> round(float(z.sel(time=slice("1980", "2011")).std()), 3)  # unit spread over the training years
1.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.data.schema import NAN_ON_LAND
from icegrad.inputs.checks import InputError
from icegrad.inputs.start_months import dataset_months
from icegrad.variables import CHANNELS, MONTHLY_VARIABLES

DEFAULT_TRAIN_YEARS = (1980, 2011)
ANOMALY_VARIABLES: tuple[str, ...] = tuple(dict.fromkeys(c.variable for c in CHANNELS if c.kind == "anom"))
"""Variables entered as anomalies from the training-years monthly climatology, then z-scored."""
ABSOLUTE_VARIABLES: tuple[str, ...] = tuple(
    dict.fromkeys(c.variable for c in CHANNELS if c.kind == "abs" and c.variable != "siconca")
)
"""Variables entered as absolute values, z-scored (``ua10``, ``uas``, ``vas``)."""
NORMALISED_VARIABLES = ANOMALY_VARIABLES + ABSOLUTE_VARIABLES


def fit_normalisation(ds: xr.Dataset, train_years: tuple[int, int] = DEFAULT_TRAIN_YEARS) -> xr.Dataset:
    """Monthly climatologies and scalar mean/std of every climate variable in ``ds``, training years only.

    ``train_years`` is inclusive and must be fully covered by ``ds`` (all twelve months of each
    year), so that every calendar month's climatology rests on the same years. Variables absent from
    ``ds`` are simply not fitted (a SIC-only dataset gives statistics with no variables, which is all
    the 21 SIC-only channels need).
    """
    start, end = check_train_years(ds, train_years)
    train = ds.sel(time=slice(f"{start}-01-01", f"{end}-12-01"))
    out = xr.Dataset(coords={"month": ("month", np.arange(1, 13), {"long_name": "calendar month"})})
    for name in ("y", "x", "lat", "lon"):
        if name in ds.coords:
            out.coords[name] = ds[name]
    for var in NORMALISED_VARIABLES:
        if var not in ds:
            continue
        values = np.asarray(train[var].values, dtype=np.float64)
        _check_finite(ds, var, values, train_years)
        spec = MONTHLY_VARIABLES[var]
        if var in ANOMALY_VARIABLES:
            months = pd.DatetimeIndex(train["time"].values).month.to_numpy()
            clim = np.stack([values[months == m].mean(axis=0) for m in range(1, 13)])
            values = values - clim[months - 1]
            out[f"{var}_climatology"] = xr.DataArray(
                clim.astype(np.float32), dims=("month", "y", "x"),
                attrs={"units": spec.units, "standard_name": spec.standard_name,
                       "long_name": f"{spec.long_name}, monthly climatology {start}-{end}"})
        kind = "anomaly" if var in ANOMALY_VARIABLES else "value"
        mean, std = float(np.nanmean(values)), float(np.nanstd(values))
        if not std > 0:
            raise InputError(f"{var!r} {kind} has zero (or undefined) spread over the training years "
                             f"{start}-{end}, so it cannot be z-scored; check the data source, or drop "
                             f"the channels built from {var!r}")
        out[f"{var}_mean"] = xr.DataArray(mean, attrs={
            "units": spec.units, "long_name": f"mean of {spec.long_name} {kind} over training months"})
        out[f"{var}_std"] = xr.DataArray(std, attrs={
            "units": spec.units,
            "long_name": f"standard deviation of {spec.long_name} {kind} over training months"})
    out.attrs = {
        "title": "icegrad input normalisation statistics (IceNet convention)",
        "train_start_year": int(start),
        "train_end_year": int(end),
        "train_years": f"{start}-{end}",
        "data_source": str(ds.attrs.get("data_source", "unknown")),
        "comment": "Climatologies and scalar mean/std from the training years only. Pixels: ocean and "
                   "land for every variable except tos (ocean only, NaN on land). Anomaly variables: "
                   "stats of anomalies from the monthly climatology; ua10/uas/vas: stats of absolute "
                   "values. Population standard deviation.",
        "Conventions": "CF-1.8",
    }
    return out


def normalise_variable(values: xr.DataArray, stats: xr.Dataset) -> xr.DataArray:
    """Z-score one variable's monthly field (time, y, x) with ``stats`` as IceNet does; float32.

    Anomaly variables first subtract the climatology of each value's calendar month. ``tos``, which
    is NaN on land, is set to 0 on land *after* normalisation — 0 is the training mean, the value
    that carries no signal — so the network never sees a NaN.
    """
    var = str(values.name)
    if var not in NORMALISED_VARIABLES:
        raise InputError(f"{var!r} is not a normalised climate variable; those are {NORMALISED_VARIABLES}")
    _check_stats(stats, var, values)
    data = np.asarray(values.values, dtype=np.float64)
    if var in ANOMALY_VARIABLES:
        months = pd.DatetimeIndex(values["time"].values).month.to_numpy()
        data = data - np.asarray(stats[f"{var}_climatology"].values, dtype=np.float64)[months - 1]
    data = (data - float(stats[f"{var}_mean"])) / float(stats[f"{var}_std"])
    if var in NAN_ON_LAND and "land" in values.coords:
        data[:, np.asarray(values["land"].values, dtype=bool)] = 0.0
    kind = "anomaly" if var in ANOMALY_VARIABLES else "value"
    return xr.DataArray(data.astype(np.float32), coords=values.coords, dims=values.dims, name=var, attrs={
        "units": "1", "long_name": f"z-scored {MONTHLY_VARIABLES[var].long_name} {kind}",
        "normalisation_train_years": str(stats.attrs.get("train_years", "unknown"))})


def check_train_years(ds: xr.Dataset, train_years: tuple[int, int]) -> tuple[int, int]:
    """``train_years`` as two ints, after checking ``ds`` holds every month of them (else InputError)."""
    try:
        start, end = (int(y) for y in train_years)
    except (TypeError, ValueError):
        raise InputError(f"train_years must be two years (first, last), got {train_years!r}") from None
    if start > end:
        raise InputError(f"train_years {train_years} is reversed; pass (first, last), e.g. ({end}, {start})")
    months = dataset_months(ds)
    if months[0] > pd.Timestamp(f"{start}-01-01") or months[-1] < pd.Timestamp(f"{end}-12-01"):
        whole = (months[0].year + (months[0].month > 1), months[-1].year - (months[-1].month < 12))
        raise InputError(f"train_years {start}-{end} are not fully inside the dataset "
                         f"({months[0]:%Y-%m} to {months[-1]:%Y-%m}); pass train_years covering whole "
                         f"years of the data, e.g. train_years={whole}")
    return start, end


def _check_finite(ds: xr.Dataset, var: str, values: np.ndarray, train_years: tuple[int, int]) -> None:
    required = ~np.asarray(ds["land"].values, dtype=bool) if var in NAN_ON_LAND else slice(None)
    bad = ~np.isfinite(values[:, required])
    if bad.any():
        raise InputError(f"{var!r} has {int(bad.sum())} NaN/inf value(s) in the training years "
                         f"{train_years[0]}-{train_years[1]} where data is required; fill or interpolate "
                         "them before fitting the normalisation")


def _check_stats(stats: xr.Dataset, var: str, values: xr.DataArray) -> None:
    needed = [f"{var}_mean", f"{var}_std"] + ([f"{var}_climatology"] if var in ANOMALY_VARIABLES else [])
    missing = [n for n in needed if n not in stats]
    if missing:
        raise InputError(f"normalisation statistics lack {missing} (fitted on a dataset without {var!r}?); "
                         "refit them with inputs.build.fit_normalisation(ds) on a dataset that has it")
    if var in ANOMALY_VARIABLES:
        clim = stats[f"{var}_climatology"]
        if (clim.sizes["y"], clim.sizes["x"]) != (values.sizes["y"], values.sizes["x"]):
            raise InputError(f"normalisation statistics are on a {clim.sizes['y']}x{clim.sizes['x']} grid "
                             f"but the data is {values.sizes['y']}x{values.sizes['x']}; fit them on the "
                             "same resolution with fit_normalisation(ds)")
