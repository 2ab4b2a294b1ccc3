"""Chapter 5, gradient attribution: the baseline gallery, sanity checks, method agreement and cost.

Each section runs the checks on the ensemble the book actually uses and returns the tables, figures
and glue values of the chapter; the verdict texts (completeness, randomisation, method agreement) are
functions of the numbers, one outcome per branch, each unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.aggregate import channel_summary, ensemble_summary, group_summary
from icegrad.attribution.methods import METHODS, EngineCache
from icegrad.attribution.rankings import ranking
from icegrad.attribution.targets import sample_for_forecast
from icegrad.config import BASELINES, check_choice
from icegrad.evaluation import cost, randomisation, sanity, selection
from icegrad.evaluation.selection import SETTINGS, Setting
from icegrad.memory import releases_memory
from icegrad.pages import input_selection
from icegrad.pages.common import (
    RELATIVE_TOLERANCE,
    Page,
    Run,
    detached,
    listing,
    method_name,
    month_label,
    quietly,
)
from icegrad.plots import save_figure
from icegrad.plots.attribution import compare_maps, ranked
from icegrad.plots.rankings import gallery_bars

IG = "integrated_gradients"
BOOK_TOLERANCE = 0.02
"""The completeness error the book asks of its default settings (2 %)."""
RULE_OF_THUMB = 0.05
"""Sundararajan et al.'s rule of thumb for integrated-gradients completeness (5 %)."""
RANDOMISATION_THRESHOLD = 0.5
"""Rank correlation of |attribution| between trained and randomised networks above which maps fail."""
CHECK_STEPS = 16
"""At most this many integrated-gradient steps in the checks that attribute again (randomisation tests)."""
CASCADE_STAGES = (1, 4, 16)
"""Layers re-initialised at the cascade's stages, besides all of them: four stages, not the seven of
every power of two, since each stage attributes once per method (at defaults the seven took ~2 min)."""
GALLERY_RANKING = "net"
"""The baseline gallery ranks groups by |net|: for integrated gradients the nets add up to the explained
change T(x) - T(x') (completeness), so a group's share is its part in the baseline's answer."""


def check_steps(steps: int) -> int:
    """The integrated-gradient steps of the randomisation tests of a run with ``steps``: this chapter's,
    and the discussion's, which quotes (and reads from the cache) the tests shown here."""
    return min(steps, CHECK_STEPS)


def mean_abs_scores(result: xr.Dataset, lead: int) -> pd.Series:
    """Ensemble-mean mean |attribution| of every channel at ``lead``."""
    return ensemble_summary(channel_summary(result))["mean_abs_mean"].sel(lead=lead).to_series()


def counterfactual_direction(target: float, reference: float, target_label: str, reference_label: str) -> str:
    """Whether the ensemble forecasts more or less sea ice in the ROI for the target than for the reference
    month: the sign of the change the counterfactual baseline explains (either can come out)."""
    values = f"{target:.3f} against {reference:.3f}"
    if abs(target - reference) <= RELATIVE_TOLERANCE * max(abs(target), abs(reference)):
        return (f"the same sea-ice probability in the ROI for {target_label} as for {reference_label} "
                f"({values}): there is no difference for the counterfactual attributions to explain")
    if target > reference:
        return (f"more sea ice in the ROI for {target_label} than for {reference_label} ({values}), the "
                "direction of the letter's question")
    return (f"less sea ice in the ROI for {target_label} than for {reference_label} ({values}), the "
            "opposite of the letter's case: the attributions explain a decrease")


def baseline_agreement(leading: Mapping[str, str]) -> str:
    """Whether every baseline puts the same group first (``leading`` maps a baseline to its leading group)."""
    if len(set(leading.values())) == 1:
        return f"every baseline puts {next(iter(leading.values()))} first"
    return "the baselines disagree on the leading group: " + ", ".join(
        f"{group} from {baseline}" for baseline, group in leading.items())


