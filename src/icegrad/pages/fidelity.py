"""Chapter 9, *Does attribution find the truth?*: each method scored against the emulator; whose error it is.

The scores are :mod:`icegrad.evaluation.fidelity`'s and the additive benchmark
:mod:`icegrad.evaluation.additive`'s; this module arranges them into the chapter's tables, maps and
sentences. Each judgement (does attribution recover the truth's ranking, are the benchmark's
attributions close to the truth) can come out either way and is tested for each outcome in
``tests/pages/test_fidelity.py``. On observed data there is no truth: the page says so, and the
additive benchmark, which needs no data, still runs.

The deletion/insertion curves (:func:`icegrad.evaluation.faithfulness.compare_orderings`) need no truth
either, so they run on every data source: they ask whether what a method ranks first is what the
network's forecast depends on, and each method gets a verdict against a shared random control
(:func:`faithfulness_verdict`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.results import ResultsOnLookup
from icegrad.config import RunConfig
from icegrad.evaluation import fidelity
from icegrad.pages.common import Page, Run, lead_list, listing, load_run, plus_minus

IG_ZEROS = "integrated_gradients (zeros)"
"""The additive benchmark's label of integrated gradients (it uses the zero baseline)."""
RANK_TARGET, MAP_TARGET = 0.6, 0.5
"""What a method must reach to count as finding the truth: rank correlation of channel importance and
correlation of the linked channels' maps with the truth's (issue 13's targets), averaged over leads."""
FAITHFUL_FRACTIONS = (0.0, 0.02, 0.2, 1.0)
"""Fractions of input values replaced on the chapter's curves. Four points, not the engine's ten: each
costs one forward pass per ordering, member and lead, and the book runs five orderings plus the random
control over every lead. 0 and 1 pin the ends (the forecast itself and the reference), 2 % is where a
ranking that finds the few values the ROI depends on already moves the target while random ones do
not, and 20 % where random replacement starts to move it too."""
N_RANDOM = 3
"""Random orderings in the shared control (their curves are averaged): one is noisy, three are cheap."""
FAITHFUL = ("more faithful than random", "mixed", "not more faithful than random")
"""The verdicts of :func:`faithfulness_verdict`."""


def linked_channels(channels: pd.DataFrame) -> pd.DataFrame:
    """The channels counted as linked per lead (one method's rows: the truth is the same for all)."""
    first = channels[channels["linked"] & (channels["label"] == channels["label"].iloc[0])]
    return first.groupby("lead")["channel"].apply(", ".join).rename("linked channels").to_frame()


def linked_text(channels: pd.DataFrame) -> str:
    """What "linked" means and how many channels are linked at each lead."""
    first = channels[channels["linked"] & (channels["label"] == channels["label"].iloc[0])]
    counts = ", ".join(f"{n} at lead {lead}" for lead, n in first.groupby("lead").size().items())
    return ("The table lists, per lead, the channels counted as linked: those whose true importance (mean "
            f"|truth| per cell) is at least {100 * fidelity.LINKED_SHARE:g} % of the largest one's "
            f"({counts}).")


def recovery(spearman: float) -> str:
    """Whether attribution recovers the truth's channel ranking, in words, from the best rank correlation."""
    if spearman >= 0.7:
        return "recovers"
    if spearman >= 0.4:
        return "partly recovers"
    return "does not recover"


def scores_text(ranking: pd.DataFrame, scores: pd.DataFrame) -> str:
    """The best and the worst method by fidelity, and whether the best recovers the truth's ranking."""
    best, worst = ranking.index[0], ranking.index[-1]
    b = ranking.loc[best]
    return (f"Averaged over the leads, {best} scores highest (fidelity {b['fidelity']:.2f}: rank "
            f"correlation {b['spearman']:.2f}, sign agreement {b['sign_agreement']:.2f}, spatial correlation "
            f"{b['spatial_correlation']:.2f}) and {worst} lowest (fidelity "
            f"{ranking.loc[worst, 'fidelity']:.2f}), so even the best method {recovery(b['spearman'])} the "
            f"truth's channel ranking here. The rank correlations range from "
            f"{scores['spearman'].min():.2f} to {scores['spearman'].max():.2f} over methods and leads")

