"""Chapter 10, *Explore*: the attribution results the explorer browses, and a still of its opening views.

The explorer itself is :class:`icegrad.widgets.AttributionExplorer`; this module computes (or reads
from the cache) the results it needs and words the still's caption and the colour key of its maps,
which are read from the colour map the maps are drawn with (:func:`icegrad.pages.verdicts.sign_colours`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from icegrad.attribution.results import ResultsOnLookup
from icegrad.pages.common import Page, Run, method_name, sign_colours


def colour_key() -> str:
    """What the maps' two colours mean: "red: evidence for more sea ice in the ROI, blue: against"."""
    colours = sign_colours()
    return f"{colours['positive']}: evidence for more sea ice in the ROI, {colours['negative']}: against"


def explained(run: Run, target_months: Sequence[str],
              methods: Sequence[str]) -> ResultsOnLookup[tuple[str, str]]:
    """One result per (target month, method), every member and lead, each computed now (cached by the
    pipeline) and read back from the cache when the explorer shows it, so that it holds only the one on
    display (:class:`icegrad.widgets.collection.Collection`)."""
    loaders = {(month, method): functools.partial(run.explain, target_month=month, method=method)
               for month in target_months for method in methods}
    for load in loaders.values():
        load()  # computed and cached once, before the reader browses; not kept
    return ResultsOnLookup(loaders)


def still_caption(selection: Any, source: str) -> str:
    """The caption of the explorer still for ``selection`` (an explorer's ``Selection``)."""
    return (f"The explorer's views for {method_name(selection.method)}, the forecast of "
            f"{selection.target_month} at lead {selection.lead}, ensemble mean: attribution (left) and input "
            f"(middle) of {selection.channel}, the top-ranked channel, with the ROI outlined; channel "
            f"ranking by mean |attribution| per cell (right). Data: {source}.")


def page(run: Run, target_months: Sequence[str], methods: Sequence[str], figure_dir: str) -> Page:
    """The results, the explorer over them, its still figure and ranking table, and the glue values."""
    from icegrad.plots import save_figure
    from icegrad.widgets import AttributionExplorer, explorer_still

    results = explained(run, target_months, methods)
    explorer = AttributionExplorer(results)
    first = explorer.selection
    still = explorer_still(results, target_month=first.target_month, method=first.method, lead=first.lead,
                           member=first.member, channel=first.channel)
    save_figure(still, Path(figure_dir) / "explorer_still.png")
    glue = {"explore_source": run.source, "explore_count": len(results), "explore_members": len(run.ens),
            "colour_key": colour_key(), "explorer_still": still,
            "still_caption": still_caption(first, run.source)}
    return Page(values=glue, tables={"results": sorted(results), "explorer": explorer,
                                   "ranking": explorer.ranking.head(10)})
