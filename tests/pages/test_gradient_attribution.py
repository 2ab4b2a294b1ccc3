"""Chapter 5's page: the verdicts of its checks for each outcome, and completeness on a synthetic result."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.results import build_result
from icegrad.config import BASELINES
from icegrad.pages import gradient_attribution as page

ATTRS = {"method": "integrated_gradients", "target": "roi_mean_ice", "roi_rule": "test", "model_id": "test",
         "data_source": "emulated", "steps": 8, "baseline": "climatology"}


@pytest.mark.parametrize(("max_error", "ensemble_error", "start"), [
    (0.01, 0.005, "every member within the 2 %"),
    (0.03, 0.01, "the ensemble mean, which the next chapters interpret, within the 2 %"),
    (0.04, 0.03, "within the 5 % that Sundararajan"),
    (0.08, 0.03, "above the 5 % rule of thumb"),
])
def test_completeness_verdict_has_each_outcome(max_error: float, ensemble_error: float, start: str) -> None:
    assert page.completeness_verdict(max_error, ensemble_error).startswith(start)


@pytest.mark.parametrize(("rho", "start"), [(0.2, "pass"), (0.49, "pass"), (0.5, "warning"),
                                            (0.9, "warning")])
def test_randomisation_verdict_passes_below_the_threshold_only(rho: float, start: str) -> None:
    assert page.randomisation_verdict(rho).startswith(start)


def test_group_agreement_says_whether_the_methods_agree() -> None:
    assert page.group_agreement({"vanilla_gradient": "sic", "smoothgrad": "sic"}) == \
        "every method ranks the sic group first"
    assert page.group_agreement({"vanilla_gradient": "sic", "smoothgrad": "climate"}) == (
        "the methods disagree on the leading group: vanilla gradient ranks sic first, smoothgrad ranks "
        "climate first")


def test_least_similar_pair_counts_each_pair_once_and_ignores_the_diagonal() -> None:
    names = ["a", "b", "c"]
    agreement = pd.DataFrame([[1.0, 0.8, 0.3], [0.8, 1.0, 0.6], [0.3, 0.6, 1.0]], index=names, columns=names)
    assert page.least_similar(agreement) == ("a", "c", 0.3)


def ig_result(sums: np.ndarray, changes: np.ndarray) -> xr.Dataset:
    """An IG result (member, lead) whose attributions add up to ``sums`` against target ``changes``."""
    members, leads = sums.shape
    channels = ["siconca_abs_1", "cos_month"]
    attribution = np.zeros((members, leads, 2, 2, 2))
    attribution[..., 0, 0, 0] = sums  # all of the sum in one cell of one channel
    sample = xr.DataArray(np.zeros((2, 2, 2)), dims=("y", "x", "channel"), coords={"channel": channels})
    target = np.full((members, leads), 0.6)
    return build_result(attribution, np.zeros((leads, 2, 2, 2)), target, target - changes, sample,
                        np.ones((2, 2), bool), tuple(range(1, leads + 1)), ATTRS)


def test_completeness_section_reports_the_worst_member_and_its_verdict(emulated_run) -> None:
    changes = np.array([[0.1, 0.2], [0.1, 0.2]])
    sums = changes * np.array([[1.01, 1.0], [0.97, 1.0]])  # member 1 at lead 1 is 3 % short
    result = ig_result(sums, changes).assign_coords(member=["seed36", "seed37"])
    run = emulated_run(result, members=2)
    section = page.completeness_section(run, steps=8)
    assert section.values["completeness_max"] == pytest.approx(3.0, rel=1e-4)  # float32 attributions
    assert section.values["completeness_where"] == "seed37 at lead 1"
    assert section.values["completeness_ensemble"] == pytest.approx(1.0, rel=1e-4)  # (1.01 + 0.97) / 2
    assert section.values["completeness_over"] == 1 and section.values["completeness_cases"] == 4
    assert section.values["completeness_verdict"].startswith("the ensemble mean")
    assert section.tables["completeness"].loc["seed37", 1] == pytest.approx(3.0, abs=1e-3)


@pytest.mark.parametrize(("target", "reference", "start"), [
    (0.62, 0.41, "more sea ice in the ROI for September 2013 than for September 2007 (0.620 against 0.410), "
                 "the direction of the letter's question"),
    (0.41, 0.62, "less sea ice in the ROI for September 2013 than for September 2007 (0.410 against 0.620), "
                 "the opposite of the letter's case"),
    (0.5, 0.5, "the same sea-ice probability in the ROI for September 2013 as for September 2007"),
])
def test_counterfactual_direction_has_each_outcome(target: float, reference: float, start: str) -> None:
    text = page.counterfactual_direction(target, reference, "September 2013", "September 2007")
    assert text.startswith(start)


def test_baseline_agreement_says_whether_the_baselines_agree() -> None:
    assert page.baseline_agreement({"zeros": "sic", "climatology": "sic"}) == "every baseline puts sic first"
    assert page.baseline_agreement({"zeros": "sic", "climatology": "climate", "counterfactual": "sic"}) == (
        "the baselines disagree on the leading group: sic from zeros, climate from climatology, sic from "
        "counterfactual")


def gallery_result(baseline: str, weights: dict[str, float], target: float, before: float) -> xr.Dataset:
    """A one-lead IG result from ``baseline`` whose groups' nets are ``weights`` scaled to add up exactly
    to ``target - before`` (completeness holds), the same for both members."""
    from icegrad.variables import CHANNEL_NAMES, channel_groups

    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    per_channel = np.array([weights.get(g, 0.0) / (groups == g).sum() for g in groups])
    per_channel *= (target - before) / per_channel.sum() / 16  # spread over the 4 x 4 cells
    attribution = np.broadcast_to(per_channel, (2, 1, 4, 4, len(groups))).copy()
    x = np.random.default_rng(0).standard_normal((1, 4, 4, len(groups)))
    sample = xr.DataArray(x[0], dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES)})
    ds = build_result(attribution, x, np.full((2, 1), target), np.full((2, 1), before), sample,
                      np.ones((4, 4), bool), (1,), {**ATTRS, "baseline": f"{baseline} (test)"})
    paired = {"counterfactual": "2007-09", "persistence": "2012-09"}
    if baseline in paired:
        ds.attrs["baseline_target_month"] = paired[baseline]
    return ds


def fake_gallery(monkeypatch: pytest.MonkeyPatch, results: dict[str, xr.Dataset]) -> list[object]:
    """pipeline.attributions handing out ``results`` by baseline; returns the engine cache of each call."""
    engines: list[object] = []

    def attributions(ds, ens, roi, target_month, leads, baseline, **options) -> xr.Dataset:
        engines.append(options["engines"])
        return results[baseline]

    monkeypatch.setattr(pipeline, "attributions", attributions)
    return engines


def test_the_gallery_ties_each_baseline_to_its_question_and_explains_the_counterfactual(
        tmp_path, emulated_run, monkeypatch: pytest.MonkeyPatch) -> None:
    results = {"zeros": gallery_result("zeros", {"sic": 3.0, "climate": 1.0}, 0.6, 0.1),
               "climatology": gallery_result("climatology", {"sic": 1.0, "climate": 4.0}, 0.6, 0.5),
               "counterfactual": gallery_result("counterfactual", {"sic": -1.0, "trend": 3.0}, 0.6, 0.45),
               "persistence": gallery_result("persistence", {"sic": 2.0, "seasonal": 1.0}, 0.6, 0.7)}
    engines = fake_gallery(monkeypatch, results)
    run = emulated_run(None, members=2)
    section = page.gallery_section(run, 1, 8, tmp_path, n_boot=10)
    assert len(engines) == len(BASELINES) and len({id(e) for e in engines}) == 1, "one engine cache for all"
    table = section.tables["gallery"]
    assert list(table.index) == list(BASELINES) == ["zeros", "climatology", "counterfactual", "persistence"]
    assert "why T(target year) - T(reference year)" in section.values["question_counterfactual"]
    assert "changed the forecast from last year's" in section.values["question_persistence"]
    assert "typical" in section.values["question_climatology"] and "question" not in table.columns
    assert table["leading group"].to_dict() == {"zeros": "sic", "climatology": "climate",
                                                "counterfactual": "trend", "persistence": "sic"}
    assert table.loc["climatology", "verdict"] == "against" and table.loc["zeros", "verdict"] == "supports"
    values = section.values
    assert values["target_reference"] == pytest.approx(0.45) and values["cf_change"] == pytest.approx(0.15)
    assert values["cf_direction"].startswith("more sea ice in the ROI for September 2013 than for "
                                             "September 2007 (0.600 against 0.450)")
    assert values["reference_label"] == "September 2007"
    assert values["completeness_counterfactual"] == pytest.approx(0, abs=1e-3)
    assert values["completeness_persistence"] == pytest.approx(0, abs=1e-3)
    assert values["previous_label"] == "September 2012" and values["target_previous"] == pytest.approx(0.7)
    assert values["persistence_change"] == pytest.approx(-0.1)
    assert values["cf_completeness_verdict"].startswith("every member within the 2 %")
    assert values["baseline_agreement"].startswith("the baselines disagree")
    assert "EMULATED" in values["gallery_caption"]
    assert (tmp_path / "baseline_gallery.png").is_file()


def test_the_checks_take_the_explained_input_from_the_result_instead_of_rebuilding_it(
        emulated_run, result_factory) -> None:
    result = result_factory({"siconca_abs_1": np.zeros((6, 6)), "tas_anom_1": np.zeros((6, 6))})
    result["input"] = result["input"].copy(data=np.random.default_rng(0).random(result["input"].shape))
    run = emulated_run(result)  # no data and no networks: rebuilding the inputs would fail
    sample = page.check_sample(run, lead=2)
    assert sample.dims == ("y", "x", "channel") and list(sample["channel"].values) == ["siconca_abs_1",
                                                                                       "tas_anom_1"]
    np.testing.assert_array_equal(sample.values, result["input"].sel(lead=2).transpose("y", "x", "channel"))
    with pytest.raises((AttributeError, KeyError, TypeError)):
        page.check_sample(run, lead=3)  # a lead the result does not explain is built from the data


@pytest.mark.parametrize("baseline", BASELINES)
def test_the_randomisation_test_explains_from_the_runs_own_baseline(
        baseline: str, emulated_run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a paired baseline the test gets the paired year's sample (pipeline.baseline_options), not an
    error and not another baseline."""
    asked: list[tuple] = []
    passed: dict[str, object] = {}

    def options(ds, ens, target_month, lead, name, reference_year, method) -> dict[str, str]:
        asked.append((target_month, lead, name, reference_year, method))
        return {} if name == "zeros" else {name: f"{name} sample"}

    def randomisation(members, sample, roi, leads, method, **kwargs) -> pd.DataFrame:
        passed.update(kwargs)
        return pd.DataFrame({"member": [0, 1], "lead": 1, "spearman_signed": [0.1, -0.2],
                             "spearman_abs": [0.2, 0.3]})

    monkeypatch.setattr(pipeline, "baseline_options", options)
    monkeypatch.setattr(page, "check_sample", lambda run, lead: "target sample")
    monkeypatch.setattr(page.sanity, "parameter_randomisation", randomisation)
    run = emulated_run(None, members=2, baseline=baseline)
    run.ds = xr.Dataset({"land": (("y", "x"), np.zeros((2, 2), bool))}, attrs={"data_source": "emulated"})
    run.ens.members, run.ens.member_names = [None, None], ["m0", "m1"]
    section = page.randomisation_section(run, 1, 8)
    assert asked == [("2013-09", 1, baseline, 2007, "integrated_gradients")]
    assert passed["baseline"] == baseline and passed["steps"] == 8 and passed["cache"] is True
    assert {k: v for k, v in passed.items() if k in BASELINES} == \
        ({} if baseline == "zeros" else {baseline: f"{baseline} sample"})
    assert section.values["random_verdict"].startswith("pass")