def composite_text(ranking: pd.DataFrame) -> str:
    """What the composite ``fidelity`` is, shown on the best method's own numbers."""
    best = ranking.index[0]
    rho, sign, r = (float(ranking.loc[best, c])
                    for c in ("spearman", "sign_agreement", "spatial_correlation"))
    return ("The composite fidelity score orders the methods. It is the mean of three terms that are each 0 "
            "for a method no better than chance and 1 for a perfect one: the rank correlation, 2 × (sign "
            "agreement − 0.5), because a coin gets half the signs right, and the spatial correlation. For "
            f"{best}: ({rho:.2f} + 2 × ({sign:.2f} − 0.5) + {r:.2f}) / 3 = "
            f"{float(ranking.loc[best, 'fidelity']):.2f}")


def shortfall_text(ranking: pd.DataFrame, methods: dict[str, str], errors: pd.DataFrame) -> str:
    """Which methods fall short of the targets on the emulator, and whose error it is (the benchmark's split).

    ``methods`` maps each ranking label to its method; the benchmark scores every method from the zero
    baseline, so a label is matched with the benchmark's row of its method (none for a method it lacks).
    """
    short = ranking[(ranking["spearman"] < RANK_TARGET) | (ranking["spatial_correlation"] < MAP_TARGET)]
    if short.empty:
        return (f"Every method reaches a rank correlation of at least {RANK_TARGET:g} and a map correlation "
                f"of at least {MAP_TARGET:g} with its truth, averaged over the leads: none falls short here")
    listed = ", ".join(f"{label} ({row['spearman']:.2f}, {row['spatial_correlation']:.2f})"
                       for label, row in short.iterrows())
    shares = {label: float(errors.loc[fidelity.spec_label(methods[label], "zeros"), "model_share"])
              for label in short.index if fidelity.spec_label(methods[label], "zeros") in errors.index}
    sides = []
    for whose, keep in (("the model's", lambda v: v >= 0.5), ("the method's", lambda v: v < 0.5)):
        named = [f"{label} ({100 * share:.0f} % the model's)" for label, share in shares.items()
                 if keep(share)]
        if named:
            sides.append(f"mostly {whose} for {', '.join(named)}")
    text = (f"Falling short of a rank correlation of {RANK_TARGET:g} or a map correlation of {MAP_TARGET:g} "
            f"(rank and map correlation in brackets): {listed}.")
    if sides:
        text += f" In the additive benchmark the same method's error is {' and '.join(sides)}."
    if any(methods[label] == "integrated_gradients" for label in short.index):
        quadrature = 100 * float(errors.loc[IG_ZEROS, "method_error"])
        text += (" The truth of integrated gradients is the optimal forecast's own integrated gradients, so "
                 f"the method adds only its quadrature error ({quadrature:.2f} % on the exact function) and "
                 "the rest of their shortfall is the network's departure from the optimal forecast.")
    return text.removesuffix(".")


def closeness(error: float) -> str:
    """A relative attribution error in words."""
    if error <= 0.1:
        return "close to"
    if error <= 0.5:
        return "some way from"
    return "far from"


def bench_text(r2: float, errors: pd.DataFrame) -> str:
    """How well the benchmark network fits, how close its attributions are, and the model's share of error."""
    total = errors["total_error"]
    near = closeness(float(total.min()))
    joint = "and" if near == "close to" else "yet"
    return (f"The network explains {100 * r2:.1f} % of the target's variance on held-out inputs, {joint} "
            f"its best attributions are {near} the truth: relative errors from {total.min():.2f} "
            f"({total.idxmin()}) to {total.max():.2f} ({total.idxmax()}). On the exact function the same "
            f"methods err by {errors['method_error'].min():.1e} to {errors['method_error'].max():.2f}, so "
            f"between {100 * errors['model_share'].min():.0f} % and "
            f"{100 * errors['model_share'].max():.0f} % of each method's error is the model's")

