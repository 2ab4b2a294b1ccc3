from __future__ import annotations

import keras
import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.api import attribute
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.sanity import (
    completeness,
    ensemble_completeness,
    gradient_check,
    parameter_randomisation,
)


def test_ig_completeness_within_two_percent_at_64_steps(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                        roi: np.ndarray) -> None:
    # Large-amplitude input: the path from zero crosses many ReLU kinks, so this is not trivially linear.
    ds = attribute(tiny_icenet, sample * 3, roi, leads=(1, 6), steps=64, batch_size=32)
    table = completeness(ds)
    assert (table["target_change"].abs() > 1e-3).all()
    assert (table["relative_error"] < 0.02).all(), table


def test_ensemble_completeness_is_the_members_mean(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                   roi: np.ndarray) -> None:
    second = keras.models.clone_model(tiny_icenet)
    ds = attribute([tiny_icenet, second], sample * 3, roi, leads=(1, 6), steps=8, batch_size=8)
    members, mean = completeness(ds), ensemble_completeness(ds)
    assert list(mean["lead"]) == [1, 6]
    for lead in (1, 6):
        rows = members[members.lead == lead]
        row = mean[mean.lead == lead].iloc[0]
        assert row.attribution_sum == pytest.approx(rows.attribution_sum.mean())
        assert row.relative_error == pytest.approx(
            abs(rows.attribution_sum.mean() - rows.target_change.mean()) / abs(rows.target_change.mean()))
        assert row.abs_error <= rows.abs_error.mean() + 1e-12  # errors can only cancel in the mean


def test_completeness_refuses_other_methods(tiny_icenet: keras.Model, sample: xr.DataArray,
                                            roi: np.ndarray) -> None:
    with pytest.raises(AttributionError, match="integrated gradients"):
        completeness(attribute(tiny_icenet, sample, roi, 1, "vanilla_gradient"))


def test_gradients_agree_with_finite_differences(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                 roi: np.ndarray) -> None:
    table = gradient_check(tiny_icenet, sample, roi, lead=2, n_pixels=4, eps=1e-3)
    assert len(table) == 4 and (table["gradient"].abs() > 0).all()
    assert (table["relative_error"] < 1e-2).all(), table


def test_parameter_randomisation_reports_rank_correlations(tiny_icenet: keras.Model, sample: xr.DataArray,
                                                           roi: np.ndarray) -> None:
    table = parameter_randomisation(tiny_icenet, sample, roi, leads=(1,), method="vanilla_gradient")
    assert list(table.columns) == ["member", "lead", "spearman_signed", "spearman_abs"]
    # plain gradients of an unrelated network share no signed structure with the original's
    assert abs(table["spearman_signed"].iloc[0]) < 0.5
