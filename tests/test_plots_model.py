"""Chapter 4's figures: input-channel panels, training curves and skill curves show what they are given."""

from __future__ import annotations

from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import grid
from icegrad.plots import PlotError
from icegrad.plots.channels import FAMILIES, OWN_ROW, channel_family, channel_panels, panel_layout
from icegrad.plots.training import member_history, skill_curves, training_curves, training_summary
from icegrad.variables import CHANNEL_NAMES

RES = 200
FEW = ["siconca_abs_1", "siconca_linear_trend_2", "tas_anom_1", "uas_abs_1", "land", "cos_month"]


@pytest.fixture(autouse=True)
def _close_figures() -> None:
    yield
    plt.close("all")


def sample(channels: list[str] = FEW, times: int = 1, data_source: str = "emulated") -> xr.DataArray:
    """SYNTHETIC inputs ``(time, y, x, channel)`` on the 200 km grid; channel k holds k + noise."""
    g = grid.ease2_grid(RES)
    rng = np.random.default_rng(1)
    values = rng.normal(size=(times, g.sizes["y"], g.sizes["x"], len(channels))) * 0.1
    values += np.arange(len(channels)) / len(channels)
    return xr.DataArray(
        values.astype("float32"), dims=("time", "y", "x", "channel"),
        coords={**g.coords, "channel": channels,
                "time": pd.date_range("2013-09-01", periods=times, freq="MS")},
        name="inputs", attrs={"units": "1", "long_name": "synthetic inputs", "data_source": data_source})


def visible_maps(fig: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in fig.axes if ax.get_visible() and hasattr(ax, "projection")]


def test_channel_families_cover_icenets_50_inputs() -> None:
    families = [channel_family(name) for name in CHANNEL_NAMES]
    counts = {f: families.count(f) for f in FAMILIES}
    assert counts == {"sic": 12, "trend": 6, "anomaly": 24, "wind": 5, "land": 1, "season": 2}
    with pytest.raises(PlotError, match="unknown IceNet channel"):
        channel_family("siconca_abs_13")


def test_all_50_channels_lay_out_in_six_rows_of_twelve() -> None:
    positions = panel_layout([channel_family(n) for n in CHANNEL_NAMES], ncols=12, own_row=OWN_ROW)
    rows = [p // 12 for p in positions]
    assert rows[:12] == [0] * 12 and rows[12:18] == [1] * 6  # SIC lags, then the trend on its own row
    assert rows[18:42] == [2] * 12 + [3] * 12  # 24 anomalies wrap onto two rows
    assert rows[42:47] == [4] * 5  # the winds share the anomalies' standard-deviation scale
    assert rows[47:] == [5] * 3  # land and season, on scales of their own, start a row below it
    assert max(panel_layout([channel_family(n) for n in CHANNEL_NAMES], ncols=12)) // 12 == 4
    with pytest.raises(PlotError, match="ncols"):
        panel_layout(["sic"], ncols=0)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 15), min_size=1, max_size=6), ncols=st.integers(1, 12))
def test_layout_keeps_families_together_and_never_overlaps(sizes: list[int], ncols: int) -> None:
    families = [f"f{i}" for i, size in enumerate(sizes) for _ in range(size)]
    positions = panel_layout(families, ncols)
    assert len(positions) == len(families)
    assert all(b > a for a, b in pairwise(positions))  # ordered, distinct
    start = 0
    for size in sizes:
        block = positions[start:start + size]
        assert block == list(range(block[0], block[0] + size))  # contiguous in row-major order
        if size <= ncols and block[0] % ncols:  # a family that fits a row is never split across two
            assert block[0] // ncols == block[-1] // ncols
        start += size


