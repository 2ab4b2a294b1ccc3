"""The emulator's ground truth: which driver anomaly moves sea ice, when, where, and by how much.

Each :class:`Link` adds ``coefficient * anomaly(t - lag)`` to the sea-ice state ``s`` (the argument of
the logistic in :mod:`icegrad.data.emulator.sea_ice`) of every cell in ``region`` whose target month
``t`` falls in ``months``. Units are "logit" (one unit of ``s``) per unit of the driver. Everything
not listed here has exactly zero effect on sea ice — by construction, not by a small coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

ALL_MONTHS = tuple(range(1, 13))
MELT_TARGETS = (6, 7, 8, 9)


@dataclass(frozen=True)
class Link:
    """One lagged, seasonal, regional effect of a driver anomaly on the sea-ice state."""

    variable: str
    lag: int
    months: tuple[int, ...]
    region: str  # a name from icegrad.data.emulator.geography.REGION_NAMES, or "all"
    coefficient: float
    units: str
    description: str


LINKS: tuple[Link, ...] = (
    Link("siconca", 1, (5, 6, 7, 8, 9), "all", 3.0, "logit per unit SIC anomaly",
         "ice persistence: a thicker-than-usual pack last month survives the melt season better"),
    Link("siconca", 1, (10, 11, 12, 1, 2, 3, 4), "all", 2.0, "logit per unit SIC anomaly",
         "ice persistence in the growth season, weaker because refreezing erases anomalies"),
    Link("tas", 0, ALL_MONTHS, "all", -0.25, "logit per K",
         "warm air melts ice (summer) or slows its growth (winter) in the same month"),
    Link("tas", 1, MELT_TARGETS, "all", -0.15, "logit per K",
         "a warm previous month has thinned the ice, so it melts out sooner"),
    Link("rsds", 1, (7, 8, 9), "all", -0.010, "logit per W m-2",
         "extra sunshine a month earlier is absorbed in leads and melt ponds (ice-albedo feedback)"),
    Link("rsds", 2, (8, 9), "all", -0.008, "logit per W m-2",
         "early-summer sunshine warms the upper ocean, whose heat melts ice from below later"),
    Link("psl", 0, MELT_TARGETS, "pacific_sector", -0.0010, "logit per Pa",
         "a Beaufort High pushes ice away from the Chukchi/East Siberian coasts and clears the sky"),
    Link("psl", 1, (7, 8, 9), "pacific_sector", -0.0008, "logit per Pa",
         "ice moved north by last month's anticyclonic drift stays out of the coastal seas"),
    Link("tos", 1, (11, 12, 1, 2, 3, 4, 5), "atlantic_sector", -0.5, "logit per K",
         "warm Atlantic inflow water keeps the Barents and Greenland seas from freezing"),
    Link("tos", 2, (12, 1, 2, 3, 4), "atlantic_sector", -0.3, "logit per K",
         "ocean heat stored two months earlier is still being released under the ice edge"),
)
"""The ground-truth links. ``tos`` acts through the open-water SST anomaly (see the sea-ice module)."""

LINKED_DRIVERS: tuple[str, ...] = tuple(
    dict.fromkeys(lk.variable for lk in LINKS if lk.variable != "siconca"))
UNLINKED_VARIABLES: tuple[str, ...] = ("ta500", "rsus", "zg500", "zg250", "ua10", "uas", "vas")


def true_links() -> pd.DataFrame:
    """The documented ground truth as a table, one row per link (persistence included).

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
        for lk in LINKS
    ]
    return pd.DataFrame(rows)
