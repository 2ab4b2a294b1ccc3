"""Chapter 8, *Permute-and-predict versus gradients*: two rankings side by side, and what only gradients show.

The statistics are :mod:`icegrad.evaluation.permutation`' (permutation importance, the side-by-side
table, the ROI sign of each map); this module turns them into the chapter's tables, figures and
sentences. Every sentence that judges (do the rankings agree, is the seasonal disagreement by
construction, which rule picked the example) is a function tested for each of its outcomes in
``tests/pages/test_permute_and_predict.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from icegrad.pages.common import Page, Run, counted, method_name, sign_colours

NUMBER_FORMATS = {"permutation_importance": "{:.3f}", "permutation_std": "{:.3f}", "permutation_rank": "{:g}",
                  "gradient_importance": "{:.3g}", "gradient_rank": "{:g}", "roi_net": "{:+.3g}",
                  "sign_coherence": "{:.2f}", "roi_share": "{:.2f}", "sign": "{:+d}",
                  "permutation_sem": "{:.3f}", "low": "{:.3f}", "high": "{:.3f}"}
"""How the chapter's tables print each column."""
TABLE_COLUMNS = ["permutation_importance", "permutation_std", "permutation_rank", "gradient_importance",
                 "gradient_rank"]
ICENET_PERMUTATIONS = 10
"""The number of permutations per channel of the IceNet paper's permute-and-predict."""
ROUGH_DRAWS = 20
"""Below this many draws (members × permutations) a bootstrap interval is called rough in the text."""


def styled(table: pd.DataFrame) -> Any:
    """``table`` without its index, its numbers in the chapter's formats."""
    return table.style.hide(axis="index").format({k: v for k, v in NUMBER_FORMATS.items() if k in table})


def agreement(rho: float) -> str:
    """Words for a rank correlation, so the text follows the numbers (NaN: a ranking of ties)."""
    if rho != rho:
        return "cannot be compared (one ranking is all ties)"
    if rho >= 0.7:
        return "broadly agree"
    if rho >= 0.4:
        return "partly agree"
    if rho >= 0.0:
        return "agree little"
    return "disagree"


def rho_label(rho: float) -> str:
    """A rank correlation as text, or why it is undefined."""
    return f"{rho:.2f}" if rho == rho else "undefined (one ranking is all ties)"


def rho_text(correlations: pd.DataFrame) -> str:
    """Spearman's rho per lead, "lead 1: 0.45; lead 3: 0.12"."""
    return "; ".join(f"lead {int(r.lead)}: {rho_label(r.rho)}" for r in correlations.itertuples())


def reference_text(reference: pd.Series) -> str:
    """The unpermuted binary accuracy at the first and the last lead."""
    return (f"The ensemble's members score {reference.iloc[0]:.1f} % binary accuracy at lead "
            f"{reference.index[0]} and {reference.iloc[-1]:.1f} % at lead {reference.index[-1]} on these "
            "start months")


def agreement_text(first: pd.DataFrame, correlations: pd.DataFrame, top_k: int) -> str:
    """Whether the two channel rankings agree at the first lead, their leaders and their shared top k."""
    lead = int(first["lead"].iloc[0])
    rho = correlations.set_index("lead").loc[lead]
    top_p = first.sort_values("permutation_rank").iloc[0]
    top_g = first.sort_values("gradient_rank").iloc[0]
    shared = set(first.nsmallest(top_k, "permutation_rank")["channel"]) & set(
        first.nsmallest(top_k, "gradient_rank")["channel"])
    return (f"At lead {lead} the two channel rankings {agreement(rho['rho'])} (Spearman's rho "
            f"{rho_label(rho['rho'])} over {int(rho['n'])} channels). Permute-and-predict puts "
            f"{top_p.channel} first ({top_p.permutation_importance:.2f} percentage points; gradient rank "
            f"{top_p.gradient_rank:g}); gradients put {top_g.channel} first (permutation rank "
            f"{top_g.permutation_rank:g}, {top_g.permutation_importance:.2f} points). {len(shared)} channels "
            f"are in both top {top_k}s")


