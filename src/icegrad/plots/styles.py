"""Colour conventions: one sea-ice colormap, one symmetric diverging colormap, shared colour bars.

Sea-ice concentration uses cmocean's perceptually uniform ``ice`` map (dark open water to white
pack ice), so a reader sees "more white = more ice" in every chapter. Signed attributions use
cmocean's ``balance`` with limits symmetric about zero: an asymmetric range would make a purely
negative field look half positive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cmocean
import numpy as np
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

SIC_CMAP: Colormap = cmocean.cm.ice
DIVERGING_CMAP: Colormap = cmocean.cm.balance


def sic_style() -> dict[str, Any]:
    """Keyword arguments for :func:`icegrad.plots.polar_map` drawing SIC as a fraction in [0, 1]."""
    return {"cmap": SIC_CMAP, "vmin": 0.0, "vmax": 1.0}


def symmetric_limit(da: xr.DataArray, quantile: float | None = None) -> float:
    """Half-width of a zero-centred colour range: max |value| (or its ``quantile``), NaNs ignored.

    A robust ``quantile`` (e.g. 0.99) keeps a few extreme pixels from washing out the map. An
    all-zero or all-NaN field gets 1.0 so the colour bar is still valid.
    """
    values = np.abs(np.asarray(da, dtype="float64"))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0
    limit = float(np.quantile(values, quantile)) if quantile is not None else float(values.max())
    return limit if limit > 0 else 1.0


def diverging_style(da: xr.DataArray, quantile: float | None = None) -> dict[str, Any]:
    """Keyword arguments for a signed field: ``balance`` colormap, limits symmetric about zero."""
    limit = symmetric_limit(da, quantile)
    return {"cmap": DIVERGING_CMAP, "vmin": -limit, "vmax": limit}


def label_of(da: xr.DataArray) -> str:
    """Axis / colour-bar label from CF attributes: ``long_name (units)``, units omitted if '1'."""
    name = str(da.attrs.get("long_name", da.name or ""))
    units = da.attrs.get("units")
    return f"{name} ({units})" if units and units != "1" else name


def shared_colorbar(
    fig: Figure, mappable: ScalarMappable, axes: Iterable[Any], label: str, **kwargs: Any
) -> Colorbar:
    """One horizontal colour bar under several panels that share ``mappable``'s colour scale."""
    options: dict[str, Any] = {"orientation": "horizontal", "shrink": 0.6, "aspect": 40, "pad": 0.02}
    options.update(kwargs)
    bar = fig.colorbar(mappable, ax=list(axes), **options)
    bar.set_label(label)
    return bar
