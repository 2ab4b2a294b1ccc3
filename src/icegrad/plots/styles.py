"""Colour conventions: one sea-ice colormap, one symmetric diverging colormap, shared colour bars.

Sea-ice concentration uses cmocean's perceptually uniform ``ice`` map (dark open water to white
pack ice), so a reader sees "more white = more ice" in every chapter. Signed attributions use
cmocean's ``balance`` with limits symmetric about zero: an asymmetric range would make a purely
negative field look half positive.

Colour bars and value axes write a power of ten their ticks need into the label ("attribution
(×10⁻⁴ probability)") rather than matplotlib's offset text at the end of the axis, which under a
narrow map collides with the label. Numbers printed on figures go through :func:`figure_number`,
which prints float rounding noise (e.g. a month input's attribution of -2e-24 next to values of 1e-3)
as 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cmocean
import numpy as np
import xarray as xr
from matplotlib.axis import Axis
from matplotlib.cm import ScalarMappable
from matplotlib.colorbar import Colorbar
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, ScalarFormatter

SIC_CMAP: Colormap = cmocean.cm.ice
DIVERGING_CMAP: Colormap = cmocean.cm.balance
PLAIN_EXPONENTS = (-2, 3)
"""Colour-bar ticks whose largest value is 10^-2 to 10^3 are written out; others get a power of ten."""
NEGLIGIBLE = 1e-6
"""Relative size below which a number is float32 rounding noise of the largest one beside it (float32
keeps about 7 significant digits): such a number is printed and drawn as 0."""
MINUS = "\N{MINUS SIGN}"
_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


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


def power_of_ten(exponent: int) -> str:
    """``×10⁻⁴`` for ``-4``: the factor a scaled axis label names."""
    return "\u00d710" + str(exponent).translate(_SUPERSCRIPTS)


def scaled_label(label: str, exponent: int) -> str:
    """``label`` with the factor 10^``exponent`` its ticks are in, inside its units' brackets if it has them.

    >>> scaled_label("attribution (probability)", -4)
    'attribution (×10⁻⁴ probability)'
    >>> scaled_label("attribution", 5)
    'attribution (×10⁵)'
    """
    if exponent == 0:
        return label
    if label.endswith(")") and " (" in label:
        name, units = label[:-1].rsplit(" (", 1)
        return f"{name} ({power_of_ten(exponent)} {units})"
    return f"{label} ({power_of_ten(exponent)})"


def tick_exponent(limit: float) -> int:
    """The power of ten colour-bar ticks up to ``limit`` are written in (0 if they need none)."""
    if not np.isfinite(limit) or limit <= 0:
        return 0
    exponent = int(np.floor(np.log10(limit)))
    return 0 if PLAIN_EXPONENTS[0] <= exponent <= PLAIN_EXPONENTS[1] else exponent


def _with_minus(text: str) -> str:
    """A leading hyphen-minus made a true minus sign, as matplotlib's own tick labels have it."""
    return MINUS + text[1:] if text.startswith("-") else text


def _tick_text(value: float) -> str:
    text = f"{value:.4g}"
    return "0" if float(text) == 0 else _with_minus(text)


def _scaled_formatter(limit: float) -> tuple[Formatter, int]:
    """Tick labels for values up to ``limit``: divided by 10^exponent when that is not 0, never an offset."""
    exponent = tick_exponent(limit)
    if exponent:
        factor = 10.0 ** exponent
        return FuncFormatter(lambda value, _: _tick_text(value / factor)), exponent
    plain = ScalarFormatter(useOffset=False)
    plain.set_scientific(False)
    return plain, 0


def label_colorbar(bar: Colorbar, label: str) -> Colorbar:
    """Label ``bar``, moving any power of ten of its ticks into the label instead of an offset text.

    >>> import matplotlib.pyplot as plt
    >>> image = plt.imshow([[-3e-4, 3e-4]])
    >>> label_colorbar(plt.colorbar(image), "attribution (probability)").ax.get_ylabel()
    'attribution (×10⁻⁴ probability)'
    """
    low, high = bar.mappable.get_clim()
    bar.formatter, exponent = _scaled_formatter(max(abs(low), abs(high)))
    bar.set_label(scaled_label(label, exponent))
    bar.update_ticks()
    return bar


def label_axis(axis: Axis, label: str) -> Axis:
    """Label a value axis once its data are drawn, its power of ten in the label (as :func:`label_colorbar`).

    >>> import matplotlib.pyplot as plt
    >>> _fig, ax = plt.subplots()
    >>> _bars = ax.barh([0, 1], [1e-4, 3.5e-4])
    >>> label_axis(ax.xaxis, "mean |attribution| per cell").get_label_text()
    'mean |attribution| per cell (×10⁻⁴)'
    """
    low, high = axis.get_view_interval()
    formatter, exponent = _scaled_formatter(max(abs(low), abs(high)))
    axis.set_major_formatter(formatter)
    axis.set_label_text(scaled_label(label, exponent))
    return axis


def figure_number(value: float, largest: float, digits: int = 2) -> str:
    """``value`` to ``digits`` significant digits with a true minus sign; 0 if it is rounding noise.

    ``largest`` is the largest magnitude shown beside it: a value below :data:`NEGLIGIBLE` times it
    cannot be told from 0 in float32 and is printed as 0 rather than as, e.g., "-2e-24".

    >>> figure_number(-2e-24, 0.01), figure_number(-0.00123, 0.01), figure_number(12345.0, 1e4)
    ('0', '−0.0012', '1.2e+04')
    """
    if not np.isfinite(value):
        return str(value)
    if abs(value) <= NEGLIGIBLE * abs(largest):
        return "0"
    return _with_minus(f"{value:.{digits}g}")


def shared_colorbar(
    fig: Figure, mappable: ScalarMappable, axes: Iterable[Any], label: str, **kwargs: Any
) -> Colorbar:
    """One horizontal colour bar under several panels that share ``mappable``'s colour scale."""
    options: dict[str, Any] = {"orientation": "horizontal", "shrink": 0.6, "aspect": 40, "pad": 0.02}
    options.update(kwargs)
    bar = fig.colorbar(mappable, ax=list(axes), **options)
    return label_colorbar(bar, label)
