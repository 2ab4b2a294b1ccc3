"""The sea-ice rule: SIC is a logistic of a bounded climatological state plus an observable anomaly.

Per cell and month ``t`` (calendar month ``m``, year ``Y``), with ``sigma`` the logistic function::

    b(t)   = bound((phi(m) - theta(m, Y)) / width(m))          # climatological state, logits
    a(t)   = ocean * ( rho(m) * A_m[a(t-1)]                      # memory, carried by the drift
                       + sum over links beta_l(m, cell) * d_l(t - lag_l)
                       + sd_ice(m) * e_ice(t) )                  # the ice's own innovation
    SIC(t) = sigma(b(t) + a(t))

``phi`` is an "effective latitude" (degrees): true latitude shifted by smooth geographic features
(the warm Atlantic inflow lowers it, the cold continental seas raise it in winter, the old ice north
of Greenland and the Canadian Archipelago raises it in summer). ``theta`` is the month's ice-edge
effective latitude, with a forced retreat. ``bound`` is the identity near the edge and saturates
smoothly at :data:`S_ICE` inside the pack and :data:`S_WATER` over open water, so the central pack
reads ~0.99 and open water below 1e-3. ``A_m`` is the semi-Lagrangian wind drift of
:mod:`icegrad.data.emulator.drift`; ``d_l`` are the driver anomalies of the links
(:mod:`icegrad.data.emulator.links`); ``e_ice`` is smooth white noise (:mod:`icegrad.data.emulator.drivers`).

**All memory is observable.** ``b`` is a known function of the calendar and ``sigma`` is invertible,
so ``a(t) = logit(SIC(t)) - b(t)``: the anomaly that persists is read off the SIC a forecaster sees.
There is no hidden thickness or any other hidden persistent state.
"""

from __future__ import annotations

import numpy as np

from icegrad.data.emulator.geography import blob

S_ICE = 7.0
"""Bound of ``b`` inside the pack (logits): sigma(7) = 0.999, so the central pack stays white (>= 0.95)
through the anomalies of ``a`` (standard deviation ~2.5)."""
S_WATER = 20.0
"""Bound of ``b`` over open water: deep enough (sigma(-20) = 2e-9) that no anomaly the links build far
from the ice (``a`` reaches +8 in open water) shows as ice."""
SIC_THRESHOLD = 0.15
"""The extent and sea-ice-probability threshold."""
CONTROL_FROM = 2021.0
"""Years from here on are control years: the forcing stays at its value here, so they share statistics."""

# Calendar-month tables (index 0 = January). theta: ice-edge effective latitude in 1979 (degrees);
# winter: weight of the winter geography; width: degrees of effective latitude per logit;
# trend_gain: share of the forced retreat felt in that month; rho: month-to-month memory of ``a``.
THETA = np.array([65.45, 64.6, 64.3, 64.85, 65.9, 67.7, 70.75, 73.45, 74.42, 71.85, 68.95, 66.75])
WINTER = np.array([1.0, 1.0, 1.0, 0.9, 0.7, 0.4, 0.15, 0.0, 0.0, 0.2, 0.6, 0.9])
WIDTH = np.array([0.42, 0.42, 0.42, 0.44, 0.46, 0.5, 0.52, 0.52, 0.5, 0.46, 0.44, 0.42])
TREND_GAIN = np.array([0.62, 0.62, 0.62, 0.64, 0.72, 0.85, 0.95, 1.0, 1.0, 1.0, 0.9, 0.8])
RHO = np.array([0.75, 0.75, 0.78, 0.82, 0.86, 0.9, 0.92, 0.92, 0.85, 0.6, 0.6, 0.7])
"""Memory of ``a`` into each month: strong through the melt season, weak at freeze-up, which resets
thin ice. The default :class:`~icegrad.data.emulator.tuning.Tuning`'s; the rule applies its tuning's."""

