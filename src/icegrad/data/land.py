"""The land mask on any supported EASE2 grid, from the embedded Natural Earth raster.

The 25 km land fraction in ``data/land_mask_ease2_n25km.nc`` is block-averaged to the requested
resolution and thresholded at one half, so the mask at every resolution derives from one source.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr

from icegrad import grid
from icegrad.files import read_netcdf
from icegrad.paths import data_dir

LAND_MASK_FILE = "land_mask_ease2_n25km.nc"


@lru_cache(maxsize=8)
def _land_fraction(resolution_km: int) -> np.ndarray:
    fraction = read_netcdf(data_dir() / LAND_MASK_FILE)["land_fraction"].astype("float64") / 100.0
    fraction = fraction.assign_coords(grid.ease2_grid(grid.BASE_RESOLUTION_KM).coords)
    return np.asarray(grid.coarsen(fraction, resolution_km).values)


def land_fraction(resolution_km: int = 25) -> xr.DataArray:
    """Share of each cell covered by land, in [0, 1]."""
    g = grid.ease2_grid(resolution_km)
    return xr.DataArray(_land_fraction(resolution_km), coords=g.coords, dims=("y", "x"),
                        name="land_fraction", attrs={"units": "1", "long_name": "land fraction",
                                                     "source": "Natural Earth 1:50m land"})


def land_mask(resolution_km: int = 25) -> xr.DataArray:
    """Boolean land mask (True on land): cells at least half covered by Natural Earth land."""
    mask = land_fraction(resolution_km) >= 0.5
    mask.name = "land"
    mask.attrs = {"long_name": "land mask", "flag_meanings": "ocean land",
                  "source": "Natural Earth 1:50m land, rasterised by data/scripts/make_land_mask.py"}
    return mask
