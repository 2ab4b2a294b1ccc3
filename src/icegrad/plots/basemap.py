"""Offline polar map axes: the CRS of the data, the map, its land, coastline and latitude/longitude lines.

Cartopy fetches Natural Earth shapes from the internet the first time a map needs them. Binder,
HPC nodes and the book's CI often have no network, so :func:`configure_offline_natural_earth` (run
when :mod:`icegrad.plots` is imported) points cartopy's ``pre_existing_data_dir`` at the copy
embedded in ``data/natural_earth``; only the scales embedded there (110m, 50m) are offered, so a map
can never silently ask for a file that would have to be downloaded.

The data never needs reprojecting: EASE-Grid 2.0 North is Lambert azimuthal equal-area on WGS84
centred on the pole, and the maps are drawn in that same projection (:func:`map_crs` is
:func:`ease2_crs` by default), so every grid cell appears as the square it is on the grid. (On a
polar-stereographic map turned to NSIDC's 45 deg W, the same cells came out as rotated diamonds.)
Longitude 0 points down, so the Pacific sector (Chukchi, East Siberian, Beaufort seas) sits at the top.

Example
-------
With ``ds`` the emulated Arctic at 200 km (:mod:`icegrad.data`):

>>> from icegrad.plots.maps import polar_map
>>> fig, axes = polar_axes(1, 3)
>>> mesh = polar_map(axes[0], ds.siconca.isel(time=0))
"""

from __future__ import annotations

from functools import lru_cache

import cartopy
import cartopy.crs as ccrs
import cartopy.feature as cfeature
import matplotlib.path as mpath
import matplotlib.pyplot as plt
import numpy as np
from cartopy.mpl.geoaxes import GeoAxes
from cartopy.mpl.gridliner import Gridliner
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from icegrad.errors import IcegradError
from icegrad.paths import data_dir

EMBEDDED_SCALES = ("110m", "50m")
DEFAULT_SCALE = "50m"
DEFAULT_MIN_LAT = 57.0
# EASE-Grid 2.0 North's own orientation (0 deg E points down): any other central longitude rotates the
# square cells on the page.
DEFAULT_CENTRAL_LONGITUDE = 0.0
LAND_COLOUR = "#b9b1a3"
COAST_COLOUR = "#3b3b3b"
GRID_COLOUR = "#5f5f5f"
GRID_LATITUDES = (60.0, 70.0, 80.0)
GRID_LONGITUDES = tuple(float(lon) for lon in range(-180, 180, 45))
GRIDLINES_GID = "icegrad-gridlines"
"""Marks the line collection of :func:`add_gridlines`, so a map gets its lines once."""


class PlotError(IcegradError):
    """A plotting request icegrad cannot honour (wrong shape, unknown scale, missing years...)."""


def configure_offline_natural_earth() -> None:
    """Make cartopy read Natural Earth shapes from icegrad's embedded copy instead of downloading."""
    cartopy.config["pre_existing_data_dir"] = data_dir() / "natural_earth"


@lru_cache(maxsize=1)
def ease2_crs() -> ccrs.Projection:
    """Cartopy CRS of EASE-Grid 2.0 North (EPSG:6931): Lambert azimuthal equal-area on WGS84, pole-centred."""
    return ccrs.LambertAzimuthalEqualArea(
        central_longitude=0.0, central_latitude=90.0, false_easting=0.0, false_northing=0.0,
        globe=ccrs.Globe(ellipse="WGS84"),
    )


def map_crs(central_longitude: float = DEFAULT_CENTRAL_LONGITUDE) -> ccrs.Projection:
    """The display projection: the grid's own Lambert azimuthal equal-area, turned to ``central_longitude``.

    At the default (0) this is :func:`ease2_crs` itself, so cells are drawn as axis-aligned squares.
    """
    if central_longitude == 0.0:
        return ease2_crs()
    return ccrs.LambertAzimuthalEqualArea(
        central_longitude=central_longitude, central_latitude=90.0, globe=ccrs.Globe(ellipse="WGS84"))


def _check_scale(scale: str) -> str:
    if scale not in EMBEDDED_SCALES:
        raise PlotError(f"Natural Earth scale {scale!r} is not embedded in icegrad (offline maps need "
                        f"a local copy); use one of {EMBEDDED_SCALES}.")
    return scale


def add_land_and_coastline(ax: GeoAxes, scale: str = DEFAULT_SCALE, *, land: bool = True,
                           coastline: bool = True) -> None:
    """Draw Natural Earth land (filled, above the data so land cells read as land) and coastline."""
    _check_scale(scale)
    if land:
        ax.add_feature(cfeature.NaturalEarthFeature("physical", "land", scale),
                       facecolor=LAND_COLOUR, edgecolor="none", zorder=2)
    if coastline:
        ax.add_feature(cfeature.NaturalEarthFeature("physical", "coastline", scale),
                       facecolor="none", edgecolor=COAST_COLOUR, linewidth=0.4, zorder=3)


