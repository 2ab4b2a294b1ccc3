"""Drawing EASE2 fields and region-of-interest masks on polar map axes.

Fields are drawn cell by cell with ``pcolormesh`` in the grid's own CRS (:func:`ease2_crs`), using
cell *edges* computed from the regular cell centres, so what a reader sees is exactly the data on
its grid, without interpolation; on the default map (also in that CRS) each cell is a square.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from cartopy.mpl.geoaxes import GeoAxes
from matplotlib.collections import QuadMesh
from matplotlib.colors import ListedColormap
from matplotlib.contour import QuadContourSet

from icegrad import grid
from icegrad.plots.basemap import DEFAULT_SCALE, PlotError, add_gridlines, add_land_and_coastline, ease2_crs
from icegrad.plots.styles import SIC_CMAP

ROI_COLOUR = "white"


def _as_grid_field(da: xr.DataArray) -> xr.DataArray:
    """Squeeze size-1 dims and check what is left is a (y, x) field on an EASE2 grid."""
    if not isinstance(da, xr.DataArray):
        raise PlotError(f"expected an xarray.DataArray on the EASE2 grid, got {type(da).__name__}")
    field = da.squeeze(drop=False)
    extra = [d for d in field.dims if d not in ("y", "x")]
    if extra:
        raise PlotError(f"polar maps draw one (y, x) field, but {da.name!r} also has dims {extra} "
                        f"(sizes {[field.sizes[d] for d in extra]}); select one, e.g. .isel({extra[0]}=0)")
    try:
        grid.assert_on_grid(field)
    except grid.GridError as err:
        raise PlotError(str(err)) from None
    return field.transpose("y", "x")


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges of a regular axis of centres (ascending or descending)."""
    step = centres[1] - centres[0]
    return np.concatenate([centres - step / 2, [centres[-1] + step / 2]])


def polar_map(
    ax: GeoAxes,
    da: xr.DataArray,
    *,
    cmap: Any = None,
    vmin: float | None = None,
    vmax: float | None = None,
    norm: Any = None,
    title: str | None = None,
    land: bool = True,
    coastline: bool = True,
    scale: str = DEFAULT_SCALE,
    gridlines: bool = True,
    **kwargs: Any,
) -> QuadMesh:
    """Draw a (y, x) field on the EASE2 grid onto polar map ``ax``; return the mesh for a colour bar.

    NaN cells (e.g. SIC over land) are left transparent, and Natural Earth land and coastline are
    drawn on top so the coast reads the same in every panel, with latitude/longitude lines above them
    (``gridlines``). Extra keyword arguments go to ``pcolormesh``.
    """
    field = _as_grid_field(da)
    values = np.ma.masked_invalid(np.asarray(field.values, dtype="float64"))
    mesh = ax.pcolormesh(_edges(np.asarray(field.x)), _edges(np.asarray(field.y)), values,
                         transform=ease2_crs(), cmap=cmap or SIC_CMAP, vmin=vmin, vmax=vmax, norm=norm,
                         shading="flat", rasterized=True, zorder=1, **kwargs)
    add_land_and_coastline(ax, scale, land=land, coastline=coastline)
    if gridlines:
        add_gridlines(ax)
    if title is not None:
        ax.set_title(title, fontsize="medium")
    return mesh


def _as_mask(mask: xr.DataArray) -> xr.DataArray:
    field = _as_grid_field(mask)
    if field.dtype != bool:
        raise PlotError(f"an ROI mask must be boolean (True inside), got dtype {field.dtype}; "
                        "build it with icegrad.roi.region_of_interest or compare a field, e.g. da > 0.5")
    return field


def roi_outline(ax: GeoAxes, mask: xr.DataArray, *, color: str = ROI_COLOUR, linewidth: float = 1.0,
                **kwargs: Any) -> QuadContourSet:
    """Outline a boolean mask (the 0.5 contour between inside and outside cells) on ``ax``."""
    field = _as_mask(mask)
    return ax.contour(np.asarray(field.x), np.asarray(field.y), field.values.astype("float64"),
                      levels=[0.5], colors=[color], linewidths=linewidth, transform=ease2_crs(),
                      zorder=4, **kwargs)


def roi_fill(ax: GeoAxes, mask: xr.DataArray, *, color: str = ROI_COLOUR,
             background: str | None = None, **kwargs: Any) -> QuadMesh:
    """Paint the cells of a boolean mask in ``color`` (white by default, as in the letter's Figure 1).

    Outside cells take ``background`` (the open-water end of the SIC colormap by default), so the
    region stands out as it would if it were ice on open water; land is drawn on top.
    """
    field = _as_mask(mask)
    outside = background or SIC_CMAP(0.0)
    cmap = ListedColormap([outside, color])
    return polar_map(ax, field.astype("float64"), cmap=cmap, vmin=0.0, vmax=1.0, **kwargs)
