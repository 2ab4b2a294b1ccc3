"""Permute-and-predict on the 200 km emulated Arctic, with networks whose reliance is known by construction.

``CopyChannel`` forecasts every lead from one input channel alone (sea ice where that channel's SIC
exceeds 0.15), so it provably ignores every other channel: their importance must be exactly zero,
while scrambling the copied channel across start months must cost accuracy. A random 1x1 convolution
reads every channel; the channels that do not vary across the chosen start months (the land mask
always, cos/sin month when all starts share a calendar month) must still get exactly zero.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icegrad import grid, pipeline
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import build_result
from icegrad.evaluation import permutation as baselines
from icegrad.inputs import build as network_inputs
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.skill import evaluate_skill
from icegrad.variables import CHANNEL_NAMES, GROUPS

STARTS_2018 = [f"2018-{m:02d}" for m in range(1, 13)]
COPIED = "siconca_abs_1"


class CopyChannel(keras.layers.Layer):
    """IceNet-shaped probabilities (open, marginal, 0) from one channel: P(ice) = sigmoid(k (x - 0.15))."""

    def __init__(self, index: int, n_leads: int = 6, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.index, self.n_leads = index, n_leads

    def get_config(self) -> dict:
        return {**super().get_config(), "index": self.index, "n_leads": self.n_leads}

    def call(self, x: object) -> object:
        ice = keras.ops.sigmoid(40.0 * (x[..., self.index: self.index + 1] - 0.15))
        classes = keras.ops.stack([1.0 - ice, ice, keras.ops.zeros_like(ice)], axis=3)
        return keras.ops.repeat(classes, self.n_leads, axis=-1)


def copy_model(shape: tuple[int, int], index: int) -> keras.Model:
    inputs = keras.Input((*shape, len(CHANNEL_NAMES)))
    return keras.Model(inputs, CopyChannel(index)(inputs))


def conv_model(shape: tuple[int, int], seed: int) -> keras.Model:
    """Reads every channel: a random 1x1 convolution to 3 classes x 6 leads, softmax over classes."""
    inputs = keras.Input((*shape, len(CHANNEL_NAMES)))
    logits = keras.layers.Conv2D(18, 1, kernel_initializer=keras.initializers.RandomNormal(stddev=0.3,
                                                                                           seed=seed),
                                 bias_initializer=keras.initializers.RandomNormal(seed=seed + 1))(inputs)
    logits = keras.layers.Reshape((*shape, 3, 6))(logits)
    return keras.Model(inputs, keras.layers.Softmax(axis=3)(logits))


@pytest.fixture(scope="module")
def arctic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(tmp_path_factory.mktemp("baselines-cache")))
        ds = pipeline.dataset("emulated", 200)
        stats = network_inputs.fit_normalisation(ds)
        yield {"ds": ds, "stats": stats, "shape": (ds.sizes["y"], ds.sizes["x"])}


def ensemble_of(arctic: dict, *models: keras.Model) -> IceNetEnsemble:
    manifest = {"data_source": "emulated", "seeds": list(range(len(models))), "created": "test",
                "splits": {"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)}}
    return IceNetEnsemble(list(models), arctic["stats"], CHANNEL_NAMES, manifest)


@pytest.fixture(scope="module")
def copier(arctic: dict) -> IceNetEnsemble:
    model = copy_model(arctic["shape"], CHANNEL_NAMES.index(COPIED))
    return ensemble_of(arctic, model, copy_model(arctic["shape"], CHANNEL_NAMES.index(COPIED)))


@pytest.fixture(scope="module")
def copier_result(arctic: dict, copier: IceNetEnsemble) -> xr.Dataset:
    return baselines.permutation_importance(copier, arctic["ds"], STARTS_2018, n_permutations=3, seed=1,
                                            items=[COPIED, "tas_anom_1", "siconca_abs_2", "land"],
                                            cache=False)


def test_ignored_channels_cost_exactly_nothing_and_the_copied_one_costs_accuracy(copier_result) -> None:
    importance = copier_result["importance"]
    assert importance.dims == ("member", "permutation", "lead", "channel")
    for ignored in ("tas_anom_1", "siconca_abs_2", "land"):
        assert (importance.sel(channel=ignored) == 0).all(), ignored
    # Persistence of last month's SIC is a good one-month forecast; last month's SIC of another month
    # of 2018 (another season) is a much worse one. (At longer leads persistence itself is poor.)
    copied = importance.sel(channel=COPIED, lead=1)
    assert (copied > 1.0).all(), copied.values
    assert float(copied.mean()) > 5.0
    drop = copier_result["reference_accuracy"] - copier_result["accuracy"]
    np.testing.assert_allclose(drop.transpose(*importance.dims), importance)


def test_reference_accuracy_is_the_skill_chapters_report(arctic: dict, copier: IceNetEnsemble,
                                                         copier_result: xr.Dataset) -> None:
    """The unpermuted accuracy equals icegrad.model.skill's, over the same start months."""
    skill = evaluate_skill(copier, arctic["ds"], years=(2018, 2018))
    assert skill.attrs["n_forecasts"] == 12
    np.testing.assert_allclose(copier_result["reference_accuracy"].isel(member=0),
                               skill["binary_accuracy"].sel(model="icenet"), rtol=1e-6)


