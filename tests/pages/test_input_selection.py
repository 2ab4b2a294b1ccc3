"""Chapter 8's input-selection section: every verdict's outcomes, the tables, and the bad setting's line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import book, config
from icegrad.errors import ConfigError
from icegrad.pages import input_selection as chapter
from icegrad.pages.common import Run
from icegrad.plots.basemap import PlotError

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = [f"siconca_abs_{i}" for i in range(1, 7)] + [f"tas_anom_{i}" for i in range(1, 4)] + [
    "cos_month", "sin_month", "land"]


def selection_table(accuracy: dict[tuple[str, int], float],
                    roi: dict[tuple[str, int], float]) -> pd.DataFrame:
    """A table shaped like :func:`icegrad.evaluation.selection.input_selection`'s, lead 1 only."""
    rows = [{"chooser": name, "k": k, "channels": " ".join(CHANNELS[:k]), "test_accuracy": value,
             "roi_sip_lead1": roi[(name, k)]} for (name, k), value in accuracy.items()]
    table = pd.DataFrame(rows)
    full = table[table["chooser"] == "all"].iloc[0]
    table["accuracy_vs_full"] = table["test_accuracy"] - full["test_accuracy"]
    table["roi_sip_lead1_vs_full"] = table["roi_sip_lead1"] - full["roi_sip_lead1"]
    return table.assign(trend_accuracy=91.5, setting="test", data_source="emulated")


def two_k(gradients: tuple[float, float], random: tuple[float, float]) -> pd.DataFrame:
    accuracy = {("all", 12): 93.0, ("gradients", 5): gradients[0], ("gradients", 10): gradients[1],
                ("random", 5): random[0], ("random", 10): random[1]}
    return selection_table(accuracy, dict.fromkeys(accuracy, 0.5) | {("all", 12): 0.4})


@pytest.mark.parametrize(("difference", "word"), [(0.5, "more"), (-0.5, "less"), (0.05, "as much"),
                                                  (-0.1, "as much")])
def test_outcome_calls_small_differences_equal(difference: float, word: str) -> None:
    assert chapter.outcome(difference) == word


@pytest.mark.parametrize(("gradients", "random", "start"), [
    ((92.0, 92.5), (91.0, 91.0), "Gradient-chosen inputs keep more skill than random ones:"),
    ((90.0, 90.5), (91.0, 91.0), "Gradient-chosen inputs keep less skill than random ones:"),
    ((91.0, 91.05), (91.0, 91.0), "Gradient-chosen inputs keep as much skill as random ones, no more:"),
    ((92.0, 90.0), (91.0, 91.0), "Gradient-chosen inputs beat random ones at some k and not at others:"),
])
def test_skill_text_says_whether_gradients_beat_random(gradients: tuple[float, float],
                                                       random: tuple[float, float], start: str) -> None:
    text = chapter.skill_text(two_k(gradients, random))
    assert text.startswith(start)
    assert f"at k = 5, {gradients[0]:.1f} % against {random[0]:.1f} %" in text
    assert "beside 93.0 % for the network trained on every channel" in text


@pytest.mark.parametrize(("trend", "words"), [(92.0, "the best retrained network beats it by 1.0 points"),
                                              (93.0, "at least as much as any network retrained here")])
def test_trend_text_says_whether_the_networks_learnt_beyond_the_trend(trend: float, words: str) -> None:
    text = chapter.trend_text(two_k((92.0, 92.5), (91.0, 91.0)).assign(trend_accuracy=trend))
    assert text.startswith(f"The linear-trend forecast scores {trend:.1f} %") and words in text


def test_skill_verdicts_need_both_gradients_and_random() -> None:
    table = selection_table({("all", 12): 93.0, ("gradients", 5): 92.0},
                            {("all", 12): 0.4, ("gradients", 5): 0.5})
    assert chapter.skill_verdicts(table).empty
    verdicts = chapter.skill_verdicts(two_k((92.0, 90.0), (91.0, 91.0)))
    assert verdicts["outcome"].tolist() == ["more", "less"]
    np.testing.assert_allclose(verdicts["difference"], [1.0, -1.0])


def test_sic_text_says_whether_the_top_k_keeps_past_sic() -> None:
    kept = chapter.sic_text(["siconca_abs_1", "tas_anom_1", "cos_month"], CHANNELS)
    assert kept == ("The gradients top 3 holds sic 1, climate 1, seasonal 1 channels: it keeps 1 of the 6 "
                    "SIC channels (siconca_abs_1)")
    none = chapter.sic_text(["tas_anom_1", "tas_anom_2"], CHANNELS, "permutation")
    assert none.endswith("keeps none of the 6 SIC channels, the letter's leading input")
    assert none.startswith("The permute-and-predict top 2 holds climate 2 channels")


