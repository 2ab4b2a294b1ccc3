"""The sea-ice rule: SIC of each cell from its ice potential, the season, the trend and the links.

Per cell and month ``t`` (calendar month ``m``), with ``sigma`` the logistic function::

    s(t)   = (phi(m) - theta(m, year)) / width(m)                       # deterministic base state
             + sum over links  beta_l(m, cell) * anomaly_l(t - lag_l)    # icegrad...links.LINKS
             + rho(m) * (SIC(t-1) - SIC_ref(t-1))                        # persistence
             + h(t)                                                      # hidden thickness anomaly
    SIC(t) = clip((cmax(m) * sigma(s) - EPS) / (1 - EPS), 0, 1)

``phi`` is an "effective latitude" (degrees): true latitude shifted by smooth geographic features —
the warm Atlantic inflow lowers it, the cold continental seas (Okhotsk, Hudson Bay, Labrador coast)
raise it in winter, the old ice north of Greenland and the Canadian Archipelago raises it in summer.
A cell is ice-covered when its effective latitude is north of the month's ice-edge latitude
``theta``, which follows the seasonal cycle and a forced retreat. ``SIC_ref`` is the SIC of the base
state alone, so the persistence term carries last month's *anomaly*. ``h`` is the unobserved,
slowly varying ice-state anomaly of :mod:`icegrad.data.emulator.thickness`: noise that depends on no
input, so it shifts the ice edge from year to year without adding any link. The rule is local per
cell: all spatial structure comes from the drivers and ``h``, which is what makes
:func:`sic_derivative` exact.

The ``EPS`` offset gives open water an exact zero, as in observations; the derivative is zero there.
"""

from __future__ import annotations

import numpy as np

from icegrad.data.emulator.geography import blob

EPS = 0.03

# Calendar-month tables (index 0 = January). theta: ice-edge effective latitude in 1979 (degrees);
# winter: weight of the winter geography; width: degrees of effective latitude per logit unit;
# cmax: pack-ice concentration; trend_gain: share of the forced retreat felt in that month.
# THETA is calibrated with the hidden thickness anomaly on: in winter its noise, pushed through the
# saturating logistic, costs ~0.2 million km2 of mean extent, so December-May sit 0.1-0.2 deg further south.
THETA = np.array([66.3, 65.5, 65.2, 65.7, 66.8, 68.7, 71.8, 74.65, 75.65, 72.9, 69.8, 67.6])
WINTER = np.array([1.0, 1.0, 1.0, 0.9, 0.7, 0.4, 0.15, 0.0, 0.0, 0.2, 0.6, 0.9])
WIDTH = np.array([1.0, 1.0, 1.0, 1.1, 1.2, 1.3, 1.35, 1.35, 1.3, 1.2, 1.1, 1.0])
CMAX = np.array([0.98, 0.98, 0.98, 0.97, 0.95, 0.92, 0.88, 0.86, 0.88, 0.93, 0.96, 0.97])
TREND_GAIN = np.array([0.62, 0.62, 0.62, 0.64, 0.72, 0.85, 0.95, 1.0, 1.0, 1.0, 0.9, 0.8])

# Geographic features: (lat, lon) centre, radius (km), winter and summer shift of effective latitude.
FEATURES: tuple[tuple[tuple[float, float], float, float, float], ...] = (
    ((66.0, 2.0), 1300.0, -12.0, -6.0),      # Norwegian Sea: Atlantic inflow
    ((74.0, 35.0), 650.0, -4.0, -4.0),       # southern Barents Sea: the inflow continues east
    ((55.0, -25.0), 1600.0, -15.0, -10.0),   # open North Atlantic south of Iceland
    ((55.0, 146.0), 900.0, 19.0, 0.0),       # Sea of Okhotsk: cold offshore winds in winter
    ((60.0, -176.0), 800.0, 8.0, 0.0),       # Bering Sea shelf
    ((57.0, -83.0), 1100.0, 16.0, 1.0),       # Hudson Bay
    ((55.0, -58.0), 550.0, 12.0, 0.0),       # Labrador coast
    ((72.0, -64.0), 700.0, 4.0, -3.0),       # Baffin Bay: frozen in winter, open in late summer
    ((69.0, -22.0), 500.0, 6.0, 3.0),        # East Greenland Current: exported ice
    ((82.0, -70.0), 900.0, 3.0, 6.0),        # north of Greenland / Archipelago: the oldest ice
    ((80.0, 30.0), 900.0, 0.0, -4.0),        # Svalbard to Franz Josef Land: summer inflow melt
    ((77.0, 70.0), 600.0, 0.0, -3.0),        # Kara Sea melts out early
    ((76.0, 125.0), 700.0, 0.0, -2.0),       # Laptev Sea: ice exported offshore all winter
    ((75.0, -150.0), 900.0, 0.0, 3.0),       # Beaufort Gyre: ice recirculates and survives
    ((63.5, 21.0), 350.0, 3.0, 0.0),        # Gulf of Bothnia: fresh, sheltered, freezes
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
    slower since); it is the emulator's forcing, not fitted year by year.
    """
    t = np.asarray(year_fraction, dtype="float64") - 1979.0
    return 0.03 * t + 2.95 / (1.0 + np.exp(-(t - 26.0) / 3.0)) - 2.95 / (1.0 + np.exp(26.0 / 3.0))


def edge_latitude(year: int, month: int) -> float:
    """``theta``: the month's ice-edge effective latitude in that year, forced retreat included."""
    return float(THETA[month - 1] + TREND_GAIN[month - 1] * forced_retreat(year + (month - 0.5) / 12.0))


def base_state(effective_lat: np.ndarray, year: int, month: int) -> np.ndarray:
    """The deterministic part of ``s``: how far north of the month's ice edge a cell lies, in logits."""
    return (effective_lat - edge_latitude(year, month)) / WIDTH[month - 1]


def sic_from_state(state: np.ndarray, month: int) -> np.ndarray:
    """SIC from the sea-ice state ``s`` (exact zero over open water)."""
    sig = 1.0 / (1.0 + np.exp(-state))
    return np.clip((CMAX[month - 1] * sig - EPS) / (1.0 - EPS), 0.0, 1.0)


def sic_derivative(sic: np.ndarray, month: int) -> np.ndarray:
    """dSIC/ds recovered from SIC itself: zero where clipped to open water, else cmax σ(1-σ)/(1-EPS)."""
    cmax = CMAX[month - 1]
    sig = (np.asarray(sic, dtype="float64") * (1.0 - EPS) + EPS) / cmax
    deriv = cmax * sig * (1.0 - sig) / (1.0 - EPS)
    return np.where(np.asarray(sic) > 0.0, deriv, 0.0)