def test_attributes_say_what_was_done(copier_result: xr.Dataset) -> None:
    attrs = copier_result.attrs
    assert attrs["data_source"] == "emulated" and "EMULATED" in attrs["comment"]
    assert attrs["start_months"].split() == STARTS_2018
    assert (attrs["seed"], attrs["n_permutations"], attrs["n_start_months"]) == (1, 3, 12)
    assert "Andersson" in attrs["method"] and "binary accuracy" in attrs["metric"]
    assert copier_result["importance"].attrs["units"] == "%"
    assert list(copier_result["group"].values) == ["sic", "climate", "sic", "static"]
    orders = copier_result["start_order"]
    assert orders.dims == ("member", "permutation", "start")
    assert all(sorted(row) == list(range(12)) and (row != np.arange(12)).any()
               for row in orders.values.reshape(-1, 12))


def test_each_member_draws_its_own_orders_which_every_item_shares(copier_result: xr.Dataset) -> None:
    """Draws spread over members and permutations; a member's orders do not depend on those after it."""
    orders = copier_result["start_order"].values
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(baselines.draw_permutations(12, 3, seed=1), orders[:1])
    np.testing.assert_array_equal(baselines.draw_permutations(12, 3, seed=1, n_members=2), orders)


def test_same_seed_same_result_other_seed_other_draws(arctic: dict, copier: IceNetEnsemble,
                                                      copier_result: xr.Dataset) -> None:
    again = baselines.permutation_importance(copier, arctic["ds"], STARTS_2018, n_permutations=3, seed=1,
                                             items=[COPIED, "tas_anom_1", "siconca_abs_2", "land"],
                                             cache=False)
    xr.testing.assert_identical(again.drop_attrs(), copier_result.drop_attrs())
    other = baselines.permutation_importance(copier, arctic["ds"], STARTS_2018, n_permutations=3, seed=2,
                                             items=[COPIED], cache=False)
    assert not np.array_equal(other["start_order"], copier_result["start_order"])
    assert not np.array_equal(other["importance"].sel(channel=COPIED),
                              copier_result["importance"].sel(channel=COPIED))


