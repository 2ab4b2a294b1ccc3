"""Rankings on synthetic results whose right answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.rankings import RANKINGS, channel_scores, ranking, whole_channels
from icegrad.attribution.results import build_result
from icegrad.variables import CHANNEL_NAMES, channel_groups

SIDE = 6


def synthetic_result(per_group: dict[str, np.ndarray], members: int = 2, spread: float = 0.0,
                     method: str = "integrated_gradients", baseline: str = "counterfactual") -> xr.Dataset:
    """A one-lead result whose attribution map of every channel of a group is ``per_group[group]``
    (y, x), member m scaled by (1 + spread * m); other groups are zero."""
    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    maps = np.stack([per_group.get(g, np.zeros((SIDE, SIDE))) for g in groups], axis=-1)
    attribution = np.stack([maps * (1 + spread * m) for m in range(members)])[:, np.newaxis]
    x = np.random.default_rng(0).standard_normal((1, SIDE, SIDE, len(CHANNEL_NAMES))).astype("float32")
    x[..., groups == "seasonal"] = 0.5  # the month channels are constant over the map
    sample = xr.DataArray(x[0], dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES)})
    roi = np.zeros((SIDE, SIDE), bool)
    roi[:2, :2] = True
    target = np.full((members, 1), 0.6)
    return build_result(attribution, x, target, target - 0.1, sample, roi, (1,),
                        {"method": method, "target": "t", "roi_rule": "r", "model_id": "m",
                         "data_source": "emulated", "steps": 8, "baseline": f"{baseline} (test)"})


def dipole(amplitude: float) -> np.ndarray:
    """Large + and - halves that cancel: big under |attribution|, zero net."""
    out = np.full((SIDE, SIDE), amplitude)
    out[SIDE // 2:] = -amplitude
    return out


def test_whole_channels_are_the_seasonal_and_static_ones() -> None:
    ds = synthetic_result({})
    whole = whole_channels(ds)
    assert set(ds["channel"].values[whole.values]) == {"cos_month", "sin_month", "land"}


def test_mean_abs_favours_cancelling_fields_and_net_does_not() -> None:
    sic = np.zeros((SIDE, SIDE))
    sic[:2, :2] = 0.05  # SIC matters only in the ROI, one sign
    ds = synthetic_result({"climate": dipole(0.03), "sic": sic})
    grid = ranking(ds, "grid_mean_abs", "group")
    net = ranking(ds, "net", "group")
    assert grid.iloc[0]["name"] == "climate" and net.iloc[0]["name"] == "sic"
    assert net.set_index("name").loc["climate", "score"] == pytest.approx(0, abs=1e-9)
    roi = ranking(ds, "roi_mean_abs", "group")
    assert roi.iloc[0]["name"] in {"sic", "climate"} and (roi["share"].sum() == pytest.approx(1))


def test_group_nets_cancel_between_channels_of_opposite_sign() -> None:
    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    ds = synthetic_result({"sic": np.full((SIDE, SIDE), 0.01)})
    attribution = ds["attribution"].values.copy()
    climate = np.flatnonzero(groups == "climate")
    attribution[:, :, climate[0]] = 1.0  # one climate channel up, another down by as much
    attribution[:, :, climate[1]] = -1.0
    ds = ds.assign(attribution=(ds["attribution"].dims, attribution, ds["attribution"].attrs))
    net = ranking(ds, "net", "group").set_index("name")
    assert net.loc["climate", "score"] == pytest.approx(0, abs=1e-6) and net.iloc[0].name == "sic"
    channels = ranking(ds, "net", "channel")
    assert set(channels.iloc[:2]["group"]) == {"climate"}  # each channel alone is large


def test_seasonal_channels_are_measured_as_whole_channels() -> None:
    seasonal = np.zeros((SIDE, SIDE))
    seasonal[0, 0] = 1.0  # one cell carries the whole channel's effect
    ds = synthetic_result({"seasonal": seasonal})
    for name in RANKINGS:
        scores = channel_scores(ds, name).sel(channel="cos_month").isel(member=0, lead=0)
        expected = 1.0 / ({"grid_mean_abs": SIDE * SIDE, "roi_mean_abs": 4}.get(name, 1))
        assert float(scores) == pytest.approx(expected), name


def test_bootstrap_interval_widens_with_member_spread() -> None:
    same = ranking(synthetic_result({"sic": dipole(1) + 2, "climate": np.ones((SIDE, SIDE))}), "net", "group")
    assert (same["share_high"] - same["share_low"]).max() == pytest.approx(0, abs=1e-12)
    assert list(same.columns[:3]) == ["lead", "name", "score"]
    assert same["baseline"].iloc[0] == "counterfactual"
    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    rng = np.random.default_rng(1)
    ds = synthetic_result({"sic": np.ones((SIDE, SIDE)), "climate": np.ones((SIDE, SIDE))}, members=4)
    noisy = ds["attribution"].values * rng.uniform(0.2, 2.0, (4, 1, len(groups), 1, 1))
    wide = ranking(ds.assign(attribution=(ds["attribution"].dims, noisy, ds["attribution"].attrs)),
                   "net", "group")
    assert ((wide["share_high"] - wide["share_low"]) > 0).any()


def test_bad_choices_are_named() -> None:
    ds = synthetic_result({})
    with pytest.raises(AttributionError, match="unknown ranking 'mean'"):
        channel_scores(ds, "mean")
    with pytest.raises(AttributionError, match="unknown level 'cell'"):
        ranking(ds, "net", "cell")


def test_letter_verdicts_read_results_under_every_ranking() -> None:
    from icegrad.evaluation.letter import letter_verdicts

    ones = np.ones((SIDE, SIDE))
    table = letter_verdicts([synthetic_result({"sic": ones}), synthetic_result({"climate": ones},
                                                                                method="vanilla_gradient")],
                            n_boot=20)
    assert len(table) == 2 * len(RANKINGS)
    by_method = table.groupby("method")["verdict"].agg(set)
    assert by_method["integrated_gradients"] == {"supports"} and by_method["vanilla_gradient"] == {"against"}


def test_a_set_of_groups_is_bootstrapped_jointly() -> None:
    from icegrad.attribution.rankings import set_share

    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    ds = synthetic_result({"sic": np.ones((SIDE, SIDE)), "trend": np.ones((SIDE, SIDE)),
                           "climate": np.ones((SIDE, SIDE))}, members=5)
    noisy = ds["attribution"].values * np.random.default_rng(2).uniform(0.2, 2.0, (5, 1, len(groups), 1, 1))
    ds = ds.assign(attribution=(ds["attribution"].dims, noisy, ds["attribution"].attrs))
    joint = set_share(ds, "net", ("sic", "trend"), n_boot=300).iloc[0]
    parts = ranking(ds, "net", "group", n_boot=300).set_index("name").loc[["sic", "trend"]]
    assert joint["share"] == pytest.approx(parts["share"].sum())
    assert parts["share_low"].sum() <= joint["share_low"] <= joint["share"] <= joint["share_high"]
    assert joint["share_high"] <= parts["share_high"].sum()


def resampled_loop(per_member: xr.DataArray, n_boot: int, seed: int, interval: float
                   ) -> tuple[xr.DataArray, xr.DataArray]:
    """The bootstrap written out one resample at a time (the implementation it replaced), as the spec."""
    members = per_member.sizes["member"]
    draws = np.random.default_rng(seed).integers(0, members, size=(n_boot, members))
    boot = xr.concat([per_member.isel(member=d).mean("member") for d in draws], "draw")
    tail = (1 - interval) / 2
    return (boot.quantile(tail, "draw").drop_vars("quantile"),
            boot.quantile(1 - tail, "draw").drop_vars("quantile"))


@pytest.mark.parametrize(("dims", "shape"), [(("member", "lead", "channel"), (5, 3, 7)),
                                             (("lead", "member", "group"), (2, 4, 5)),
                                             (("member", "lead"), (1, 3))])
def test_the_one_draw_bootstrap_is_bit_identical_to_the_loop_over_resamples(dims, shape) -> None:
    from icegrad.attribution.rankings import bootstrap_interval

    coords = {d: np.arange(n) for d, n in zip(dims, shape, strict=True) if d != "member"}
    values = np.random.default_rng(4).random(shape)
    if shape[dims.index("member")] > 2:
        values.flat[0] = np.nan  # a share of zero over zero: skipped, as xarray's mean skips it
    per_member = xr.DataArray(values, dims=dims, coords=coords)
    for n_boot, seed, interval in ((1, 0, 0.9), (200, 7, 0.8)):
        for fast, slow in zip(bootstrap_interval(per_member, n_boot, seed, interval),
                              resampled_loop(per_member, n_boot, seed, interval), strict=True):
            assert fast.identical(slow)
    with pytest.raises(AttributionError, match="n_boot=0 must be >= 1"):
        bootstrap_interval(per_member, 0)