@pytest.mark.parametrize(("rho", "verdict"),
                         [(0.2, "passes"), (0.49, "passes"), (0.5, "fails"), (0.9, "fails")])
def test_cascade_verdict_passes_below_the_threshold_only(rho: float, verdict: str) -> None:
    assert page.cascade_verdict(rho) == verdict


def test_cascade_text_names_who_passes_who_fails_and_what_raw_maps_would_have_said() -> None:
    final = pd.DataFrame({"spearman_sensitivity": [0.1, 0.2, 0.8], "spearman_raw": [0.1, 0.9, 0.95]},
                         index=["vanilla_gradient", "integrated_gradients", "gradient_x_input"])
    text = page.cascade_text(final)
    first, second = page.method_name("vanilla_gradient"), page.method_name("integrated_gradients")
    assert text.startswith(f"With every weighted layer re-initialised, {first} and {second} pass")
    assert f"{page.method_name('gradient_x_input')} fails." in text
    assert f"raw |attribution| maps, {page.method_name('integrated_gradients')} would have failed" in text
    everyone = page.cascade_text(final.assign(spearman_sensitivity=0.9))
    assert "no method passes" in everyone and "Bommer" not in everyone
    nobody = page.cascade_text(final.assign(spearman_sensitivity=0.1, spearman_raw=0.1))
    assert "and none fails." in nobody and "Bommer" not in nobody


