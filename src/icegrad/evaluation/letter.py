"""The verdict on the letter's finding, per ranking, method and baseline.

Joakimsen et al. (2024) found that IceNet's forecast of the ROI rests mostly on past sea-ice
concentration, the linear-trend forecast and the seasonal (cos/sin month) inputs. Whether a set of
attributions agrees depends on how it is ranked (:mod:`icegrad.attribution.rankings`), on the method
and on the baseline, so the verdict is given for each combination and lead, never once for all.

The rule, chosen so that it can come out either way:

* ``"supports"``: the letter's groups (:data:`LETTER_GROUPS`) hold more than half of the total score
  *and* the top-scoring group is one of them;
* ``"against"``: they hold less than half and the top group is another (climate or static);
* ``"mixed"``: one of the two holds but not the other;
* ``"undecided"``: the bootstrap interval of the letter's share straddles one half, so another draw
  of the ensemble could flip the verdict (only when the interval has non-zero width).

This module is the single home of the letter's groups (:data:`LETTER_GROUPS`), of the share below
which a group counts as zero (:data:`ZERO_SHARE`) and of the rule that orders groups by their share
(:func:`group_order`), which the robustness tables of :mod:`icegrad.evaluation.robustness` apply to
per-channel shares: there the finding *holds* when the letter's groups are the top ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.rankings import RANKINGS, baseline_name, member_scores

LETTER_GROUPS = ("sic", "trend", "seasonal")
"""The input groups the letter found to lead: past SIC, the linear trend, the seasonal inputs."""
VERDICTS = ("supports", "against", "mixed", "undecided")
ZERO_SHARE = 1e-6
"""Shares below this count as zero: a baseline equal to the input (cos/sin month under the
climatological baseline) leaves float32 rounding of order 1e-8, not a contribution."""
N_BOOT = 200
"""Bootstrap draws of the members for the verdicts' intervals. The book's ensembles have 2 to 25
members, whose resamples take few distinct means (three for two members), so a few hundred draws
place the interval's quantiles; pass more for a finer interval."""


def group_order(shares: pd.Series) -> dict[str, object]:
    """Do the letter's groups rank above every other group by these shares (index: group)?

    Returns ``holds`` (every letter group present has a larger |share| than every other group),
    ``margin`` (smallest letter-group |share| minus the largest other one: positive when it holds), the
    ``top`` groups in order (as many as letter groups are present) and ``zero_letter_groups`` (letter
    groups with a share below :data:`ZERO_SHARE`: under a baseline equal to the input they cannot lead
    by construction).
    """
    present = [g for g in LETTER_GROUPS if g in shares.index]
    others = [g for g in shares.index if g not in LETTER_GROUPS]
    if not present:
        raise AttributionError(f"none of the letter's groups {LETTER_GROUPS} is in these results "
                               f"(groups {list(shares.index)})")
    order = shares.abs().sort_values(ascending=False, kind="stable")
    low = float(shares[present].abs().min())
    high = float(shares[others].abs().max()) if others else 0.0
    return {"holds": low > high, "margin": low - high, "top": list(order.index[:len(present)]),
            "zero_letter_groups": [g for g in present if abs(shares[g]) < ZERO_SHARE]}


def verdict(letter_share: float, leading_group: str, low: float | None = None,
            high: float | None = None) -> str:
    """The verdict for one ranking of one lead (see the module docstring for the rule)."""
    if low is not None and high is not None and high > low and low < 0.5 < high:
        return "undecided"
    majority, leads = letter_share > 0.5, leading_group in LETTER_GROUPS
    if majority and leads:
        return "supports"
    if not majority and not leads:
        return "against"
    return "mixed"


