"""The letter's finding tested on observed sea ice: the SIC-only IceNet on the NSIDC record, beside the run.

The book's main run explains a network trained on the emulated Arctic, whose climate drivers are known.
The letter's case is observed: September 2013 against September 2007. :func:`load_observed` trains (once,
cached) the same architecture on the NOAA/NSIDC CDR embedded in ``data/`` (the ``observed_source`` run
parameter; ``""`` skips it) with the main run's settings, on the 21 channels sea ice alone can make, and
explains its forecast of the same ROI drawn from the observed Septembers. The page functions below turn
that run into what chapters 4-7, 11 and 12 show next to the emulated results: skill against the linear
trend and persistence, group and channel rankings per lead, which SIC lags matter, trend versus
persistence, and where the attribution lies. Every sentence is generated from the numbers, and each
page says what the SIC-only network cannot test: IceNet's climate inputs.

Example
-------
>>> sic_lags_text({1: [1, 2, 12], 3: [1, 12, 2]}).split(":")[0]
'The latest month of SIC (lag 1) matters most of the SIC lags at every lead'
>>> where_text(0.8, 2.5).split(";")[1]
" the emulated run's does not (0.8)."
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from icegrad.attribution.aggregate import channel_summary, group_summary
from icegrad.config import RunConfig
from icegrad.inputs import real_record
from icegrad.pages.common import Page, Run, lead_list, listing, load_run, run_text
from icegrad.variables import channel

MONTHLY_RESOLUTIONS_KM = (100, 200)
"""Grids of the monthly NSIDC record embedded in ``data/``: the observed run needs no download on them."""
SUBFOLDER = "observed"
"""Where the observed run's figures are written, inside the chapter's figure folder (no name clashes)."""


def observed_config(config: RunConfig) -> RunConfig | None:
    """The comparison run: ``config`` on ``config.observed_source``; None when there is none to make.

    None when ``observed_source`` is empty, and when the main run already is on that source (then the
    chapter's own results are the observed ones). Off the embedded grids (25 and 50 km) the comparison
    runs at 100 km, so that it never needs a download.
    """
    if not config.observed_source or config.observed_source == config.data_source:
        return None
    resolution = config.resolution_km if config.resolution_km in MONTHLY_RESOLUTIONS_KM else 100
    # always the book's own SIC-only networks, trained on the record alone: IceNet's released networks read
    # all 50 channels, and pre-training on other realisations is for the emulated Arctic
    return dataclasses.replace(config, data_source=config.observed_source, resolution_km=resolution,
                               weights="", pretrain_realisations=())


def load_observed(config: RunConfig, attributions: bool = True) -> Run | None:
    """The SIC-only IceNet on the observed record with ``config``'s settings (cached), or None."""
    observed = observed_config(config)
    return None if observed is None else load_run(observed, attributions)


def skipped(config: RunConfig) -> Page:
    """The note a chapter shows when it makes no observed comparison, naming why and how to get one."""
    if config.observed_source and config.observed_source == config.data_source:
        return Page(notes=["This run is itself on observed sea ice, so the results above are the observed "
                           "ones; run with `data_source = \"emulated\"` to see the emulated counterpart."])
    return Page(notes=["No observed comparison in this run (`observed_source` is empty); set "
                       "`observed_source = \"nsidc\"` to add the SIC-only IceNet trained on the NSIDC "
                       "record."])


def untestable_text(channels: Sequence[str]) -> str:
    """What the observed network cannot test, from the channels it reads: the climate inputs it lacks."""
    missing = real_record.missing_channels(channels)
    if not missing:
        return "The observed network reads all of IceNet's inputs, so the climate inputs are tested too."
    variables = list(dict.fromkeys(channel(name).variable for name in missing))
    return (f"What this cannot test: the SIC-only network lacks IceNet's {len(missing)} climate inputs "
            f"({listing(variables)}), so it cannot say whether they matter less than sea ice, as the letter "
            "found; on observed ice only the ranking among past SIC, the trend, the seasonal and the static "
            "inputs is tested.")


def skill_text(accuracy: pd.DataFrame) -> str:
    """The network's binary accuracy against the linear trend and persistence, lead by lead.

    ``accuracy`` has one row per model (``icenet``, ``linear_trend``, ``persistence``) and one column per
    lead. The text says at which leads the network beats each baseline (every lead, none, or which).
    """
    leads = [int(v) for v in accuracy.columns]
    parts = []
    for baseline, name in (("linear_trend", "the linear trend"), ("persistence", "persistence")):
        won = [lead for lead in leads if accuracy.loc["icenet", lead] > accuracy.loc[baseline, lead]]
        if len(won) == len(leads):
            parts.append(f"beats {name} at every lead")
        elif not won:
            parts.append(f"beats {name} at no lead")
        else:
            parts.append(f"beats {name} at {lead_list(won)} only")
    mean = accuracy.mean(axis=1)
    return (f"On the observed test years the SIC-only network {parts[0]} and {parts[1]} (mean binary "
            f"accuracy {mean['icenet']:.1f} % against {mean['linear_trend']:.1f} % for the trend and "
            f"{mean['persistence']:.1f} % for persistence).")


def skill_page(observed: Run | None, config: RunConfig, figure_dir: str | Path) -> Page:
    """Chapter 4: the observed network's skill per lead against the trend and persistence."""
    from icegrad.pages.icenet import skill_section

    if observed is None:
        return skipped(config)
    section = skill_section(observed.ds, observed.ens, Path(figure_dir) / SUBFOLDER)
    table = section.tables["skill"]
    accuracy = table.xs("binary_accuracy", level="metric")
    notes = [f"**The same network on observed sea ice.** {real_record.inputs_note(observed.ens.channels)} "
             f"It is trained on the NSIDC record at {observed.config.resolution_km} km "
             f"({split_text(observed)}). {skill_text(accuracy)} {section.values['skill_caption']}",
             untestable_text(observed.ens.channels)]
    return Page(figures={"skill": section.values["fig_skill"]}, tables={"skill": table}, notes=notes)


def split_text(run: Run) -> str:
    """The years the network was trained, validated and tested on, as its manifest records them."""
    splits = run.ens.manifest.get("splits", {})
    return "; ".join(f"{name} {splits[key][0]}-{splits[key][1]}" for name, key in
                     (("training", "train"), ("validation", "val"), ("test", "test")) if key in splits)


def first_groups(result: xr.Dataset, among: Sequence[str] | None = None) -> dict[int, str]:
    """The group with the largest ensemble-mean mean |attribution| per channel at each lead.

    ``among`` restricts the race to some groups: the emulated run's leader among the groups the
    SIC-only network also reads is what the observed network can be compared with.
    """
    means = group_summary(result)["mean_abs"].mean("member")
    if among is not None:
        means = means.sel(group=[g for g in means["group"].values if g in set(among)])
    return {int(lead): str(means.sel(lead=lead).idxmax("group").item()) for lead in result["lead"].values}


def agreement_text(main: Mapping[int, str], observed: Mapping[int, str]) -> str:
    """Whether the observed network's leading group per lead is the emulated run's (at the shared leads).

    ``main`` is the emulated run's leader among the groups both networks read (:func:`first_groups`).
    """
    leads = [lead for lead in main if lead in observed]
    same = [lead for lead in leads if main[lead] == observed[lead]]
    other = [lead for lead in leads if main[lead] != observed[lead]]
    if len(same) == len(leads):
        return (f"The observed network leads with the same group as the emulated run at every lead "
                f"({run_text({lead: observed[lead] for lead in leads})}).")
    if not same:
        instead = "; ".join(f"{observed[lead]} instead of {main[lead]} at lead {lead}" for lead in other)
        return ("The observed network leads with another group than the emulated run at every lead "
                f"({instead}).")
    return (f"The observed network leads with the same group as the emulated run at {lead_list(same)} "
            f"({run_text({lead: observed[lead] for lead in same})}) and with another at {lead_list(other)} ("
            + "; ".join(f"{observed[lead]} instead of {main[lead]}" for lead in other) + ").")


def sic_lags(result: xr.Dataset, k: int = 3) -> dict[int, list[int]]:
    """Per lead, the ``k`` past-SIC lags (months before the start) with the largest mean |attribution|."""
    means = channel_summary(result)["mean_abs"].mean("member")
    names = [str(c) for c in result["channel"].values if channel(str(c)).group == "sic"]
    out = {}
    for lead in (int(v) for v in result["lead"].values):
        ordered = means.sel(lead=lead, channel=names).to_series().sort_values(ascending=False)
        out[lead] = [int(channel(str(name)).lag) for name in ordered.index[:k]]
    return out


def sic_lags_text(lags: Mapping[int, Sequence[int]]) -> str:
    """Which SIC lags matter: whether the latest month leads at every lead, and the top lags per lead."""
    latest = [lead for lead, order in lags.items() if order and order[0] == 1]
    per_lead = "; ".join(f"lead {lead}: {', '.join(map(str, order))}" for lead, order in lags.items())
    if len(latest) == len(lags):
        head = "The latest month of SIC (lag 1) matters most of the SIC lags at every lead"
    elif not latest:
        head = "An older month of SIC, not the latest, matters most of the SIC lags at every lead"
    else:
        head = f"The latest month of SIC (lag 1) matters most of the SIC lags at {lead_list(latest)} only"
    return f"{head}: the leading lags in months before the forecast start, {per_lead}."


def trend_persistence_text(sic: Mapping[int, float], trend: Mapping[int, float]) -> str:
    """Trend versus persistence: whether the trend inputs or past SIC carry more mean |attribution|."""
    leads = list(sic)
    trend_wins = [lead for lead in leads if trend[lead] > sic[lead]]
    if not trend_wins:
        return ("Persistence over trend: past SIC carries more mean |attribution| than the trend inputs "
                "at every lead.")
    if len(trend_wins) == len(leads):
        return ("Trend over persistence: the trend inputs carry more mean |attribution| than past SIC at "
                "every lead.")
    sic_wins = [lead for lead in leads if lead not in trend_wins]
    return (f"The trend inputs carry more mean |attribution| than past SIC at {lead_list(trend_wins)}, "
            f"past SIC at {lead_list(sic_wins)}.")


def rankings_page(main: Run, observed: Run | None, top_k: int) -> Page:
    """Chapters 6 and 11: the observed network's group and channel rankings per lead beside the run's."""
    from icegrad.pages.which_inputs import leaders_section, top_channels_section

    if observed is None:
        return skipped(main.config)
    result = observed.result
    means = group_summary(result)["mean_abs"].mean("member")
    per_group = {g: {int(lead): float(means.sel(group=g, lead=lead)) for lead in result["lead"].values}
                 for g in ("sic", "trend")}
    shared = [str(g) for g in group_summary(result)["group"].values]
    agreement = agreement_text(first_groups(main.result, shared), first_groups(result))
    notes = [f"**The same question on observed sea ice.** Attributions ({observed.describe()}) of the "
             f"SIC-only network's {observed.target_label} forecast of the ROI drawn from the observed "
             f"Septembers ({int(observed.roi.sum())} cells at {observed.config.resolution_km} km). Among the "
             f"groups both networks read, {lower_first(agreement)} "
             f"{trend_persistence_text(per_group['sic'], per_group['trend'])} "
             f"{sic_lags_text(sic_lags(result))}",
             untestable_text(observed.ens.channels)]
    tables = {"groups": leaders_section(result).tables["leaders"],
              "channels": top_channels_section(result, top_k).tables["ranks"]}
    return Page(tables=tables, notes=notes)


def lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, to follow a clause."""
    return text[:1].lower() + text[1:]


def where_text(main_ratio: float, observed_ratio: float) -> str:
    """Where: whether each network's |attribution| concentrates on its ROI.

    A ratio is the mapped channels' share of |attribution| inside the ROI over the ROI's share of the
    ocean: above one, the attribution is denser in the ROI than elsewhere.
    """
    observed = "concentrates on the ROI" if observed_ratio > 1 else "is not concentrated on the ROI"
    same = (main_ratio > 1) == (observed_ratio > 1)
    if same:
        main = "so does the emulated run's" if main_ratio > 1 else "neither is the emulated run's"
    else:
        main = "the emulated run's does" if main_ratio > 1 else "the emulated run's does not"
    return (f"Where: the observed network's attribution {observed} (share inside over the ROI's share of "
            f"the ocean {observed_ratio:.1f}); {main} ({main_ratio:.1f}).")


def concentration(run: Run, leads: Sequence[int], n_maps: int) -> float:
    """The mean ratio of the mapped channels' share of |attribution| in the ROI to the ROI's ocean share."""
    from icegrad.pages.where_they_matter import RATIO, chosen_channels, locality

    chosen = chosen_channels(channel_summary(run.result), leads, n_maps)
    return float(locality(run.result, run.ds["land"], chosen)[RATIO].mean())


def maps_page(main: Run, observed: Run | None, figure_dir: str | Path, n_maps: int,
              map_leads: Sequence[int]) -> Page:
    """Chapter 7: attribution maps over the observed ROI and where the observed network looks."""
    from icegrad.pages.where_they_matter import chosen_channels, map_figures

    if observed is None:
        return skipped(main.config)
    chosen = chosen_channels(channel_summary(observed.result), map_leads, n_maps)
    folder = Path(figure_dir) / SUBFOLDER
    folder.mkdir(parents=True, exist_ok=True)
    maps = map_figures(observed, chosen, n_maps, str(folder))
    figures = {"first": maps["fig_maps_first"]}
    if map_leads[0] != map_leads[-1]:
        figures["last"] = maps["fig_maps_last"]
    ratios = [concentration(run, map_leads, n_maps) for run in (main, observed)]
    notes = [f"**The maps on observed sea ice.** {maps['maps_caption_first']} {where_text(*ratios)}",
             untestable_text(observed.ens.channels)]
    return Page(figures=figures, notes=notes)


def completeness_page(observed: Run | None, config: RunConfig, steps: int) -> Page:
    """Chapter 5: whether the observed network's integrated gradients add up, as the emulated run's do."""
    from icegrad.pages.gradient_attribution import completeness_section

    if observed is None:
        return skipped(config)
    section = completeness_section(observed, steps)
    values = section.values
    return Page(tables={"completeness": section.tables["completeness"]}, notes=[
        f"**The same check on observed sea ice.** For the SIC-only network trained on the NSIDC record "
        f"({observed.describe()}), the worst completeness error of integrated gradients is "
        f"{values['completeness_max']:.2f} % ({values['completeness_where']}) with "
        f"{values['completeness_steps']} steps, and {values['completeness_ensemble']:.2f} % for the ensemble "
        f"mean: {values['completeness_verdict']}.", untestable_text(observed.ens.channels)])


def letter_text(top_three: Mapping[int, set[str]], channels: Sequence[str]) -> str:
    """The letter's test on the observed network, scoped to what the SIC-only network can show.

    With four groups only (no climate), past SIC, the trend and the seasonal inputs can be its top
    three only by outranking the land mask; the text says so rather than claim the whole finding.
    """
    from icegrad.evaluation.letter import LETTER_GROUPS

    agree = [lead for lead, groups in top_three.items() if set(groups) == set(LETTER_GROUPS)]
    scope = ("among the inputs it reads" if real_record.missing_channels(channels) else "")
    if len(agree) == len(top_three):
        head = (f"On observed sea ice the letter's three groups lead at every lead {scope}: past SIC, the "
                "trend and the seasonal inputs outrank the land mask")
    elif not agree:
        head = (f"On observed sea ice the letter's three groups lead at no lead {scope}: the land mask "
                "outranks one of past SIC, the trend and the seasonal inputs everywhere")
    else:
        head = (f"On observed sea ice the letter's three groups lead {scope} at {lead_list(agree)} only; "
                "elsewhere the land mask outranks one of them")
    return " ".join(head.split()) + "."


def discussion_page(main: Run, observed: Run | None) -> Page:
    """Chapter 11: what the observed network confirms of the letter's finding, and what it cannot test."""
    from icegrad.plots.attribution import ranked

    if observed is None:
        return skipped(main.config)
    result = observed.result
    groups = group_summary(result)
    top_three = {int(lead): set(ranked(groups, int(lead), k=3)["group"]) for lead in result["lead"].values}
    shared = [str(g) for g in groups["group"].values]
    agreement = agreement_text(first_groups(main.result, shared), first_groups(result))
    return Page(notes=[f"**On observed sea ice.** {letter_text(top_three, observed.ens.channels)} "
                       f"{agreement}", untestable_text(observed.ens.channels)])
