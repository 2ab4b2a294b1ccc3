"""The month-by-month run of the emulator: weather first, then sea ice, then the fields tied to both.

One month at a time keeps memory at a few fields per variable whatever the grid (the 25 km run never
holds more than the output arrays), and is the natural order for the sea-ice recursion. A
:class:`Perturbation` lets the tests nudge one driver anomaly (or SIC) in one cell and month and
re-run, which is how :func:`icegrad.data.emulator.true_sensitivity` is checked against the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from icegrad import grid
from icegrad.data.emulator import climate, sea_ice
from icegrad.data.emulator.drivers import EPOCH, Weather, n_months_since_epoch
from icegrad.data.emulator.errors import EmulatorError
from icegrad.data.emulator.geography import REGION_NAMES, region_index
from icegrad.data.emulator.links import LINKED_DRIVERS, LINKS, Link
from icegrad.data.emulator.thickness import ThicknessAnomaly
from icegrad.data.land import land_mask
from icegrad.variables import MONTHLY_VARIABLES

MAX_LAG = max(lk.lag for lk in LINKS)
WARMING_PER_DEGREE = 1.0  # K of Arctic surface warming per degree of forced ice-edge retreat
CLOUD_PER_PA = 4e-5  # clearer skies under high pressure: transmissivity per Pa of psl anomaly
TAU_RANGE = (0.15, 0.85)


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


def link_weights(resolution_km: int) -> list[tuple[Link, np.ndarray]]:
    """Each link with its per-cell weight: the coefficient inside its region, zero elsewhere."""
    g = grid.ease2_grid(resolution_km)
    code = region_index(g.lat.values, g.lon.values, ~land_mask(resolution_km).values)
    out = []
    for lk in LINKS:
        inside = np.ones(code.shape, bool) if lk.region == "all" else code == REGION_NAMES.index(lk.region)
        out.append((lk, lk.coefficient * inside))
    return out


def simulate(resolution_km: int, start: pd.Timestamp, end: pd.Timestamp, seed: int,
             perturbation: Perturbation | None = None) -> dict[str, np.ndarray]:
    """Run from :data:`EPOCH` to ``end``; return float32 arrays ``(time, y, x)`` from ``start`` on."""
    g = grid.ease2_grid(resolution_km)
    lat, lon = g.lat.values, g.lon.values
    land = land_mask(resolution_km).values
    maps = sea_ice.ice_potential_maps(lat, lon)
    weights = link_weights(resolution_km)
    weather = Weather(resolution_km, end, seed)
    first = n_months_since_epoch(start) - 1
    n_total = n_months_since_epoch(end)
    thickness = ThicknessAnomaly(resolution_km, n_total, seed)
    out = {name: np.empty((n_total - first, *lat.shape), np.float32) for name in MONTHLY_VARIABLES}
    perturb_index = (n_months_since_epoch(pd.Timestamp(perturbation.time)) - 1) if perturbation else -1
    tau_clim = climate.cloud_transmissivity(lat)
    monthly = [_MonthClimate(lat, lon, maps, month) for month in range(1, 13)]
    history: list[dict[str, np.ndarray]] = []
    sic_prev = sic_ref_prev = np.zeros(lat.shape)
    for index in range(n_total):
        year, month = EPOCH.year + index // 12, index % 12 + 1
        weather_now = weather.anomalies(index, month)
        clim = monthly[month - 1]
        toa = clim.toa
        tau = np.clip(tau_clim + weather_now["cloud"] + CLOUD_PER_PA * weather_now["psl"], *TAU_RANGE)
        drivers = {"tas": weather_now["tas"], "rsds": toa * (tau - tau_clim),
                   "psl": weather_now["psl"], "tos": weather_now["tos"]}
        if index == perturb_index and perturbation.variable in drivers:
            drivers[perturbation.variable] = drivers[perturbation.variable].copy()
            drivers[perturbation.variable][perturbation.row, perturbation.col] += perturbation.delta
        history = [drivers, *history[:MAX_LAG]]

        eff = clim.effective_lat
        base = sea_ice.base_state(eff, year, month)
        state = base + thickness(index, month)  # hidden noise, not a link: see the thickness module
        for lk, weight in weights:
            if month in lk.months and lk.lag < len(history):
                if lk.variable == "siconca":
                    state += weight * (sic_prev - sic_ref_prev)
                else:
                    state += weight * history[lk.lag][lk.variable]
        sic = sea_ice.sic_from_state(state, month)
        if index == perturb_index and perturbation.variable == "siconca":
            sic[perturbation.row, perturbation.col] += perturbation.delta
        sic_ref = sea_ice.sic_from_state(base, month)
        sic_prev, sic_ref_prev = sic, sic_ref
        if index < first:
            continue

        fields = _tied_fields((lat, land), clim, sic, sic_ref, weather_now, drivers, tau_clim,
                              year, month, resolution_km)
        for name, values in fields.items():
            out[name][index - first] = values
    return out


class _MonthClimate:
    """The parts of a calendar month's climate that do not change from year to year, computed once."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, maps: tuple[np.ndarray, np.ndarray],
                 month: int) -> None:
        self.toa = climate.toa_insolation(lat, month)
        self.effective_lat = sea_ice.effective_latitude(maps, month)
        self.psl = climate.psl_climatology(lat, lon, month)
        self.ta500 = climate.ta500_climatology_k(lat, month)
        self.ua10 = climate.ua10_climatology(lat, month)


def _tied_fields(geo: tuple[np.ndarray, np.ndarray], clim: _MonthClimate, sic: np.ndarray,
                 sic_ref: np.ndarray, weather_now: dict[str, np.ndarray], drivers: dict[str, np.ndarray],
                 tau_clim: np.ndarray, year: int, month: int, resolution_km: int) -> dict[str, np.ndarray]:
    """All twelve output fields of one month, in their schema units (``geo`` = lat, land)."""
    lat, land = geo
    eff = clim.effective_lat
    edge = sea_ice.edge_latitude(year, month)
    warming = WARMING_PER_DEGREE * float(sea_ice.forced_retreat(year + (month - 0.5) / 12.0))
    sst_clim = climate.open_water_sst_c(eff, edge, month)
    open_water = np.maximum(sst_clim + drivers["tos"], climate.T_FREEZE_C)
    tos_c = sic * climate.T_FREEZE_C + (1.0 - sic) * open_water
    tas_k = (climate.tas_climatology_c(lat, land, sic_ref, sst_clim, month, warming)
             + drivers["tas"] + climate.KELVIN)
    ta500_k = clim.ta500 + 0.6 * drivers["tas"] + weather_now["ta500"] \
        + 0.3 * warming
    psl = clim.psl + drivers["psl"]
    rsds = clim.toa * tau_clim + drivers["rsds"]
    zg500, zg250 = climate.geopotential_heights(psl, tas_k, ta500_k, weather_now["zg250"])
    uas, vas = climate.surface_winds(psl, lat, resolution_km * 1000.0)
    return {
        "siconca": np.where(land, np.nan, sic),
        "tas": tas_k,
        "ta500": ta500_k,
        "tos": np.where(land, np.nan, tos_c + climate.KELVIN),
        "rsds": rsds,
        "rsus": climate.surface_albedo(sic, lat, land, month) * rsds,
        "psl": psl,
        "zg500": zg500,
        "zg250": zg250,
        "ua10": clim.ua10 + weather_now["ua10"],
        "uas": uas,
        "vas": vas,
    }

