"""The embedded land mask: right places, consistent across resolutions."""

from __future__ import annotations

import numpy as np
import pytest

from icegrad import grid
from icegrad.data.land import land_fraction, land_mask


def nearest(ds_lat, ds_lon, lat: float, lon: float) -> tuple[int, int]:
    d = (ds_lat - lat) ** 2 + ((ds_lon - lon + 180) % 360 - 180) ** 2 * np.cos(np.radians(lat)) ** 2
    return np.unravel_index(int(np.argmin(np.asarray(d))), d.shape)


@pytest.mark.parametrize(
    ("name", "lat", "lon", "is_land"),
    [
        ("central Greenland", 72.0, -40.0, True),
        ("Siberia", 65.0, 100.0, True),
        ("North Pole", 89.9, 0.0, False),
        ("Barents Sea", 74.0, 40.0, False),
        ("Hudson Bay", 60.0, -85.0, False),
        ("Beaufort Sea", 73.0, -145.0, False),
    ],
)
def test_known_places(name: str, lat: float, lon: float, is_land: bool) -> None:
    mask = land_mask(25)
    j, i = nearest(mask.lat.values, mask.lon.values, lat, lon)
    assert bool(mask[j, i]) is is_land, name


@pytest.mark.parametrize("res", grid.SUPPORTED_RESOLUTIONS_KM)
def test_mask_consistent_across_resolutions(res: int) -> None:
    mask = land_mask(res)
    assert mask.dtype == bool and mask.shape == (432 // (res // 25),) * 2
    frac = land_fraction(res)
    assert 0.0 <= float(frac.min()) and float(frac.max()) <= 1.0
    # The land share of the domain hardly depends on resolution.
    assert float(mask.mean()) == pytest.approx(float(land_mask(25).mean()), abs=0.01)
