"""Chapter 11, *Discussion and conclusion*: how far the letter's finding survives, claim by claim.

The chapter's verdicts are functions of small tables so that each outcome, for and against the
letter, is tested on synthetic numbers (``tests/pages/test_discussion.py``). The robustness statistics
themselves are :mod:`icegrad.evaluation.robustness`'s and the verdicts on the letter's finding
:mod:`icegrad.evaluation.letter`'s; this module runs them over the book's settings, gathers the book's
checks (skill, completeness, randomisation, fidelity, faithfulness) and puts their results into words.

Text is glued as plain text (``{glue:text}``), so it carries no Markdown markers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.evaluation import letter
from icegrad.evaluation import robustness as rb
from icegrad.pages.common import Page, Run, listing, method_name, quietly

PLACE_BAND = 2.0
"""A map whose ROI concentration lies within a factor PLACE_BAND of 1 is spread like the ocean itself."""
CLAIM_COLUMNS = ["claim", "where in this book", "data", "method (baseline)", "ranking", "measure (this run)",
                 "verdict (this run)"]
CHECK_COLUMNS = ["check", "where in this book", "measure (this run)", "criterion", "outcome"]
LETTER_CLAIM = "IceNet leans most on past SIC, the linear trend and cos/sin month"


def explain_all(run: Run, target_years: Sequence[int], methods: Sequence[str], check_lead: int
                ) -> tuple[dict[int, xr.Dataset], dict[str, xr.Dataset], str]:
    """The runs of the chapter: the run's own at every lead; every other target year, method and baseline
    at ``check_lead``.

    The other years are compared at one lead, as the methods are, because each costs a six-lead
    explanation otherwise (~90 s at 100 km on 2 cores): the lead axis is judged on the run's own year.
    Returns the results by year and by method label, and the label of the run's own method.
    """
    from icegrad.attribution.methods import EngineCache
    from icegrad.attribution.references import BASELINES

    c = run.config
    month, main_year = pd.Timestamp(c.target_month).month, pd.Timestamp(c.target_month).year
    years = sorted({int(y) for y in target_years} | {main_year})
    engines = EngineCache()  # one compiled engine per number of leads, not one per call
    by_year = {y: run.result if y == main_year else run.explain(f"{y}-{month:02d}", leads=[check_lead],
                                                                 engines=engines)
               for y in years}
    by_method = {method_name(m, c.baseline): run.explain(leads=[check_lead], method=m, engines=engines)
                 for m in methods}
    for other in (b for b in BASELINES if b != c.baseline):
        by_method[method_name("integrated_gradients", other)] = run.explain(
            leads=[check_lead], method="integrated_gradients", baseline=other, engines=engines)
    reference = method_name(c.method, c.baseline)
    if reference not in by_method:
        by_method[reference] = run.explain(leads=[check_lead], engines=engines)
    engines.clear()  # their compiled graphs (~46 MiB each at 100 km); the results are what the page needs
    return by_year, by_method, reference


def rank_table(rankings: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho of each setting's group and channel rankings (by magnitude), and its top channel."""
    magnitude = rankings[rankings["score"] == "mean_abs"]
    table = magnitude.pivot_table(index=["axis", "setting"], columns="level", values="spearman",
                                  sort=False).rename(columns=lambda c: f"rho ({c}s)")
    table["top channel"] = magnitude[magnitude["level"] == "channel"].set_index(["axis", "setting"])["top"]
    return table