def verdict(ranking: pd.DataFrame | None, r2: float, errors: pd.DataFrame, source: str) -> str:
    """What the numbers say: the closest method (when there is a truth) and whose error an error is."""
    if ranking is not None:
        best, worst = ranking.index[0], ranking.index[-1]
        text = (f"On the emulated Arctic, {best} comes closest to the truth (fidelity "
                f"{ranking.loc[best, 'fidelity']:.2f}, against {ranking.loc[worst, 'fidelity']:.2f} for "
                f"{worst}). How much of that error is the model's the emulator's scores alone cannot say; "
                "the additive benchmark can: ")
    else:
        text = (f"This run has no truth to compare with ({source}); the additive benchmark, which needs "
                "no data, still shows whose error an attribution error is: ")
    bench_best = errors["total_error"].idxmin()
    ig_error = 100 * errors.loc[IG_ZEROS, "method_error"]
    gxi_error = 100 * errors.loc["gradient_x_input", "method_error"]
    return text + (
        f"on a network that fits its target with R² = {r2:.3f}, a median "
        f"{100 * errors['model_share'].median():.0f} % of a method's attribution error is the model's (its "
        "gradients differ from those of the function it approximates) and the rest the method's. On the "
        f"exact function integrated gradients are exact up to {ig_error:.2f} % and gradient × input is off "
        f"by {gxi_error:.0f} % once the terms bend; on the network {bench_best} has the lowest total error "
        f"({errors.loc[bench_best, 'total_error']:.2f})")

def truth_maps(run: Run, scored: fidelity.FidelityRun, ranking: pd.DataFrame,
               figure_dir: str) -> dict[str, Any]:
    """The truth beside the best and the worst method's maps of the top linked channel, first lead."""
    from icegrad.plots import save_figure
    from icegrad.plots.attribution import compare_maps

    best, worst, lead = ranking.index[0], ranking.index[-1], run.config.leads[0]
    rows = scored.channels[(scored.channels["label"] == best) & (scored.channels["lead"] == lead)]
    top = rows.loc[rows["true_importance"].idxmax(), "channel"]
    fields, titles, labels, shown = [], [], [], set()
    for label in dict.fromkeys([best, worst]):
        kind = scored.scores.loc[scored.scores["label"] == label, "truth"].iloc[0]
        key = label if kind == fidelity.TRUTH_NAMES["integrated_gradients"] else kind  # IG: one per baseline
        if key not in shown:  # one truth panel per distinct truth
            fields.append(scored.truths[label].sel(lead=lead, channel=top))
            baseline = label.removeprefix("integrated_gradients") if key == label else ""
            titles.append(f"truth ({kind}{baseline})")
            labels.append("per normalised unit" if kind == "sensitivity" else "probability")
            shown.add(key)
        fields.append(scored.results[label]["attribution"].sel(lead=lead, channel=top).mean("member"))
        titles.append(label.replace("_", " "))
        labels.append("attribution")
    fig = compare_maps(fields, run.roi, titles, labels)
    save_figure(fig, Path(figure_dir) / "fidelity_maps.png")
    r = scored.channels.set_index(["label", "lead", "channel"])["map_correlation"]
    return {"fig_fidelity_maps": fig,
            "maps_text": f"For {top} at lead {lead}, the map of {best} correlates with its truth at "
                         f"{r[best, lead, top]:.2f} and that of {worst} at {r[worst, lead, top]:.2f}",
            "maps_summary": f"Maps of {top} at lead {lead}: {best} {r[best, lead, top]:.2f}, {worst} "
                            f"{r[worst, lead, top]:.2f} (correlation with the truth)",
            "maps_caption": f"{top} at lead {lead} of the {run.target_label} forecast: the emulator's exact "
                            "truth (the method applied to the optimal forecast: its sensitivity, gradient "
                            "× input or integrated gradients from the same baseline) beside the "
                            f"ensemble-mean attribution of the best ({best}) and the "
                            f"worst ({worst}) method by fidelity. Each panel on its own symmetric scale; ROI "
                            "outlined in orange. "
                            f"Data: {run.source}."}


def method_results(run: Run, specs: tuple[tuple[str, str], ...] = fidelity.METHOD_SPECS
                   ) -> Mapping[str, xr.Dataset]:
    """Every method's attributions of the run's forecast, labelled as the scores label them (cached stages).

    For data without a truth, where :func:`icegrad.pipeline.score_methods` does not run: the same
    results it would compute, so the faithfulness curves compare the same methods on every source.
    """
    return ResultsOnLookup({fidelity.spec_label(method, baseline): functools.partial(
        run.explain, method=method, baseline=baseline if method == "integrated_gradients" else "zeros")
        for method, baseline in specs})


