"""Every reader's regridding onto icegrad's EASE-Grid 2.0 North grids: NSIDC polar stereographic sea ice
(nearest neighbour, below), ERA5's regular latitude/longitude fields (:func:`bilinear_weights`,
:func:`apply_weights`, :func:`rotate_to_grid`, used by :mod:`icegrad.data.era5`) and the coarser grids
(:func:`to_resolution`). Readers only fetch (:mod:`icegrad.data.download`) and decode; the grid work
lives here.

NSIDC's passive-microwave products live on the *NSIDC Sea Ice Polar Stereographic North* grid
(EPSG:3411: Hughes 1980 ellipsoid, true scale at 70 N, 304 x 448 cells of 25 km); IceNet works on
EASE-Grid 2.0 North (EPSG:6931, 432 x 432 cells of 25 km). Both grids have 25 km cells, so each
EASE2 cell takes the value of the **nearest polar-stereographic cell centre within 25 km** — a
nearest-neighbour resampling that never invents concentrations between cells and keeps every flag
intact. Coarser targets (50/100/200 km) are built by regridding to 25 km and block-averaging with
:func:`icegrad.grid.coarsen`, so all resolutions derive from one 25 km field.

Why pyresample rather than xESMF: it is pip-installable with no ESMF binary, and its KD-tree
neighbour search is exactly the operation a 25 km -> 25 km nearest-neighbour resampling needs. The
neighbour table (one source index per EASE2 cell) depends only on the two grids, so it is computed
once per process and reused for every month.

Rules for cells without a valid concentration (all documented in the output's ``comment``):

* **pole hole** (flag 251, the area around the pole the satellite never sees): the sea there is
  ice-covered all year, so it is filled with the *mean concentration of the ring of valid cells
  around it* for that month. A constant 1.0 would also count as ice, but it puts an artificial step
  at the hole's edge that gradient attribution would happily highlight; the ring mean keeps the
  field continuous.
* **land**: NaN wherever :func:`icegrad.data.land.land_mask` says land, whatever NSIDC says, so
  every icegrad data source shares one coastline.
* **outside the NSIDC grid** (no source cell within 25 km) over EASE2 ocean: open water, 0. These are
  the far-south parts of the EASE2 grid (the North Pacific south of Alaska, the Mediterranean, Black
  and Caspian seas, all south of 56 N); NSIDC's grid was laid out to hold all the sea ice it
  reports, so the product says "no ice" there by omission. (Filling them from the nearest valid cell,
  as before, copied winter ice across the Black and Caspian seas: 1.6 million km2 of spurious extent
  in March 2013.)
* **coast, lakes, missing data** (flags 252-255) over EASE2 ocean: the value of the nearest EASE2
  cell holding a valid concentration (in grid distance). These are thin coastal strips and rare gaps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr
from pyresample import geometry, kd_tree
from scipy import ndimage, sparse

from icegrad import grid
from icegrad.data.land import land_mask
from icegrad.errors import IcegradError
from icegrad.variables import MONTHLY_VARIABLES

NSIDC_NORTH_EPSG = 3411
NSIDC_NORTH_SHAPE = (448, 304)  # (y, x)
NSIDC_NORTH_EXTENT_M = (-3_850_000.0, -5_350_000.0, 3_750_000.0, 5_850_000.0)  # left, bottom, right, top
NSIDC_CELL_M = 25_000.0
SEARCH_RADIUS_M = 25_000.0
POLE_HOLE_FLAG = 251
FLAG_MEANINGS = {251: "pole_hole", 252: "lakes", 253: "coastal", 254: "land_mask", 255: "missing_data"}

FILL_RULES = (
    "Regridded from the NSIDC polar stereographic north 25 km grid (EPSG:3411) to EASE-Grid 2.0 "
    "North by nearest neighbour within 25 km (pyresample KD-tree). Pole hole: filled each month "
    "with the mean concentration of the ring of valid cells around it. Land (icegrad Natural Earth "
    "mask): NaN. Ocean outside the NSIDC grid (south of 56 N): 0 (open water). Coast, lake and "
    "missing-data cells over ocean: value of the nearest valid cell."
)


class RegridError(IcegradError):
    """A field that is not on the NSIDC polar stereographic north 25 km grid, or cannot be filled."""


def polar_stereo_north_coords() -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre ``x`` (ascending) and ``y`` (descending) in metres of the NSIDC north grid.

    Used when a file carries no coordinate variables: the grid is fixed by NSIDC's definition.
    """
    left, _, _, top = NSIDC_NORTH_EXTENT_M
    x = left + NSIDC_CELL_M * (np.arange(NSIDC_NORTH_SHAPE[1]) + 0.5)
    y = top - NSIDC_CELL_M * (np.arange(NSIDC_NORTH_SHAPE[0]) + 0.5)
    return x, y