def robustness_text(verdicts: pd.DataFrame, rankings: pd.DataFrame, members: pd.DataFrame, emulated: bool,
                    source: str) -> str:
    """The robustness paragraph: in how many settings the finding holds, by axis, and why not."""
    held = verdicts[verdicts["holds"]]
    axes_text = []
    for axis, table in verdicts.groupby("axis", sort=False):
        tops = table["top_groups"].str.split(", ").str[0].value_counts()
        axes_text.append(f"{axis}s: {int(table['holds'].sum())} of {len(table)} "
                         f"(first group per channel: {', '.join(f'{g} in {n}' for g, n in tops.items())})")
    magnitude = rankings[(rankings["score"] == "mean_abs") & (rankings["level"] == "group")]
    groups_rho = magnitude.groupby("axis", sort=False)["spearman"].min()
    text = (f"The letter's finding holds in {len(held)} of {len(verdicts)} settings"
            + (f" ({listing([f'{a} {s}' for a, s in zip(held['axis'], held['setting'], strict=True)])})"
               if 0 < len(held) < len(verdicts) else "")
            + f". By axis: {'; '.join(axes_text)}. The lowest rank correlation of the group ranking with its "
            f"reference is {', '.join(f'{r:.2f} across {a}s' for a, r in groups_rho.items())}")
    if len(members):
        text += (f"; two members rank the 50 channels with a Spearman correlation between "
                 f"{members['spearman'].min():.2f} and {members['spearman'].max():.2f}")
    text += "."
    zero = verdicts[verdicts["zero_letter_groups"] != ""]
    if len(zero):
        groups = sorted({g for text_ in zero["zero_letter_groups"] for g in text_.split(", ")})
        text += (f" In {len(zero)} settings ({listing(list(zero['setting'].unique()))}) the "
                 f"{listing(groups)} group{'s have' if len(groups) > 1 else ' has'} a share of zero (below "
                 f"{letter.ZERO_SHARE:g}): with a baseline that starts in the same calendar month "
                 "(climatology, counterfactual or persistence) the cos/sin of the start month equal the "
                 "baseline's, so integrated gradients give them nothing whatever the network "
                 "learned, and the finding cannot hold there by construction. That part of the verdict is a "
                 "property of the question asked, not of the data; the verdicts by method below attribute "
                 "the month inputs as whole channels, which measures them.")
    return text + (" Which groups lead otherwise depends on the network and therefore on the data it was "
                   "trained on" + (": here an ensemble trained on the emulated Arctic, whose links are "
                                   "synthetic, so these rankings test whether the method reproduces the "
                                   "letter's kind of finding, not the letter's numbers." if emulated
                                   else f": here {source}."))


def holds_count(verdicts: pd.DataFrame) -> str:
    """The short form of the robustness verdict, for the summary."""
    return f"The letter's finding holds in {int(verdicts['holds'].sum())} of {len(verdicts)} settings"


def sign_claim(mix: pd.DataFrame) -> tuple[str, str]:
    """Do the leading channels push both ways? Only then is a signed attribution needed to see it."""
    measure = (f"{int(mix['mixed'].sum())} of the {len(mix)} leading channels push both ways "
               "(minority >= 25 %)")
    if mix["mixed"].any():
        return measure, "supported: an unsigned score hides this"
    return measure, "not needed here: the leading maps have one sign"


def concentration(result: xr.Dataset, land: xr.DataArray, channel: str, lead: int) -> tuple[float, float]:
    """The ROI's share of the ocean, and the ROI's share of ``channel``'s |attribution| over it."""
    mean_map = abs(result["attribution"].sel(lead=lead, channel=channel).mean("member"))
    roi = result["roi"].astype(bool)
    share = float(roi.sum() / (~land.astype(bool)).sum())
    return share, float(mean_map.where(roi).sum() / mean_map.sum()) / share


def place_claim(channel: str, ratio: float, roi_share: float, band: float = PLACE_BAND) -> tuple[str, str]:
    """Does the leading channel's map single out a place? Not when it is spread like the ocean itself.

    ``ratio`` is the ROI's share of the |attribution| over its share of the ocean: far above one the
    map points at the ROI, far below one at remote cells; within a factor ``band`` of one the map is
    about as strong everywhere, and says little about where the input acts.
    """
    measure = (f"{channel}: ROI holds {ratio * roi_share:.0%} of its |attribution| and {roi_share:.0%} of "
               "the ocean")
    if ratio >= band:
        return measure, f"supported: concentrated on the ROI (x{ratio:.1f})"
    if ratio <= 1 / band:
        return measure, f"supported: mostly remote from the ROI (x{ratio:.1f})"
    return measure, f"not supported: spread about as evenly as the ocean (x{ratio:.1f})"


