"""Chapter 3, the September 2013 event: the extent record, the region of interest and the letter's Figure 1.

Every number the chapter's prose states comes from these functions, for whatever source, years, month
and ROI rule the chapter is run with; the observed Figure 1 is drawn only where the NSIDC record is
already on the machine.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import xarray as xr

from icegrad.data import load_dataset
from icegrad.diagnostics import sea_ice_extent
from icegrad.inputs import real_record
from icegrad.pages.common import Page, detached, run_config
from icegrad.plots import extent_panel, figure1, figure1_caption, save_figure, source_label, yearly
from icegrad.roi import RoiRule, compare_rules, region_of_interest, roi_summary, sic_difference


def data_section(data_source: str, resolution_km: int, month: int, reference_year: int,
                 target_year: int) -> tuple[xr.Dataset, Page]:
    """The monthly dataset and the values that name the case in the prose."""
    run_config(locals())  # every parameter checked before any work
    ds = load_dataset(data_source, resolution_km=resolution_km)
    values = {"source_label": source_label(ds.attrs["data_source"]), "month_name": calendar.month_name[month],
              "reference_year": reference_year, "target_year": target_year,
              "first_year": int(ds.time.dt.year.min()), "last_year": int(ds.time.dt.year.max())}
    return ds, Page(values)


def month_extents(ds: xr.Dataset, month: int) -> xr.DataArray:
    """Sea-ice extent (million km²) of ``month`` in every year of ``ds``, indexed by year."""
    return yearly(sea_ice_extent(ds.siconca.sel(time=ds.time.dt.month == month)))


def years_to_mark(extents: xr.DataArray, marked_years: Sequence[int], reference_year: int,
                  target_year: int) -> list[int]:
    """The highlighted years and the case's two years, those the record holds, in order."""
    return sorted({*marked_years, reference_year, target_year} & {int(y) for y in extents.year})


def extent_section(ds: xr.Dataset, month: int, marked_years: Sequence[int], reference_year: int,
                   target_year: int, figure_dir: str | Path) -> Page:
    """The extent record of ``month`` with the case's years marked, and its numbers for the prose."""
    extents = month_extents(ds, month)
    fig = detached(extent_panel(ds, month, years_to_mark(extents, marked_years, reference_year, target_year)))
    save_figure(fig, Path(figure_dir) / "september_extent.png")
    reference, target = float(extents.sel(year=reference_year)), float(extents.sel(year=target_year))
    values = {"extent_reference": reference, "extent_target": target, "extent_change": target - reference,
              "lowest_year": int(extents.idxmin("year")), "lowest_extent": float(extents.min())}
    return Page(values, figures={"extent": fig})


def centre_text(lat: float, lon: float) -> str:
    """A position as ``"79.7° N, 171.7° W"`` (longitudes east of Greenwich are E)."""
    return f"{lat:.1f}° N, {abs(lon):.1f}° {'E' if lon >= 0 else 'W'}"


def neighbour_rules(rule: RoiRule) -> list[str]:
    """``rule`` and its neighbours: lower and higher thresholds, the top 5 %, gains only, either sign,
    and no patches under four cells; duplicates (a neighbour equal to ``rule``) listed once."""
    neighbours = [rule, replace(rule, selection="threshold", value=0.3),
                  replace(rule, selection="threshold", value=0.7),
                  replace(rule, selection="top_fraction", value=0.05), replace(rule, sign="positive"),
                  replace(rule, sign="abs"), replace(rule, min_cells=4)]
    return list(dict.fromkeys(str(r) for r in neighbours))


def roi_section(ds: xr.Dataset, reference_year: int, target_year: int, month: int,
                roi_rule: str) -> tuple[xr.DataArray, Page]:
    """The ROI of the rule, its size, centre and share of gains, and its neighbours compared."""
    rule = RoiRule.parse(roi_rule)
    roi = region_of_interest(ds, reference_year, target_year, month, rule)
    summary = roi_summary(roi)
    gained = sic_difference(ds, reference_year, target_year, month).where(roi) > 0
    values = {"roi_rule": str(rule), "roi_cells": summary.n_cells, "roi_area": summary.area_km2 / 1e6,
              "roi_gain_percent": 100 * float(gained.sum()) / summary.n_cells,
              "roi_centre": centre_text(summary.centroid_lat, summary.centroid_lon)}
    table = compare_rules(ds, neighbour_rules(rule), reference_year, target_year, month)
    table = table.assign(area_km2=table.area_km2 / 1e6).rename(columns={"area_km2": "area (million km²)"})
    return roi, Page(values, {"rules": table.round(2)})


def figure1_section(ds: xr.Dataset, roi: xr.DataArray, min_lat: float, figure_dir: str | Path) -> Page:
    """The letter's Figure 1 from ``ds`` and ``roi``, glued with its caption."""
    fig = detached(figure1(ds, roi, min_lat=min_lat))
    save_figure(fig, Path(figure_dir) / "figure1.png")
    return Page({"figure1": fig, "figure1_caption": figure1_caption(roi, ds.attrs["data_source"])})


def observed_section(ds: xr.Dataset, resolution_km: int, reference_year: int, target_year: int, month: int,
                     roi_rule: str, marked_years: Sequence[int], min_lat: float,
                     figure_dir: str | Path) -> Page:
    """Figure 1 from the NSIDC record when it is on this machine, else how to get it.

    The page's ``figures`` hold the observed figure, if any, and its ``notes`` the text shown with it.
    """
    if ds.attrs["data_source"] == "nsidc":
        return Page(notes=["Figure 1 above is already drawn from the NSIDC record; run the chapter with "
                           "`data_source = \"emulated\"` for the emulated counterpart."])
    panel = real_record.nsidc_figure1(resolution_km, reference_year, target_year, month, roi_rule)
    if panel is None:
        command = real_record.NSIDC_COMMAND.format(resolution_km=resolution_km)
        return Page(notes=[
            "> **No NSIDC record on this machine: emulated figure only.** Download the NSIDC CDR\n"
            "> (version 4, 1979-2020, about 0.2 MB a month, no account needed) and build it on this grid "
            f"with\n> `{command}`, then re-run this chapter; or set `ICEGRAD_NSIDC_DIR` to a folder of "
            "NSIDC CDR\n> monthly files."])
    real, real_roi = panel
    fig = detached(figure1(real, real_roi, min_lat=min_lat))
    save_figure(fig, Path(figure_dir) / "figure1_nsidc.png")
    extents = month_extents(real, month)
    listed = ", ".join(f"{y}: {float(extents.sel(year=y)):.2f}"
                       for y in years_to_mark(extents, marked_years, reference_year, target_year))
    text = (f"**Figure 1 from observations.** {figure1_caption(real_roi, 'nsidc')} "
            f"{calendar.month_name[month]} extent in the CDR (million km²): {listed}. "
            f"Beside it, Figure 1 above is drawn from: {source_label(ds.attrs['data_source'])}.")
    return Page(figures={"figure1_nsidc": fig}, notes=[text])
