"""Rasterise Natural Earth 1:50m land onto the EASE-Grid 2.0 North 25 km grid.

Run from the repository root (``python data/scripts/make_land_mask.py``) to regenerate
``data/land_mask_ease2_n25km.nc``. Each 25 km cell is sampled at 5 x 5 points; the share of points
on land is stored as ``land_fraction`` (percent, uint8). icegrad calls a cell land when at least half
of it is land, at 25 km and after block-averaging the fraction to coarser grids, so coastlines stay
consistent across resolutions.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyproj
import shapely
from cartopy.io import shapereader

from icegrad import grid
from icegrad.files import write_netcdf

SUBSAMPLES = 5
ROOT = Path(__file__).resolve().parents[2]
SHAPEFILE = ROOT / "data/natural_earth/shapefiles/natural_earth/physical/ne_50m_land.shp"
OUTPUT = ROOT / "data/land_mask_ease2_n25km.nc"


def land_fraction() -> np.ndarray:
    """Share of each 25 km cell (in [0, 1]) covered by Natural Earth 1:50m land."""
    polygons = [g for g in shapereader.Reader(str(SHAPEFILE)).geometries() if g.bounds[3] > 0]
    land = shapely.union_all(polygons)
    shapely.prepare(land)
    step = grid.BASE_RESOLUTION_KM * 1000.0
    offsets = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES * step - step / 2
    x = (grid.cell_centres_m(grid.BASE_RESOLUTION_KM)[:, None] + offsets[None, :]).ravel()
    y = x[::-1]
    xx, yy = np.meshgrid(x, y)
    lon, lat = pyproj.Transformer.from_crs(grid.EASE2_NORTH_EPSG, 4326, always_xy=True).transform(xx, yy)
    inside = shapely.contains_xy(land, lon, lat)
    n = grid.BASE_SIZE
    return inside.reshape(n, SUBSAMPLES, n, SUBSAMPLES).mean(axis=(1, 3))


def main() -> None:
    fraction = land_fraction()
    ds = grid.ease2_grid(grid.BASE_RESOLUTION_KM)
    ds["land_fraction"] = (("y", "x"), np.round(fraction * 100).astype(np.uint8), {
        "long_name": "share of the cell covered by land", "units": "percent",
        "grid_mapping": "crs",
    })
    ds = ds.drop_vars(["lat", "lon", "cell_area"])
    ds.attrs = {
        "title": "Land fraction on EASE-Grid 2.0 North, 25 km (432 x 432)",
        "source": "Natural Earth 1:50m physical land (ne_50m_land, public domain), "
                  f"sampled at {SUBSAMPLES}x{SUBSAMPLES} points per cell",
        "history": f"{dt.date.today().isoformat()}: data/scripts/make_land_mask.py",
        "Conventions": "CF-1.10",
    }
    write_netcdf(ds, OUTPUT)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e3:.0f} kB); land share {fraction.mean():.3f}")


if __name__ == "__main__":
    main()
