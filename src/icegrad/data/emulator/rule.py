"""Everything the emulator's rule needs on one grid, computed once: the climate, the drift, the links.

The generator (:mod:`icegrad.data.emulator.simulate`), the causal sensitivity
(:mod:`icegrad.data.emulator.sensitivity`) and the optimal forecast
(:mod:`icegrad.data.emulator.optimal`) all read the rule from here, so they cannot drift apart:
one :meth:`Rule.step` advances the sea-ice anomaly, one :meth:`Rule.driver_std` scales the weather.
A rule is built for one grid *and* one :class:`~icegrad.data.emulator.tuning.Tuning` (memory, ice
innovation, link strength), which all three take from the rule rather than from module constants.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from icegrad import grid
from icegrad.data.emulator import climate, drift, sea_ice
from icegrad.data.emulator.drivers import DRIVER_BY_NAME, Driver
from icegrad.data.emulator.links import Link, driver_links
from icegrad.data.emulator.tuning import DEFAULT, Tuning
from icegrad.data.land import land_mask


class MonthClimate:
    """The parts of a calendar month's climate that do not change from year to year."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, maps: tuple[np.ndarray, np.ndarray], month: int,
                 spacing_m: float, land: np.ndarray) -> None:
        self.toa = climate.toa_insolation(lat, month)
        self.effective_lat = sea_ice.effective_latitude(maps, month)
        self.psl = climate.psl_climatology(lat, lon, month)
        self.ta500 = climate.ta500_climatology_k(lat, month)
        self.ua10 = climate.ua10_climatology(lat, month)
        u, v = drift.ice_velocity(self.psl, lat, spacing_m)
        self.drift = drift.departure_operator(np.where(land, 0.0, u), np.where(land, 0.0, v), spacing_m)


class Rule:
    """The emulator's rule on the ``resolution_km`` EASE2 grid with ``tuning``'s memory, ice innovation
    and link strength."""

    def __init__(self, resolution_km: int, tuning: Tuning = DEFAULT) -> None:
        g = grid.ease2_grid(resolution_km)
        self.resolution_km = resolution_km
        self.tuning = tuning
        self.memory = np.asarray(tuning.memory, dtype="float64")
        """``rho`` by calendar month (index 0 = January)."""
        self.drivers: dict[str, Driver] = {
            **DRIVER_BY_NAME, "ice": dataclasses.replace(DRIVER_BY_NAME["ice"], std=tuning.ice_sd)}
        """The drivers with the tuning's ice innovation."""
        self.lat, self.lon = g.lat.values, g.lon.values
        self.y_km, self.x_km = np.meshgrid(g.y.values / 1000.0, g.x.values / 1000.0, indexing="ij")
        self.land = land_mask(resolution_km).values.astype(bool)
        self.ocean = (~self.land).astype("float64")
        self.spacing_m = resolution_km * 1000.0
        maps = sea_ice.ice_potential_maps(self.lat, self.lon)
        self.months = [MonthClimate(self.lat, self.lon, maps, m, self.spacing_m, self.land)
                       for m in range(1, 13)]
        self.tau_clim = climate.cloud_transmissivity(self.lat)
        self.vortex = np.exp(-(((self.lat - 62.0) / 18.0) ** 2))
        self.links: list[tuple[Link, np.ndarray]] = [(lk, lk.weight(self.lat, self.lon))
                                                     for lk in driver_links(tuning)]

    def base(self, year: int, month: int) -> np.ndarray:
        """The climatological state ``b`` (logits)."""
        return sea_ice.base_state(self.months[month - 1].effective_lat, year, month)

    def sst_open(self, year: int, month: int) -> np.ndarray:
        """Climatological open-water SST (C)."""
        eff = self.months[month - 1].effective_lat
        return climate.open_water_sst_c(eff, sea_ice.edge_latitude(year, month), month)

    def driver_std(self, name: str, year: int, month: int) -> np.ndarray:
        """Standard deviation of driver ``name``'s anomaly per cell (its physical units; logits for ice)."""
        std = self.drivers[name].seasonal_std(month)
        if name == "rsds":
            return std * self.months[month - 1].toa  # cloudiness has no memory: phi = 0, none in the night
        if name == "tos":  # SST anomalies fade toward the freezing point under and near the ice
            sic_ref = sea_ice.sic_from_state(self.base(year, month))
            warmth = np.clip((self.sst_open(year, month) - climate.T_FREEZE_C) / 3.0, 0.0, 1.0)
            return std * (0.05 + 0.95 * (1.0 - sic_ref) * warmth)
        if name == "ua10":
            return std * (0.1 + 0.9 * self.vortex)
        return np.full(self.lat.shape, std)

    def step(self, a_prev: np.ndarray, history: list[dict[str, np.ndarray]], e_ice: np.ndarray,
             year: int, month: int) -> np.ndarray:
        """``a(t)`` from ``a(t-1)``, the driver anomalies ``history[k] = d(t - k)`` and the ice innovation."""
        total = self.memory[month - 1] * drift.advect(a_prev, self.months[month - 1].drift)
        total = total + self.driver_std("ice", year, month) * e_ice
        for lk, weight in self.links:
            if month in lk.months and lk.lag < len(history):
                total = total + weight * history[lk.lag][lk.variable]
        return total * self.ocean


def rule(resolution_km: int, tuning: Tuning = DEFAULT) -> Rule:
    """The rule on one grid with one tuning (cached on both: building it costs a fraction of a second)."""
    return _rule(resolution_km, tuning)


@lru_cache(maxsize=4)
def _rule(resolution_km: int, tuning: Tuning) -> Rule:
    """:func:`rule`, keyed on positional arguments only, so ``rule(100)`` and ``rule(100, DEFAULT)`` share
    one entry."""
    return Rule(resolution_km, tuning)