@pytest.mark.parametrize(("rho", "verdicts"), [((0.1, 0.2), ["passes", "passes"]),
                                               ((0.1, 0.5), ["passes", "fails"]),
                                               ((0.7, 0.9), ["fails", "fails"])])
def test_data_randomisation_text_and_table_give_each_methods_verdict(rho: tuple, verdicts: list) -> None:
    final = pd.DataFrame({"spearman_sensitivity": rho, "spearman_raw": [0.9, 0.95]},
                         index=["gradient_x_input", "vanilla_gradient"])
    table = page.data_table(final)
    names = [page.method_name("gradient_x_input"), page.method_name("vanilla_gradient")]
    assert table["verdict"].tolist() == verdicts and table["method"].tolist() == names
    text = page.verdicts_text(final, "Against the network trained on shuffled targets")
    if verdicts == ["passes", "passes"]:
        assert text.startswith(f"Against the network trained on shuffled targets, {names[0]} and {names[1]} "
                               "pass")
        assert "and none fails." in text and "would have failed" in text
    elif verdicts == ["passes", "fails"]:
        assert f", {names[0]} passes" in text and f"and {names[1]} fails." in text
    else:
        assert "no method passes" in text and f"{names[0]} and {names[1]} fail." in text
        assert "Bommer" not in text


