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
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import xarray as xr

from icegrad.attribution.rankings import RANKINGS, ranking, set_share

LETTER_GROUPS = ("sic", "trend", "seasonal")
"""The input groups the letter found to lead: past SIC, the linear trend, the seasonal inputs."""
VERDICTS = ("supports", "against", "mixed", "undecided")


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
                    n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The verdict on the letter's finding for every result (one per method and baseline) under every
    ranking, per lead: :func:`letter_table` of their group rankings."""
    tables, shares = [], []
    for ds in results:
        for name in rankings:
            table = ranking(ds, name, "group", n_boot=n_boot, seed=seed)
            tables.append(table)
            labels = table[["ranking", "method", "baseline"]].iloc[0].to_dict()
            shares.append(set_share(ds, name, LETTER_GROUPS, n_boot, seed).assign(**labels))
    return letter_table(pd.concat(tables, ignore_index=True), pd.concat(shares, ignore_index=True))
