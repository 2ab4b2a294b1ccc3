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
    blank = ("", "", "", "", "")
    claims = page.claims_table([("a", *blank, "supported"), ("b", *blank, "not supported"),
                                ("c", *blank, "qualified"), ("d", *blank, "supported: mostly remote"),
                                ("e", *blank, "supports"), ("f", *blank, "undecided")])
    assert page.supported_count(claims) == 3


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


def test_concentration_of_a_map_inside_the_roi(result_factory) -> None:
    inside = np.zeros((6, 6))
    inside[:2, :2] = 1.0
    result = result_factory({"tas_anom_1": inside})
    share, ratio = page.concentration(result, xr.zeros_like(result["roi"], dtype=float), "tas_anom_1", 1)
    assert share == pytest.approx(4 / 36) and ratio == pytest.approx(9.0)


def letter_verdicts(verdicts: list[str], method: str = "integrated_gradients", baseline: str = "climatology",
                    leads: list[int] | None = None) -> pd.DataFrame:
    """A letter_verdicts table: one row per ranking (cycled) with the given verdicts."""
    rankings = ["grid_mean_abs", "roi_mean_abs", "net", "roi_net"]
    return pd.DataFrame({"ranking": [rankings[i % 4] for i in range(len(verdicts))], "method": method,
                         "baseline": baseline, "lead": leads or [1] * len(verdicts),
                         "letter_share": 0.6, "letter_share_low": 0.45, "letter_share_high": 0.7,
                         "leading_group": "sic", "verdict": verdicts})


@pytest.mark.parametrize(("verdicts", "said"), [(["supports", "supports"], "supported"),
                                                (["supports", "undecided"], "qualified"),
                                                (["against", "mixed"], "not supported")])
def test_across_claim_has_three_outcomes(verdicts: list[str], said: str) -> None:
    measure, verdict = page.across_claim(letter_verdicts(verdicts))
    assert verdict == said
    assert measure.startswith(f"supports in {verdicts.count('supports')} of 2 (")


def test_letter_claims_give_data_method_ranking_and_interval() -> None:
    rows = page.letter_claims(letter_verdicts(["supports", "against"], leads=[1, 3]), "emulated", lead=1)
    assert rows == [[page.LETTER_CLAIM, "ch. 6 (rankings); the verdicts by method above", "emulated",
                     "integrated_gradients (climatology)", "grid_mean_abs",
                     "letter groups' share 0.60 (90 % interval across members 0.45-0.70), leading group sic",
                     "supports"]]


def test_letter_text_counts_every_verdict_and_explains_undecided() -> None:
    table = pd.concat([letter_verdicts(["supports", "against", "mixed", "supports"]),
                       letter_verdicts(["against"] * 4, method="vanilla_gradient", baseline="none")])
    text = page.letter_text(table)
    assert text == ("Over 2 methods and baselines × 4 rankings at lead 1, 8 verdicts on the letter's "
                    "finding: 2 supports, 5 against, 1 mixed, 0 undecided.")
    undecided = page.letter_text(letter_verdicts(["undecided", "supports"], leads=[1, 3]))
    assert "at leads 1 and 3" in undecided and "1 undecided (undecided: the 90 % interval" in undecided
    pivot = page.letter_pivot(table)
    assert pivot.loc[("vanilla_gradient", "none", 1), "net"] == "against (0.60)"


@pytest.mark.parametrize("passed", [True, False])
def test_each_check_passes_or_fails_on_its_number(passed: bool) -> None:
    rows = [page.skill_check(1.5 if passed else -0.5),
            page.completeness_check({"baseline zeros": 0.001,
                                     "baseline climatology": 0.01 if passed else 0.08}, tolerance=0.02),
            page.randomisation_check(0.3 if passed else 0.93, threshold=0.5),
            page.fidelity_check(0.8 if passed else 0.2)]
    assert [row["outcome"] for row in rows] == ["pass" if passed else "fail"] * 4
    assert "(baseline climatology)" in rows[1]["measure (this run)"]
    assert page.fidelity_check(None)["outcome"] == "not run"


