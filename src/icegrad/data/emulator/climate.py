"""Climatologies and the physical ties between the emulated fields.

These functions turn latitude, season, the land mask and the sea ice into the ERA5-like fields in
real units. The ties are physics, not statistics, so a sea-ice scientist can check them by eye:

* ``rsds`` = daily-mean top-of-atmosphere insolation (astronomy) x cloud transmissivity: zero in
  the polar night, ~300 W m-2 over the June pack;
* ``rsus`` = albedo x ``rsds``, with the albedo of open water (0.07), snow-covered or ponded ice,
  and snowy or bare land — so ``rsus`` is *caused by* the ice, never the other way round;
* ``tos`` = the freezing point (-1.8 C) under ice, blended with the open-water SST by concentration;
* ``zg500`` and ``zg250`` from ``psl`` and the layer temperatures by the hypsometric equation;
* ``uas``/``vas`` geostrophic from ``psl``, slowed and turned 25 degrees toward low pressure by
  surface friction, expressed along the EASE2 grid's x and y axes.
"""

from __future__ import annotations

import numpy as np

from icegrad.data.emulator.drivers import COLD
from icegrad.data.emulator.geography import blob

T_FREEZE_C = -1.8
KELVIN = 273.15
SOLAR_CONSTANT = 1361.0
R_DRY = 287.05
GRAVITY = 9.80665
OMEGA = 7.2921e-5
AIR_DENSITY = 1.3
FRICTION_SPEED_FACTOR = 0.7
FRICTION_TURNING_DEG = 25.0
OPEN_WATER_ALBEDO = 0.07
ICE_ALBEDO = np.array([0.82, 0.82, 0.82, 0.8, 0.78, 0.7, 0.58, 0.6, 0.7, 0.8, 0.82, 0.82])
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def toa_insolation(lat: np.ndarray, month: int) -> np.ndarray:
    """Monthly-mean daily insolation at the top of the atmosphere (W m-2), from orbital geometry."""
    first = int(_DAYS[: month - 1].sum())
    days = np.arange(first, first + _DAYS[month - 1]) + 0.5
    gamma = 2.0 * np.pi * days / 365.0
    declination = 0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma)
    distance_factor = 1.000110 + 0.034221 * np.cos(gamma) + 0.001280 * np.sin(gamma)
    phi = np.deg2rad(lat)[..., None]
    cos_h0 = np.clip(-np.tan(phi) * np.tan(declination), -1.0, 1.0)
    h0 = np.arccos(cos_h0)
    daily = (SOLAR_CONSTANT / np.pi) * distance_factor * (
        h0 * np.sin(phi) * np.sin(declination) + np.cos(phi) * np.cos(declination) * np.sin(h0))
    return np.maximum(daily, 0.0).mean(axis=-1)


def cloud_transmissivity(lat: np.ndarray) -> np.ndarray:
    """Climatological share of insolation reaching the surface: cloudier (lower) over the Arctic."""
    return 0.5 + 0.15 * np.clip((70.0 - lat) / 25.0, 0.0, 1.0)


def psl_climatology(lat: np.ndarray, lon: np.ndarray, month: int) -> np.ndarray:
    """Sea-level pressure (Pa): 1013.25 hPa, Beaufort and Siberian highs, Icelandic and Aleutian lows."""
    cold = COLD[month - 1]
    beaufort = np.array([300, 500, 600, 600, 400, 100, 0, 0, 100, 200, 300, 300])[month - 1]
    return (101325.0
            + beaufort * blob(lat, lon, (75.0, -150.0), 1200.0)
            + 1800.0 * cold * blob(lat, lon, (52.0, 100.0), 1500.0)
            - 1200.0 * (0.3 + 0.7 * cold) * blob(lat, lon, (62.0, -35.0), 1500.0)
            - 1200.0 * (0.3 + 0.7 * cold) * blob(lat, lon, (52.0, 180.0), 1500.0))


