"""EASE-Grid 2.0 North geometry against independent formulas and published grid facts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import grid

# WGS84 ellipsoid (EASE-Grid 2.0 is defined on it).
A = 6378137.0
E2 = 0.00669437999014
E = np.sqrt(E2)


def authalic_q(lat_deg: np.ndarray) -> np.ndarray:
    """Snyder (1987, eq. 3-12): the authalic-latitude function q of geodetic latitude."""
    s = np.sin(np.radians(lat_deg))
    return (1 - E2) * (s / (1 - E2 * s**2) - (1 / (2 * E)) * np.log((1 - E * s) / (1 + E * s)))


def test_base_grid_matches_osisaf_ease2_250_layout() -> None:
    g = grid.ease2_grid(25)
    assert g.sizes == {"y": 432, "x": 432}
    assert float(g.x[0]) == -5387500.0 and float(g.x[-1]) == 5387500.0
    # North-up image order, as in OSI SAF files.
    assert float(g.y[0]) == 5387500.0 and float(g.y[-1]) == -5387500.0
    assert g.crs.attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"


def test_latitude_matches_ellipsoidal_laea_formula() -> None:
    """Polar-aspect LAEA on the ellipsoid (Snyder 1987): distance from the pole is a*sqrt(qp - q)."""
    g = grid.ease2_grid(25)
    rho = np.hypot(*np.meshgrid(g.x.values, g.y.values))
    rho_expected = A * np.sqrt(authalic_q(np.array(90.0)) - authalic_q(g.lat.values))
    np.testing.assert_allclose(rho, rho_expected, rtol=1e-9)


def test_known_points() -> None:
    g = grid.ease2_grid(25)
    # The projection is centred on the North Pole with lon 0 pointing down the negative y axis.
    assert float(g.lat[215, 215]) > 89.7
    lon_bottom_mid = float(g.lon[-1, 216])
    assert abs(lon_bottom_mid - 0.0) < 2.0
    # The corners of the 432 x 432 grid lie near 16.6 N (independent: rho = 5387.5 km * sqrt 2).
    np.testing.assert_allclose(float(g.lat[0, 0]), 16.62, atol=0.02)
    np.testing.assert_allclose(float(g.lon[0, 0]), -135.0, atol=1e-6)


@pytest.mark.parametrize("lat0", [50.0, 60.0, 70.0])
def test_cell_areas_sum_to_polar_cap_area(lat0: float) -> None:
    """Equal-area grid: cells north of lat0 add up to the ellipsoidal cap area pi a^2 (qp - q)."""
    g = grid.ease2_grid(25)
    cap = np.pi * A**2 * (authalic_q(np.array(90.0)) - authalic_q(np.array(lat0))) / 1e6
    counted = float(g.cell_area.where(g.lat > lat0).sum())
    assert counted == pytest.approx(cap, rel=5e-3)


@pytest.mark.parametrize("res", [50, 100, 200])
def test_coarsened_grid_is_block_aggregate(res: int) -> None:
    fine = grid.ease2_grid(25)
    coarse = grid.ease2_grid(res)
    factor = res // 25
    assert coarse.sizes["x"] == 432 // factor
    np.testing.assert_allclose(coarse.x.values, fine.x.values.reshape(-1, factor).mean(axis=1))
    assert float(coarse.cell_area.sum()) == pytest.approx(float(fine.cell_area.sum()))


@settings(max_examples=20, deadline=None)
@given(res=st.sampled_from([50, 100, 200]), value=st.floats(-1e3, 1e3, allow_nan=False))
def test_coarsen_preserves_constant_fields_and_means(res: int, value: float) -> None:
    g = grid.ease2_grid(25)
    rng = np.random.default_rng(0)
    field = xr.DataArray(value + rng.normal(size=(432, 432)), coords=g.coords, dims=("y", "x"))
    out = grid.coarsen(field, res)
    assert grid.resolution_of(out) == res
    np.testing.assert_allclose(float(out.mean()), float(field.mean()), rtol=1e-9, atol=1e-9)


def test_coarsen_skips_nans_but_keeps_all_nan_blocks() -> None:
    g = grid.ease2_grid(25)
    values = np.ones((432, 432))
    values[0, 0] = np.nan
    values[:2, 2:4] = np.nan
    out = grid.coarsen(xr.DataArray(values, coords=g.coords, dims=("y", "x")), 50)
    assert float(out[0, 0]) == 1.0
    assert np.isnan(float(out[0, 1]))


def test_errors_name_the_fix() -> None:
    with pytest.raises(grid.GridError, match="choose one of"):
        grid.ease2_grid(30)
    with pytest.raises(grid.GridError, match=r"not on an EASE-Grid 2\.0"):
        grid.resolution_of(xr.DataArray(np.zeros((100, 100)), dims=("y", "x")))
    with pytest.raises(grid.GridError, match="coarsen it"):
        grid.assert_on_grid(grid.ease2_grid(100), 50)
    with pytest.raises(grid.GridError, match="cannot coarsen"):
        grid.coarsen(grid.ease2_grid(100).cell_area, 50)
