"""Chapter 12, *Real data*: what the rendered real-data results show, how to go further, what each costs.

The results are those of the runs chapters 3-7 and 11 made (the observed Figure 1 and the SIC-only
IceNet trained on the NSIDC record embedded in ``data/``), read back from the cache and restated here
from their numbers. The costs come from the record's files, the catalogue's coverage and
:mod:`icegrad.evaluation.cost` where the code knows them; download sizes per file are measured values
stated once, below.

Commands are glued as inline code (Markdown, pasted with ``{glue:md}``), never as plain text: Sphinx's
smart quotes turn ``--`` in plain text into an en dash, and a reader who copies ``–source`` gets a
command that fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from icegrad.config import RunConfig
from icegrad.errors import IcegradError
from icegrad.pages.common import Page

NSIDC_MONTH_MB = 0.22
"""One monthly NH file of the NSIDC CDR (v4's December 2021 file is 216 kB)."""
OSISAF_DAY_MB = 1.2
"""One daily NH file of OSI SAF's record (icegrad's estimate: about 3 GB for the 2,500 days of 2007-2013)."""
RECORD_YEARS = (1979, 2020)
"""The span IceNet trains, validates and tests on: what a download for the full book covers."""


def command(text: str) -> Any:
    """``text`` as inline code for ``{glue:md}``: copied from the page, it is the command as typed."""
    from IPython.display import Markdown

    if "`" in text:
        raise IcegradError(f"a command with a backtick cannot be shown as inline code: {text!r}")
    return Markdown(f"`{text}`")


def page_glue(resolution_km: int) -> dict[str, Any]:
    """The chapter's glue values: the NSIDC command at ``resolution_km`` and the SIC-only inputs."""
    from icegrad.inputs import real_record
    from icegrad.variables import CHANNEL_NAMES, SIC_ONLY_CHANNEL_NAMES

    lacking = real_record.missing_channels(SIC_ONLY_CHANNEL_NAMES)
    return {"nsidc_command": command(real_record.NSIDC_COMMAND.format(resolution_km=resolution_km)),
            "n_all": len(CHANNEL_NAMES), "n_sic_only": len(SIC_ONLY_CHANNEL_NAMES), "n_lacking": len(lacking),
            "sic_only_channels": real_record.describe_channels(SIC_ONLY_CHANNEL_NAMES),
            "lacking_channels": real_record.describe_channels(lacking), "resolution": resolution_km}


def embedded_record_mb() -> float:
    """Size of the NSIDC record embedded in ``data/`` (all its files), in MB."""
    from icegrad.data import nsidc_record

    return sum(nsidc_record.record_path(km).stat().st_size for km in nsidc_record.RECORD_FILES) / 1e6


def osisaf_days(first: int, last: int) -> int:
    """Daily files of OSI SAF's default record (the catalogue's products) in the years ``first``-``last``."""
    from icegrad.data.catalogue import OSISAF, OSISAF_DEFAULT_VERSION

    days = pd.date_range(f"{first}-01-01", f"{last}-12-31", freq="D")
    covered = pd.Series(False, index=days)
    for product in OSISAF[OSISAF_DEFAULT_VERSION]:
        end = pd.Timestamp(product.last) + pd.offsets.MonthEnd(0) if product.last else days[-1]
        covered[(days >= pd.Timestamp(product.first)) & (days <= end)] = True
    return int(covered.sum())


def attribution_cost(grid: int, width: float, members: int, leads: int, steps: int,
                     n_channels: int) -> dict[str, float]:
    """Integrated-gradients compute (TFLOP) and memory (GB, all steps at once) of one forecast explained."""
    from icegrad.evaluation.cost import H100_DENSE_TF32_FLOPS, estimate_cost

    estimate = estimate_cost(grid, grid, width, members=members, leads=leads, steps=steps,
                             n_channels=n_channels)
    return {"tflop": estimate.total_flops / 1e12, "memory_gb": estimate.unchunked_bytes / 1e9,
            "h100_seconds": estimate.total_flops / H100_DENSE_TF32_FLOPS}


def cost_table(config: RunConfig) -> pd.DataFrame:
    """What each way further costs: account, disk, and the compute of one explained forecast."""
    from icegrad.variables import CHANNEL_NAMES, SIC_ONLY_CHANNEL_NAMES

    first, last = RECORD_YEARS
    months = 12 * (last - first + 1)
    side = 432 * 25 // config.resolution_km
    book = attribution_cost(side, config.width, config.members, len(config.leads), config.steps,
                            len(SIC_ONLY_CHANNEL_NAMES))
    released = attribution_cost(432, 2.0, 25, 6, config.steps, len(CHANNEL_NAMES))
    days = osisaf_days(first, last)
    rows = [
        ("NSIDC CDR embedded in data/", "none", f"{embedded_record_mb():.1f} MB (in the repository)",
         f"{book['tflop']:.1f} TFLOP, {book['memory_gb']:.2f} GB for the book's SIC-only network"),
        (f"NSIDC CDR v4 download ({first}-{last})", "none", f"{months * NSIDC_MONTH_MB / 1e3:.2f} GB "
         f"({months} monthly files)", "as above, at any resolution"),
        (f"OSI SAF OSI-450-a + OSI-430-a ({first}-{last})", "none",
         f"{days * OSISAF_DAY_MB / 1e3:.0f} GB ({days:,} daily files)",
         "sea ice only, as NSIDC"),
        ("ERA5 monthly means (IceNet's climate inputs)", "free CDS account", "small next to OSI SAF",
         "time in the CDS queue: minutes to hours"),
        ("IceNet's released networks (25, 432 x 432, 50 inputs)", "none", "the release's .h5 files",
         f"{released['tflop']:,.0f} TFLOP and {released['memory_gb']:.0f} GB with all {config.steps} "
         f"steps at once; at least {released['h100_seconds']:.0f} s on one H100"),
    ]
    return pd.DataFrame(rows, columns=["source", "account", "disk", "compute per explained forecast"]
                        ).set_index("source")


def results_page(config: RunConfig, figure_dir: str | Path) -> Page:
    """What the rendered real-data results show: the observed Figure 1, skill and rankings, from the cache.

    The same runs as chapters 3, 4 and 6 (same parameters, so nothing is recomputed when they ran).
    """
    from icegrad.pages import observed, september_2013
    from icegrad.pages.which_inputs import leaders_section

    figure = september_2013.observed_section(config.resolution_km, config.reference_year,
                                             config.target_year, config.month, config.roi_rule, [], 57.0,
                                             figure_dir)
    notes = [f"**Figure 1 from observations** (chapter 3). {figure.values['observed_text']}"]
    run = observed.load_observed(config)
    if run is None:
        return Page(figures={"figure1": figure.values["figure1_observed"]},
                    notes=notes + observed.skipped(config).notes)
    skill = observed.skill_page(run, config, figure_dir)
    leaders = leaders_section(run.result)
    means = {g: {lead: float(v) for lead, v in observed.group_summary(run.result)["mean_abs"].mean("member")
                 .sel(group=g).to_series().items()} for g in ("sic", "trend")}
    notes += [skill.notes[0].replace("**The same network on observed sea ice.**", "**Skill** (chapter 4).")
              .split(" Binary accuracy (left)")[0],
              f"**Which inputs** (chapter 6). The leading group by mean |attribution| is "
              f"{leaders.values['first_by_magnitude']}. "
              f"{observed.trend_persistence_text(means['sic'], means['trend'])} "
              f"{observed.sic_lags_text(observed.sic_lags(run.result))}",
              observed.untestable_text(run.ens.channels)]
    return Page(figures={"figure1": figure.values["figure1_observed"], "skill": skill.figures["skill"]},
                notes=notes)
