"""IceNet's training targets: one-hot SIC classes per lead, and the active-grid-cell sample weights.

For a forecast starting in month ``s``, lead ``l`` (1..6) targets month ``s + l - 1``. Its SIC falls in
one of three classes (``icegrad.variables.SIC_CLASS_EDGES``): open water ``SIC <= 0.15``, marginal ice
``0.15 < SIC < 0.80``, full ice ``SIC >= 0.80``; land counts as open water and has weight 0.

Sample weights follow IceNet: a cell is *active* in calendar month ``m`` if it is ocean and its SIC
exceeded 0.15 in month ``m`` of at least one training year (the monthly maximum-extent mask), since
a cell that never holds ice in that month teaches the model nothing about ice. Each target month's
mask is then scaled by ``mean_m(n_active) / n_active(m)``, so every (start, lead) sums to the same
total — the mean number of active cells over the twelve calendar months — and a winter month with a
large ice cover weighs no more in the loss than a September with little.

Targets beyond the end of the data are refused with :class:`InputError` rather than flagged: a
training or scoring sample without its truth is always a mistake, and
``available_start_months(ds, n_leads)`` lists the starts that have one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.inputs.checks import InputError, require_finite, validate_dataset
from icegrad.inputs.normalisation import DEFAULT_TRAIN_YEARS, check_train_years
from icegrad.inputs.start_months import StartMonths, as_start_months, calendar_month, start_offsets
from icegrad.variables import N_LEADS, SIC_CLASS_EDGES, SIC_CLASSES

ACTIVE_THRESHOLD = SIC_CLASS_EDGES[0]


def sic_class(sic: np.ndarray) -> np.ndarray:
    """Class index (0 open water, 1 marginal, 2 full) of each SIC value; NaN (land) is open water.

    The edges are cast to the data's own float type, so a float32 SIC of exactly 0.15 is open water
    (in float64, ``float32(0.15)`` is slightly *above* 0.15 and would land in the wrong class).
    """
    sic = np.asarray(sic)
    dtype = sic.dtype if sic.dtype.kind == "f" else np.float64
    low, high = (np.asarray(edge, dtype=dtype) for edge in SIC_CLASS_EDGES)
    sic = np.nan_to_num(sic, nan=0.0)
    return (sic > low).astype(np.int8) + (sic >= high).astype(np.int8)


def active_grid_cell_mask(ds: xr.Dataset, train_years: tuple[int, int] = DEFAULT_TRAIN_YEARS) -> xr.DataArray:
    """Cells that can hold ice in each calendar month (month, y, x): ocean, SIC > 0.15 in a training year."""
    if "siconca" not in ds:
        raise InputError(f"the dataset lacks 'siconca' (it has {list(ds.data_vars)}), which targets and "
                         "their weights are made of; load a source that provides sea-ice concentration")
    start, end = check_train_years(ds, train_years)
    sic = ds["siconca"].sel(time=slice(f"{start}-01-01", f"{end}-12-01"))
    values = np.asarray(sic.values)
    months = pd.DatetimeIndex(sic["time"].values).month.to_numpy()
    threshold = np.asarray(ACTIVE_THRESHOLD, dtype=values.dtype)
    ever_ice = np.stack([(np.nan_to_num(values[months == m]) > threshold).any(axis=0) for m in range(1, 13)])
    mask = ever_ice & ~np.asarray(ds["land"].values, dtype=bool)
    coords = {"month": ("month", np.arange(1, 13), {"long_name": "calendar month"})}
    coords.update({name: ds[name] for name in ("y", "x", "lat", "lon") if name in ds.coords})
    return xr.DataArray(mask, dims=("month", "y", "x"), coords=coords, name="active_grid_cell_mask", attrs={
        "long_name": "active grid cell mask (monthly maximum sea-ice extent)",
        "flag_meanings": "inactive active",
        "comment": f"ocean cells with SIC > {ACTIVE_THRESHOLD} in that calendar month of at least one "
                   f"training year {start}-{end}"})


def build_targets(
    ds: xr.Dataset,
    start_months: StartMonths,
    n_leads: int = N_LEADS,
    *,
    train_years: tuple[int, int] = DEFAULT_TRAIN_YEARS,
) -> xr.Dataset:
    """One-hot SIC classes ``targets`` (time, y, x, class, lead) and ``sample_weight`` (time, y, x, lead).

    ``time`` is the forecast start month; ``train_years`` defines the active-grid-cell masks and
    must be the years the model is trained on.
    """
    if not 1 <= n_leads <= N_LEADS:
        raise InputError(f"n_leads must be between 1 and {N_LEADS}, got {n_leads}")
    validate_dataset(ds, ["siconca"])
    mask = active_grid_cell_mask(ds, train_years)
    starts = as_start_months(start_months)
    offsets = start_offsets(ds, starts, n_leads)
    target_offsets = offsets[:, None] + np.arange(n_leads)[None, :]  # (time, lead)
    window = slice(int(target_offsets.min()), int(target_offsets.max()) + 1)
    require_finite(ds["siconca"].isel(time=window), ocean_only=True, valid_range=(0.0, 1.0))
    classes = sic_class(np.asarray(ds["siconca"].values)[target_offsets])  # (time, lead, y, x)
    one_hot = (classes[..., None] == np.arange(len(SIC_CLASSES), dtype=np.int8)).astype(np.float32)

    origin = pd.Timestamp(ds["time"].values[0])
    counts = mask.values.sum(axis=(1, 2)).astype(np.float64)
    if (counts == 0).any():
        empty = [int(m) for m in np.flatnonzero(counts == 0) + 1]
        raise InputError(f"calendar month(s) {empty} have no active cells (no SIC > {ACTIVE_THRESHOLD} "
                         f"over the training years {train_years}), so they cannot be weighted; widen "
                         "train_years or check the SIC data")
    scale = counts.mean() / counts
    target_month = calendar_month(target_offsets, origin)
    weights = mask.values[target_month - 1] * scale[target_month - 1][..., None, None]

    target_time = np.array([[origin + pd.DateOffset(months=int(t)) for t in row] for row in target_offsets],
                           dtype="datetime64[ns]")
    coords = {
        "time": ("time", starts, {"long_name": "forecast start month"}),
        "lead": ("lead", np.arange(1, n_leads + 1), {"long_name": "lead (months)"}),
        "class": ("class", list(SIC_CLASSES), {"long_name": "sea ice concentration class"}),
        "target_time": (("time", "lead"), target_time, {"long_name": "target month"}),
    }
    coords.update({name: ds[name] for name in ("y", "x", "lat", "lon", "land") if name in ds.coords})
    edges = f"open water SIC <= {SIC_CLASS_EDGES[0]}, marginal, full ice SIC >= {SIC_CLASS_EDGES[1]}"
    out = xr.Dataset(
        {
            "targets": (("time", "y", "x", "class", "lead"), one_hot.transpose(0, 2, 3, 4, 1), {
                "units": "1", "long_name": "one-hot sea ice concentration class of the target month",
                "comment": edges + "; land is open water"}),
            "sample_weight": (("time", "y", "x", "lead"), weights.transpose(0, 2, 3, 1).astype(np.float32), {
                "units": "1", "long_name": "IceNet sample weight (active grid cells, equal total per month)",
                "comment": mask.attrs["comment"] + "; land 0; scaled so every (time, lead) sums to the "
                           "mean number of active cells over the 12 calendar months"}),
        },
        coords=coords,
        attrs={"title": "IceNet training targets", "data_source": str(ds.attrs.get("data_source", "unknown")),
               "source": str(ds.attrs.get("source", "")),
               "train_years": f"{train_years[0]}-{train_years[1]}",
               "lead_convention": "lead l targets month start + l - 1 (IceNet)", "Conventions": "CF-1.8"},
    )
    return out