def forecast_claim(forecast: Mapping[int, float], observed: Mapping[int, float]) -> tuple[str, str]:
    """Does the ensemble order the target years' ROI ice as they were observed?

    Every pair of years whose observations differ must be forecast in the same order (a tie in the
    forecast does not order them); pairs observed alike say nothing about order and are skipped.
    """
    years = sorted(forecast)
    measure = "; ".join(f"{y}: forecast {forecast[y]:.2f}, observed {observed[y]:.2f}" for y in years)
    same = all(np.sign(forecast[a] - forecast[b]) == np.sign(observed[a] - observed[b])
               for a, b in combinations(years, 2) if observed[a] != observed[b])
    return measure, "years ordered as observed" if same else "years ordered differently from observed"


def observed_fraction(sic: xr.DataArray, roi: xr.DataArray, years: Sequence[int],
                      month: int) -> dict[int, float]:
    """The fraction of ROI cells above 15 % SIC in ``month`` of each year."""
    return {y: float((sic.sel(time=f"{y}-{month:02d}").squeeze() > 0.15).where(roi.astype(bool)).mean())
            for y in years}


def claims_table(rows: Sequence[Sequence[str]]) -> pd.DataFrame:
    """The claims as a table, one row per (claim, where, data, method, ranking, measure, verdict)."""
    return pd.DataFrame(list(rows), columns=CLAIM_COLUMNS)


def share_label(row: Mapping[str, Any]) -> str:
    """One verdict of :func:`icegrad.evaluation.letter.letter_verdicts` with its uncertainty."""
    return (f"letter groups' share {row['letter_share']:.2f} (90 % interval across members "
            f"{row['letter_share_low']:.2f}-{row['letter_share_high']:.2f}), leading group "
            f"{row['leading_group']}")


def letter_claims(verdicts: pd.DataFrame, source: str, lead: int) -> list[list[str]]:
    """The letter's headline claim under each ranking, for each method and baseline at ``lead``."""
    rows = verdicts[verdicts["lead"] == lead]
    return [[LETTER_CLAIM, "ch. 6 (rankings); the verdicts by method above", source,
             f"{r['method']} ({r['baseline']})", r["ranking"], share_label(r), r["verdict"]]
            for _, r in rows.iterrows()]


def across_claim(verdicts: pd.DataFrame) -> tuple[str, str]:
    """Measure and verdict of "the finding holds across these settings" (leads, methods or years, each
    under every ranking): supported when every verdict supports the letter, not supported when none
    does, else qualified."""
    counts = verdicts["verdict"].value_counts()
    n = int(counts.get("supports", 0))
    measure = f"supports in {n} of {len(verdicts)} ({', '.join(f'{v} {k}' for k, v in counts.items())})"
    return measure, "supported" if n == len(verdicts) else "not supported" if n == 0 else "qualified"


def verdict_counts(verdicts: pd.DataFrame) -> str:
    """The number of each verdict, "6 supports, 13 against, 4 mixed, 1 undecided"."""
    counts = verdicts["verdict"].value_counts()
    return ", ".join(f"{int(counts.get(v, 0))} {v}" for v in letter.VERDICTS)


def letter_text(verdicts: pd.DataFrame) -> str:
    """How the letter's verdicts come out over methods, baselines and rankings, counted per verdict."""
    counts = verdicts["verdict"].value_counts()
    setups = verdicts[["method", "baseline"]].drop_duplicates()
    text = (f"Over {len(setups)} methods and baselines × {verdicts['ranking'].nunique()} rankings at lead"
            f"{'s' if verdicts['lead'].nunique() > 1 else ''} {listing(sorted(verdicts['lead'].unique()))}, "
            f"{len(verdicts)} verdicts on the letter's finding: {verdict_counts(verdicts)}")
    if counts.get("undecided", 0):
        text += (" (undecided: the 90 % interval of the letter's share across members straddles one half, so "
                 "another draw of the ensemble could flip it)")
    return text + "."