def gallery_section(run: Run, lead: int, steps: int, figure_dir: str | Path, n_boot: int = 100) -> Page:
    """Integrated gradients at ``lead`` from every baseline, each beside the question it answers.

    Mamalakis et al. (2023): the baseline decides the question (glued as ``question_<baseline>``). The
    table gives per baseline the two explained values, their difference, the completeness error, the
    leading group of the net ranking and the verdict on the letter; the figure the groups' shares with
    bootstrap intervals (``n_boot``). The baselines share one compiled engine
    (:func:`icegrad.pipeline.baseline_gallery`) and the cache of the run's other attributions.
    """
    c = run.config
    with quietly():
        gallery, results = pipeline.baseline_gallery(run.ds, run.ens, run.roi, c.target_month, [lead], steps,
                                                     BASELINES, c.reference_year, GALLERY_RANKING, n_boot)
    gallery = gallery.set_index("baseline")
    errors = {b: 100 * float(sanity.completeness(r).relative_error.max()) for b, r in results.items()}
    table = pd.DataFrame({"T(x)": gallery["target_value"],
                          "T(x')": gallery["baseline_target_value"], "T(x) - T(x')": gallery["change"],
                          "completeness error (%)": pd.Series(errors),
                          "leading group": gallery["leading_group"],
                          "letter's share": gallery["letter_share"], "verdict": gallery["verdict"]})
    groups = pd.concat([ranking(r, GALLERY_RANKING, "group", n_boot=n_boot) for r in results.values()])
    fig = detached(gallery_bars(groups, lead, data_source=run.ds.attrs.get("data_source")))
    save_figure(fig, Path(figure_dir) / "baseline_gallery.png")
    cf_ensemble = float(sanity.ensemble_completeness(results["counterfactual"]).relative_error.max())
    reference = month_label(results["counterfactual"].attrs["baseline_target_month"])
    target, before = (float(table.loc["counterfactual", c]) for c in ("T(x)", "T(x')"))
    values = {"target_value": target, "target_zeros": float(table.loc["zeros", "T(x')"]),
              "target_clim": float(table.loc["climatology", "T(x')"]), "target_reference": before,
              "reference_label": reference, "cf_change": target - before,
              "target_previous": float(table.loc["persistence", "T(x')"]),
              "previous_label": month_label(results["persistence"].attrs["baseline_target_month"]),
              "persistence_change": float(table.loc["persistence", "T(x) - T(x')"]),
              "cf_direction": counterfactual_direction(target, before, run.target_label, reference),
              "baseline_agreement": baseline_agreement(gallery["leading_group"].to_dict()),
              "cf_abs_error": float(sanity.completeness(results["counterfactual"]).abs_error.max()),
              "cf_ensemble_error": 100 * cf_ensemble,
              "cf_completeness_verdict": completeness_verdict(errors["counterfactual"] / 100, cf_ensemble),
              **{f"completeness_{b}": e for b, e in errors.items()}, "fig_gallery": fig,
              **{f"question_{b}": q for b, q in gallery["question"].items()},
              "gallery_caption": f"Share of each group in the {GALLERY_RANKING} ranking of integrated "
                                 f"gradients at lead {lead} from each baseline ({len(run.ens)} members; bars "
                                 "coloured by the sign of the group's net, more or less sea ice in the ROI; "
                                 f"lines: 90 % bootstrap interval over {n_boot} resamples of the members). "
                                 f"Data: {run.source}."}
    return Page(values, {"gallery": table.round(4)})


def completeness_verdict(max_error: float, ensemble_error: float) -> str:
    """What the largest per-member and the ensemble-mean completeness errors (fractions) allow."""
    if max_error < BOOK_TOLERANCE:
        return "every member within the 2 % the book asks of its default settings"
    if ensemble_error < BOOK_TOLERANCE:
        return ("the ensemble mean, which the next chapters interpret, within the 2 % the book asks of its "
                "default settings, though not every member: raise steps for per-member sums")
    if max_error < RULE_OF_THUMB:
        return "within the 5 % that Sundararajan et al. suggest as a rule of thumb"
    return "above the 5 % rule of thumb of Sundararajan et al.: raise steps before trusting the sums"


