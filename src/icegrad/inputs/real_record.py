"""Running the book on a real record: where it is, which inputs it lacks, which years it can train on.

Real sea-ice concentration alone (``data_source="nsidc"``) has no ERA5 fields, so IceNet is trained
on the 21 channels SIC can make (:data:`icegrad.variables.SIC_ONLY_CHANNEL_NAMES`: SIC lags 1-12,
linear-trend forecasts 1-6, land, cos/sin month) with the same architecture; :func:`channels_for`
picks them from the dataset's variables and :func:`missing_channels` names the 29 it lacks, so the
book states them from the channel lists rather than from a typed sentence. A real record can also be
shorter than IceNet's 1979-2020 (the record embedded in ``data/`` holds 1989-2017), so :func:`splits_for`
keeps IceNet's training/validation boundary and moves the test years inside the record: on the
embedded record the SIC-only network trains on 1989-2011 (starts from 1990-01, after 12 months of
history), validates on 2012-2014 and tests on 2015-2017.

Figure 1 needs no download either: :func:`nsidc_figure1` draws the embedded 25 km Septembers with
:func:`september_roi` (or downloaded files, where present).

Example
-------
>>> describe_channels(["tas_anom_1", "tas_anom_2", "tas_anom_3", "uas_abs_1"])
'tas_anom_1-3, uas_abs_1'
>>> len(missing_channels(SIC_ONLY_CHANNEL_NAMES))
29
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import grid
from icegrad.data import nsidc
from icegrad.data import nsidc_record as embedded_record
from icegrad.inputs.checks import InputError
from icegrad.inputs.splits import Splits
from icegrad.inputs.start_months import available_start_months
from icegrad.variables import CHANNEL_NAMES, CHANNELS, N_LEADS, SIC_ONLY_CHANNEL_NAMES

NSIDC_COMMAND = "icegrad data --source nsidc --resolution {resolution_km}"
"""Builds the NSIDC grid: from the embedded record (1989-2017 at 100/200 km) or, where it cannot serve the
resolution, by downloading the CDR (version 4, 1979-2020, no account) into icegrad's cache."""


def nsidc_record() -> Path | None:
    """The NSIDC CDR :func:`icegrad.data.nsidc.load` reads without downloading, or None.

    ``$ICEGRAD_NSIDC_DIR`` when set (None if it holds no CDR files), else the download folder when it
    holds files, else the record embedded in ``data/`` (:mod:`icegrad.data.nsidc_record`), which every
    checkout has.
    """
    folder = nsidc.default_folder()
    if nsidc.has_downloaded_files():
        return folder
    if os.environ.get(nsidc.NSIDC_DIR_ENV):
        return None
    embedded = embedded_record.record_path(100)
    return embedded if embedded.is_file() else None


def september_roi(septembers: xr.Dataset, reference_year: int, target_year: int,
                  rule: str) -> xr.DataArray:
    """The ROI of ``rule`` on the embedded 25 km Septembers (:func:`icegrad.data.nsidc.embedded_septembers`).

    :func:`icegrad.roi.region_of_interest` takes consecutive monthly datasets only, which the
    Septembers are not; the same rule (:func:`icegrad.roi.select_cells`) on the same difference field
    (:func:`icegrad.roi.sic_difference`) gives the same mask and attributes.
    """
    from icegrad import roi

    parsed = roi.RoiRule.parse(rule)
    diff = roi.sic_difference(septembers, reference_year, target_year, embedded_record.SEPTEMBER)
    selected = roi.select_cells(diff.values, ~np.asarray(septembers["land"].values), parsed)
    if not selected.any():
        raise roi.RoiError(f"ROI rule {str(parsed)!r} selects no ocean cell for 09/{target_year} vs "
                           f"09/{reference_year}; lower the threshold or raise top_fraction")
    mask = xr.DataArray(selected, dims=("y", "x"), coords={k: diff.coords[k] for k in
                        ("y", "x", "lat", "lon", "cell_area", "crs") if k in diff.coords}, name="roi")
    mask.attrs = {"long_name": "region of interest", "units": "1", "flag_meanings": "outside inside",
                  "rule": str(parsed), "reference_year": int(reference_year), "target_year": int(target_year),
                  "month": embedded_record.SEPTEMBER, "n_cells": int(selected.sum()),
                  "area_km2": float(diff["cell_area"].values[selected].sum()), "data_source": "nsidc",
                  "resolution_km": grid.resolution_of(diff)}
    return mask


