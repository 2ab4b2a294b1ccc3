"""Chapter 2's page: the stamp, the source check, the links table and the typical-anomaly effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.errors import IcegradError
from icegrad.pages import emulated_arctic as page


def test_every_figure_is_stamped_emulated_and_other_sources_are_refused() -> None:
    assert page.label(3, 200) == "EMULATED data (synthetic, seed 3, 200 km)"
    with pytest.raises(IcegradError, match=r"data_source='nsidc'.*Run it with data_source='emulated'"):
        page.load("nsidc", 200, 0)


def test_links_table_spells_out_the_months() -> None:
    table = page.links_table()
    assert table["months"].map(lambda text: all(len(m) == 3 for m in text.split(", "))).all()
    assert {"variable", "lag"} <= set(table.columns)


def test_typical_effects_scale_grid_sums_by_one_standard_deviation_and_drop_the_target() -> None:
    truth = xr.DataArray(np.ones((2, 2, 3, 3)), dims=("variable", "lag", "y", "x"),
                         coords={"variable": ["siconca", "tas"], "lag": [0, 1]})
    anomalies = xr.Dataset({"siconca": ("t", [0.0, 0.2]), "tas": ("t", [-2.0, 2.0])})
    effect = page.typical_effects(truth, anomalies)
    assert effect.loc["tas", 1] == pytest.approx(9 * 2.0)  # 9 cells x std 2 K
    assert effect.loc["siconca", 1] == pytest.approx(9 * 0.1)
    assert np.isnan(effect.loc["siconca", 0])
    assert (effect.index.name, effect.columns.name) == ("input", "lag (months)")


def test_monthly_anomalies_remove_each_calendar_month_mean() -> None:
    times = pd.date_range("2000-01", "2001-12", freq="MS")
    ds = xr.Dataset({"tas": ("time", np.r_[np.arange(12.0), np.arange(12.0) + 2])}, coords={"time": times})
    anomalies = page.monthly_anomalies(ds)["tas"].values
    np.testing.assert_allclose(anomalies, np.r_[np.full(12, -1.0), np.full(12, 1.0)])
