"""The explorer on small synthetic results: controls drive the figure and the ranking, no browser needed.

Each synthetic result plants one dominant channel per lead, so the expected ranking is known without
running any attribution, and the numbers the explorer shows are checked against NumPy sums of the
planted arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.figure import Figure

from icegrad.attribution.results import build_result
from icegrad.grid import ease2_grid
from icegrad.variables import CHANNEL_NAMES
from icegrad.widgets import AttributionExplorer, ExplorerError, explorer_still
from icegrad.widgets.collection import as_collection

LEADS = (1, 3)
# the channel planted as dominant at each lead, per (target month, method)
PLANTED = {("2012-09", "integrated_gradients"): {1: "siconca_abs_1", 3: "tas_anom_2"},
           ("2013-09", "integrated_gradients"): {1: "psl_anom_1", 3: "siconca_abs_3"},
           ("2013-09", "vanilla_gradient"): {1: "tos_anom_1", 3: "rsds_anom_2"}}


def make_result(month: str, method: str, seed: int) -> xr.Dataset:
    """A 2-member result on the 200 km grid with noise plus one large planted channel per lead."""
    grid = ease2_grid(200)
    rng = np.random.default_rng(seed)
    n_ch = len(CHANNEL_NAMES)
    attribution = rng.normal(0.0, 1e-4, (2, len(LEADS), 54, 54, n_ch))
    for i, lead in enumerate(LEADS):
        c = CHANNEL_NAMES.index(PLANTED[(month, method)][lead])
        attribution[0, i, 20:30, 20:30, c] = 0.01
        attribution[1, i, 20:30, 20:30, c] = -0.002 if lead == 3 else 0.008  # members disagree at lead 3
    inputs = rng.normal(0.0, 1.0, (len(LEADS), 54, 54, n_ch))
    sample = xr.DataArray(np.zeros((54, 54, n_ch)), dims=("y", "x", "channel"),
                          coords={"channel": list(CHANNEL_NAMES), "y": grid.y, "x": grid.x,
                                  "lat": grid.lat, "lon": grid.lon})
    roi = np.zeros((54, 54), dtype=bool)
    roi[18:32, 18:32] = True
    starts = [f"{month[:4]}-{int(month[5:]) - lead + 1:02d}" for lead in LEADS]
    attrs = {"method": method, "target": "synthetic test target", "roi_rule": "test", "model_id": "test",
             "data_source": "emulated", "steps": 8, "baseline": "zeros"}
    result = build_result(attribution, inputs, rng.uniform(0, 1, (2, len(LEADS))), None, sample, roi, LEADS,
                          attrs, {"forecast_start": starts, "target_month": [month] * len(LEADS)})
    return result.assign_coords(member=["seed36", "seed37"]).assign_attrs(target_month=month)


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, str], xr.Dataset]:
    return {key: make_result(*key, seed=i) for i, key in enumerate(PLANTED)}


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes if ax.get_title()]


def attribution_title(fig: Figure) -> str:
    return next(t for t in titles(fig) if ": attribution" in t)


def test_explorer_opens_on_the_top_channel_and_follows_the_controls(results) -> None:
    explorer = AttributionExplorer(results)
    first = explorer.selection
    assert (first.target_month, first.method, first.lead, first.member) == \
        ("2012-09", "integrated_gradients", 1, "mean")
    assert first.channel == "siconca_abs_1" == explorer.ranking["channel"].iloc[0]
    assert attribution_title(explorer.figure).startswith("siconca_abs_1: attribution")
    assert any(t == "siconca_abs_1: input" for t in titles(explorer.figure))

    explorer.controls["lead"].value = 3  # what a click does
    assert explorer.ranking["channel"].iloc[0] == "tas_anom_2"
    assert explorer.selection.channel == "siconca_abs_1", "the chosen channel stays until the user changes it"
    assert "lead 3" in explorer.figure.get_suptitle() and "(start 2012-07)" in explorer.figure.get_suptitle()

    explorer.controls["channel"].value = "tas_anom_2"
    expected = results[("2012-09", "integrated_gradients")]["attribution"].sel(
        lead=3, channel="tas_anom_2").mean("member").values.sum()
    assert attribution_title(explorer.figure) == f"tas_anom_2: attribution (net {expected:+.3g})"


def test_changing_month_or_method_swaps_the_result_and_keeps_what_it_can(results) -> None:
    explorer = AttributionExplorer(results, lead=3)
    explorer.controls["member"].value = "seed37"
    explorer.controls["target_month"].value = "2013-09"
    chosen = explorer.selection
    assert (chosen.target_month, chosen.lead, chosen.member) == ("2013-09", 3, "seed37")
    assert list(explorer.controls["method"].options) == ["integrated_gradients", "vanilla_gradient"]
    assert explorer.ranking["channel"].iloc[0] == "siconca_abs_3"
    explorer.controls["method"].value = "vanilla_gradient"
    assert explorer.ranking["channel"].iloc[0] == "rsds_anom_2"
    assert "vanilla gradient" in explorer.figure.get_suptitle()
    assert "EMULATED" in explorer.figure.get_suptitle()


def test_ranking_statistics_match_the_planted_arrays(results) -> None:
    explorer = AttributionExplorer(results, target_month="2013-09", method="vanilla_gradient", lead=3,
                                   member="seed37")
    attribution = results[("2013-09", "vanilla_gradient")]["attribution"].sel(member="seed37", lead=3)
    top = explorer.ranking.iloc[0]
    values = attribution.sel(channel="rsds_anom_2").values
    assert top["channel"] == "rsds_anom_2"
    assert top["net_mean"] == pytest.approx(values.sum(), rel=1e-6)
    assert top["negative_mean"] == pytest.approx(values[values < 0].sum(), rel=1e-6)
    assert top["mean_abs_mean"] == pytest.approx(np.abs(values).mean(), rel=1e-6)
    assert np.isnan(top["net_std"]), "one member has no spread"
    explorer.set(member="mean", by="net", k=5)
    ranking_axes = next(ax for ax in explorer.figure.axes if ax.get_title().startswith("top 5 channels"))
    labels = [t.get_text() for t in ranking_axes.get_yticklabels()]
    assert labels == list(explorer.ranking["channel"].head(5)) and labels[0] == "rsds_anom_2"
    mean = results[("2013-09", "vanilla_gradient")]["attribution"].sel(lead=3, channel="rsds_anom_2")
    per_member = mean.sum(("y", "x")).values
    row = explorer.ranking.set_index("channel").loc["rsds_anom_2"]
    assert row["net_mean"] == pytest.approx(per_member.mean(), rel=1e-6)
    assert row["net_std"] == pytest.approx(per_member.std(ddof=1), rel=1e-6)


def test_still_draws_the_explorers_views(results) -> None:
    choice = {"target_month": "2013-09", "method": "integrated_gradients", "lead": 1, "member": "seed36",
              "channel": "psl_anom_1"}
    still = explorer_still(results, **choice)
    live = AttributionExplorer(results, **choice)
    assert isinstance(still, Figure)
    assert titles(still) == titles(live.figure)
    assert still.get_suptitle() == live.figure.get_suptitle()


def test_single_result_and_bad_choices_give_clear_errors(results) -> None:
    single = as_collection(results[("2013-09", "vanilla_gradient")])
    assert single.keys == [("2013-09", "vanilla_gradient")]
    with pytest.raises(ExplorerError, match="no attribution results"):
        as_collection({})
    with pytest.raises(ExplorerError, match="not a \\(target_month, method\\) pair"):
        as_collection({"2013-09": results[("2013-09", "vanilla_gradient")]})
    with pytest.raises(ExplorerError, match="lead=5 is not available"):
        explorer_still(results, lead=5)
    with pytest.raises(ExplorerError, match="no result for 2012-09 with vanilla_gradient"):
        explorer_still(results, target_month="2012-09", method="vanilla_gradient")
    with pytest.raises(ExplorerError, match="cannot explore a list"):
        as_collection([1, 2])


def test_the_live_view_is_the_figure_as_png_state_not_captured_output(results) -> None:
    """The figure reaches the browser as Image state: executing the chapter sends nothing to the kernel."""
    import io

    import ipywidgets as w
    import matplotlib.image as mpimg

    explorer = AttributionExplorer(results)
    assert not any(isinstance(child, w.Output) for child in explorer.widget.children)
    first = bytes(explorer.image.value)
    assert first.startswith(b"\x89PNG")
    png = mpimg.imread(io.BytesIO(first))
    width, height = (explorer.figure.get_size_inches() * 100).round().astype(int)
    assert png.shape[:2] == (height, width)
    explorer.set(channel="tas_anom_2")
    assert bytes(explorer.image.value) != first, "the shown image must follow the controls"


def test_results_read_on_lookup_are_held_one_at_a_time_and_show_the_same(
        results: dict[tuple[str, str], xr.Dataset]) -> None:
    from icegrad.attribution.results import ResultsOnLookup

    reads: list[tuple[str, str]] = []

    def loader(key: tuple[str, str]) -> Callable[[], xr.Dataset]:
        def load() -> xr.Dataset:
            reads.append(key)
            return results[key].copy(deep=True)
        return load

    lazy = AttributionExplorer(ResultsOnLookup({key: loader(key) for key in results}))
    eager = AttributionExplorer(results)
    first = lazy.selection
    assert reads == [(first.target_month, first.method)]  # nothing else is read to open the explorer
    pd.testing.assert_frame_equal(lazy.ranking, eager.ranking)
    other = next(key for key in results if key != (first.target_month, first.method))
    lazy.collection.result(*other)
    lazy.collection.result(*other)
    assert reads == [(first.target_month, first.method), other]  # read once while it is shown
    bad = ResultsOnLookup({("2013-09", "vanilla_gradient"): lambda: xr.Dataset()})
    with pytest.raises(Exception, match="attribution"):
        as_collection(bad).result("2013-09", "vanilla_gradient")  # validated when first shown
