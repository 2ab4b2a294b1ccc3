"""Chapter 3, the September 2013 event: the extent record, the region of interest and the letter's Figure 1.

Every number the chapter's prose states comes from these functions, for whatever source, years, month
and ROI rule the chapter is run with. The observed Figure 1 (September 2007, September 2013 and the
ROI at 25 km, as in the letter) is drawn offline from the NSIDC record embedded in ``data/``, with its
ROI's area, centre and sectors, and its extents beside the Sea Ice Index's.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import xarray as xr

from icegrad.data import load_dataset
from icegrad.diagnostics import sea_ice_extent
from icegrad.inputs import real_record
from icegrad.pages.common import Page, detached, listing, run_config
from icegrad.plots import extent_panel, figure1, figure1_caption, save_figure, source_label, yearly
from icegrad.roi import RoiRule, compare_rules, region_of_interest, roi_summary, sic_difference

SEPTEMBER = 9
SEA_ICE_INDEX_SEPTEMBER = dict(zip(range(1979, 2021), (
    7.05, 7.67, 7.14, 7.30, 7.39, 6.81, 6.70, 7.41, 7.28, 7.37, 7.01, 6.14, 6.47, 7.47, 6.40, 7.14,
    6.08, 7.58, 6.69, 6.54, 6.12, 6.25, 6.73, 5.83, 6.12, 5.98, 5.50, 5.86, 4.27, 4.69, 5.26, 4.87,
    4.56, 3.57, 5.21, 5.22, 4.62, 4.53, 4.82, 4.79, 4.36, 3.92), strict=True))
"""September Arctic extent (million km²) of the NSIDC Sea Ice Index, 1979-2020, from its file
``N_09_extent_v3.0.csv`` (version 4 equals version 3 before 2025:
:data:`icegrad.data.catalogue.SEA_ICE_INDEX`); quoted here so the comparison needs no download
(``tests/pages`` checks it against the file when present)."""


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
              "roi_centre": centre_text(summary.centroid_lat, summary.centroid_lon),
              "roi_sectors": sectors_text(roi_sectors(roi))}
    table = compare_rules(ds, neighbour_rules(rule), reference_year, target_year, month)
    table = table.assign(area_km2=table.area_km2 / 1e6).rename(columns={"area_km2": "area (million km²)"})
    return roi, Page(values, {"rules": table.round(2)})


def figure1_section(ds: xr.Dataset, roi: xr.DataArray, min_lat: float, figure_dir: str | Path) -> Page:
    """The letter's Figure 1 from ``ds`` and ``roi``, glued with its caption."""
    fig = detached(figure1(ds, roi, min_lat=min_lat))
    save_figure(fig, Path(figure_dir) / "figure1.png")
    return Page({"figure1": fig, "figure1_caption": figure1_caption(roi, ds.attrs["data_source"])})


def roi_sectors(roi: xr.DataArray, min_share: float = 0.1) -> list[tuple[str, float]]:
    """The named Arctic sectors holding at least ``min_share`` of the ROI's area, largest first.

    The sectors are the latitude-longitude boxes of :data:`icegrad.data.emulator.geography.REGIONS`
    (Pacific sector, Siberian shelf, Atlantic sector, central Arctic, ...), geography the emulator's
    links act in; area outside every box is "other ocean".
    """
    from icegrad.data.emulator.geography import REGIONS, region_index

    inside = np.asarray(roi.values, bool)
    area = np.asarray(roi["cell_area"].values) if "cell_area" in roi.coords else np.ones(inside.shape)
    code = region_index(np.asarray(roi["lat"].values), np.asarray(roi["lon"].values), inside)
    total = float(area[inside].sum())
    names = [r.long_name for r in REGIONS] + ["other ocean"]
    shares = {names[i]: float(area[inside & (code == i)].sum()) / total for i in range(-1, len(REGIONS))}
    return sorted(((n, v) for n, v in shares.items() if v >= min_share), key=lambda item: -item[1])


def sectors_text(sectors: Sequence[tuple[str, float]]) -> str:
    """``"the Pacific sector: Chukchi, East Siberian and Beaufort seas (82 % of its area)"``."""
    if not sectors:
        return "no single sector (it is spread thinly over many)"
    return listing([f"the {name} ({100 * share:.0f} % of its area)" if i == 0 else
                    f"the {name} ({100 * share:.0f} %)" for i, (name, share) in enumerate(sectors)])


