from __future__ import annotations

import numpy as np
import pytest

from icegrad.attribution.cost import conv_flops, estimate_cost, icenet_counts, measured_flop_rate
from icegrad.attribution.execution import activation_elements, chunk_size

icenet = pytest.importorskip("icegrad.model.icenet")


@pytest.mark.parametrize(("side", "factor"), [(32, 0.125), (54, 0.25)])
def test_analytic_count_matches_the_built_model(side: int, factor: float) -> None:
    model = icenet.build_icenet(side, side, n_channels=50, filters_factor=factor, seed=0)
    flops, acts = icenet_counts(side, side, factor)
    assert flops == conv_flops(model)
    assert acts == activation_elements(model)


def test_full_problem_fits_an_80_gb_card_only_in_chunks() -> None:
    est = estimate_cost(432, 432, 2, members=25, leads=6, steps=64, memory_budget=int(60e9))
    assert 1.0e12 < est.forward_flops < 1.05e12
    assert 28e15 < est.naive_total_flops < 31e15
    assert est.total_flops < est.naive_total_flops
    assert est.unchunked_bytes > 80e9 >= est.chunked_bytes
    assert 1 <= est.chunk_size < 64


def test_chunk_size_evens_out_batches() -> None:
    assert chunk_size(64, 100, memory_budget=2000) == 16
    assert chunk_size(65, 1, memory_budget=None) == 65
    assert chunk_size(10, 1, batch_size=4) == 4
    with np.testing.assert_raises(ValueError):
        chunk_size(10, 10**9, memory_budget=10)


def test_measured_flop_rate_is_a_plausible_rate_and_rejects_bad_arguments() -> None:
    model = icenet.build_icenet(32, 32, n_channels=50, filters_factor=0.125, seed=0)
    flops = conv_flops(model)
    rate = measured_flop_rate(model, flops, batch=2, repeats=2)
    assert 1e6 < rate < 1e15  # between a slow phone and an H100's peak: the timer saw the real work
    with pytest.raises(ValueError, match="must both be >= 1"):
        measured_flop_rate(model, flops, batch=0)
    with pytest.raises(ValueError, match="conv_flops"):
        measured_flop_rate(model, 0)