def test_failed_text_lists_exactly_the_failed_checks() -> None:
    failing = [page.skill_check(-0.5), page.randomisation_check(0.93, 0.5), page.fidelity_check(None)]
    text = page.failed_text(pd.DataFrame(failing))
    assert text.startswith("2 of the book's 3 checks failed in this run")
    assert "skill against the linear trend (ch. 4: binary accuracy gain -0.50 points, asked gain above 0)" \
        in text
    assert "parameter randomisation (ch. 5:" in text and "fidelity" not in text
    fixed = page.failed_text(pd.DataFrame([page.skill_check(0.5), *failing[1:]]))
    assert fixed.startswith("1 of the book's 3 checks failed") and "skill" not in fixed, "a pass drops out"
    assert page.failed_text(pd.DataFrame([page.skill_check(0.5)])) == \
        "None of the book's 1 checks failed in this run."
    assert page.failed_short(pd.DataFrame(failing)) == \
        "2 of 3 failed (skill against the linear trend and parameter randomisation)"
    assert page.failed_short(pd.DataFrame([page.skill_check(0.5)])) == "0 of 1 failed"


def test_conclusion_counts_the_runs_own_verdicts_and_all() -> None:
    table = pd.concat([letter_verdicts(["supports", "against", "mixed", "supports"]),
                       letter_verdicts(["supports"] * 4, method="vanilla_gradient", baseline="none")])
    text = page.conclusion_text(table, "integrated_gradients", "climatology", "emulated", 2, "Sept")
    assert "is supported under 2 of 4 rankings with integrated_gradients (climatology)" in text
    assert text.endswith("and in 6 of 8 combinations of method, baseline and ranking.")


@pytest.mark.parametrize("unfaithful", [[], ["vanilla gradient"], ["vanilla gradient", "smoothgrad"]])
def test_faithfulness_check_and_limit_name_the_methods_not_more_faithful_than_random(
        unfaithful: list[str]) -> None:
    methods = ["integrated gradients (climatology)", "vanilla gradient", "smoothgrad"]
    row = page.faithfulness_check(unfaithful, len(methods), 3)
    assert row["outcome"] == ("pass" if not unfaithful else "fail")
    assert row["measure (this run)"] == \
        f"{3 - len(unfaithful)} of 3 methods more faithful than random at lead 3"
    limit = page.faithfulness_limit(unfaithful, methods, 3)
    if not unfaithful:
        assert limit.startswith("At lead 3 every method compared (integrated gradients (climatology), "
                                "vanilla gradient and smoothgrad) is more faithful than random")
    elif len(unfaithful) == 1:
        assert limit.startswith("At lead 3, vanilla gradient is not more faithful than random")
        assert "so its rankings and maps say little" in limit
    else:
        assert limit.startswith("At lead 3, vanilla gradient and smoothgrad are not more faithful than "
                                "random")
        assert "so their rankings and maps say little" in limit
    failed = page.failed_text(pd.DataFrame([page.skill_check(0.5), row]))
    assert ("deletion/insertion faithfulness (ch. 9: " in failed) == bool(unfaithful)


