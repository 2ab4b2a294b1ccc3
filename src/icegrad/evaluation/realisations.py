"""An ensemble's skill on other realisations of the emulated Arctic: more test Septembers than one split has.

Why: the book's realisation (weather seed 0) holds three test Septembers, 2018-2020, and three decide
little. On them the optimal forecast leads the trend by 0.89 points, against 0.53-2.63 on 24 other
seeds (``benchmarks/emulator_headroom.py``). Another realisation draws other weather under the same
rule, forcing and tuning, so an ensemble trained on seed 0 forecasts its test years out of sample in
weather as well as in time. Scoring it there, the way the book scores its own test years
(:func:`icegrad.model.skill.headline`), tells whether a gain or a loss against the trend is the
network's or the three Septembers'.

Each realisation is scored on its own (its forecasts, its paired bootstrap interval); :func:`summary`
then counts how often the ensemble's interval lies above zero, below it, or straddles it.

Example
-------
``skill_on_realisation(ens, ds, seed=1)`` regenerates the emulated Arctic of ``ds`` with seed 1 (same
resolution, years and tuning) and scores ``ens`` on its test years; ``.line()`` is what
``benchmarks/science.py --realisations 1`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import xarray as xr

from icegrad.data import emulator
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.skill import OPTIMAL, Headline, SkillError, headline, held_out_forecasts


@dataclass(frozen=True)
class RealisationSkill:
    """The ensemble's headline skill on the test years of one realisation (weather seed)."""

    seed: int
    headline: Headline

    def line(self) -> str:
        """``skill realisation S: ensemble A trend B optimal O gain G ci LO HI extent rmse ensemble E trend
        T``: binary accuracy (%, mean over leads), the gain and its paired interval (points), the
        September-extent RMSE (million km2)."""
        top = self.headline
        mean, rmse = top.mean, top.extent_rmse
        low, high = top.ci
        return (f"skill realisation {self.seed}: ensemble {mean['icenet']:.2f} trend "
                f"{mean['linear_trend']:.2f} optimal {mean[OPTIMAL]:.2f} gain {top.gain:.2f} ci {low:.2f} "
                f"{high:.2f} extent rmse ensemble {rmse['icenet']:.3f} trend {rmse['linear_trend']:.3f}")


def skill_on_realisation(ensemble: IceNetEnsemble, ds: xr.Dataset, seed: int) -> RealisationSkill:
    """``ensemble``'s headline skill on the test years of the emulated Arctic ``ds`` regenerated with weather
    ``seed``: the same resolution, months and tuning, so the same rule and statistics."""
    if ds.attrs.get("data_source") != "emulated":
        raise SkillError(f"only the emulated Arctic has other realisations; this dataset's data_source is "
                         f"{ds.attrs.get('data_source')!r}: drop the realisations, or use the emulated data")
    other = emulator.realisation(ds, seed)
    return RealisationSkill(seed, headline(held_out_forecasts(ensemble, other, optimal=True)))


def summary(results: Sequence[RealisationSkill]) -> str:
    """One line over several realisations: the ensemble's gain over the trend (mean, range), how often its
    interval lies above or below zero, and how often its September-extent RMSE is below the trend's."""
    if not results:
        raise SkillError("pass the skill on one or more realisations")
    above = sum(r.headline.ci[0] > 0 for r in results)
    below = sum(r.headline.ci[1] < 0 for r in results)
    return (f"skill realisations: {len(results)} | gain {spread([r.headline.gain for r in results])} | ci "
            f"above zero in {above}, below zero in {below} | "
            f"{extent_rmse_against_trend('ensemble', [r.headline.extent_rmse for r in results], 'icenet')}")


def spread(values: Sequence[float]) -> str:
    """``mean M min A max B`` of per-realisation figures (points)."""
    return f"mean {sum(values) / len(values):.2f} min {min(values):.2f} max {max(values):.2f}"


def extent_rmse_against_trend(label: str, rmses: Sequence[Mapping[str, float]], model: str) -> str:
    """In how many realisations ``model``'s September-extent RMSE is below the trend's, and both means:
    ``extent rmse LABEL below trend in K (mean LABEL E trend T)``; ``rmses`` are the realisations'
    RMSEs by model."""
    own = [r[model] for r in rmses]
    trend = [r["linear_trend"] for r in rmses]
    below = sum(o < t for o, t in zip(own, trend, strict=True))
    n = len(rmses)
    return (f"extent rmse {label} below trend in {below} (mean {label} {sum(own) / n:.3f} trend "
            f"{sum(trend) / n:.3f})")
