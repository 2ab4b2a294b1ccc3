"""Chapter 4's page: the architecture table and the judgements of its prose, for each outcome."""

from __future__ import annotations

import pandas as pd
import pytest

from icegrad.pages import icenet

SPLITS = {"train": [1980, 2011], "val": [2012, 2017], "test": [2018, 2020]}


@pytest.mark.parametrize(("year", "split"), [(1980, "training"), (2013, "validation"), (2020, "test"),
                                             (1979, "none of the")])
def test_case_split_names_the_split_holding_the_year(year: int, split: str) -> None:
    assert icenet.case_split(SPLITS, year) == split


@pytest.mark.parametrize(("gain", "verdict"), [(0.5, "beats"), (0.0, "does not beat"),
                                               (-3.0, "does not beat")])
def test_beats_trend_only_for_a_positive_gain(gain: float, verdict: str) -> None:
    assert icenet.beats_trend(gain) == verdict


def test_epochs_and_temperature_prose() -> None:
    assert icenet.epochs_text([3, 3], 8, 0.07412).startswith("The members all ran 3 of at most 8 epochs")
    assert icenet.epochs_text([2, 5], 8, 0.07).startswith("The members ran between 2 and 5 of at most 8")
    assert "0.0741" in icenet.epochs_text([3, 3], 8, 0.07412)
    assert icenet.temperature_text(pd.Series([0.89, 1.2])).startswith(
        "The fitted temperatures range from 0.89 to 1.20")


def test_pretraining_prose_names_the_realisations_and_is_silent_without_pretraining() -> None:
    members = [{"pretrain": {"epochs_run": 8}}, {"pretrain": {"epochs_run": 6}}]
    manifest = {"train_config": {"pretrain_epochs": 8, "pretrain_years": [1980, 2011],
                                 "pretrain_realisations": [1]}, "members_summary": members}
    assert icenet.pretraining_text(manifest) == (
        "Each member was first pre-trained for 6-8 of at most 8 epochs on the 1980-2011 starts of 1 other "
        "realisation of the emulated Arctic (weather seed 1: the same rule, other weather), as IceNet was on "
        "CMIP6 simulations, then trained on this run's own training years, the stage shown here. ")
    manifest["train_config"]["pretrain_realisations"] = [1, 6]
    assert "for 6-8 of at most 8 epochs on the 1980-2011 starts of 2 other realisations of the emulated " \
        "Arctic (weather seeds 1 and 6:" in icenet.pretraining_text(manifest)
    manifest["train_config"]["pretrain_realisations"] = []
    assert "starts of a pre-training dataset, as IceNet" in icenet.pretraining_text(manifest)
    manifest["members_summary"] = [{"pretrain": {"epochs_run": 8}}] * 2
    assert icenet.pretraining_text(manifest).startswith("Each member was first pre-trained for all 8 epochs")
    manifest["members_summary"] = [{"pretrain": {"epochs_run": 5}}] * 2
    assert "pre-trained for 5 of at most 8 epochs" in icenet.pretraining_text(manifest)
    assert icenet.pretraining_text({"train_config": {"pretrain_epochs": 0}, "members_summary": []}) == ""
    assert icenet.pretraining_text({"train_config": {"epochs": 8}, "members_summary": []}) == ""


def test_schedule_and_span_prose() -> None:
    assert icenet.schedule_text({"learning_rate": 0.001, "lr_schedule": "cosine", "batch_size": 4}) == \
        "step 0.001, cosine-decayed to zero over the epochs, batch 4"
    assert icenet.schedule_text({}) == "step n/a, held fixed, batch n/a"
    assert icenet.year_span(SPLITS["val"]) == "2012–2017"


def test_block_table_accounts_for_every_weight_but_the_temperature() -> None:
    from icegrad.model.icenet import build_icenet

    model = build_icenet(32, 32, n_channels=50, filters_factor=0.125, seed=0)
    table = icenet.block_table(model)
    assert list(table.index[:5]) == ["enc1", "enc2", "enc3", "enc4", "enc5"] and table.index[-1] == "heads"
    temperature = model.get_layer("temperature_scale").count_params()  # the one weight outside the blocks
    assert table["parameters"].sum() == model.count_params() - temperature
    assert table.loc["enc1", "grid"] == "32×32" and table.loc["enc2", "grid"] == "16×16"
    assert icenet.block_of("lead3_conv") == "heads" and icenet.block_of("dec2_up") == "dec2"


def test_the_release_has_temperatures_and_no_training_record(tmp_path) -> None:
    from types import SimpleNamespace

    import xarray as xr

    release = SimpleNamespace(manifest={"temperatures": [0.9, 1.1], "seeds": [36, 37]})
    section = icenet.training_section(xr.Dataset(attrs={"data_source": "emulated"}), release, 8, 25, tmp_path)
    assert list(section.tables["training"].index) == ["seed36", "seed37"]
    assert section.values["training_text"].startswith("These networks were trained by IceNet's authors")
    assert "range from 0.90 to 1.10" in section.values["training_text"]
    assert section.values["training_caption"].startswith("Fitted temperature of each network")
    assert (tmp_path / "icenet_training.png").exists()