def faithfulness_curves(run: Run, results: Mapping[str, xr.Dataset]) -> xr.Dataset:
    """Deletion/insertion curves of every result against one shared random control, at the page's fractions.

    The reference is zeros (normalised units: the climatological mean of every anomaly channel, no ice
    and no land) for every method, integrated gradients from the climatology included, so that all are
    asked the same question.
    """
    from icegrad.evaluation.faithfulness import compare_orderings

    return compare_orderings(run.ens.members, results, fractions=FAITHFUL_FRACTIONS, n_random=N_RANDOM,
                             land=run.ds["land"])


def gain_stats(curves: xr.Dataset) -> pd.DataFrame:
    """Each method's deletion and insertion gain (mean over leads) as the mean and standard deviation across
    members; one member has no spread, counted as 0 so that the gain alone decides."""
    per_member = curves[["deletion_gain", "insertion_gain"]].mean("lead")
    columns = {}
    for name in ("deletion_gain", "insertion_gain"):
        values = per_member[name].transpose("label", "member").values
        columns[name] = values.mean(axis=1)
        columns[name.replace("gain", "spread")] = values.std(axis=1, ddof=1) if values.shape[1] > 1 else 0.0
    return pd.DataFrame(columns, index=pd.Index(curves["label"].values.tolist(), name="method"))


def faithfulness_verdict(row: pd.Series) -> str:
    """Whether a method's ranking beats random: both gains above zero by more than the member spread
    ("more faithful than random"), one of them ("mixed") or neither ("not more faithful than random")."""
    beyond = [row[f"{curve}_gain"] - row[f"{curve}_spread"] > 0 for curve in ("deletion", "insertion")]
    return FAITHFUL[0] if all(beyond) else FAITHFUL[1] if any(beyond) else FAITHFUL[2]


def gains_table(stats: pd.DataFrame) -> pd.DataFrame:
    """The gains as the chapter shows them: mean ± member spread, and the verdict."""
    return pd.DataFrame({
        "deletion gain": [plus_minus(g, s) for g, s in zip(stats["deletion_gain"], stats["deletion_spread"],
                                                             strict=True)],
        "insertion gain": [plus_minus(g, s) for g, s in zip(stats["insertion_gain"],
                                                              stats["insertion_spread"], strict=True)],
        "verdict": [faithfulness_verdict(row) for _, row in stats.iterrows()]}, index=stats.index)


def not_faithful(stats: pd.DataFrame) -> list[str]:
    """The methods that are not more faithful than random on both curves (mixed or not at all)."""
    return [label for label, row in stats.iterrows() if faithfulness_verdict(row) != FAITHFUL[0]]


def faithfulness_text(stats: pd.DataFrame) -> str:
    """Which methods' rankings beat the shared random control, in words, grouped by verdict."""
    verdicts = {label: faithfulness_verdict(row) for label, row in stats.iterrows()}
    parts = []
    for verdict_ in FAITHFUL:
        named = [label for label, v in verdicts.items() if v == verdict_]
        if named:
            parts.append(f"{verdict_}: {listing(named)}")
    best = stats["deletion_gain"].add(stats["insertion_gain"]).idxmax()
    listed = "; ".join(parts)
    return (f"{listed[:1].upper()}{listed[1:]}. The largest summed gain is "
            f"{best}'s (deletion {stats.loc[best, 'deletion_gain']:+.3g}, insertion "
            f"{stats.loc[best, 'insertion_gain']:+.3g}, in units of the target: sea-ice probability)")


def faithfulness_section(run: Run, results: Mapping[str, xr.Dataset], figure_dir: str) -> Page:
    """The chapter's faithfulness section: curves of every method, the gains table and the verdicts."""
    from icegrad.plots import save_figure
    from icegrad.plots.lines import faithfulness_curves as draw

    curves = faithfulness_curves(run, results)
    stats = gain_stats(curves)
    fig = draw(curves, f"{run.target_label} ROI forecast: deletion and insertion")
    save_figure(fig, Path(figure_dir) / "faithfulness_curves.png")
    fractions = listing([f"{100 * f:g} %" for f in FAITHFUL_FRACTIONS])
    return Page(values={
        "fig_faithfulness": fig, "faithful_fractions": fractions, "faithful_random": N_RANDOM,
        "faithfulness_text": faithfulness_text(stats),
        "faithfulness_short": f"{len(stats) - len(not_faithful(stats))} of {len(stats)} methods are more "
                              "faithful than random on both curves",
        "faithfulness_caption": (
            f"Deletion (left) and insertion (right) curves of the {run.target_label} ROI forecast: the "
            f"target after replacing the top {fractions} of the input values with the reference (zeros), "
            "ranked by each method's signed attribution (solid) or in random order (dashed: the mean of "
            f"{N_RANDOM} random orderings shared by every method); mean over the {len(run.ens)} members "
            f"and {lead_list(run.config.leads)}. Data: {run.source}.")},
        tables={"faithfulness": gains_table(stats)})


