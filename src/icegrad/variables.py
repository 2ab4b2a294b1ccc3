"""The catalogue of IceNet's 50 input channels and the monthly variables they are built from.

Channel names, order and lag convention follow IceNet (Andersson et al. 2021) so that results can be
compared with the released model: ``siconca_abs_1..12``, ``siconca_linear_trend_1..6``, eight ERA5
anomaly variables with three lags each, ``ua10_abs_1..3``, ``uas_abs_1``, ``vas_abs_1``, ``land``,
``cos_month``, ``sin_month``. Groups are the five families the book aggregates attributions over.

Example
-------
>>> len(CHANNELS), CHANNELS[0].name, CHANNELS[-1].name
(50, 'siconca_abs_1', 'sin_month')
"""

from __future__ import annotations

from dataclasses import dataclass

N_LEADS = 6
N_SIC_LAGS = 12
N_CLIMATE_LAGS = 3
SIC_CLASS_EDGES = (0.15, 0.80)
SIC_CLASSES = ("open_water", "marginal_ice", "full_ice")


@dataclass(frozen=True)
class MonthlyVariable:
    """A monthly field in the dataset schema shared by the emulator and the real-data readers."""

    name: str
    long_name: str
    units: str
    standard_name: str


MONTHLY_VARIABLES: dict[str, MonthlyVariable] = {
    v.name: v
    for v in (
        MonthlyVariable("siconca", "sea ice area fraction", "1", "sea_ice_area_fraction"),
        MonthlyVariable("tas", "2 m air temperature", "K", "air_temperature"),
        MonthlyVariable("ta500", "500 hPa air temperature", "K", "air_temperature"),
        MonthlyVariable("tos", "sea surface temperature", "K", "sea_surface_temperature"),
        MonthlyVariable("rsds", "surface downwelling shortwave radiation", "W m-2",
                        "surface_downwelling_shortwave_flux_in_air"),
        MonthlyVariable("rsus", "surface upwelling shortwave radiation", "W m-2",
                        "surface_upwelling_shortwave_flux_in_air"),
        MonthlyVariable("psl", "sea level pressure", "Pa", "air_pressure_at_mean_sea_level"),
        MonthlyVariable("zg500", "500 hPa geopotential height", "m", "geopotential_height"),
        MonthlyVariable("zg250", "250 hPa geopotential height", "m", "geopotential_height"),
        MonthlyVariable("ua10", "10 hPa eastward wind", "m s-1", "eastward_wind"),
        MonthlyVariable("uas", "10 m wind along the grid's x axis", "m s-1", "eastward_wind"),
        MonthlyVariable("vas", "10 m wind along the grid's y axis", "m s-1", "northward_wind"),
    )
}
"""Variables of the monthly dataset schema, in the order IceNet uses them."""

VALID_RANGES: dict[str, tuple[float, float]] = {
    "siconca": (0.0, 1.0), "tas": (180.0, 330.0), "ta500": (180.0, 300.0), "tos": (260.0, 320.0),
    "rsds": (0.0, 600.0), "rsus": (0.0, 600.0), "psl": (90_000.0, 110_000.0), "zg500": (4_000.0, 6_500.0),
    "zg250": (8_000.0, 12_000.0), "ua10": (-100.0, 150.0), "uas": (-60.0, 60.0), "vas": (-60.0, 60.0),
}
"""Physically possible monthly means of each variable (in its ``units``), far wider than any Arctic record:
a value outside them is a broken file or a unit error, never weather (used to reject implausible caches)."""

CLIMATE_ANOMALY_VARIABLES = ("tas", "ta500", "tos", "rsds", "rsus", "psl", "zg500", "zg250")
GROUPS = ("sic", "trend", "climate", "seasonal", "static")


@dataclass(frozen=True)
class Channel:
    """One IceNet input channel: its name, source variable, kind, lag (or lead) and group."""

    name: str
    variable: str
    kind: str  # "abs", "anom", "linear_trend", "static" or "seasonal"
    lag: int | None
    group: str
    long_name: str


def _build_channels() -> tuple[Channel, ...]:
    channels = [
        Channel(f"siconca_abs_{k}", "siconca", "abs", k, "sic",
                f"sea ice concentration, {k} month(s) before the forecast start")
        for k in range(1, N_SIC_LAGS + 1)
    ]
    channels += [
        Channel(f"siconca_linear_trend_{k}", "siconca", "linear_trend", k, "trend",
                f"linear-trend sea ice concentration forecast for lead {k}")
        for k in range(1, N_LEADS + 1)
    ]
    for var in CLIMATE_ANOMALY_VARIABLES:
        channels += [
            Channel(f"{var}_anom_{k}", var, "anom", k, "climate",
                    f"{MONTHLY_VARIABLES[var].long_name} anomaly, {k} month(s) before the start")
            for k in range(1, N_CLIMATE_LAGS + 1)
        ]
    channels += [
        Channel(f"ua10_abs_{k}", "ua10", "abs", k, "climate",
                f"10 hPa zonal wind, {k} month(s) before the forecast start")
        for k in range(1, N_CLIMATE_LAGS + 1)
    ]
    channels += [
        Channel("uas_abs_1", "uas", "abs", 1, "climate", "10 m wind, x component, previous month"),
        Channel("vas_abs_1", "vas", "abs", 1, "climate", "10 m wind, y component, previous month"),
        Channel("land", "land", "static", None, "static", "land mask"),
        Channel("cos_month", "month", "seasonal", None, "seasonal", "cosine of the forecast start month"),
        Channel("sin_month", "month", "seasonal", None, "seasonal", "sine of the forecast start month"),
    ]
    return tuple(channels)


CHANNELS: tuple[Channel, ...] = _build_channels()
CHANNEL_NAMES: tuple[str, ...] = tuple(c.name for c in CHANNELS)
CHANNEL_BY_NAME: dict[str, Channel] = {c.name: c for c in CHANNELS}
N_CHANNELS = len(CHANNELS)

SIC_ONLY_CHANNEL_NAMES: tuple[str, ...] = tuple(
    c.name for c in CHANNELS if c.group in ("sic", "trend", "static", "seasonal")
)
"""The 21 channels that can be built from sea-ice concentration alone (no ERA5)."""


def channel(name: str) -> Channel:
    """Look up a channel by its IceNet name, with a helpful error for a typo."""
    try:
        return CHANNEL_BY_NAME[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, CHANNEL_NAMES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"unknown IceNet channel {name!r}.{hint} See icegrad.variables.CHANNEL_NAMES."
        ) from None


def channel_groups(names: tuple[str, ...] | list[str] = CHANNEL_NAMES) -> list[str]:
    """The group of each channel name, in order."""
    return [channel(n).group for n in names]