def test_groups_permute_their_channels_together(arctic: dict, copier: IceNetEnsemble,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    result = baselines.permutation_importance(copier, arctic["ds"], STARTS_2018, by="group",
                                              n_permutations=2, cache=False)
    n_jobs = len(copier) * (1 + 2 * len(GROUPS))  # the unpermuted forecasts, then each group twice
    err = capsys.readouterr().err
    assert f"permute-and-predict: {len(copier)} member(s) x 2 permutation(s) x {len(GROUPS)} group(s)" in err
    assert f"0/{n_jobs}" in err
    assert list(result["group"].values) == list(GROUPS)
    importance = result["importance"]
    assert (importance.sel(group=[g for g in GROUPS if g != "sic"]) == 0).all()
    assert float(importance.sel(group="sic", lead=1).mean()) > 5.0
    assert "sic: siconca_abs_1 siconca_abs_2" in result.attrs["item_channels"]


def test_cache_hit_and_keys_of_weights_and_settings(arctic: dict, isolated_cache, monkeypatch) -> None:
    ens = ensemble_of(arctic, conv_model(arctic["shape"], seed=3))
    options = {"items": ["tas_anom_1", "land"], "n_permutations": 1, "seed": 0}
    first = baselines.permutation_importance(ens, arctic["ds"], STARTS_2018[:4], **options)
    assert len(list((isolated_cache / "permutation_importance").glob("*.nc"))) == 1

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(baselines, "_compute", refuse)
    second = baselines.permutation_importance(ens, arctic["ds"], STARTS_2018[:4], **options)
    xr.testing.assert_allclose(first, second)
    assert second.attrs["seed"] == 0 and "cache_parameters" in second.attrs
    with pytest.raises(AssertionError, match="recomputed"):
        baselines.permutation_importance(ens, arctic["ds"], STARTS_2018[:4], **{**options, "seed": 1})
    weights = ens.members[0].get_weights()
    ens.members[0].set_weights([w + 0.01 for w in weights])
    with pytest.raises(AssertionError, match="recomputed"):
        baselines.permutation_importance(ens, arctic["ds"], STARTS_2018[:4], **options)
    with pytest.raises(AssertionError, match="recomputed"):
        baselines.permutation_importance(ens, arctic["ds"], STARTS_2018[1:5], **options)


def test_default_start_months_are_the_test_years(arctic: dict, copier: IceNetEnsemble) -> None:
    starts = baselines.default_start_months(copier, arctic["ds"])
    assert starts[0] == pd.Timestamp("2018-01") and starts[-1] == pd.Timestamp("2020-07")
    short = arctic["ds"].sel(time=slice(None, "2018-06"))
    with pytest.raises(baselines.PermutationError, match="pass start_months"):
        baselines.default_start_months(copier, short)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"items": ["tas_anom_9"]}, "unknown channel"),
    ({"items": "land"}, "single string"),
    ({"items": ["land", "land"]}, "repeat"),
    ({"by": "group", "items": ["ocean"]}, "unknown group"),
    ({"by": "pixel"}, "permute by one of"),
    ({"start_months": ["2018-01"]}, "at least 2"),
    ({"start_months": ["2018-01", "2018-01"]}, "at least 2 distinct"),
    ({"n_permutations": 0}, "n_permutations must be at least 1"),
])
def test_bad_input_is_refused_before_any_forecast(arctic: dict, copier: IceNetEnsemble, monkeypatch,
                                                  kwargs: dict, match: str) -> None:
    monkeypatch.setattr(baselines, "_compute", lambda *a, **k: pytest.fail("computed despite bad input"))
    options = {"start_months": STARTS_2018[:3], "cache": False, **kwargs}
    with pytest.raises(baselines.PermutationError, match=match) as err:
        baselines.permutation_importance(copier, arctic["ds"], **options)
    assert isinstance(err.value, AttributionError)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=st.integers(1, 12), years=st.sets(st.integers(1995, 2019), min_size=2, max_size=3),
       model_seed=st.integers(0, 1000), seed=st.integers(0, 2**31 - 1), n_permutations=st.integers(1, 2))
