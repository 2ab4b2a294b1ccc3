"""Chapter 7, *Where they matter*: maps of the leading channels, how local they are, and one beside the truth.

:func:`page` returns everything the chapter shows; the pieces are separate functions so each is tested
on synthetic results (``tests/pages/test_where_they_matter.py``). The truth comparison exists only on
the emulated Arctic, whose exact sensitivity is known; on observed data the page says so instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.errors import IcegradError
from icegrad.pages.common import Page, Run, method_name, sign_colours

TRUTH_VARIABLES = ("tas", "rsds", "psl")
"""Emulated drivers acting on sea ice directly (``tos`` acts via open-water SST, not IceNet's input)."""
RATIO = "concentration (share / ROI share of ocean)"


def chosen_channels(summary: xr.Dataset, leads: Sequence[int], n_maps: int) -> dict[int, list[str]]:
    """The ``n_maps`` channels with the largest ensemble-mean mean |attribution| at each lead."""
    from icegrad.plots.attribution import ranked

    return {lead: ranked(summary, lead, k=n_maps)["channel"].to_list() for lead in leads}


def roi_share(result: xr.Dataset, land: xr.DataArray) -> float:
    """The ROI's share of the ocean cells (0-1)."""
    return float(result["roi"].astype(bool).sum() / (~land.astype(bool)).sum())


def locality(result: xr.Dataset, land: xr.DataArray, chosen: Mapping[int, Sequence[str]]) -> pd.DataFrame:
    """For each mapped channel and lead: the share of its |attribution| inside the ROI, and that share
    over the ROI's share of the ocean (above one: the attribution is concentrated on the ROI)."""
    roi = result["roi"].astype(bool)
    share = roi_share(result, land)
    rows = []
    for lead, names in chosen.items():
        mean_map = abs(result["attribution"].sel(lead=lead).mean("member"))
        for name in names:
            values = mean_map.sel(channel=name)
            inside = float(values.where(roi).sum() / values.sum())
            rows.append({"lead": lead, "channel": name, "share inside ROI": inside, RATIO: inside / share})
    return pd.DataFrame(rows)


def locality_text(table: pd.DataFrame) -> str:
    """How many mapped channel-lead pairs concentrate on the ROI, and the most and least concentrated."""
    most, least = table.loc[table[RATIO].idxmax()], table.loc[table[RATIO].idxmin()]
    return (f"{int((table[RATIO] > 1).sum())} of the {len(table)} mapped channel-lead pairs concentrate "
            f"their attribution on the ROI (ratio above one); the most concentrated is {most.channel} at "
            f"lead {most.lead} (ratio {most[RATIO]:.1f}), the least {least.channel} at lead {least.lead} "
            f"(ratio {least[RATIO]:.1f})")


def map_figures(run: Run, chosen: Mapping[int, Sequence[str]], n_maps: int,
                figure_dir: str) -> dict[str, Any]:
    """The input-and-attribution figures of the first and the last mapped lead, with their captions."""
    from icegrad.plots import save_figure
    from icegrad.plots.attribution import attribution_maps

    result, c = run.result, run.config
    leads = list(chosen)
    figures = {}
    for lead in dict.fromkeys((leads[0], leads[-1])):
        figures[lead] = attribution_maps(result, chosen[lead], lead)
        save_figure(figures[lead], Path(figure_dir) / f"maps_lead{lead}.png")
    values: dict[str, Any] = {}
    for position, lead in (("first", leads[0]), ("last", leads[-1])):
        start = result.forecast_start.sel(lead=lead).item() if "forecast_start" in result.coords else "?"
        values[f"fig_maps_{position}"] = figures[lead]
        values[f"maps_caption_{position}"] = (
            f"Lead {lead} (forecast started {start}) of the {run.target_label} forecast: inputs (left) and "
            f"ensemble-mean {method_name(c.method)} attributions (right, baseline {c.baseline}) of the "
            f"{n_maps} channels with the largest mean |attribution|; ROI outlined in orange. "
            f"Data: {run.source}.")
    if len(leads) == 1:
        values["maps_caption_last"] = f"As above (this run has one lead). Data: {run.source}."
    return values


def truth_driver(summary: xr.Dataset, lead: int, variables: Sequence[str] = TRUTH_VARIABLES) -> str:
    """The climate channel of one of ``variables`` with the largest mean |attribution| at ``lead``."""
    from icegrad.plots.attribution import ranked
    from icegrad.variables import channel

    candidates = ranked(summary, lead)
    candidates = candidates[[channel(c).variable in variables for c in candidates["channel"]]]
    if candidates.empty:
        raise IcegradError(f"no channel of {list(variables)} in this result; pass IceNet climate variables")
    return str(candidates["channel"].iloc[0])


def anomaly(field_: xr.DataArray, month: pd.Timestamp, years: Sequence[int]) -> xr.DataArray:
    """``field_`` in ``month`` minus its mean over the same calendar month of ``years`` (first, last)."""
    t = field_.time.dt
    same = field_.sel(time=(t.month == month.month) & (t.year >= years[0]) & (t.year <= years[1]))
    return field_.sel(time=month).drop_vars("time") - same.mean("time")


def spatial_correlation(a: xr.DataArray, b: xr.DataArray, land: xr.DataArray) -> float:
    """Pearson correlation of two maps over the ocean cells."""
    ocean = ~land.values.astype(bool)
    return float(np.corrcoef(a.values[ocean], b.values[ocean])[0, 1])


def truth_comparison(run: Run, summary: xr.Dataset, figure_dir: str,
                     variables: Sequence[str] = TRUTH_VARIABLES) -> dict[str, Any]:
    """The model's map of the leading linked driver beside the emulator's exact sensitivity and contribution.

    On observed data there is no truth: a placeholder figure and text that say so.
    """
    import matplotlib.pyplot as plt

    from icegrad.data.emulator import true_sensitivity
    from icegrad.plots import save_figure
    from icegrad.plots.attribution import compare_maps, truth_for_channel, truth_lag
    from icegrad.variables import channel

    if not run.emulated:
        fig = plt.figure(figsize=(4, 1))
        fig.text(0.5, 0.5, "no ground truth for observed data", ha="center", va="center")
        return {"truth_driver": "none", "fig_truth": fig,
                "truth_caption": f"No ground truth for {run.source}.",
                "truth_text": "This run uses observed data, which have no known true sensitivity, so the "
                              "comparison is skipped"}
    result, c = run.result, run.config
    lead = c.leads[0]
    driver = truth_driver(summary, lead, variables)
    variable, lag = channel(driver).variable, truth_lag(driver, lead)
    truth = true_sensitivity(run.ds, c.target_month, run.roi, months_back=lag + 1)
    sensitivity = truth_for_channel(truth, driver, lead)
    month = pd.Timestamp(c.target_month) - pd.DateOffset(months=lag)
    years = run.ens.manifest.get("splits", {}).get("train", c.train_years)
    contribution = (sensitivity * anomaly(run.ds[variable], month, years)).assign_attrs(
        units="1", long_name="exact first-order contribution")
    model_map = result["attribution"].sel(lead=lead, channel=driver).mean("member")
    units = result["attribution"].attrs["units"]
    fig = compare_maps([model_map, sensitivity, contribution], run.roi,
                       [f"model: {driver}", f"truth: d(ROI SIC)/d({variable})", "truth x anomaly"],
                       ["attribution (probability)" if units == "1" else f"attribution ({units})",
                        f"per {run.ds[variable].attrs.get('units', '')}", "SIC fraction"])
    save_figure(fig, Path(figure_dir) / "truth_comparison.png")
    r = spatial_correlation(model_map, contribution, run.ds["land"])
    return {
        "truth_driver": driver, "fig_truth": fig,
        "truth_text": f"The model map of {driver} at lead {lead} ({variable} in {month:%B %Y}, {lag} months "
                      "before the target) and the exact first-order contribution of the emulator have a "
                      f"spatial correlation of {r:.2f} over the ocean cells",
        "truth_caption": f"Left: ensemble-mean {method_name(c.method)} attribution of {driver} at lead "
                         f"{lead}. "
                         f"Middle: the exact sensitivity (from the emulator rule) of the ROI-mean SIC in "
                         f"{run.target_label} to {variable} in {month:%B %Y}. Right: that sensitivity times "
                         f"the {variable} anomaly of {month:%B %Y} from the {years[0]}-{years[1]} "
                         "climatology. Each panel on its own symmetric scale; ROI outlined in orange. "
                         f"Data: {run.source}.",
    }


def page(run: Run, figure_dir: str, n_maps: int = 3, map_leads: Sequence[int] | None = None,
         truth_variables: Sequence[str] = TRUTH_VARIABLES) -> Page:
    """Everything chapter 7 shows for ``run`` (whose attributions are loaded)."""
    from icegrad.attribution.aggregate import channel_summary

    result, c = run.result, run.config
    map_leads = sorted(set(map_leads or {c.leads[0], c.leads[-1]}))
    summary = channel_summary(result)
    chosen = chosen_channels(summary, map_leads, n_maps)
    table = locality(result, run.ds["land"], chosen)
    colours = sign_colours()
    out = Page(tables={"result": result, "locality": table})
    out.values.update(run.glue())
    out.values.update({"n_maps": n_maps, "roi_share": 100 * roi_share(result, run.ds["land"]),
                       "locality_text": locality_text(table), "colour_more": colours["positive"],
                       "colour_less": colours["negative"]})
    out.values.update(map_figures(run, chosen, n_maps, figure_dir))
    out.values.update(truth_comparison(run, summary, figure_dir, truth_variables))
    return out
