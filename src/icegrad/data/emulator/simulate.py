"""The month-by-month run of the emulator: weather first, then sea ice, then the fields tied to both.

:func:`months` yields one month at a time, so memory stays at a few fields per variable however many
years are generated; :func:`simulate` collects a window. A :class:`Perturbation` nudges one driver
anomaly (or SIC) in one cell and month and re-runs, which is how the causal sensitivity
(:func:`icegrad.data.emulator.true_sensitivity`) is checked against the generator.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from icegrad.data.emulator import climate, sea_ice
from icegrad.data.emulator.drivers import DRIVERS, EPOCH, Weather, n_months_since_epoch
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.links import LINKED_DRIVERS, MAX_LAG
from icegrad.data.emulator.rule import Rule, rule
from icegrad.data.emulator.tuning import DEFAULT, Tuning

WARMING_PER_DEGREE = 1.0  # K of Arctic surface warming per degree of forced ice-edge retreat
OUTPUT_DRIVERS = tuple(d.name for d in DRIVERS if d.name != "ice")


@dataclass(frozen=True)
class Perturbation:
    """Add ``delta`` to one linked driver anomaly (or to SIC) in one cell ``(row, col)`` and month."""

    variable: str
    time: str
    row: int
    col: int
    delta: float

    def __post_init__(self) -> None:
        inputs = ("siconca", *LINKED_DRIVERS)
        if self.variable not in inputs:
            raise EmulatorError(f"cannot perturb {self.variable!r}: only the sea-ice rule's inputs {inputs} "
                                "change SIC (the other fields have no link, so their sensitivity is zero)")


def anomalies(r: Rule, z: dict[str, np.ndarray], year: int, month: int) -> dict[str, np.ndarray]:
    """Driver anomalies in physical units from the standardised ones."""
    return {name: r.driver_std(name, year, month) * z[name] for name in OUTPUT_DRIVERS}


def months(resolution_km: int, end: pd.Timestamp, seed: int, perturbation: Perturbation | None = None,
           tuning: Tuning = DEFAULT) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(index since the epoch, fields)`` for every month from :data:`EPOCH` to ``end``, by the rule of
    ``tuning``."""
    r = rule(resolution_km, tuning)
    n_total = n_months_since_epoch(end)
    weather = Weather(r.lat, r.lon, r.x_km, r.y_km, n_total, seed)
    perturb_index = (n_months_since_epoch(pd.Timestamp(perturbation.time)) - 1) if perturbation else -1
    history: list[dict[str, np.ndarray]] = []
    a = np.zeros(r.lat.shape)
    for index in range(n_total):
        year, month = EPOCH.year + index // 12, index % 12 + 1
        z = weather.standardised(index)
        d = anomalies(r, z, year, month)
        if index == perturb_index and perturbation.variable in d:
            d[perturbation.variable] = d[perturbation.variable].copy()
            d[perturbation.variable][perturbation.row, perturbation.col] += perturbation.delta
        history = [d, *history[:MAX_LAG]]
        base = r.base(year, month)
        a = r.step(a, history, z["ice"], year, month)
        sic = sea_ice.sic_from_state(base + a)
        if index == perturb_index and perturbation.variable == "siconca":
            sic[perturbation.row, perturbation.col] += perturbation.delta
            a = (sea_ice.state_from_sic(sic) - base) * r.ocean
        yield index, tied_fields(r, sic, d, year, month)


def simulate(resolution_km: int, start: pd.Timestamp, end: pd.Timestamp, seed: int,
             perturbation: Perturbation | None = None, tuning: Tuning = DEFAULT) -> dict[str, np.ndarray]:
    """Run from :data:`EPOCH` to ``end``; return float32 arrays ``(time, y, x)`` from ``start`` on."""
    first = n_months_since_epoch(start) - 1
    n = n_months_since_epoch(end) - first
    out: dict[str, np.ndarray] = {}
    for index, fields in months(resolution_km, end, seed, perturbation, tuning):
        if index < first:
            continue
        for name, values in fields.items():
            if name not in out:
                out[name] = np.empty((n, *values.shape), np.float32)
            out[name][index - first] = values
    return out


def climatological_fields(r: Rule, sic: np.ndarray, year: int, month: int) -> dict[str, np.ndarray]:
    """The part of each linked field that is not its driver anomaly (schema units): field = this + d.

    ``tos`` blends the freezing point under the ice with the open-water climatology by the month's
    SIC, which the forecaster sees, so the SST anomaly stays observable.
    """
    clim = r.months[month - 1]
    warming = WARMING_PER_DEGREE * float(sea_ice.forced_retreat(year + (month - 0.5) / 12.0))
    sst = r.sst_open(year, month)
    sic_ref = sea_ice.sic_from_state(r.base(year, month))
    tas_c = climate.tas_climatology_c(r.lat, r.land, sic_ref, sst, month, warming)
    tos_c = sic * climate.T_FREEZE_C + (1.0 - sic) * sst
    return {"tas": tas_c + climate.KELVIN, "rsds": clim.toa * r.tau_clim, "psl": clim.psl,
            "tos": tos_c + climate.KELVIN}


def tied_fields(r: Rule, sic: np.ndarray, d: dict[str, np.ndarray], year: int, month: int,
                ) -> dict[str, np.ndarray]:
    """All twelve output fields of one month, in their schema units."""
    clim = r.months[month - 1]
    warming = WARMING_PER_DEGREE * float(sea_ice.forced_retreat(year + (month - 0.5) / 12.0))
    linked = {name: value + d[name] for name, value in climatological_fields(r, sic, year, month).items()}
    ta500_k = clim.ta500 + 0.6 * d["tas"] + d["ta500"] + 0.3 * warming
    zg500, zg250 = climate.geopotential_heights(linked["psl"], linked["tas"], ta500_k, d["zg250"])
    uas, vas = climate.surface_winds(linked["psl"], r.lat, r.spacing_m)
    out = {
        "siconca": np.where(r.land, np.nan, sic),
        "tas": linked["tas"],
        "ta500": ta500_k,
        "tos": np.where(r.land, np.nan, linked["tos"]),
        "rsds": linked["rsds"],
        "rsus": climate.surface_albedo(sic, r.lat, r.land, month) * linked["rsds"],
        "psl": linked["psl"],
        "zg500": zg500,
        "zg250": zg250,
        "ua10": clim.ua10 + d["ua10"],
        "uas": uas,
        "vas": vas,
    }
    return out
