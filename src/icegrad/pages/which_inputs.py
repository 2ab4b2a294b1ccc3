"""Chapter 6, which inputs matter: group and channel rankings of signed attributions, and the letter's test.

The letter found that IceNet's forecast of the September 2013 ROI relied most on past SIC, the linear
trend and the seasonal (cos/sin of the month) inputs. This page ranks the five channel groups and the
50 channels of one run at every lead and says, in generated prose, whether that run agrees; then it
gives the verdict under each of the four rankings of :mod:`icegrad.attribution.rankings`, for the
run's method, the letter's own vanilla gradient and every integrated-gradients baseline
(:func:`icegrad.evaluation.letter.letter_verdicts`), with bootstrap intervals across members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from icegrad.attribution.aggregate import channel_summary, group_summary, top_channels
from icegrad.attribution.rankings import RANKINGS, ranking, whole_channels
from icegrad.config import BASELINES
from icegrad.evaluation.letter import LETTER_GROUPS, VERDICTS, letter_verdicts
from icegrad.pages.common import (
    RELATIVE_TOLERANCE,
    Page,
    Run,
    detached,
    lead_list,
    listing,
    method_name,
    plus_minus,
    run_text,
    sign_mark,
    zero_small,
    zero_small_summary,
)
from icegrad.plots import save_figure
from icegrad.plots.attribution import group_heatmap, ranked, ranking_bars
from icegrad.plots.rankings import share_panels

GROUP_ORDER = ("sic", "trend", "climate", "seasonal", "static")
IG = "integrated_gradients"
LETTER_METHOD = "vanilla_gradient"
"""The letter's own method, plain gradients: shown at every lead beside the run's method."""


def group_table(groups: xr.Dataset) -> pd.DataFrame:
    """Ensemble mean ± std of each group's net and mean |attribution| at each lead.

    A mean or spread within float32 rounding of zero (:data:`~icegrad.pages.common.RELATIVE_TOLERANCE`
    of the statistic's largest mean) prints as 0, not as ``-2e-24``: under integrated gradients the seasonal
    inputs equal their climatological baseline, so their attribution is zero by construction.
    """
    mean, spread = groups.mean("member"), groups.std("member", ddof=1)
    present = [g for g in GROUP_ORDER if g in groups["group"].values]  # SIC-only data have no climate
    columns = {}
    for stat in ("net", "mean_abs"):
        scale = float(abs(mean[stat]).max())
        centre, width = (mean[stat].copy(data=zero_small(part[stat].values, scale))
                         for part in (mean, spread))
        for g in present:
            columns[(stat, g)] = [plus_minus(float(centre.sel(group=g, lead=lead)),
                                             float(width.sel(group=g, lead=lead)))
                                  for lead in groups["lead"].values]
    return pd.DataFrame(columns, index=pd.Index(groups["lead"].values, name="lead"))


def groups_section(run: Run, figure_dir: str | Path) -> Page:
    """The group table and the two heat maps (net, mean |attribution|) with their captions."""
    groups = zero_small_summary(group_summary(run.result))
    caption = (f"{method_name(run.config.method)} of the {run.target_label} ROI forecast, baseline "
               f"{run.config.baseline}, {len(run.ens)} members; each cell shows the ensemble mean ± one "
               f"standard deviation. Data: {run.source}.")
    fig_net = detached(group_heatmap(groups, statistic="net"))
    fig_mag = detached(group_heatmap(groups, statistic="mean_abs"))
    save_figure(fig_net, Path(figure_dir) / "groups_net.png")
    save_figure(fig_mag, Path(figure_dir) / "groups_mean_abs.png")
    values = {"fig_groups_net": fig_net, "fig_groups_mag": fig_mag,
              "groups_net_caption": "Net attribution per group and lead: " + caption,
              "groups_mag_caption": "Mean |attribution| per channel, averaged over the channels of each "
                                    "group: " + caption}
    return Page(values, {"groups": group_table(groups)})


def net_sign_text(nets: pd.Series) -> str:
    """Whether the leading group's net (by lead) is positive, negative or of both signs across leads."""
    positive, negative = nets[nets > 0].index, nets[nets < 0].index
    if len(positive) == len(nets):
        return "positive (more sea ice in the ROI) at every lead"
    if len(negative) == len(nets):
        return "negative (less sea ice in the ROI) at every lead"
    parts = [f"{word} at {lead_list(leads)}" for word, leads in
             (("positive", positive), ("negative", negative), ("zero", nets[nets == 0].index)) if len(leads)]
    return " and ".join(parts)


def leaders_section(result: xr.Dataset) -> Page:
    """Per lead, the leading group by mean |attribution| and by |net|, and its net, in a table and prose."""
    groups = group_summary(result)
    rows = []
    for lead in (int(v) for v in result["lead"].values):
        by_net = ranked(groups, lead, by="net")
        rows.append({"lead": lead, "first by mean |attribution|": ranked(groups, lead)["group"].iloc[0],
                     "top three by mean |attribution|": ", ".join(ranked(groups, lead, k=3)["group"]),
                     "first by |net|": by_net["group"].iloc[0], "its net": by_net["net_mean"].iloc[0],
                     "sum of all nets": float(groups["net"].sel(lead=lead).sum("group").mean())})
    leaders = pd.DataFrame(rows).set_index("lead")
    scale = float(abs(groups["net"]).max())
    leaders["its net"] = zero_small(leaders["its net"], scale)
    values = {"first_by_magnitude": run_text(leaders["first by mean |attribution|"].to_dict()),
              "first_by_net": run_text(leaders["first by |net|"].to_dict()),
              "net_sign_text": net_sign_text(leaders["its net"])}
    return Page(values, {"leaders": leaders.round(4)})


def channels_section(run: Run, bar_leads: Sequence[int], top_k: int,
                     figure_dir: str | Path) -> Page:
    """Ranked bars of the ``top_k`` channels at the first and the last of ``bar_leads``, with captions."""
    channels = channel_summary(run.result)
    caption = (f"{run.describe()}), {run.target_label} ROI forecast. "
               f"Data: {run.source}.")
    values: dict[str, object] = {"top_k": top_k}
    for which, lead in (("first", bar_leads[0]), ("last", bar_leads[-1])):
        fig = detached(ranking_bars(channels, lead, k=top_k))
        save_figure(fig, Path(figure_dir) / f"channels_lead{lead}.png")
        values[f"fig_bars_{which}"] = fig
        values[f"bars_caption_{which}"] = f"Top {top_k} channels at lead {lead} ({caption}"
    if bar_leads[0] == bar_leads[-1]:  # a single lead: the second figure repeats the first
        values["bars_caption_last"] = f"As above, this run has one lead ({caption}"
    return Page(values)


def top_channels_section(result: xr.Dataset, top_k: int) -> Page:
    """The top-``top_k`` channels at every lead with the sign of their net, and the letter groups' share."""
    table = top_channels(result, k=top_k)
    nets = zero_small(table["net_mean"], float(abs(channel_summary(result)["net"]).max()))
    table["entry"] = table["channel"] + " (" + nets.map(sign_mark) + ")"
    ranks = table.pivot(index="rank", columns="lead", values="entry")
    top_channel = {int(lead): str(ranks.loc[1, lead]).split(" ")[0] for lead in ranks.columns}
    in_top = table.groupby("lead")["group"].apply(lambda g: int(g.isin(LETTER_GROUPS).sum()))
    values = {"top_channel_text": run_text(top_channel),
              "letter_share_text": ", ".join(f"{n} at lead {lead}" for lead, n in in_top.items())}
    return Page(values, {"ranks": ranks})


def unmoved_channels(result: xr.Dataset, rtol: float = RELATIVE_TOLERANCE) -> list[str]:
    """Channels whose attribution is zero up to float32 rounding of the largest one, at every lead.

    Under integrated gradients these are inputs equal to their baseline (cos/sin of the month, the land
    mask under the climatological baseline): the method gives them zero by construction.
    """
    magnitude = abs(result["attribution"])
    largest = float(magnitude.max())
    per_channel = magnitude.max([d for d in magnitude.dims if d != "channel"])
    return [str(ch) for ch, v in zip(result["channel"].values, per_channel.values, strict=True)
            if float(v) <= rtol * largest]


def letter_verdict(top_three: Mapping[int, set[str]], unmoved: Sequence[str] = ()) -> str:
    """Does the run agree with the letter: are past SIC, the trend and the seasonal inputs the top three?

    ``top_three`` maps each lead to its three groups with the largest mean |attribution| per channel.
    Agreement at every lead, at none, or at some; ``unmoved`` channels (zero by construction) get a note,
    since the method cannot rank them.
    """
    letter = set(LETTER_GROUPS)
    agree = [lead for lead, groups in top_three.items() if set(groups) == letter]
    instead = "; ".join(f"{' and '.join(sorted(set(groups) - letter))} at lead {lead}"
                        for lead, groups in top_three.items() if set(groups) != letter)
    if len(agree) == len(top_three):
        verdict = ("This run agrees with the letter: at every lead the three groups with the largest mean "
                   "|attribution| per channel are past SIC, the linear trend and the seasonal inputs.")
    elif not agree:
        verdict = ("This run disagrees with the letter: at no lead are past SIC, the linear trend and the "
                   f"seasonal inputs the three leading groups. Instead, the top three include {instead}.")
    else:
        verdict = (f"This run agrees with the letter at {lead_list(agree)} only; elsewhere the top three "
                   f"include {instead}.")
    if unmoved:
        verdict += (f" Note that {', '.join(unmoved)} take the same value in the input and in the "
                    "integrated-gradients baseline, so this method gives them zero by construction: it "
                    "cannot rank them. The letter's own plain gradients can (chapter 11 compares the "
                    "methods).")
    return verdict


def headline(verdict: str) -> str:
    """The verdict's first clause, for the summary, where the whole paragraph would be said twice."""
    return verdict.split(":")[0].split(";")[0].split(". ")[0].rstrip(".") + "."


def letter_section(result: xr.Dataset) -> Page:
    """The letter's test on this run's groups, as the glued verdict and its headline."""
    groups = group_summary(result)
    top_three = {int(lead): set(ranked(groups, int(lead), k=3)["group"]) for lead in result["lead"].values}
    unmoved = unmoved_channels(result) if result.attrs.get("method") == "integrated_gradients" else []
    verdict = letter_verdict(top_three, unmoved)
    return Page({"letter_verdict": verdict, "letter_headline": headline(verdict)})



def letter_results(run: Run) -> tuple[list[xr.Dataset], list[xr.Dataset]]:
    """The results the letter's verdict is given for: at every lead the run's own and the letter's
    vanilla gradient; at the first lead (as chapter 5's gallery, whose cache they share) integrated
    gradients from each baseline the run did not use."""
    every = [run.result] + ([run.explain(method=LETTER_METHOD)] if run.config.method != LETTER_METHOD else [])
    first = [run.explain(leads=[run.config.leads[0]], method=IG, baseline=b) for b in BASELINES
             if not (run.config.method == IG and b == run.config.baseline)]
    return every, first


def verdict_cell(row: pd.Series) -> str:
    """One verdict as the table shows it: ``"against: 0.27 [0.21, 0.33], climate first"``."""
    return (f"{row['verdict']}: {row['letter_share']:.2f} [{row['letter_share_low']:.2f}, "
            f"{row['letter_share_high']:.2f}], {row['leading_group']} first")


def verdict_grid(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdicts as a table: one row per method, baseline and ranking, one column per lead (blank
    where a result has no such lead)."""
    cells = verdicts.assign(cell=verdicts.apply(verdict_cell, axis=1))
    grid = cells.pivot(index=["method", "baseline", "ranking"], columns="lead", values="cell")
    return grid.fillna("").rename_axis(columns="letter's share [90 % interval] at lead")


def verdict_counts(verdicts: Iterable[str], climate: bool = True) -> str:
    """How many verdicts fall in each class, and which way they lean (either way, or level).

    Without ``climate`` inputs (a SIC-only network) the letter's groups compete only with the land mask,
    and the text says so: support is then close to guaranteed, not a finding."""
    counts = pd.Series(list(verdicts)).value_counts().reindex(VERDICTS, fill_value=0)
    support, against = int(counts["supports"]), int(counts["against"])
    lean = ("more support the letter than go against it" if support > against else
            "more go against the letter than support it" if against > support else
            "as many support the letter as go against it")
    total = int(counts.sum())
    scope = "" if climate else (" (this network reads no climate inputs, so the letter's groups compete "
                                "only with the land mask)")
    return (f"of {total} verdict{'s' if total != 1 else ''}, {support} support the letter, {against} go "
            f"against it, {counts['mixed']} are mixed and {counts['undecided']} undecided: {lean}{scope}")


def leaders_text(verdicts: pd.DataFrame, method: str, baseline: str = "none") -> str:
    """The leading group per lead under each ranking for ``method`` from ``baseline`` (``none`` for the
    gradients): ``"net (sic at leads 1, 3), roi net (sic at lead 1; trend at lead 3)"``."""
    part = verdicts[(verdicts["method"] == method) & (verdicts["baseline"] == baseline)]
    leading = {name: run_text(rows.set_index("lead")["leading_group"].to_dict())
               for name, rows in part.groupby("ranking", sort=False)}
    return ", ".join(f"{name.replace('_', ' ')} ({text})" for name, text in leading.items())


def rankings_section(run: Run, n_boot: int, figure_dir: str | Path) -> Page:
    """The four rankings side by side for the run's method and vanilla gradient at every lead, and the
    verdict on the letter per ranking, method, baseline and lead, with ``n_boot`` bootstrap resamples."""
    every, first = letter_results(run)
    verdicts = letter_verdicts(every + first, RANKINGS, n_boot=n_boot)
    groups = pd.concat([ranking(r, name, "group", n_boot=n_boot) for r in every for name in RANKINGS])
    fig = detached(share_panels(groups, data_source=run.ds.attrs.get("data_source")))
    save_figure(fig, Path(figure_dir) / "rankings.png")
    whole = listing([str(c) for c in run.result["channel"].values[whole_channels(run.result).values]])
    values = {"fig_rankings": fig, "whole_channels_text": whole,
              "verdict_counts": verdict_counts(verdicts["verdict"], "climate" in run.result["group"].values),
              "letter_method_leaders": leaders_text(verdicts, LETTER_METHOD),
              "rankings_caption": f"Share of each group under the four rankings (columns) at every lead, for "
                                  f"{' and '.join(method_name(r.attrs['method']) for r in every)} (rows); "
                                  f"bands: 90 % bootstrap intervals over {n_boot} resamples of the "
                                  f"{len(run.ens)} members. {whole} are scored as whole channels. "
                                  f"Data: {run.source}."}
    return Page(values, {"verdicts": verdict_grid(verdicts)})
