"""Which data a figure shows, written on the figure: emulated data is always stamped EMULATED.

The README promises that the emulated Arctic is labelled as such in every figure. Figures read the
data source from what they are given (the ``data_source`` attribute that datasets, ROI masks,
attribution results and their summaries carry) and write it under their title with
:func:`stamp_source`; a figure of observed data names its source and never says EMULATED.

Example
-------
>>> source_label("emulated")
'EMULATED Arctic (synthetic data, not observations)'
>>> data_source_of({"units": "1"}, {"data_source": "nsidc"})
'nsidc'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure

UNKNOWN = "unknown"


def source_label(data_source: str) -> str:
    """How a figure names its data: emulated data is always called EMULATED (synthetic)."""
    if data_source == "emulated":
        return "EMULATED Arctic (synthetic data, not observations)"
    if data_source == "nsidc":
        return "NSIDC CDR (observed)"
    return f"observed data ({data_source})"


def data_source_of(*sources: Any) -> str | None:
    """The first known ``data_source`` among ``sources`` (objects with ``.attrs``, or attribute mappings).

    ``.attrs`` is looked at first: an xarray Dataset is itself a mapping, of its variables.
    """
    for source in sources:
        attrs = getattr(source, "attrs", source)
        value = attrs.get("data_source") if isinstance(attrs, Mapping) else None
        if value and str(value) != UNKNOWN:
            return str(value)
    return None


def stamp_source(fig: Figure, data_source: str | None) -> Figure:
    """Write the data source on a line under ``fig``'s suptitle (or as it); nothing if it is not known.

    A separate line rather than a suffix: the attribution maps are two narrow panels wide, and a
    title with the source appended would run off the figure.
    """
    if not data_source or data_source == UNKNOWN:
        return fig
    label = source_label(data_source)
    title = fig.get_suptitle()
    fig.suptitle(f"{title}\n{label}" if title else label, fontsize="medium")
    return fig
