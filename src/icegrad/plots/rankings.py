"""Figures of group rankings with bootstrap intervals: the baseline gallery, the rankings side by side.

Both read group rankings of :func:`icegrad.attribution.rankings.ranking` (``level="group"``), stacked
for several baselines, methods or rankings (the table's ``ranking``, ``method`` and ``baseline``
columns say which is which). A bar or point is a group's ensemble-mean share of the ranking's total
score; its error bar or band is the bootstrap interval across members, so a reader sees which
differences another draw of the ensemble could undo.

* :func:`gallery_bars`: one panel per baseline at one lead, bars coloured by the sign of the group's
  signed sum (more or less sea ice in the ROI), since a share alone has no direction.
* :func:`share_panels`: one row per method and baseline, one column per ranking, the share of every
  group against lead.

Example
-------
>>> from icegrad.attribution.rankings import ranking
>>> fig = share_panels(pd.concat([ranking(result, name, "group", n_boot=10) for name in ("net", "roi_net")]))
>>> [ax.get_title() for ax in fig.axes]
['net', 'roi net']
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from icegrad.plots.basemap import PlotError
from icegrad.plots.importance import GROUP_COLOURS
from icegrad.plots.provenance import stamp_source
from icegrad.plots.styles import DIVERGING_CMAP
from icegrad.variables import GROUPS

SIGN_COLOURS = {"more ice": DIVERGING_CMAP(0.8), "less ice": DIVERGING_CMAP(0.2),
                "zero": (0.6, 0.6, 0.6, 1.0)}
"""Bar colours of :func:`gallery_bars`: the ends of the maps' diverging colour map, grey for exactly 0."""
_COLUMNS = ("lead", "name", "share", "share_low", "share_high", "signed", "ranking", "method", "baseline")


def _checked(rankings: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _COLUMNS if c not in rankings.columns]
    if missing or rankings.empty:
        raise PlotError(f"expected group rankings of icegrad.attribution.rankings.ranking(level='group'); "
                        f"the table lacks {missing or ['rows']}")
    return rankings


def _ordered_groups(frame: pd.DataFrame) -> list[str]:
    present = set(frame["name"])
    return [g for g in GROUPS if g in present] + sorted(present - set(GROUPS))


def sign_colour(value: float) -> tuple[float, ...]:
    """The bar colour of a group whose signed sum is ``value``: more ice, less ice, or exactly zero."""
    return tuple(SIGN_COLOURS["more ice" if value > 0 else "less ice" if value < 0 else "zero"])


def gallery_bars(rankings: pd.DataFrame, lead: int, titles: Mapping[str, str] | None = None, *,
                 data_source: str | None = None) -> Figure:
    """Each baseline's group shares at ``lead`` (one panel per baseline, in the table's order).

    ``titles`` maps a baseline to its panel title (default: the baseline's name). Bars are the
    ensemble-mean shares, error bars the bootstrap interval, colours the sign of the group's signed sum.
    """
    frame = _checked(rankings)
    frame = frame[frame["lead"] == lead]
    if frame.empty:
        raise PlotError(f"lead {lead} is not in the rankings (leads {sorted(set(rankings['lead']))})")
    baselines = list(dict.fromkeys(frame["baseline"]))
    groups = _ordered_groups(frame)
    fig, axes = plt.subplots(1, len(baselines), figsize=(3.2 * len(baselines), 1.4 + 0.35 * len(groups)),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for ax, baseline in zip(axes[0], baselines, strict=True):
        part = frame[frame["baseline"] == baseline].set_index("name").reindex(groups)
        share = part["share"].to_numpy(dtype="float64")
        spread = np.stack([share - part["share_low"], part["share_high"] - share]).clip(min=0)
        ax.barh(np.arange(len(groups)), share, xerr=spread, color=[sign_colour(v) for v in part["signed"]],
                error_kw={"ecolor": "0.2", "capsize": 2, "elinewidth": 0.8})
        ax.set_title((titles or {}).get(baseline, baseline), fontsize="medium")
        ax.set_xlim(0, 1)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
        ax.set_xlabel(f"share of the {frame['ranking'].iloc[0].replace('_', ' ')} score")
    axes[0][0].set_yticks(np.arange(len(groups)), groups)
    axes[0][0].invert_yaxis()
    fig.legend(handles=[Patch(color=c, label=name) for name, c in SIGN_COLOURS.items()], frameon=False,
               fontsize="small", loc="outside lower center", ncols=len(SIGN_COLOURS))
    fig.suptitle(f"Lead {lead}: group shares by baseline (bars: ensemble mean; lines: bootstrap interval)",
                 fontsize="medium")
    return stamp_source(fig, data_source)


def share_panels(rankings: pd.DataFrame, *, data_source: str | None = None) -> Figure:
    """Every group's share against lead: one column per ranking, one row per method and baseline.

    Points are ensemble-mean shares, bands the bootstrap intervals across members; a single lead is
    drawn as points with error bars.
    """
    frame = _checked(rankings)
    names = list(dict.fromkeys(frame["ranking"]))
    rows = list(dict.fromkeys(zip(frame["method"], frame["baseline"], strict=True)))
    groups = _ordered_groups(frame)
    fig, axes = plt.subplots(len(rows), len(names), figsize=(2.8 * len(names) + 0.6, 2.4 * len(rows) + 0.8),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    for (method, baseline), row in zip(rows, axes, strict=True):
        for name, ax in zip(names, row, strict=True):
            part = frame[(frame["ranking"] == name) & (frame["method"] == method)
                         & (frame["baseline"] == baseline)]
            for group in groups:
                line = part[part["name"] == group].sort_values("lead")
                colour = GROUP_COLOURS.get(group, "black")
                ax.plot(line["lead"], line["share"], marker="o", markersize=3, color=colour, label=group)
                ax.fill_between(line["lead"], line["share_low"], line["share_high"], color=colour, alpha=0.2,
                                linewidth=0)
            ax.set_ylim(0, 1)
            ax.grid(color="0.93")
            ax.set_title(name.replace("_", " ") if len(rows) == 1 else
                         f"{name.replace('_', ' ')}\n{_row_label(method, baseline)}", fontsize="small")
        row[0].set_ylabel("share of the score")
    for ax in axes[-1]:
        ax.set_xlabel("lead (months)")
        ax.set_xticks(sorted(int(v) for v in frame["lead"].unique()))
    fig.legend(handles=[Patch(color=GROUP_COLOURS.get(g, "black"), label=g) for g in groups], frameon=False,
               fontsize="small", loc="outside lower center", ncols=len(groups))
    return stamp_source(fig, data_source)


def _row_label(method: str, baseline: str) -> str:
    name = method.replace("_", " ")
    return name if baseline == "none" else f"{name} ({baseline})"
