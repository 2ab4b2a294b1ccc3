"""Random weather for the emulated Arctic: latent driver anomalies as regional AR(1) modes plus noise.

Each latent driver's anomaly in month ``t`` is ``sum_k a_k(t) * std(m) * pattern_k + noise(t)``:

* ``pattern_k`` are smooth Gaussian bumps centred on the four sectors the links talk about (Pacific,
  Siberian shelf, Atlantic, central Arctic; a band around the polar vortex for ``ua10``), so
  anomalies are spatially coherent like real weather regimes;
* ``a_k`` are AR(1) series in standard units, drawn from the seed, with the events of
  :mod:`icegrad.data.emulator.events` written into them;
* ``noise`` is smooth small-scale weather drawn on the fixed 200 km lattice and interpolated, so every
  resolution sees the same weather for a seed.

Series always start in :data:`EPOCH`; a shorter window is a slice of the same realisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter

from icegrad import grid
from icegrad.data.emulator.events import EVENTS
from icegrad.data.emulator.geography import blob

EPOCH = pd.Timestamp("1979-01-01")
NOISE_RESOLUTION_KM = 200

# Cold-season weight by calendar month (1 in deep winter, 0 in high summer).
COLD = np.array([1.0, 1.0, 0.95, 0.7, 0.35, 0.05, 0.0, 0.0, 0.15, 0.5, 0.8, 0.95])

REGIONAL_MODES: dict[str, tuple[tuple[float, float], float]] = {
    "pacific_sector": ((74.0, -172.0), 1200.0),
    "siberian_shelf": ((76.0, 105.0), 1000.0),
    "atlantic_sector": ((74.0, 20.0), 1000.0),
    "central_arctic": ((88.0, 0.0), 900.0),
}


@dataclass(frozen=True)
class Latent:
    """A latent driver: AR(1) coefficient, mode and noise standard deviations (winter, summer)."""

    name: str
    phi: float
    mode_std: tuple[float, float]
    noise_std: tuple[float, float]
    modes: str = "regional"  # or "vortex"

    def std(self, which: tuple[float, float], month: int) -> float:
        """Seasonal standard deviation: winter value in the cold season, summer value in the warm one."""
        cold = COLD[month - 1]
        return cold * which[0] + (1.0 - cold) * which[1]


LATENTS: tuple[Latent, ...] = (
    Latent("tas", 0.5, (1.8, 0.9), (0.5, 0.25)),          # K
    Latent("ta500", 0.5, (0.8, 0.5), (0.3, 0.2)),         # K, added to 0.6 x tas
    Latent("cloud", 0.3, (0.03, 0.045), (0.01, 0.015)),   # cloud transmissivity (1)
    Latent("psl", 0.4, (350.0, 220.0), (60.0, 40.0)),     # Pa
    Latent("tos", 0.85, (0.5, 0.5), (0.15, 0.15)),        # K, open-water SST
    Latent("zg250", 0.3, (15.0, 10.0), (5.0, 4.0)),       # m, added to the hypsometric height
    Latent("ua10", 0.7, (7.0, 1.5), (1.0, 0.5), modes="vortex"),  # m s-1
)
LATENT_NAMES = tuple(lt.name for lt in LATENTS)


def n_months_since_epoch(end: pd.Timestamp) -> int:
    """Months from :data:`EPOCH` to ``end`` inclusive."""
    return (end.year - EPOCH.year) * 12 + end.month - EPOCH.month + 1


def mode_names(latent: Latent) -> tuple[str, ...]:
    """Names of a latent driver's modes."""
    return ("vortex",) if latent.modes == "vortex" else tuple(REGIONAL_MODES)


