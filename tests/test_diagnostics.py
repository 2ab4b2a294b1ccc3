"""Extent and area from concentration fields use true cell areas and the >= 15 % convention."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import grid
from icegrad.diagnostics import sea_ice_area, sea_ice_extent


def field(values: np.ndarray) -> xr.DataArray:
    g = grid.ease2_grid(200)
    return xr.DataArray(values, coords=g.coords, dims=("y", "x"))


def test_extent_counts_cells_at_or_above_fifteen_percent() -> None:
    values = np.zeros((54, 54))
    values[0, :3] = [0.15, 0.5, 0.1499]
    values[1, 0] = np.nan
    assert float(sea_ice_extent(field(values))) == pytest.approx(2 * 200**2 / 1e6)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 1.0))
def test_area_never_exceeds_extent_for_uniform_fields(value: float) -> None:
    sic = field(np.full((54, 54), value))
    area, extent = float(sea_ice_area(sic)), float(sea_ice_extent(sic))
    assert area <= extent + 1e-9 or value < 0.15
    assert area == pytest.approx(value * 54 * 54 * 200**2 / 1e6)


def test_extent_needs_cell_area() -> None:
    with pytest.raises(ValueError, match="cell_area"):
        sea_ice_extent(xr.DataArray(np.zeros((2, 2)), dims=("y", "x")))
