"""Chapter 8's sentences on synthetic side-by-side tables: each verdict in each of its outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.pages import permute_and_predict as page


def side_by_side(permutation: list[float], gradient: list[float], sem: float = 0.01,
                 channels: list[str] | None = None, lead: int = 1) -> pd.DataFrame:
    channels = channels or ["siconca_abs_1", "tas_anom_1", "cos_month", "sin_month"][:len(permutation)]
    table = pd.DataFrame({"lead": lead, "channel": channels,
                          "group": ["seasonal" if c.endswith("_month") else "sic" if c.startswith("siconca")
                                    else "climate" for c in channels],
                          "permutation_importance": permutation, "permutation_sem": sem,
                          "gradient_importance": gradient})
    table["permutation_rank"] = table["permutation_importance"].rank(ascending=False)
    table["gradient_rank"] = table["gradient_importance"].rank(ascending=False)
    return table


@pytest.mark.parametrize(("rho", "words"), [(0.9, "broadly agree"), (0.5, "partly agree"),
                                            (0.1, "agree little"), (-0.3, "disagree"),
                                            (math.nan, "cannot be compared (one ranking is all ties)")])
def test_agreement_words_follow_the_correlation(rho: float, words: str) -> None:
    assert page.agreement(rho) == words


def test_rho_text_labels_undefined_correlations() -> None:
    correlations = pd.DataFrame({"lead": [1, 3], "rho": [0.456, math.nan], "n": [4, 4]})
    assert page.rho_text(correlations) == "lead 1: 0.46; lead 3: undefined (one ranking is all ties)"


def test_agreement_text_names_both_leaders_and_the_shared_top() -> None:
    first = side_by_side([3.0, 1.0, 0.5, 0.2], [1.0, 5.0, 0.1, 0.0])
    correlations = pd.DataFrame({"lead": [1], "rho": [0.8], "n": [4]})
    text = page.agreement_text(first, correlations, top_k=2)
    assert text.startswith("At lead 1 the two channel rankings broadly agree (Spearman's rho 0.80 over 4")
    assert "Permute-and-predict puts siconca_abs_1 first (3.00 percentage points; gradient rank 2)" in text
    assert "gradients put tas_anom_1 first (permutation rank 2, 1.00 points)" in text
    assert text.endswith("2 channels are in both top 2s")


def importance_test(lows: list[float], members: int = 2, permutations: int = 2) -> pd.DataFrame:
    """A one-lead importance_test table whose intervals run from ``lows`` to ``lows + 1``."""
    return pd.DataFrame({"lead": 1, "channel": [f"c{i}" for i in range(len(lows))], "low": lows,
                         "high": [low + 1 for low in lows],
                         "indistinguishable": [low <= 0 <= low + 1 for low in lows],
                         "members": members, "permutations": permutations})


def test_indistinct_counts_the_channels_whose_interval_holds_zero() -> None:
    test = importance_test([0.5, -0.5, -1.0, -2.0])  # -0.5..0.5 and -1..0 hold zero; the others do not
    assert page.indistinct(test, 1) == 2 and page.indistinct(test.assign(lead=3), 1) == 0
    assert page.indistinct_text(test, 1).startswith("2 of the 4 channels have a permutation importance at "
                                                    "lead 1 whose 95 % bootstrap interval over the 2 members")


@pytest.mark.parametrize(("members", "permutations", "rough"), [(2, 2, True), (5, 10, False)])
def test_indistinct_text_calls_an_interval_of_few_draws_rough(members: int, permutations: int,
                                                             rough: bool) -> None:
    text = page.indistinct_text(importance_test([0.5, -0.5], members, permutations), 1)
    assert ("the interval is itself rough" in text) is rough
    assert f"over the {members} members × {permutations} permutations (each member its own)" in text


def test_counts_are_singular_only_for_one() -> None:
    from icegrad.pages.common import counted

    assert [counted(n, "permutation") for n in (0, 1, 2)] == \
        ["0 permutations", "1 permutation", "2 permutations"]


def permutation_result(members: int = 2, permutations: int = 2, items: int = 50, starts: int = 31,
                       by: str = "channel") -> xr.Dataset:
    """A result with only the sizes of a permute-and-predict result."""
    return xr.Dataset({"importance": (("member", "permutation", by, "start"),
                                      np.zeros((members, permutations, items, starts)))})


def test_forecasts_and_cost_follow_the_result_sizes() -> None:
    result = permutation_result()
    assert page.forecasts(result) == 2 * 31 * (1 + 2 * 50)
    assert page.forecasts(result, 10) == 2 * 31 * (1 + 10 * 50)
    assert page.forecasts(permutation_result(items=5, by="group")) == 2 * 31 * 11
    assert page.cost_text(1000, 2.5) == (
        "Permute-and-predict took 1,000 forecasts here, 2.5 s of computation (2.50 ms per forecast, measured "
        "when the results were computed and kept with them in the cache)")


def test_permutations_text_estimates_ten_only_when_the_run_used_fewer() -> None:
    channels, groups = permutation_result(), permutation_result(items=5, by="group")
    done = 2 * 31 * 101 + 2 * 31 * 11
    text = page.permutations_text([channels, groups], seconds=done / 1000)  # 1 ms per forecast
    needed = 2 * 31 * 501 + 2 * 31 * 51
    assert text.startswith("This run used 2 permutations per member, fewer than the 10 of the IceNet paper")
    assert f"10 would take {needed:,} forecasts, about {needed / 1000:.0f} s" in text
    assert text.endswith("(run the chapter with -p n_permutations 10)")
    enough = page.permutations_text([permutation_result(permutations=10)], seconds=1.0)
    assert enough == "This run used 10 permutations, at least the 10 of the IceNet paper"
    one = page.permutations_text([permutation_result(permutations=1)], seconds=1.0)
    assert one.startswith("This run used 1 permutation per member, fewer than the 10")


def test_seasonal_text_with_no_month_inputs() -> None:
    first = side_by_side([1.0, 0.5], [1.0, 0.5])
    assert page.seasonal_text(first, "integrated_gradients", "climatology", 10) == \
        "This network reads no seasonal (cos/sin month) inputs"


@pytest.mark.parametrize(("baseline", "reason", "question"), [
    ("climatology", "is the mean input of the same calendar month", "what differs from a typical year"),
    ("counterfactual", "is the input of the same forecast in the reference year, started in the same",
     "what differs from the same forecast in the reference year"),
    ("persistence", "is the input of the same forecast one year earlier, started in the same calendar month",
     "what differs from last year's forecast"),
])
def test_seasonal_text_calls_a_high_permutation_rank_a_disagreement_by_construction(
        baseline: str, reason: str, question: str) -> None:
    first = side_by_side([0.1, 0.2, 3.0, 0.3], [1.0, 0.5, 0.0, 0.0])
    text = page.seasonal_text(first, "integrated_gradients", baseline, top_k=2)
    assert text.startswith("One disagreement is by construction")
    assert reason in text and f"The gradients here ask {question}" in text
    assert "3.00 points (cos_month, rank 1)" in text


@pytest.mark.parametrize("baseline", ["climatology", "counterfactual", "persistence"])
def test_seasonal_text_when_the_month_inputs_matter_under_neither_method(baseline: str) -> None:
    first = side_by_side([3.0, 2.0, 0.1, 0.05], [1.0, 0.5, 0.0, 0.0])
    text = page.seasonal_text(first, "integrated_gradients", baseline, top_k=2)
    assert text.startswith("The month inputs get no attribution by construction: the ")
    assert page.SAME_MONTH_BASELINES[baseline][0] in text


def test_seasonal_text_otherwise_gives_both_ranks() -> None:
    first = side_by_side([3.0, 2.0, 0.1, 0.05], [1.0, 0.5, 0.2, 0.1])
    assert page.seasonal_text(first, "integrated_gradients", "zeros", 2) == (
        "The month inputs rank 3 (cos_month) and 4 (sin_month) by gradients and 3 and 4 by "
        "permute-and-predict")
    zero_gradient = side_by_side([3.0, 2.0, 0.1, 0.05], [1.0, 0.5, 0.0, 0.0])
    assert page.seasonal_text(zero_gradient, "vanilla_gradient", "climatology", 2).startswith(
        "The month inputs rank"), "only an IG baseline of the same month zeroes them by construction"
    assert page.seasonal_text(zero_gradient, "integrated_gradients", "zeros", 2).startswith(
        "The month inputs rank"), "zeros is no baseline of the same month"


@pytest.mark.parametrize(("reason", "start"), [
    ("small and coherent", "tas_anom_1 is the channel this rule picks: of the 3 channels"),
    ("small, sign mixed", "None of the 3 channels with a small permutation importance has a sign coherence"),
    ("none small", "No channel's permutation importance is small in this run")])
def test_example_rule_says_which_rule_picked_the_example(reason: str, start: str) -> None:
    text = page.example_rule(pd.Series({"channel": "tas_anom_1", "n_small": 3, "reason": reason}))
    assert text.startswith(start) and "tas_anom_1" in text


@pytest.mark.parametrize(("net", "direction", "agree"), [(0.5, "raised", 2), (-0.5, "lowered", 1)])
def test_example_text_gives_direction_and_member_agreement(net: float, direction: str, agree: int) -> None:
    pick = pd.Series({"channel": "tas_anom_1", "permutation_importance": 0.01, "permutation_sem": 0.02,
                      "permutation_rank": 40.0, "roi_net": net, "gradient_rank": 3.0, "sign_coherence": 0.8,
                      "roi_share": 0.3})
    per_member = xr.DataArray([0.4, 0.6, -0.1], dims="member")
    text = page.example_text(pick, per_member, 50, 1, 0.05)
    assert f"by contrast, {direction} the ROI forecast" in text
    assert f"{agree} of the 3 members agree on the sign" in text
    assert "changes the binary accuracy at lead 1 by -0.01 ± 0.02 percentage points" in text


def test_group_texts() -> None:
    assert page.group_sizes_text(["sic", "sic", "static"]) == "sic: 2 channels, static: 1 channel"
    groups = pd.DataFrame({"lead": 1, "group": ["sic", "trend", "climate"], "permutation_rank": [1, 3, 2],
                           "gradient_rank": [2, 1, 3]})
    correlations = pd.DataFrame({"lead": [1], "rho": [0.5], "n": [3]})
    assert page.group_text(groups, correlations, 1) == (
        "Over the 3 groups the rank correlation is lead 1: 0.50. At lead 1 permute-and-predict ranks sic, "
        "climate, trend and gradients rank trend, sic, climate")