def add_gridlines(ax: GeoAxes) -> None:
    """Thin latitude circles (60, 70, 80 N) and meridians every 45 deg, above the land, once per map.

    Unlabelled: on panels a few centimetres wide, labels would cover the ice; the circles are 10 deg apart
    and the map's edge is :data:`DEFAULT_MIN_LAT` unless the caption says otherwise.

    Drawn as one line collection already in the map's projection, not with cartopy's gridliner: on a
    pole-centred azimuthal map parallels are circles and meridians straight lines from the pole, so
    nothing needs reprojecting. The gridliner reprojected every line at every draw (a saved figure is
    drawn twice, a displayed one again): ch. 4's 50-panel input figure took 17.2 s with it and 11.6 s
    without (measured 2026-12-07).
    """
    if gridliners(ax):
        return
    style = {"linewidth": 0.5, "linestyle": (0, (3, 2)), "alpha": 0.8, "zorder": 3.5}
    if not pole_centred(ax.projection):  # another projection: cartopy's gridliner reprojects the lines
        ax.gridlines(crs=ccrs.PlateCarree(), xlocs=list(GRID_LONGITUDES), ylocs=list(GRID_LATITUDES),
                     draw_labels=False, color=GRID_COLOUR, **style)
        return
    lines = LineCollection(graticule(ax.projection), colors=GRID_COLOUR, linewidths=style["linewidth"],
                           linestyles=[style["linestyle"]], alpha=style["alpha"], zorder=style["zorder"],
                           gid=GRIDLINES_GID)
    ax.add_collection(lines, autolim=False)  # clipped to the map's disc like any artist of the axes


def pole_centred(projection: ccrs.Projection) -> bool:
    """Whether ``projection`` is azimuthal about the North Pole, where parallels are circles about the
    origin and meridians straight lines from it (the book's maps: :func:`map_crs`)."""
    params = projection.proj4_params
    return params.get("proj") in ("laea", "stere", "aeqd") and float(params.get("lat_0", 0.0)) == 90.0


def graticule(projection: ccrs.Projection, points: int = 361) -> list[np.ndarray]:
    """The :data:`GRID_LATITUDES` circles and :data:`GRID_LONGITUDES` meridians (pole to equator) in the
    coordinates of a pole-centred azimuthal ``projection``, as ``(n, 2)`` vertex arrays."""
    theta = np.linspace(0.0, 2.0 * np.pi, points)
    circles = [parallel_radius(projection, lat) * np.column_stack([np.cos(theta), np.sin(theta)])
               for lat in GRID_LATITUDES]
    meridians = [np.array([[0.0, 0.0], projection.transform_point(lon, 0.0, ccrs.PlateCarree())])
                 for lon in GRID_LONGITUDES]
    return circles + meridians


def parallel_radius(projection: ccrs.Projection, lat: float) -> float:
    """The radius of the ``lat`` parallel on a pole-centred map: the projected distance of one of its
    points from the pole (the map's origin)."""
    return float(np.hypot(*projection.transform_point(0.0, lat, ccrs.PlateCarree())))


def gridliners(ax: GeoAxes) -> list[LineCollection | Gridliner]:
    """The latitude/longitude line sets :func:`add_gridlines` drew on ``ax``."""
    return [*(c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == GRIDLINES_GID),
            *(a for a in ax.artists if isinstance(a, Gridliner))]


def set_polar_extent(ax: GeoAxes, min_lat: float = DEFAULT_MIN_LAT) -> None:
    """Show the cap north of ``min_lat`` inside a circular frame (the familiar Arctic 'disc')."""
    if not 0.0 <= min_lat < 90.0:
        raise PlotError(f"min_lat={min_lat!r} must be in [0, 90) degrees north")
    # The cap is a disc centred on the pole in any polar projection. (set_extent with lon -180..180
    # degenerates to a quadrant, since both ends are the same meridian.)
    radius = parallel_radius(ax.projection, min_lat)
    ax.set_xlim(-radius, radius)
    ax.set_ylim(-radius, radius)
    theta = np.linspace(0.0, 2.0 * np.pi, 181)
    circle = mpath.Path(np.column_stack([np.sin(theta), np.cos(theta)]) * 0.5 + 0.5)
    ax.set_boundary(circle, transform=ax.transAxes)


def polar_axes(
    nrows: int = 1,
    ncols: int = 1,
    *,
    min_lat: float = DEFAULT_MIN_LAT,
    central_longitude: float = DEFAULT_CENTRAL_LONGITUDE,
    panel_size: float = 3.4,
    figsize: tuple[float, float] | None = None,
) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` polar map axes in the grid's projection (:func:`map_crs`).

    Returns the figure and a flat 1-D array of the axes (row-major), also for a single panel, so
    callers index panels the same way whatever the layout. Land, coastline and gridlines are drawn by
    :func:`icegrad.plots.polar_map`, after the data, so they are not added here.
    """
    if nrows < 1 or ncols < 1:
        raise PlotError(f"need at least one row and one column of panels, got {nrows} x {ncols}")
    size = figsize or (panel_size * ncols, panel_size * nrows + 0.6)
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False,
                             subplot_kw={"projection": map_crs(central_longitude)},
                             layout="constrained")
    flat = axes.ravel()
    for ax in flat:
        set_polar_extent(ax, min_lat)
    return fig, flat