def indistinct(test: pd.DataFrame, lead: int) -> int:
    """How many channels :func:`~icegrad.evaluation.permutation.importance_test` cannot tell from zero at
    ``lead`` (their interval over members and permutations contains zero)."""
    return int(test.loc[test["lead"] == lead, "indistinguishable"].sum())


def indistinct_text(test: pd.DataFrame, lead: int, interval: float = 0.95) -> str:
    """The count of :func:`indistinct` channels as a sentence, with what the interval rests on."""
    at_lead = test[test["lead"] == lead]
    members, permutations = int(at_lead["members"].iloc[0]), int(at_lead["permutations"].iloc[0])
    text = (f"{indistinct(test, lead)} of the {len(at_lead)} channels have a permutation importance at lead "
            f"{lead} whose {100 * interval:.0f} % bootstrap interval over the {counted(members, 'member')} × "
            f"{counted(permutations, 'permutation')} (each member its own) contains zero: this run cannot "
            "tell them from an input the network ignores")
    if members * permutations < ROUGH_DRAWS:
        text += (f". With {members * permutations} draws the interval is itself rough (a bootstrap of so "
                 "few values has few distinct resamples), so more permutations or members would sharpen it")
    return text


def forecasts(permutation: xr.Dataset, n_permutations: int | None = None) -> int:
    """How many forecasts a permute-and-predict result took (or would take with ``n_permutations``):
    every member forecasts every start month once unpermuted and once per permutation and item."""
    item = "channel" if "channel" in permutation.dims else "group"
    n = permutation.sizes["permutation"] if n_permutations is None else n_permutations
    return int(permutation.sizes["member"] * permutation.sizes["start"] * (1 + n * permutation.sizes[item]))


def cost_text(n_forecasts: int, seconds: float) -> str:
    """The measured cost of this run's permute-and-predict (per channel and per group together)."""
    return (f"Permute-and-predict took {n_forecasts:,} forecasts here, {seconds:.1f} s of computation "
            f"({1000 * seconds / n_forecasts:.2f} ms per forecast, measured when the results were computed "
            "and kept with them in the cache)")


def permutations_text(results: Sequence[xr.Dataset], seconds: float,
                      target: int = ICENET_PERMUTATIONS) -> str:
    """Whether this run used IceNet's number of permutations and, if not, what that would cost here.

    The estimate scales the measured time per forecast to the forecasts ``target`` permutations need
    (:func:`forecasts` grows in proportion to the number of permutations).
    """
    used = int(results[0].sizes["permutation"])
    if used >= target:
        return f"This run used {counted(used, 'permutation')}, at least the {target} of the IceNet paper"
    needed = sum(forecasts(r, target) for r in results)
    per_forecast = seconds / sum(forecasts(r) for r in results)
    return (f"This run used {counted(used, 'permutation')} per member, fewer than the {target} of the "
            "IceNet paper; at the "
            f"measured {1000 * per_forecast:.2f} ms per forecast, {target} would take {needed:,} forecasts, "
            f"about {needed * per_forecast:.0f} s on this machine at these settings "
            f"(run the chapter with -p n_permutations {target})")


SAME_MONTH_BASELINES = {
    "climatology": ("the climatological integrated-gradients baseline is the mean input of the same "
                    "calendar month", "what differs from a typical year of the same month"),
    "counterfactual": ("the counterfactual integrated-gradients baseline is the input of the same forecast "
                       "in the reference year, started in the same calendar month",
                       "what differs from the same forecast in the reference year"),
    "persistence": ("the persistence integrated-gradients baseline is the input of the same forecast one "
                    "year earlier, started in the same calendar month",
                    "what differs from last year's forecast"),
}
"""The baselines whose input starts in the same calendar month as the explained forecast's, so that the
month inputs (and the land mask) equal it, and what each then asks (:func:`seasonal_text`)."""


