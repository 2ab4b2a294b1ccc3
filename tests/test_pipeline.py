"""The book's cached stages connect end to end and never recompute what is cached."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad import cache, config, pipeline
from icegrad.attribution import attribute
from icegrad.errors import ConfigError
from icegrad.model import train


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[str]:
    """Replace ``module.name`` by a wrapper that records each call (its first argument's text)."""
    calls: list[str] = []
    original: Callable[..., Any] = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[0]) if args else "")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


@pytest.mark.slow
def test_stages_connect_and_cache(isolated_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trainings = _counting(monkeypatch, train, "train_ensemble")
    stored = _counting(monkeypatch, cache, "store")  # every computed entry is stored, once
    ds = pipeline.dataset("emulated", 200)  # the ensemble without pre-training: the stages are under test
    roi = pipeline.region(ds)
    assert roi.attrs["n_cells"] > 0
    ens = pipeline.ensemble(ds, members=1, epochs=1, pretrain_realisations=())
    result = pipeline.attributions(ds, ens, roi, "2013-09", leads=(1, 2), steps=8)
    assert list(result["member"].values) == ens.member_names
    assert result.attrs["data_source"] == "emulated"
    # A real attribution of the ROI target: finite everywhere, non-zero, target values are probabilities.
    # (IG completeness is tested on U-Nets in tests/attribution; on a trained model at 8 steps it is
    # not expected to hold, and the book's 64-step check is reported in chapter 5.)
    assert np.isfinite(result.attribution).all()
    assert float(np.abs(result.attribution).sum()) > 0
    assert ((result.target_value >= 0) & (result.target_value <= 1)).all()
    assert len(trainings) == 1
    stages = sorted(Path(entry).parent.name for entry in stored)
    # One attribution and one climatological baseline per lead.
    assert stages == ["attributions", "attributions", "baselines", "baselines", "emulator", "models"]
    entries = {entry: Path(entry).stat().st_mtime_ns for entry in stored}
    builds = _counting(monkeypatch, pipeline.network_inputs, "build_inputs")

    again = pipeline.attributions(pipeline.dataset("emulated", 200),
                                  pipeline.ensemble(ds, members=1, epochs=1, pretrain_realisations=()), roi,
                                  "2013-09", leads=(1, 2), steps=8)
    assert len(trainings) == 1, "the cached ensemble was retrained"
    assert len(stored) == 6, f"cached stages were recomputed: {stored[6:]}"
    assert {entry: Path(entry).stat().st_mtime_ns for entry in stored} == entries
    # the explained inputs only: the climatological baselines come from their cache
    assert len(builds) == 1, "a cached re-run rebuilt the climatological baselines"
    np.testing.assert_array_equal(again.attribution.values, result.attribution.values)

    # The counterfactual baseline: the same forecast of the reference year (2007), at each lead.
    counter = pipeline.attributions(ds, ens, roi, "2013-09", leads=(1, 2), steps=8, baseline="counterfactual")
    assert list(counter["baseline_forecast_start"].values) == ["2007-09", "2007-08"]
    assert counter.attrs["baseline_target_month"] == "2007-09"
    reference = pipeline.attributions(ds, ens, roi, "2007-09", leads=(1, 2), method="vanilla_gradient")
    np.testing.assert_allclose(counter["baseline_target_value"], reference["target_value"], rtol=1e-4)

    # Persistence: the same forecast one year earlier (2012), at each lead; baseline_options gives a
    # one-sample caller (the sweep, ch. 5's randomisation test) the same baseline.
    persistence = pipeline.attributions(ds, ens, roi, "2013-09", leads=(1, 2), steps=8,
                                        baseline="persistence")
    assert list(persistence["baseline_forecast_start"].values) == ["2012-09", "2012-08"]
    assert persistence.attrs["baseline_target_month"] == "2012-09"
    options = pipeline.baseline_options(ds, ens, "2013-09", 2, "persistence")
    assert list(options) == ["persistence"] and options["persistence"].attrs["forecast_start"] == "2012-08"
    sample = pipeline.forecast_inputs(ds, ens, "2013-09", [2]).sel(time="2013-08-01")
    alone = attribute(ens.members, sample, roi, 2, steps=8, baseline="persistence", land=ds["land"],
                      **options)
    np.testing.assert_allclose(alone["baseline_target_value"],
                               persistence["baseline_target_value"].sel(lead=[2]), rtol=1e-4)
    assert pipeline.baseline_options(ds, ens, "2013-09", 1, "counterfactual")["counterfactual"].attrs[
        "forecast_start"] == "2007-09"
    assert list(pipeline.baseline_options(ds, ens, "2013-09", 1, "climatology")) == ["climatology"]
    assert pipeline.baseline_options(ds, ens, "2013-09", 1, "zeros") == {}
    assert pipeline.baseline_options(ds, ens, "2013-09", 1, "persistence", method="vanilla_gradient") == {}

    # The baseline gallery: every named baseline, its question and the explained change, from the cache.
    table, results = pipeline.baseline_gallery(ds, ens, roi, "2013-09", leads=(1, 2), steps=8, n_boot=10)
    assert set(table["baseline"]) == set(config.BASELINES) == set(results)
    assert table["question"].str.len().min() > 20 and np.isfinite(table["change"]).all()


def _record(data_source: str = "emulated") -> xr.Dataset:
    """A SIC-only record over IceNet's years on a 2 x 2 grid (SYNTHETIC: zeros), enough to name a training."""
    times = pd.date_range("1979-01-01", "2020-12-01", freq="MS")
    return xr.Dataset({"siconca": (("time", "y", "x"), np.zeros((len(times), 2, 2), "float32"))},
                      coords={"time": times}, attrs={"data_source": data_source})


def test_pretraining_realisations_run_as_many_epochs_over_the_training_years() -> None:
    ds = _record()
    plain = pipeline.train_config(ds, 2, 0.25, 3, pretrain_realisations=())
    assert not plain.pretrains and plain.pretrain_realisations == ()
    pre = pipeline.train_config(ds, 2, 0.25, 3, pretrain_realisations=[1, 4])
    assert (pre.pretrain_epochs, pre.pretrain_years, pre.pretrain_realisations) == \
        (3, plain.train_years, (1, 4))
    assert dataclasses.replace(pre, pretrain_epochs=0, pretrain_years=None, pretrain_realisations=()) == plain
    assert pipeline.train_config(ds, 2, 0.25, None, pretrain_realisations=[1]).pretrain_epochs == 8


def test_by_default_the_emulated_arctic_pre_trains_on_the_books_realisations_and_a_record_on_none() -> None:
    assert pipeline.train_config(_record(), 2, 0.25, 3).pretrain_realisations == config.PRETRAIN_REALISATIONS
    assert pipeline.train_config(_record("nsidc"), 2, 0.25, 3) == \
        pipeline.train_config(_record("nsidc"), 2, 0.25, 3, pretrain_realisations=())


def test_a_run_configuration_names_its_ensembles_training(monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[train.TrainConfig] = []
    monkeypatch.setattr(pipeline, "load_or_train", lambda ds, config: trained.append(config))
    run = config.RunConfig(members=2, width=0.5, epochs=3, pretrain_realisations=(2,))
    pipeline.run_ensemble(_record(), run)
    assert (trained[0].members, trained[0].filters_factor, trained[0].epochs) == (2, 0.5, 3)
    assert (trained[0].pretrain_realisations, trained[0].pretrain_epochs) == ((2,), 3)


def test_released_weights_are_not_pre_trained() -> None:
    with pytest.raises(ConfigError, match="loads IceNet's released networks, which train nothing here; drop "
                                          "pretrain_realisations or weights"):
        pipeline.ensemble(_record(), weights="release", pretrain_realisations=(1,))
