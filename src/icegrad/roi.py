"""The region of interest (ROI): where observed SIC in one month changed most between two years.

The letter asks why IceNet forecast the September 2013 rebound; its targets are averaged over the
ocean cells where September SIC differed most between 2007 and 2013. The letter does not publish the
exact rule, so icegrad makes it an explicit, parameterised choice that travels with every result.

The rule
--------
A *score* is computed per ocean cell from ``d = SIC(target_year, month) - SIC(reference_year, month)``:

* ``sign:positive`` (when a rule names no sign): ``score = d`` — cells that gained ice (the 2013 rebound);
* ``sign:negative``: ``score = -d`` — cells that lost ice;
* ``sign:abs``: ``score = |d|`` — any change (the book's rule, :data:`DEFAULT_RULE`).

Then one of two selections:

* ``threshold:T`` — cells with ``score >= T`` (SIC is a fraction, so ``T`` is in (0, 1]);
* ``top_fraction:F`` — the ``round(F * n_ocean)`` ocean cells with the highest score (ties broken
  by grid order), keeping only cells whose score is positive: a cell that did not change in the
  requested direction is never "where SIC changed most", however small the region.

Optionally ``min_cells:N`` removes specks: connected groups (8-connectivity, so cells touching at a
corner belong together, as they do on a map) of fewer than ``N`` selected cells. Land cells (the
dataset's ``land`` coordinate) are never selected.

A rule is one string, e.g. ``"threshold:0.5"`` or ``"top_fraction:0.05,min_cells:4,sign:abs"``, so a
papermill parameter can carry it; :class:`RoiRule` is its parsed, validated form.

Example
-------
>>> rule = RoiRule.parse("threshold:0.5, min_cells:4")
>>> rule
RoiRule(selection='threshold', value=0.5, min_cells=4, sign='positive')
>>> str(rule)
'threshold:0.5,min_cells:4'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pyproj
import xarray as xr
from scipy import ndimage

from icegrad import grid
from icegrad.config import DEFAULTS
from icegrad.data.schema import validate_monthly_dataset
from icegrad.errors import IcegradError

DEFAULT_RULE = DEFAULTS.roi_rule
"""The run configuration's rule (:class:`icegrad.config.RunConfig`): SIC changed by >= 0.5 either way."""
SELECTIONS = ("threshold", "top_fraction")
SIGNS = ("positive", "negative", "abs")
_CONNECTIVITY = np.ones((3, 3), dtype=bool)


class RoiError(IcegradError):
    """A region-of-interest request that cannot be met (bad rule, years or month; empty region)."""


@dataclass(frozen=True)
class RoiRule:
    """A parsed ROI rule: the selection (``threshold`` or ``top_fraction``), its value, speck size, sign."""

    selection: str
    value: float
    min_cells: int = 1
    sign: str = "positive"

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise RoiError(f"unknown ROI selection {self.selection!r}; use one of {SELECTIONS}, "
                           f"e.g. 'threshold:0.5' or 'top_fraction:0.05'")
        if not (isinstance(self.value, int | float) and 0.0 < self.value <= 1.0):
            what = "a SIC difference" if self.selection == "threshold" else "a fraction of ocean cells"
            raise RoiError(f"{self.selection} value {self.value!r} must be in (0, 1]: it is {what}")
        if isinstance(self.min_cells, bool) or not isinstance(self.min_cells, int) or self.min_cells < 1:
            raise RoiError(f"min_cells={self.min_cells!r} must be a positive integer (1 keeps every cell)")
        if self.sign not in SIGNS:
            raise RoiError(f"unknown ROI sign {self.sign!r}; use one of {SIGNS}")

    @classmethod
    def parse(cls, text: str | RoiRule) -> RoiRule:
        """Parse ``"selection:value[,min_cells:N][,sign:S]"``; a :class:`RoiRule` passes through."""
        if isinstance(text, RoiRule):
            return text
        if not isinstance(text, str) or not text.strip():
            raise RoiError(f"an ROI rule must be a non-empty string like {DEFAULT_RULE!r}, got {text!r}")
        fields: dict[str, str] = {}
        for part in text.replace(" ", "").split(","):
            key, sep, value = part.partition(":")
            if not sep or not key or not value:
                raise RoiError(f"malformed ROI rule {text!r}: each part must be 'key:value', "
                               f"e.g. 'threshold:0.5,min_cells:4'")
            if key in fields:
                raise RoiError(f"ROI rule {text!r} gives {key!r} twice")
            fields[key] = value
        selections = [k for k in fields if k in SELECTIONS]
        unknown = [k for k in fields if k not in (*SELECTIONS, "min_cells", "sign")]
        if unknown:
            raise RoiError(f"unknown key(s) {unknown} in ROI rule {text!r}; known: "
                           f"{[*SELECTIONS, 'min_cells', 'sign']}")
        if len(selections) != 1:
            raise RoiError(f"ROI rule {text!r} must have exactly one of {SELECTIONS}")
        selection = selections[0]
        try:
            value = float(fields[selection])
            min_cells = int(fields.get("min_cells", "1"))
        except ValueError:
            raise RoiError(f"malformed number in ROI rule {text!r}") from None
        return cls(selection, value, min_cells, fields.get("sign", "positive"))

    def __str__(self) -> str:
        """The canonical one-line form (defaults omitted), which :meth:`parse` reads back to an equal rule."""
        text = f"{self.selection}:{float(self.value)!r}"
        if self.min_cells != 1:
            text += f",min_cells:{self.min_cells}"
        if self.sign != "positive":
            text += f",sign:{self.sign}"
        return text


