"""Chapter 9's judgements on synthetic scores and gains: each can come out for and against attribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.pages import fidelity as page


def ranking(best_spearman: float) -> pd.DataFrame:
    return pd.DataFrame({"fidelity": [0.6, 0.2], "spearman": [best_spearman, 0.1],
                         "sign_agreement": [1.0, 0.5], "spatial_correlation": [0.3, 0.0]},
                        index=["integrated_gradients (zeros)", "smoothgrad"])


def errors(total: tuple[float, float] = (0.8, 1.5)) -> pd.DataFrame:
    return pd.DataFrame({"method_error": [0.001, 0.4], "model_error": [0.8, 0.9], "total_error": list(total),
                         "model_share": [0.99, 0.7]},
                        index=["integrated_gradients (zeros)", "gradient_x_input"])


@pytest.mark.parametrize(("rho", "words"), [(0.8, "recovers"), (0.5, "partly recovers"),
                                            (0.1, "does not recover"), (-0.4, "does not recover")])
def test_recovery_follows_the_best_rank_correlation(rho: float, words: str) -> None:
    assert page.recovery(rho) == words
    text = page.scores_text(ranking(rho), pd.DataFrame({"spearman": [0.9, 0.1, -0.2]}))
    assert f"so even the best method {words} the truth's channel ranking here" in text
    assert text.startswith("Averaged over the leads, integrated_gradients (zeros) scores highest (fidelity "
                           "0.60")
    assert "smoothgrad lowest (fidelity 0.20)" in text
    assert text.endswith("range from -0.20 to 0.90 over methods and leads")


@pytest.mark.parametrize(("total", "near", "joint"), [((0.05, 0.2), "close to", "and"),
                                                      ((0.3, 0.9), "some way from", "yet"),
                                                      ((0.8, 1.5), "far from", "yet")])
def test_bench_text_says_how_close_the_best_attribution_is(total, near: str, joint: str) -> None:
    text = page.bench_text(0.97, errors(total))
    assert text.startswith("The network explains 97.0 % of the target's variance on held-out inputs, "
                           f"{joint} "
                           f"its best attributions are {near} the truth")
    assert "between 70 % and 99 % of each method's error is the model's" in text


def test_verdict_with_and_without_a_truth() -> None:
    with_truth = page.verdict(ranking(0.8), 0.97, errors(), "emulated")
    assert with_truth.startswith("On the emulated Arctic, integrated_gradients (zeros) comes closest to the "
                                 "truth "
                                 "(fidelity 0.60, against 0.20 for smoothgrad)")
    assert "integrated gradients are exact up to 0.10 % and gradient × input is off by 40 %" in with_truth
    assert with_truth.endswith("on the network integrated_gradients (zeros) has the lowest total error "
                               "(0.80)")
    without = page.verdict(None, 0.97, errors(), "NSIDC (observed)")
    assert without.startswith("This run has no truth to compare with (NSIDC (observed))")


def test_linked_channels_per_lead_from_one_methods_rows() -> None:
    channels = pd.DataFrame({"label": ["a", "a", "a", "b"], "lead": [1, 1, 3, 1],
                             "channel": ["tas_anom_1", "siconca_abs_1", "tas_anom_2", "tas_anom_1"],
                             "linked": [True, True, True, True]})
    table = page.linked_channels(channels)
    assert table["linked channels"].to_dict() == {1: "tas_anom_1, siconca_abs_1", 3: "tas_anom_2"}
    assert page.linked_text(channels).endswith("(2 at lead 1, 1 at lead 3).")


def test_no_truth_says_so_everywhere_the_page_would_show_scores() -> None:
    values = page.no_truth("NSIDC")
    assert values["best_method"] == values["worst_method"] == "none"
    assert "no known true sensitivity" in values["truth_note"]
    assert values["maps_caption"] == "No ground truth for NSIDC."
    assert values["maps_summary"] != values["maps_text"]  # the summary bullet must not repeat the paragraph


def test_composite_text_shows_the_best_methods_numbers() -> None:
    table = ranking(0.8).assign(fidelity=[(0.8 + 2 * (1.0 - 0.5) + 0.3) / 3, 0.0])
    text = page.composite_text(table)
    assert "each 0 for a method no better than chance and 1 for a perfect one" in text
    assert text.endswith("For integrated_gradients (zeros): (0.80 + 2 × (1.00 − 0.5) + 0.30) / 3 = 0.70")


METHODS = {"integrated_gradients (zeros)": "integrated_gradients", "smoothgrad": "smoothgrad",
           "gradient_x_input": "gradient_x_input"}


def test_shortfall_text_when_every_method_reaches_the_targets() -> None:
    table = ranking(0.8).assign(spearman=[0.8, 0.7], spatial_correlation=[0.6, 0.5])
    assert page.shortfall_text(table, METHODS, errors()).endswith("none falls short here")


@pytest.mark.parametrize(("share", "whose"), [(0.9, "mostly the model's for gradient_x_input (90 %"),
                                             (0.2, "mostly the method's for gradient_x_input (20 %")])
def test_shortfall_text_names_whose_error_a_shortfall_is(share: float, whose: str) -> None:
    table = pd.DataFrame({"fidelity": [0.6, 0.2], "spearman": [0.8, 0.1], "sign_agreement": [1.0, 0.5],
                          "spatial_correlation": [0.6, 0.0]}, index=["integrated_gradients (zeros)",
                                                                     "gradient_x_input"])
    bench = errors().assign(model_share=[0.99, share])
    text = page.shortfall_text(table, METHODS, bench)
    assert text == ("Falling short of a rank correlation of 0.6 or a map correlation of 0.5 (rank and map "
                    "correlation in brackets): gradient_x_input (0.10, 0.00). In the additive benchmark the "
                    f"same method's error is {whose} the model's)")


def test_shortfall_of_integrated_gradients_is_the_networks_up_to_quadrature() -> None:
    table = ranking(0.3)  # integrated gradients (zeros) below the rank target
    text = page.shortfall_text(table, METHODS, errors())
    assert text.startswith("Falling short of a rank correlation of 0.6 or a map correlation of 0.5 (rank and "
                           "map correlation in brackets): integrated_gradients (zeros) (0.30, 0.30), "
                           "smoothgrad (0.10, 0.00). In the additive benchmark the same method's error is "
                           "mostly the model's for integrated_gradients (zeros) (99 % the model's).")
    assert text.endswith("the method adds only its quadrature error (0.10 % on the exact function) and the "
                         "rest of their shortfall is the network's departure from the optimal forecast")


def gains(values: dict[str, tuple[list[float], list[float]]]) -> xr.Dataset:
    """SYNTHETIC gains as compare_orderings returns them: label -> (deletion, insertion) per member, two
    leads with the same values (the page averages over leads)."""
    labels = list(values)
    data = {curve: (("label", "member", "lead"),
                    np.array([[[g, g] for g in values[label][k]] for label in labels]))
            for k, curve in enumerate(("deletion_gain", "insertion_gain"))}
    members = len(next(iter(values.values()))[0])
    return xr.Dataset(data, coords={"label": labels, "member": range(members), "lead": [1, 2]})


@pytest.mark.parametrize(("deletion", "insertion", "verdict"), [
    ([0.1, 0.12], [0.2, 0.22], "more faithful than random"),
    ([0.1, 0.12], [-0.1, 0.3], "mixed"),  # insertion positive on average but within its spread
    ([-0.1, 0.3], [0.2, 0.22], "mixed"),
    ([-0.1, 0.3], [-0.2, -0.22], "not more faithful than random"),
    ([-0.1, -0.12], [-0.2, -0.22], "not more faithful than random"),
])
def test_faithfulness_verdict_needs_both_gains_beyond_the_member_spread(deletion: list[float],
                                                                       insertion: list[float],
                                                                       verdict: str) -> None:
    stats = page.gain_stats(gains({"m": (deletion, insertion)}))
    assert stats.loc["m", "deletion_gain"] == pytest.approx(np.mean(deletion))
    assert stats.loc["m", "deletion_spread"] == pytest.approx(np.std(deletion, ddof=1))
    assert page.faithfulness_verdict(stats.loc["m"]) == verdict
    assert page.gains_table(stats).loc["m", "verdict"] == verdict
    assert page.not_faithful(stats) == ([] if verdict == page.FAITHFUL[0] else ["m"])


def test_one_member_has_no_spread_so_the_gains_alone_decide() -> None:
    stats = page.gain_stats(gains({"m": ([0.01], [0.02])}))
    assert stats.loc["m", "deletion_spread"] == 0
    assert page.faithfulness_verdict(stats.loc["m"]) == "more faithful than random"


def test_faithfulness_text_groups_the_methods_by_verdict() -> None:
    stats = page.gain_stats(gains({"gradient_x_input": ([0.1, 0.12], [0.2, 0.22]),
                                   "smoothgrad": ([-0.1, 0.3], [-0.2, -0.22]),
                                   "vanilla_gradient": ([-0.1, -0.12], [-0.2, -0.2])}))
    text = page.faithfulness_text(stats)
    assert text.startswith("More faithful than random: gradient_x_input; not more faithful than random: "
                           "smoothgrad and vanilla_gradient. The largest summed gain is gradient_x_input's "
                           "(deletion +0.11, insertion +0.21")
    assert page.gains_table(stats).loc["gradient_x_input", "deletion gain"] == "+0.11 ± 0.01"
    everyone = page.gain_stats(gains({"a": ([0.1, 0.12], [0.2, 0.22])}))
    assert page.faithfulness_text(everyone).startswith("More faithful than random: a. ")
