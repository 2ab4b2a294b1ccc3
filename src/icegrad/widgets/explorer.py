"""The live explorer: ipywidgets controls over attribution results, three views that update together.

Pick a target month, method, lead, member (or the ensemble mean), channel and ranking statistic; the
attribution map, the input map and the channel ranking are redrawn together into one matplotlib
figure, shown as the PNG of an ``Image`` widget. Everything it shows comes from results already
computed, so it needs no model and no TensorFlow at interaction time and runs on Binder with plain
ipywidgets 8 (no ipympl).

Why an ``Image`` and not an ``Output`` widget: output captured by an ``Output`` widget makes a
headless executor (nbclient, hence papermill and ``icegrad book``) echo that output back to the kernel
as a ``comm_msg`` on the shell channel while it is waiting on the same socket for the cell's
``execute_reply``; now and then that reply is then never read and the run hangs with the kernel
idle (nbclient issue 312). An ``Image`` changes only widget state, sent by the kernel, so executing
the chapter sends nothing back.

Example
-------
With ``result`` an attribution result (:func:`icegrad.pipeline.attributions`); shown as the last
value of a Jupyter cell, ``explorer`` displays the controls and the figure:

>>> explorer = AttributionExplorer({("2013-09", "integrated_gradients"): result})
>>> explorer.set(lead=3, channel="tas_anom_1")  # as if the user had picked them
"""

from __future__ import annotations

import io
from dataclasses import fields
from typing import Any

import ipywidgets as w
import pandas as pd
from IPython.display import display
from matplotlib.figure import Figure

from icegrad.attribution.aggregate import STATISTICS
from icegrad.plots.attribution import STATISTIC_LABELS
from icegrad.plots.basemap import DEFAULT_MIN_LAT
from icegrad.widgets.collection import ENSEMBLE_MEAN, ExplorerError, Selection, as_collection
from icegrad.widgets.views import FIGSIZE, default_selection, draw_views

PNG_DPI = 100
"""Resolution of the figure shown live (the default size gives a 1300x480 pixel image)."""


class AttributionExplorer:
    """Interactive explorer of attribution results (a dict ``{(month, method): result}``, one result,
    or a sweep store folder); ``selection`` sets the first view, as in :func:`explorer_still`.

    ``controls`` holds the widgets by selection field, ``figure`` the figure, ``ranking`` the current
    channel ranking (a table, best first), and ``widget`` the whole box to display.
    """

    def __init__(self, results: Any, *, figsize: tuple[float, float] = FIGSIZE,
                 min_lat: float = DEFAULT_MIN_LAT, **selection: Any) -> None:
        self.collection = as_collection(results)
        self.min_lat = min_lat
        first = default_selection(self.collection, **selection)
        layout = w.Layout(width="auto")
        self.controls: dict[str, w.ValueWidget] = {
            "target_month": w.Dropdown(description="target", options=self.collection.target_months,
                                       layout=layout),
            "method": w.Dropdown(description="method", layout=layout),
            "lead": w.ToggleButtons(description="lead", style={"button_width": "3em"}),
            "member": w.Dropdown(description="member", layout=layout),
            "channel": w.Dropdown(description="channel", layout=layout),
            "by": w.Dropdown(description="rank by", layout=layout,
                             options=[(STATISTIC_LABELS[s], s) for s in STATISTICS]),
            "k": w.IntSlider(description="top k", min=3, max=25, continuous_update=False),
        }
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.image = w.Image(format="png", layout=w.Layout(width="100%", height="auto"))
        self.ranking = pd.DataFrame()
        self._syncing = False
        self._apply(first)
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        c = self.controls
        self.widget = w.VBox([w.HBox([c["target_month"], c["method"], c["member"]]),
                              w.HBox([c["lead"]]), w.HBox([c["channel"], c["by"], c["k"]]), self.image])
        self.update()

    @property
    def selection(self) -> Selection:
        """The current choice, read from the controls."""
        return Selection(**{f.name: self.controls[f.name].value for f in fields(Selection)})

    def set(self, **choices: Any) -> None:
        """Change controls programmatically (one redraw), as if the user had picked ``choices``."""
        unknown = sorted(set(choices) - set(self.controls))
        if unknown:
            raise ExplorerError(f"unknown control(s) {unknown}; the explorer has {sorted(self.controls)}")
        current = {f.name: getattr(self.selection, f.name) for f in fields(Selection)}
        self._apply(self.collection.check(Selection(**{**current, **choices})))
        self.update()

    def _apply(self, selection: Selection) -> None:
        """Set options and values of every control to ``selection`` without triggering redraws."""
        self._syncing = True
        try:
            month, method = selection.target_month, selection.method
            c = self.controls
            c["target_month"].value = month
            c["method"].options = self.collection.methods(month)
            c["method"].value = method
            c["lead"].options = [(str(lead), lead) for lead in self.collection.leads(month, method)]
            c["lead"].value = selection.lead
            c["member"].options = [("ensemble mean" if m == ENSEMBLE_MEAN else str(m), m)
                                   for m in self.collection.members(month, method)]
            c["member"].value = selection.member
            c["channel"].options = self.collection.channels(month, method)
            c["channel"].value = selection.channel
            c["by"].value = selection.by
            c["k"].max = max(c["k"].max, len(c["channel"].options))
            c["k"].value = selection.k
        finally:
            self._syncing = False

    def _on_change(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        owner = next(name for name, control in self.controls.items() if control is change["owner"])
        current = {f.name: self.controls[f.name].value for f in fields(Selection)}
        if owner in ("target_month", "method"):
            # keep lead, member and channel when the new result has them, else fall back to its first
            month = current["target_month"]
            methods = self.collection.methods(month)
            method = current["method"] if current["method"] in methods else methods[0]
            keep = {k: current[k] for k, options in (
                ("lead", self.collection.leads(month, method)),
                ("member", self.collection.members(month, method)),
                ("channel", self.collection.channels(month, method))) if current[k] in options}
            selection = default_selection(self.collection, target_month=month, method=method,
                                          by=current["by"], k=current["k"], **keep)
            self._apply(selection)
        self.update()

    def update(self) -> None:
        """Redraw the three views for the current selection (into :attr:`figure` and its PNG)."""
        self.ranking = draw_views(self.figure, self.collection, self.selection, self.min_lat)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=PNG_DPI)
        self.image.value = buffer.getvalue()

    def _ipython_display_(self) -> None:
        display(self.widget)