@lru_cache(maxsize=1)
def nearest_source_index() -> np.ndarray:
    """For every EASE2 25 km cell (row-major), the flat index of the nearest NSIDC cell, or -1.

    -1 marks EASE2 cells with no NSIDC cell centre within :data:`SEARCH_RADIUS_M` (outside the
    NSIDC grid). Cached: it depends only on the two fixed grids.
    """
    source = geometry.AreaDefinition(
        "nsidc_psn25", "NSIDC Sea Ice Polar Stereographic North 25 km", "epsg3411",
        f"EPSG:{NSIDC_NORTH_EPSG}", NSIDC_NORTH_SHAPE[1], NSIDC_NORTH_SHAPE[0], NSIDC_NORTH_EXTENT_M,
    )
    half = grid.GRID_HALF_WIDTH_M
    target = geometry.AreaDefinition(
        "ease2_n25", "EASE-Grid 2.0 North 25 km", "epsg6931", f"EPSG:{grid.EASE2_NORTH_EPSG}",
        grid.BASE_SIZE, grid.BASE_SIZE, (-half, -half, half, half),
    )
    valid_in, valid_out, index, _ = kd_tree.get_neighbour_info(
        source, target, SEARCH_RADIUS_M, neighbours=1
    )
    source_ids = np.flatnonzero(valid_in)
    found = index < source_ids.size
    out = np.full(target.size, -1, dtype=np.int64)
    out_valid = np.flatnonzero(valid_out)
    out[out_valid[found]] = source_ids[index[found]]
    return out


def check_on_polar_stereo(da: xr.DataArray) -> xr.DataArray:
    """Return ``da`` with y descending and x ascending; error if it is not on the NSIDC grid."""
    if da.dims[-2:] != ("y", "x") or tuple(da.shape[-2:]) != NSIDC_NORTH_SHAPE:
        raise RegridError(
            f"expected a field with trailing dims ('y', 'x') of shape {NSIDC_NORTH_SHAPE} (NSIDC polar "
            f"stereographic north 25 km), got dims {da.dims} and shape {da.shape}; read it with "
            "icegrad.data.nsidc.open_cdr."
        )
    x_ref, y_ref = polar_stereo_north_coords()
    if "x" in da.coords and "y" in da.coords:
        da = da.sortby("x").sortby("y", ascending=False)
        if not (np.allclose(da["x"], x_ref, atol=1.0) and np.allclose(da["y"], y_ref, atol=1.0)):
            raise RegridError("the field's x/y coordinates are not the NSIDC polar stereographic north "
                              "25 km cell centres (x from -3837.5 km, y from 5837.5 km); is it a "
                              "southern-hemisphere or subset file?")
    return da


def _resample(values: np.ndarray, fill: float | int) -> np.ndarray:
    """Nearest-neighbour gather of ``(time, 448, 304)`` values onto ``(time, 432, 432)``."""
    index = nearest_source_index()
    flat = values.reshape(values.shape[0], -1)
    out = flat[:, np.clip(index, 0, None)]
    out[:, index < 0] = fill
    return out.reshape(values.shape[0], grid.BASE_SIZE, grid.BASE_SIZE)


