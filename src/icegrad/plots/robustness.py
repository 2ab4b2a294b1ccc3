"""One compact figure for the robustness of the letter's finding: group shares per setting.

Rows are settings (each lead, each member, each method and baseline, each target year), grouped by
axis and separated by lines; columns are the channel groups; each cell is the group's
per-channel share of mean |attribution| (:func:`icegrad.evaluation.robustness.group_shares`), the
measure the letter's verdict is made on. A last column marks whether the finding holds in that
setting, so a reader sees at once which settings agree and which group takes over where they do not.
The tables consumed are those of :func:`icegrad.evaluation.robustness.robustness`; the data source
(EMULATED for the emulated Arctic) is written under the title when ``data_source`` or the shares
table's ``attrs["data_source"]`` gives it.

Example
-------
With ``result`` an attribution result (:func:`icegrad.pipeline.attributions`):

>>> from icegrad.evaluation.robustness import lead_settings, member_settings, robustness
>>> summary = robustness(lead_settings(result) + member_settings(result))
>>> fig = share_heatmap(summary.shares, summary.verdicts)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from icegrad.plots.basemap import PlotError
from icegrad.plots.provenance import data_source_of, stamp_source
from icegrad.variables import GROUPS

HOLDS_MARK = {True: "holds", False: "no"}


def share_heatmap(shares: pd.DataFrame, verdicts: pd.DataFrame, title: str | None = None, *,
                  data_source: str | None = None) -> Figure:
    """Settings x groups heat map of per-channel shares, with the letter's verdict beside each row."""
    needed = {"axis", "setting", "group", "share"}
    if not needed <= set(shares.columns) or not {"axis", "setting", "holds"} <= set(verdicts.columns):
        raise PlotError("expected the shares and verdicts tables of icegrad.evaluation.robustness.robustness"
                        f" (shares columns {sorted(needed)}, verdicts columns axis, setting, holds)")
    if shares.empty:
        raise PlotError("no settings to draw; the shares table is empty")
    rows = list(dict.fromkeys(zip(shares["axis"], shares["setting"], strict=True)))
    present = set(shares["group"])
    groups = [g for g in GROUPS if g in present] + sorted(present - set(GROUPS))
    table = shares.pivot_table(index=["axis", "setting"], columns="group", values="share", sort=False)
    values = table.reindex(index=pd.MultiIndex.from_tuples(rows), columns=groups).to_numpy(float)
    holds = verdicts.set_index(["axis", "setting"])["holds"]
    fig, ax = plt.subplots(figsize=(1.1 * len(groups) + 3.4, 0.32 * len(rows) + 1.5), layout="constrained")
    top = max(float(np.nanmax(values)), 1e-12)
    image = ax.imshow(values, aspect="auto", cmap="Blues", vmin=0.0, vmax=top)
    for i, j in np.ndindex(values.shape):
        ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                color="white" if values[i, j] > 0.6 * top else "black")
    for i, row in enumerate(rows):
        mark = bool(holds.get(row, False))
        ax.text(len(groups) - 0.4, i, HOLDS_MARK[mark], ha="left", va="center", fontsize="small",
                color="#1b7837" if mark else "#b2182b", fontweight="bold")
    axes = [axis for axis, _ in rows]
    for i in range(1, len(rows)):
        if axes[i] != axes[i - 1]:
            ax.axhline(i - 0.5, color="black", linewidth=1.2)
    ax.set_xticks([*range(len(groups)), len(groups) + 0.05], [*groups, "finding"])
    ax.set_yticks(range(len(rows)), [f"{axis}: {label}" for axis, label in rows])
    ax.set_xlim(-0.5, len(groups) + 0.6)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("per-channel share of mean |attribution|")
    ax.set_title(title or "Group shares per setting (per channel; rows sum to 1)", fontsize="medium")
    return stamp_source(fig, data_source or data_source_of(shares))
