"""Figures for icegrad: offline polar maps of EASE2 fields, ROI overlays, colour scales, line plots.

Importing this package points cartopy at the Natural Earth shapes embedded in icegrad's ``data/``
folder, so every map draws without network access (see :mod:`icegrad.plots.basemap`).

Example
-------
>>> from icegrad import plots
>>> import tempfile
>>> sic = ds.siconca.sel(time="2013-09-01")  # ds: the emulated Arctic at 200 km (icegrad.data)
>>> fig, axes = plots.polar_axes(1, 2)
>>> mesh = plots.polar_map(axes[0], sic, **plots.sic_style())
>>> bar = plots.shared_colorbar(fig, mesh, axes, "sea ice concentration")
>>> plots.save_figure(fig, tempfile.mkdtemp() + "/sic.png", dpi=50).name
'sic.png'
"""

from icegrad.plots.basemap import (
    DEFAULT_MIN_LAT,
    EMBEDDED_SCALES,
    PlotError,
    add_gridlines,
    add_land_and_coastline,
    configure_offline_natural_earth,
    ease2_crs,
    map_crs,
    polar_axes,
    set_polar_extent,
)
from icegrad.plots.figure1 import extent_panel, figure1, figure1_caption
from icegrad.plots.lines import year_series_plot, yearly
from icegrad.plots.maps import polar_map, roi_fill, roi_outline
from icegrad.plots.provenance import data_source_of, source_label, stamp_source
from icegrad.plots.save import save_figure
from icegrad.plots.styles import (
    DIVERGING_CMAP,
    SIC_CMAP,
    diverging_style,
    figure_number,
    label_colorbar,
    label_of,
    shared_colorbar,
    sic_style,
    symmetric_limit,
)

configure_offline_natural_earth()

__all__ = [
    "DEFAULT_MIN_LAT",
    "DIVERGING_CMAP",
    "EMBEDDED_SCALES",
    "SIC_CMAP",
    "PlotError",
    "add_gridlines",
    "add_land_and_coastline",
    "configure_offline_natural_earth",
    "data_source_of",
    "diverging_style",
    "ease2_crs",
    "extent_panel",
    "figure1",
    "figure1_caption",
    "figure_number",
    "label_colorbar",
    "label_of",
    "map_crs",
    "polar_axes",
    "polar_map",
    "roi_fill",
    "roi_outline",
    "save_figure",
    "set_polar_extent",
    "shared_colorbar",
    "sic_style",
    "source_label",
    "stamp_source",
    "symmetric_limit",
    "year_series_plot",
    "yearly",
]
