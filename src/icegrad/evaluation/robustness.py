"""How far the letter's finding survives a change of lead, member, method, baseline or target year.

The letter (Joakimsen et al. 2024) reads one ranking off one set of gradients: IceNet's September 2013
ROI forecast leans most on past SIC, the linear trend and the seasonal (cos/sin month) inputs. This
module takes several attribution results (the schema of :mod:`icegrad.attribution.results`, as
returned by :func:`icegrad.pipeline.attributions`), cuts them into *settings* (one lead, one member,
one method and baseline, one target year) and reports for each, as tidy pandas tables:

* the **share** of each channel group, both per channel and as a group total (:func:`group_shares`);
* the rank correlation (Spearman and Kendall's tau-b) of its group and channel rankings with a
  reference ranking, and its top group and channel (:func:`rank_agreement`);
* whether **the letter's finding holds** (:func:`icegrad.evaluation.letter.group_order`), defined below;
* for the ensemble, the rank agreement between every pair of members (:func:`member_agreement`).

Shares, not raw attributions
    Every score is normalised within each (member, lead) so that the scores of all items sum to one
    in absolute value. Raw attributions are not comparable across settings: vanilla gradients are in
    probability per normalised input unit, integrated gradients in probability, and the target
    change they explain differs from lead to lead and year to year. A setting pools several
    (member, lead) pairs by averaging their shares, so each pair weighs the same.

Per channel, not per group total
    The five groups have very different sizes (climate 29 channels, sic 12, trend 6, seasonal 2,
    static 1). Summing a group's channels rewards size: 29 weak climate channels can out-total two
    strong seasonal ones. The letter's claim is about *kinds* of information the network relies on,
    so the verdict compares the typical channel of each group: the group's mean over its channels of
    mean |attribution|, divided by the sum of these means over groups (the *per-channel share*).
    Duplicating or dropping channels of a group that all look alike leaves it unchanged. The group
    totals are reported beside it because the per-channel mean has the opposite bias: a group in
    which one channel carries everything (last month's SIC among twelve lags) is diluted by its idle
    channels.

The letter's finding holds in a setting when
    the groups ranked first to *k*-th by per-channel share of mean |attribution| are exactly the
    letter's groups (sic, trend, seasonal) present in the results (*k* = how many of them are
    present: 3 with all 50 inputs, 3 for the SIC-only variant, which has no climate group), i.e.
    every letter group has a larger per-channel share than every other group. ``margin`` is the
    smallest letter share minus the largest other share: positive when the finding holds.

Example
-------
With ``result`` the attributions of one target month (see :mod:`icegrad.pipeline`), its leads and
members; ``labelled_settings("year", {2012: r12, 2013: r13, 2014: r14}, reference=2013)`` would add
the results of other target years:

>>> settings = lead_settings(result) + member_settings(result)
>>> summary = robustness(settings)
>>> summary.verdicts[["axis", "setting"]].values.tolist()
[['lead', 'lead 1'], ['lead', 'lead 3'], ['member', 'seed36'], ['member', 'seed37']]
>>> summary.verdicts.columns.intersection(["holds", "margin"]).tolist()
['holds', 'margin']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import kendalltau, spearmanr

from icegrad.attribution.aggregate import channel_summary
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import validate_result
from icegrad.evaluation.letter import group_order
from icegrad.variables import GROUPS

LEVELS = ("group", "channel")
SCORES = ("mean_abs", "net")
AGGREGATIONS = ("per_channel", "total")
MEMBER_COLUMNS = ["lead", "member_a", "member_b", "level", "score", "spearman", "kendall"]


class RobustnessError(AttributionError):
    """Results that cannot be compared: other channels, another grid, an unknown setting."""


@dataclass(frozen=True)
class Setting:
    """One cut of one result: a lead (or all), a member (or all), under an axis and a label.

    ``reference`` is the setting this one's ranking is compared with; None compares it with the
    reference passed to :func:`robustness`. ``summary`` is the result's
    :func:`~icegrad.attribution.aggregate.channel_summary` when already computed (the builders below
    share one per result, so a result with six leads is summarised once, not six times).
    """

    axis: str
    label: str
    result: xr.Dataset = field(repr=False)
    lead: int | None = None
    member: str | None = None
    reference: Setting | None = field(default=None, repr=False)
    summary: xr.Dataset | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Robustness:
    """The tidy tables of :func:`robustness`."""

    shares: pd.DataFrame
    rankings: pd.DataFrame
    verdicts: pd.DataFrame
    members: pd.DataFrame


def _select(setting: Setting) -> xr.Dataset:
    """The setting's part of its result's channel summary, dims (member, lead, channel)."""
    summary = setting.summary if setting.summary is not None else channel_summary(setting.result)
    name = f"setting {setting.axis}={setting.label}"
    if setting.lead is not None:
        leads = [int(v) for v in summary["lead"].values]
        if setting.lead not in leads:
            raise RobustnessError(f"{name}: lead {setting.lead} is not in its result (leads {leads})")
        summary = summary.sel(lead=[setting.lead])
    if setting.member is not None:
        names = [str(m) for m in summary["member"].values]
        if str(setting.member) not in names:
            raise RobustnessError(f"{name}: member {setting.member!r} is not in its result (members {names})")
        summary = summary.isel(member=[names.index(str(setting.member))])
    return summary


def _normalise(scores: xr.DataArray, dim: str) -> xr.DataArray:
    """Scores divided by their sum of |score| over ``dim`` (per member and lead); all-zero stays zero."""
    total = abs(scores).sum(dim)
    return (scores / total.where(total > 0)).fillna(0.0)


def item_scores(setting: Setting, level: str = "group", score: str = "mean_abs",
                aggregation: str = "per_channel") -> pd.Series:
    """Normalised scores of the setting's groups or channels, pooled over its members and leads.

    ``score`` is ``mean_abs`` (mean |attribution| per cell) or ``net`` (signed sum); groups combine
    their channels by ``aggregation``: the mean over channels (``per_channel``) or the sum (``total``).
    """
    if level not in LEVELS or score not in SCORES or aggregation not in AGGREGATIONS:
        raise RobustnessError(f"unknown level/score/aggregation {level!r}/{score!r}/{aggregation!r}; choose "
                              f"from {LEVELS}, {SCORES}, {AGGREGATIONS}")
    values = _select(setting)[score]
    if level == "group":
        grouped = values.groupby("group")
        values = grouped.mean() if aggregation == "per_channel" else grouped.sum()
    return _normalise(values, level).mean(("member", "lead")).to_series().rename(score)


def check_comparable(results: Sequence[xr.Dataset]) -> None:
    """Raise :class:`RobustnessError` unless all results have the same channels, groups and grid."""
    if not results:
        raise RobustnessError("no results to compare; pass at least one attribution result")
    first = validate_result(results[0])
    for i, other in enumerate(results[1:], start=1):
        validate_result(other)
        if list(other["channel"].values) != list(first["channel"].values) or \
                list(other["group"].values) != list(first["group"].values):
            raise RobustnessError(f"result {i} has other channels than result 0; rankings can only be "
                                  "compared between results of the same network inputs (same data_source "
                                  "and weights)")
        shape, first_shape = (other.sizes["y"], other.sizes["x"]), (first.sizes["y"], first.sizes["x"])
        same_grid = shape == first_shape and all(
            np.allclose(other[c].values, first[c].values)
            for c in ("y", "x") if c in first.coords and c in other.coords)
        if not same_grid:
            raise RobustnessError(f"result {i} is on another grid ({shape[0]}x{shape[1]}) than result 0 "
                                  f"({first_shape[0]}x{first_shape[1]}); compute all results at the same "
                                  "resolution_km")


def rank_correlation(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """Spearman and Kendall (tau-b, ties allowed) correlation of |a| and |b| over their shared items.

    NaN when either ranking is constant (nothing to rank), e.g. every attribution zero.
    """
    items = a.index.intersection(b.index)
    if len(items) < 2:
        raise RobustnessError(f"need at least two shared items to correlate rankings, got {len(items)}")
    x, y = np.abs(a[items].to_numpy(float)), np.abs(b[items].to_numpy(float))
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    return float(spearmanr(x, y).statistic), float(kendalltau(x, y).statistic)


def group_shares(settings: Sequence[Setting]) -> pd.DataFrame:
    """Per setting and group: per-channel and total shares of mean |attribution|, and the net shares.

    Columns: axis, setting, group, n_channels, share (per channel, the verdict's measure),
    share_total, net_per_channel, net_total (signed, normalised like the shares).
    """
    rows = []
    for s in settings:
        per = {(score, agg): item_scores(s, "group", score, agg) for score in SCORES for agg in AGGREGATIONS}
        counts = pd.Series(list(s.result["group"].values)).value_counts()
        for group in _ordered(per["mean_abs", "per_channel"].index):
            rows.append({"axis": s.axis, "setting": s.label, "group": group, "n_channels": int(counts[group]),
                         "share": per["mean_abs", "per_channel"][group],
                         "share_total": per["mean_abs", "total"][group],
                         "net_per_channel": per["net", "per_channel"][group],
                         "net_total": per["net", "total"][group]})
    return pd.DataFrame(rows)


def _ordered(groups: Sequence[str]) -> list[str]:
    """Groups in the book's order (sic, trend, climate, seasonal, static), unknown ones last."""
    names = [str(g) for g in groups]
    return [g for g in GROUPS if g in names] + [g for g in names if g not in GROUPS]


def rank_agreement(settings: Sequence[Setting], reference: Setting) -> pd.DataFrame:
    """Rank correlation of every setting's group and channel rankings with its reference.

    One row per setting, level (group, channel) and score (mean_abs, net): Spearman, Kendall, the top
    item of the setting and of its reference, and whether they are the same. Groups are ranked by
    per-channel scores.
    """
    rows = []
    for s in settings:
        ref = s.reference or reference
        for level in LEVELS:
            for score in SCORES:
                mine, theirs = item_scores(s, level, score), item_scores(ref, level, score)
                rho, tau = rank_correlation(mine, theirs)
                top, ref_top = mine.abs().idxmax(), theirs.abs().idxmax()
                rows.append({"axis": s.axis, "setting": s.label, "level": level, "score": score,
                             "reference": f"{ref.axis}={ref.label}", "spearman": rho, "kendall": tau,
                             "top": top, "reference_top": ref_top, "same_top": top == ref_top})
    return pd.DataFrame(rows)


def member_agreement(result: xr.Dataset, level: str = "channel", score: str = "mean_abs") -> pd.DataFrame:
    """Rank correlation between every pair of members at every lead (their own normalised scores)."""
    members = [str(m) for m in result["member"].values]
    summary = channel_summary(result)
    rows = []
    for lead in (int(v) for v in result["lead"].values):
        scores = {m: item_scores(Setting("member", m, result, lead=lead, member=m, summary=summary),
                                 level, score) for m in members}
        for a, b in combinations(members, 2):
            rho, tau = rank_correlation(scores[a], scores[b])
            rows.append({"lead": lead, "member_a": a, "member_b": b, "level": level, "score": score,
                         "spearman": rho, "kendall": tau})
    return pd.DataFrame(rows, columns=MEMBER_COLUMNS)


def lead_settings(result: xr.Dataset, axis: str = "lead") -> list[Setting]:
    """One setting per lead of ``result`` (all members), compared with the result pooled."""
    summary = channel_summary(result)
    pooled = Setting(axis, "all leads", result, summary=summary)
    return [Setting(axis, f"lead {int(lead)}", result, lead=int(lead), reference=pooled, summary=summary)
            for lead in result["lead"].values]


def member_settings(result: xr.Dataset, axis: str = "member") -> list[Setting]:
    """One setting per member of ``result`` (all leads), compared with the ensemble pooled."""
    summary = channel_summary(result)
    pooled = Setting(axis, "ensemble", result, summary=summary)
    return [Setting(axis, str(m), result, member=str(m), reference=pooled, summary=summary)
            for m in result["member"].values]


def labelled_settings(axis: str, results: Mapping[object, xr.Dataset], reference: object,
                      lead: int | None = None) -> list[Setting]:
    """One setting per labelled result (e.g. per method or per year), compared with ``results[reference]``."""
    if reference not in results:
        raise RobustnessError(f"reference {reference!r} is not among the {axis} results {list(results)}")
    check_comparable(list(results.values()))
    summaries = {label: channel_summary(r) for label, r in results.items()}
    ref = Setting(axis, str(reference), results[reference], lead=lead, summary=summaries[reference])
    return [Setting(axis, str(label), r, lead=lead, reference=ref, summary=summaries[label])
            for label, r in results.items()]


def robustness(settings: Sequence[Setting], reference: Setting | None = None) -> Robustness:
    """Shares, rank agreement and the letter's verdict for every setting, and the member agreement.

    ``reference`` ranks settings that carry none of their own (default: the first setting's result
    pooled over its members and leads). Member agreement is computed for the results of the
    ``member`` axis.
    """
    if not settings:
        raise RobustnessError("no settings; build them with lead_settings, member_settings or "
                              "labelled_settings")
    check_comparable([s.result for s in settings])
    reference = reference or Setting("reference", "pooled", settings[0].result, summary=settings[0].summary)
    shares = group_shares(settings)
    verdicts = []
    for (axis, label), table in shares.groupby(["axis", "setting"], sort=False):
        verdict = group_order(table.set_index("group")["share"])
        total = group_order(table.set_index("group")["share_total"])
        verdicts.append({"axis": axis, "setting": label, "holds": verdict["holds"],
                         "margin": verdict["margin"],
                         "top_groups": ", ".join(verdict["top"]),
                         "zero_letter_groups": ", ".join(verdict["zero_letter_groups"]),
                         "holds_by_total": total["holds"], "top_groups_by_total": ", ".join(total["top"])})
    member_results = list({id(s.result): s.result for s in settings if s.axis == "member"}.values())
    members = pd.concat([member_agreement(r) for r in member_results], ignore_index=True) \
        if member_results else pd.DataFrame(columns=MEMBER_COLUMNS)
    return Robustness(shares=shares, rankings=rank_agreement(settings, reference),
                      verdicts=pd.DataFrame(verdicts), members=members)


def sign_mix(result: xr.Dataset, lead: int, k: int = 5, threshold: float = 0.25) -> pd.DataFrame:
    """Do the ``k`` leading channels (ensemble-mean mean |attribution|) at ``lead`` push both ways?

    ``minority`` is the smaller of |positive sum| and |negative sum| over the larger: 0 for a map of
    one sign, 1 for a map whose two signs cancel. A channel is ``mixed`` when it reaches
    ``threshold``: an unsigned per-channel importance (permute-and-predict's) cannot tell it from a
    channel that pushes one way only, which is the letter's case for signed, spatial gradients.
    """
    summary = _select(Setting("lead", str(lead), result, lead=lead)).mean(("member", "lead"))
    table = summary[["positive", "negative", "net", "mean_abs"]].to_dataframe()
    table = table.sort_values("mean_abs", ascending=False, kind="stable").head(k)
    larger = np.maximum(table["positive"], -table["negative"])
    table["minority"] = np.minimum(table["positive"], -table["negative"]) / larger.where(larger > 0)
    table["mixed"] = table["minority"].fillna(0.0) >= threshold
    return table.reset_index()[["channel", "group", "positive", "negative", "net", "minority", "mixed"]]
