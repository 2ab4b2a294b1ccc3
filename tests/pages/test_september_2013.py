"""Chapter 3's page: the case's numbers, the ROI's neighbours and the observed panel's fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.pages import september_2013 as page
from icegrad.roi import RoiRule


def synthetic(side: int = 8) -> xr.Dataset:
    """Septembers 2006-2008 on a small grid: 2007 loses ice in one corner, so its extent is the lowest."""
    times = pd.date_range("2006-01", "2008-12", freq="MS")
    sic = np.full((len(times), side, side), 0.9)
    sic[times.year == 2007, :3, :3] = 0.0
    land = np.zeros((side, side), bool)
    land[-1] = True
    coords = {"time": times, "y": np.arange(side)[::-1] * 1e5, "x": np.arange(side) * 1e5,
              "cell_area": (("y", "x"), np.full((side, side), 625.0))}
    return xr.Dataset({"siconca": (("time", "y", "x"), sic), "land": (("y", "x"), land)}, coords=coords,
                      attrs={"data_source": "emulated"})


def test_extents_name_the_lowest_year_and_the_change() -> None:
    extents = page.month_extents(synthetic(), 9)
    assert int(extents.idxmin("year")) == 2007
    assert page.years_to_mark(extents, [2007, 2012, 2013], 2007, 2008) == [2007, 2008]


@pytest.mark.parametrize(("lat", "lon", "text"), [
    (79.74, -171.66, "79.7° N, 171.7° W"), (80.0, 12.04, "80.0° N, 12.0° E"), (90.0, 0.0, "90.0° N, 0.0° E")])
def test_centre_text(lat: float, lon: float, text: str) -> None:
    assert page.centre_text(lat, lon) == text


def test_neighbour_rules_start_with_the_rule_and_list_each_once() -> None:
    rules = page.neighbour_rules(RoiRule.parse("threshold:0.5,sign:abs"))
    assert rules[0] == "threshold:0.5,sign:abs" and len(rules) == len(set(rules)) == 6  # sign:abs is itself
    assert "threshold:0.3,sign:abs" in rules and "top_fraction:0.05,sign:abs" in rules
    assert str(RoiRule.parse("threshold:0.5")) in rules  # gains only


def test_without_a_record_the_observed_figure_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page.real_record, "nsidc_figure1", lambda *args: None)
    section = page.observed_section(200, 2007, 2008, 9, "threshold:0.5", [2007], 60.0, "figures")
    assert "icegrad data --source nsidc --resolution 200" in section.values["observed_text"]
    assert section.values["observed_text"].startswith("**No NSIDC record on this machine")


def test_the_observed_figure_is_the_letters_25_km_septembers(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path) -> None:
    asked = []
    monkeypatch.setattr(page.real_record, "nsidc_figure1", lambda *args: asked.append(args))
    page.observed_section(100, 2007, 2013, 9, "threshold:0.5", [2007], 60.0, tmp_path)
    page.observed_section(100, 2007, 2013, 3, "threshold:0.5", [2007], 60.0, tmp_path)
    assert [a[0] for a in asked] == [25, 100]  # September at 25 km as in the letter; other months on the grid


@pytest.mark.parametrize(("cdr", "start"), [
    ({2007: 4.9, 2013: 6.0}, "higher, as expected: the CDR takes per cell the larger of the NASA Team"),
    ({2007: 4.0, 2013: 5.0}, "lower, which the CDR's per-cell maximum"),
    ({2007: 4.9, 2013: 5.0}, "higher in 2007 only"),
])
def test_cdr_extents_beside_the_sea_ice_index_each_outcome(cdr: dict[int, float], start: str) -> None:
    text = page.index_comparison_text(cdr, {2007: 4.27, 2013: 5.21})
    assert "Sea Ice Index v4" in text and f"{cdr[2007]:.2f} against 4.27 in 2007" in text
    assert f"The CDR's are {start}" in text
    assert "(the same sign)" in text if cdr[2013] > cdr[2007] else "(opposite signs)" in text


def test_index_comparison_without_shared_years_and_for_one_year() -> None:
    assert page.index_comparison_text({2030: 4.0}, page.SEA_ICE_INDEX_SEPTEMBER) == \
        "The Sea Ice Index v4 quotes none of these years."
    assert "From" not in page.index_comparison_text({2013: 6.0}, page.SEA_ICE_INDEX_SEPTEMBER)


def test_quoted_sea_ice_index_is_the_files(shared_reference) -> None:
    from icegrad.data.emulator.validation import read_sea_ice_index

    quoted = pd.Series(page.SEA_ICE_INDEX_SEPTEMBER)
    observed = read_sea_ice_index(9, shared_reference / "nsidc_sea_ice_index_v3" / "north")
    assert np.allclose(quoted.values, observed.reindex(quoted.index).values)


def test_roi_sectors_name_where_the_area_lies() -> None:
    lat = np.array([[75.0, 75.0, 85.0], [75.0, 70.0, 85.0]])
    lon = np.array([[-170.0, 175.0, 0.0], [100.0, 20.0, 0.0]])
    roi = xr.DataArray([[True, True, True], [True, False, False]], dims=("y", "x"),
                       coords={"lat": (("y", "x"), lat), "lon": (("y", "x"), lon)})
    sectors = page.roi_sectors(roi, min_share=0.2)
    assert [name.split(":")[0] for name, _ in sectors] == [
        "Pacific sector", "central Arctic Ocean (north of 80 N)", "Siberian shelf"]
    assert sectors[0][1] == pytest.approx(0.5)
    assert page.sectors_text([("Pacific sector", 0.8), ("other ocean", 0.2)]) == \
        "the Pacific sector (80 % of its area) and the other ocean (20 %)"
    assert page.sectors_text([]).startswith("no single sector")
