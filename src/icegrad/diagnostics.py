"""Standard sea-ice diagnostics: extent and area from concentration fields.

Extent counts the area of cells with SIC of at least 15 % (the NSIDC Sea Ice Index convention); area sums
SIC times cell area. Both use the grid's ``cell_area`` coordinate, never a nominal cell size, and
return million km^2, the unit every sea-ice record is reported in.
"""

from __future__ import annotations

import xarray as xr

EXTENT_THRESHOLD = 0.15


def sea_ice_extent(sic: xr.DataArray, threshold: float = EXTENT_THRESHOLD) -> xr.DataArray:
    """Sea-ice extent (million km^2): total area of cells with SIC >= ``threshold``; NaN cells skipped."""
    if "cell_area" not in sic.coords:
        raise ValueError("sea_ice_extent needs a 'cell_area' coordinate (km2); "
                         "build the field on icegrad.grid.ease2_grid(...) coordinates.")
    extent = (sic >= threshold).where(sic.notnull(), False).astype("float64")
    out = (extent * sic["cell_area"]).sum(dim=("y", "x")) / 1e6
    out.name = "sea_ice_extent"
    out.attrs = {"units": "1e6 km2", "long_name": f"sea ice extent (SIC >= {threshold:g})"}
    return out


def sea_ice_area(sic: xr.DataArray) -> xr.DataArray:
    """Sea-ice area (million km^2): sum of SIC times cell area; NaN cells skipped."""
    out = (sic.fillna(0.0) * sic["cell_area"]).sum(dim=("y", "x")) / 1e6
    out.name = "sea_ice_area"
    out.attrs = {"units": "1e6 km2", "long_name": "sea ice area"}
    return out