def seasonal_text(first: pd.DataFrame, method: str, baseline: str, top_k: int) -> str:
    """How the month inputs fare under both methods, and whether a disagreement is by construction.

    With integrated gradients from a baseline of the same calendar month (climatology, counterfactual,
    persistence: :data:`SAME_MONTH_BASELINES`) the cos/sin month inputs equal their baseline, so their
    attribution is zero whatever the network learned: then a high permutation rank is a disagreement of
    the questions asked, not of the network.
    """
    seasonal = first[first["group"] == "seasonal"]
    if seasonal.empty:
        return "This network reads no seasonal (cos/sin month) inputs"
    zero = (seasonal["gradient_importance"] <= 1e-9 * first["gradient_importance"].max()).all()
    if zero and method == "integrated_gradients" and baseline in SAME_MONTH_BASELINES:
        reason, question = SAME_MONTH_BASELINES[baseline]
        why = f"{reason}, so the month inputs (cos_month, sin_month) never depart from it and their " \
              "attribution is zero"
        costs = " and ".join(
            f"{r.permutation_importance:.2f} points ({r.channel}, rank {r.permutation_rank:g})"
            for r in seasonal.itertuples())
        if (seasonal["permutation_rank"] <= top_k).any():
            return (f"One disagreement is by construction: {why}, while permuting them across start months "
                    f"of different months costs {costs}. The gradients here ask {question}; "
                    "permute-and-predict also asks whether the network knows which month it is")
        return f"The month inputs get no attribution by construction: {why}. Permuting them costs little " \
               f"here as well: {costs}"
    return ("The month inputs rank " + " and ".join(f"{r.gradient_rank:g} ({r.channel})"
                                                    for r in seasonal.itertuples())
            + " by gradients and " + " and ".join(f"{r.permutation_rank:g}" for r in seasonal.itertuples())
            + " by permute-and-predict")


def group_sizes_text(groups: Sequence[str]) -> str:
    """How many channels each group has, "sic: 12 channels, static: 1 channel"."""
    sizes = pd.Series(list(groups)).value_counts()
    return ", ".join(f"{g}: {n} channel{'s' if n > 1 else ''}" for g, n in sizes.items())


def group_text(group_table: pd.DataFrame, group_correlations: pd.DataFrame, lead: int) -> str:
    """The group rankings' correlation per lead and both orders at ``lead``."""
    first = group_table[group_table["lead"] == lead]
    return (f"Over the {len(first)} groups the rank correlation is {rho_text(group_correlations)}. At lead "
            f"{lead} permute-and-predict ranks {', '.join(first.sort_values('permutation_rank')['group'])} "
            f"and gradients rank {', '.join(first.sort_values('gradient_rank')['group'])}")


def example_rule(pick: pd.Series) -> str:
    """Which rule of :func:`~icegrad.evaluation.permutation.gradient_only_example` picked the example."""
    example, n_small = pick["channel"], int(pick["n_small"])
    rules = {
        "small and coherent": f"{example} is the channel this rule picks: of the {n_small} channels with a "
                              "small permutation importance, it has the largest net ROI attribution with "
                              "a sign coherence of at least one half",
        "small, sign mixed": f"None of the {n_small} channels with a small permutation importance has a sign "
                             "coherence of one half over the ROI in this run, so the rule falls back to the "
                             f"largest net ROI attribution among them: {example}",
        "none small": "No channel's permutation importance is small in this run (every one in the lower half "
                      "of the ranking is clearly above zero), so the rule falls back to the largest net ROI "
                      f"attribution overall: {example}",
    }
    return rules[pick["reason"]]


