"""Skill metrics on hand-built forecasts whose accuracy and extent error are known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from icegrad.grid import ease2_grid
from icegrad.model.skill import (
    OPTIMAL,
    TARGET_GAIN,
    HeldOut,
    SkillError,
    baseline_forecasts,
    binary_accuracy,
    ceiling,
    headline,
    held_out_forecasts,
    observed_ice,
    paired_bootstrap,
    sea_ice_probability,
    skill_scores,
    skill_table,
)
from icegrad.variables import SIC_CLASSES

SIDE = 54  # the 200 km grid: every cell covers 40 000 km2
CELL_AREA_MKM2 = 0.04


def make_targets(n_time: int = 2, n_leads: int = 2) -> xr.Dataset:
    """Ice (full class) in the top-left 10x10 block, active region rows 0-19, land in the last column."""
    g = ease2_grid(200)
    classes = np.zeros((n_time, SIDE, SIDE, n_leads), dtype=int)
    classes[:, :10, :10] = 2
    one_hot = np.moveaxis(np.eye(3, dtype="float32")[classes], -1, -2)
    weight = np.zeros((n_time, SIDE, SIDE, n_leads), dtype="float32")
    weight[:, :20] = 1.0
    land = np.zeros((SIDE, SIDE), dtype=bool)
    land[:, -1] = True
    weight[:, :, -1] = 0.0
    coords = {"time": np.array(["2019-01-01", "2019-02-01"][:n_time], dtype="datetime64[ns]"),
              "lead": np.arange(1, n_leads + 1), "class": list(SIC_CLASSES),
              "y": g.y, "x": g.x, "land": (("y", "x"), land)}
    return xr.Dataset({"targets": (("time", "y", "x", "class", "lead"), one_hot),
                       "sample_weight": (("time", "y", "x", "lead"), weight)}, coords=coords,
                      attrs={"data_source": "emulated"})


def sip_from(ice: np.ndarray, targets: xr.Dataset) -> xr.DataArray:
    return xr.DataArray(ice.astype("float32"), dims=("time", "y", "x", "lead"),
                        coords={k: targets[k] for k in ("time", "y", "x", "lead")})


def test_perfect_and_known_wrong_forecasts():
    targets = make_targets()
    perfect = np.zeros((2, SIDE, SIDE, 2))
    perfect[:, :10, :10] = 0.9
    wrong = perfect.copy()
    wrong[:, 10:15, :10] = 0.8   # 50 extra ice cells inside the active region
    wrong[:, 30:40, 30:40] = 1.0  # outside the active region: never counted as a forecast
    wrong[:, :10, -1] = 1.0      # on land: not counted either
    scores = skill_scores({"perfect": sip_from(perfect, targets), "wrong": sip_from(wrong, targets)}, targets)
    assert scores["binary_accuracy"].dims == ("model", "lead")
    np.testing.assert_allclose(scores["binary_accuracy"].sel(model="perfect"), 100.0)
    np.testing.assert_allclose(scores["sie_error"].sel(model="perfect"), 0.0)
    active_cells = 20 * (SIDE - 1)
    np.testing.assert_allclose(scores["binary_accuracy"].sel(model="wrong"), 100 * (1 - 50 / active_cells))
    np.testing.assert_allclose(scores["sie_error"].sel(model="wrong"), 50 * CELL_AREA_MKM2, rtol=1e-6)
    assert scores["sie_error"].attrs["units"] == "1e6 km2" and scores["binary_accuracy"].attrs["units"] == "%"


def test_plain_array_accuracy_is_the_weighted_share_of_correct_cells_skill_scores_reports():
    targets = make_targets(n_time=2, n_leads=3)
    rng = np.random.default_rng(0)
    weight = targets["sample_weight"].values * rng.uniform(0.5, 2.0, targets["sample_weight"].shape)
    targets["sample_weight"][:] = weight.astype("float32")  # unequal weights: a plain share would differ
    sip = rng.uniform(0.0, 1.0, (2, SIDE, SIDE, 3)).astype("float32")
    observed = observed_ice(targets).values
    scores = binary_accuracy(sip, observed, targets["sample_weight"].values)
    active = targets["sample_weight"].values > 0
    correct = ((sip > 0.5) & active) == observed
    by_hand = [100 * np.average(correct[..., k], weights=targets["sample_weight"].values[..., k])
               for k in range(3)]
    np.testing.assert_allclose(scores, by_hand, rtol=1e-6)
    assert abs(scores[0] - 100 * correct[..., 0][active[..., 0]].mean()) > 0.1  # the weights did matter
    labelled = skill_scores({"m": sip_from(sip, targets)}, targets)["binary_accuracy"].sel(model="m")
    np.testing.assert_array_equal(labelled.values, scores)


def test_probability_threshold_is_one_half():
    targets = make_targets(n_time=1, n_leads=1)
    ice = np.zeros((1, SIDE, SIDE, 1))
    ice[:, :10, :10] = 0.5  # exactly one half is not "ice"
    scores = skill_scores({"m": sip_from(ice, targets)}, targets)
    assert float(scores["sie_error"].item()) == pytest.approx(100 * CELL_AREA_MKM2)


def test_sea_ice_probability_sums_the_ice_classes():
    probs = xr.DataArray(np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]]), dims=("cell", "class"),
                         coords={"class": list(SIC_CLASSES)})
    np.testing.assert_allclose(sea_ice_probability(probs), [0.8, 0.3])


def test_baselines_threshold_the_sic_channels():
    channels = ["siconca_abs_1", "siconca_linear_trend_1", "siconca_linear_trend_2"]
    values = np.zeros((1, 2, 2, 3), dtype="float32")
    values[0, 0, 0] = [0.2, 0.1, 0.9]  # persistence ice, trend lead 1 open, trend lead 2 ice
    values[0, 1, 1] = [0.15, 0.16, 0.0]  # SIC must exceed 0.15 strictly
    inputs = xr.DataArray(values, dims=("time", "y", "x", "channel"), coords={"channel": channels})
    forecasts = baseline_forecasts(inputs, n_leads=2)
    assert forecasts["persistence"].dims == ("time", "y", "x", "lead")
    np.testing.assert_array_equal(forecasts["persistence"][0, 0, 0], [1, 1])
    np.testing.assert_array_equal(forecasts["linear_trend"][0, 0, 0], [0, 1])
    np.testing.assert_array_equal(forecasts["persistence"][0, 1, 1], [0, 0])
    np.testing.assert_array_equal(forecasts["linear_trend"][0, 1, 1], [1, 0])
    with pytest.raises(SkillError, match="baseline channel"):
        baseline_forecasts(inputs.sel(channel=channels[:2]), n_leads=2)


def test_mismatched_forecasts_and_empty_weights_are_reported():
    targets = make_targets()
    with pytest.raises(SkillError, match="sizes"):
        skill_scores({"m": sip_from(np.zeros((1, SIDE, SIDE, 2)), targets.isel(time=[0]))}, targets)
    with pytest.raises(SkillError, match="no active cells"):
        skill_scores({"m": sip_from(np.zeros((2, SIDE, SIDE, 2)), targets)},
                     targets.assign(sample_weight=targets["sample_weight"] * 0))


def test_tidy_table_has_one_row_per_model_lead_metric():
    targets = make_targets()
    scores = skill_scores({"a": sip_from(np.zeros((2, SIDE, SIDE, 2)), targets),
                           "b": sip_from(np.ones((2, SIDE, SIDE, 2)), targets)}, targets)
    table = skill_table(scores)
    assert list(table.columns) == ["model", "lead", "metric", "value", "units"]
    assert len(table) == 2 * 2 * 2
    assert set(table["units"]) == {"%", "1e6 km2"}


def held(forecasts: dict[str, np.ndarray], targets: xr.Dataset) -> HeldOut:
    sips = {name: sip_from(ice, targets) for name, ice in forecasts.items()}
    return HeldOut(sips, targets, (2019, 2019), 2)


def test_headline_accuracy_gain_and_september_extent_rmse():
    months = np.array(["2019-08-01", "2019-09-01"], dtype="datetime64[ns]")
    targets = make_targets().assign_coords(time=months)
    perfect = np.zeros((2, SIDE, SIDE, 2))
    perfect[:, :10, :10] = 0.9
    trend = perfect.copy()
    trend[0, 10:15, :10, 1] = 1.0  # 50 extra cells in the September forecast started in August
    trend[1, 10:12, :10, 0] = 1.0  # 20 extra in the September forecast started in September (lead 1)
    trend[1, 10:20, :10, 1] = 1.0  # 100 extra in October: not a September target
    models = {"icenet": perfect, "linear_trend": trend, "persistence": perfect}
    top = headline(held(models, targets), n_boot=50)
    active = 2 * 20 * (SIDE - 1)  # active cells of one lead over both start months
    assert top.accuracy.loc[1, "icenet"] == 100.0
    assert top.accuracy.loc[1, "linear_trend"] == pytest.approx(100 * (1 - 20 / active))
    assert top.accuracy.loc[2, "linear_trend"] == pytest.approx(100 * (1 - 150 / active))
    assert top.gain == pytest.approx(top.mean["icenet"] - top.mean["linear_trend"])
    assert top.ci[0] > 0  # better in every forecast: the interval excludes zero
    assert top.n_september == 2 and top.n_forecasts == 2
    assert top.extent_rmse["icenet"] == 0.0
    assert top.extent_rmse["linear_trend"] == pytest.approx(np.sqrt((50**2 + 20**2) / 2) * CELL_AREA_MKM2)
    with pytest.raises(SkillError, match="targets a September"):
        headline(held({"icenet": perfect, "linear_trend": trend}, make_targets()), n_boot=10)


def test_paired_bootstrap_interval_follows_the_evidence():
    weight = np.ones((6, 2))
    same = paired_bootstrap(np.stack([weight, weight]), weight, n_boot=200)
    assert same == (0.0, (0.0, 0.0))
    mixed = np.stack([weight, weight * np.array([[1.0], [0.0], [1.0], [1.0], [1.0], [1.0]])])
    gain, (low, high) = paired_bootstrap(mixed[::-1], weight, n_boot=500, seed=1)
    assert gain == pytest.approx(-100 / 6) and low <= gain <= high
    assert high == 0.0  # one bad month among six: some draws miss it, the interval reaches 0
    with pytest.raises(SkillError, match="n_boot"):
        paired_bootstrap(mixed, weight, n_boot=0)


def ceiling_of(trend_errors: dict[int, int]) -> tuple:
    """Headline and ceiling of a perfect optimal forecast, an ensemble with half the trend's errors
    (``trend_errors[lead]`` extra ice cells in every forecast at that lead) and persistence."""
    months = np.array(["2019-08-01", "2019-09-01"], dtype="datetime64[ns]")
    targets = make_targets().assign_coords(time=months)
    perfect = np.zeros((2, SIDE, SIDE, 2))
    perfect[:, :10, :10] = 0.9
    trend, icenet = perfect.copy(), perfect.copy()
    for lead, n in trend_errors.items():
        trend[:, 10:20, :n // 10, lead - 1] = 1.0
        icenet[:, 10:20, :n // 20, lead - 1] = 1.0
    models = {"icenet": icenet, "linear_trend": trend, "persistence": perfect, OPTIMAL: perfect}
    top = headline(held(models, targets), n_boot=50)
    return top, ceiling(top)


def test_the_ceiling_is_the_optimal_forecasts_gain_over_the_trend():
    active = 2 * 20 * (SIDE - 1)  # active cells of one lead over both start months
    top, ceil = ceiling_of({1: 20, 2: 100})
    assert list(ceil.accuracy.columns) == [OPTIMAL, "icenet", "linear_trend"]
    assert ceil.accuracy[OPTIMAL].tolist() == [100.0, 100.0]
    assert ceil.attainable == pytest.approx(100 * (40 + 200) / active / 2, rel=1e-5)  # 5.66 points
    assert ceil.reachable and ceil.leads_reachable == 2
    assert ceil.attainable_ci[0] > 0 and ceil.attainable_ci[0] <= ceil.attainable <= ceil.attainable_ci[1]
    assert ceil.gain == pytest.approx(top.gain) and ceil.realised == pytest.approx(0.5, rel=1e-4)
    assert ceil.extent_rmse[OPTIMAL] == 0.0 and ceil.extent_rmse["linear_trend"] > 0


def test_a_gain_the_optimal_forecast_cannot_reach_is_not_reachable():
    _, ceil = ceiling_of({1: 20})  # 40 of 2120 cells at lead 1: 1.89 points there, 0.94 on average
    assert ceil.attainable < TARGET_GAIN and not ceil.reachable and ceil.leads_reachable == 1
    _, none = ceiling_of({})
    assert none.attainable == 0.0 and np.isnan(none.realised)


def test_no_ceiling_without_an_optimal_forecast():
    months = np.array(["2019-08-01", "2019-09-01"], dtype="datetime64[ns]")
    targets = make_targets().assign_coords(time=months)
    ice = np.zeros((2, SIDE, SIDE, 2))
    top = headline(held({"icenet": ice, "linear_trend": ice, "persistence": ice}, targets), n_boot=10)
    assert top.attainable_ci is None and ceiling(top) is None


@pytest.fixture(scope="module")
def emulated_and_untrained():
    from icegrad import pipeline
    from icegrad.inputs.build import fit_normalisation
    from icegrad.model.ensemble import IceNetEnsemble, base_manifest
    from icegrad.model.icenet import build_icenet
    from icegrad.variables import CHANNEL_NAMES

    ds = pipeline.dataset("emulated", 200)
    member = build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels=len(CHANNEL_NAMES), filters_factor=0.125,
                          seed=36)
    manifest = base_manifest(data_source="emulated", seeds=[36], filters_factor=0.125,
                             splits={"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)},
                             comment="untrained: for the ceiling's test")
    return ds, IceNetEnsemble([member], fit_normalisation(ds), CHANNEL_NAMES, manifest)


def test_the_optimal_forecast_is_scored_on_emulated_data_only_and_beats_the_baselines(emulated_and_untrained):
    ds, ens = emulated_and_untrained
    held_opt = held_out_forecasts(ens, ds, years=(2019, 2019), optimal=True)
    assert held_opt.forecasts[OPTIMAL].sizes == held_opt.forecasts["icenet"].sizes
    top = headline(held_opt, n_boot=100)
    mean = top.mean
    assert mean[OPTIMAL] > mean["linear_trend"] and mean[OPTIMAL] > mean["persistence"]
    assert ceiling(top).attainable == pytest.approx(mean[OPTIMAL] - mean["linear_trend"])
    assert OPTIMAL not in held_out_forecasts(ens, ds, years=(2019, 2019)).forecasts
    real = ds.assign_attrs(data_source="nsidc")
    assert OPTIMAL not in held_out_forecasts(ens, real, years=(2019, 2019), optimal=True).forecasts