def test_data_setting_is_coarse_the_runs_own_or_one_line_naming_the_choices(emulated_run) -> None:
    from icegrad.config import RANDOMISATION_SETTINGS, ConfigError
    from icegrad.evaluation.selection import SETTINGS

    run = emulated_run(None, epochs=2, width=0.5)
    assert page.data_setting("coarse", run) == page.data_setting("cached", run) == SETTINGS["coarse"]
    full = page.data_setting("full", run)
    assert (full.members, full.epochs, full.width, full.resolution_km) == (run.config.members, 2, 0.5, None)
    with pytest.raises(ConfigError, match=r"randomisation_setting='huge' is not allowed; choose one of "
                                          + re.escape(str(RANDOMISATION_SETTINGS))) as caught:
        page.data_setting("huge", run)
    assert "\n" not in str(caught.value)


def test_icegrad_run_checks_the_randomisation_setting_before_papermill() -> None:
    from pathlib import Path

    from icegrad import book

    notebook = book.find_chapter(Path(__file__).resolve().parents[2], "05")
    with pytest.raises(book.BookError, match=r"05_gradient_attribution: randomisation_setting='x' is not "
                                             "allowed"):
        book.check_parameters(notebook, {"randomisation_setting": "x"})
    assert book.check_parameters(notebook, {"randomisation_setting": "cached"}) == \
        {"randomisation_setting": "cached"}