@pytest.mark.parametrize(("gradient_roi", "closest"), [(0.41, "gradients top 5"), (0.7, "random top 5")])
def test_roi_text_names_the_subset_that_moves_the_forecast_least(gradient_roi: float, closest: str) -> None:
    table = selection_table({("all", 12): 93.0, ("gradients", 5): 92.0, ("random", 5): 91.0},
                            {("all", 12): 0.4, ("gradients", 5): gradient_roi, ("random", 5): 0.5})
    text = chapter.roi_text(table, 1, "September 2013")
    assert text.startswith("At lead 1 the network trained on every channel forecasts a mean sea-ice "
                           "probability of 0.40 over the September 2013 ROI")
    assert f"gradients top 5: {gradient_roi:.2f} ({gradient_roi - 0.4:+.2f})" in text
    assert text.endswith(f"The {closest} moves it least")


def test_reference_text_counts_the_shared_channels() -> None:
    subsets = {("all", 4): ("a", "b", "c", "d"), ("gradients", 2): ("a", "b"), ("permutation", 2): ("b", "c")}
    text = chapter.reference_text(subsets, 2)
    assert "nothing is retrained" in text and "gradients and permute-and-predict share 1" in text
    assert "only one ranking" in chapter.reference_text({("gradients", 2): ("a", "b")}, 2)


def test_group_counts_in_channel_order() -> None:
    assert chapter.group_counts(["siconca_abs_1", "siconca_abs_2", "land"]) == "sic 2, static 1"


def test_an_unknown_setting_fails_in_one_line_naming_the_choices() -> None:
    assert set(chapter.PLANS) == set(config.SELECTION_SETTINGS)
    assert chapter.check_setting("coarse").retrain and not chapter.check_setting("reference").retrain
    with pytest.raises(ConfigError, match=r"selection_setting='huge' is not allowed; choose one of "
                                          r"\('coarse', 'full', 'reference'\)") as caught:
        chapter.check_setting("huge")
    assert "\n" not in str(caught.value)


def test_icegrad_run_checks_the_setting_before_papermill() -> None:
    notebook = book.find_chapter(ROOT, "08")
    with pytest.raises(book.BookError, match=r"08_permute_and_predict: selection_setting='x' is not allowed; "
                                             r"choose one of \('coarse', 'full', 'reference'\)") as caught:
        book.check_parameters(notebook, {"selection_setting": "x"})
    assert "\n" not in str(caught.value)
    assert book.check_parameters(notebook, {"selection_setting": "full"}) == {"selection_setting": "full"}


class Ensemble(list):
    """Placeholder members with the test's channels."""

    channels = tuple(CHANNELS)


@pytest.fixture
def run(result_factory) -> Run:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    result = result_factory({c: rng.normal(size=(6, 6)) * (i + 1) for i, c in enumerate(CHANNELS)})
    return Run(config.RunConfig(leads=(1, 2)), xr.Dataset(attrs={"data_source": "emulated"}), None,
               Ensemble([0, 1]), result)


@pytest.fixture
def permutation() -> xr.Dataset:
    importance = np.arange(len(CHANNELS), dtype=float)[::-1].reshape(1, 1, 1, -1) * np.ones((2, 2, 2, 1))
    return xr.Dataset({"importance": (("member", "permutation", "lead", "channel"), importance)},
                      coords={"channel": CHANNELS, "lead": [1, 2]})