# Geographic features: (lat, lon) centre, radius (km), winter and summer shift of effective latitude.
FEATURES: tuple[tuple[tuple[float, float], float, float, float], ...] = (
    ((66.0, 2.0), 1300.0, -12.0, -6.0),      # Norwegian Sea: Atlantic inflow
    ((74.0, 35.0), 650.0, -4.0, -4.0),       # southern Barents Sea: the inflow continues east
    ((55.0, -25.0), 1600.0, -15.0, -10.0),   # open North Atlantic south of Iceland
    ((55.0, 146.0), 900.0, 19.0, 0.0),       # Sea of Okhotsk: cold offshore winds in winter
    ((60.0, -176.0), 800.0, 8.0, 0.0),       # Bering Sea shelf
    ((57.0, -83.0), 1100.0, 16.0, 1.0),      # Hudson Bay
    ((55.0, -58.0), 550.0, 12.0, 0.0),       # Labrador coast
    ((72.0, -64.0), 700.0, 4.0, -3.0),       # Baffin Bay: frozen in winter, open in late summer
    ((69.0, -22.0), 500.0, 6.0, 3.0),        # East Greenland Current: exported ice
    ((83.0, -65.0), 1100.0, 3.0, 8.0),       # north of Greenland / Archipelago: the oldest, thickest ice
    ((80.0, 30.0), 900.0, 0.0, -4.0),        # Svalbard to Franz Josef Land: summer inflow melt
    ((77.0, 70.0), 600.0, 0.0, -3.0),        # Kara Sea melts out early
    ((76.0, 125.0), 700.0, 0.0, -2.0),       # Laptev Sea: ice exported offshore all winter
    ((73.0, 178.0), 900.0, 0.0, -2.5),       # Chukchi / East Siberian: the Pacific side opens first
    ((76.0, -145.0), 700.0, 0.0, 1.5),       # Beaufort Gyre: ice recirculates and survives
    ((63.5, 21.0), 350.0, 3.0, 0.0),         # Gulf of Bothnia: fresh, sheltered, freezes
)


def ice_potential_maps(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Winter and summer effective latitude (degrees) of every cell."""
    winter = lat.astype("float64").copy()
    summer = lat.astype("float64").copy()
    for centre, radius, d_winter, d_summer in FEATURES:
        shape = blob(lat, lon, centre, radius)
        winter += d_winter * shape
        summer += d_summer * shape
    return winter, summer


def effective_latitude(maps: tuple[np.ndarray, np.ndarray], month: int) -> np.ndarray:
    """The month's effective latitude: winter and summer geography blended by the season."""
    w = WINTER[month - 1]
    return w * maps[0] + (1.0 - w) * maps[1]


def forced_retreat(year_fraction: float | np.ndarray) -> float | np.ndarray:
    """Northward shift (degrees) of the ice edge from 1979 on: a slow drift plus the 2000s acceleration.

    Its shape echoes the observed record (flat-ish to the mid-1990s, a steep decline around 2005,
    slower since); it is the emulator's forcing, not fitted year by year. From :data:`CONTROL_FROM`
    on it stays at its 2020 value, so any number of control years share one climate.
    """
    t = np.minimum(np.asarray(year_fraction, dtype="float64"), CONTROL_FROM) - 1979.0
    return 0.03 * t + 2.95 / (1.0 + np.exp(-(t - 26.0) / 3.0)) - 2.95 / (1.0 + np.exp(26.0 / 3.0))


def edge_latitude(year: int, month: int) -> float:
    """``theta``: the month's ice-edge effective latitude in that year, forced retreat included."""
    return float(THETA[month - 1] + TREND_GAIN[month - 1] * forced_retreat(year + (month - 0.5) / 12.0))


def bound(u: np.ndarray) -> np.ndarray:
    """Identity near zero, saturating at +S_ICE and -S_WATER (smooth: slope 1, curvature 0 at zero)."""
    return np.where(u > 0, S_ICE * np.tanh(u / S_ICE), S_WATER * np.tanh(u / S_WATER))


def base_state(effective_lat: np.ndarray, year: int, month: int) -> np.ndarray:
    """``b``: the climatological state, how far north of the month's ice edge a cell lies, in logits."""
    return bound((effective_lat - edge_latitude(year, month)) / WIDTH[month - 1])


def sic_from_state(state: np.ndarray) -> np.ndarray:
    """SIC = sigma(state)."""
    return 1.0 / (1.0 + np.exp(-state))


def state_from_sic(sic: np.ndarray) -> np.ndarray:
    """logit(SIC): the inverse of :func:`sic_from_state` (SIC kept inside float32's open unit interval)."""
    p = np.clip(np.asarray(sic, dtype="float64"), 1e-7, 1.0 - 1e-7)
    return np.log(p) - np.log1p(-p)


def sic_derivative(sic: np.ndarray) -> np.ndarray:
    """dSIC/d(state) = SIC (1 - SIC)."""
    p = np.asarray(sic, dtype="float64")
    return p * (1.0 - p)
