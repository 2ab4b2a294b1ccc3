"""Figures that set permute-and-predict importance beside gradient importance.

Both figures read the table of :func:`icegrad.evaluation.permutation.side_by_side` (one row per lead
and channel or group). Bars and points are coloured by channel group, so a reader sees at once
whether the two methods disagree about single channels or about whole families of inputs. The data
source (EMULATED for the emulated Arctic) is written under the title: pass ``data_source``, or let
the table's ``attrs["data_source"]`` say it.

Example
-------
With ``ens``, ``ds`` and ``result`` as in :mod:`icegrad.pipeline`, by channel group:

>>> from icegrad.evaluation.permutation import permutation_importance, rank_correlation, side_by_side
>>> imp = permutation_importance(ens, ds, ["2018-09", "2019-09"], by="group", n_permutations=2, seed=0)
>>> table = side_by_side(imp, result)
>>> fig = importance_bars(table, lead=1, k=5)
>>> fig = rank_scatter(table, rank_correlation(table), highlight="climate")

:func:`selection_curves` draws the retraining comparison of :mod:`icegrad.evaluation.selection`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from icegrad.plots.attribution import STATISTIC_LABELS
from icegrad.plots.basemap import PlotError
from icegrad.plots.provenance import data_source_of, stamp_source
from icegrad.plots.styles import label_axis
from icegrad.variables import GROUPS

GROUP_COLOURS = {"sic": "#1f78b4", "trend": "#6a3d9a", "climate": "#e31a1c", "seasonal": "#ff7f00",
                 "static": "#7f7f7f"}
"""One colour per channel group (colour-blind-distinguishable pairs: blue/orange, purple/grey, red)."""
_COLUMNS = ("lead", "permutation_importance", "permutation_std", "gradient_importance",
            "permutation_rank", "gradient_rank")


def _item_column(table: pd.DataFrame) -> str:
    missing = [c for c in _COLUMNS if c not in table.columns]
    items = [c for c in ("channel", "group") if c in table.columns]
    if missing or not items:
        raise PlotError(f"expected the table of icegrad.evaluation.permutation.side_by_side; it lacks "
                        f"{missing or ['channel or group']}")
    return items[0]


def _at_lead(table: pd.DataFrame, lead: int) -> pd.DataFrame:
    leads = sorted(int(v) for v in table["lead"].unique())
    if lead not in leads:
        raise PlotError(f"lead {lead} is not in the table (leads {leads}); choose one of them")
    return table[table["lead"] == lead]


def _colours(frame: pd.DataFrame) -> list[str]:
    groups = frame["group"] if "group" in frame else pd.Series(["static"] * len(frame))
    return [GROUP_COLOURS.get(str(g), "black") for g in groups]


def _group_legend(fig: Figure, frame: pd.DataFrame) -> None:
    """One legend of the groups present, under the panels, where it cannot cover bars or points."""
    present = [g for g in GROUPS if g in set(frame["group"])] if "group" in frame else []
    if present:
        fig.legend(handles=[Patch(color=GROUP_COLOURS[g], label=g) for g in present], fontsize="small",
                   frameon=False, loc="outside lower center", ncols=len(present))


def importance_bars(table: pd.DataFrame, lead: int, k: int = 12, title: str | None = None, *,
                    data_source: str | None = None) -> Figure:
    """The union of each method's top-``k`` items at ``lead``, ordered by permutation importance.

    Left: drop in binary accuracy when the item is permuted (percentage points; error bars one
    standard deviation over members and permutations). Right: gradient importance (the statistic
    ``side_by_side`` was given). Each bar is labelled with the item's rank under that method (beyond
    its error bar).
    """
    item = _item_column(table)
    if k < 1:
        raise PlotError(f"k must be at least 1, got {k}")
    frame = _at_lead(table, lead)
    chosen = frame[(frame["permutation_rank"] <= k) | (frame["gradient_rank"] <= k)]
    chosen = chosen.sort_values(["permutation_rank", "gradient_rank"]).reset_index(drop=True)
    rows = np.arange(len(chosen))
    colours = _colours(chosen)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 1.2 + 0.3 * len(chosen)), sharey=True,
                                      layout="constrained")
    std = chosen["permutation_std"].to_numpy(dtype="float64")
    left.barh(rows, chosen["permutation_importance"], color=colours,
              xerr=None if np.isnan(std).all() else np.nan_to_num(std),
              error_kw={"ecolor": "0.25", "capsize": 2, "elinewidth": 0.8})
    right.barh(rows, chosen["gradient_importance"], color=colours)
    ends = (chosen["permutation_importance"] + np.nan_to_num(std)).clip(lower=0)
    for ax, end, rank in ((left, ends, "permutation_rank"),
                          (right, chosen["gradient_importance"].clip(lower=0), "gradient_rank")):
        for row, (value, r) in enumerate(zip(end, chosen[rank], strict=True)):
            ax.annotate(f"#{r:g}", (value, row), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize="x-small")
        ax.axvline(0.0, color="0.3", linewidth=0.8)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
    left.set_yticks(rows, chosen[item])
    left.invert_yaxis()
    left.set_xlabel("permute-and-predict: accuracy drop (percentage points)")
    statistic = table.attrs.get("gradient_statistic", "mean_abs")
    label_axis(right.xaxis, f"gradients: {STATISTIC_LABELS.get(statistic, statistic)}")
    _group_legend(fig, chosen)
    fig.suptitle(title or f"Lead {lead}: the top {k} {item}s of either method", fontsize="medium")
    return stamp_source(fig, data_source or data_source_of(table))


def rank_scatter(table: pd.DataFrame, correlations: pd.DataFrame, highlight: str | None = None,
                 title: str | None = None, *, data_source: str | None = None) -> Figure:
    """Gradient rank against permutation rank, one panel per lead, with Spearman's rho in the title.

    Points on the diagonal are ranked alike by both methods; ``highlight`` labels one item.
    """
    item = _item_column(table)
    if not {"lead", "rho"} <= set(correlations.columns):
        raise PlotError("correlations must be the table of icegrad.evaluation.permutation.rank_correlation")
    leads = sorted(int(v) for v in table["lead"].unique())
    if highlight is not None and highlight not in set(table[item]):
        raise PlotError(f"{highlight!r} is not a {item} of this table")
    rho = correlations.set_index("lead")["rho"]
    fig, axes = plt.subplots(1, len(leads), figsize=(3.6 * len(leads), 3.8), squeeze=False,
                             layout="constrained")
    n = int(table.groupby("lead").size().max())
    for ax, lead in zip(axes[0], leads, strict=True):
        frame = _at_lead(table, lead)
        ax.plot([1, n], [1, n], color="0.6", linewidth=0.8, zorder=0)
        ax.scatter(frame["permutation_rank"], frame["gradient_rank"], c=_colours(frame), s=22,
                   edgecolors="white", linewidths=0.4)
        if highlight is not None:
            row = frame[frame[item] == highlight].iloc[0]
            ax.scatter(row["permutation_rank"], row["gradient_rank"], s=90, facecolors="none",
                       edgecolors="black", linewidths=1.2)
            ax.annotate(highlight, (row["permutation_rank"], row["gradient_rank"]), xytext=(6, 6),
                        textcoords="offset points", fontsize="small")
        value = rho.get(lead, np.nan)
        ax.set_title(f"lead {lead}: Spearman rho = {value:.2f}" if np.isfinite(value)
                     else f"lead {lead}: Spearman rho undefined", fontsize="medium")
        ax.set_xlim(n + 1, 0)
        ax.set_ylim(n + 1, 0)
        ax.set_aspect("equal")
        ax.set_xlabel("permute-and-predict rank")
        ax.grid(color="0.93")
    axes[0][0].set_ylabel("gradient rank")
    _group_legend(fig, table)
    if title:
        fig.suptitle(title, fontsize="medium")
    return stamp_source(fig, data_source or data_source_of(table))


def selection_curves(table: pd.DataFrame, lead: int, title: str | None = None, *,
                     data_source: str | None = None) -> Figure:
    """Skill and ROI forecast of networks retrained on each chooser's top-k channels, against k.

    Reads the table of :func:`icegrad.evaluation.selection.input_selection`. Left: test-year binary
    accuracy, with the linear-trend forecast's (dotted) as the bar a network must clear; right: the ROI
    forecast at ``lead``. One line per chooser; the network trained on every channel is the dashed
    horizontal line, so a chooser whose points sit near it lost little.
    """
    column = f"roi_sip_lead{lead}"
    if column not in table or not (table["chooser"] == "all").any():
        raise PlotError(f"the table has no ROI forecast at lead {lead} or no full-input row; pass the table "
                        "of icegrad.evaluation.selection.input_selection with that lead")
    full = table[table["chooser"] == "all"].iloc[0]
    subsets = table[table["chooser"] != "all"]
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.2), layout="constrained")
    if "trend_accuracy" in table:
        axes[0].axhline(full["trend_accuracy"], color="0.5", linestyle=":", linewidth=1.2,
                        label="linear-trend forecast")
    for ax, value, label in ((axes[0], "test_accuracy", "test-year binary accuracy (%)"),
                             (axes[1], column, f"ROI forecast, lead {lead}\n(mean P(SIC > 0.15))")):
        ax.axhline(full[value], color="0.3", linestyle="--", linewidth=1.0,
                   label=f"every channel ({full['k']})")
        for chooser, rows in subsets.groupby("chooser", sort=False):
            rows = rows.sort_values("k")
            ax.plot(rows["k"], rows[value], marker="o", label=str(chooser))
        ax.set_xlabel("channels kept (k)")
        ax.set_xticks(sorted(subsets["k"].unique()))
        ax.set_ylabel(label)
        ax.grid(color="0.93")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize="small")
    fig.suptitle(title or "Retrained on the top k channels of each chooser", fontsize="medium")
    return stamp_source(fig, data_source or data_source_of(table) or _first(table, "data_source"))


def _first(table: pd.DataFrame, column: str) -> str | None:
    """The first value of ``column`` (the data source the selection table carries per row), or None."""
    return str(table[column].iloc[0]) if column in table and len(table) else None