def letter_pivot(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The verdicts as one row per method and baseline, one column per ranking: "verdict (share)"."""
    cells = verdicts.assign(cell=[f"{v} ({s:.2f})" for v, s in zip(verdicts["verdict"],
                                                                   verdicts["letter_share"], strict=True)])
    return cells.pivot_table(index=["method", "baseline", "lead"], columns="ranking", values="cell",
                             aggfunc="first", sort=False)


def check_row(check: str, where: str, measure: str, criterion: str, passed: bool | None) -> dict[str, str]:
    """One row of the checks table; ``passed`` None means the check could not run on these data."""
    outcome = "not run" if passed is None else "pass" if passed else "fail"
    return dict(zip(CHECK_COLUMNS, (check, where, measure, criterion, outcome), strict=True))


def skill_check(gain: float) -> dict[str, str]:
    """IceNet must beat the linear-trend forecast on the test years, or its explanations explain little."""
    return check_row("skill against the linear trend", "ch. 4", f"binary accuracy gain {gain:+.2f} points",
                     "gain above 0", gain > 0)


def completeness_check(errors: Mapping[str, float], tolerance: float) -> dict[str, str]:
    """Integrated gradients must add up to the explained change (ensemble mean, every baseline)."""
    worst = max(errors, key=errors.__getitem__)
    return check_row("completeness of integrated gradients", "ch. 5",
                     f"largest ensemble-mean error {100 * errors[worst]:.2f} % ({worst})",
                     f"below {100 * tolerance:g} %", errors[worst] < tolerance)


def randomisation_check(max_rho: float, threshold: float) -> dict[str, str]:
    """Maps of trained networks must not survive weight randomisation (Adebayo et al. 2018)."""
    return check_row("parameter randomisation", "ch. 5",
                     f"largest rank correlation of |maps|, trained vs randomised: {max_rho:.2f}",
                     f"below {threshold:g}", max_rho < threshold)


def data_randomisation_check(similarity: pd.DataFrame | None, threshold: float) -> dict[str, str]:
    """Maps must differ for a network trained on shuffled targets (Adebayo et al. 2018); ``similarity`` has
    per method (index) the rank correlation of |sensitivity| (``spearman_sensitivity``), None if not run."""
    criterion = f"below {threshold:g} for every method"
    if similarity is None:
        return check_row("data randomisation", "ch. 5", "networks of the coarse setting not cached",
                         criterion, None)
    worst = str(similarity["spearman_sensitivity"].idxmax())
    rho = float(similarity["spearman_sensitivity"].max())
    return check_row("data randomisation", "ch. 5",
                     f"largest rank correlation of |sensitivity|, trained vs shuffled targets: {rho:.2f} "
                     f"({method_name(worst)})", criterion, rho < threshold)


def data_randomisation_limit(similarity: pd.DataFrame | None, threshold: float) -> str:
    """The limit naming the methods whose maps survive data randomisation, or saying the test did not run."""
    if similarity is None:
        return ("Chapter 5's data-randomisation test was not run with these parameters (its networks of the "
                "coarse setting are neither cached nor shipped, and this chapter never trains), so it is "
                "open whether the maps would look the same for a network trained on shuffled targets.")
    failed = [method_name(m) for m, rho in similarity["spearman_sensitivity"].items() if rho >= threshold]
    if not failed:
        return ("Every method's maps change when the network is trained on shuffled targets (chapter 5's "
                f"data randomisation: rank correlation of |sensitivity| below {threshold:g}): they depend on "
                "what the network learnt from the targets, not on the input alone.")
    one = len(failed) == 1
    return (f"{listing(failed).capitalize()} {'gives' if one else 'give'} much the same maps for a network "
            f"trained on shuffled targets (chapter 5's data randomisation: rank correlation of |sensitivity| "
            f"of at least {threshold:g}): {'its' if one else 'their'} maps explain the input rather than "
            "what the network learnt.")


def fidelity_check(spearman: float | None, threshold: float = 0.7) -> dict[str, str]:
    """Vanilla gradients (the letter's method) must recover the emulated truth's channel ranking."""
    if spearman is None:
        return check_row("fidelity to the emulated truth", "ch. 9", "no truth on observed data",
                         f"rank correlation at least {threshold:g}", None)
    return check_row("fidelity to the emulated truth", "ch. 9",
                     f"vanilla gradients' channel ranking vs the truth: Spearman {spearman:.2f}",
                     f"rank correlation at least {threshold:g}", spearman >= threshold)


def faithfulness_check(unfaithful: Sequence[str], n_methods: int, lead: int) -> dict[str, str]:
    """Every method's ranking must move the forecast more than random ones do (ch. 9's deletion and
    insertion curves against a shared random control); ``unfaithful`` are the methods that do not."""
    return check_row("deletion/insertion faithfulness", "ch. 9",
                     f"{n_methods - len(unfaithful)} of {n_methods} methods more faithful than random at "
                     f"lead {lead}", "both gains above the member spread, for every method", not unfaithful)


def faithfulness_limit(unfaithful: Sequence[str], methods: Sequence[str], lead: int) -> str:
    """The limit naming the methods whose rankings are not more faithful to the network than random."""
    if not unfaithful:
        return (f"At lead {lead} every method compared ({listing(methods)}) is more faithful than random: "
                "replacing the input values it ranks first moves the forecast more than replacing as many "
                "random ones, on deletion and insertion alike (chapter 9's curves).")
    one = len(unfaithful) == 1
    return (f"At lead {lead}, {listing(unfaithful)} {'is' if one else 'are'} not more faithful than random "
            f"on both of chapter 9's curves: replacing the input values {'it ranks' if one else 'they rank'} "
            "first does not move the forecast more than replacing as many random ones, beyond the members' "
            f"spread, so {'its' if one else 'their'} rankings and maps say little about what this network's "
            "forecast depends on.")


def failed_short(checks: pd.DataFrame) -> str:
    """The failed checks by name only, for the summary."""
    failed = checks.loc[checks["outcome"] == "fail", "check"].tolist()
    return f"{len(failed)} of {len(checks)} failed" + (f" ({listing(failed)})" if failed else "")


def failed_text(checks: pd.DataFrame) -> str:
    """The limits' list of failed checks: exactly those whose outcome is "fail", with their numbers."""
    failed = checks[checks["outcome"] == "fail"]
    if failed.empty:
        return f"None of the book's {len(checks)} checks failed in this run."
    listed = "; ".join(f"{r['check']} ({r['where in this book']}: {r['measure (this run)']}, asked "
                       f"{r['criterion']})" for _, r in failed.iterrows())
    return (f"{len(failed)} of the book's {len(checks)} checks failed in this run, and every verdict above "
            f"is qualified by them: {listed}.")


def supported_count(claims: pd.DataFrame) -> int:
    """How many claims are supported outright ("supported", not "not supported" or "qualified")."""
    return int(claims["verdict (this run)"].str.startswith(("supported", "supports")).sum())


def splits_text(splits: Mapping[str, Sequence[int]]) -> str:
    """The ensemble's training, validation and test years as its manifest records them."""
    train, validate, test = (splits.get(k) for k in ("train", "val", "test"))
    if train and validate and test:
        return (f"training {train[0]}-{train[1]}, validation {validate[0]}-{validate[1]}, test "
                f"{test[0]}-{test[1]} (from the ensemble's manifest)")
    return "recorded in its manifest as " + str(dict(splits) or "unknown (the original IceNet release)")


def validation_text(years: Sequence[int], splits: Mapping[str, Sequence[int]]) -> str:
    """Which target years the network trained or was selected on: those forecasts are no independent test."""
    def within(span: Sequence[int] | None) -> list[str]:
        return [str(y) for y in years if span and span[0] <= y <= span[1]]

    in_validation, in_training = within(splits.get("val")), within(splits.get("train"))
    if not in_validation and not in_training:
        return "None of the target years was used for training or validation."
    return (f"Of the target years, {listing(in_validation)} lie in the validation years and "
            f"{listing(in_training)} in the training years: a forecast of those Septembers is not an "
            "independent test, and explaining it explains a network that was selected on it.")


def conclusion_text(verdicts: pd.DataFrame, run_method: str, run_baseline: str, source: str,
                    n_members: int, target_label: str) -> str:
    """The conclusion's first sentence: the letter's verdicts for the run's method and overall."""
    own = verdicts[(verdicts["method"] == run_method) & (verdicts["baseline"] == run_baseline)]
    return (f"On this run ({source}, {n_members} members), the letter's finding for the {target_label} ROI "
            f"forecast is supported under {int((own['verdict'] == 'supports').sum())} of {len(own)} rankings "
            f"with {run_method} ({run_baseline}), and in {int((verdicts['verdict'] == 'supports').sum())} of "
            f"{len(verdicts)} combinations of method, baseline and ranking.")


def checks(run: Run, by_method: Mapping[str, xr.Dataset], lead: int, unfaithful: Sequence[str],
           shuffled: pd.DataFrame | None) -> pd.DataFrame:
    """The book's checks on this run, from the cached stages (the results ch. 5 and this chapter load);
    ``unfaithful`` are the methods of ``by_method`` that are not more faithful than random, ``shuffled``
    ch. 5's data randomisation (:func:`data_randomisation_check`)."""
    from icegrad.attribution.rankings import baseline_name
    from icegrad.evaluation import fidelity, sanity
    from icegrad.model.skill import evaluate_skill
    from icegrad.pages import gradient_attribution as ch5

    with quietly():
        skill = evaluate_skill(run.ens, run.ds)["binary_accuracy"].mean("lead")
    errors = {f"baseline {baseline_name(r)}": float(sanity.ensemble_completeness(r)["relative_error"].max())
              for r in by_method.values() if r.attrs["method"] == "integrated_gradients"}
    rho = ch5.randomisation_section(run, lead, ch5.check_steps(run.config.steps)).values["random_abs_max"]
    spearman = None
    if run.emulated:
        truth = fidelity.true_channel_sensitivity(run.ds, run.ens.stats, run.config.target_month, [lead],
                                                  run.roi, list(run.ens.channels))
        gradients = run.explain(leads=[lead], method="vanilla_gradient")
        matched = fidelity.matched_truth(gradients, truth)
        scores = fidelity.summarise(fidelity.channel_scores(gradients, matched))
        spearman = float(scores["spearman"].iloc[0])
    return pd.DataFrame([skill_check(float(skill.sel(model="icenet") - skill.sel(model="linear_trend"))),
                         completeness_check(errors, ch5.BOOK_TOLERANCE),
                         randomisation_check(rho, ch5.RANDOMISATION_THRESHOLD),
                         data_randomisation_check(shuffled, ch5.RANDOMISATION_THRESHOLD),
                         fidelity_check(spearman),
                         faithfulness_check(unfaithful, len(by_method), lead)])


def page(run: Run, target_years: Sequence[int], methods: Sequence[str], figure_dir: str) -> Page:
    """Everything chapter 11 shows for ``run`` (whose attributions are loaded)."""
    from icegrad.attribution.rankings import baseline_name
    from icegrad.pages import fidelity as ch9
    from icegrad.pages import gradient_attribution as ch5
    from icegrad.pages.input_selection import discussion_text
    from icegrad.plots import save_figure
    from icegrad.plots.robustness import share_heatmap

    c, result = run.config, run.result
    check_lead = c.leads[0]
    by_year, by_method, reference = explain_all(run, target_years, methods, check_lead)
    years, main_year = sorted(by_year), pd.Timestamp(c.target_month).year
    summary = rb.robustness(rb.lead_settings(result) + rb.member_settings(result)
                            + rb.labelled_settings("method", by_method, reference=reference, lead=check_lead)
                            + rb.labelled_settings("year", by_year, reference=main_year, lead=check_lead))
    fig = share_heatmap(summary.shares, summary.verdicts,
                        title=f"{run.target_label} ROI forecast: per-channel group shares per setting")
    save_figure(fig, Path(figure_dir) / "robustness_shares.png")
    verdicts, rankings = summary.verdicts, summary.rankings
    by_letter = letter.letter_verdicts(list(by_method.values()))
    by_year_letter = {y: letter.letter_verdicts([r]) for y, r in by_year.items()}
    at_check_lead = pd.concat(v[v["lead"] == check_lead] for v in by_year_letter.values())
    own = (c.method, baseline_name(result))
    mix = rb.sign_mix(result, lead=check_lead, k=5)
    leading = str(mix.iloc[0]["channel"])
    share, ratio = concentration(result, run.ds["land"], leading, check_lead)
    month = pd.Timestamp(c.target_month).month
    forecast = {y: float(r["target_value"].sel(lead=check_lead).mean()) for y, r in by_year.items()}
    method_label = f"{own[0]} ({own[1]})"
    claims = claims_table([
        *letter_claims(by_letter[(by_letter["method"] == own[0]) & (by_letter["baseline"] == own[1])],
                       run.source, check_lead),
        [f"{LETTER_CLAIM}, at every lead", "ch. 6", run.source, method_label, "all four",
         *across_claim(by_year_letter[main_year])],
        [f"{LETTER_CLAIM}, for every method and baseline", "ch. 5; the verdicts by method above", run.source,
         "all of the table above", "all four", *across_claim(by_letter)],
        [f"{LETTER_CLAIM}, in every target year (lead {check_lead})", "Fig. fig-robustness", run.source,
         method_label, "all four", *across_claim(at_check_lead)],
        ["Gradients give the sign of each input's influence", "ch. 6 (signed bars), ch. 7 (maps)", run.source,
         method_label, "grid mean |attribution|", *sign_claim(mix)],
        ["Gradients show where an input acts", "ch. 7 (maps, local or remote)", run.source, method_label,
         "grid mean |attribution|", *place_claim(leading, ratio, share)],
        [f"The forecast of the {run.target_label} ROI", "ch. 3 (ROI), ch. 4 (skill)", run.source, "IceNet",
         "none", *forecast_claim(forecast, observed_fraction(run.ds["siconca"], result["roi"], years,
                                                             month))],
    ])
    with quietly():
        faithful = ch9.gain_stats(ch9.faithfulness_curves(run, by_method))
    unfaithful = ch9.not_faithful(faithful)
    shuffled = ch5.cached_data_similarity(run, check_lead, ch5.check_steps(c.steps))
    checked = checks(run, by_method, check_lead, unfaithful, shuffled)
    splits = run.ens.manifest.get("splits", {})
    glue = {**run.glue(), "method_name": reference, "check_lead": check_lead, "fig_robustness": fig,
            "robustness_caption": (
                f"Per-channel share of mean |attribution| of each group (rows sum to one) for every lead and "
                f"member ({reference}), every method and baseline and every target year, both at lead "
                f"{check_lead} (September of {', '.join(map(str, years))}, ROI of {c.target_year} vs "
                f"{c.reference_year}); "
                f"right: whether the letter's finding holds. {len(run.ens)} members. Data: {run.source}."),
            "robustness_text": robustness_text(verdicts, rankings, summary.members, run.emulated, run.source),
            "robustness_short": holds_count(verdicts), "letter_text": letter_text(by_letter),
            "claims_supported": supported_count(claims), "claims_total": len(claims),
            "failed_text": failed_text(checked), "failed_short": failed_short(checked),
            "faithfulness_limit": faithfulness_limit(unfaithful, list(by_method), check_lead),
            "data_randomisation_limit": data_randomisation_limit(shuffled, ch5.RANDOMISATION_THRESHOLD),
            "letter_counts": f"{verdict_counts(by_letter)} of {len(by_letter)}",
            "splits_text": splits_text(splits), "validation_text": validation_text(years, splits),
            "conclusion_text": conclusion_text(by_letter, *own, run.source, len(run.ens), run.target_label),
            "selection_line": discussion_text(run)}
    tables = {"verdicts": verdicts.round(3), "ranks": rank_table(rankings).round(2),
              "letter": letter_pivot(by_letter), "claims": claims.style.hide(axis="index"),
              "checks": checked.style.hide(axis="index")}
    return Page(values=glue, tables=tables)