def completeness_section(run: Run, steps: int) -> Page:
    """Completeness of integrated gradients for every member and lead (the run's own when it is IG)."""
    ig = run.result if run.config.method == IG else run.explain(
        leads=[int(v) for v in run.result["lead"].values], method=IG, steps=steps)
    complete = sanity.completeness(ig)
    worst = complete.loc[complete.relative_error.idxmax()]
    max_error = float(complete.relative_error.max())
    ensemble_error = float(sanity.ensemble_completeness(ig).relative_error.max())
    values = {"completeness_max": 100 * max_error,
              "completeness_median": 100 * float(complete.relative_error.median()),
              "completeness_where": f"{worst.member} at lead {int(worst.lead)}",
              "completeness_abs": float(complete.abs_error.max()),
              "completeness_steps": int(ig.attrs["steps"]),
              "completeness_ensemble": 100 * ensemble_error,
              "completeness_over": int((complete.relative_error > BOOK_TOLERANCE).sum()),
              "completeness_cases": len(complete),
              "completeness_verdict": completeness_verdict(max_error, ensemble_error)}
    table = (complete.pivot(index="member", columns="lead", values="relative_error") * 100).round(3)
    return Page(values, {"completeness": table.rename_axis(index="member",
                                                           columns="relative error (%) at lead")})


def randomisation_verdict(max_abs_rho: float) -> str:
    """Pass when no member's |attribution| map survives weight randomisation (rank correlation < 0.5)."""
    if max_abs_rho < RANDOMISATION_THRESHOLD:
        return "pass (the maps depend on what the networks learnt)"
    return "warning (part of the map survives randomisation and reflects the input, not the model)"


def check_sample(run: Run, lead: int) -> xr.DataArray:
    """The input sample of the ``lead`` forecast of the run's target month.

    Taken from the run's result when it explains ``lead``: building the inputs again would give the same
    values at ~400 MiB of transient memory (100 km), a fifth of a Binder session.
    """
    if run.result is not None and lead in run.result["lead"].values:
        return run.result["input"].sel(lead=lead, drop=True).transpose("y", "x", "channel")
    target_month = run.config.target_month
    inputs = pipeline.forecast_inputs(run.ds, run.ens, target_month, [lead])
    return sample_for_forecast(inputs, target_month, lead)


def attribute_options(run: Run, lead: int, method: str, steps: int) -> dict[str, object]:
    """What :func:`icegrad.attribution.attribute` needs to explain the run's ``lead`` forecast with ``method``
    from the run's baseline (a paired baseline's sample included), for the checks that attribute again."""
    c = run.config
    extra = pipeline.baseline_options(run.ds, run.ens, c.target_month, lead, c.baseline, c.reference_year,
                                      method)
    return {"steps": steps, "baseline": c.baseline, "land": run.ds["land"], **extra}


def randomisation_section(run: Run, lead: int, steps: int) -> Page:
    """Adebayo et al.'s model-parameter randomisation test of the run's method at ``lead``, from the run's
    baseline (a paired one from the paired year's sample of the same forecast).

    Both sets of maps are cached (keyed by the weights, seeded re-initialisation included), so the
    discussion's check reads the test this chapter ran instead of attributing ten networks again.
    """
    options = attribute_options(run, lead, run.config.method, steps)
    with quietly():
        randomised = sanity.parameter_randomisation(run.ens.members, check_sample(run, lead), run.roi,
                                                    [lead], method=run.config.method, cache=True, **options)
    randomised["member"] = [run.ens.member_names[int(m)] for m in randomised["member"]]
    values = {"random_abs_median": float(randomised.spearman_abs.median()),
              "random_abs_max": float(randomised.spearman_abs.max()),
              "random_signed_max": float(randomised.spearman_signed.abs().max()),
              "random_verdict": randomisation_verdict(float(randomised.spearman_abs.max()))}
    return Page(values, {"randomisation": randomised.round(3)})


def cascade_verdict(rho: float) -> str:
    """A method passes the cascade when, with every weighted layer re-initialised, its |sensitivity| map
    no longer ranks cells like the trained network's (rank correlation below the threshold)."""
    return "passes" if rho < RANDOMISATION_THRESHOLD else "fails"