@pytest.mark.parametrize("failing", [[], ["smoothgrad"], ["smoothgrad", "vanilla_gradient"], None])
def test_data_randomisation_check_and_limit_name_the_methods_whose_maps_survive(failing: list | None) -> None:
    methods = ["integrated_gradients", "smoothgrad", "vanilla_gradient"]
    similarity = None if failing is None else pd.DataFrame(
        {"spearman_sensitivity": [0.8 if m in failing else 0.2 for m in methods]}, index=methods)
    row = page.data_randomisation_check(similarity, 0.5)
    limit = page.data_randomisation_limit(similarity, 0.5)
    if failing is None:
        assert row["outcome"] == "not run" and "not cached" in row["measure (this run)"]
        assert limit.startswith("Chapter 5's data-randomisation test was not run")
    elif not failing:
        assert row["outcome"] == "pass"
        assert row["measure (this run)"].endswith(": 0.20 (integrated gradients)")
        assert limit.startswith("Every method's maps change when the network is trained on shuffled targets")
    elif len(failing) == 1:
        assert row["outcome"] == "fail" and row["measure (this run)"].endswith(": 0.80 (smoothgrad)")
        assert limit.startswith("Smoothgrad gives much the same maps")
        assert "its maps explain the input" in limit
    else:
        assert row["outcome"] == "fail"
        assert limit.startswith("Smoothgrad and vanilla gradient give much the same maps")
        assert "their maps explain the input" in limit
    failed = page.failed_text(pd.DataFrame([page.skill_check(0.5), row]))
    assert ("data randomisation (ch. 5:" in failed) == bool(failing)


@pytest.mark.parametrize(("steps", "check_steps"), [(64, 16), (8, 8)])
def test_the_randomisation_check_quotes_the_test_chapter_5_ran(monkeypatch: pytest.MonkeyPatch, emulated_run,
                                                               steps: int, check_steps: int) -> None:
    # Same steps as ch. 5's test (its notebook's check_steps), so the discussion reads that cached test
    # and quotes the number ch. 5 shows, rather than attributing ten networks again at the run's steps.
    from icegrad.evaluation import sanity
    from icegrad.model import skill
    from icegrad.pages import gradient_attribution as ch5
    from icegrad.pages.common import Page

    asked = []

    def randomisation_section(run, lead, n_steps):
        asked.append((lead, n_steps))
        return Page({"random_abs_max": 0.2})

    accuracy = xr.DataArray([[95.0, 94.0], [94.0, 93.0]], dims=("model", "lead"),
                            coords={"model": ["icenet", "linear_trend"], "lead": [1, 2]})
    monkeypatch.setattr(ch5, "randomisation_section", randomisation_section)
    monkeypatch.setattr(skill, "evaluate_skill", lambda ens, ds: xr.Dataset({"binary_accuracy": accuracy}))
    monkeypatch.setattr(sanity, "ensemble_completeness",
                        lambda result: pd.DataFrame({"relative_error": [0.001]}))
    run = emulated_run(None, steps=steps)
    run.ds.attrs["data_source"] = "nsidc"  # no truth to score: the fidelity check is skipped
    ig = xr.Dataset(attrs={"method": "integrated_gradients", "baseline": "zeros"})
    table = page.checks(run, {"integrated_gradients (zeros)": ig}, 1, [], None)
    assert asked == [(1, check_steps)] == [(1, ch5.check_steps(steps))]
    row = table[table.iloc[:, 0] == "parameter randomisation"].iloc[0]
    assert "0.20" in row.iloc[2]


def test_the_discussion_explains_every_year_method_and_baseline_through_one_engine_cache(
        monkeypatch: pytest.MonkeyPatch, emulated_run) -> None:
    """An engine cache per call compiled the network again for each of the eight runs."""
    from icegrad.attribution.methods import EngineCache
    from icegrad.pages.common import Run

    caches: list[EngineCache] = []

    def explain(self: Run, target_month: str | None = None, **kwargs: object) -> str:
        caches.append(kwargs["engines"])
        return f"{target_month} {kwargs.get('method')} {kwargs.get('baseline')} {kwargs.get('leads')}"

    monkeypatch.setattr(Run, "explain", explain)
    by_year, by_method, _ = page.explain_all(emulated_run("main"), [2012, 2014],
                                             ["integrated_gradients", "vanilla_gradient"], 1)
    assert by_year[2013] == "main" and by_year[2012].startswith("2012-09")
    # the other years at the check lead only, as the methods: a year at every lead costs six
    assert by_year[2012].endswith("[1]") and by_year[2014].endswith("[1]")
    assert len(caches) == len(by_year) - 1 + len(by_method) and len({id(c) for c in caches}) == 1
