"""The emulator's public face: :func:`generate` a schema dataset of the emulated Arctic, :func:`load` it."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import icegrad
from icegrad import cache, grid
from icegrad.data.emulator.drivers import EPOCH
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.simulate import Perturbation, simulate
from icegrad.data.emulator.tuning import ATTRIBUTE, DEFAULT, Tuning, tuning_of
from icegrad.data.land import land_mask
from icegrad.data.schema import month_starts
from icegrad.variables import MONTHLY_VARIABLES

LAST_MONTH = pd.Timestamp("2999-12-01")
BOOK_START, BOOK_END = "1979-01", "2020-12"
"""The years the book uses as the emulated "observed" record (control years run on past them)."""
"""Years after 2020 are control years at the 2020 forcing (:data:`.sea_ice.CONTROL_FROM`)."""


def _check(resolution_km: int, start: str, end: str, seed: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        grid.coarsening_factor(resolution_km)
    except grid.GridError as err:
        raise EmulatorError(str(err)) from None
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise EmulatorError(f"seed must be a non-negative integer, got {seed!r}")
    try:
        first, last = pd.Timestamp(start).to_period("M").to_timestamp(), pd.Timestamp(end).to_period("M")
    except ValueError as err:
        raise EmulatorError(f"start/end must be 'YYYY-MM' strings, got {start!r}, {end!r} ({err})") from None
    last = last.to_timestamp()
    if first < EPOCH or last > LAST_MONTH or last < first:
        raise EmulatorError(
            f"the emulated Arctic covers {EPOCH:%Y-%m} to {LAST_MONTH:%Y-%m}; got start={start!r}, "
            f"end={end!r}. Pick an ordered window inside that range (e.g. start='1979-01', end='2020-12')."
        )
    return first, last


def generate(resolution_km: int = 100, start: str = BOOK_START, end: str = BOOK_END, seed: int = 0,
             *, perturbation: Perturbation | None = None, tuning: Tuning | None = None) -> xr.Dataset:
    """Generate the SYNTHETIC emulated Arctic: monthly SIC and ERA5-like drivers on the EASE2 grid.

    Deterministic for a seed; a window is a slice of the same 1979-onward realisation. The
    ``perturbation`` keyword exists for finite-difference checks of :func:`true_sensitivity`.
    ``tuning`` (default: :data:`~icegrad.data.emulator.tuning.DEFAULT`, the book's) sets the rule's
    memory, ice innovation and link strength; the same seed draws the same weather under any tuning.
    It is recorded in the ``emulator_tuning`` attribute, which the optimal forecast and the causal
    sensitivity read, so they always use the rule that made the data.

    Example
    -------
    >>> ds = generate(200, "2012-01", "2012-12")
    >>> float(ds.siconca.sel(time="2012-09").max()) <= 1.0
    True
    """
    first, last = _check(resolution_km, start, end, seed)
    tuning = _tuning(tuning)
    if perturbation is not None and not EPOCH <= pd.Timestamp(perturbation.time) <= last:
        raise EmulatorError(f"perturbation month {perturbation.time!r} is outside {EPOCH:%Y-%m} to "
                            f"{last:%Y-%m}, so it could not change the output")
    arrays = simulate(resolution_km, first, last, int(seed), perturbation, tuning)
    g = grid.ease2_grid(resolution_km)
    coords = {name: g[name] for name in ("y", "x", "lat", "lon", "cell_area", "crs")}
    coords["time"] = ("time", month_starts(f"{first:%Y-%m}", f"{last:%Y-%m}"),
                      {"standard_name": "time", "long_name": "month (first day)"})
    coords["land"] = land_mask(resolution_km).drop_vars(["lat", "lon", "cell_area", "x", "y", "crs"],
                                                        errors="ignore")
    data_vars = {}
    for name, spec in MONTHLY_VARIABLES.items():
        attrs = {"units": spec.units, "long_name": f"{spec.long_name} (emulated)",
                 "standard_name": spec.standard_name, "grid_mapping": "crs"}
        data_vars[name] = (("time", "y", "x"), arrays[name], attrs)
    ds = xr.Dataset(data_vars, coords=coords, attrs=_global_attrs(resolution_km, first, last, seed, tuning))
    return ds


def _tuning(tuning: Tuning | None) -> Tuning:
    if tuning is None:
        return DEFAULT
    if not isinstance(tuning, Tuning):
        raise EmulatorError(f"tuning must be an icegrad.data.emulator.tuning.Tuning, got "
                            f"{type(tuning).__name__}; build one with Tuning(memory=..., ice_sd=..., "
                            "link_scale=...)")
    return tuning


def _global_attrs(resolution_km: int, first: pd.Timestamp, last: pd.Timestamp,
                  seed: int, tuning: Tuning) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    call = f"resolution_km={resolution_km}, start='{first:%Y-%m}', end='{last:%Y-%m}', seed={seed}"
    if not tuning.is_default:
        call += f", tuning={tuning!r}"
    return {
        "title": "The embedded emulated Arctic (SYNTHETIC sea ice and ERA5-like drivers)",
        "source": ("SYNTHETIC: emulated by icegrad.data.emulator, not observations. Sea ice follows "
                   "documented lagged links from randomly generated drivers; see true_links()."),
        "data_source": "emulated",
        "Conventions": "CF-1.10",
        "institution": "icegrad (open-source companion to Joakimsen et al. 2024, IEEE GRSL)",
        "resolution_km": resolution_km,
        "grid": grid.grid_name(resolution_km),
        "seed": int(seed),
        "time_coverage_start": f"{first:%Y-%m}",
        "time_coverage_end": f"{last:%Y-%m}",
        "history": f"{now}: icegrad.data.emulator.generate({call})",
        "icegrad_version": icegrad.__version__,
        ATTRIBUTE: tuning.to_json(),
    }


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the emulator's source, part of the cache key: an edited rule never serves stale data."""
    return cache.source_fingerprint(Path(__file__).parent)


def realisation(ds: xr.Dataset, seed: int) -> xr.Dataset:
    """The emulated Arctic ``ds`` with weather ``seed``: its resolution, months and tuning, so the same rule
    and statistics with other weather. Training pre-trains on such realisations, and an ensemble's skill is
    judged on them (:mod:`icegrad.evaluation.realisations`)."""
    times = pd.DatetimeIndex(ds["time"].values)
    return generate(grid.resolution_of(ds), f"{times[0]:%Y-%m}", f"{times[-1]:%Y-%m}", seed,
                    tuning=tuning_of(ds))


def coverage(resolution_km: int = 100) -> pd.DatetimeIndex:
    """The months :func:`load` returns by default, known without generating them (for the pre-run checks)."""
    grid.coarsening_factor(resolution_km)  # GridError naming the resolutions, as load would
    return month_starts(BOOK_START, BOOK_END)


def load(resolution_km: int = 100, seed: int = 0, start: str = BOOK_START, end: str = BOOK_END,
         refresh: bool = False, *, tuning: Tuning | None = None) -> xr.Dataset:
    """The emulated Arctic from the disk cache (:mod:`icegrad.cache`), generated and stored on first use.

    A non-default ``tuning`` is part of the cache key (the default's key is the one it always had).
    """
    first, last = _check(resolution_km, start, end, seed)
    tuning = _tuning(tuning)
    params = {"resolution_km": resolution_km, "seed": int(seed), "start": f"{first:%Y-%m}",
              "end": f"{last:%Y-%m}", "version": icegrad.__version__, "code": code_fingerprint()}
    if not tuning.is_default:
        params["tuning"] = tuning.to_json()
    ds = cache.cached_netcdf("emulator", params,
                             lambda: generate(resolution_km, f"{first:%Y-%m}", f"{last:%Y-%m}", seed,
                                              tuning=tuning),
                             refresh=refresh)
    if ds["land"].dtype != bool:  # netCDF stores booleans as integers
        ds = ds.assign_coords(land=ds["land"].astype(bool))
    return ds