def index_comparison_text(cdr: Mapping[int, float], index: Mapping[int, float]) -> str:
    """The CDR's extents beside the Sea Ice Index's for the same years, and why they differ.

    The CDR takes per cell the larger of the NASA Team and Bootstrap concentrations, the Sea Ice Index
    NASA Team alone, so the CDR's extent should be the larger; a smaller one would point at the
    regridding or the land mask, and the text says so.
    """
    from icegrad.data.catalogue import SEA_ICE_INDEX

    years = [y for y in cdr if y in index]
    if not years:
        return f"The Sea Ice Index v{SEA_ICE_INDEX.version} quotes none of these years."
    pairs = listing([f"{cdr[y]:.2f} against {index[y]:.2f} in {y}" for y in years])
    higher = [y for y in years if cdr[y] > index[y]]
    if len(higher) == len(years):
        why = ("higher, as expected: the CDR takes per cell the larger of the NASA Team and Bootstrap "
               "concentrations, the Index NASA Team alone, which reads thin and melting ice low")
    elif not higher:
        why = ("lower, which the CDR's per-cell maximum of NASA Team and Bootstrap cannot explain: look at "
               "the regridding or the land mask before trusting these extents")
    else:
        why = (f"higher in {listing(higher)} only; the CDR's per-cell maximum of NASA Team and Bootstrap "
               "should make it higher every year, so the others point at the regridding or the land mask")
    text = (f"Extents in the CDR and the NSIDC Sea Ice Index v{SEA_ICE_INDEX.version} (million km²): "
            f"{pairs}. The CDR's are {why}.")
    if len(years) > 1:
        first, last = years[0], years[-1]
        change_cdr, change_index = cdr[last] - cdr[first], index[last] - index[first]
        same = "the same sign" if change_cdr * change_index > 0 else "opposite signs"
        text += (f" From {first} to {last} the CDR changes by {change_cdr:+.2f} and the Index by "
                 f"{change_index:+.2f} million km² ({same}).")
    return text


def no_record_figure(command: str) -> Page:
    """A placeholder Figure 1 from observations and the instructions to get the record."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(6, 0.8))
    fig.text(0.5, 0.5, "no NSIDC record on this machine", ha="center", va="center")
    text = ("**No NSIDC record on this machine: emulated figure only.** `$ICEGRAD_NSIDC_DIR` points "
            f"elsewhere and holds no CDR files; unset it to use the record embedded in `data/`, or build a "
            f"grid from the download with `{command}`.")
    return Page({"figure1_observed": detached(fig), "figure1_observed_caption": "No observed record.",
                 "observed_text": text})


def observed_section(resolution_km: int, reference_year: int, target_year: int, month: int,
                     roi_rule: str, marked_years: Sequence[int], min_lat: float,
                     figure_dir: str | Path) -> Page:
    """Figure 1 from the NSIDC record, at 25 km in September as in the letter, with its numbers.

    Offline by default: the 25 km Septembers embedded in ``data/`` (other months at ``resolution_km``).
    The glued text states the observed ROI's area, centre and sectors and the CDR's extents beside the
    Sea Ice Index's, with the difference explained.
    """
    grid_km = 25 if month == SEPTEMBER else resolution_km
    panel = real_record.nsidc_figure1(grid_km, reference_year, target_year, month, roi_rule)
    if panel is None:
        return no_record_figure(real_record.NSIDC_COMMAND.format(resolution_km=resolution_km))
    real, real_roi = panel
    fig = detached(figure1(real, real_roi, min_lat=min_lat))
    save_figure(fig, Path(figure_dir) / "figure1_nsidc.png")
    summary = roi_summary(real_roi)
    extents = month_extents(real, month)
    years = years_to_mark(extents, marked_years, reference_year, target_year)
    cdr = {y: float(extents.sel(year=y)) for y in years}
    index = SEA_ICE_INDEX_SEPTEMBER if month == SEPTEMBER else {}
    roi_text = (f"On the observed {grid_km} km grid the rule selects {summary.n_cells} cells covering "
                f"{summary.area_km2 / 1e6:.2f} million km², centred at "
                f"{centre_text(summary.centroid_lat, summary.centroid_lon)}, in "
                f"{sectors_text(roi_sectors(real_roi))}.")
    return Page({"figure1_observed": fig, "figure1_observed_caption": figure1_caption(real_roi, "nsidc"),
                 "observed_roi_area": summary.area_km2 / 1e6, "observed_roi_cells": summary.n_cells,
                 "observed_text": f"{roi_text} {index_comparison_text(cdr, index)}"})
