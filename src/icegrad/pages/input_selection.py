"""Chapter 8's section *Does the ranking choose good inputs?*: retrain IceNet on each ranking's top k.

If a ranking of the inputs is meaningful, a network trained on its top channels should keep more skill
than one trained on as many channels drawn at random (the follow-up study of the letter's authors,
Uebbing et al., NLDL 2025, retrained IceNet on gradient-chosen inputs). The experiment is
:mod:`icegrad.evaluation.selection`'s; this module chooses its plan from the chapter parameter
``selection_setting`` (:data:`PLANS`), trains through the cached book recipe and turns the comparison
into the section's table, figure and sentences. Each verdict (gradients against random, whether the
gradient top-k keeps past SIC, which subset moves the ROI forecast least) is a function tested for every
outcome in ``tests/pages/test_input_selection.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from icegrad.config import check_choice
from icegrad.pages.common import Page, Run, detached, listing, quietly
from icegrad.variables import channel_groups


@dataclass(frozen=True)
class Plan:
    """What one ``selection_setting`` does: the numbers of channels kept, the choosers, and whether it
    retrains (the reference setting only states the rankings' top-k)."""

    ks: tuple[int, ...]
    choosers: tuple[str, ...]
    retrain: bool


PLANS = {"coarse": Plan((10,), ("gradients", "random"), retrain=True),
         "full": Plan((5, 10, 20), ("gradients", "permutation", "random", "truth"), retrain=True),
         "reference": Plan((10,), ("gradients", "permutation", "truth"), retrain=False)}
"""The plan of each of :data:`icegrad.config.SELECTION_SETTINGS`. ``truth`` (the emulator's known
sensitivity) applies to emulated data only."""
GRADIENT_RANKING = "grid_mean_abs"
"""The gradient ranking that chooses: mean |attribution| over the grid, the chapter's gradient importance."""
TIE_POINTS = 0.1
"""Accuracy differences (percentage points) within this are called equal: below the float16 and seed
noise of one short training run."""
CHOOSER_NAMES = {"all": "every channel", "gradients": "gradients", "permutation": "permute-and-predict",
                 "random": "random", "truth": "the emulator's truth"}
"""How the table and the text name each chooser."""


def check_setting(name: str) -> Plan:
    """The plan of ``selection_setting`` ``name``, or one line naming the choices (before any work)."""
    return PLANS[check_choice("selection_setting", name)]


def truth_scores(run: Run) -> pd.Series:
    """The emulator's truth per channel: mean |d optimal ROI forecast / d input| over leads and grid.

    Channels the optimal forecast does not read (no causal link to the ROI's ice) score exactly zero.
    """
    from icegrad.evaluation import fidelity

    c = run.config
    truth = fidelity.true_channel_sensitivity(run.ds, run.ens.stats, c.target_month, c.leads, run.roi,
                                              list(run.ens.channels))
    return abs(truth).mean(("lead", "y", "x")).to_series()


def choosers(run: Run, permutation: Any, plan: Plan) -> dict[str, pd.Series | None]:
    """The plan's choosers with their channel scores (None: random); no truth on observed data."""
    from icegrad.evaluation import selection

    scores: dict[str, pd.Series | None] = {}
    for name in plan.choosers:
        if name == "gradients":
            scores[name] = selection.gradient_scores(run.result, GRADIENT_RANKING)
        elif name == "permutation":
            scores[name] = selection.permutation_scores(permutation)
        elif name == "random":
            scores[name] = None
        elif run.emulated:
            scores[name] = truth_scores(run)
    return scores


def group_counts(channels: Sequence[str]) -> str:
    """How many channels of each group a subset holds, "sic 6, trend 1, climate 3"."""
    counts = pd.Series(channel_groups(list(channels))).value_counts(sort=False)
    return ", ".join(f"{group} {n}" for group, n in counts.items())


def sic_text(channels: Sequence[str], all_channels: Sequence[str], chooser: str = "gradients") -> str:
    """Whether a top-k keeps past SIC, the letter's leading input, and which groups it holds."""
    sic = [c for c in channels if channel_groups([c])[0] == "sic"]
    n_sic = sum(group == "sic" for group in channel_groups(list(all_channels)))
    keeps = (f"keeps {len(sic)} of the {n_sic} SIC channels ({listing(sic)})" if sic
             else f"keeps none of the {n_sic} SIC channels, the letter's leading input")
    return (f"The {CHOOSER_NAMES[chooser]} top {len(channels)} holds {group_counts(channels)} channels: it "
            f"{keeps}")


def outcome(difference: float, tie: float = TIE_POINTS) -> str:
    """``more``, ``less`` or ``as much`` skill, from an accuracy difference in percentage points."""
    return "more" if difference > tie else "less" if difference < -tie else "as much"


def skill_verdicts(table: pd.DataFrame, tie: float = TIE_POINTS) -> pd.DataFrame:
    """Per k: the gradient- and random-chosen networks' test accuracy, their difference and its outcome."""
    pivot = table.pivot_table(index="k", columns="chooser", values="test_accuracy")
    if not {"gradients", "random"} <= set(pivot.columns):
        return pd.DataFrame(columns=["k", "gradients", "random", "difference", "outcome"])
    rows = pivot[["gradients", "random"]].dropna().reset_index()
    rows["difference"] = rows["gradients"] - rows["random"]
    rows["outcome"] = [outcome(d, tie) for d in rows["difference"]]
    return rows


def verdict_words(verdicts: pd.DataFrame) -> str:
    """The verdict over every k of :func:`skill_verdicts`: "keep more skill than random ones", ..."""
    counts = verdicts["outcome"].value_counts()
    if counts.get("more", 0) == len(verdicts):
        return "keep more skill than random ones"
    if counts.get("less", 0) == len(verdicts):
        return "keep less skill than random ones"
    if counts.get("as much", 0) == len(verdicts):
        return "keep as much skill as random ones, no more"
    return "beat random ones at some k and not at others"


def skill_text(table: pd.DataFrame, tie: float = TIE_POINTS) -> str:
    """Whether gradient-chosen inputs keep more test-year skill than random ones, at every k trained."""
    verdicts = skill_verdicts(table, tie)
    full = float(table.loc[table["chooser"] == "all", "test_accuracy"].iloc[0])
    parts = [f"at k = {int(r.k)}, {r.gradients:.1f} % against {r.random:.1f} % ({r.difference:+.1f} points: "
             f"{r.outcome} skill)" for r in verdicts.itertuples()]
    return (f"Gradient-chosen inputs {verdict_words(verdicts)}: test-year binary accuracy "
            f"{'; '.join(parts)}, beside {full:.1f} % for the network trained on every channel at the same "
            f"setting (differences within ±{tie:g} points count as equal). {trend_text(table)}")


def trend_text(table: pd.DataFrame) -> str:
    """Whether the retrained networks beat the linear-trend forecast, without which their ranking says little.

    A network that does not beat the trend has learnt little the trend does not already know, so equal
    skill between subsets may only mean equally little training.
    """
    trend, best = float(table["trend_accuracy"].iloc[0]), float(table["test_accuracy"].max())
    if best > trend:
        return (f"The linear-trend forecast scores {trend:.1f} %; the best retrained network beats it by "
                f"{best - trend:.1f} points, so the subsets' skill is skill the networks learnt")
    return (f"The linear-trend forecast scores {trend:.1f} %, at least as much as any network retrained here "
            f"(best {best:.1f} %): at this setting the networks have not learnt even what the trend knows, "
            "so the comparison shows how the experiment runs rather than which inputs matter")


def roi_text(table: pd.DataFrame, lead: int, target_label: str) -> str:
    """How the ROI forecast of the letter's month moves with each subset, and which moves it least."""
    column = f"roi_sip_lead{lead}"
    full = table[table["chooser"] == "all"].iloc[0]
    subsets = table[table["chooser"] != "all"]
    closest = subsets.loc[subsets[f"{column}_vs_full"].abs().idxmin()]
    moves = [f"{CHOOSER_NAMES[r['chooser']]} top {r['k']}: {r[column]:.2f} ({r[column + '_vs_full']:+.2f})"
             for _, r in subsets.iterrows()]
    return (f"At lead {lead} the network trained on every channel forecasts a mean sea-ice probability of "
            f"{full[column]:.2f} over the {target_label} ROI; {'; '.join(moves)}. The "
            f"{CHOOSER_NAMES[closest['chooser']]} top {closest['k']} moves it least")


def reference_text(subsets: Mapping[tuple[str, int], Sequence[str]], k: int) -> str:
    """At the reference setting: how far the rankings' top-k overlap, and how to retrain."""
    chosen = {name: set(channels) for (name, size), channels in subsets.items()
              if size == k and name != "all"}
    shared = [f"{CHOOSER_NAMES[a]} and {CHOOSER_NAMES[b]} share {len(chosen[a] & chosen[b])}"
              for i, a in enumerate(chosen) for b in list(chosen)[i + 1:]]
    return (f"At selection_setting 'reference' nothing is retrained: the table states each ranking's top {k} "
            f"channels. Of them, {'; '.join(shared) if shared else 'only one ranking is available'}. Run the "
            f"chapter with -p selection_setting coarse (three networks: {coarse_setting().describe()}) or "
            "full (every chooser at k = 5, 10 and 20, the run's members, epochs and width) to retrain on "
            "them")


def coarse_setting() -> Any:
    """The coarse training setting of :mod:`icegrad.evaluation.selection` (imported when needed: it loads
    TensorFlow)."""
    from icegrad.evaluation.selection import SETTINGS

    return SETTINGS["coarse"]


def training_data(run: Run, resolution_km: int | None) -> tuple[Any, Any]:
    """The dataset and ROI the subsets train and are scored on: the run's, or those of another grid."""
    from icegrad import pipeline

    c = run.config
    if resolution_km in (None, c.resolution_km):
        return run.ds, run.roi
    ds = pipeline.dataset(c.data_source, resolution_km)
    return ds, pipeline.region(ds, c.reference_year, c.target_year, c.month, c.roi_rule)


def setting_for(name: str, run: Run) -> Any:
    """The training setting: the coarse one, or the run's own members, epochs and width ("full")."""
    from icegrad.evaluation.selection import Setting

    c = run.config
    return coarse_setting() if name == "coarse" else Setting(c.members, c.epochs, c.width)


def shown_table(table: pd.DataFrame, leads: Sequence[int]) -> Any:
    """The comparison as the page shows it: chooser, k, groups, accuracy and ROI forecast beside full."""
    frame = table.assign(chooser=table["chooser"].map(CHOOSER_NAMES),
                         groups=[group_counts(c.split()) for c in table["channels"]])
    columns = {"chooser": "chooser", "k": "k", "groups": "groups", "test_accuracy": "accuracy (%)",
               "accuracy_vs_full": "vs full (points)"}
    for lead in leads:
        columns.update({f"roi_sip_lead{lead}": f"ROI forecast, lead {lead}",
                        f"roi_sip_lead{lead}_vs_full": f"vs full, lead {lead}"})
    return frame[list(columns)].rename(columns=columns).style.hide(axis="index").format(
        {"accuracy (%)": "{:.1f}", "vs full (points)": "{:+.1f}",
         **{columns[f"roi_sip_lead{lead}"]: "{:.2f}" for lead in leads},
         **{columns[f"roi_sip_lead{lead}_vs_full"]: "{:+.2f}" for lead in leads}})


def subsets_table(subsets: Mapping[tuple[str, int], Sequence[str]]) -> Any:
    """The rankings' top-k without retraining: chooser, k, groups and the channels."""
    rows = [{"chooser": CHOOSER_NAMES[name], "k": k, "groups": group_counts(channels),
             "channels": ", ".join(channels)} for (name, k), channels in subsets.items() if name != "all"]
    return pd.DataFrame(rows).style.hide(axis="index")


def section(run: Run, permutation: Any, setting: str, figure_dir: str) -> Page:
    """The section for ``run`` (attributions loaded) and its channel ``permutation`` at ``setting``.

    Its notes are Markdown paragraphs (what was compared, the verdicts); its table and, when it
    retrained, its figure are shown by :meth:`Page.display`; ``selection_text`` is glued for the summary.
    """
    from icegrad.evaluation import selection
    from icegrad.plots import save_figure
    from icegrad.plots.importance import selection_curves

    plan, channels = check_setting(setting), list(run.ens.channels)
    scores = choosers(run, permutation, plan)
    subsets = selection.subsets(channels, scores, plan.ks)
    gradient_top = subsets[("gradients", plan.ks[0])]
    groups = sic_text(gradient_top, channels)
    if not plan.retrain:
        text = reference_text(subsets, plan.ks[0])
        return Page(values={"selection_text": text}, tables={"selection": subsets_table(subsets)},
                    notes=[f"{text}.", f"{groups}."])
    train = setting_for(setting, run)
    ds, roi = training_data(run, train.resolution_km)
    with quietly():
        table = selection.input_selection(ds, roi, scores, channels, plan.ks, train, run.config.target_month,
                                          run.config.leads)
    shown_leads = sorted({run.config.leads[0], run.config.leads[-1]})
    fig = selection_curves(table, shown_leads[0])
    save_figure(fig, Path(figure_dir) / "input_selection.png")
    text = skill_text(table)
    intro = (f"Networks retrained on each chooser's top k channels at {train.describe()} "
             f"(selection_setting '{setting}'), beside the network trained on every channel at the same "
             f"setting. The figure shows their test-year binary accuracy (left) and {run.target_label} ROI "
             f"forecast at lead {shown_leads[0]} (right; dashed: every channel, dotted: the linear-trend "
             f"forecast); the table adds the groups each subset holds and lead {shown_leads[-1]}. Data: "
             f"{run.source}.")
    notes = [intro, f"{text}.", f"{groups}.", f"{roi_text(table, shown_leads[0], run.target_label)}."]
    return Page(values={"selection_text": text}, tables={"selection": shown_table(table, shown_leads)},
                figures={"selection": detached(fig)}, notes=notes)


NOT_RUN = (f"chapter 8's networks retrained on the gradient top {PLANS['coarse'].ks[0]} at its coarse "
           "setting are neither cached nor shipped for these parameters (chapter 8 ran at selection_setting "
           "'reference' or not at all), so this run leaves open whether gradient-chosen inputs keep more "
           "skill than random ones")
"""The discussion's line when ch. 8's coarse networks cannot be had without training (it never trains)."""


def is_at_hand(ds: Any, channels: Sequence[str], setting: Any) -> bool:
    """Whether the ensemble :func:`icegrad.evaluation.selection.train_subset` would train is cached intact
    or shipped, so that it can be read without training."""
    from icegrad.evaluation.selection import train_config
    from icegrad.model.train import at_hand, model_parameters

    return at_hand(model_parameters(ds, train_config(ds, channels, setting)))


def discussion_line(table: pd.DataFrame) -> str:
    """The discussion's sentence on ch. 8's coarse retraining: did gradient-chosen inputs beat random?"""
    verdicts = skill_verdicts(table)
    parts = [f"{r.gradients:.1f} % against {r.random:.1f} % at k = {int(r.k)}" for r in verdicts.itertuples()]
    return (f"retrained on their top channels (chapter 8, coarse setting: {coarse_setting().describe()}), "
            f"gradient-chosen inputs {verdict_words(verdicts)} (test-year binary accuracy "
            f"{'; '.join(parts)}; "
            f"the linear-trend forecast scores {float(table['trend_accuracy'].iloc[0]):.1f} %). One short "
            "training run each: a demonstration rather than a measurement")


def discussion_text(run: Run) -> str:
    """Ch. 8's coarse verdict for the discussion, from its cached or shipped networks; :data:`NOT_RUN`
    without them.

    The discussion never trains: if neither the cache nor ``data/networks`` holds the networks chapter 8
    retrains at the coarse setting for the same run parameters, the line says so.
    """
    from icegrad.evaluation import selection

    plan, setting, channels = PLANS["coarse"], coarse_setting(), list(run.ens.channels)
    scores = choosers(run, None, plan)  # as ch. 8 and the release choose (icegrad.cli.selection_runs)
    ds, roi = training_data(run, setting.resolution_km)
    subsets = selection.subsets(channels, scores, plan.ks).values()
    if not all(is_at_hand(ds, subset, setting) for subset in subsets):
        return NOT_RUN
    with quietly():
        table = selection.input_selection(ds, roi, scores, channels, plan.ks, setting,
                                          run.config.target_month, run.config.leads[:1])
    return discussion_line(table)