def mode_series(latent: Latent, n_months: int, seed: int) -> np.ndarray:
    """AR(1) mode amplitudes ``(n_months, n_modes)`` in standard units, events planted."""
    names = mode_names(latent)
    rng = np.random.default_rng([seed, LATENT_NAMES.index(latent.name), 1])
    shocks = rng.standard_normal((n_months, len(names)))
    planted = {(12 * (p.year - EPOCH.year) + p.month - 1, names.index(p.mode)): p.value
               for p in EVENTS if p.latent == latent.name and p.mode in names}
    out = np.empty_like(shocks)
    scale = np.sqrt(1.0 - latent.phi**2)
    previous = np.zeros(len(names))
    for t in range(n_months):
        out[t] = latent.phi * previous + scale * shocks[t]
        for (pt, k), value in planted.items():
            if pt == t:
                out[t, k] = value
        previous = out[t]
    return out


def noise_lattice(latent: Latent, n_months: int, seed: int) -> np.ndarray:
    """Smooth unit-variance noise ``(n_months, 54, 54)`` on the 200 km lattice."""
    rng = np.random.default_rng([seed, LATENT_NAMES.index(latent.name), 2])
    size = grid.BASE_SIZE // grid.coarsening_factor(NOISE_RESOLUTION_KM)
    raw = rng.standard_normal((n_months, size, size))
    smooth = gaussian_filter(raw, sigma=(0.0, 1.0, 1.0), mode="nearest")
    return smooth / smooth.std(axis=(1, 2), keepdims=True)  # per month, so a window is a true slice


class Upsampler:
    """Bilinear interpolation from the 200 km noise lattice to the cells of any EASE2 grid."""

    def __init__(self, resolution_km: int) -> None:
        lattice = grid.cell_centres_m(NOISE_RESOLUTION_KM)
        step = NOISE_RESOLUTION_KM * 1000.0
        target = grid.cell_centres_m(resolution_km)
        frac = np.clip((target - lattice[0]) / step, 0.0, len(lattice) - 1.0)
        self.i0 = np.minimum(np.floor(frac).astype(int), len(lattice) - 2)
        self.w = frac - self.i0
        # y descends on every grid, so the same index arithmetic holds along both axes.

    def __call__(self, field: np.ndarray) -> np.ndarray:
        """Interpolate one ``(54, 54)`` lattice field to the target grid."""
        i, w = self.i0, self.w
        rows = field[i] * (1.0 - w)[:, None] + field[i + 1] * w[:, None]
        return rows[:, i] * (1.0 - w)[None, :] + rows[:, i + 1] * w[None, :]


def mode_patterns(latent: Latent, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Spatial patterns ``(n_modes, y, x)`` of a latent driver's modes."""
    if latent.modes == "vortex":
        return np.exp(-(((lat - 62.0) / 18.0) ** 2))[None]
    return np.stack([blob(lat, lon, centre, radius) for centre, radius in REGIONAL_MODES.values()])


class Weather:
    """All latent anomalies of one realisation; :meth:`anomalies` gives one month's fields."""

    def __init__(self, resolution_km: int, end: pd.Timestamp, seed: int) -> None:
        g = grid.ease2_grid(resolution_km)
        lat, lon = g.lat.values, g.lon.values
        n = n_months_since_epoch(end)
        self.upsample = Upsampler(resolution_km)
        self.series = {lt.name: mode_series(lt, n, seed) for lt in LATENTS}
        self.noise = {lt.name: noise_lattice(lt, n, seed) for lt in LATENTS}
        self.patterns = {lt.name: mode_patterns(lt, lat, lon) for lt in LATENTS}

    def anomalies(self, index: int, month: int) -> dict[str, np.ndarray]:
        """Latent anomalies (units of :data:`LATENTS`) in month ``index`` since the epoch."""
        out = {}
        for lt in LATENTS:
            modes = np.tensordot(self.series[lt.name][index], self.patterns[lt.name], axes=1)
            out[lt.name] = (lt.std(lt.mode_std, month) * modes
                            + lt.std(lt.noise_std, month) * self.upsample(self.noise[lt.name][index]))
        return out
