"""The side-by-side importance figures draw the table's numbers: bar lengths, ranks, rho, highlight."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from icegrad.plots import PlotError
from icegrad.plots.importance import GROUP_COLOURS, importance_bars, rank_scatter
from icegrad.variables import CHANNEL_NAMES, channel

NAMES = list(CHANNEL_NAMES[:20])


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def synthetic_table(seed: int = 0) -> pd.DataFrame:
    """A SYNTHETIC side_by_side table for leads 1 and 3 over 20 channels."""
    rng = np.random.default_rng(seed)
    frames = []
    for lead in (1, 3):
        frame = pd.DataFrame({"lead": lead, "channel": NAMES, "group": [channel(n).group for n in NAMES],
                              "permutation_importance": rng.normal(1.0, 1.0, len(NAMES)),
                              "permutation_std": rng.uniform(0.1, 0.5, len(NAMES)),
                              "gradient_importance": rng.uniform(0, 1e-3, len(NAMES))})
        frame["permutation_rank"] = frame["permutation_importance"].rank(ascending=False)
        frame["gradient_rank"] = frame["gradient_importance"].rank(ascending=False)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.attrs["gradient_statistic"] = "mean_abs"
    return table


def test_bars_show_the_union_of_both_top_k_with_their_values() -> None:
    table = synthetic_table()
    fig = importance_bars(table, lead=3, k=4)
    left, right = fig.axes[:2]
    at3 = table[table["lead"] == 3]
    expected = at3[(at3["permutation_rank"] <= 4) | (at3["gradient_rank"] <= 4)]
    expected = expected.sort_values("permutation_rank")
    assert [t.get_text() for t in left.get_yticklabels()] == list(expected["channel"])
    widths = [p.get_width() for p in left.patches]
    np.testing.assert_allclose(widths, expected["permutation_importance"])
    np.testing.assert_allclose([p.get_width() for p in right.patches], expected["gradient_importance"])
    colours = [tuple(np.round(p.get_facecolor()[:3], 3)) for p in left.patches]
    first = plt.matplotlib.colors.to_rgb(GROUP_COLOURS[expected["group"].iloc[0]])
    assert colours[0] == tuple(np.round(first, 3))
    ranks = [t.get_text() for t in right.texts]
    assert ranks == [f"#{r:g}" for r in expected["gradient_rank"]]
    assert "EMULATED" not in fig.get_suptitle()  # the table does not say where its data come from
    assert "EMULATED" in importance_bars(table, lead=3, k=4, data_source="emulated").get_suptitle()
    table.attrs["data_source"] = "emulated"
    assert "EMULATED" in importance_bars(table, lead=3, k=4).get_suptitle()


def test_scatter_titles_carry_rho_and_the_highlight_is_labelled() -> None:
    table = synthetic_table()
    correlations = pd.DataFrame({"lead": [1, 3], "rho": [0.25, np.nan]})
    fig = rank_scatter(table, correlations, highlight="siconca_abs_3")
    titles = [ax.get_title() for ax in fig.axes[:2]]
    assert titles == ["lead 1: Spearman rho = 0.25", "lead 3: Spearman rho undefined"]
    assert any(t.get_text() == "siconca_abs_3" for t in fig.axes[0].texts)
    points = fig.axes[0].collections[0].get_offsets()
    at1 = table[table["lead"] == 1]
    np.testing.assert_allclose(points, at1[["permutation_rank", "gradient_rank"]].to_numpy())
    assert fig.get_suptitle() == ""
    assert rank_scatter(table, correlations, data_source="emulated").get_suptitle().startswith("EMULATED")


def test_bad_tables_and_arguments_are_refused() -> None:
    table = synthetic_table()
    with pytest.raises(PlotError, match="lead 2 is not in the table"):
        importance_bars(table, lead=2)
    with pytest.raises(PlotError, match="k must be at least 1"):
        importance_bars(table, lead=1, k=0)
    with pytest.raises(PlotError, match="side_by_side"):
        importance_bars(table.drop(columns="gradient_rank"), lead=1)
    with pytest.raises(PlotError, match="rank_correlation"):
        rank_scatter(table, pd.DataFrame({"lead": [1]}))
    with pytest.raises(PlotError, match="not a channel"):
        rank_scatter(table, pd.DataFrame({"lead": [1, 3], "rho": [0.1, 0.2]}), highlight="tas_anom_9")
