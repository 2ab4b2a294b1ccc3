"""Chapter 11's verdicts, each outcome on synthetic tables: for the letter, against it, and in between."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.pages import discussion as page


def verdict_table(holds: list[bool], zero: str = "") -> pd.DataFrame:
    n = len(holds)
    settings = [f"lead {i}" for i in range(n - 1)] + ["2013"]
    top = ["sic, trend, seasonal" if h else "climate, sic, trend" for h in holds]
    return pd.DataFrame({"axis": ["lead"] * (n - 1) + ["year"], "setting": settings, "holds": holds,
                         "margin": [0.1 if h else -0.2 for h in holds], "top_groups": top,
                         "zero_letter_groups": [zero if not h else "" for h in holds]})


def rankings_for(verdicts: pd.DataFrame, rho: float = 0.8) -> pd.DataFrame:
    rows = [{"axis": a, "setting": s, "level": level, "score": score, "spearman": rho, "top": "siconca_abs_1"}
            for a, s in zip(verdicts["axis"], verdicts["setting"], strict=True)
            for level in ("group", "channel") for score in ("mean_abs", "net")]
    return pd.DataFrame(rows)


def test_letter_claim_is_supported_only_when_the_finding_holds() -> None:
    main = page.main_verdict(verdict_table([True, True]), 2013)
    assert page.letter_claim(main)[1] == "supported"
    main = page.main_verdict(verdict_table([True, False]), 2013)
    assert page.letter_claim(main) == ("top groups per channel: climate, sic, trend (margin -0.20)",
                                       "not supported")
    with pytest.raises(ValueError, match="no year setting 2012"):
        page.main_verdict(verdict_table([True, False]), 2012)


@pytest.mark.parametrize(("holds", "verdict"), [([True, True, True], "supported"),
                                                ([True, False, True], "qualified"),
                                                ([False, False, True], "not supported")])
def test_axis_claim_has_three_outcomes(holds: list[bool], verdict: str) -> None:
    verdicts = verdict_table(holds)
    measure, said = page.axis_claim(verdicts, rankings_for(verdicts, 0.5), "lead")
    assert said == verdict
    assert measure == f"finding holds in {sum(holds[:-1])} of 2; group-ranking rho >= 0.50"


def test_sign_claim_needs_a_mixed_leading_channel() -> None:
    mixed = pd.DataFrame({"channel": ["a", "b"], "mixed": [True, False]})
    assert page.sign_claim(mixed)[1].startswith("supported")
    assert page.sign_claim(mixed.assign(mixed=False))[1].startswith("not needed here")


@pytest.mark.parametrize(("ratio", "verdict"), [(5.0, "supported: concentrated on the ROI (x5.0)"),
                                                (0.2, "supported: mostly remote from the ROI (x0.2)"),
                                                (1.2, "not supported: spread about as evenly as the ocean "
                                                      "(x1.2)")])
def test_place_claim_is_not_supported_by_a_map_spread_like_the_ocean(ratio: float, verdict: str) -> None:
    measure, said = page.place_claim("tas_anom_1", ratio, 0.1)
    assert said == verdict
    assert measure == f"tas_anom_1: ROI holds {ratio * 0.1:.0%} of its |attribution| and 10% of the ocean"


def test_forecast_claim_compares_the_order_of_the_years() -> None:
    observed = {2012: 0.3, 2013: 0.9, 2014: 0.9}
    assert page.forecast_claim({2012: 0.5, 2013: 0.6, 2014: 0.7}, observed)[1] == "years ordered as observed"
    assert page.forecast_claim({2012: 0.7, 2013: 0.6, 2014: 0.7}, observed)[1] == \
        "years ordered differently from observed"
    assert page.forecast_claim({2012: 0.6, 2013: 0.6, 2014: 0.7}, observed)[1] == \
        "years ordered differently from observed", "a forecast tie does not order two observed-distinct years"


def test_supported_count_counts_outright_support_only() -> None:
    claims = page.claims_table([("a", "", "", "supported"), ("b", "", "", "not supported"),
                                ("c", "", "", "qualified"), ("d", "", "", "supported: mostly remote")])
    assert page.supported_count(claims) == 2


def test_robustness_text_is_plain_text_and_says_why_the_seasonal_group_cannot_lead() -> None:
    verdicts = verdict_table([True, False, False], zero="seasonal")
    members = pd.DataFrame({"spearman": [0.4, 0.9]})
    text = page.robustness_text(verdicts, rankings_for(verdicts), members, emulated=True, source="emulated")
    assert text.startswith("The letter's finding holds in 1 of 3 settings (lead lead 0).")
    assert "between 0.40 and 0.90" in text
    assert "the seasonal group has a share of zero" in text and "In 2 settings (lead 1 and 2013)" in text
    assert "*" not in text, "glue:text shows Markdown markers raw"
    assert "emulated Arctic" in text
    observed = page.robustness_text(verdict_table([True, True]), rankings_for(verdict_table([True, True])),
                                    members.iloc[:0], emulated=False, source="NSIDC")
    assert "holds in 2 of 2 settings." in observed and "share of zero" not in observed
    assert observed.endswith("here NSIDC.")
    assert page.holds_count(verdicts) == "The letter's finding holds in 1 of 3 settings"


def test_validation_text_names_the_years_the_network_was_selected_on() -> None:
    splits = {"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)}
    assert page.validation_text([2011, 2012, 2013], splits).startswith(
        "Of the target years, 2012 and 2013 lie in the validation years and 2011 in the training years")
    assert page.validation_text([2019], splits) == \
        "None of the target years was used for training or validation."
    assert page.splits_text(splits).startswith("training 1980-2011, validation 2012-2017, test 2018-2020")
    assert page.splits_text({}) == "recorded in its manifest as unknown (the original IceNet release)"


def test_conclusion_says_whether_the_finding_holds() -> None:
    verdicts = verdict_table([False, True])
    holds = page.conclusion_text(page.main_verdict(verdicts, 2013), verdicts, "emulated", "ig", 2, "Sept")
    assert "the letter's finding holds for the Sept ROI forecast" in holds and "holds in 1 of 2" in holds
    verdicts = verdict_table([True, False])
    fails = page.conclusion_text(page.main_verdict(verdicts, 2013), verdicts, "emulated", "ig", 2, "Sept")
    assert "does not hold" in fails


def test_concentration_of_a_map_inside_the_roi(result_factory) -> None:
    inside = np.zeros((6, 6))
    inside[:2, :2] = 1.0
    result = result_factory({"tas_anom_1": inside})
    share, ratio = page.concentration(result, xr.zeros_like(result["roi"], dtype=float), "tas_anom_1", 1)
    assert share == pytest.approx(4 / 36) and ratio == pytest.approx(9.0)