def test_channels_constant_across_the_starts_have_zero_importance(
        arctic: dict, month: int, years: set[int], model_seed: int, seed: int, n_permutations: int) -> None:
    """Starts sharing a calendar month: land, cos and sin month are unchanged by any permutation."""
    ens = ensemble_of(arctic, conv_model(arctic["shape"], model_seed))
    starts = [f"{year}-{month:02d}" for year in sorted(years)]
    constant = ["land", "cos_month", "sin_month"]
    result = baselines.permutation_importance(ens, arctic["ds"], starts, items=[*constant, "tas_anom_1"],
                                              n_permutations=n_permutations, seed=seed, cache=False)
    assert (result["importance"].sel(channel=constant) == 0).all()
    assert np.isfinite(result["importance"]).all()


# --- the two rankings side by side ------------------------------------------------------------------

LEADS = (1, 3)
NAMES = list(CHANNEL_NAMES)


def synthetic_attribution(scale: np.ndarray, members: int = 2, roi_pattern: dict | None = None) -> xr.Dataset:
    """A SYNTHETIC result on the 200 km grid: |attribution| of channel c is ~ scale[lead, c]."""
    g = grid.ease2_grid(200)
    ny, nx = g.sizes["y"], g.sizes["x"]
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], size=(members, len(LEADS), ny, nx, len(NAMES)))
    attribution = signs * scale[None, :, None, None, :]
    roi = np.zeros((ny, nx), dtype=bool)
    roi[20:30, 20:30] = True
    for name, values in (roi_pattern or {}).items():
        c = NAMES.index(name)
        attribution[..., c] = values
    sample = xr.DataArray(np.zeros((ny, nx, len(NAMES))), dims=("y", "x", "channel"),
                          coords={**g.coords, "channel": NAMES})
    attrs = {"method": "integrated_gradients", "target": "synthetic", "roi_rule": "test", "model_id": "none",
             "data_source": "emulated", "steps": 8, "baseline": "zeros"}
    target = np.zeros((members, len(LEADS)))
    return build_result(attribution, np.zeros((len(LEADS), ny, nx, len(NAMES))), target, None, sample, roi,
                        LEADS, attrs)


def synthetic_permutation(importance: np.ndarray, leads: tuple[int, ...] = (1, 2, 3)) -> xr.Dataset:
    """``importance`` (lead, channel) repeated over 2 members x 3 permutations with +-0.1 noise."""
    noise = np.array([-0.1, 0.0, 0.1])[None, :, None, None] * np.ones((2, 1, 1, 1))
    values = importance[None, None] + noise
    return xr.Dataset({"importance": (("member", "permutation", "lead", "channel"), values)},
                      coords={"lead": list(leads), "channel": NAMES})


def test_side_by_side_ranks_and_rank_correlation() -> None:
    base = np.linspace(1.0, 50.0, len(NAMES))
    scale = np.stack([base, base[::-1]]) * 1e-3          # lead 1 agrees, lead 3 reversed
    permutation = synthetic_permutation(np.stack([base, base * 0.5, base]))
    table = baselines.side_by_side(permutation, synthetic_attribution(scale))
    assert sorted(table["lead"].unique()) == [1, 3]        # lead 2 has no attribution
    lead1 = table[table["lead"] == 1].set_index("channel")
    assert lead1.loc[NAMES[-1], "permutation_rank"] == 1 and lead1.loc[NAMES[-1], "gradient_rank"] == 1
    np.testing.assert_allclose(lead1["permutation_importance"], base)
    np.testing.assert_allclose(lead1["gradient_importance"], base * 1e-3)
    np.testing.assert_allclose(lead1["permutation_std"], np.std([-0.1, 0, 0.1] * 2, ddof=1))
    np.testing.assert_allclose(lead1["permutation_sem"], lead1["permutation_std"] / np.sqrt(6))
    assert list(lead1["group"])[:2] == ["sic", "sic"]
    rho = baselines.rank_correlation(table).set_index("lead")
    assert rho.loc[1, "rho"] == pytest.approx(1.0) and rho.loc[3, "rho"] == pytest.approx(-1.0)
    assert (rho["n"] == len(NAMES)).all()


