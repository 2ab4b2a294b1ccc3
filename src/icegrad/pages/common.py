"""Helpers every chapter page shares: the run it explains, what a page returns, gluing it, quiet
stages, sane numbers and the words for lists, methods and the colours of sign.

A page function returns a :class:`Page`: the tables and figures the chapter shows and the values its
prose glues (name -> value; a figure glued by name is shown by a ``{glue:figure}`` directive). The
notebook then needs one line to glue them (:func:`glue_all`) and one to show each table or figure.

A chapter turns its parameters cell into a checked :class:`~icegrad.config.RunConfig`
(:func:`run_config`) and loads the cached pipeline stages it explains (:func:`load_run`, a :class:`Run`).

Two things a reader must never see on a page are handled here once: training logs and TensorFlow's
retracing warnings (:func:`quietly`), and the float rounding residue of a quantity that is zero by
construction, such as the integrated-gradients attribution of a channel whose input equals its
baseline, printed as ``-2e-24`` (:func:`zero_small` and :func:`plus_minus` print it as 0).

The colours a page names for "more ice" are read from the colour map the maps are drawn with
(:func:`sign_colours`) rather than typed into prose that can drift from it.

Example
-------
>>> listing(["sic", "trend", "seasonal"])
'sic, trend and seasonal'
>>> sign_colours()
{'positive': 'red', 'negative': 'blue'}
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from icegrad.config import RunConfig
from icegrad.cores import share_cores
from icegrad.memory import releases_memory, use_system_allocator

RELATIVE_TOLERANCE = 1e-6
"""Values smaller than this fraction of the largest value they are shown beside are float32 rounding
(float32 keeps about seven digits), so pages show them as 0."""

logger = logging.getLogger(__name__)

# A chapter's kernel sizes TensorFlow's pools to the cores it may use, not the machine's: a Binder session
# held to two cores of a 64-core host would otherwise pay 64 threads' buffers (icegrad.cores). Chapters
# import this module before TensorFlow starts; a count already in the environment (a build's lanes) wins.
share_cores(1)
# It also hands TensorFlow's oneDNN buffers to the C library's allocator, which returns them (icegrad.memory).
use_system_allocator()


@dataclass
class Page:
    """What one section of a chapter shows: its glue values, tables, inline figures and notes."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame | Any] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Markdown paragraphs shown as the cell's output rather than glued (plain CommonMark: myst-nb
    renders a cell's Markdown output without MyST directives)."""

    def display(self) -> None:
        """Show the page as the cell's output: its first note, figures, tables, then the other notes.

        For sections whose content depends on the run (the observed comparison exists only when it
        was asked for), so the prose cannot glue it by name.
        """
        from IPython.display import Markdown, display

        display(*map(Markdown, self.notes[:1]), *self.figures.values(), *self.tables.values(),
                *map(Markdown, self.notes[1:]))

    def show(self, *names: str) -> None:
        """Display the named tables this run has (a run without a truth has no fidelity tables)."""
        from IPython.display import display

        for name in names:
            if name in self.tables:
                display(self.tables[name])


def glue_all(values: Mapping[str, Any] | Page) -> None:
    """Glue every value (or every value of a :class:`Page`) for the prose, without displaying it.

    Glued figures are closed: a chapter's calculation cell is often hidden, and an open figure would
    otherwise be drawn again, below it, by matplotlib's inline backend.
    """
    from myst_nb import glue

    for name, value in (values.values if isinstance(values, Page) else values).items():
        glue(name, value, display=False)
        if isinstance(value, Figure):
            plt.close(value)


def detached(fig: Figure) -> Figure:
    """``fig`` removed from pyplot, so it is shown only where the page displays or glues it.

    With the inline backend every open figure is drawn again at the end of the cell; a page function
    that returns its figure detaches it so that it appears exactly once.
    """
    plt.close(fig)
    return fig


@contextlib.contextmanager
def quietly() -> Iterator[None]:
    """Run a stage without printed output on the page, and without TensorFlow's retracing warnings.

    TensorFlow warns about retracing when each ensemble member compiles its own function: noise in a
    book, so it is silenced, and printed output is kept at DEBUG level in this module's logger. The
    progress of long work (training epochs, sample building) goes to stderr and is left alone: a
    reader running the notebook sees it, and the chapters' ``remove-stderr`` cell tags keep it off the
    rendered page.
    """
    buffer = io.StringIO()
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(buffer):
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


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is one: "1 permutation", "5 members"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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


