"""Helpers every chapter page shares: what a page returns, gluing it, quiet stages and sane numbers.

A page function returns a :class:`Page`: the tables and figures the chapter shows and the values its
prose glues (name -> value; a figure glued by name is shown by a ``{glue:figure}`` directive). The
notebook then needs one line to glue them (:func:`glue_all`) and one to show each table or figure.

Two things a reader must never see on a page are handled here once: training logs and TensorFlow's
retracing warnings (:func:`quietly`), and the float rounding residue of a quantity that is zero by
construction, such as the integrated-gradients attribution of a channel whose input equals its
baseline, printed as ``-2e-24`` (:func:`zero_small` and :func:`plus_minus` print it as 0).

Chapters 5 to 7 share their first stages (data, ROI, ensemble, attributions): :func:`attribution_run`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from icegrad.config import RunConfig

RELATIVE_TOLERANCE = 1e-6
"""Values smaller than this fraction of the largest value they are shown beside are float32 rounding
(float32 keeps about seven digits), so pages show them as 0."""

logger = logging.getLogger(__name__)


@dataclass
class Page:
    """What one section of a chapter shows: its glue values, tables, inline figures and notes."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame | Any] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Markdown paragraphs shown as the cell's output rather than glued (plain CommonMark: myst-nb
    renders a cell's Markdown output without MyST directives)."""


def glue_all(values: Mapping[str, Any] | Page) -> None:
    """Glue every value (or every value of a :class:`Page`) for the prose, without displaying it."""
    from myst_nb import glue

    for name, value in (values.values if isinstance(values, Page) else values).items():
        glue(name, value, display=False)


def detached(fig: Figure) -> Figure:
    """``fig`` removed from pyplot, so it is shown only where the page displays or glues it.

    With the inline backend every open figure is drawn again at the end of the cell; a page function
    that returns its figure detaches it so that it appears exactly once.
    """
    plt.close(fig)
    return fig


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Run a stage without its console output on the page: training logs and TensorFlow warnings.

    Keras prints one line per epoch and the trainer one per member; TensorFlow warns about retracing
    when each ensemble member compiles its own function. Both are useful in a terminal and noise in a
    book, so they are kept at DEBUG level in this module's logger instead of reaching the page.
    """
    buffer = io.StringIO()
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        tf_logger.setLevel(level)
        if buffer.getvalue():
            logger.debug("console output kept off the page:\n%s", buffer.getvalue())


def zero_small(values: pd.Series | pd.DataFrame | np.ndarray, scale: float | None = None,
               rtol: float = RELATIVE_TOLERANCE) -> Any:
    """``values`` with every entry whose magnitude is at most ``rtol * scale`` set to exactly 0.

    ``scale`` defaults to the largest finite magnitude in ``values``; ``-0.0`` becomes ``0.0``.
    """
    array = np.asarray(values, dtype="float64")
    if scale is None:
        finite = np.abs(array[np.isfinite(array)])
        scale = float(finite.max()) if finite.size else 0.0
    cleaned = np.where(np.abs(array) <= rtol * scale, 0.0, array)
    if isinstance(values, pd.DataFrame):
        return pd.DataFrame(cleaned, index=values.index, columns=values.columns)
    if isinstance(values, pd.Series):
        return pd.Series(cleaned, index=values.index, name=values.name)
    return cleaned


def zero_small_summary(summary: xr.Dataset, rtol: float = RELATIVE_TOLERANCE) -> xr.Dataset:
    """``summary`` with each variable's entries within ``rtol`` of its largest magnitude set to 0.

    Applied before a summary is tabulated or drawn, so per-member rounding residue (``-9.7e-25``)
    neither reaches a table nor the annotations of a heat map.
    """
    return summary.copy(data={name: zero_small(var.values, rtol=rtol)
                              for name, var in summary.data_vars.items()})


def plus_minus(mean: float, spread: float) -> str:
    """``"+0.123 ± 0.01"``; an exact zero mean prints as ``0`` and a missing spread (one member) as n/a."""
    centre = "0" if mean == 0 else f"{mean:+.3g}"
    return f"{centre} ± {'n/a' if not np.isfinite(spread) else format(spread, '.1g')}"


def sign_mark(value: float) -> str:
    """``+`` for more sea ice, ``−`` for less, ``0`` for a value that is exactly zero."""
    return "+" if value > 0 else "−" if value < 0 else "0"


def lead_list(leads: Iterable[int]) -> str:
    """``"lead 3"`` or ``"leads 1, 2"``."""
    values = [int(v) for v in leads]
    return f"lead{'s' if len(values) > 1 else ''} {', '.join(map(str, values))}"


def run_text(values: Mapping[int, str]) -> str:
    """Which item comes first at which leads, in lead order: ``"sic at leads 1, 2; trend at lead 3"``."""
    by_item: dict[str, list[int]] = {}
    for lead, item in values.items():
        by_item.setdefault(item, []).append(lead)
    return "; ".join(f"{item} at {lead_list(leads)}" for item, leads in by_item.items())


def month_label(month: str) -> str:
    """``"2013-09"`` as ``"September 2013"``."""
    return f"{pd.Timestamp(month):%B %Y}"


def method_label(method: str) -> str:
    """An attribution method's name as prose: ``integrated_gradients`` -> ``integrated gradients``."""
    return method.replace("_", " ")


