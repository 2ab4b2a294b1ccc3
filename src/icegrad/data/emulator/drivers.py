"""Random weather for the emulated Arctic: every driver anomaly is a per-cell AR(1) of smooth fields.

For each driver ``D`` and month ``t`` (calendar month ``m``) the anomaly in physical units is
``d_D(t) = sd_D(m, cell) * z_D(t)``, with the standardised anomaly

    z_D(t) = phi_D * z_D(t - 1) + sqrt(1 - phi_D^2) * e_D(t) + P_D(t)

* ``e_D(t)`` is a smooth, unit-variance random field, independent of everything before ``t``: a sum of
  :data:`N_WAVES` random plane waves (random Fourier features of a Gaussian covariance with length scale
  ``scale_km``) evaluated at the cells' EASE2 coordinates, with fresh N(0, 1) amplitudes every month.
  It is a function of position, not of a lattice, so every resolution sees the same weather for a
  seed and no field has lattice, block or interpolation artefacts.
* ``P_D(t)`` are the planted events of :mod:`icegrad.data.emulator.events`: extra innovations, a
  value in standard deviations times a smooth regional bump, in the months the stories need.
* ``phi_D`` and ``sd_D`` are known, so the best forecast of a future anomaly from today's is exact:
  ``E[z_D(t + k) | z_D(t)] = phi_D^k z_D(t)`` (the events are particular draws a forecaster cannot
  foresee).

``sd_D`` is seasonal (winter and summer values blended by :data:`COLD`); :mod:`icegrad.data.emulator.rule`
shapes it in space (shortwave scales with insolation, SST anomalies fade under the ice, the
stratospheric wind's with the polar vortex). The ``ice`` driver is the sea-ice rule's own innovation
(``phi = 0``): it never appears as a field.

Series always start in :data:`EPOCH`; a shorter window is a slice of the same realisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from icegrad.data.emulator.events import EVENTS
from icegrad.data.emulator.geography import blob

EPOCH = pd.Timestamp("1979-01-01")
N_WAVES = 48
"""Plane waves per random field: enough that no single wave (a straight stripe) shows."""

# Cold-season weight by calendar month (1 in deep winter, 0 in high summer).
COLD = np.array([1.0, 1.0, 0.95, 0.7, 0.35, 0.05, 0.0, 0.0, 0.15, 0.5, 0.8, 0.95])

REGIONAL_MODES: dict[str, tuple[tuple[float, float], float]] = {
    "pacific_sector": ((74.0, -172.0), 1200.0),
    "siberian_shelf": ((76.0, 105.0), 1000.0),
    "atlantic_sector": ((74.0, 20.0), 1000.0),
    "central_arctic": ((88.0, 0.0), 900.0),
}
"""Where the planted events act: smooth bumps (centre, radius) named like the sea regions."""


@dataclass(frozen=True)
class Driver:
    """A driver anomaly: AR(1) coefficient, seasonal standard deviation (winter, summer), length scale."""

    name: str
    phi: float
    std: tuple[float, float]
    scale_km: float
    units: str

    def seasonal_std(self, month: int) -> float:
        """Standard deviation before spatial shaping: winter value in the cold season, summer in the warm."""
        cold = COLD[month - 1]
        return float(cold * self.std[0] + (1.0 - cold) * self.std[1])


DRIVERS: tuple[Driver, ...] = (
    Driver("tas", 0.5, (2.0, 1.0), 1100.0, "K"),
    Driver("rsds", 0.0, (0.045, 0.045), 900.0, "share of insolation"),  # x insolation = W m-2
    Driver("psl", 0.4, (400.0, 250.0), 1500.0, "Pa"),
    Driver("tos", 0.85, (0.5, 0.5), 700.0, "K"),
    Driver("ta500", 0.5, (0.8, 0.5), 1300.0, "K"),
    Driver("zg250", 0.3, (15.0, 10.0), 1800.0, "m"),
    Driver("ua10", 0.7, (7.0, 1.5), 2500.0, "m s-1"),
    Driver("ice", 0.0, (0.25, 0.35), 450.0, "logit"),
)
DRIVER_NAMES = tuple(d.name for d in DRIVERS)
DRIVER_BY_NAME = {d.name: d for d in DRIVERS}


def n_months_since_epoch(end: pd.Timestamp) -> int:
    """Months from :data:`EPOCH` to ``end`` inclusive."""
    return (end.year - EPOCH.year) * 12 + end.month - EPOCH.month + 1


def wave_basis(driver: Driver, x_km: np.ndarray, y_km: np.ndarray, seed: int) -> np.ndarray:
    """``(cells, 2 * N_WAVES)`` cosines and sines of the driver's random wave vectors, scaled so that
    N(0, 1) amplitudes give a unit-variance field in every cell."""
    rng = np.random.default_rng([seed, DRIVER_NAMES.index(driver.name), 3])
    k = rng.standard_normal((N_WAVES, 2)) / driver.scale_km
    phase = np.outer(x_km.ravel(), k[:, 0]) + np.outer(y_km.ravel(), k[:, 1])
    return np.concatenate([np.cos(phase), np.sin(phase)], axis=1) / np.sqrt(N_WAVES)


def amplitude_series(driver: Driver, n_months: int, seed: int) -> np.ndarray:
    """AR(1) wave amplitudes ``(n_months, 2 * N_WAVES)``, stationary from the first month."""
    rng = np.random.default_rng([seed, DRIVER_NAMES.index(driver.name), 1])
    shocks = rng.standard_normal((n_months, 2 * N_WAVES))
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    scale = np.sqrt(1.0 - driver.phi**2)
    for t in range(1, n_months):
        out[t] = driver.phi * out[t - 1] + scale * shocks[t]
    return out


def planted(driver: Driver, index: int, lat: np.ndarray, lon: np.ndarray) -> np.ndarray | None:
    """The planted innovation ``P_D`` of month ``index`` since the epoch, or None when nothing is planted."""
    plants = [p for p in EVENTS if p.latent == driver.name
              and 12 * (p.year - EPOCH.year) + p.month - 1 == index]
    if not plants:
        return None
    return sum(p.value * blob(lat, lon, *REGIONAL_MODES[p.mode]) for p in plants)


class Weather:
    """All standardised anomalies ``z_D`` of one realisation on one grid, month by month."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray, x_km: np.ndarray, y_km: np.ndarray,
                 n_months: int, seed: int) -> None:
        self.lat, self.lon = lat, lon
        self.basis = {d.name: wave_basis(d, x_km, y_km, seed) for d in DRIVERS}
        self.amplitudes = {d.name: amplitude_series(d, n_months, seed) for d in DRIVERS}
        self.plants = {d.name: np.zeros(lat.shape) for d in DRIVERS}
        self.block: tuple[int, dict[str, np.ndarray]] = (-1, {})

    def smooth(self, name: str, index: int) -> np.ndarray:
        """The random-wave part of month ``index``, computed a year at a time (one matrix product per
        driver and year rather than twelve: memory stays flat, the run several times faster)."""
        year = index // 12
        if self.block[0] != year:
            rows = slice(12 * year, 12 * year + 12)
            self.block = (year, {d.name: self.basis[d.name] @ self.amplitudes[d.name][rows].T
                                 for d in DRIVERS})
        return self.block[1][name][:, index % 12].reshape(self.lat.shape)

    def standardised(self, index: int) -> dict[str, np.ndarray]:
        """``z_D`` of month ``index``; call in order from 0 (the planted part is itself an AR(1))."""
        out = {}
        for d in DRIVERS:
            plant = planted(d, index, self.lat, self.lon)
            self.plants[d.name] = d.phi * self.plants[d.name] + (0.0 if plant is None else plant)
            out[d.name] = self.smooth(d.name, index) + self.plants[d.name]
        return out
