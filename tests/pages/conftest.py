"""Synthetic attribution results for the chapter modules' tests: every number is chosen, none trained."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import xarray as xr

from icegrad.attribution.results import build_result
from icegrad.config import RunConfig
from icegrad.pages.common import Run

SIDE = 6
ATTRS = {"method": "integrated_gradients", "target": "roi_mean_ice", "roi_rule": "test", "model_id": "test",
         "data_source": "emulated", "steps": 8, "baseline": "climatology"}


def make_result(maps: dict[str, np.ndarray], members: int = 2, leads: Sequence[int] = (1, 2),
                roi: np.ndarray | None = None, method: str = "integrated_gradients") -> xr.Dataset:
    """A result whose channel ``name`` has the (y, x) map ``maps[name]`` for every member and lead."""
    channels = list(maps)
    stack = np.stack([maps[c] for c in channels], axis=-1)
    side = stack.shape[0]
    attribution = np.broadcast_to(stack, (members, len(leads), *stack.shape)).copy()
    if roi is None:
        roi = np.zeros((side, side), bool)
        roi[:2, :2] = True
    cells = np.arange(side) * 1e5
    sample = xr.DataArray(np.zeros(stack.shape), dims=("y", "x", "channel"),
                          coords={"channel": channels, "y": cells, "x": cells})
    targets = np.full((members, len(leads)), 0.5)
    return build_result(attribution, np.zeros((len(leads), *stack.shape)), targets, None, sample, roi,
                        tuple(leads), {**ATTRS, "method": method})


@pytest.fixture
def result_factory() -> Callable[..., xr.Dataset]:
    """:func:`make_result`, for tests that build their own synthetic result."""
    return make_result


class FakeEnsemble(list):
    """An ensemble of ``n`` placeholder members with the emulated channels: enough for a page's captions."""

    channels = ("siconca_abs_1", "tas_anom_1")


def make_run(result: xr.Dataset | None, members: int = 2, **config: object) -> Run:
    """A :class:`Run` of the emulated source holding ``result``, with no data, ROI or networks behind it."""
    return Run(RunConfig(**config), xr.Dataset(attrs={"data_source": "emulated"}), None,
               FakeEnsemble(range(members)), result)


@pytest.fixture
def emulated_run() -> Callable[..., Run]:
    """:func:`make_run`, for tests of a page that takes a run."""
    return make_run