def sic_for_month(ds: xr.Dataset, year: int, month: int) -> xr.DataArray:
    """SIC of one (year, month) from a monthly dataset, with clear errors for missing data."""
    if not isinstance(month, int | np.integer) or not 1 <= month <= 12:
        raise RoiError(f"month={month!r} must be an integer from 1 (January) to 12 (December)")
    times = pd.DatetimeIndex(ds["time"].values)
    years = times.year
    if year not in set(years):
        raise RoiError(f"year {year} is outside the data ({years.min()}-{years.max()}); pick a year in that "
                       f"range or load a dataset that covers {year}")
    wanted = pd.Timestamp(year=int(year), month=int(month), day=1)
    if wanted not in times:
        raise RoiError(f"the data has no {wanted:%B %Y} (it covers {times[0]:%Y-%m} to {times[-1]:%Y-%m}); "
                       "choose a month the dataset includes")
    sic = ds["siconca"].sel(time=wanted)
    ocean = ~ds["land"]
    if not bool(sic.where(ocean).notnull().any()):
        raise RoiError(f"siconca has no valid ocean values in {wanted:%B %Y}; the month is missing from "
                       "the source data")
    return sic


def sic_difference(ds: xr.Dataset, reference_year: int, target_year: int, month: int) -> xr.DataArray:
    """``SIC(target_year) - SIC(reference_year)`` in ``month``: the field the ROI rule scores."""
    if reference_year == target_year:
        raise RoiError(f"reference_year and target_year are both {target_year}; the ROI compares two "
                       "different years (e.g. reference_year=2007, target_year=2013)")
    target = sic_for_month(ds, target_year, month)
    reference = sic_for_month(ds, reference_year, month)
    diff = (target.drop_vars("time") - reference.drop_vars("time")).astype("float64")
    diff.name = "sic_difference"
    diff.attrs = {"units": "1", "long_name": f"SIC difference, {month:02d}/{target_year} minus "
                                             f"{month:02d}/{reference_year}"}
    return diff


def _score(diff: np.ndarray, sign: str) -> np.ndarray:
    return {"positive": diff, "negative": -diff, "abs": np.abs(diff)}[sign]


def select_cells(diff: np.ndarray, ocean: np.ndarray, rule: RoiRule) -> np.ndarray:
    """The boolean selection of ``rule`` on a (y, x) difference array; only ocean, finite cells.

    Kept separate from :func:`region_of_interest` (plain arrays in, array out) so the rule itself can
    be tested exhaustively without building datasets.
    """
    score = _score(np.asarray(diff, dtype="float64"), rule.sign)
    eligible = np.asarray(ocean, dtype=bool) & np.isfinite(score)
    if rule.selection == "threshold":
        selected = eligible & (score >= rule.value)
    else:
        k = round(rule.value * int(eligible.sum()))
        flat_score = np.where(eligible, score, -np.inf).ravel()
        order = np.argsort(-flat_score, kind="stable")[:k]
        selected = np.zeros(flat_score.size, dtype=bool)
        selected[order] = True
        selected = selected.reshape(score.shape) & eligible & (score > 0)
    if rule.min_cells > 1 and selected.any():
        labels, _ = ndimage.label(selected, structure=_CONNECTIVITY)
        sizes = np.bincount(labels.ravel())
        keep = sizes >= rule.min_cells
        keep[0] = False
        selected = keep[labels]
    return selected