def test_side_by_side_groups_sum_their_channels() -> None:
    scale = np.ones((len(LEADS), len(NAMES))) * 1e-3
    groups = list(GROUPS)
    permutation = xr.Dataset({"importance": (("member", "permutation", "lead", "group"),
                                             np.ones((1, 1, 1, len(groups))))},
                             coords={"lead": [1], "group": groups})
    table = baselines.side_by_side(permutation, synthetic_attribution(scale)).set_index("group")
    assert table.loc["sic", "gradient_importance"] == pytest.approx(12e-3)
    assert table.loc["static", "gradient_importance"] == pytest.approx(1e-3)
    assert np.isnan(table["permutation_std"]).all()      # one draw: no spread
    assert np.isnan(baselines.rank_correlation(table.reset_index())["rho"]).all()  # all tied


def test_side_by_side_refuses_what_cannot_be_compared() -> None:
    result = synthetic_attribution(np.ones((len(LEADS), len(NAMES))))
    with pytest.raises(baselines.PermutationError, match="share leads"):
        baselines.side_by_side(synthetic_permutation(np.ones((1, len(NAMES))), leads=(5,)), result)
    with pytest.raises(baselines.PermutationError, match="unknown statistic"):
        baselines.side_by_side(synthetic_permutation(np.ones((3, len(NAMES)))), result, statistic="max")
    with pytest.raises(baselines.PermutationError, match="permutation_importance"):
        baselines.side_by_side(xr.Dataset(), result)
    with pytest.raises(baselines.PermutationError, match="side_by_side"):
        baselines.rank_correlation(pd.DataFrame({"lead": [1]}))


def test_roi_sign_reads_direction_coherence_and_place() -> None:
    g = grid.ease2_grid(200)
    ny, nx = g.sizes["y"], g.sizes["x"]
    push = np.zeros((ny, nx))
    push[20:30, 20:30] = 1.0                               # all ROI cells push up, nothing outside
    split = np.zeros((ny, nx))
    split[20:25, 20:30], split[25:30, 20:30] = 1.0, -1.0   # half up, half down: cancels
    split[0:10, 0:10] = 2.0                                 # and more outside the ROI
    result = synthetic_attribution(np.ones((len(LEADS), len(NAMES))),
                                   roi_pattern={"tas_anom_1": push, "psl_anom_1": -split})
    table = baselines.roi_sign(result, 1).set_index("channel")
    assert table.loc["tas_anom_1", "sign"] == 1
    assert table.loc["tas_anom_1", "sign_coherence"] == pytest.approx(1.0)
    assert table.loc["tas_anom_1", "roi_share"] == pytest.approx(1.0)
    assert table.loc["psl_anom_1", "sign_coherence"] == pytest.approx(0.0)
    assert table.loc["psl_anom_1", "roi_share"] == pytest.approx(100 / (100 + 200))
    with pytest.raises(baselines.PermutationError, match="lead 2"):
        baselines.roi_sign(result, 2)


def example_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    names = ["a", "b", "c", "d", "e", "f"]
    table = pd.DataFrame({"lead": 1, "channel": names,
                          "permutation_importance": [5.0, 0.4, 0.3, 0.1, -0.2, 0.0],
                          "permutation_sem": [0.5, 0.3, 0.05, 0.2, 0.3, 0.0]})
    table["permutation_rank"] = table["permutation_importance"].rank(ascending=False)
    signs = pd.DataFrame({"channel": names, "roi_net": [9.0, 8.0, 1.0, -2.0, 3.0, 0.5],
                          "sign_coherence": [1.0, 1.0, 0.9, 0.9, 0.2, 0.8]})
    return table, signs


