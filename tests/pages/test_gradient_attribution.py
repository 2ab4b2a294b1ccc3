"""Chapter 5's page: the verdicts of its checks for each outcome, and completeness on a synthetic result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.attribution.results import build_result
from icegrad.pages import gradient_attribution as page

ATTRS = {"method": "integrated_gradients", "target": "roi_mean_ice", "roi_rule": "test", "model_id": "test",
         "data_source": "emulated", "steps": 8, "baseline": "climatology"}


@pytest.mark.parametrize(("max_error", "ensemble_error", "start"), [
    (0.01, 0.005, "every member within the 2 %"),
    (0.03, 0.01, "the ensemble mean, which the next chapters interpret, within the 2 %"),
    (0.04, 0.03, "within the 5 % that Sundararajan"),
    (0.08, 0.03, "above the 5 % rule of thumb"),
])
def test_completeness_verdict_has_each_outcome(max_error: float, ensemble_error: float, start: str) -> None:
    assert page.completeness_verdict(max_error, ensemble_error).startswith(start)


@pytest.mark.parametrize(("rho", "start"), [(0.2, "pass"), (0.49, "pass"), (0.5, "warning"),
                                            (0.9, "warning")])
def test_randomisation_verdict_passes_below_the_threshold_only(rho: float, start: str) -> None:
    assert page.randomisation_verdict(rho).startswith(start)


def test_group_agreement_says_whether_the_methods_agree() -> None:
    assert page.group_agreement({"vanilla_gradient": "sic", "smoothgrad": "sic"}) == \
        "every method ranks the sic group first"
    assert page.group_agreement({"vanilla_gradient": "sic", "smoothgrad": "climate"}) == (
        "the methods disagree on the leading group: vanilla gradient ranks sic first, smoothgrad ranks "
        "climate first")


def test_least_similar_pair_counts_each_pair_once_and_ignores_the_diagonal() -> None:
    names = ["a", "b", "c"]
    agreement = pd.DataFrame([[1.0, 0.8, 0.3], [0.8, 1.0, 0.6], [0.3, 0.6, 1.0]], index=names, columns=names)
    assert page.least_similar(agreement) == ("a", "c", 0.3)


def ig_result(sums: np.ndarray, changes: np.ndarray) -> xr.Dataset:
    """An IG result (member, lead) whose attributions add up to ``sums`` against target ``changes``."""
    members, leads = sums.shape
    channels = ["siconca_abs_1", "cos_month"]
    attribution = np.zeros((members, leads, 2, 2, 2))
    attribution[..., 0, 0, 0] = sums  # all of the sum in one cell of one channel
    sample = xr.DataArray(np.zeros((2, 2, 2)), dims=("y", "x", "channel"), coords={"channel": channels})
    target = np.full((members, leads), 0.6)
    return build_result(attribution, np.zeros((leads, 2, 2, 2)), target, target - changes, sample,
                        np.ones((2, 2), bool), tuple(range(1, leads + 1)), ATTRS)


def test_completeness_section_reports_the_worst_member_and_its_verdict(emulated_run) -> None:
    changes = np.array([[0.1, 0.2], [0.1, 0.2]])
    sums = changes * np.array([[1.01, 1.0], [0.97, 1.0]])  # member 1 at lead 1 is 3 % short
    result = ig_result(sums, changes).assign_coords(member=["seed36", "seed37"])
    run = emulated_run(result, members=2)
    section = page.completeness_section(run, steps=8)
    assert section.values["completeness_max"] == pytest.approx(3.0, rel=1e-4)  # float32 attributions
    assert section.values["completeness_where"] == "seed37 at lead 1"
    assert section.values["completeness_ensemble"] == pytest.approx(1.0, rel=1e-4)  # (1.01 + 0.97) / 2
    assert section.values["completeness_over"] == 1 and section.values["completeness_cases"] == 4
    assert section.values["completeness_verdict"].startswith("the ensemble mean")
    assert section.tables["completeness"].loc["seed37", 1] == pytest.approx(3.0, abs=1e-3)