def cascade_text(final: pd.DataFrame) -> str:
    """What the last cascade stage says of each method (``final``: rows by method, columns
    ``spearman_sensitivity`` and ``spearman_raw``), beside what the raw maps alone would have said."""
    return verdicts_text(final, "With every weighted layer re-initialised")


def verdicts_text(final: pd.DataFrame, against: str) -> str:
    """Which methods pass a randomisation test ``against`` one network (``final``: rows by method, columns
    ``spearman_sensitivity`` and ``spearman_raw``), and which would have failed on their raw maps alone."""
    verdicts = {m: cascade_verdict(float(row.spearman_sensitivity)) for m, row in final.iterrows()}
    passed = [method_name(m) for m, v in verdicts.items() if v == "passes"]
    failed = [method_name(m) for m, v in verdicts.items() if v == "fails"]
    raw = [method_name(m) for m, row in final.iterrows()
           if verdicts[m] == "passes" and row.spearman_raw >= RANDOMISATION_THRESHOLD]
    text = (f"{against}, {listing(passed, 'no method')} "
            f"{'pass' if len(passed) > 1 else 'passes'} (rank correlation of |sensitivity| below "
            f"{RANDOMISATION_THRESHOLD:g}) and {listing(failed, 'none')} "
            f"{'fail' if len(failed) > 1 else 'fails'}.")
    if raw:
        text += (f" Scored on the raw |attribution| maps, {listing(raw)} would have failed: the shared "
                 "(x − x′) factor alone keeps those maps alike, the failure Bommer et al. (2024) report.")
    return text


@releases_memory
def cascade_section(run: Run, lead: int, steps: int) -> Page:
    """Adebayo et al.'s cascading randomisation of the first member, every method, at ``lead``: weighted
    layers re-initialised from the output down, each stage's |sensitivity| compared with the trained one's
    (:mod:`icegrad.evaluation.randomisation`, which divides out the shared (x − x′) factor)."""
    sample = check_sample(run, lead)
    layers = len(randomisation.weighted_layers(run.ens.members[0], [lead]))
    stages = sorted({*(s for s in CASCADE_STAGES if s < layers), layers})
    tables, engines = [], EngineCache()  # one compiled engine for every method and stage
    with quietly():
        for method in METHODS:
            tables.append(randomisation.cascading_randomisation(
                run.ens.members[0], sample, run.roi, [lead], method=method, stages=stages, engines=engines,
                **attribute_options(run, lead, method, steps)))
    table = pd.concat(tables, ignore_index=True)
    curve = table.pivot_table(index=["stage", "top_layer"], columns="method", values="spearman_sensitivity")
    final = table[table.stage == table.stage.max()].groupby("method")[["spearman_sensitivity",
                                                                       "spearman_raw"]].mean()
    values = {"cascade_text": cascade_text(final), "cascade_member": run.ens.member_names[0],
              "cascade_layers": int(table.stage.max())}
    return Page(values, {"cascade": curve.round(3)})


DATA_NOT_RUN = ("randomisation_setting 'cached' trains nothing, and the networks of the coarse setting "
                "({setting}) are neither cached nor shipped: the data-randomisation test was not run. "
                "Run the chapter with -p randomisation_setting coarse to train them (about a minute on two "
                "cores).")
"""The section's note, and the discussion's, when the coarse networks are neither cached nor shipped."""


def data_setting(name: str, run: Run) -> Setting:
    """The training setting of ``randomisation_setting`` ``name`` (checked, one line naming the choices):
    the coarse one (also for "cached"), or the run's own members, epochs and width ("full")."""
    full = check_choice("randomisation_setting", name) == "full"
    return input_selection.setting_for("full" if full else "coarse", run)  # ch. 8's settings, shared


def data_run(run: Run, setting: Setting) -> Run:
    """The run's question on the grid ``setting`` trains on (ch. 8's regridded data and ROI), explained
    through the network trained on every channel at ``setting`` (ch. 8's full-input network, shared)."""
    ds, roi = input_selection.training_data(run, setting.resolution_km)
    with quietly():
        trained = selection.train_subset(ds, list(run.ens.channels), setting)
    config = replace(run.config, resolution_km=setting.resolution_km or run.config.resolution_km)
    return Run(config, ds, roi, trained)


