"""The baseline gallery ties each baseline to its question and reads both target values from the file."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.references import BASELINE_QUESTIONS, BASELINES
from icegrad.attribution.results import build_result
from icegrad.evaluation.baselines import gallery_table
from icegrad.variables import CHANNEL_NAMES, channel_groups

SIDE = 4


def result(group: str, total: float, baseline: str, gap: float = 0.0) -> xr.Dataset:
    """Two members, one lead; ``group``'s attribution sums to ``total`` + ``gap``, the change is ``total``."""
    groups = np.array(channel_groups(list(CHANNEL_NAMES)))
    maps = np.zeros((2, 1, SIDE, SIDE, len(groups)))
    maps[..., groups == group] = (total + gap) / (SIDE * SIDE * (groups == group).sum())
    x = np.zeros((1, SIDE, SIDE, len(groups)), "float32")
    sample = xr.DataArray(x[0], dims=("y", "x", "channel"), coords={"channel": list(CHANNEL_NAMES)})
    target = np.full((2, 1), 0.7)
    coords = {"baseline_forecast_start": ["2007-09"]} if baseline == "counterfactual" else None
    return build_result(maps, x, target, target - total, sample, np.ones((SIDE, SIDE), bool), (1,),
                        {"method": "integrated_gradients", "target": "t", "roi_rule": "r", "model_id": "m",
                         "data_source": "emulated", "steps": 8, "baseline": f"{baseline} (test)"}, coords)


def test_every_named_baseline_has_its_question() -> None:
    assert set(BASELINE_QUESTIONS) == set(BASELINES)


def test_the_gallery_states_question_targets_and_verdict() -> None:
    table = gallery_table({"climatology": result("climate", 0.3, "climatology"),
                           "counterfactual": result("sic", 0.2, "counterfactual", gap=0.01)}, n_boot=10)
    rows = table.set_index("baseline")
    assert rows.loc["counterfactual", "question"] == BASELINE_QUESTIONS["counterfactual"]
    assert rows.loc["counterfactual", "baseline_from"] == "2007-09"
    assert rows.loc["counterfactual", "change"] == pytest.approx(0.2)
    assert rows.loc["counterfactual", "completeness_gap"] == pytest.approx(0.01, abs=1e-6)
    assert rows.loc["climatology", "completeness_gap"] == pytest.approx(0, abs=1e-6)
    assert rows.loc["counterfactual", "verdict"] == "supports"
    assert rows.loc["climatology", "verdict"] == "against"


def test_the_gallery_refuses_results_without_a_baseline() -> None:
    ds = result("sic", 0.2, "zeros").drop_vars("baseline_target_value")
    with pytest.raises(AttributionError, match="needs integrated-gradients results"):
        gallery_table({"zeros": ds})
