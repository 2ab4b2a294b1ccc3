"""Interactive explorers over attribution results (ipywidgets), and their static stills.

:class:`AttributionExplorer` browses results by target month, method, lead, member and channel;
:func:`explorer_still` draws the same views for one selection as a figure, for the static book.

Example
-------
>>> from icegrad.widgets import AttributionExplorer, explorer_still
>>> results = {("2013-09", "integrated_gradients"): result}  # from icegrad.pipeline.attributions
>>> explorer = AttributionExplorer(results)  # in Jupyter: the controls and the figure
>>> fig = explorer_still(results, lead=3, member="mean")  # the same view as a still figure
"""

from icegrad.widgets.collection import ENSEMBLE_MEAN, Collection, ExplorerError, Selection, as_collection
from icegrad.widgets.explorer import AttributionExplorer
from icegrad.widgets.views import default_selection, draw_views, explorer_still, ranking_table

__all__ = ["ENSEMBLE_MEAN", "AttributionExplorer", "Collection", "ExplorerError", "Selection",
           "as_collection", "default_selection", "draw_views", "explorer_still", "ranking_table"]