def _fill_pole_hole(sic: np.ndarray, pole: np.ndarray, valid: np.ndarray) -> None:
    """In place: set each month's pole-hole cells to the mean of the valid ring around them."""
    ring_structure = np.ones((3, 3), dtype=bool)
    for t in np.flatnonzero(pole.any(axis=(1, 2))):
        ring = ndimage.binary_dilation(pole[t], structure=ring_structure) & ~pole[t] & valid[t]
        if not ring.any():
            raise RegridError("the pole hole has no valid cells around it, so it cannot be filled; "
                              "is the field all missing data?")
        sic[t][pole[t]] = sic[t][ring].mean()


def fill_from_nearest(values: np.ndarray, needs: np.ndarray, valid: np.ndarray) -> None:
    """In place: give cells in ``needs`` the value of the nearest ``valid`` cell of the same month.

    Arrays are ``(y, x)`` or ``(time, y, x)``; distance is measured in grid cells. Months share their
    invalid pattern (it changes only with the pole hole and rare gaps), so the nearest-cell table is
    computed once per distinct pattern. Used by every real-data reader for coast, lake and gap cells.
    """
    if values.ndim == 2:
        values, needs, valid = values[np.newaxis], needs[np.newaxis], valid[np.newaxis]
    tables: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    for t in range(values.shape[0]):
        if not needs[t].any():
            continue
        if not valid[t].any():
            raise RegridError("a month has no valid value at all to fill from; its data are all flags or "
                              "missing — check the source files")
        key = valid[t].tobytes()
        if key not in tables:
            rows, cols = ndimage.distance_transform_edt(~valid[t], return_distances=False,
                                                        return_indices=True)
            tables[key] = (rows, cols)
        rows, cols = tables[key]
        values[t][needs[t]] = values[t][rows[needs[t]], cols[needs[t]]]


def ps_to_ease2(sic: xr.DataArray, flag: xr.DataArray, resolution_km: int = 25) -> xr.DataArray:
    """Regrid decoded NSIDC SIC (``time, y, x``; NaN where flagged) to EASE2 at ``resolution_km``.

    ``flag`` holds NSIDC's flag codes (251-255) where ``sic`` is NaN and 0 elsewhere, as returned by
    :func:`icegrad.data.nsidc.open_cdr`. The result is ``siconca`` in [0, 1], NaN exactly on icegrad's
    land mask and finite over every ocean cell.
    """
    grid.coarsening_factor(resolution_km)
    sic, flag = check_on_polar_stereo(sic), check_on_polar_stereo(flag)
    if sic.dims != ("time", "y", "x") or flag.shape != sic.shape:
        raise RegridError(f"sic must have dims ('time', 'y', 'x') and flag the same shape; got {sic.dims} "
                          f"{sic.shape} and {flag.dims} {flag.shape}")
    values = _resample(np.asarray(sic.values, dtype=np.float32), np.nan)
    flags = _resample(np.asarray(flag.values, dtype=np.uint8), 255)
    valid = np.isfinite(values)
    if not valid.any(axis=(1, 2)).all():
        raise RegridError("a month has no valid value at all to fill from; its data are all flags or "
                          "missing — check the source files")
    pole = flags == POLE_HOLE_FLAG
    _fill_pole_hole(values, pole, valid)
    valid |= pole
    land = np.asarray(land_mask(grid.BASE_RESOLUTION_KM).values)
    outside = (nearest_source_index() < 0).reshape(grid.BASE_SIZE, grid.BASE_SIZE) & ~land
    values[:, outside] = 0.0
    valid |= outside
    fill_from_nearest(values, ~valid & ~land, valid)
    values[:, land] = np.nan
    spec = MONTHLY_VARIABLES["siconca"]
    base = grid.ease2_grid(grid.BASE_RESOLUTION_KM)
    out = xr.DataArray(
        values, dims=("time", "y", "x"), coords={"time": sic["time"].values, **base.coords}, name="siconca",
        attrs={"units": spec.units, "long_name": spec.long_name, "standard_name": spec.standard_name,
               "comment": FILL_RULES},
    )
    return to_resolution(out, resolution_km)


