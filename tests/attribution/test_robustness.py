from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import build_result
from icegrad.evaluation.letter import LETTER_GROUPS, group_order
from icegrad.evaluation.robustness import (
    RobustnessError,
    Setting,
    group_shares,
    item_scores,
    labelled_settings,
    lead_settings,
    member_agreement,
    member_settings,
    rank_correlation,
    robustness,
    sign_mix,
)
from icegrad.variables import CHANNEL_NAMES, channel_groups

SIDE = 6
ATTRS = {"method": "integrated_gradients", "target": "roi_mean_ice", "roi_rule": "test", "model_id": "test",
         "data_source": "emulated", "steps": 8, "baseline": "climatology"}


def synthetic(group_values: dict[str, float], channels: list[str] | None = None, members: int = 2,
              leads: tuple[int, ...] = (1, 2), side: int = SIDE, seed: int = 0) -> xr.Dataset:
    """A result whose every channel has |attribution| = its group's value in every cell (random signs)."""
    channels = list(CHANNEL_NAMES) if channels is None else channels
    groups = channel_groups(channels)
    rng = np.random.default_rng(seed)
    size = np.array([group_values[g] for g in groups])
    signs = rng.choice([-1.0, 1.0], size=(members, len(leads), side, side, len(channels)))
    attribution = signs * size
    sample = xr.DataArray(np.zeros((side, side, len(channels))), dims=("y", "x", "channel"),
                          coords={"channel": channels, "y": np.arange(side) * 1e5,
                                  "x": np.arange(side) * 1e5})
    return build_result(attribution, np.zeros((len(leads), side, side, len(channels))),
                        np.full((members, len(leads)), 0.5), None, sample, np.ones((side, side), bool),
                        leads, ATTRS)


LETTER = {"sic": 5.0, "trend": 4.0, "climate": 1.0, "seasonal": 3.0, "static": 0.5}
CLIMATE = {"sic": 1.0, "trend": 1.0, "climate": 5.0, "seasonal": 0.5, "static": 0.1}


def test_a_ranking_agrees_with_itself() -> None:
    result = synthetic(LETTER, seed=1)
    scores = item_scores(Setting("x", "y", result), "channel")
    assert rank_correlation(scores, scores) == pytest.approx((1.0, 1.0))
    summary = robustness(lead_settings(result))
    magnitude = summary.rankings[summary.rankings["score"] == "mean_abs"]
    np.testing.assert_allclose(magnitude["spearman"], 1.0)  # every lead's magnitudes are the pooled ones
    assert magnitude["same_top"].all() and len(magnitude) == 2 * 2  # 2 leads x (group, channel)


def test_verdict_holds_where_the_letter_groups_dominate_and_not_where_climate_does() -> None:
    letter, climate = synthetic(LETTER), synthetic(CLIMATE)
    cases = {"letter": letter, "climate": climate}
    summary = robustness(labelled_settings("case", cases, reference="letter"))
    verdicts = summary.verdicts.set_index("setting")
    assert bool(verdicts.loc["letter", "holds"]) and verdicts.loc["letter", "margin"] > 0
    assert set(verdicts.loc["letter", "top_groups"].split(", ")) == set(LETTER_GROUPS)
    assert not verdicts.loc["climate", "holds"] and verdicts.loc["climate", "margin"] < 0
    assert verdicts.loc["climate", "top_groups"].startswith("climate")
    rankings = summary.rankings.set_index(["setting", "level", "score"])
    assert rankings.loc[("climate", "group", "mean_abs"), "top"] == "climate"
    assert rankings.loc[("climate", "group", "mean_abs"), "spearman"] < 1


def test_group_totals_favour_big_groups_and_are_reported_beside_the_verdict() -> None:
    # per channel the letter's groups lead; summed over channels, 29 climate channels out-total them
    values = {"sic": 3.0, "trend": 3.0, "climate": 1.0, "seasonal": 3.0, "static": 0.1}
    row = robustness([Setting("case", "big climate", synthetic(values))]).verdicts.iloc[0]
    assert row["holds"] and not row["holds_by_total"]
    assert "climate" in row["top_groups_by_total"].split(", ")  # 29 x 1 beats seasonal 2 x 3