def example_text(pick: pd.Series, per_member_net: xr.DataArray, n_channels: int, lead: int,
                 ocean_share: float) -> str:
    """What permuting the example costs beside what its map says: direction, coherence, members, place."""
    direction = "raised" if pick["roi_net"] > 0 else "lowered"
    same_sign = int((per_member_net * pick["roi_net"] > 0).sum())
    return (f"Permuting {pick['channel']} changes the binary accuracy at lead {lead} by "
            f"{-pick['permutation_importance']:+.2f} ± {pick['permutation_sem']:.2f} percentage points "
            f"(mean ± standard error; permutation rank {pick['permutation_rank']:g} of {n_channels}). Its "
            f"attribution, by contrast, {direction} the ROI forecast (net {pick['roi_net']:+.3g} over the "
            f"ROI; gradient rank {pick['gradient_rank']:g}): {100 * pick['sign_coherence']:.0f} % sign "
            f"coherence over the ROI, {same_sign} of the {per_member_net.sizes['member']} members agree on "
            f"the sign, and {100 * pick['roi_share']:.0f} % of its |attribution| lies in the ROI, which "
            f"covers {100 * ocean_share:.1f} % of the ocean")


def figures(run: Run, table: pd.DataFrame, correlations: pd.DataFrame, permutation: xr.Dataset,
            show_leads: Sequence[int], top_k: int, figure_dir: str) -> dict[str, Any]:
    """The importance bars of the first and the last shown lead and the rank scatter, with captions."""
    from icegrad.plots import save_figure
    from icegrad.plots.importance import importance_bars, rank_scatter

    starts = permutation["start"].to_index()
    values: dict[str, Any] = {}
    for position, lead in (("first", show_leads[0]), ("last", show_leads[-1])):
        fig = importance_bars(table, lead, k=top_k)
        save_figure(fig, Path(figure_dir) / f"importance_bars_lead{lead}.png")
        values[f"fig_bars_{position}"] = fig
        values[f"bars_caption_{position}"] = (
            f"Lead {lead}: the channels in the top {top_k} of either method. Left: permute-and-predict, the "
            f"drop in binary accuracy over the {len(starts)} test-year start months ({starts[0]:%Y-%m} to "
            f"{starts[-1]:%Y-%m}) when the channel is permuted, mean of {len(run.ens)} members × "
            f"{permutation.sizes['permutation']} permutations (error bars ±1 std over them). Right: "
            f"ensemble-mean mean |{method_name(run.config.method)} attribution| for the {run.target_label} "
            f"ROI forecast. Labels give each method's rank; colours the channel group. Data: {run.source}.")
    fig = rank_scatter(table[table["lead"].isin(show_leads)], correlations)
    save_figure(fig, Path(figure_dir) / "rank_scatter.png")
    values["fig_scatter"] = fig
    values["scatter_caption"] = (
        f"Each channel's gradient rank against its permute-and-predict rank (1 = most important) at lead"
        f"{'s' if len(show_leads) > 1 else ''} {' and '.join(map(str, show_leads))}, with Spearman's rho; on "
        f"the grey diagonal both methods agree. Colours give the channel group. Data: {run.source}.")
    return values


def gradient_only(run: Run, table: pd.DataFrame, top_k: int, figure_dir: str,
                  indistinguishable: Sequence[str]) -> tuple[dict[str, Any], Any]:
    """The channel permute-and-predict calls unimportant whose map has a clear sign: glue and its table."""
    from icegrad.evaluation.permutation import gradient_only_example, roi_sign
    from icegrad.plots import save_figure
    from icegrad.plots.attribution import attribution_maps

    result, lead = run.result, run.config.leads[0]
    first = table[table["lead"] == lead]
    signs = roi_sign(result, lead)
    pick = gradient_only_example(table, signs, lead, indistinguishable=indistinguishable)
    example = pick["channel"]
    per_member = result["attribution"].sel(lead=lead, channel=example).where(result["roi"]).sum(("y", "x"))
    ocean_share = float(result["roi"].sum() / (~run.ds["land"].astype(bool)).sum())
    fig = attribution_maps(result, [example], lead)
    save_figure(fig, Path(figure_dir) / "gradient_only_example.png")
    colours = sign_colours()
    glue = {"roi_percent": f"{100 * ocean_share:.1f}", "example": example, "example_rule": example_rule(pick),
            "example_text": example_text(pick, per_member, len(first), lead, ocean_share), "fig_example": fig,
            "example_caption": (
                f"{example} at lead {lead} of the {run.target_label} forecast: the input the network read "
                f"(left) and its ensemble-mean {method_name(run.config.method)} attribution (right; "
                f"{colours['positive']} raises, {colours['negative']} lowers the forecast sea-ice "
                f"probability over the ROI, outlined in orange). Its permute-and-predict importance is "
                f"{pick['permutation_importance']:.2f} ± {pick['permutation_sem']:.2f} percentage points. "
                f"Data: {run.source}.")}
    leading = signs.merge(first[["channel", "permutation_importance", "permutation_sem", "permutation_rank"]],
                          on="channel").sort_values("roi_net", key=abs, ascending=False).head(top_k)
    return glue, styled(leading)