def test_reference_setting_states_the_top_k_and_trains_nothing(run: Run, permutation: xr.Dataset,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    from icegrad.evaluation import selection

    monkeypatch.setattr(selection, "input_selection", lambda *a, **k: pytest.fail("retrained"))
    monkeypatch.setattr(chapter, "truth_scores", lambda run: pd.Series(1.0, index=CHANNELS))
    page = chapter.section(run, permutation, "reference", str(tmp_path))
    table = page.tables["selection"].data
    assert table["chooser"].tolist() == ["gradients", "permute-and-predict", "the emulator's truth"]
    assert (table["k"] == 10).all() and not page.figures
    # permutation importance falls with the channel order: its top 10 are the first ten channels
    assert table.loc[1, "channels"] == ", ".join(CHANNELS[:10])
    assert page.values["selection_text"].startswith("At selection_setting 'reference' nothing is retrained")


def test_a_retraining_setting_shows_table_figure_and_verdicts(run: Run, permutation: xr.Dataset,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    from icegrad.evaluation import selection

    calls = {}

    def fake_selection(ds, roi, choosers, channels, ks, setting, target_month, leads):  # type: ignore[no-untyped-def]
        calls.update(choosers=choosers, ks=ks, setting=setting, leads=leads)
        table = two_k((92.0, 92.5), (91.0, 91.0))
        return table.assign(roi_sip_lead2=table["roi_sip_lead1"], roi_sip_lead2_vs_full=0.0)

    monkeypatch.setattr(selection, "input_selection", fake_selection)
    monkeypatch.setattr(chapter, "training_data", lambda run, resolution: (run.ds, None))
    page = chapter.section(run, permutation, "coarse", str(tmp_path))
    assert set(calls["choosers"]) == {"gradients", "random"} and calls["ks"] == (10,)
    assert calls["setting"] == selection.SETTINGS["coarse"] and calls["leads"] == (1, 2)
    assert (tmp_path / "input_selection.png").is_file()
    assert "EMULATED" in page.figures["selection"].get_suptitle().upper()
    shown = page.tables["selection"].data
    assert list(shown.columns[:5]) == ["chooser", "k", "groups", "accuracy (%)", "vs full (points)"]
    assert "ROI forecast, lead 2" in shown.columns
    assert page.values["selection_text"].startswith("Gradient-chosen inputs keep more skill")
    assert "1 member, 2 epochs, width 0.25, 200 km grid" in page.notes[0]


def test_the_full_setting_trains_at_the_runs_members_epochs_and_width(run: Run) -> None:
    full = chapter.setting_for("full", run)
    assert (full.members, full.epochs, full.width, full.resolution_km) == (5, 8, 0.25, None)


def test_selection_curves_need_the_lead_and_the_full_network() -> None:
    from icegrad.plots.importance import selection_curves

    table = two_k((92.0, 92.5), (91.0, 91.0))
    with pytest.raises(PlotError, match="no ROI forecast at lead 3"):
        selection_curves(table, 3)
    with pytest.raises(PlotError, match="no full-input row"):
        selection_curves(table[table["chooser"] != "all"], 1)


@pytest.mark.parametrize(("gradients", "words"), [
    ((92.0, 92.5), "keep more skill than random ones"), ((90.0, 90.0), "keep less skill than random ones"),
    ((91.0, 90.0), "beat random ones at some k and not at others")])
def test_discussion_line_states_the_verdict_with_its_numbers(gradients: tuple[float, float],
                                                             words: str) -> None:
    line = chapter.discussion_line(two_k(gradients, (91.0, 91.0)))
    assert f"gradient-chosen inputs {words} (test-year binary accuracy {gradients[0]:.1f} % against 91.0 % " \
           "at k = 5" in line
    assert "the linear-trend forecast scores 91.5 %" in line and "demonstration" in line


def test_the_discussion_reads_ch8_networks_cached_or_shipped_and_never_trains(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from icegrad.evaluation import selection

    monkeypatch.setattr(chapter, "training_data", lambda run, resolution: (run.ds, None))
    monkeypatch.setattr(selection, "input_selection", lambda *a, **k: pytest.fail("trained"))
    monkeypatch.setattr(chapter, "is_at_hand", lambda ds, channels, setting: len(channels) != 10)
    assert chapter.discussion_text(run) == chapter.NOT_RUN
    monkeypatch.setattr(chapter, "is_at_hand", lambda ds, channels, setting: True)
    monkeypatch.setattr(selection, "input_selection", lambda *a, **k: two_k((92.0, 92.5), (91.0, 91.0)))
    assert "keep more skill than random ones" in chapter.discussion_text(run)


def test_is_at_hand_looks_for_the_intact_cached_or_the_shipped_ensemble_train_subset_would_serve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from icegrad import cache, pipeline
    from icegrad.evaluation import selection
    from icegrad.inputs.build import fit_normalisation
    from icegrad.model import shipped
    from icegrad.model.ensemble import IceNetEnsemble
    from icegrad.model.icenet import build_icenet
    from icegrad.model.train import model_parameters

    ds = pipeline.dataset("emulated", 200)  # from the usual cache; the networks' cache is a fresh one
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(shipped, "default_folder", lambda: tmp_path / "release")
    setting, channels = selection.SETTINGS["coarse"], CHANNELS[:3]
    assert not chapter.is_at_hand(ds, channels, setting)
    entry = cache.entry_path("models", model_parameters(ds, selection.train_config(ds, channels, setting)))

    def write(folder: Path) -> None:
        folder.mkdir(parents=True)
        (folder / "member.npz").write_bytes(b"weights")

    cache.store(entry, "models", {}, write)
    assert chapter.is_at_hand(ds, channels, setting)
    assert not chapter.is_at_hand(ds, CHANNELS[:4], setting)
    (entry / "member.npz").write_bytes(b"damaged")
    assert not chapter.is_at_hand(ds, channels, setting)

    four = selection.train_config(ds, CHANNELS[:4], setting)
    ens = IceNetEnsemble([build_icenet(ds.sizes["y"], ds.sizes["x"], 4, 0.125, seed=0)],
                         fit_normalisation(ds, four.train_years), list(four.channels),
                         {"seeds": [36], "filters_factor": 0.125})
    shipped.write_release(tmp_path / "release", [shipped.Release("four", model_parameters(ds, four), ens)])
    assert chapter.is_at_hand(ds, CHANNELS[:4], setting), "shipped, not cached"
    assert not chapter.is_at_hand(ds, CHANNELS[:5], setting)
