"""Where things are in the emulated Arctic: named sea regions and smooth features on the sphere.

Everything here is an analytic function of latitude and longitude, evaluated on whichever EASE2 grid
is asked for, so the 25, 50, 100 and 200 km versions of the emulator describe the same Arctic rather
than four differently-sampled ones.

Regions are boxes in latitude/longitude, tested in a fixed priority order (first match wins) and
restricted to ocean cells. They are deliberately coarse: they name the sectors the causal links act
in (:mod:`icegrad.data.emulator.links`) and that the book draws, not a hydrographic atlas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from icegrad import grid
from icegrad.data.land import land_mask

EARTH_RADIUS_KM = 6371.0


Box = tuple[float, float, float, float]  # lat_min, lat_max, lon_west, lon_east (east may wrap past 180)


@dataclass(frozen=True)
class Region:
    """A named sea region: the union of latitude/longitude boxes."""

    name: str
    long_name: str
    boxes: tuple[Box, ...]

    def contains(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Boolean array: which (lat, lon) points fall inside any of the boxes (longitudes in any range)."""
        lon360 = np.mod(lon, 360.0)
        inside = np.zeros(np.shape(lat), dtype=bool)
        for lat_min, lat_max, lon_west, lon_east in self.boxes:
            west, east = lon_west % 360.0, lon_east % 360.0
            if lon_east - lon_west >= 360.0:
                in_lon = np.ones_like(inside)
            elif west <= east:
                in_lon = (lon360 >= west) & (lon360 <= east)
            else:
                in_lon = (lon360 >= west) | (lon360 <= east)
            inside |= (lat >= lat_min) & (lat <= lat_max) & in_lon
        return inside

    def describe(self) -> str:
        """The boxes in words, for attributes and captions."""
        return " + ".join(f"{b[0]:g}-{b[1]:g} N, {b[2]:g} to {b[3]:g} E" for b in self.boxes)


# Priority order matters: the Canadian seas are claimed before the central Arctic cap, the cap before
# the marginal sectors, so every ocean cell belongs to at most one region.
REGIONS: tuple[Region, ...] = (
    Region("hudson_baffin", "Hudson Bay, Baffin Bay, Davis Strait and the Labrador coast",
           ((50.0, 78.0, -96.0, -50.0),)),
    Region("canadian_archipelago", "Canadian Arctic Archipelago", ((68.0, 84.0, -125.0, -60.0),)),
    Region("central_arctic", "central Arctic Ocean (north of 80 N)", ((80.0, 90.0, -180.0, 180.0),)),
    Region("pacific_sector", "Pacific sector: Chukchi, East Siberian and Beaufort seas",
           ((66.0, 80.0, 150.0, -125.0),)),
    Region("siberian_shelf", "Siberian shelf: Laptev and Kara seas", ((66.0, 80.0, 55.0, 150.0),)),
    Region("atlantic_sector", "Atlantic sector: Barents, Greenland and Norwegian seas",
           ((62.0, 80.0, -45.0, 55.0),)),
    Region("bering_okhotsk", "Bering Sea and Sea of Okhotsk",
           ((43.0, 62.0, 135.0, 160.0), (52.0, 66.0, 160.0, -155.0))),
)
REGION_NAMES: tuple[str, ...] = tuple(r.name for r in REGIONS)


def region_index(lat: np.ndarray, lon: np.ndarray, ocean: np.ndarray) -> np.ndarray:
    """Integer code per cell: position in :data:`REGIONS`, or -1 for land and unnamed ocean."""
    code = np.full(lat.shape, -1, dtype=np.int16)
    for i, region in enumerate(REGIONS):
        code[(code < 0) & ocean & region.contains(lat, lon)] = i
    return code


def regions(resolution_km: int = 100) -> xr.DataArray:
    """Boolean masks ``(region, y, x)`` of the named regions the emulator's links act in.

    Example
    -------
    >>> masks = regions(200)
    >>> masks.region.values[:3].tolist()
    ['hudson_baffin', 'canadian_archipelago', 'central_arctic']
    """
    g = grid.ease2_grid(resolution_km)
    ocean = ~land_mask(resolution_km).values
    code = region_index(g.lat.values, g.lon.values, ocean)
    masks = np.stack([code == i for i in range(len(REGIONS))])
    out = xr.DataArray(
        masks, dims=("region", "y", "x"),
        coords={"region": list(REGION_NAMES), **{k: g[k] for k in ("y", "x", "lat", "lon", "cell_area")}},
        name="region_mask",
        attrs={"long_name": "emulator sea region mask", "units": "1",
               "description": "; ".join(f"{r.name}: {r.long_name}, {r.describe()}" for r in REGIONS)},
    )
    out.coords["region_long_name"] = ("region", [r.long_name for r in REGIONS])
    return out


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Cartesian unit vectors (..., 3) of points on the sphere, for wrap-free distances."""
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)


def blob(lat: np.ndarray, lon: np.ndarray, centre: tuple[float, float], radius_km: float) -> np.ndarray:
    """Gaussian bump exp(-(d / radius)^2) of great-circle distance d from ``centre`` (lat, lon)."""
    cos_d = unit_vectors(lat, lon) @ unit_vectors(np.array(centre[0]), np.array(centre[1]))
    distance = EARTH_RADIUS_KM * np.arccos(np.clip(cos_d, -1.0, 1.0))
    return np.exp(-((distance / radius_km) ** 2))