def nsidc_figure1(resolution_km: int, reference_year: int, target_year: int, month: int,
                  roi_rule: str) -> tuple[xr.Dataset, xr.DataArray] | None:
    """Observed SIC and its ROI for chapter 3's Figure 1, or None where no local record serves it.

    Never downloads. At 25 km in September this is the embedded Septembers (the letter's panels);
    at 100 and 200 km the embedded monthly record (or downloaded files, where present).
    """
    from icegrad.data import load_dataset
    from icegrad.roi import region_of_interest

    if resolution_km == 25 and month == embedded_record.SEPTEMBER and nsidc_record() == \
            embedded_record.record_path(100):
        septembers = nsidc.embedded_septembers()
        return septembers, september_roi(septembers, reference_year, target_year, roi_rule)
    try:
        ds = load_dataset("nsidc", resolution_km=resolution_km, download_missing=False)
    except nsidc.NSIDCError:
        return None
    return ds, region_of_interest(ds, reference_year, target_year, month, roi_rule)


def channels_for(ds: xr.Dataset) -> tuple[str, ...]:
    """IceNet's 50 channels when ``ds`` holds every variable they need, else the 21 SIC-only ones.

    A dataset with some but not all climate variables is an error: silently dropping a few would
    make a model that is neither IceNet nor the documented SIC-only variant.
    """
    needed = {c.variable for c in CHANNELS} - {"land", "month"}
    present = needed & set(ds.data_vars)
    if present == needed:
        return CHANNEL_NAMES
    if present == {"siconca"}:
        return SIC_ONLY_CHANNEL_NAMES
    raise InputError(f"the dataset has {sorted(present)} but IceNet needs all of {sorted(needed)} (or SIC "
                     "alone, for the SIC-only variant); load data_source='observed' for the full inputs")


def missing_channels(channels: Iterable[str]) -> tuple[str, ...]:
    """IceNet's channels that are not in ``channels``, in IceNet's order."""
    have = set(channels)
    return tuple(name for name in CHANNEL_NAMES if name not in have)


def describe_channels(names: Sequence[str]) -> str:
    """Channel names in compact runs, e.g. ``tas_anom_1-3, uas_abs_1`` (for the book's text)."""
    runs: dict[str, list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = re.fullmatch(r"(.+)_(\d+)", name)
        if match:
            runs.setdefault(match.group(1), []).append(int(match.group(2)))
        else:
            plain.append(name)
    parts = []
    for stem, lags in runs.items():
        consecutive = lags == list(range(lags[0], lags[0] + len(lags)))
        if len(lags) > 1 and consecutive:
            parts.append(f"{stem}_{lags[0]}-{lags[-1]}")
        else:
            parts.extend(f"{stem}_{lag}" for lag in lags)
    return ", ".join(parts + plain)


def inputs_note(channels: Sequence[str]) -> str:
    """One sentence for the book on which of IceNet's inputs a network reads (and lacks)."""
    missing = missing_channels(channels)
    if not missing:
        return f"The network reads all {len(CHANNEL_NAMES)} of IceNet's inputs."
    return (f"The network is the SIC-only variant: IceNet's architecture on the {len(channels)} inputs "
            f"sea-ice concentration alone can make ({describe_channels(list(channels))}). It lacks IceNet's "
            f"other {len(missing)} inputs, the ERA5 climate fields ({describe_channels(missing)}), so "
            "nothing here can credit or blame them.")


def splits_for(ds: xr.Dataset, n_leads: int = N_LEADS) -> Splits:
    """IceNet's splits, fitted to the years ``ds`` holds.

    IceNet trains on 1980-2011, validates on 2012-2017 (so the letter's 2013 case is a validation
    month) and tests on 2018-2020. A record starting later trains from its first whole year (the
    normalisation statistics need whole training years); a record ending before 2020 keeps the
    first validation year and makes its last three years with a full ``n_leads`` of targets the test
    years (2015-2017 for a record ending in December 2017).
    """
    default = Splits()
    months = pd.DatetimeIndex(ds["time"].values)
    first_whole_year = months[0].year if months[0].month == 1 else months[0].year + 1
    train = (max(default.train[0], first_whole_year), default.train[1])
    years = sorted(set(available_start_months(ds, n_leads).year))

    def served(first: int, last: int) -> bool:
        return any(first <= y <= last for y in years)

    if not served(*train) or not years or years[-1] < default.validate[0] + 3:
        span = f"{years[0]}-{years[-1]}" if years else "nothing"
        raise InputError(f"forecast starts span {span}; icegrad needs starts in {default.train} for "
                         f"training and through at least {default.validate[0] + 3} for validation and "
                         "testing — load a longer record")
    if served(*default.test):
        return Splits(train=train, validate=default.validate, test=default.test)
    last = years[-1]
    return Splits(train=train, validate=(default.validate[0], last - 3), test=(last - 2, last))