def letter_table(group_ranking: pd.DataFrame, letter_shares: pd.DataFrame | None = None) -> pd.DataFrame:
    """Verdicts for a group ranking (from :func:`icegrad.attribution.rankings.ranking` at
    ``level="group"``, one or more rankings, methods and baselines stacked): one row per combination
    and lead with the letter's share, its bootstrap interval, the leading group and the verdict.

    ``letter_shares`` (columns ranking, method, baseline, lead, share, share_low, share_high, from
    :func:`icegrad.attribution.rankings.set_share`) gives the jointly bootstrapped interval of the
    letter's groups; without it the sum of the groups' bounds is used, a wider (conservative) interval,
    since the bounds of parts do not add up to the bound of their sum.
    """
    rows = []
    keys = ["ranking", "method", "baseline", "lead"]
    joint = None if letter_shares is None else letter_shares.set_index(keys)
    for key, part in group_ranking.groupby(keys, sort=False):
        letter = part[part["name"].isin(LETTER_GROUPS)]
        top = part.sort_values("score", ascending=False).iloc[0]
        share, low, high = letter["share"].sum(), letter["share_low"].sum(), letter["share_high"].sum()
        if joint is not None:
            share, low, high = joint.loc[key, ["share", "share_low", "share_high"]]
        rows.append({**dict(zip(keys, key, strict=True)), "letter_share": share, "letter_share_low": low,
                     "letter_share_high": high, "leading_group": top["name"],
                     "verdict": verdict(share, str(top["name"]), low, high)})
    return pd.DataFrame(rows)


def letter_verdicts(results: Sequence[xr.Dataset], rankings: Sequence[str] = RANKINGS,
                    n_boot: int = N_BOOT, seed: int = 0, interval: float = 0.9) -> pd.DataFrame:
    """The verdict on the letter's finding for every result (one per method and baseline) under every
    ranking, per lead: :func:`letter_table` of their group rankings.

    Each result's group scores are computed once per ranking, and one set of ``n_boot`` resamples of
    the members gives the interval of every group's share and, jointly, of the letter's groups' share
    (the central ``interval``); ``n_boot=1`` leaves the intervals at zero width (no bootstrap).
    """
    if n_boot < 1 or not 0 < interval < 1:
        raise AttributionError(f"n_boot={n_boot!r} must be >= 1 and interval={interval!r} within (0, 1)")
    labels_of = [{"method": str(ds.attrs["method"]), "baseline": baseline_name(ds)} for ds in results]
    if len({tuple(labels.values()) for labels in labels_of}) < len(labels_of):
        raise AttributionError("two results share a method and baseline, so their verdicts could not be told "
                               "apart; call letter_verdicts once per result (e.g. per target year) instead")
    tables, shares = [], []
    for ds, labels in zip(results, labels_of, strict=True):
        for name in rankings:
            table, letter = _group_shares(ds, name, n_boot, seed, interval)
            tables.append(table.assign(ranking=name, **labels))
            shares.append(letter.assign(ranking=name, **labels))
    return letter_table(pd.concat(tables, ignore_index=True), pd.concat(shares, ignore_index=True))


def _group_shares(ds: xr.Dataset, name: str, n_boot: int, seed: int, interval: float
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group shares per lead and the letter's joint share, each with its bootstrap interval (one draw
    set for both, vectorised over draws)."""
    scores, _ = member_scores(ds, name, "group")
    scores = scores.transpose("member", "lead", "group")
    groups, leads = [str(g) for g in scores["group"].values], [int(v) for v in scores["lead"].values]
    values = scores.values
    total = values.sum(axis=2, keepdims=True)
    share = np.divide(values, total, out=np.zeros_like(values), where=total > 0)
    letter = share[:, :, [g in LETTER_GROUPS for g in groups]].sum(axis=2)
    draws = np.random.default_rng(seed).integers(0, len(share), size=(n_boot, len(share)))
    tail = (1 - interval) / 2
    boot_share, boot_letter = share[draws].mean(axis=1), letter[draws].mean(axis=1)
    low, high = np.quantile(boot_share, [tail, 1 - tail], axis=0)
    table = pd.DataFrame([{"lead": lead, "name": group, "score": values[:, li, gi].mean(),
                           "share": share[:, li, gi].mean(), "share_low": low[li, gi],
                           "share_high": high[li, gi]}
                          for li, lead in enumerate(leads) for gi, group in enumerate(groups)])
    letter_low, letter_high = np.quantile(boot_letter, [tail, 1 - tail], axis=0)
    joint = pd.DataFrame({"lead": leads, "share": letter.mean(axis=0), "share_low": letter_low,
                          "share_high": letter_high})
    return table, joint
