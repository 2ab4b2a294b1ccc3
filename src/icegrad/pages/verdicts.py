"""What chapters 7-12 share: the run they explain, its glue values, and the words for sign and lists.

Each chapter module (``where_they_matter``, ``permute_and_predict``, ...) turns one run into figures,
tables and a dict of glue values; the notebook only calls it and hands the dict to :func:`glue_all`.
The helpers here are the pieces every one of them needs, kept in one place so that, for instance,
the colours a page names for "more ice" are read from the colour map the maps are drawn with rather
than typed into prose that can drift from it.

Example
-------
>>> listing(["sic", "trend", "seasonal"])
'sic, trend and seasonal'
>>> sign_colours()
{'positive': 'red', 'negative': 'blue'}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd
import xarray as xr

from icegrad.config import RunConfig


def glue_all(values: Mapping[str, Any]) -> None:
    """Glue every ``name -> value`` for the page's ``{glue}`` references, without displaying them.

    Figures are closed after gluing: a chapter's calculation cell is hidden, and an open figure would
    otherwise be drawn again, below it, by matplotlib's inline backend.
    """
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value, display=False)
        if isinstance(value, Figure):
            plt.close(value)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's Python-side warnings (retracing of each member's gradient engine) off the page.

    Every ensemble member gets its own compiled gradient function, so TensorFlow warns about
    retracing; that is expected and says nothing about the results.
    """
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)


def run_config(namespace: Mapping[str, Any]) -> RunConfig:
    """The :class:`RunConfig` of a chapter's parameters: the names of ``namespace`` that are run fields.

    A chapter passes ``globals()``; parameters that are not run fields (``figure_dir``, ``n_maps``)
    are left to the chapter. The values are checked here, before any work, with one-line errors.
    """
    names = {spec.name for spec in fields(RunConfig)}
    return RunConfig.from_parameters({k: v for k, v in namespace.items() if k in names})


def listing(items: Sequence[str], empty: str = "none") -> str:
    """Items as prose: ``"a"``, ``"a and b"``, ``"a, b and c"``; ``empty`` when there are none."""
    items = [str(item) for item in items]
    if not items:
        return empty
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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


@dataclass
class Page:
    """What a chapter shows: its glue values (figures included) and its tables, by name."""

    glue: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)

    def show(self, *names: str) -> None:
        """Display the named tables this run has (a run without a truth has no fidelity tables)."""
        from IPython.display import display

        for name in names:
            if name in self.tables:
                display(self.tables[name])


@dataclass
class Run:
    """The stages one chapter explains: data, ROI, ensemble and (optionally) one attribution result."""

    config: RunConfig
    ds: xr.Dataset
    roi: xr.DataArray
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
        return f"{pd.Timestamp(self.config.target_month):%B %Y}"

    @property
    def emulated(self) -> bool:
        """Whether the data are the embedded emulated Arctic (the only source with a known truth)."""
        return self.ds.attrs.get("data_source") == "emulated"

    def explain(self, target_month: str | None = None, leads: Sequence[int] | None = None,
                method: str | None = None, baseline: str | None = None) -> xr.Dataset:
        """Attributions (cached by the pipeline) for this run, with any of its choices replaced."""
        from icegrad import pipeline

        c = self.config
        return pipeline.attributions(self.ds, self.ens, self.roi, target_month or c.target_month,
                                     list(leads or c.leads), method=method or c.method, steps=c.steps,
                                     baseline=baseline or c.baseline)

    def glue(self) -> dict[str, Any]:
        """The glue values every analysis chapter states in its "emulated unless" box and captions."""
        from icegrad.inputs import real_record

        return {"source_label": self.source, "inputs_note": real_record.inputs_note(self.ens.channels),
                "target_label": self.target_label, "n_members": len(self.ens),
                "method_name": method_name(self.config.method)}


def load_run(config: RunConfig, attributions: bool = True) -> Run:
    """The cached pipeline stages of ``config``: dataset, ROI, ensemble and, if asked, its attributions."""
    from icegrad import pipeline

    ds = pipeline.dataset(config.data_source, config.resolution_km)
    roi = pipeline.region(ds, config.reference_year, config.target_year, config.month, config.roi_rule)
    ens = pipeline.ensemble(ds, members=config.members, width=config.width, epochs=config.epochs,
                            weights=config.weights or None)
    run = Run(config, ds, roi, ens)
    if attributions:
        run.result = run.explain()
    return run
