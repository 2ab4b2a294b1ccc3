"""Saving figures atomically, so an interrupted run never leaves a truncated image behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from icegrad.files import atomic_path
from icegrad.plots.basemap import PlotError

SAVE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150, **kwargs: Any) -> Path:
    """Write ``fig`` to ``path`` via a temporary file renamed into place; return the final path.

    The format comes from the file suffix (the temporary name has none matplotlib understands, so
    it is passed explicitly). Extra keyword arguments go to ``Figure.savefig``.
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in SAVE_FORMATS:
        raise PlotError(f"cannot tell the image format of {target.name!r}; give it one of the suffixes "
                        f"{', '.join('.' + f for f in SAVE_FORMATS)}")
    options: dict[str, Any] = {"dpi": dpi, "bbox_inches": "tight"}
    options.update(kwargs)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format=fmt, **options)
    return target
