"""Attribution figures show the numbers they are given: ranks, signs, spreads, maps and the emulator truth."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from icegrad import grid
from icegrad.attribution.aggregate import channel_summary, group_summary
from icegrad.attribution.results import build_result
from icegrad.plots import PlotError
from icegrad.plots.attribution import (
    attribution_maps,
    compare_maps,
    group_heatmap,
    ranked,
    ranking_bars,
    truth_for_channel,
    truth_lag,
)
from icegrad.variables import CHANNEL_NAMES

RES = 200
LEADS = (1, 3)
ATTRS = {"method": "integrated_gradients", "target": "synthetic", "roi_rule": "test", "model_id": "none",
         "data_source": "emulated", "steps": 8, "baseline": "zeros"}


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def synthetic_result(members: int = 3, seed: int = 0) -> xr.Dataset:
    """A SYNTHETIC result on the 200 km grid: random signed maps, scaled so channel k matters ~ k."""
    g = grid.ease2_grid(RES)
    ny, nx, nc = g.sizes["y"], g.sizes["x"], len(CHANNEL_NAMES)
    rng = np.random.default_rng(seed)
    scale = np.linspace(0.1, 5.0, nc)
    attribution = rng.normal(size=(members, len(LEADS), ny, nx, nc)) * scale * 1e-4
    inputs = rng.normal(size=(len(LEADS), ny, nx, nc))
    sample = xr.DataArray(inputs[0], dims=("y", "x", "channel"),
                          coords={**g.coords, "channel": list(CHANNEL_NAMES)})
    roi = np.zeros((ny, nx), dtype=bool)
    roi[10:20, 25:35] = True
    target = rng.uniform(size=(members, len(LEADS)))
    return build_result(attribution, inputs, target, target * 0.5, sample, roi, LEADS, ATTRS)


@pytest.fixture(scope="module")
def result() -> xr.Dataset:
    return synthetic_result()


def test_ranked_orders_by_magnitude_with_ensemble_mean_and_spread(result: xr.Dataset) -> None:
    summary = channel_summary(result)
    table = ranked(summary, lead=3, k=5, by="net")
    net = summary["net"].sel(lead=3)
    expected = np.abs(net.mean("member")).to_series().sort_values(ascending=False).index[:5]
    assert list(table["channel"]) == list(expected)
    first = table.iloc[0]
    assert first["rank"] == 1
    assert first["net_std"] == pytest.approx(float(net.sel(channel=first["channel"]).std(ddof=1)))
    assert set(table["group"]) <= {"sic", "trend", "climate", "seasonal", "static"}
    groups = ranked(group_summary(result), lead=1)
    assert sorted(groups["group"]) == sorted(["sic", "trend", "climate", "seasonal", "static"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=arrays(np.float64, (2, 1, 6), elements=st.floats(-1e3, 1e3)), k=st.integers(1, 6))
def test_ranked_is_a_ranking(values: np.ndarray, k: int) -> None:
    coords = {"member": [0, 1], "lead": [2], "channel": [f"c{i}" for i in range(6)]}
    summary = xr.Dataset({s: (("member", "lead", "channel"), values) for s in
                          ("positive", "negative", "net", "mean_abs")}, coords=coords)
    table = ranked(summary, lead=2, k=k, by="net")
    scores = np.abs(table["net_mean"].to_numpy())
    assert len(table) == k and list(table["rank"]) == list(range(1, k + 1))
    assert np.all(np.diff(scores) <= 1e-12)
    assert scores[-1] >= np.sort(np.abs(values.mean(axis=0).ravel()))[::-1][k - 1] - 1e-12


def test_ranking_bars_draw_the_ranked_signed_sums(result: xr.Dataset) -> None:
    summary = channel_summary(result)
    fig = ranking_bars(summary, lead=1, k=4)
    signed, magnitude = fig.axes
    table = ranked(summary, lead=1, k=4)
    assert [t.get_text() for t in signed.get_yticklabels()] == list(table["channel"])
    widths = [p.get_width() for p in signed.patches]
    np.testing.assert_allclose(widths[:4], table["positive_mean"], rtol=1e-6)
    np.testing.assert_allclose(widths[4:8], table["negative_mean"], rtol=1e-6)
    assert all(w <= 0 for w in widths[4:8]) and all(w >= 0 for w in widths[:4])
    np.testing.assert_allclose([p.get_width() for p in magnitude.patches], table["mean_abs_mean"], rtol=1e-6)
    fig.canvas.draw()
    assert magnitude.get_xlabel() == "mean |attribution| per cell (×10⁻⁴)"  # values of order 1e-4
    assert magnitude.xaxis.get_offset_text().get_text() == ""  # no "1e-4" at the end of the axis


def test_group_heatmap_shows_the_ensemble_mean_on_a_symmetric_scale(result: xr.Dataset) -> None:
    summary = group_summary(result)
    fig = group_heatmap(summary, statistic="net")
    image = fig.axes[0].images[0]
    expected = summary["net"].mean("member").transpose("lead", "group")
    order = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    np.testing.assert_allclose(image.get_array(), expected.sel(group=order).values, rtol=1e-6)
    low, high = image.get_clim()
    assert low == pytest.approx(-high) and high > 0
    assert group_heatmap(summary, statistic="mean_abs").axes[0].images[0].get_clim()[0] == 0.0
    assert "EMULATED" in fig.get_suptitle()
    assert "EMULATED" in ranking_bars(channel_summary(result), lead=1, k=3).get_suptitle()
    observed = group_summary(result.assign_attrs(data_source="nsidc"))
    assert "EMULATED" not in group_heatmap(observed).get_suptitle()
    assert "NSIDC" in group_heatmap(observed).get_suptitle()
    with pytest.raises(PlotError, match="group summary"):
        group_heatmap(channel_summary(result))


def test_attribution_maps_pair_each_input_with_its_attribution(result: xr.Dataset) -> None:
    fig = attribution_maps(result, ["siconca_abs_1", "tas_anom_2"], lead=3, member=1)
    maps = [ax for ax in fig.axes if hasattr(ax, "projection")]
    assert len(maps) == 4
    titles = [ax.get_title() for ax in maps]
    assert titles[0] == "siconca_abs_1: input" and titles[3].startswith("tas_anom_2: attribution")
    net = float(result["attribution"].sel(member=1, lead=3, channel="tas_anom_2").sum())
    assert f"{net:+.3g}".replace("-", "\N{MINUS SIGN}") in titles[3]
    low, high = maps[3].collections[0].get_clim()
    assert low == pytest.approx(-high)
    assert maps[0].collections[0].get_clim() == (0.0, 1.0)  # SIC on the sea-ice scale
    assert "EMULATED" in fig.get_suptitle()


def colourbar_labels(fig: plt.Figure) -> list[str]:
    return [ax.get_xlabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_attribution_maps_label_each_input_on_its_own_scale(result: xr.Dataset) -> None:
    names = ["siconca_abs_1", "siconca_linear_trend_1", "tas_anom_1", "land", "cos_month"]
    fig = attribution_maps(result, names, lead=1)
    inputs = colourbar_labels(fig)[0::2]
    assert inputs == ["sea ice concentration (fraction)", "linear-trend SIC forecast (fraction)",
                      "normalised anomaly (standard deviations)", "land mask (ocean 0, land 1)",
                      "cos/sin of the month (\N{MINUS SIGN}1 to 1)"]
    maps = [ax for ax in fig.axes if hasattr(ax, "projection")]
    assert [maps[i].collections[0].get_clim() for i in (0, 2, 6, 8)] == [(0.0, 1.0), (0.0, 1.0), (0.0, 1.0),
                                                                       (-1.0, 1.0)]


def test_attribution_colour_bars_put_the_power_of_ten_in_the_label(result: xr.Dataset) -> None:
    fig = attribution_maps(result, ["tas_anom_2"], lead=1)  # attributions of order 1e-4
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    fig.canvas.draw()
    assert bars[1].get_xlabel() == "attribution (×10⁻⁴ target units)"
    assert bars[1].xaxis.get_offset_text().get_text() == ""  # nothing left to collide with the label
    ticks = [t.get_text() for t in bars[1].get_xticklabels()]
    assert "0" in ticks and all(len(t) <= 5 for t in ticks)


def test_rounding_noise_is_drawn_and_printed_as_zero() -> None:
    noisy = synthetic_result(members=2)
    noisy["attribution"].loc[{"channel": ["cos_month", "sin_month"]}] = -2e-24  # IG, climatology baseline
    fig = attribution_maps(noisy, ["cos_month"], lead=1)
    right = [ax for ax in fig.axes if hasattr(ax, "projection")][1]
    assert right.get_title() == "cos_month: attribution (net 0)"
    assert np.all(np.ma.masked_invalid(right.collections[0].get_array()).compressed() == 0.0)
    assert right.collections[0].get_clim()[1] > 1e-6  # the lead's range, not the noise magnified
    texts = [t.get_text() for t in group_heatmap(group_summary(noisy)).axes[0].texts]
    assert not [t for t in texts if "e-2" in t] and "0\n±0" in texts


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"channels": ["no_such_channel"], "lead": 1}, "not in this result"),
    ({"channels": ["land"], "lead": 2}, "lead 2 is not in this result"),
    ({"channels": ["land"], "lead": 1, "member": 7}, "member 7 is not in this result"),
    ({"channels": [], "lead": 1}, "no channels"),
])
def test_attribution_maps_name_bad_requests(result: xr.Dataset, kwargs: dict, message: str) -> None:
    with pytest.raises(PlotError, match=message):
        attribution_maps(result, **kwargs)


def test_summaries_are_checked(result: xr.Dataset) -> None:
    with pytest.raises(PlotError, match="per-member summary"):
        ranked(channel_summary(result).mean("member"), lead=1)
    with pytest.raises(PlotError, match="unknown statistic"):
        ranked(channel_summary(result), lead=1, by="median")
    with pytest.raises(PlotError, match="k must be at least 1"):
        ranking_bars(channel_summary(result), lead=1, k=0)


@pytest.mark.parametrize(("name", "lead", "lag"), [
    ("tas_anom_1", 1, 1), ("tas_anom_3", 1, 3), ("rsds_anom_2", 4, 5), ("siconca_abs_12", 6, 17)])
def test_truth_lag_counts_months_back_from_the_target(name: str, lead: int, lag: int) -> None:
    assert truth_lag(name, lead) == lag


def test_truth_for_channel_selects_variable_and_lag(result: xr.Dataset) -> None:
    g = grid.ease2_grid(RES)
    variables, lags = ["siconca", "tas"], np.arange(4)
    values = np.arange(len(variables) * len(lags))[:, None, None].reshape(2, 4, 1, 1) * np.ones(
        (1, 1, g.sizes["y"], g.sizes["x"]))
    truth = xr.Dataset({"sensitivity": (("variable", "lag", "y", "x"), values)},
                       coords={**g.coords, "variable": variables, "lag": lags,
                               "input_units": ("variable", ["1", "K"])})
    field = truth_for_channel(truth, "tas_anom_2", lead=2)  # 3 months before the target
    assert float(field.mean()) == 7.0 and field.attrs["units"] == "1 per K"
    with pytest.raises(PlotError, match="months_back=6"):
        truth_for_channel(truth, "tas_anom_3", lead=3)
    with pytest.raises(PlotError, match="not a lagged monthly field"):
        truth_lag("cos_month", 1)
    fig = compare_maps([field, field * -1], result["roi"], ["a", "b"], ["per K", "per K"])
    assert len([ax for ax in fig.axes if hasattr(ax, "projection")]) == 2
    assert fig.get_suptitle() == ""  # nothing says where these fields come from
    roi = result["roi"].assign_attrs(data_source="emulated")
    assert "EMULATED" in compare_maps([field], roi, ["a"], ["per K"]).get_suptitle()
    assert "osisaf" in compare_maps([field], roi, ["a"], ["per K"], data_source="osisaf").get_suptitle()
    with pytest.raises(PlotError, match="one title"):
        compare_maps([field], result["roi"], ["a", "b"], ["x"])