def test_channel_panels_draw_each_channel_where_the_data_says() -> None:
    inputs = sample()
    fig = channel_panels(inputs, ncols=4)
    maps = visible_maps(fig)
    assert [ax.get_title().split(" = ")[0] for ax in maps] == FEW
    sic_mesh = maps[0].collections[0]
    expected = inputs.isel(time=0).sel(channel="siconca_abs_1").values
    np.testing.assert_allclose(np.asarray(sic_mesh.get_array()).reshape(expected.shape), expected, rtol=1e-6)
    assert sic_mesh.get_clim() == (0.0, 1.0)  # SIC on its own fixed scale
    low, high = maps[2].collections[0].get_clim()
    zscored = inputs.sel(channel=["tas_anom_1", "uas_abs_1"]).values
    assert high == -low == pytest.approx(np.quantile(np.abs(zscored), 0.99))  # symmetric, robust
    assert maps[3].collections[0].get_clim() == (low, high)  # one scale for anomalies and winds
    assert maps[5].get_title().startswith("cos_month = +0.8")  # constant field: value in the title
    assert maps[5].collections[0].get_clim() == (-1.0, 1.0) and maps[4].collections[0].get_clim() == (0, 1)
    assert "EMULATED" in fig._suptitle.get_text() and "September 2013" in fig._suptitle.get_text()
    labels = [ax.get_xlabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert labels == ["sea ice concentration and its linear-trend forecast (fraction)",
                      "normalised value (standard deviations)", "land mask (ocean 0, land 1)",
                      "cos/sin of the start month (\N{MINUS SIGN}1 to 1)"]  # each kind on its own scale


def test_channel_panels_order_a_subset_by_family() -> None:
    fig = channel_panels(sample(), channels=["cos_month", "tas_anom_1", "siconca_abs_1"], ncols=3)
    titles = [ax.get_title().split(" = ")[0] for ax in visible_maps(fig)]
    assert titles == ["siconca_abs_1", "tas_anom_1", "cos_month"]
    assert "observed data (osisaf)" in channel_panels(sample(data_source="osisaf"),
                                                      channels=["land"])._suptitle.get_text()


def test_channel_panels_reject_ambiguous_or_unknown_inputs() -> None:
    with pytest.raises(PlotError, match="2 start months"):
        channel_panels(sample(times=2))
    with pytest.raises(PlotError, match="not in the inputs"):
        channel_panels(sample(), channels=["psl_anom_1"])
    with pytest.raises(PlotError, match="'channel' dim"):
        channel_panels(sample().isel(channel=0))


def manifest(history: bool = True, members: int = 2) -> dict:
    """A FAKE ensemble manifest with the per-member summaries icegrad's training records."""
    summaries = []
    for i in range(members):
        loss, val = [0.9 - 0.1 * i, 0.5, 0.4], [1.0, 0.6 + 0.01 * i, 0.7]
        summary = {"seed": 36 + i, "epochs_run": 3, "final_train_loss": loss[-1], "best_val_loss": min(val),
                   "temperature": 1.1 + i}
        if history:
            summary["history"] = {"loss": loss, "val_loss": val}
        summaries.append(summary)
    return {"members_summary": summaries, "loss": "focal", "data_source": "emulated"}


def test_training_summary_has_one_row_per_member() -> None:
    table = training_summary(manifest())
    assert list(table.index) == ["seed36", "seed37"]
    assert table.loc["seed37", "temperature"] == pytest.approx(2.1)
    assert table.loc["seed37", "best_val_loss"] == pytest.approx(0.61)


def test_training_curves_plot_every_members_recorded_losses() -> None:
    fig = training_curves(manifest())
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4  # train and validation per member
    np.testing.assert_allclose(lines[0].get_ydata(), [0.9, 0.5, 0.4])
    np.testing.assert_allclose(lines[3].get_ydata(), [1.0, 0.61, 0.7])
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3])
    assert list(fig.axes[0].get_xticks()) == [1, 2, 3]  # whole epochs only
    assert "EMULATED" in fig.axes[0].get_title() and "not recorded" not in fig.axes[0].get_title()


def test_training_curves_say_when_histories_were_not_recorded() -> None:
    fig = training_curves(manifest(history=False))
    last_train, best_val = fig.axes[0].get_lines()
    np.testing.assert_allclose(last_train.get_ydata(), [0.4, 0.4])
    np.testing.assert_allclose(best_val.get_ydata(), [0.6, 0.61])
    assert list(last_train.get_xdata()) == ["seed36", "seed37"]
    assert "not recorded" in fig.axes[0].get_title()
    partial = manifest()
    del partial["members_summary"][1]["history"]  # one member without history: no partial curves
    assert "not recorded" in training_curves(partial).axes[0].get_title()


def test_training_records_that_cannot_be_shown_fail_clearly() -> None:
    with pytest.raises(PlotError, match="no 'members_summary'"):
        training_curves({"data_source": "emulated"})
    with pytest.raises(PlotError, match="equally long"):
        member_history({"seed": 36, "history": {"loss": [1.0, 0.5], "val_loss": [1.0]}})
    with pytest.raises(PlotError, match="IceNetEnsemble or its manifest"):
        training_summary([1, 2])


def skill() -> xr.Dataset:
    """A FAKE skill dataset shaped like icegrad.model.skill.evaluate_skill's output."""
    models, leads = ["icenet", "linear_trend", "persistence"], np.arange(1, 7)
    accuracy = np.array([95 - leads, 94 - leads, 96 - 3 * leads], dtype=float)
    return xr.Dataset(
        {"binary_accuracy": (("model", "lead"), accuracy, {"units": "%"}),
         "sie_error": (("model", "lead"), accuracy / 100, {"units": "1e6 km2"})},
        coords={"model": models, "lead": leads},
        attrs={"years": "2018-2020", "data_source": "emulated"})


def test_skill_curves_draw_each_model_per_metric() -> None:
    data = skill()
    fig = skill_curves(data)
    assert len(fig.axes) == 2
    for ax, metric in zip(fig.axes, ("binary_accuracy", "sie_error"), strict=True):
        lines = ax.get_lines()
        assert len(lines) == 3
        for line, model in zip(lines, data["model"].values, strict=True):
            np.testing.assert_allclose(line.get_ydata(), data[metric].sel(model=model).values)
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "IceNet (ensemble mean)"
    assert "2018-2020" in fig._suptitle.get_text() and "EMULATED" in fig._suptitle.get_text()
    with pytest.raises(PlotError, match="missing"):
        skill_curves(data.drop_vars("sie_error"))
