"""EASE-Grid 2.0 North geometry at 25 km and its coarsened versions.

IceNet works on the 432 x 432 subset of EASE-Grid 2.0 North (EPSG:6931) that OSI SAF distributes as
``ice_conc_nh_ease2-250``: cells of exactly 25 km, centred from -5387.5 km to +5387.5 km on both axes.
The projection is Lambert azimuthal *equal-area*, so every cell covers exactly 625 km^2 of the WGS84
ellipsoid; we still carry ``cell_area`` as a coordinate because extents and area-weighted means must
not depend on that fact being remembered by every caller.

Coarser grids (50, 100, 200 km) are exact 2x2, 4x4 and 8x8 block aggregates of the 25 km grid, so a
field coarsened with :func:`coarsen` lands on the same cells as :func:`ease2_grid` at that resolution.

Example
-------
>>> g = ease2_grid(100)
>>> g.sizes["x"], float(g.cell_area[0, 0])
(108, 10000.0)
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyproj
import xarray as xr

from icegrad import config
from icegrad.errors import IcegradError

EASE2_NORTH_EPSG = 6931
BASE_RESOLUTION_KM = 25
BASE_SIZE = 432
SUPPORTED_RESOLUTIONS_KM = config.RESOLUTIONS_KM
GRID_HALF_WIDTH_M = BASE_SIZE * BASE_RESOLUTION_KM * 1000 / 2  # 5400 km


class GridError(IcegradError):
    """A resolution or array that does not match the EASE-Grid 2.0 layouts icegrad supports."""


def coarsening_factor(resolution_km: int) -> int:
    """Block size (in 25 km cells) of a supported resolution; clear error otherwise."""
    if resolution_km not in SUPPORTED_RESOLUTIONS_KM:
        raise GridError(
            f"resolution_km={resolution_km!r} is not supported; choose one of "
            f"{SUPPORTED_RESOLUTIONS_KM} (km), which divide the 432 x 432 EASE2 25 km grid exactly."
        )
    return resolution_km // BASE_RESOLUTION_KM


def cell_centres_m(resolution_km: int) -> np.ndarray:
    """Projected cell-centre coordinates (metres), ascending, for one axis."""
    size = BASE_SIZE // coarsening_factor(resolution_km)
    step = resolution_km * 1000.0
    return -GRID_HALF_WIDTH_M + step * (np.arange(size) + 0.5)


@lru_cache(maxsize=8)
def _grid_arrays(resolution_km: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = cell_centres_m(resolution_km)
    # y descends (north-up image order), as in OSI SAF and NSIDC files.
    y = x[::-1].copy()
    xx, yy = np.meshgrid(x, y)
    to_lonlat = pyproj.Transformer.from_crs(EASE2_NORTH_EPSG, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(xx, yy)
    return x, y, lat, lon


def ease2_grid(resolution_km: int = 25) -> xr.Dataset:
    """The EASE-Grid 2.0 North grid at ``resolution_km`` as an empty dataset of coordinates.

    Coordinates: ``x``, ``y`` (metres, EPSG:6931), ``lat``, ``lon`` (degrees), ``cell_area`` (km^2),
    and a scalar ``crs`` carrying the CF grid mapping so files written from it open in GIS tools.
    """
    x, y, lat, lon = _grid_arrays(resolution_km)
    area = np.full(lat.shape, float(resolution_km) ** 2)
    ds = xr.Dataset(
        coords={
            "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m",
                           "long_name": "y coordinate of projection (EASE-Grid 2.0 North)"}),
            "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m",
                           "long_name": "x coordinate of projection (EASE-Grid 2.0 North)"}),
            "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
            "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
            "cell_area": (("y", "x"), area, {"long_name": "grid cell area", "units": "km2",
                                             "standard_name": "cell_area"}),
        },
        attrs={"grid": grid_name(resolution_km), "resolution_km": resolution_km},
    )
    ds.coords["crs"] = xr.DataArray(0, attrs=crs_attrs())
    return ds


def grid_name(resolution_km: int) -> str:
    """Short, file-name-safe grid identifier, e.g. ``EASE2_N100km``."""
    coarsening_factor(resolution_km)
    return f"EASE2_N{resolution_km}km"


def crs_attrs() -> dict[str, object]:
    """CF ``grid_mapping`` attributes for EASE-Grid 2.0 North (Lambert azimuthal equal-area)."""
    crs = pyproj.CRS.from_epsg(EASE2_NORTH_EPSG)
    attrs = dict(crs.to_cf())
    attrs["epsg_code"] = f"EPSG:{EASE2_NORTH_EPSG}"
    return attrs


def resolution_of(obj: xr.Dataset | xr.DataArray) -> int:
    """Infer the resolution (km) of an object on an icegrad EASE2 grid; error if it is not one."""
    if "x" not in obj.dims or "y" not in obj.dims:
        raise GridError(f"expected dims 'y' and 'x' on the EASE2 grid, found {tuple(obj.dims)}")
    size_x, size_y = obj.sizes["x"], obj.sizes["y"]
    for res in SUPPORTED_RESOLUTIONS_KM:
        if size_x == size_y == BASE_SIZE // coarsening_factor(res):
            expected = cell_centres_m(res)
            if "x" in obj.coords and not np.allclose(np.asarray(obj["x"]), expected, atol=1.0):
                break
            return res
    layouts = ", ".join(f"{BASE_SIZE // coarsening_factor(r)}^2 at {r} km" for r in SUPPORTED_RESOLUTIONS_KM)
    raise GridError(
        f"array of shape (y={size_y}, x={size_x}) is not on an EASE-Grid 2.0 North grid icegrad "
        f"supports ({layouts}, centred on the pole); regrid it to EASE2 first."
    )


def coarsen(obj: xr.Dataset | xr.DataArray, resolution_km: int) -> xr.Dataset | xr.DataArray:
    """Block-average a 25 km field to ``resolution_km``; coordinates come from :func:`ease2_grid`.

    NaNs are skipped in the mean (a block with some valid cells keeps their mean), which is what a
    masked sea-ice field needs at the coast; a block of only NaNs stays NaN.
    """
    source_res = resolution_of(obj)
    if resolution_km % source_res or resolution_km < source_res:
        raise GridError(f"cannot coarsen from {source_res} km to {resolution_km} km; "
                        "the target must be a multiple of the source resolution")
    factor = resolution_km // source_res
    drop = [c for c in ("lat", "lon", "cell_area", "x", "y", "crs") if c in obj.coords]
    out = obj.drop_vars(drop)
    if factor > 1:
        out = out.coarsen(x=factor, y=factor).mean(keep_attrs=True)
    target = ease2_grid(resolution_km)
    out = out.assign_coords({name: target[name] for name in ("x", "y", "lat", "lon", "cell_area", "crs")})
    out.attrs.update({"grid": target.attrs["grid"], "resolution_km": resolution_km})
    return out


def assert_on_grid(obj: xr.Dataset | xr.DataArray, resolution_km: int | None = None) -> int:
    """Raise :class:`GridError` unless ``obj`` is on an EASE2 grid (optionally a given one)."""
    res = resolution_of(obj)
    if resolution_km is not None and res != resolution_km:
        raise GridError(f"data is on the {res} km grid but {resolution_km} km was requested; "
                        f"coarsen it with icegrad.grid.coarsen(obj, {resolution_km}) or pick "
                        f"resolution_km={res}.")
    return res
