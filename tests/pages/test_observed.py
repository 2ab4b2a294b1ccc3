"""The observed comparison's verdicts, each outcome on chosen numbers, and when the comparison is made."""

from __future__ import annotations

import pandas as pd
import pytest

from icegrad.config import RunConfig
from icegrad.pages import observed as page
from icegrad.variables import CHANNEL_NAMES, SIC_ONLY_CHANNEL_NAMES


@pytest.mark.parametrize(("config", "expected"), [
    (RunConfig(), ("nsidc", 100)),
    (RunConfig(resolution_km=200), ("nsidc", 200)),
    (RunConfig(resolution_km=25), ("nsidc", 100)),  # the embedded monthly record has 100 and 200 km only
    (RunConfig(observed_source=""), None),
    (RunConfig(data_source="nsidc"), None),  # the run is itself the observed one
])
def test_the_comparison_run_is_the_run_on_the_observed_source(config: RunConfig, expected) -> None:
    made = page.observed_config(config)
    assert (made if made is None else (made.data_source, made.resolution_km)) == expected
    if made is not None:
        assert made.leads == config.leads and made.members == config.members


def test_a_chapter_without_the_comparison_says_why_and_how() -> None:
    assert "observed_source = \"nsidc\"" in page.skipped(RunConfig(observed_source="")).notes[0]
    assert page.skipped(RunConfig(data_source="nsidc")).notes[0].startswith("This run is itself on observed")


def test_what_the_sic_only_network_cannot_test_is_named_from_its_channels() -> None:
    text = page.untestable_text(SIC_ONLY_CHANNEL_NAMES)
    assert text.startswith("What this cannot test: the SIC-only network lacks IceNet's 29 climate inputs")
    assert "cannot say whether they matter less than sea ice" in text
    assert "tested too" in page.untestable_text(CHANNEL_NAMES)


def accuracy(icenet: list[float]) -> pd.DataFrame:
    return pd.DataFrame([icenet, [80.0, 80.0, 80.0], [85.0, 75.0, 70.0]], index=["icenet", "linear_trend",
                        "persistence"], columns=[1, 2, 3])


@pytest.mark.parametrize(("icenet", "said"), [
    ([90.0, 90.0, 90.0], "beats the linear trend at every lead and beats persistence at every lead"),
    ([70.0, 70.0, 60.0], "beats the linear trend at no lead and beats persistence at no lead"),
    ([82.0, 79.0, 72.0], "beats the linear trend at lead 1 only and beats persistence at leads 2, 3 only"),
])
def test_skill_text_each_outcome(icenet: list[float], said: str) -> None:
    text = page.skill_text(accuracy(icenet))
    assert said in text and "against 80.0 % for the trend and 76.7 % for persistence" in text


@pytest.mark.parametrize(("observed", "start"), [
    ({1: "sic", 3: "trend"}, "with the same group as the emulated run at every lead (sic at lead 1; trend "
                             "at lead 3)"),
    ({1: "trend", 3: "sic"}, "with another group than the emulated run at every lead (trend instead of sic "
                             "at lead 1; sic instead of trend at lead 3)"),
    ({1: "sic", 3: "sic"}, "with the same group as the emulated run at lead 1 (sic at lead 1) and with "
                           "another at lead 3 (sic instead of trend)"),
])
def test_agreement_text_each_outcome(observed: dict[int, str], start: str) -> None:
    text = page.agreement_text({1: "sic", 3: "trend"}, observed)
    assert text.startswith(f"The observed network leads {start}")


@pytest.mark.parametrize(("lags", "start"), [
    ({1: [1, 2], 3: [1, 12]}, "The latest month of SIC (lag 1) matters most of the SIC lags at every lead"),
    ({1: [12, 1], 3: [11, 1]}, "An older month of SIC, not the latest, matters most"),
    ({1: [1, 12], 3: [11, 1]}, "The latest month of SIC (lag 1) matters most of the SIC lags at lead 1 only"),
])
def test_sic_lags_text_each_outcome(lags: dict[int, list[int]], start: str) -> None:
    text = page.sic_lags_text(lags)
    assert text.startswith(start) and text.endswith(f"lead 3: {', '.join(map(str, lags[3]))}.")


@pytest.mark.parametrize(("trend", "start"), [
    ({1: 0.1, 3: 0.2}, "Persistence over trend"),
    ({1: 0.9, 3: 0.8}, "Trend over persistence"),
    ({1: 0.1, 3: 0.8}, "The trend inputs carry more mean |attribution| than past SIC at lead 3, past SIC at "
                       "lead 1"),
])
def test_trend_persistence_text_each_outcome(trend: dict[int, float], start: str) -> None:
    assert page.trend_persistence_text({1: 0.5, 3: 0.5}, trend).startswith(start)


@pytest.mark.parametrize(("main", "observed", "said"), [
    (2.0, 3.0, "concentrates on the ROI (share inside over the ROI's share of the ocean 3.0); so does "
               "the emulated run's (2.0)"),
    (0.5, 0.8, "is not concentrated on the ROI (share inside over the ROI's share of the ocean 0.8); "
               "neither is the emulated run's (0.5)"),
    (2.0, 0.8, "is not concentrated on the ROI (share inside over the ROI's share of the ocean 0.8); "
               "the emulated run's does (2.0)"),
    (0.5, 3.0, "; the emulated run's does not (0.5)"),
])
def test_where_text_each_outcome(main: float, observed: float, said: str) -> None:
    assert said in page.where_text(main, observed)


LETTER, OTHER = {"sic", "trend", "seasonal"}, {"sic", "trend", "static"}


@pytest.mark.parametrize(("top_three", "start"), [
    ({1: LETTER, 3: LETTER}, "at every lead among the inputs it reads"),
    ({1: OTHER, 3: OTHER}, "at no lead among the inputs it reads"),
    ({1: LETTER, 3: OTHER}, "among the inputs it reads at lead 1 only"),
])
def test_letter_text_each_outcome(top_three: dict[int, set[str]], start: str) -> None:
    text = page.letter_text(top_three, SIC_ONLY_CHANNEL_NAMES)
    assert text.startswith(f"On observed sea ice the letter's three groups lead {start}")
    assert "among the inputs it reads" not in page.letter_text(top_three, CHANNEL_NAMES)


def test_first_groups_and_sic_lags_on_a_synthetic_result(result_factory) -> None:
    import numpy as np

    ones = np.ones((6, 6))
    maps = {"siconca_abs_1": 3 * ones, "siconca_abs_2": 5 * ones, "siconca_linear_trend_1": ones,
            "tas_anom_1": 9 * ones}
    result = result_factory(maps, leads=(1, 3))
    assert page.first_groups(result) == {1: "climate", 3: "climate"}
    assert page.first_groups(result, among=["sic", "trend"]) == {1: "sic", 3: "sic"}
    assert page.sic_lags(result, k=2) == {1: [2, 1], 3: [2, 1]}


def test_the_comparison_never_takes_the_runs_release_weights(tmp_path) -> None:
    made = page.observed_config(RunConfig(weights=str(tmp_path)))  # IceNet's networks read 50 channels
    assert made is not None and made.weights == ""


def test_the_comparison_is_not_pre_trained_on_emulated_realisations() -> None:
    made = page.observed_config(RunConfig(pretrain_realisations=(1, 2)))  # the record alone trains it
    assert made is not None and made.data_source == "nsidc" and made.pretrain_realisations == ()