def data_similarity(run: Run, setting: Setting, lead: int, steps: int) -> pd.DataFrame:
    """Per method, member-mean similarity of the maps of ``run``'s networks (:func:`data_run`) to those of
    their twins trained on shuffled targets at ``setting`` (cached;
    :func:`icegrad.evaluation.randomisation.data_randomisation`), with the run's baseline and options.
    The maps are cached too: the discussion quotes this test and reads them back."""
    sample = check_sample(run, lead)
    tables, engines = [], EngineCache()  # one compiled engine for every method and both networks
    with quietly():
        shuffled = randomisation.shuffled_target_ensemble(run.ds, setting, channels=list(run.ens.channels))
        for method in METHODS:
            tables.append(randomisation.data_randomisation(
                run.ens.members, shuffled.members, sample, run.roi, [lead], method=method, cache=True,
                engines=engines, **attribute_options(run, lead, method, steps)))
    return pd.concat(tables).groupby("method")[["spearman_sensitivity", "spearman_raw"]].mean()


def data_table(final: pd.DataFrame) -> pd.DataFrame:
    """The section's table: per method, both correlations and the verdict."""
    return pd.DataFrame({"method": [method_name(m) for m in final.index],
                         "rank correlation of |sensitivity|": final["spearman_sensitivity"].round(3).values,
                         "of raw |attribution|": final["spearman_raw"].round(3).values,
                         "verdict": [cascade_verdict(float(r)) for r in final["spearman_sensitivity"]]})


def data_at_hand(run: Run, setting: Setting) -> bool:
    """Whether both networks of the data-randomisation test at ``setting`` are at hand (cached or shipped)."""
    ds, _ = input_selection.training_data(run, setting.resolution_km)
    return randomisation.is_at_hand(ds, list(run.ens.channels), setting)


@releases_memory
def cached_data_similarity(run: Run, lead: int, steps: int) -> pd.DataFrame | None:
    """The coarse setting's :func:`data_similarity` from cached or shipped networks only (None when they are
    neither): for readers that never train, such as the discussion."""
    setting = SETTINGS["coarse"]
    if not data_at_hand(run, setting):
        return None
    return data_similarity(data_run(run, setting), setting, lead, steps)


@releases_memory
def data_randomisation_section(run: Run, lead: int, steps: int, setting_name: str) -> Page:
    """Adebayo et al.'s data randomisation, every method, at ``lead``: networks trained on the true and on
    shuffled targets (same setting, seeds and data; both cached) explain the same sample. With "cached",
    nothing is trained and a missing network gives the :data:`DATA_NOT_RUN` note."""
    setting = data_setting(setting_name, run)
    if setting_name == "cached" and not data_at_hand(run, setting):
        text = DATA_NOT_RUN.format(setting=setting.describe())
        return Page({"data_text": text}, notes=[text])
    other = data_run(run, setting)
    final = data_similarity(other, setting, lead, steps)
    text = verdicts_text(final, "Against the network trained on shuffled targets")
    intro = (f"Networks trained at {setting.describe()} (randomisation_setting '{setting_name}'), one on the "
             f"true targets and one on targets shuffled across start months, explain the {run.target_label} "
             f"forecast at lead {lead} on the {other.config.resolution_km} km grid, with the run's baseline "
             f"and {steps} integrated-gradient steps. Data: {run.source}.")
    table = data_table(final).style.hide(axis="index").format(precision=3)
    return Page({"data_text": text}, {"data_randomisation": table}, notes=[intro, text])


def gradient_check_section(run: Run, lead: int, n_pixels: int) -> Page:
    """The first member's gradients against float64 central differences at its largest gradients."""
    with quietly():
        fd = sanity.gradient_check(run.ens.members[0], check_sample(run, lead), run.roi, lead=lead,
                                   n_pixels=n_pixels, land=run.ds["land"])
    values = {"fd_max": float(fd.relative_error.max()), "fd_median": float(fd.relative_error.median())}
    return Page(values, {"gradient_check": fd})