def listing(items: Sequence[Any], empty: str = "none") -> str:
    """Items as prose: ``"a"``, ``"a and b"``, ``"a, b and c"``; ``empty`` when there are none."""
    words = [str(item) for item in items]
    if not words:
        return empty
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def method_name(method: str, baseline: str | None = None) -> str:
    """A method as prose ("integrated gradients (climatology)"): the baseline only where it applies."""
    name = method.replace("_", " ")
    return f"{name} ({baseline})" if baseline and method == "integrated_gradients" else name


def colour_name(rgba: Sequence[float]) -> str:
    """"red" or "blue", whichever the colour leans to (the two ends of a diverging colour map)."""
    red, _, blue = rgba[:3]
    return "red" if red > blue else "blue"


def sign_colours() -> dict[str, str]:
    """The colours of positive and negative attributions on the maps, read from the maps' colour map.

    A positive attribution raises the ROI's forecast sea-ice probability (more ice): it is drawn at
    the top of :data:`icegrad.plots.styles.DIVERGING_CMAP`, a negative one at the bottom.
    """
    from icegrad.plots.styles import DIVERGING_CMAP

    return {"positive": colour_name(DIVERGING_CMAP(1.0)), "negative": colour_name(DIVERGING_CMAP(0.0))}


def run_config(namespace: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a chapter's parameters: the names of ``namespace`` that are run fields.

    A chapter passes ``globals()`` and a page function its ``locals()``; names that are not run fields
    (``figure_dir``, ``n_maps``) are left out. The values are checked here, before any work, with
    one-line errors.
    """
    names = {spec.name for spec in fields(RunConfig)}
    return RunConfig.from_parameters({k: v for k, v in namespace.items() if k in names})


@dataclass
class Run:
    """The stages one chapter explains: data, ROI, ensemble and (optionally) one attribution result."""

    config: RunConfig
    ds: xr.Dataset
    roi: xr.DataArray | None
    ens: Any
    result: xr.Dataset | None = None

    @property
    def source(self) -> str:
        """The data source as the figure captions name it (emulated data say so)."""
        from icegrad.plots import source_label

        return source_label(self.ds.attrs["data_source"])

    @property
    def target_label(self) -> str:
        """The explained forecast month in words, e.g. "September 2013"."""
        return month_label(self.config.target_month)

    @property
    def emulated(self) -> bool:
        """Whether the data are the embedded emulated Arctic (the only source with a known truth)."""
        return self.ds.attrs.get("data_source") == "emulated"

    def describe(self) -> str:
        """``"integrated gradients, baseline climatology, 5 members"``: how the attributions were made."""
        return f"{method_name(self.config.method)}, baseline {self.config.baseline}, {len(self.ens)} members"

    def explain(self, target_month: str | None = None, leads: Sequence[int] | None = None,
                method: str | None = None, baseline: str | None = None,
                steps: int | None = None, **options: Any) -> xr.Dataset:
        """Attributions (cached by the pipeline, computed quietly) for this run, with choices replaced;
        ``options`` go to :func:`icegrad.pipeline.attributions` (``engines`` shares compiled engines)."""
        from icegrad import pipeline

        c = self.config
        with quietly():
            return pipeline.attributions(self.ds, self.ens, self.roi, target_month or c.target_month,
                                         list(leads or c.leads), method=method or c.method,
                                         steps=steps or c.steps, baseline=baseline or c.baseline,
                                         reference_year=c.reference_year, **options)

    def glue(self) -> dict[str, Any]:
        """The glue values every analysis chapter states in its "emulated unless" box and captions."""
        from icegrad.inputs import real_record

        values = {"source_label": self.source, "inputs_note": real_record.inputs_note(self.ens.channels),
                  "target_label": self.target_label, "n_members": len(self.ens),
                  "method_name": method_name(self.config.method),
                  "leads_text": ", ".join(str(lead) for lead in self.config.leads)}
        if self.roi is not None:
            values["roi_cells"] = int(self.roi.sum())
        return values


@releases_memory
def load_run(config: RunConfig, attributions: bool = True) -> Run:
    """The cached pipeline stages of ``config``: dataset, ROI, ensemble and, if asked, its attributions.

    Trains the ensemble first if no chapter has (quietly: the page shows results, not training logs).
    The ROI is drawn, as in chapter 3, from the Septembers of the reference and target years.
    """
    from icegrad import pipeline

    with quietly():
        ds = pipeline.dataset(config.data_source, config.resolution_km)
        roi = pipeline.region(ds, config.reference_year, config.target_year, config.month, config.roi_rule)
        ens = pipeline.run_ensemble(ds, config)
    run = Run(config, ds, roi, ens)
    if attributions:
        run.result = run.explain()
    return run