@pytest.mark.parametrize(("low", "high", "words"),
                         [(0.2, 1.5, "excludes zero, so the ensemble is more accurate"),
                          (-1.0, 0.4, "includes zero, so these test years cannot"),
                          (-2.0, -0.1, "excludes zero, so the ensemble is less")])
def test_interval_text_says_whether_the_gain_is_beyond_chance(low: float, high: float, words: str) -> None:
    text = icenet.interval_text(low, high, 0.95)
    assert text.startswith(f"95 % paired bootstrap interval {low:+.2f} to {high:+.2f} points: it ")
    assert words in text


@pytest.mark.parametrize(("ensemble", "side"), [(0.2, "below"), (0.3, "not below"), (0.25, "not below")])
def test_extent_text_compares_the_september_rmse_with_the_trend(ensemble: float, side: str) -> None:
    text = icenet.extent_text({"icenet": ensemble, "linear_trend": 0.25, "persistence": 0.9}, 12)
    assert text == (f"Over the 12 forecasts whose target is a September, the ensemble's extent RMSE is "
                    f"{ensemble:.3f} million km², {side} the linear trend's 0.250 (persistence: 0.900)")


def a_ceiling(optimal: float, icenet: float, trend: float = 96.0):
    """A ceiling with constant accuracies over six leads (points of binary accuracy)."""
    from icegrad.model.skill import Ceiling

    accuracy = pd.DataFrame({"optimal": optimal, "icenet": icenet, "linear_trend": trend},
                            index=pd.Index(range(1, 7), name="lead"))
    rmse = {"optimal": 0.2, "icenet": 0.3, "linear_trend": 0.25}
    return Ceiling(accuracy, optimal - trend, (optimal - trend - 0.5, optimal - trend + 0.5), icenet - trend,
                   rmse)


@pytest.mark.parametrize(("optimal", "words"), [(97.5, "is attainable"), (96.9, "is not attainable")])
def test_attainable_text_says_whether_the_optimal_forecast_gains_a_point(optimal: float, words: str) -> None:
    text = icenet.attainable_text(a_ceiling(optimal, 96.5))
    assert words in text and f"{optimal - 96.0:+.2f} points" in text
    assert f"at {6 if optimal - 96.0 >= 1 else 0} of 6 leads" in text


@pytest.mark.parametrize(("optimal", "ensemble", "words"), [
    (98.0, 97.0, "realises 50 % of it (+1.00 of +2.00 points), 1.00 points below"),
    (98.0, 95.5, "realises none of it: it is -0.50 points from the trend and 2.50 points below"),
    (95.5, 95.0, "no gain for the ensemble to realise")])
def test_realised_text_says_how_much_of_the_gain_the_ensemble_takes(optimal: float, ensemble: float,
                                                                    words: str) -> None:
    assert words in icenet.realised_text(a_ceiling(optimal, ensemble))


@pytest.mark.parametrize(("optimal", "side"), [(0.2, "below"), (0.3, "not below")])
def test_ceiling_extent_text_compares_the_optimal_rmse_with_the_trend(optimal: float, side: str) -> None:
    text = icenet.ceiling_extent_text({"optimal": optimal, "linear_trend": 0.25, "icenet": 0.4})
    assert f"{optimal:.3f} million km², {side} the linear trend's 0.250" in text


def test_ceiling_text_is_labelled_emulated_and_says_when_there_is_none() -> None:
    text = icenet.ceiling_text(a_ceiling(97.5, 96.5), "emulated")
    assert "emulated (synthetic)" in text and "97.50 %" in text and "is attainable" in text
    none = icenet.ceiling_text(None, "nsidc")
    assert none.startswith("No ceiling is stated: NSIDC") and "no known optimal forecast" in none
    assert icenet.ceiling_summary(None, "nsidc") == none
    summary = icenet.ceiling_summary(a_ceiling(96.5, 96.0), "emulated")
    assert summary.startswith("Ceiling (emulated Arctic): Even") and summary.endswith("these inputs.")


@pytest.mark.parametrize(("manifest", "words"), [
    ({"shipped": "data/networks", "shipped_precision": "float16", "members_summary": []},
     "loaded from the book's shipped networks"),
    ({"temperatures": [1.0], "seeds": [36]}, "IceNet release"),
    ({"members_summary": [], "created": "2026-12-05T12:00:00+00:00"}, "trained by icegrad"),
])
def test_provenance_text_says_whether_the_networks_shipped_were_released_or_trained(manifest, words) -> None:
    text = icenet.provenance_text(manifest)
    assert words in text
    assert ("nothing was trained" in text) == ("members_summary" not in manifest or "shipped" in manifest)