def group_agreement(first_group: Mapping[str, str]) -> str:
    """Whether every method puts the same group first by mean |attribution| per channel."""
    if len(set(first_group.values())) == 1:
        return f"every method ranks the {next(iter(first_group.values()))} group first"
    return "the methods disagree on the leading group: " + ", ".join(
        f"{method_name(m)} ranks {g} first" for m, g in first_group.items())


def least_similar(agreement: pd.DataFrame) -> tuple[str, str, float]:
    """The pair of methods with the lowest rank correlation (each pair once) and that correlation."""
    upper = agreement.where(np.triu(np.ones(agreement.shape, dtype=bool), k=1)).stack()
    first, second = upper.idxmin()
    return str(first), str(second), float(upper.min())


def methods_section(run: Run, lead: int, steps: int, figure_dir: str | Path) -> Page:
    """The four methods at ``lead``: top five channels, rank correlations and the maps of one channel."""
    by_method = {m: run.explain(leads=[lead], steps=steps, method=m) for m in METHODS}
    scores = pd.DataFrame({m: mean_abs_scores(r, lead) for m, r in by_method.items()})
    agreement = scores.corr(method="spearman")
    top_five = pd.DataFrame({m: ranked(channel_summary(r), lead, k=5)["channel"].to_list()
                             for m, r in by_method.items()}, index=pd.RangeIndex(1, 6, name="rank"))
    first_group = {m: ranked(group_summary(r), lead, k=1)["group"].iloc[0] for m, r in by_method.items()}
    first, second, lowest = least_similar(agreement)
    channel = ranked(channel_summary(by_method["integrated_gradients"]), lead, k=1)["channel"].iloc[0]
    fields = [r["attribution"].sel(lead=lead, channel=channel).mean("member") for r in by_method.values()]
    units = [r["attribution"].attrs["units"] for r in by_method.values()]
    labels = [f"attribution ({u})" if u != "1" else "attribution (probability)" for u in units]
    fig = detached(compare_maps(fields, run.roi, [method_name(m) for m in METHODS], labels))
    save_figure(fig, Path(figure_dir) / "methods_compared.png")
    values = {"agree_min": lowest, "agree_min_pair": f"{method_name(first)} and {method_name(second)}",
              "agree_ig_gxi": float(agreement.loc["integrated_gradients", "gradient_x_input"]),
              "group_agreement": group_agreement(first_group), "fig_methods": fig,
              "methods_caption": f"Ensemble-mean attribution of {channel} for the lead-{lead} forecast of "
                                 f"{run.target_label} by the four methods; the ROI outlined in "
                                 "orange. Colour limits at the 99th percentile of |value|, symmetric about "
                                 f"zero. Data: {run.source}."}
    return Page(values, {"top_five": top_five, "agreement": agreement.round(2)})


def cost_section(run: Run, leads: int, steps: int) -> Page:
    """The arithmetic of this run's attributions and of the letter's setting, and the time they take."""
    model = run.ens.members[0]
    forward = cost.conv_flops(model)
    run_flops = cost.separate_pass_flops(forward, len(run.ens.members), leads, steps)
    full = cost.estimate_cost(432, 432, 2, members=25, leads=6, steps=64, memory_budget=int(60e9))
    with quietly():
        rate = cost.measured_flop_rate(model, forward)
    values = {"cost_forward_gflop": forward / 1e9, "cost_run_tflop": run_flops / 1e12,
              "cost_run_shape": f"{len(run.ens.members)} members × {leads} leads × {steps} steps",
              "cost_full_forward_tflop": full.forward_flops / 1e12,
              "cost_full_pflop": full.naive_total_flops / 1e15,
              "cost_ratio": f"{full.naive_total_flops / run_flops:,.0f}", "cost_rate_gflops": rate / 1e9,
              "cost_full_here_days": full.naive_total_flops / rate / 86400,
              "cost_full_h100_s": full.naive_total_flops / cost.H100_DENSE_TF32_FLOPS,
              "cost_full_sample_gb": full.bytes_per_sample / 1e9,
              "cost_full_unchunked_gb": full.unchunked_bytes / 1e9, "cost_full_chunk": full.chunk_size,
              "cost_full_chunked_gb": full.chunked_bytes / 1e9}
    return Page(values)
