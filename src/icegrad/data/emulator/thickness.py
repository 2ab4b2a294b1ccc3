"""The hidden ice-state anomaly: a slowly varying, unobserved "thickness" term of the sea-ice state.

Real sea ice remembers more than its concentration shows: a pack that grew thick in a cold winter,
or was thinned by a warm autumn, keeps that anomaly for months and releases it only when the edge
reaches it. Without such a memory the emulated ice edge would be set by the forced trend and the
month's weather alone, and a per-cell linear trend would forecast it almost perfectly — far better
than it forecasts the real Arctic (Andersson et al. 2021, Fig. 3).

So the sea-ice state ``s`` (:mod:`icegrad.data.emulator.sea_ice`) gets one more, documented term,
``h(t) = std(m) * u(t)`` in logits: ``std(m)`` a seasonal amplitude (:data:`STD`) and ``u`` smooth
unit-variance noise on the fixed 200 km lattice (interpolated, so every resolution sees the same
anomaly for a seed), AR(1) in time with coefficient :data:`PHI`. It is small-scale (a few hundred km)
on purpose: it moves the ice edge locally, as real thickness anomalies do, while adding to the pan-Arctic
extent only about as much interannual variability as observed.

``h`` is **noise, not a link**: it depends on no input channel, so it adds nothing to
:func:`icegrad.data.emulator.true_sensitivity` (whose chain rule uses ``dSIC/ds`` recovered from the
stored SIC, which already includes ``h``), and it is not in :func:`icegrad.data.emulator.true_links`.
It is not in the dataset either: a forecaster sees it only through the SIC it leaves near the ice
edge — which is exactly the information persistence and past SIC carry and a trend lacks.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from icegrad import grid
from icegrad.data.emulator.drivers import EPOCH, NOISE_RESOLUTION_KM, Upsampler

PHI = 0.9
"""Month-to-month autocorrelation: an e-folding memory of about ten months, a season and more."""

STD = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.7, 0.7, 0.9, 0.9, 0.9])
"""Stationary standard deviation (logits) by calendar month: largest in the melt season, when thin or
thick ice decides where the edge stops; the winter edge is set more by the weather."""

THIN_PACK: dict[tuple[int, int], float] = {(2013, 4): -0.3, (2013, 5): -0.3, (2013, 6): -0.3}
"""Planted (year, month) -> offset added to that month's shock of ``u`` everywhere, in standard units:
the thin, young pack of spring 2013 that followed the 2012 record low (PIOMAS volume was then at its
record low, Schweiger et al. 2011 updated). It fades with :data:`PHI` like any anomaly; the cool summer
(:mod:`icegrad.data.emulator.events`) still decides how much of it survives to September."""

STREAM = 7
"""Random-stream tag: the anomaly has its own stream, so adding it left the weather of a seed intact."""


class ThicknessAnomaly:
    """``h`` for every month of one realisation on one grid; :meth:`__call__` gives month ``index``."""

    def __init__(self, resolution_km: int, n_months: int, seed: int) -> None:
        rng = np.random.default_rng([seed, STREAM])
        size = grid.BASE_SIZE // grid.coarsening_factor(NOISE_RESOLUTION_KM)
        raw = gaussian_filter(rng.standard_normal((n_months, size, size)), sigma=(0.0, 1.0, 1.0),
                              mode="nearest")
        shocks = raw / raw.std(axis=(1, 2), keepdims=True)
        for (year, month), offset in THIN_PACK.items():
            index = 12 * (year - EPOCH.year) + month - 1
            if index < n_months:
                shocks[index] += offset
        self.lattice = _ar1(shocks)
        self.upsample = Upsampler(resolution_km)

    def __call__(self, index: int, month: int) -> np.ndarray:
        """``h`` (logits) in month ``index`` since the epoch, of calendar month ``month``."""
        return STD[month - 1] * self.upsample(self.lattice[index])


def _ar1(shocks: np.ndarray) -> np.ndarray:
    """Unit-variance AR(1) series along axis 0 from unit-variance shocks (stationary from the start)."""
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    scale = np.sqrt(1.0 - PHI**2)
    for t in range(1, len(shocks)):
        out[t] = PHI * out[t - 1] + scale * shocks[t]
    return out
