"""Attribution-guided input selection: subsets, and the comparison table, with cheap stand-in training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.errors import AttributionError
from icegrad.evaluation import selection
from icegrad.inputs import build as network_inputs
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.icenet import build_icenet

CHANNELS = ["siconca_abs_1", "siconca_abs_2", "tas_anom_1", "cos_month", "sin_month", "land"]


def test_top_k_random_k_and_subsets() -> None:
    scores = pd.Series([0.1, 0.9, 0.5, 0.0, 0.0, 0.3], index=CHANNELS)
    assert selection.top_k(scores, 2, CHANNELS) == ("siconca_abs_2", "tas_anom_1")
    assert selection.random_k(CHANNELS, 3, seed=1) == selection.random_k(CHANNELS, 3, seed=1)
    assert len(set(selection.random_k(CHANNELS, 3, seed=1))) == 3
    chosen = selection.subsets(CHANNELS, {"gradients": scores, "random": None}, ks=(1, 2))
    assert set(chosen) == {("all", 6), ("gradients", 1), ("gradients", 2), ("random", 1), ("random", 2)}
    assert chosen[("gradients", 1)] == ("siconca_abs_2",)
    with pytest.raises(AttributionError, match=r"k=7 must be within 1\.\.6"):
        selection.top_k(scores, 7, CHANNELS)
    with pytest.raises(AttributionError, match="lack channel"):
        selection.top_k(scores.drop("land"), 2, CHANNELS)


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("selection-cache")))
        return pipeline.dataset("emulated", 200)


def untrained(ds: xr.Dataset, channels: Sequence[str], setting: selection.Setting) -> IceNetEnsemble:
    """A stand-in for training: an untrained narrow IceNet on ``channels`` (seeded by their number)."""
    model = build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels=len(channels), filters_factor=0.125,
                         seed=len(channels))
    manifest = {"data_source": "emulated", "created": "test",
                "splits": {"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)}}
    return IceNetEnsemble([model], network_inputs.fit_normalisation(ds), list(channels), manifest)


def test_input_selection_compares_every_subset_with_the_full_network(emulated: xr.Dataset) -> None:
    roi = pipeline.region(emulated)
    channels = [*CHANNELS[:3], "siconca_abs_3"]
    scores = pd.Series(np.arange(len(channels), dtype=float), index=channels)
    table = selection.input_selection(emulated, roi, {"gradients": scores, "random": None}, channels,
                                      ks=(2,), leads=(1,), train=untrained)
    assert table["chooser"].tolist() == ["all", "gradients", "random"]
    assert table.loc[1, "channels"] == "tas_anom_1 siconca_abs_3"
    assert table.loc[0, "accuracy_vs_full"] == 0 and np.isfinite(table["roi_sip_lead1_vs_full"]).all()
    assert ((table["roi_sip_lead1"] >= 0) & (table["roi_sip_lead1"] <= 1)).all()
    assert (table["test_accuracy"] > 0).all() and (table["data_source"] == "emulated").all()
    assert table["trend_accuracy"].nunique() == 1 and 50 < table["trend_accuracy"].iloc[0] <= 100
    with pytest.raises(AttributionError, match="unknown setting 'huge'"):
        selection.input_selection(emulated, roi, {}, channels, setting="huge", train=untrained)


@pytest.mark.slow
def test_real_training_at_a_tiny_setting(emulated: xr.Dataset, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(selection.SETTINGS, "tiny", selection.Setting(members=1, epochs=1, width=0.125))
    table = selection.input_selection(emulated, pipeline.region(emulated), {"random": None}, CHANNELS,
                                      ks=(3,), setting="tiny", leads=(1,))
    assert table["k"].tolist() == [6, 3] and table["channels"].str.split().str.len().tolist() == [6, 3]
    assert ((table["test_accuracy"] > 50) & (table["test_accuracy"] <= 100)).all()
