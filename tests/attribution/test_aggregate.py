from __future__ import annotations

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.aggregate import (
    channel_summary,
    ensemble_summary,
    group_summary,
    to_tidy,
    top_channels,
)
from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError


@pytest.fixture(scope="module")
def result(tiny_icenet: keras.Model, sample: xr.DataArray, roi: np.ndarray) -> xr.Dataset:
    other = keras.models.clone_model(tiny_icenet)
    return attribute([tiny_icenet, other], sample, roi, leads=(1, 2), method="gradient_x_input")


def test_channel_statistics_are_consistent(result: xr.Dataset) -> None:
    s = channel_summary(result)
    assert s["net"].dims == ("member", "lead", "channel")
    np.testing.assert_allclose(s["positive"] + s["negative"], s["net"], rtol=1e-9, atol=1e-12)
    assert (s["positive"] >= 0).all() and (s["negative"] <= 0).all()
    one = result["attribution"].isel(member=0, lead=1).sel(channel="tas_anom_1").values
    assert float(s["mean_abs"].isel(member=0, lead=1).sel(channel="tas_anom_1")) == pytest.approx(
        np.abs(one).mean(), rel=1e-6)


def test_groups_add_up_channels(result: xr.Dataset) -> None:
    channels, groups = channel_summary(result), group_summary(result)
    np.testing.assert_allclose(groups["net"].sum("group"), channels["net"].sum("channel"), rtol=1e-9)
    sic = channels["net"].sel(channel=[c for c in result.channel.values if c.startswith("siconca_abs")])
    np.testing.assert_allclose(groups["net"].sel(group="sic"), sic.sum("channel"), rtol=1e-9)


def test_ensemble_mean_spread_and_top_k(result: xr.Dataset) -> None:
    ens = ensemble_summary(channel_summary(result))
    net = channel_summary(result)["net"]
    np.testing.assert_allclose(ens["net_mean"], net.mean("member"))
    np.testing.assert_allclose(ens["net_std"], net.std("member", ddof=1))
    top = top_channels(result, k=3, by="net")
    assert list(top["rank"]) == [1, 2, 3, 1, 2, 3]
    lead1 = top[top["lead"] == 1]["net_mean"].abs().to_numpy()
    assert (np.diff(lead1) <= 0).all()
    assert abs(ens["net_mean"].sel(lead=1)).max() == pytest.approx(lead1[0])
    assert {"lead", "channel", "group", "net_mean"} <= set(to_tidy(ens).columns)
    with pytest.raises(AttributionError, match="unknown statistic"):
        top_channels(result, by="median")
