"""The emulator's causal links: which driver anomaly moves the sea-ice anomaly, when, where, how much.

Each :class:`Link` adds ``coefficient * weight(cell) * d(t - lag)`` to the sea-ice anomaly ``a`` (logits,
:mod:`icegrad.data.emulator.sea_ice`) of the months in ``months``, ``d`` being the driver's anomaly field
in physical units. ``weight`` is 1 everywhere for ``region == "all"``; for a sector it is a smooth bump
centred on it (:data:`SECTOR_WEIGHTS`), so no link draws a box edge on the ice. Everything not listed
here has exactly zero effect on the sea ice, by construction. The ``siconca`` rows document the
memory ``rho`` (:data:`icegrad.data.emulator.sea_ice.RHO`), averaged over their months.

A :class:`~icegrad.data.emulator.tuning.Tuning` changes the memory and scales the driver links'
coefficients; :func:`memory_links` and :func:`driver_links` give the rows of one tuning
(:data:`DRIVER_LINKS` is the default's table).

These are *what causes the ice*. What a forecaster should read is a different question, answered by
the optimal forecast (:mod:`icegrad.data.emulator.optimal`): today's inputs matter through what they
say about the anomaly now and the drivers to come.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from icegrad.data.emulator.geography import blob
from icegrad.data.emulator.tuning import DEFAULT, Tuning

ALL_MONTHS = tuple(range(1, 13))
MELT_TARGETS = (6, 7, 8, 9)
MELT_SEASON = (5, 6, 7, 8, 9)
GROWTH_SEASON = (10, 11, 12, 1, 2, 3, 4)

SECTOR_WEIGHTS: dict[str, tuple[tuple[float, float], float]] = {
    "pacific_sector": ((74.0, -168.0), 1100.0),
    "atlantic_sector": ((73.0, 15.0), 1100.0),
}
"""Smooth weights (centre, radius in km) of the sector links: a Gaussian bump exp(-(d / radius)^2)."""


@dataclass(frozen=True)
class Link:
    """One lagged, seasonal, regional effect of a driver anomaly on the sea-ice anomaly."""

    variable: str
    lag: int
    months: tuple[int, ...]
    region: str  # "all" or a key of SECTOR_WEIGHTS (a name from geography.REGION_NAMES)
    coefficient: float
    units: str
    description: str

    def weight(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The link's spatial weight times its coefficient, per cell."""
        if self.region == "all":
            return np.full(lat.shape, self.coefficient)
        return self.coefficient * blob(lat, lon, *SECTOR_WEIGHTS[self.region])


def memory_links(memory: tuple[float, ...]) -> tuple[Link, ...]:
    """The two ``siconca`` rows documenting a memory ``rho`` (12 monthly values), each the mean over its
    season rounded to 0.01 (the rule itself applies the monthly values)."""
    def mean(months: tuple[int, ...]) -> float:
        return round(float(np.mean([memory[m - 1] for m in months])), 2)

    return (
        Link("siconca", 1, MELT_SEASON, "all", mean(MELT_SEASON), "logit per logit",
             "memory: last month's anomaly, carried by the drift, persists through the melt season"),
        Link("siconca", 1, GROWTH_SEASON, "all", mean(GROWTH_SEASON), "logit per logit",
             "memory in the growth season, weaker because refreezing erases anomalies"),
    )


DRIVER_LINKS: tuple[Link, ...] = (
    Link("tas", 0, ALL_MONTHS, "all", -0.3, "logit per K",
         "warm air melts ice (summer) or slows its growth (winter) in the same month"),
    Link("tas", 1, MELT_TARGETS, "all", -0.2, "logit per K",
         "a warm previous month has thinned the ice, so it melts out sooner"),
    Link("rsds", 1, (7, 8, 9), "all", -0.012, "logit per W m-2",
         "extra sunshine a month earlier is absorbed in leads and melt ponds (ice-albedo feedback)"),
    Link("rsds", 2, (8, 9), "all", -0.008, "logit per W m-2",
         "early-summer sunshine warms the upper ocean, whose heat melts ice from below later"),
    Link("psl", 0, MELT_TARGETS, "pacific_sector", -0.002, "logit per Pa",
         "a Beaufort High pushes ice away from the Chukchi/East Siberian coasts and clears the sky"),
    Link("psl", 1, (7, 8, 9), "pacific_sector", -0.0012, "logit per Pa",
         "ice moved north by last month's anticyclonic drift stays out of the coastal seas"),
    Link("tos", 1, (11, 12, 1, 2, 3, 4, 5), "atlantic_sector", -0.5, "logit per K",
         "warm Atlantic inflow water keeps the Barents and Greenland seas from freezing"),
    Link("tos", 2, (12, 1, 2, 3, 4), "atlantic_sector", -0.3, "logit per K",
         "ocean heat stored two months earlier is still being released under the ice edge"),
)
"""The driver links of the default tuning, the ones the book's rule applies."""


def driver_links(tuning: Tuning = DEFAULT) -> tuple[Link, ...]:
    """The driver links the rule of ``tuning`` applies: :data:`DRIVER_LINKS`, coefficients times its
    ``link_scale`` (the default's are the table itself)."""
    if tuning.link_scale == 1.0:
        return DRIVER_LINKS
    return tuple(dataclasses.replace(lk, coefficient=lk.coefficient * tuning.link_scale)
                 for lk in DRIVER_LINKS)


LINKED_DRIVERS: tuple[str, ...] = tuple(dict.fromkeys(lk.variable for lk in DRIVER_LINKS))
UNLINKED_VARIABLES: tuple[str, ...] = ("ta500", "rsus", "zg500", "zg250", "ua10", "uas", "vas")
MAX_LAG = max(lk.lag for lk in DRIVER_LINKS)


def true_links(tuning: Tuning = DEFAULT) -> pd.DataFrame:
    """The documented causal links of ``tuning``'s rule as a table, one row per link (memory included).

    Columns: ``variable``, ``lag`` (months before the SIC month it affects), ``months`` (calendar
    months of the affected SIC), ``region``, ``sign``, ``coefficient``, ``units``, ``description``.

    Example
    -------
    >>> table = true_links()
    >>> bool((table.variable == "zg250").any())
    False
    """
    rows = [
        {"variable": lk.variable, "lag": lk.lag, "months": list(lk.months), "region": lk.region,
         "sign": 1 if lk.coefficient > 0 else -1, "coefficient": lk.coefficient, "units": lk.units,
         "description": lk.description}
        for lk in memory_links(tuning.memory) + driver_links(tuning)
    ]
    return pd.DataFrame(rows)
