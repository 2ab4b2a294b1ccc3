"""How much skill an emulated Arctic leaves over the linear trend, and whether it still looks like the Arctic.

The attribution study needs a network that beats the linear-trend baseline; no network can beat it by
more than the emulated Arctic's optimal forecast does (:func:`icegrad.model.skill.ceiling`), so that
*headroom* must exceed :data:`icegrad.model.skill.TARGET_GAIN` before training is worth it. It is set by
the emulator's :class:`~icegrad.data.emulator.tuning.Tuning`, and a retuned Arctic must also keep its
extents close to the Sea Ice Index (:func:`icegrad.data.emulator.validation.compare_extents`).
:func:`headroom` measures both for one tuning, the way the book scores its ensemble: the held-out
(test) years' forecasts, every lead, the same cells and weights, the optimal forecast in the
ensemble's place. ``benchmarks/emulator_headroom.py`` prints it for a sweep of tunings.

It lives in the evaluation layer because it needs the inputs (the trend baseline) and the model's skill
scores, which the data layer, where the emulator lives, may not import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from icegrad.data import emulator
from icegrad.data.emulator.dataset import BOOK_END, BOOK_START
from icegrad.data.emulator.tuning import DEFAULT, Tuning
from icegrad.data.emulator.validation import ExtentComparison, compare_extents, sea_ice_index_folder
from icegrad.evaluation.realisations import extent_rmse_against_trend, spread
from icegrad.inputs.build import build_targets, fit_normalisation
from icegrad.inputs.splits import Splits
from icegrad.model.skill import (
    OPTIMAL,
    TARGET_GAIN,
    Ceiling,
    HeldOut,
    ceiling,
    headline,
    reference_forecasts,
)

N_LEADS = 6
REALISM_MONTHS = (9, 3)
"""The calendar months whose extents are compared with the Sea Ice Index: the minimum and the maximum."""


@dataclass(frozen=True)
class Headroom:
    """One tuning's headroom over the trend and its realism."""

    tuning: Tuning
    ceiling: Ceiling
    """The optimal forecast's skill beside the trend's (its ``icenet`` column is the optimal forecast too:
    no network is involved)."""
    realism: tuple[ExtentComparison, ...] | None
    """Extents against the Sea Ice Index for :data:`REALISM_MONTHS`, or None when the reference is absent."""

    @property
    def per_lead(self) -> pd.Series:
        """Optimal minus trend binary accuracy (points), by lead."""
        accuracy = self.ceiling.accuracy
        return accuracy[OPTIMAL] - accuracy["linear_trend"]

    def line(self) -> str:
        """One line for a log: the gain with its interval, per lead, September-extent RMSE, realism."""
        c = self.ceiling
        low, high = c.attainable_ci
        realism = ("realism: reference absent" if self.realism is None else
                   "realism: " + "; ".join(cmp.summary() for cmp in self.realism))
        rmse = c.extent_rmse
        return (f"tuning {self.tuning.label()}: attainable {c.attainable:.2f} ci {low:.2f} {high:.2f} | per "
                f"lead {' '.join(f'{v:+.2f}' for v in self.per_lead.values)} | extent rmse optimal "
                f"{rmse[OPTIMAL]:.3f} trend {rmse['linear_trend']:.3f} | {realism}")


def across_realisations(results: Sequence[Headroom]) -> str:
    """One line on the headroom of one tuning over several realisations (weather seeds) of its Arctic.

    The book's test years are three Septembers of one realisation, so whether even the optimal forecast
    beats the trend there is partly luck; other seeds draw other weather under the same rule. The line
    gives the attainable gain's mean, range and how often it reaches :data:`~icegrad.model.skill.TARGET_GAIN`
    points, and in how many realisations the optimal forecast's September-extent RMSE is below the trend's.
    """
    if not results or len({r.tuning for r in results}) != 1:
        raise ValueError("pass the headroom of one tuning at one or more seeds")
    gains = [r.ceiling.attainable for r in results]
    n = len(results)
    noun = "realisation" if n == 1 else "realisations"
    return (f"tuning {results[0].tuning.label()} over {n} {noun}: attainable {spread(gains)}, at least "
            f"{TARGET_GAIN:g} in {sum(g >= TARGET_GAIN for g in gains)} | "
            f"{extent_rmse_against_trend('optimal', [r.ceiling.extent_rmse for r in results], OPTIMAL)}")


def headroom(tuning: Tuning = DEFAULT, resolution_km: int = 100, *, seed: int = 0, start: str = BOOK_START,
             end: str = BOOK_END, splits: Splits | None = None,
             realism_months: Sequence[int] = REALISM_MONTHS) -> Headroom:
    """Generate the emulated Arctic of ``tuning`` and measure its headroom over the trend and its realism.

    ``splits`` (default: the book's, :class:`icegrad.inputs.splits.Splits`) gives the years the trend is
    fitted on and the test years scored; ``start``/``end`` must cover them. The realism is None when the
    Sea Ice Index folder is absent (:func:`~icegrad.data.emulator.validation.sea_ice_index_folder`); a
    folder that lacks a month's file, or a window with too few years in common, raises
    :class:`~icegrad.data.emulator.validation.SeaIceIndexError` rather than passing for realism.
    """
    splits = splits or Splits()
    ds = emulator.generate(resolution_km, start, end, seed, tuning=tuning)
    starts = splits.start_months("test", ds, N_LEADS)
    targets = build_targets(ds, starts, N_LEADS, train_years=splits.train)
    forecasts = reference_forecasts(ds, starts, fit_normalisation(ds, splits.train), N_LEADS, optimal=True)
    forecasts["icenet"] = forecasts[OPTIMAL]  # headline() scores an ensemble: the optimum stands in
    ceil = ceiling(headline(HeldOut(forecasts, targets, splits.test, 1)))
    folder = sea_ice_index_folder()
    realism = None if folder is None else tuple(compare_extents(ds, m, folder) for m in realism_months)
    return Headroom(tuning, ceil, realism)
