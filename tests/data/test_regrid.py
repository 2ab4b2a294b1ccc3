"""Polar-stereographic -> EASE2 regridding: neighbour table, fill rules, land, coarsening, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import grid
from icegrad.data import regrid
from icegrad.data.land import land_mask


def ps_field(sic: np.ndarray, flag: np.ndarray | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """One-month decoded NSIDC field (as open_cdr returns) from a (448, 304) array."""
    x, y = regrid.polar_stereo_north_coords()
    flag = np.zeros(sic.shape, np.uint8) if flag is None else flag
    sic = np.where(flag > 0, np.nan, sic).astype(np.float32)
    coords = {"time": pd.DatetimeIndex(["2000-03-01"]), "y": y, "x": x}
    return (xr.DataArray(sic[None], dims=("time", "y", "x"), coords=coords),
            xr.DataArray(flag[None], dims=("time", "y", "x"), coords=coords))


def ps_xy() -> tuple[np.ndarray, np.ndarray]:
    x, y = regrid.polar_stereo_north_coords()
    return np.meshgrid(x, y)


def test_neighbour_table_points_to_the_nearest_polar_stereo_cell() -> None:
    """Independent check: project EASE2 centres into EPSG:3411 and round to the PS cell grid."""
    index = regrid.nearest_source_index()
    g = grid.ease2_grid(25)
    to_ps = pyproj.Transformer.from_crs(grid.EASE2_NORTH_EPSG, regrid.NSIDC_NORTH_EPSG, always_xy=True)
    xx, yy = np.meshgrid(g.x.values, g.y.values)
    px, py = to_ps.transform(xx.ravel(), yy.ravel())
    left, _, _, top = regrid.NSIDC_NORTH_EXTENT_M
    col = np.floor((px - left) / regrid.NSIDC_CELL_M).astype(int)
    row = np.floor((top - py) / regrid.NSIDC_CELL_M).astype(int)
    inside = (col >= 1) & (col < 303) & (row >= 1) & (row < 447)
    # away from cell edges the map-space nearest cell is unambiguous
    fx = (px - left) / regrid.NSIDC_CELL_M % 1
    fy = (top - py) / regrid.NSIDC_CELL_M % 1
    clear = inside & (np.abs(fx - 0.5) < 0.4) & (np.abs(fy - 0.5) < 0.4)
    assert clear.sum() > 50_000
    np.testing.assert_array_equal(index[clear], (row * 304 + col)[clear])
    # EASE2 corners lie outside the NSIDC grid: no neighbour there
    assert index.reshape(432, 432)[0, 0] == -1 and index.reshape(432, 432)[-1, -1] == -1


@settings(max_examples=4, deadline=None)
@given(value=st.floats(0.0, 1.0, width=32))
def test_uniform_ocean_stays_uniform_and_land_is_nan(value: float) -> None:
    sic, flag = ps_field(np.full((448, 304), value))
    out = regrid.ps_to_ease2(sic, flag, 25)
    land = land_mask(25).values
    covered = regrid.nearest_source_index().reshape(432, 432) >= 0
    assert np.isnan(out.values[0][land]).all()
    np.testing.assert_allclose(out.values[0][~land & covered], value, rtol=1e-6)
    np.testing.assert_array_equal(out.values[0][~land & ~covered], 0.0)


def test_ocean_outside_the_nsidc_grid_is_open_water_even_beside_ice() -> None:
    """The NSIDC grid holds all the ice the product reports: no ice is copied past its edge."""
    sic, flag = ps_field(np.ones((448, 304)))
    out = regrid.ps_to_ease2(sic, flag, 25).values[0]
    g = grid.ease2_grid(25)
    outside = (regrid.nearest_source_index().reshape(432, 432) < 0) & ~land_mask(25).values
    assert outside.sum() > 30_000 and g.lat.values[outside].max() < 56.0
    np.testing.assert_array_equal(out[outside], 0.0)


def test_flags_over_ocean_take_the_nearest_valid_value() -> None:
    """Coast/lake/missing cells inside a 0.6 region get 0.6, far from the 0.0 region."""
    xx, _ = ps_xy()
    values = np.where(xx < 0, 0.6, 0.0)
    flag = np.zeros((448, 304), np.uint8)
    flag[100:110, 60:70] = 255  # missing, deep inside x < 0
    flag[300:305, 80:90] = 253  # coast
    sic, flag_da = ps_field(values, flag)
    out = regrid.ps_to_ease2(sic, flag_da, 25)
    assert np.isfinite(out.values[0][~land_mask(25).values]).all()
    # every EASE2 ocean cell whose centre is at PS x < -100 km holds 0.6
    g = grid.ease2_grid(25)
    to_ps = pyproj.Transformer.from_crs(grid.EASE2_NORTH_EPSG, regrid.NSIDC_NORTH_EPSG, always_xy=True)
    px, _ = to_ps.transform(*np.meshgrid(g.x.values, g.y.values))
    west = (px < -100_000) & ~land_mask(25).values & (regrid.nearest_source_index().reshape(432, 432) >= 0)
    np.testing.assert_allclose(out.values[0][west], 0.6, rtol=1e-6)


def test_pole_hole_is_filled_with_the_mean_of_its_ring() -> None:
    """SIC rising linearly across the pole: the symmetric ring around the hole averages the pole value."""
    xx, yy = ps_xy()
    values = 0.8 + xx / 2e7
    pole = np.hypot(xx, yy) < 150_000
    flag = np.where(pole, regrid.POLE_HOLE_FLAG, 0).astype(np.uint8)
    sic, flag_da = ps_field(values, flag)
    out = regrid.ps_to_ease2(sic, flag_da, 25).values[0]
    g = grid.ease2_grid(25)
    in_hole = np.hypot(*np.meshgrid(g.x.values, g.y.values)) < 100_000
    np.testing.assert_allclose(out[in_hole], 0.8, atol=0.002)
    assert np.ptp(out[in_hole]) == 0  # one fill value per month


def test_coarser_grids_average_the_25km_field_and_keep_land_nan() -> None:
    xx, _ = ps_xy()
    sic, flag = ps_field(np.clip(0.5 + xx / 8e6, 0, 1))
    fine = regrid.ps_to_ease2(sic, flag, 25)
    coarse = regrid.ps_to_ease2(sic, flag, 100)
    grid.assert_on_grid(coarse, 100)
    land = land_mask(100).values
    assert np.isnan(coarse.values[0][land]).all() and np.isfinite(coarse.values[0][~land]).all()
    expected = fine.isel(time=0).values.reshape(108, 4, 108, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-land blocks: mean of nothing
        block_mean = np.nanmean(expected, axis=(1, 3))
    np.testing.assert_allclose(coarse.values[0][~land], block_mean[~land], rtol=1e-5)
    assert coarse.attrs["units"] == "1" and "block-averaged" in coarse.attrs["comment"]


def test_fields_not_on_the_nsidc_grid_are_rejected() -> None:
    bad = xr.DataArray(np.zeros((1, 332, 316), np.float32), dims=("time", "y", "x"))
    with pytest.raises(regrid.RegridError, match="448, 304"):
        regrid.ps_to_ease2(bad, bad, 25)
    sic, flag = ps_field(np.zeros((448, 304)))
    shifted = sic.assign_coords(x=sic.x + 12_500)
    with pytest.raises(regrid.RegridError, match="cell centres"):
        regrid.ps_to_ease2(shifted, flag, 25)


def test_a_month_of_only_flags_cannot_be_filled() -> None:
    sic, flag = ps_field(np.zeros((448, 304)), np.full((448, 304), 255, np.uint8))
    with pytest.raises(regrid.RegridError, match="no valid"):
        regrid.ps_to_ease2(sic, flag, 25)