def checked(**parameters: Any) -> RunConfig:
    """A chapter's run parameters, each checked before any work (one-line :class:`ConfigError`)."""
    return RunConfig.from_parameters(parameters)


@dataclass
class AttributionRun:
    """The stages chapters 5 to 7 share: data, ROI, ensemble and the attributions of the run's method."""

    ds: Any
    roi: Any
    ens: Any
    result: Any
    target_month: str
    method: str
    baseline: str
    values: dict[str, Any]

    def describe(self) -> str:
        """``"integrated gradients, baseline climatology, 5 members"``: how the attributions were made."""
        return f"{method_label(self.method)}, baseline {self.baseline}, {len(self.ens)} members"


def attribution_run(data_source: str, resolution_km: int, members: int, width: float, epochs: int,
                    weights: str, reference_year: int, target_year: int, roi_rule: str, target_month: str,
                    leads: list[int], method: str, steps: int, baseline: str) -> AttributionRun:
    """The cached stages of an attribution chapter and the values their prose glues.

    Trains the ensemble first if no chapter has (quietly: the page shows results, not training logs).
    The ROI is drawn, as in chapter 3, from the Septembers of ``reference_year`` and ``target_year``.
    """
    from icegrad import pipeline
    from icegrad.inputs import real_record
    from icegrad.plots import source_label

    checked(data_source=data_source, resolution_km=resolution_km, members=members, width=width, epochs=epochs,
            weights=weights, reference_year=reference_year, target_year=target_year, roi_rule=roi_rule,
            target_month=target_month, leads=leads, method=method, steps=steps, baseline=baseline)
    with quietly():
        ds = pipeline.dataset(data_source, resolution_km)
        roi = pipeline.region(ds, reference_year, target_year, 9, roi_rule)
        ens = pipeline.ensemble(ds, members=members, width=width, epochs=epochs, weights=weights or None)
        result = pipeline.attributions(ds, ens, roi, target_month, leads, method=method, steps=steps,
                                       baseline=baseline)
    values = {"source_label": source_label(ds.attrs["data_source"]),
              "inputs_note": real_record.inputs_note(ens.channels),
              "target_label": month_label(target_month), "n_members": len(ens),
              "method_name": method_label(method), "roi_cells": int(roi.sum()),
              "leads_text": ", ".join(str(lead) for lead in leads)}
    return AttributionRun(ds, roi, ens, result, target_month, method, baseline, values)