def open_water_sst_c(effective_lat: np.ndarray, edge_lat: float, month: int) -> np.ndarray:
    """Open-water SST (C): freezing point at the ice edge, warmer further south in effective latitude."""
    distance = np.logaddexp(0.0, edge_lat - effective_lat)  # smooth max(0, degrees south of the edge)
    summer = 1.0 - COLD[month - 1]
    return np.minimum(T_FREEZE_C + 0.5 * distance + 3.0 * summer * np.minimum(distance, 5.0) / 5.0, 29.0)


def tas_climatology_c(lat: np.ndarray, land: np.ndarray, sic_ref: np.ndarray, sst_c: np.ndarray,
                      month: int, warming: float) -> np.ndarray:
    """2 m air temperature (C): cold over winter ice, near 0 C over summer ice, continental over land."""
    cold = COLD[month - 1]
    over_ice = -1.0 + cold * (-19.0 - 10.0 * (lat - 70.0) / 20.0)
    over_water = sst_c - 1.5 * cold
    land_lat = np.maximum(lat, 35.0)  # the continental formula is meant for the mid and high latitudes
    over_land = 24.0 - 0.6 * (land_lat - 45.0) - cold * (28.0 + 0.45 * (land_lat - 45.0))
    ocean = np.where(np.isfinite(sic_ref), sic_ref, 0.0)
    sea = ocean * over_ice + (1.0 - ocean) * over_water
    return np.where(land, over_land, sea) + warming * (0.3 + 0.5 * cold)


def ta500_climatology_k(lat: np.ndarray, month: int) -> np.ndarray:
    """500 hPa air temperature (K): about 20-25 K colder than the surface in the Arctic summer."""
    cold = COLD[month - 1]
    return 253.0 - 0.25 * (lat - 60.0) - 12.0 * cold


def ua10_climatology(lat: np.ndarray, month: int) -> np.ndarray:
    """10 hPa zonal wind (m s-1): the polar-night jet near 62 N, weak easterlies in summer."""
    cold = COLD[month - 1]
    return (32.0 * cold - 10.0 * (1.0 - cold)) * np.exp(-(((lat - 62.0) / 15.0) ** 2))


def surface_albedo(sic: np.ndarray, lat: np.ndarray, land: np.ndarray, month: int) -> np.ndarray:
    """Albedo: ice-dependent over the ocean, snow-dependent over land."""
    ocean = OPEN_WATER_ALBEDO + np.nan_to_num(sic) * (ICE_ALBEDO[month - 1] - OPEN_WATER_ALBEDO)
    snow = COLD[month - 1] * np.clip((lat - 40.0) / 20.0, 0.0, 1.0)
    return np.where(land, 0.18 + 0.55 * snow, ocean)


def geopotential_heights(psl: np.ndarray, tas_k: np.ndarray, ta500_k: np.ndarray,
                         upper_extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """zg500 and zg250 (m) by the hypsometric equation from ``psl`` and mean layer temperatures."""
    scale = R_DRY / GRAVITY
    zg500 = scale * 0.5 * (tas_k + ta500_k) * np.log(psl / 50000.0)
    zg250 = zg500 + scale * (ta500_k - 8.0) * np.log(2.0) + upper_extra
    return zg500, zg250


def surface_winds(psl: np.ndarray, lat: np.ndarray, spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """10 m wind components along the grid's x and y axes (m s-1) from the pressure field."""
    f = 2.0 * OMEGA * np.sin(np.deg2rad(lat))
    dp_drow, dp_dx = np.gradient(psl, spacing_m)
    dp_dy = -dp_drow  # rows run from north (+y) to south
    u_g = -dp_dy / (AIR_DENSITY * f)
    v_g = dp_dx / (AIR_DENSITY * f)
    turn = np.deg2rad(FRICTION_TURNING_DEG)  # counter-clockwise = toward low pressure (north)
    u = FRICTION_SPEED_FACTOR * (u_g * np.cos(turn) - v_g * np.sin(turn))
    v = FRICTION_SPEED_FACTOR * (u_g * np.sin(turn) + v_g * np.cos(turn))
    return u, v
