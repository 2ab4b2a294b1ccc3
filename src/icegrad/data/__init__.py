"""Monthly Arctic datasets in icegrad's schema (see :mod:`icegrad.data.schema`).

:func:`load_dataset` is the one entry point chapters and the CLI use: ``data_source`` picks the
embedded emulated Arctic (the default, no download) or a real-data pipeline.

``data_source="nsidc"`` works offline too: without downloaded files it reads the observed NSIDC CDR
record embedded in ``data/`` (every month 1989-2017 at 100 and 200 km; the 25 km Septembers of the
letter's Figure 1 are :func:`icegrad.data.nsidc.embedded_septembers`); downloads add months and
resolutions.
"""

from __future__ import annotations

import importlib

import pandas as pd
import xarray as xr

from icegrad.data.schema import DATA_SOURCES, SchemaError, validate_monthly_dataset

# data_source -> module providing ``load(resolution_km=..., **options) -> xr.Dataset``
_LOADERS = {"emulated": "icegrad.data.emulator", "nsidc": "icegrad.data.nsidc",
            "osisaf": "icegrad.data.osisaf", "observed": "icegrad.data.observed"}


def coverage(data_source: str, resolution_km: int) -> pd.DatetimeIndex | None:
    """The months :func:`load_dataset` returns for these arguments, where known without building them.

    Lets a run's years be checked in a second on a cold cache, before the dataset is built (the
    emulated Arctic takes half a minute at 100 km). ``None`` where only the files can tell.
    """
    if data_source not in _LOADERS:
        raise SchemaError(f"unknown data_source {data_source!r}; choose one of {DATA_SOURCES}")
    known = getattr(importlib.import_module(_LOADERS[data_source]), "coverage", None)
    return None if known is None else known(resolution_km)


def load_dataset(data_source: str = "emulated", resolution_km: int = 100, **options: object) -> xr.Dataset:
    """Load (from cache, or build) the monthly dataset of ``data_source`` at ``resolution_km``.

    Example
    -------
    >>> ds = load_dataset("emulated", resolution_km=200)
    >>> ds.attrs["data_source"], dict(ds.sizes)
    ('emulated', {'time': 504, 'y': 54, 'x': 54})
    """
    if data_source not in DATA_SOURCES:
        raise SchemaError(f"unknown data_source {data_source!r}; choose one of {DATA_SOURCES}")
    if data_source not in _LOADERS:
        raise NotImplementedError(
            f"data_source={data_source!r} has no loader in this version of icegrad; "
            f"available: {sorted(_LOADERS)}"
        )
    module = importlib.import_module(_LOADERS[data_source])
    return validate_monthly_dataset(module.load(resolution_km=resolution_km, **options), check_values=False)


__all__ = ["coverage", "load_dataset", "validate_monthly_dataset"]
