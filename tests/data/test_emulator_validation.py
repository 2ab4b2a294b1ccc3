"""Reading the NSIDC Sea Ice Index layout, missing months included, and failing helpfully without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from icegrad.data.emulator.validation import SeaIceIndexError, compare_extents, read_sea_ice_index
from icegrad.grid import ease2_grid

HEADER = "year, mo,    data-type, region, extent,   area\n"


def _write(folder: Path, month: int, rows: list[tuple[int, float]]) -> None:
    lines = [f"{y},  {month},      Goddard,      N,   {e:.2f},   {e * 0.7:.2f}\n" for y, e in rows]
    (folder / f"N_{month:02d}_extent_v3.0.csv").write_text(HEADER + "".join(lines))


def test_missing_months_marked_minus_9999_are_dropped(tmp_path: Path) -> None:
    _write(tmp_path, 12, [(1986, 13.1), (1987, -9999), (1988, 13.3)])
    series = read_sea_ice_index(12, tmp_path)
    assert list(series.index) == [1986, 1988]
    assert series.loc[1988] == pytest.approx(13.3)


def test_absent_files_and_folders_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SeaIceIndexError, match=r"N_09_extent_v3\.0\.csv"):
        read_sea_ice_index(9, tmp_path)
    (tmp_path / "N_09_extent_v3.0.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SeaIceIndexError, match="extent"):
        read_sea_ice_index(9, tmp_path)


def test_comparison_statistics_are_computed_from_the_data(tmp_path: Path) -> None:
    g = ease2_grid(200)
    years = pd.date_range("2000-09-01", periods=4, freq="12MS")
    ice_cells = [100, 120, 90, 140]  # 200 km cells: 0.04 million km2 each
    sic = np.zeros((4, 54, 54), np.float32)
    for i, n in enumerate(ice_cells):
        sic[i].flat[:n] = 1.0
    ds = xr.Dataset({"siconca": (("time", "y", "x"), sic)}, coords={"time": years, **g.coords})
    emulated = np.array(ice_cells) * 0.04
    observed = emulated + np.array([0.1, -0.1, 0.2, 0.0])
    _write(tmp_path, 9, list(zip(range(2000, 2004), observed, strict=True)))
    result = compare_extents(ds, 9, tmp_path)
    diff = emulated - observed
    assert result.rmse == pytest.approx(np.sqrt((diff**2).mean()), abs=1e-6)
    assert result.bias == pytest.approx(diff.mean(), abs=1e-6)
    assert result.correlation == pytest.approx(np.corrcoef(emulated, observed)[0, 1], abs=1e-6)
    assert "2000-2003" in result.summary()
