"""The verdict on the letter's finding comes out each way on synthetic group rankings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.rankings import RANKINGS, ranking
from icegrad.attribution.results import build_result
from icegrad.evaluation.letter import LETTER_GROUPS, ZERO_SHARE, group_order, letter_table, verdict
from icegrad.variables import CHANNEL_NAMES, channel_groups

SIDE = 5


def synthetic_result(per_group: dict[str, np.ndarray], members: int, spread: float) -> xr.Dataset:
    """A one-lead result: every channel of a group has the map ``per_group[group]``, member m scaled by
    (1 + spread * m) on its SIC channels only, so the members' shares differ; other groups are zero."""
    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    maps = np.stack([per_group.get(g, np.zeros((SIDE, SIDE))) for g in groups], axis=-1)
    scale = np.where(groups == "sic", 1.0, 0.0)
    attribution = np.stack([maps * (1 + spread * m * scale) for m in range(members)])[:, np.newaxis]
    x = np.random.default_rng(0).standard_normal((1, SIDE, SIDE, len(CHANNEL_NAMES))).astype("float32")
    sample = xr.DataArray(x[0], dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES)})
    roi = np.zeros((SIDE, SIDE), bool)
    roi[:2, :2] = True
    target = np.full((members, 1), 0.6)
    return build_result(attribution, x, target, target - 0.1, sample, roi, (1,),
                        {"method": "integrated_gradients", "target": "t", "roi_rule": "r", "model_id": "m",
                         "data_source": "emulated", "steps": 8, "baseline": "counterfactual (test)"})


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


@pytest.mark.parametrize(("shares", "holds", "top"), [
    ({"sic": 0.3, "trend": 0.25, "seasonal": 0.2, "climate": 0.15, "static": 0.1}, True,
     ["sic", "trend", "seasonal"]),
    ({"sic": 0.3, "trend": 0.25, "seasonal": 0.1, "climate": 0.2, "static": 0.15}, False,
     ["sic", "trend", "climate"]),
])
def test_group_order_holds_only_when_the_letter_groups_lead(shares: dict[str, float], holds: bool,
                                                            top: list[str]) -> None:
    order = group_order(pd.Series(shares))
    assert order["holds"] is holds and order["top"] == top
    assert (order["margin"] > 0) is holds and order["zero_letter_groups"] == []


def test_group_order_names_zero_groups_and_needs_a_letter_group() -> None:
    order = group_order(pd.Series({"sic": 0.6, "trend": 0.4, "seasonal": ZERO_SHARE / 10, "climate": 0.1}))
    assert order["zero_letter_groups"] == ["seasonal"] and not order["holds"]
    with pytest.raises(AttributionError, match="none of the letter's groups"):
        group_order(pd.Series({"climate": 1.0}))


def test_letter_verdicts_match_the_rankings_and_score_each_ranking_once(monkeypatch: pytest.MonkeyPatch
                                                                        ) -> None:
    from icegrad.attribution import rankings
    from icegrad.evaluation import letter

    calls = []

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[1])
        return rankings.member_scores(*args, **kwargs)

    rng = np.random.default_rng(1)
    maps = {group: rng.uniform(0, 1, (SIDE, SIDE)) for group in ("sic", "climate")}
    ds = synthetic_result(maps, members=4, spread=0.5)
    monkeypatch.setattr(letter, "member_scores", counted)
    table = letter.letter_verdicts([ds], n_boot=50).set_index("ranking")
    assert sorted(calls) == sorted(RANKINGS)  # one group scoring per ranking, shared by both intervals
    for name in RANKINGS:
        expected = ranking(ds, name, "group", n_boot=1)
        assert table.loc[name, "letter_share"] == pytest.approx(
            expected[expected["name"].isin(LETTER_GROUPS)]["share"].sum())
        assert table.loc[name, "letter_share_low"] <= table.loc[name, "letter_share"] \
            <= table.loc[name, "letter_share_high"]
    single = letter.letter_verdicts([ds], ["net"], n_boot=1).iloc[0]
    assert single["letter_share_low"] == single["letter_share_high"]  # one draw: no interval
    with pytest.raises(AttributionError, match="n_boot"):
        letter.letter_verdicts([ds], n_boot=0)
    with pytest.raises(AttributionError, match="share a method and baseline"):
        letter.letter_verdicts([ds, ds])