def to_resolution(field: xr.DataArray, resolution_km: int) -> xr.DataArray:
    """A regridded 25 km field (from :func:`ps_to_ease2`) at ``resolution_km``, as every reader makes it.

    Block-averages with :func:`icegrad.grid.coarsen` (NaN-skipping), sets NaN on that grid's land mask
    and appends the step to the field's ``comment``. One function for every reader, so the embedded
    NSIDC record (built once at 25 km, then coarsened to 100 and 200 km) holds exactly the numbers
    :func:`ps_to_ease2` gives at those resolutions, and OSI SAF is coarsened the same way.
    """
    grid.coarsening_factor(resolution_km)
    if resolution_km == grid.BASE_RESOLUTION_KM:
        return field
    out = grid.coarsen(field, resolution_km)
    out = out.where(~land_mask(resolution_km).values).astype(np.float32)
    step = f"Then block-averaged to {resolution_km} km (NaN-skipping)."
    out.attrs["comment"] = f"{field.attrs.get('comment', '')} {step}".lstrip()
    return out


# ----------------------------------------------------------------------------------------------
# Regular latitude/longitude grids (ERA5) -> EASE2: bilinear weights and wind rotation
# ----------------------------------------------------------------------------------------------

def bilinear_weights(src_lat: np.ndarray, src_lon: np.ndarray, dst_lat: np.ndarray,
                     dst_lon: np.ndarray) -> sparse.csr_matrix:
    """Sparse ``(n_dst, n_lat * n_lon)`` bilinear weights from a regular global-longitude grid.

    ``src_lat`` ascending, ``src_lon`` ascending, evenly spaced and covering 360 deg (periodic).
    """
    dlon = np.diff(src_lon)
    if not (np.allclose(dlon, dlon[0]) and np.isclose(src_lon[-1] - src_lon[0] + dlon[0], 360.0)):
        raise RegridError("the ERA5 longitudes must be evenly spaced and cover all 360 deg (request area "
                          "[90, -180, south, 180])")
    lat, lon = dst_lat.ravel(), dst_lon.ravel()
    if lat.min() < src_lat[0] or lat.max() > src_lat[-1]:
        raise RegridError(f"the ERA5 files cover latitudes {src_lat[0]:.2f}..{src_lat[-1]:.2f} N but the "
                          f"EASE2 grid reaches {lat.min():.2f} N; download with south_deg <= "
                          f"{np.floor(lat.min()):.0f}")
    pos = ((lon - src_lon[0]) % 360.0) / dlon[0]
    i0 = np.floor(pos).astype(np.int64) % src_lon.size
    fx = pos - np.floor(pos)
    i1 = (i0 + 1) % src_lon.size
    k0 = np.clip(np.searchsorted(src_lat, lat, side="right") - 1, 0, src_lat.size - 2)
    fy = (lat - src_lat[k0]) / (src_lat[k0 + 1] - src_lat[k0])
    rows = np.repeat(np.arange(lat.size), 4)
    cols = np.stack([k0 * src_lon.size + i0, k0 * src_lon.size + i1,
                     (k0 + 1) * src_lon.size + i0, (k0 + 1) * src_lon.size + i1], axis=1).ravel()
    vals = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], axis=1).ravel()
    return sparse.csr_matrix((vals, (rows, cols)), shape=(lat.size, src_lat.size * src_lon.size))


def apply_weights(weights: sparse.csr_matrix, field: np.ndarray) -> np.ndarray:
    """``(time, n_lat, n_lon)`` -> ``(time, n_dst)``, renormalised over neighbours with data (NaN if none)."""
    flat = field.reshape(field.shape[0], -1).T
    valid = np.isfinite(flat)
    num = weights @ np.where(valid, flat, 0.0)
    den = weights @ valid.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-9, num / den, np.nan).T


def rotate_to_grid(u_east: np.ndarray, v_north: np.ndarray,
                   lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eastward/northward wind -> components along EASE2 North's x and y axes at longitudes ``lon_deg``.

    A rotation by the longitude (see :mod:`icegrad.data.era5`), so speeds are unchanged.
    """
    lam = np.deg2rad(lon_deg)
    cos, sin = np.cos(lam), np.sin(lam)
    return u_east * cos - v_north * sin, u_east * sin + v_north * cos