def page(run: Run, n_permutations: int, permutation_seed: int, top_k: int, show_leads: Sequence[int],
         figure_dir: str) -> Page:
    """Everything chapter 8 shows for ``run``; its attributions are loaded into ``run.result`` if it has none.

    The permutations come first: they need no attributions, and in a book build another chapter is
    usually computing those meanwhile, so asking for them first would hold this chapter idle on the
    cache's lock for that time.
    """
    from icegrad import pipeline
    from icegrad.evaluation.permutation import importance_test, rank_correlation, side_by_side

    c = run.config
    permutation, group_permutation = (pipeline.permutations(run.ds, run.ens, n_permutations, by=by,
                                                            seed=permutation_seed)
                                      for by in ("channel", "group"))
    if run.result is None:
        run.result = run.explain()
    result = run.result
    seconds = sum(float(p.attrs["compute_seconds"]) for p in (permutation, group_permutation))
    n_forecasts = forecasts(permutation) + forecasts(group_permutation)
    starts = permutation["start"].to_index()
    reference = permutation["reference_accuracy"].mean("member").to_pandas().rename("accuracy (%)")
    table, group_table = side_by_side(permutation, result), side_by_side(group_permutation, result)
    correlations, group_correlations = rank_correlation(table), rank_correlation(group_table)
    test = importance_test(permutation, seed=permutation_seed)
    first = table[table["lead"] == c.leads[0]].merge(
        test.loc[test["lead"] == c.leads[0], ["channel", "low", "high"]], on="channel")
    shown = first[(first["permutation_rank"] <= top_k) | (first["gradient_rank"] <= top_k)]
    unclear = test.loc[(test["lead"] == c.leads[0]) & test["indistinguishable"], "channel"].tolist()
    example_glue, leading = gradient_only(run, table, top_k, figure_dir, unclear)
    glue = {**run.glue(), "n_permutations": int(permutation.sizes["permutation"]),
            "orders_per_member": counted(int(permutation.sizes["permutation"]), "order"),
            "n_draws": int(permutation.sizes["permutation"] * permutation.sizes["member"]),
            "n_starts": len(starts), "starts_span": f"{starts[0]:%B %Y} to {starts[-1]:%B %Y}",
            "reference_text": reference_text(reference), "top_k": top_k, "rho_text": rho_text(correlations),
            "agreement_text": agreement_text(first, correlations, top_k),
            "n_indistinct": indistinct(test, c.leads[0]),
            "indistinct_text": indistinct_text(test, c.leads[0]),
            "cost_text": cost_text(n_forecasts, seconds),
            "permutations_text": permutations_text([permutation, group_permutation], seconds),
            "seasonal_text": seasonal_text(first, c.method, c.baseline, top_k),
            "group_sizes": group_sizes_text(permutation["group"].values),
            "group_text": group_text(group_table, group_correlations, c.leads[0]),
            **figures(run, table, correlations, permutation, sorted(show_leads), top_k, figure_dir),
            **example_glue}
    tables = {"permutation": permutation, "reference": reference.round(2).to_frame().T,
              "correlations": correlations.round(3),
              "shown": styled(shown.sort_values("permutation_rank")[
                  ["channel", "group", "permutation_importance", "low", "high", *TABLE_COLUMNS[1:]]]),
              "groups": styled(group_table[["lead", "group", *TABLE_COLUMNS]]), "leading": leading}
    return Page(values=glue, tables=tables)