@settings(max_examples=25, deadline=None)
@given(values=st.lists(st.floats(0.01, 10.0), min_size=5, max_size=5),
       keep=st.lists(st.floats(0.0, 1.0), min_size=5, max_size=5))
def test_per_channel_shares_do_not_depend_on_group_size(values: list[float], keep: list[float]) -> None:
    group_values = dict(zip(["sic", "trend", "climate", "seasonal", "static"], values, strict=True))
    full = group_shares([Setting("n", "all", synthetic(group_values))]).set_index("group")
    groups = channel_groups(list(CHANNEL_NAMES))
    kept = []  # keep a fraction of each group's channels, at least one
    for group, fraction in zip(group_values, keep, strict=True):
        names = [c for c, g in zip(CHANNEL_NAMES, groups, strict=True) if g == group]
        kept += names[:max(1, round(fraction * len(names)))]
    part = group_shares([Setting("n", "part", synthetic(group_values, channels=kept))]).set_index("group")
    np.testing.assert_allclose(part["share"], full["share"], rtol=1e-6)
    expected = np.array(values) / sum(values)
    np.testing.assert_allclose(full.loc[list(group_values), "share"], expected, rtol=1e-6)
    assert full["share_total"].sum() == pytest.approx(1.0)


def test_zero_letter_group_is_named_and_cannot_lead() -> None:
    verdict = group_order(group_shares([Setting("b", "clim", synthetic({**LETTER, "seasonal": 1e-9}))])
                           .set_index("group")["share"])
    assert not verdict["holds"] and verdict["zero_letter_groups"] == ["seasonal"]


def test_members_and_leads() -> None:
    result = synthetic(LETTER, members=3, leads=(1, 3, 6))
    assert [s.label for s in lead_settings(result)] == ["lead 1", "lead 3", "lead 6"]
    agreement = member_agreement(result, level="group")
    assert len(agreement) == 3 * 3  # 3 pairs at each of 3 leads
    np.testing.assert_allclose(agreement["spearman"], 1.0)  # members differ only in signs of the maps
    summary = robustness(member_settings(result))
    assert len(summary.members) == 3 * 3 and summary.verdicts["holds"].all()


def test_incomparable_results_are_refused() -> None:
    result = synthetic(LETTER)
    fewer = synthetic(LETTER, channels=[*CHANNEL_NAMES[:30], "land", "cos_month", "sin_month"])
    with pytest.raises(RobustnessError, match="other channels"):
        robustness([Setting("a", "1", result), Setting("a", "2", fewer)])
    with pytest.raises(RobustnessError, match="another grid"):
        labelled_settings("year", {2012: result, 2013: synthetic(LETTER, side=SIDE + 2)}, reference=2013)
    with pytest.raises(RobustnessError, match="reference 2014"):
        labelled_settings("year", {2012: result}, reference=2014)
    with pytest.raises(RobustnessError, match="lead 5 is not in"):
        item_scores(Setting("lead", "5", result, lead=5))
    with pytest.raises(AttributionError, match="not an attribution result"):
        robustness([Setting("a", "1", result.drop_vars("attribution"))])
    with pytest.raises(RobustnessError, match="unknown level"):
        item_scores(Setting("a", "1", result), level="pixel")


def test_sign_mix_tells_one_signed_from_two_signed_maps() -> None:
    result = synthetic(LETTER)
    one_way = abs(result["attribution"]).where(result["channel"] != "siconca_abs_2",
                                               result["attribution"])
    table = sign_mix(result.assign(attribution=one_way), lead=1, k=12).set_index("channel")
    assert table.loc["siconca_abs_1", "minority"] == 0 and not table.loc["siconca_abs_1", "mixed"]
    assert table.loc["siconca_abs_2", "mixed"] and 0.25 <= table.loc["siconca_abs_2", "minority"] <= 1
    assert len(table) == 12 and set(table["group"]) == {"sic"}  # the 12 largest are the sic channels
