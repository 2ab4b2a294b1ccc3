"""Skill on other realisations: the line, the summary's counts in each direction, and the refusals.

The plumbing (regenerating a realisation and scoring an ensemble on it) runs in
tests/test_benchmark_science.py's coarse run, where realisation 0 must reproduce the book's own figures.
"""

from __future__ import annotations

import pandas as pd
import pytest
import xarray as xr

from icegrad.evaluation.realisations import RealisationSkill, skill_on_realisation, summary
from icegrad.model.skill import Headline, SkillError


def skill(seed: int, gain: float, ci: tuple[float, float], rmse_ensemble: float) -> RealisationSkill:
    accuracy = pd.DataFrame({"icenet": 95.0 + gain, "linear_trend": 95.0, "persistence": 90.0,
                             "optimal": 96.5}, index=pd.Index(range(1, 7), name="lead"))
    rmse = {"icenet": rmse_ensemble, "linear_trend": 0.25, "persistence": 3.0, "optimal": 0.2}
    return RealisationSkill(seed, Headline(accuracy, gain, ci, 0.95, rmse, 36, 18, (2018, 2020), (1.0, 2.0)))


def test_line_states_the_realisations_figures() -> None:
    assert skill(3, -0.5, (-0.875, -0.125), 0.3).line() == (
        "skill realisation 3: ensemble 94.50 trend 95.00 optimal 96.50 gain -0.50 ci -0.88 -0.12 extent rmse "
        "ensemble 0.300 trend 0.250")


def test_summary_counts_intervals_above_below_and_across_zero() -> None:
    results = [skill(1, 1.25, (0.5, 2.0), 0.2), skill(2, -0.75, (-1.5, -0.25), 0.5),
               skill(3, 0.25, (-0.5, 1.0), 0.1)]
    assert summary(results) == (
        "skill realisations: 3 | gain mean 0.25 min -0.75 max 1.25 | ci above zero in 1, below zero in 1 | "
        "extent rmse ensemble below trend in 2 (mean ensemble 0.267 trend 0.250)")
    assert "ci above zero in 0, below zero in 0" in summary([skill(4, 0.0, (-0.25, 0.25), 0.25)])
    assert "below trend in 0" in summary([skill(4, 0.0, (-0.25, 0.25), 0.25)])


def test_refuses_no_results_and_real_data() -> None:
    with pytest.raises(SkillError, match="one or more realisations"):
        summary([])
    with pytest.raises(SkillError, match="only the emulated Arctic"):
        skill_on_realisation(None, xr.Dataset(attrs={"data_source": "nsidc"}), 1)
