"""The verdict on the letter's finding comes out each way on synthetic group rankings."""

from __future__ import annotations

import pandas as pd
import pytest

from icegrad.evaluation.letter import letter_table, verdict


def group_ranking(shares: dict[str, float], width: float = 0.0, ranking: str = "net") -> pd.DataFrame:
    """A one-lead group ranking with the given shares (scores equal to shares) and interval width."""
    rows = [{"lead": 1, "name": name, "score": share, "share": share, "share_low": share - width / 2,
             "share_high": share + width / 2, "ranking": ranking, "method": "integrated_gradients",
             "baseline": "counterfactual"} for name, share in shares.items()]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("shares", "expected", "leading"), [
    ({"sic": 0.5, "trend": 0.2, "seasonal": 0.1, "climate": 0.2}, "supports", "sic"),
    ({"sic": 0.1, "trend": 0.05, "seasonal": 0.0, "climate": 0.8, "static": 0.05}, "against", "climate"),
    ({"sic": 0.3, "trend": 0.3, "seasonal": 0.0, "climate": 0.4}, "mixed", "climate"),
    ({"sic": 0.2, "trend": 0.05, "climate": 0.15, "static": 0.6}, "against", "static"),
    ({"sic": 0.35, "trend": 0.0, "climate": 0.3, "static": 0.35}, "mixed", "sic"),
])
def test_each_outcome(shares: dict[str, float], expected: str, leading: str) -> None:
    table = letter_table(group_ranking(shares))
    assert table["verdict"].tolist() == [expected] and table["leading_group"].tolist() == [leading]
    assert table["letter_share"].iloc[0] == pytest.approx(
        sum(v for k, v in shares.items() if k in ("sic", "trend", "seasonal")))


def test_an_interval_across_one_half_is_undecided() -> None:
    shares = {"sic": 0.46, "trend": 0.09, "climate": 0.45}
    assert letter_table(group_ranking(shares, width=0.0))["verdict"].iloc[0] == "supports"
    assert letter_table(group_ranking(shares, width=0.1))["verdict"].iloc[0] == "undecided"
    assert verdict(0.55, "sic", 0.55, 0.55) == "supports"  # zero width (one member): the interval is silent


def test_one_row_per_ranking_method_baseline_and_lead() -> None:
    both = pd.concat([group_ranking({"sic": 0.9, "climate": 0.1}),
                      group_ranking({"sic": 0.1, "climate": 0.9}, ranking="grid_mean_abs")])
    table = letter_table(both).set_index("ranking")
    assert table.loc["net", "verdict"] == "supports" and table.loc["grid_mean_abs", "verdict"] == "against"


def test_a_joint_interval_replaces_the_summed_bounds() -> None:
    table = group_ranking({"sic": 0.46, "trend": 0.09, "climate": 0.45}, width=0.1)
    joint = pd.DataFrame([{"ranking": "net", "method": "integrated_gradients", "baseline": "counterfactual",
                           "lead": 1, "share": 0.55, "share_low": 0.52, "share_high": 0.58}])
    assert letter_table(table)["verdict"].iloc[0] == "undecided"
    row = letter_table(table, joint).iloc[0]
    assert row["verdict"] == "supports" and row["letter_share_low"] == 0.52