def test_gradient_only_example_prefers_small_permutation_clear_sign() -> None:
    table, signs = example_tables()
    pick = baselines.gradient_only_example(table, signs, lead=1)
    # a, b, c are the upper half (b is indistinct from zero but ranks 2nd); of the small d, e, f,
    # e is mixed in sign, and d pushes harder than f.
    assert (pick["channel"], pick["reason"], pick["n_small"]) == ("d", "small and coherent", 3)
    mixed = baselines.gradient_only_example(table, signs.assign(sign_coherence=0.1), lead=1)
    assert (mixed["channel"], mixed["reason"]) == ("e", "small, sign mixed")
    clear = baselines.gradient_only_example(table.assign(permutation_sem=0.0, permutation_importance=[
        6.0, 5.0, 4.0, 3.0, 2.0, 1.0]), signs, lead=1)
    assert (clear["channel"], clear["reason"]) == ("a", "none small")
    with pytest.raises(baselines.PermutationError, match="lead 2"):
        baselines.gradient_only_example(table, signs, lead=2)


def test_gradient_only_example_takes_the_tested_indistinguishable_channels() -> None:
    table, signs = example_tables()
    # the importance test, not two standard errors, decides what is small: only f is indistinguishable
    pick = baselines.gradient_only_example(table, signs, lead=1, indistinguishable={"f", "a"})
    assert (pick["channel"], pick["reason"], pick["n_small"]) == ("f", "small and coherent", 1)
    none = baselines.gradient_only_example(table, signs, lead=1, indistinguishable=set())
    assert (none["channel"], none["reason"]) == ("a", "none small")


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_starts=st.integers(2, 9), n_channels=st.integers(1, 6))
def test_permuted_batch_moves_only_the_chosen_channels(data: st.DataObject, n_starts: int,
                                                       n_channels: int) -> None:
    x = np.arange(n_starts * 3 * 2 * n_channels, dtype=np.float32).reshape(n_starts, 3, 2, n_channels)
    order = np.asarray(data.draw(st.permutations(range(n_starts))))
    columns = np.asarray(sorted(data.draw(st.sets(st.integers(0, n_channels - 1), min_size=1))))
    first = data.draw(st.integers(0, n_starts - 1))
    last = data.draw(st.integers(first + 1, n_starts))
    batch = baselines.permuted_batch(x, slice(first, last), order, columns)
    kept = np.setdiff1d(np.arange(n_channels), columns)
    np.testing.assert_array_equal(batch[..., kept], x[first:last][..., kept])
    np.testing.assert_array_equal(batch[..., columns], x[order[first:last]][..., columns])


def test_importance_test_separates_used_from_ignored_channels(copier_result: xr.Dataset) -> None:
    from icegrad.evaluation.permutation import importance_test

    table = importance_test(copier_result, n_boot=200).set_index(["lead", "channel"])
    assert table.loc[(1, "tas_anom_1"), "indistinguishable"]  # exactly zero: an unused input
    assert not table.loc[(1, COPIED), "indistinguishable"]
    assert table.loc[(1, COPIED), "low"] > 0 and (table["members"] == 2).all()
    assert (table["seconds"] > 0).all() and (table["permutations"] == 3).all()
    with pytest.raises(baselines.PermutationError, match="n_boot=0"):
        importance_test(copier_result, n_boot=0)


def test_forecast_batches_hold_the_budget_within_one_and_the_cap() -> None:
    x = np.zeros((36, 108, 108, 50), dtype=np.float32)  # the book's 100 km inputs: 2.3 MB a start
    assert baselines.forecast_batch(x) == baselines.MEMORY_BUDGET // x[0].nbytes == 7
    assert baselines.forecast_batch(x, budget=1) == 1
    assert baselines.forecast_batch(x, budget=2**40) == baselines.MAX_BATCH
    assert baselines.forecast_batch(x[:3], budget=2**40) == 3
