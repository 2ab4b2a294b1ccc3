"""The robustness heat map draws the shares and verdicts it is given, in the settings' order."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from icegrad.plots import PlotError
from icegrad.plots.robustness import share_heatmap

GROUPS = ["sic", "trend", "climate", "seasonal", "static"]


def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    settings = [("lead", "lead 1"), ("lead", "lead 3"), ("year", "2012")]
    rng = np.random.default_rng(0)
    rows = []
    for axis, label in settings:
        values = rng.random(len(GROUPS))
        rows += [{"axis": axis, "setting": label, "group": g, "share": v / values.sum()}
                 for g, v in zip(GROUPS, values, strict=True)]
    verdicts = pd.DataFrame([{"axis": a, "setting": s, "holds": s == "2012"} for a, s in settings])
    return pd.DataFrame(rows), verdicts


def test_heatmap_shows_shares_in_setting_order_and_marks_verdicts() -> None:
    shares, verdicts = tables()
    fig = share_heatmap(shares, verdicts)
    ax = fig.axes[0]
    image = ax.images[0].get_array()
    expected = shares.pivot_table(index=["axis", "setting"], columns="group", values="share",
                                  sort=False)[GROUPS]
    np.testing.assert_allclose(np.asarray(image), expected.to_numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["lead: lead 1", "lead: lead 3", "year: 2012"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [*GROUPS, "finding"]
    marks = [t.get_text() for t in ax.texts if t.get_text() in ("holds", "no")]
    assert marks == ["no", "no", "holds"]
    assert len(ax.lines) == 1  # one separator between the lead and year axes
    assert fig.get_suptitle() == ""  # nothing says where the shares come from
    assert "EMULATED" in share_heatmap(shares, verdicts, data_source="emulated").get_suptitle()
    shares.attrs["data_source"] = "nsidc"
    assert share_heatmap(shares, verdicts).get_suptitle() == "NSIDC CDR (observed)"
    plt.close("all")


def test_heatmap_refuses_other_tables() -> None:
    shares, verdicts = tables()
    with pytest.raises(PlotError, match="shares and verdicts"):
        share_heatmap(shares.drop(columns="share"), verdicts)
    with pytest.raises(PlotError, match="empty"):
        share_heatmap(shares.iloc[0:0], verdicts)
