"""The ranking figures draw the rankings' numbers: shares, bootstrap intervals, signs, panels and stamps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from icegrad.plots import PlotError
from icegrad.plots.importance import GROUP_COLOURS
from icegrad.plots.rankings import SIGN_COLOURS, gallery_bars, share_panels, sign_colour


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def group_rows(shares: dict[str, float], signed: dict[str, float], lead: int = 1, ranking: str = "net",
               method: str = "integrated_gradients", baseline: str = "climatology") -> pd.DataFrame:
    """SYNTHETIC group-ranking rows (as rankings.ranking(level="group") gives) with intervals of ±0.05."""
    return pd.DataFrame([{"lead": lead, "name": g, "score": s, "share": s, "share_low": max(s - 0.05, 0),
                          "share_high": s + 0.05, "signed": signed[g], "rank": 0, "ranking": ranking,
                          "method": method, "baseline": baseline} for g, s in shares.items()])


def test_sign_colour_has_each_outcome() -> None:
    assert sign_colour(0.2) == tuple(SIGN_COLOURS["more ice"])
    assert sign_colour(-0.2) == tuple(SIGN_COLOURS["less ice"])
    assert sign_colour(0.0) == tuple(SIGN_COLOURS["zero"])


def test_gallery_bars_draw_one_panel_per_baseline_with_shares_intervals_and_signs() -> None:
    shares = {"climate": 0.5, "sic": 0.3, "trend": 0.2}  # given out of the groups' order on purpose
    table = pd.concat([
        group_rows(shares, {"sic": 0.1, "trend": -0.1, "climate": 0.0}, baseline="zeros"),
        group_rows(shares, {"sic": -0.1, "trend": 0.1, "climate": 0.2}, baseline="counterfactual"),
        group_rows({"sic": 0.9, "trend": 0.05, "climate": 0.05}, dict.fromkeys(shares, 1.0), 3,
                   baseline="zeros")])
    fig = gallery_bars(table, lead=1, titles={"counterfactual": "T(2013) - T(2007)"}, data_source="emulated")
    first, second = fig.axes[:2]
    assert [first.get_title(), second.get_title()] == ["zeros", "T(2013) - T(2007)"]
    assert [t.get_text() for t in first.get_yticklabels()] == ["sic", "trend", "climate"]
    np.testing.assert_allclose([p.get_width() for p in first.patches], [0.3, 0.2, 0.5])
    colours = [tuple(p.get_facecolor()) for p in first.patches]
    assert colours == [sign_colour(0.1), sign_colour(-0.1), sign_colour(0.0)]
    segments = first.collections[0].get_segments()  # the error bars
    np.testing.assert_allclose([(s[0][0], s[1][0]) for s in segments],
                               [(0.25, 0.35), (0.15, 0.25), (0.45, 0.55)])
    assert "EMULATED" in fig.get_suptitle() and "Lead 1" in fig.get_suptitle()
    with pytest.raises(PlotError, match="lead 2 is not in the rankings"):
        gallery_bars(table, lead=2)
    with pytest.raises(PlotError, match="lacks \\['signed'\\]"):
        gallery_bars(table.drop(columns="signed"), lead=1)


def test_share_panels_put_rankings_in_columns_and_methods_in_rows_with_bands() -> None:
    parts = []
    for ranking in ("grid_mean_abs", "net"):
        for method, baseline in (("integrated_gradients", "climatology"), ("vanilla_gradient", "none")):
            for lead, sic in ((1, 0.6), (3, 0.2)):
                parts.append(group_rows({"sic": sic, "climate": 1 - sic}, {"sic": 1.0, "climate": -1.0}, lead,
                                        ranking, method, baseline))
    fig = share_panels(pd.concat(parts), data_source="nsidc")
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles == ["grid mean abs\nintegrated gradients (climatology)",
                      "net\nintegrated gradients (climatology)", "grid mean abs\nvanilla gradient",
                      "net\nvanilla gradient"]
    sic_line = fig.axes[0].lines[0]
    np.testing.assert_allclose(sic_line.get_xdata(), [1, 3])
    np.testing.assert_allclose(sic_line.get_ydata(), [0.6, 0.2])
    assert sic_line.get_color() == GROUP_COLOURS["sic"]
    band = fig.axes[0].collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(0.15) and band[:, 1].max() == pytest.approx(0.65)
    assert "NSIDC" in fig.get_suptitle() and "EMULATED" not in fig.get_suptitle()
    single = share_panels(pd.concat(parts[:2]))
    assert [ax.get_title() for ax in single.axes] == ["grid mean abs"]
