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