def region_of_interest(
    ds: xr.Dataset,
    reference_year: int = DEFAULTS.reference_year,
    target_year: int = DEFAULTS.target_year,
    month: int = DEFAULTS.month,
    rule: str | RoiRule = DEFAULT_RULE,
) -> xr.DataArray:
    """The ROI mask (True inside) of ``rule`` for the SIC change from ``reference_year`` to ``target_year``.

    ``ds`` is a monthly dataset in icegrad's schema (:mod:`icegrad.data.schema`). The result is a
    boolean ``(y, x)`` DataArray named ``roi`` on the dataset's grid, whose attributes record the
    rule (canonical string), years, month, cell count, area (km^2) and data source, so a saved
    attribution says exactly which region it explains.

    Example
    -------
    >>> from icegrad.data import load_dataset
    >>> ds = load_dataset("emulated", resolution_km=200)
    >>> roi = region_of_interest(ds, 2007, 2013, 9, "threshold:0.5")
    >>> roi.dtype, roi.attrs["n_cells"], roi.attrs["area_km2"]
    (dtype('bool'), 33, 1320000.0)
    """
    parsed = RoiRule.parse(rule)
    validate_monthly_dataset(ds, ["siconca"], check_values=False)
    diff = sic_difference(ds, reference_year, target_year, month)
    ocean = ~np.asarray(ds["land"].values)
    selected = select_cells(diff.values, ocean, parsed)
    if not selected.any():
        largest = float(np.nanmax(np.where(ocean, _score(diff.values, parsed.sign), np.nan)))
        raise RoiError(f"ROI rule {str(parsed)!r} selects no ocean cell for {month:02d}/{target_year} vs "
                       f"{month:02d}/{reference_year} (largest score {largest:.3g}); lower the threshold, "
                       "raise top_fraction, reduce min_cells or change sign")
    coords = {name: diff.coords[name] for name in ("y", "x", "lat", "lon", "cell_area", "crs")
              if name in diff.coords}
    roi = xr.DataArray(selected, dims=("y", "x"), coords=coords, name="roi")
    area = float(diff["cell_area"].values[selected].sum()) if "cell_area" in diff.coords else float("nan")
    roi.attrs = {
        "long_name": "region of interest",
        "units": "1",
        "flag_meanings": "outside inside",
        "rule": str(parsed),
        "reference_year": int(reference_year),
        "target_year": int(target_year),
        "month": int(month),
        "n_cells": int(selected.sum()),
        "area_km2": area,
        "data_source": str(ds.attrs.get("data_source", "unknown")),
        "resolution_km": grid.resolution_of(diff),
    }
    return roi


@dataclass(frozen=True)
class RoiSummary:
    """Size and position of an ROI: cell count, area (km^2) and area-weighted centroid (degrees)."""

    n_cells: int
    area_km2: float
    centroid_lat: float
    centroid_lon: float


def roi_summary(roi: xr.DataArray) -> RoiSummary:
    """Count, area and centroid of a boolean ROI on an EASE2 grid.

    The centroid is the area-weighted mean of cell centres in the grid's *projected* x/y (equal-area,
    pole-centred), converted to latitude/longitude; averaging longitudes directly would fail across
    the date line, which runs through the Pacific-sector region the letter studies.
    """
    if roi.dtype != bool or roi.dims != ("y", "x"):
        raise RoiError(f"roi_summary needs a boolean (y, x) mask, got dtype {roi.dtype} and dims {roi.dims}")
    inside = np.asarray(roi.values)
    if not inside.any():
        raise RoiError("the ROI is empty: it has no cell to summarise")
    area = np.asarray(roi["cell_area"].values) if "cell_area" in roi.coords else None
    if area is None:
        area = np.full(inside.shape, float(grid.resolution_of(roi)) ** 2)
    xx, yy = np.meshgrid(np.asarray(roi["x"].values), np.asarray(roi["y"].values))
    weights = area[inside]
    x0 = float(np.average(xx[inside], weights=weights))
    y0 = float(np.average(yy[inside], weights=weights))
    to_lonlat = pyproj.Transformer.from_crs(grid.EASE2_NORTH_EPSG, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(x0, y0)
    return RoiSummary(int(inside.sum()), float(weights.sum()), float(lat), float(lon))


def compare_rules(
    ds: xr.Dataset,
    rules: Sequence[str | RoiRule],
    reference_year: int = DEFAULTS.reference_year,
    target_year: int = DEFAULTS.target_year,
    month: int = DEFAULTS.month,
) -> pd.DataFrame:
    """Size, centroid and overlap with the first rule's ROI for each rule: how much the choice matters.

    Overlap is the Jaccard index (shared cells / cells in either) with the first rule's region. A rule
    that selects nothing gets a row with zero cells rather than stopping the comparison.
    """
    if not rules:
        raise RoiError("compare_rules needs at least one rule")
    rows, first = [], None
    for rule in rules:
        parsed = RoiRule.parse(rule)
        try:
            mask = region_of_interest(ds, reference_year, target_year, month, parsed).values
        except RoiError as err:
            if "selects no ocean cell" not in str(err):
                raise
            mask = np.zeros(ds["land"].shape, dtype=bool)
        first = mask if first is None else first
        union = int((mask | first).sum())
        row: dict[str, object] = {"rule": str(parsed), "n_cells": int(mask.sum()), "area_km2": float("nan"),
                                  "centroid_lat": float("nan"), "centroid_lon": float("nan")}
        if mask.any():
            row.update(asdict(roi_summary(xr.DataArray(mask, coords=ds["land"].coords, dims=("y", "x")))))
        row["overlap_with_first"] = int((mask & first).sum()) / union if union else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index("rule")