def test_data_randomisation_section_trains_nothing_when_cached_is_asked_and_missing(
        emulated_run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "data_at_hand", lambda run, setting: False)
    monkeypatch.setattr(page, "data_run", lambda run, setting: pytest.fail("must not train"))
    section = page.data_randomisation_section(emulated_run(None), 1, 8, "cached")
    assert section.values["data_text"].startswith("randomisation_setting 'cached' trains nothing")
    assert "1 member, 2 epochs, width 0.25, 200 km grid" in section.notes[0] and not section.tables


@pytest.mark.parametrize("name", ["coarse", "cached"])
def test_data_randomisation_section_compares_the_true_and_shuffled_networks(
        name: str, emulated_run, monkeypatch: pytest.MonkeyPatch) -> None:
    run = emulated_run(None)
    other = emulated_run(None, resolution_km=200)
    calls: dict[str, object] = {}
    monkeypatch.setattr(page, "data_at_hand", lambda run, setting: True)
    monkeypatch.setattr(page, "data_run", lambda run, setting: other)
    final = pd.DataFrame({"spearman_sensitivity": [0.2, 0.8], "spearman_raw": [0.9, 0.9]},
                         index=["integrated_gradients", "vanilla_gradient"])

    def similarity(run, setting, lead, steps) -> pd.DataFrame:
        calls.update(run=run, setting=setting, lead=lead, steps=steps)
        return final

    monkeypatch.setattr(page, "data_similarity", similarity)
    section = page.data_randomisation_section(run, 1, 8, name)
    assert calls == {"run": other, "setting": page.SETTINGS["coarse"], "lead": 1, "steps": 8}
    assert f"(randomisation_setting '{name}')" in section.notes[0] and "200 km grid" in section.notes[0]
    assert "EMULATED" in section.notes[0]
    assert section.values["data_text"] == section.notes[1]
    assert section.tables["data_randomisation"].data["verdict"].tolist() == ["passes", "fails"]


def test_data_similarity_explains_one_sample_with_every_method_and_the_same_options(
        emulated_run, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    run = emulated_run(None)
    run.ens.members = ["trained"]
    seen: list[tuple] = []
    monkeypatch.setattr(page.randomisation, "shuffled_target_ensemble",
                        lambda ds, setting, channels: SimpleNamespace(members=["shuffled"]))
    monkeypatch.setattr(page, "check_sample", lambda run, lead: "sample")
    monkeypatch.setattr(page, "attribute_options", lambda run, lead, method, steps: {"steps": steps,
                                                                                      "for": method})

    def compare(members, shuffled, sample, roi, leads, method, **options) -> pd.DataFrame:
        seen.append((members, shuffled, sample, leads, method, options))
        rho = 0.9 if method == "smoothgrad" else 0.1
        return pd.DataFrame({"member": [0, 1], "lead": 1, "spearman_sensitivity": [rho, rho + 0.1],
                             "spearman_raw": 0.5, "method": method})

    monkeypatch.setattr(page.randomisation, "data_randomisation", compare)
    final = page.data_similarity(run, page.SETTINGS["coarse"], 1, 8)
    assert [s[4] for s in seen] == list(page.METHODS)
    engines = seen[0][5].pop("engines")
    assert all(s[5].pop("engines") is engines for s in seen[1:]), "one engine cache for every method"
    assert all(s[:4] == (["trained"], ["shuffled"], "sample", [1])
               and s[5] == {"steps": 8, "for": s[4], "cache": True} for s in seen)
    assert final.loc["smoothgrad", "spearman_sensitivity"] == pytest.approx(0.95), "the member mean"
    assert page.data_table(final).set_index("method").loc["smoothgrad", "verdict"] == "fails"
