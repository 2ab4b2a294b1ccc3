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


def test_observed_panel_falls_back_to_instructions_or_a_pointer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page.real_record, "nsidc_figure1", lambda *args: None)
    ds = synthetic()
    section = page.observed_section(ds, 200, 2007, 2008, 9, "threshold:0.5", [2007], 60.0, "figures")
    assert not section.figures and "icegrad data --source nsidc --resolution 200" in section.notes[0]
    nsidc = ds.assign_attrs(data_source="nsidc")
    section = page.observed_section(nsidc, 200, 2007, 2008, 9, "threshold:0.5", [2007], 60.0, "figures")
    assert not section.figures and section.notes[0].startswith("Figure 1 above is already drawn")