def no_truth(source: str) -> dict[str, Any]:
    """The glue values of a run on observed data, which has no truth to score against."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4, 1))
    fig.text(0.5, 0.5, "no ground truth for observed data", ha="center", va="center")
    return {"linked_text": "No channels are scored.", "best_method": "none", "worst_method": "none",
            "truth_note": f"This run uses {source}, which has no known true sensitivity, so the comparison "
                          "with the truth is skipped; the additive benchmark below still runs.",
            "scores_text": "No scores: this run has no ground truth", "fig_fidelity_maps": fig,
            "composite_text": "With no truth there is no composite score to order the methods by",
            "maps_text": "No maps: this run has no ground truth",
            "maps_summary": "No maps to score on observed data",
            "maps_caption": f"No ground truth for {source}."}


def benchmark_glue(bench: Any, errors: pd.DataFrame) -> dict[str, Any]:
    """The additive benchmark's set-up and results as the chapter states them."""
    ny, nx, n_channels = bench.function.shape
    return {"bench_grid": f"{ny} × {nx}", "bench_channels": n_channels,
            "bench_breaks": ", ".join(f"{b:g}" for b in bench.function.breakpoints),
            "bench_n_train": bench.n_train, "bench_n_test": len(bench.x_test), "bench_r2": bench.r2,
            "bench_ig_error": float(100 * errors.loc[IG_ZEROS, "method_error"]),
            "bench_text": bench_text(bench.r2, errors)}


def page(config: RunConfig, benchmark_seed: int, figure_dir: str) -> Page:
    """Everything chapter 9 shows for the run ``config``."""
    from icegrad.evaluation import additive
    from icegrad.plots import source_label

    source = source_label(config.data_source)
    out = Page(values={"source_label": source, "top_k": fidelity.TOP_K,
                     "target_label": f"{pd.Timestamp(config.target_month):%B %Y}"})
    ranking = None
    run = load_run(config, attributions=False)
    out.values.update({k: v for k, v in run.glue().items() if k in ("inputs_note", "n_members")})
    if run.emulated:
        scored = pipeline.score_methods(run.ds, run.ens, run.roi, config.target_month, config.leads,
                                        steps=config.steps)
        ranking = fidelity.ranking(scored.scores)
        results = scored.results
        out.values.update({
            "truth_note": f"The truth and the attributions below are for the {run.target_label} forecast of "
                          f"the {len(run.ens)}-member ensemble, at leads "
                          f"{', '.join(map(str, config.leads))}.",
            "linked_text": linked_text(scored.channels), "best_method": ranking.index[0],
            "worst_method": ranking.index[-1], "scores_text": scores_text(ranking, scored.scores),
            "composite_text": composite_text(ranking),
            **truth_maps(run, scored, ranking, figure_dir)})
        out.tables.update({"linked": linked_channels(scored.channels), "ranking": ranking.round(3),
                           "scores": scored.scores.drop(columns=["method", "baseline"]).round(3)})
    else:
        out.values.update(no_truth(source))
        results = method_results(run)
    section = faithfulness_section(run, results, figure_dir)
    out.values.update(section.values)
    out.tables.update(section.tables)
    bench = additive.benchmark(seed=benchmark_seed, steps=config.steps)
    errors = additive.decompose(bench.scores)
    out.values.update(benchmark_glue(bench, errors))
    out.values["verdict"] = verdict(ranking, bench.r2, errors, source)
    out.values["shortfall_text"] = "No method is scored against a truth on this data" if ranking is None \
        else shortfall_text(ranking, dict(zip(scored.scores["label"], scored.scores["method"], strict=True)),
                            errors)
    out.tables.update({"bench_scores": bench.scores.round(4), "bench_errors": errors.round(4)})
    return out
