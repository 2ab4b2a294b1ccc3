"""Chapter 6's page: group and channel rankings, their prose, and the letter's test, on synthetic results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.results import build_result
from icegrad.config import BASELINES
from icegrad.pages import which_inputs
from icegrad.variables import CHANNEL_NAMES, channel_groups

SIDE = 4
ATTRS = {"method": "integrated_gradients", "target": "roi_mean_ice", "roi_rule": "test", "model_id": "test",
         "data_source": "emulated", "steps": 8, "baseline": "climatology"}
LETTER = {"sic": 5.0, "trend": 4.0, "climate": 1.0, "seasonal": 3.0, "static": 0.5}
CLIMATE = {"sic": 1.0, "trend": 1.0, "climate": 5.0, "seasonal": 0.5, "static": 0.1}


def synthetic(by_lead: dict[int, dict[str, float]], members: int = 2) -> xr.Dataset:
    """A result whose every channel has the signed value of its group at each lead, in every cell.

    Members differ by 1 %, so spreads are small but not zero.
    """
    groups = channel_groups(CHANNEL_NAMES)
    leads = tuple(by_lead)
    values = np.array([[by_lead[lead][g] for g in groups] for lead in leads])  # (lead, channel)
    attribution = np.stack([values * (1 + 0.01 * m) for m in range(members)])  # (member, lead, channel)
    attribution = np.broadcast_to(attribution[:, :, None, None, :],
                                  (members, len(leads), SIDE, SIDE, len(CHANNEL_NAMES))).copy()
    sample = xr.DataArray(np.zeros((SIDE, SIDE, len(CHANNEL_NAMES))), dims=("y", "x", "channel"),
                          coords={"channel": list(CHANNEL_NAMES)})
    return build_result(attribution, np.zeros((len(leads), SIDE, SIDE, len(CHANNEL_NAMES))),
                        np.full((members, len(leads)), 0.5), np.full((members, len(leads)), 0.4), sample,
                        np.ones((SIDE, SIDE), bool), leads, ATTRS)


def test_a_value_zero_by_construction_prints_as_zero_not_as_rounding_residue() -> None:
    values = {**LETTER, "seasonal": -2e-24}
    table = which_inputs.group_table(which_inputs.group_summary(synthetic({1: values, 3: LETTER})))
    assert table.loc[1, ("net", "seasonal")].startswith("0 ± ")
    assert "e-2" not in table.to_string()
    assert table.loc[1, ("net", "sic")].startswith("+")  # 12 channels x 16 cells x 5.0 each
    assert list(table.columns.get_level_values(1)[:5]) == ["sic", "trend", "climate", "seasonal", "static"]


@pytest.mark.parametrize(("nets", "expected"), [
    ({1: 0.2, 3: 0.1}, "positive (more sea ice in the ROI) at every lead"),
    ({1: -0.2, 3: -0.1}, "negative (less sea ice in the ROI) at every lead"),
    ({1: 0.2, 2: -0.1, 3: 0.0}, "positive at lead 1 and negative at lead 2 and zero at lead 3"),
    ({1: 0.2, 2: 0.3, 3: -0.1}, "positive at leads 1, 2 and negative at lead 3"),
])
def test_net_sign_text_names_each_outcome(nets: dict[int, float], expected: str) -> None:
    assert which_inputs.net_sign_text(pd.Series(nets)) == expected


def test_leaders_name_the_leading_group_per_lead() -> None:
    climate_first = {g: -v for g, v in CLIMATE.items()}  # climate leads, pushing towards less ice
    page = which_inputs.leaders_section(synthetic({1: LETTER, 3: climate_first}))
    assert page.values["first_by_magnitude"] == "sic at lead 1; climate at lead 3"
    assert page.values["net_sign_text"] == "positive at lead 1 and negative at lead 3"
    assert page.tables["leaders"].loc[1, "top three by mean |attribution|"] == "sic, trend, seasonal"


@pytest.mark.parametrize(("top_three", "start"), [
    ({1: {"sic", "trend", "seasonal"}, 3: {"seasonal", "sic", "trend"}},
     "This run agrees with the letter: at every"),
    ({1: {"sic", "trend", "climate"}, 3: {"climate", "static", "sic"}}, "This run disagrees with the letter"),
    ({1: {"sic", "trend", "seasonal"}, 3: {"sic", "trend", "climate"}},
     "This run agrees with the letter at lead 1 only; elsewhere the top three include climate at lead 3."),
])
def test_letter_verdict_has_each_outcome(top_three: dict[int, set[str]], start: str) -> None:
    verdict = which_inputs.letter_verdict(top_three)
    assert verdict.startswith(start)
    assert "Note that" not in verdict


def test_letter_verdict_on_results_for_and_against_the_letter() -> None:
    agrees = which_inputs.letter_section(synthetic({1: LETTER, 3: LETTER})).values["letter_verdict"]
    disagrees = which_inputs.letter_section(synthetic({1: CLIMATE, 3: CLIMATE})).values["letter_verdict"]
    assert agrees.startswith("This run agrees with the letter: at every lead")
    assert disagrees.endswith("the top three include climate at lead 1; climate at lead 3.")


def test_channels_zero_by_construction_are_named_and_marked_zero() -> None:
    result = synthetic({1: {**CLIMATE, "seasonal": 0.0}, 3: {**CLIMATE, "seasonal": 0.0}})
    assert which_inputs.unmoved_channels(result) == ["cos_month", "sin_month"]
    verdict = which_inputs.letter_section(result).values["letter_verdict"]
    assert "Note that cos_month, sin_month take the same value" in verdict
    page = which_inputs.top_channels_section(result, top_k=50)
    entries = set(page.tables["ranks"][1])
    assert "cos_month (0)" in entries and "tas_anom_1 (+)" in entries
    assert page.values["top_channel_text"].endswith("at leads 1, 3")
    assert page.values["letter_share_text"] == "20 at lead 1, 20 at lead 3"  # 12 sic + 6 trend + 2 seasonal


def test_figures_are_saved_and_captioned_with_how_the_attributions_were_made(tmp_path, emulated_run) -> None:
    run = emulated_run(synthetic({1: LETTER, 3: CLIMATE}), members=2)
    groups = which_inputs.groups_section(run, tmp_path)
    assert groups.values["groups_net_caption"].startswith(
        "Net attribution per group and lead: integrated gradients of the September 2013 ROI forecast, "
        "baseline climatology, 2 members")
    bars = which_inputs.channels_section(run, [1, 3], 5, tmp_path)
    assert bars.values["bars_caption_last"].startswith("Top 5 channels at lead 3 (integrated gradients")
    single = which_inputs.channels_section(run, [1], 5, tmp_path)
    assert single.values["bars_caption_last"].startswith("As above, this run has one lead")
    assert {p.name for p in tmp_path.iterdir()} == {"groups_net.png", "groups_mean_abs.png",
                                                     "channels_lead1.png", "channels_lead3.png"}


def test_the_heat_maps_draw_zero_for_rounding_residue(tmp_path, emulated_run) -> None:
    run = emulated_run(synthetic({1: {**LETTER, "seasonal": -2e-24}}), members=2)
    fig = which_inputs.groups_section(run, tmp_path).values["fig_groups_net"]
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "0\n±0" in labels and not any("e-2" in label for label in labels)


@pytest.mark.parametrize(("verdict", "expected"), [
    ("This run disagrees with the letter: at no lead are ... Instead, x.",
     "This run disagrees with the letter."),
    ("This run agrees with the letter at leads 1, 3 only; elsewhere the top three include y.",
     "This run agrees with the letter at leads 1, 3 only."),
    ("This run agrees with the letter. Note that cos_month take the same value.",
     "This run agrees with the letter."),
])
def test_the_summary_headline_is_the_verdicts_first_clause(verdict: str, expected: str) -> None:
    assert which_inputs.headline(verdict) == expected


def test_the_letters_groups_come_from_the_letter_module() -> None:
    from icegrad.evaluation import letter

    assert which_inputs.LETTER_GROUPS is letter.LETTER_GROUPS


def as_method(ds: xr.Dataset, method: str, baseline: str) -> xr.Dataset:
    """``ds`` relabelled as made by ``method`` from ``baseline`` (its inputs vary over the map, except
    the month channels, so only those and the land mask are whole channels)."""
    values = np.random.default_rng(0).standard_normal(ds["input"].shape)
    values[:, list(ds["channel"].values).index("cos_month")] = 0.5
    values[:, list(ds["channel"].values).index("sin_month")] = -0.5
    return ds.assign(input=ds["input"].copy(data=values)).assign_attrs(method=method, baseline=baseline)


def fake_explain(results: dict[tuple[str, str], xr.Dataset], calls: list[tuple[str, str, tuple]]):
    """A stand-in for Run.explain that hands out the synthetic results by (method, baseline)."""
    def explain(method: str | None = None, baseline: str | None = None, leads=None, **_) -> xr.Dataset:
        key = (method, baseline or "none") if method == "integrated_gradients" else (method, "none")
        calls.append((*key, tuple(leads or ())))
        return results[key]
    return explain


def test_letter_results_add_the_letters_method_at_every_lead_and_the_other_baselines_at_the_first(
        emulated_run) -> None:
    own = as_method(synthetic({1: LETTER, 3: LETTER}), "integrated_gradients", "climatology (test)")
    others = [b for b in BASELINES if b != "climatology"]
    assert "persistence" in others
    results = {("vanilla_gradient", "none"): own, **{("integrated_gradients", b): own for b in others}}
    calls: list[tuple[str, str, tuple]] = []
    run = emulated_run(own, members=2, leads=(1, 3))
    run.explain = fake_explain(results, calls)
    every, first = which_inputs.letter_results(run)
    assert len(every) == 2 and len(first) == len(BASELINES) - 1 and every[0] is own
    assert calls == [("vanilla_gradient", "none", ()), *(("integrated_gradients", b, (1,)) for b in others)]
    calls.clear()
    vanilla_run = emulated_run(own, members=2, leads=(1, 3), method="vanilla_gradient")
    vanilla_run.explain = fake_explain({**results, ("integrated_gradients", "climatology"): own}, calls)
    every, first = which_inputs.letter_results(vanilla_run)
    assert len(every) == 1 and [c[1] for c in calls] == list(BASELINES)


@pytest.mark.parametrize(("verdicts", "expected"), [
    (["supports", "supports", "against", "mixed"],
     "of 4 verdicts, 2 support the letter, 1 go against it, 1 are mixed and 0 undecided: more support the "
     "letter than go against it"),
    (["against", "against", "undecided"],
     "of 3 verdicts, 0 support the letter, 2 go against it, 0 are mixed and 1 undecided: more go against "
     "the letter than support it"),
    (["supports", "against"],
     "of 2 verdicts, 1 support the letter, 1 go against it, 0 are mixed and 0 undecided: as many support "
     "the letter as go against it"),
    (["mixed"], "of 1 verdict, 0 support the letter, 0 go against it, 1 are mixed and 0 undecided: as many "
                "support the letter as go against it"),
])
def test_verdict_counts_has_each_outcome(verdicts: list[str], expected: str) -> None:
    assert which_inputs.verdict_counts(verdicts) == expected
    assert which_inputs.verdict_counts(verdicts, climate=False) == expected + (
        " (this network reads no climate inputs, so the letter's groups compete only with the land mask)")


def test_the_verdict_grid_has_a_row_per_method_baseline_and_ranking_and_blanks_for_missing_leads() -> None:
    rows = [("net", "integrated_gradients", "climatology", 1, "supports", "sic"),
            ("net", "integrated_gradients", "climatology", 3, "against", "climate"),
            ("net", "integrated_gradients", "zeros", 1, "mixed", "climate")]
    verdicts = pd.DataFrame([{"ranking": r, "method": m, "baseline": b, "lead": lead, "letter_share": 0.55,
                              "letter_share_low": 0.5, "letter_share_high": 0.6, "leading_group": g,
                              "verdict": v} for r, m, b, lead, v, g in rows])
    grid = which_inputs.verdict_grid(verdicts)
    cell = grid.loc[("integrated_gradients", "climatology", "net"), 1]
    assert cell == "supports: 0.55 [0.50, 0.60], sic first"
    assert grid.loc[("integrated_gradients", "zeros", "net"), 3] == ""
    assert which_inputs.leaders_text(verdicts, "integrated_gradients", "climatology") == \
        "net (sic at lead 1; climate at lead 3)"


def test_the_rankings_section_gives_a_verdict_per_ranking_method_baseline_and_lead(tmp_path,
                                                                                   emulated_run) -> None:
    own = as_method(synthetic({1: LETTER, 3: LETTER}), "integrated_gradients", "climatology (test)")
    vanilla = as_method(synthetic({1: CLIMATE, 3: CLIMATE}), "vanilla_gradient", "none")
    one_lead = as_method(synthetic({1: CLIMATE}), "integrated_gradients", "zeros (test)")
    paired = [b for b in BASELINES if b not in ("climatology", "zeros")]  # the letter's groups lead in each
    run = emulated_run(own, members=2, leads=(1, 3))
    letter = {("integrated_gradients", b): as_method(synthetic({1: LETTER}), "integrated_gradients",
                                                     f"{b} (test)") for b in paired}
    run.explain = fake_explain({("vanilla_gradient", "none"): vanilla,
                                ("integrated_gradients", "zeros"): one_lead, **letter}, [])
    page = which_inputs.rankings_section(run, n_boot=10, figure_dir=tmp_path)
    grid = page.tables["verdicts"]
    assert len(grid) == 4 * (2 + len(BASELINES) - 1) and list(grid.columns) == [1, 3]
    assert grid.loc[("integrated_gradients", "climatology", "net"), 3].startswith("supports")
    assert grid.loc[("vanilla_gradient", "none", "grid_mean_abs"), 1].startswith("against")
    assert grid.loc[("integrated_gradients", "zeros", "net"), 3] == ""
    values = page.values
    # 4 rankings x (2 leads x (own + vanilla) + 1 lead x every other baseline): 28 with four baselines
    total, support = 4 * (2 * 2 + len(BASELINES) - 1), 4 * (2 + len(paired))
    assert values["verdict_counts"].startswith(f"of {total} verdicts, {support} support the letter, "
                                               f"{total - support} go against it")
    assert values["whole_channels_text"] == "land, cos_month and sin_month"  # in the channels' order
    assert values["letter_method_leaders"].startswith("grid mean abs (climate at leads 1, 3), roi mean abs")
    assert "integrated gradients and vanilla gradient (rows)" in values["rankings_caption"]
    assert (tmp_path / "rankings.png").is_file()
