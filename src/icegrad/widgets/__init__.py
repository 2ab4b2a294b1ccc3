"""Interactive explorers over attribution results (ipywidgets), and their static stills.

:class:`AttributionExplorer` browses results by target month, method, lead, member and channel;
:func:`explorer_still` draws the same views for one selection as a figure, for the static book.

Example
-------
>>> from icegrad.widgets import AttributionExplorer, explorer_still
>>> AttributionExplorer(results)                      # doctest: +SKIP
>>> explorer_still(results, lead=3, member="mean")    # doctest: +SKIP
"""

from icegrad.widgets.collection import ENSEMBLE_MEAN, Collection, ExplorerError, Selection, as_collection
from icegrad.widgets.explorer import AttributionExplorer
from icegrad.widgets.views import default_selection, draw_views, explorer_still, ranking_table

__all__ = ["ENSEMBLE_MEAN", "AttributionExplorer", "Collection", "ExplorerError", "Selection",
           "as_collection", "default_selection", "draw_views", "explorer_still", "ranking_table"]
