"""Atomic writes: a file appears under its name complete, or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from icegrad import files


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_netcdf_round_trips(tmp_path: Path) -> None:
    ds = xr.Dataset({"a": ("x", np.arange(3.0), {"units": "K"})})
    path = files.write_netcdf(ds, tmp_path / "sub" / "a.nc")
    with xr.open_dataset(path) as back:
        xr.testing.assert_identical(back.load(), ds)


def test_write_text_replaces_the_whole_file(tmp_path: Path) -> None:
    target = files.write_text("a long first version\n", tmp_path / "t.json")
    files.write_text("short\n", target)
    assert target.read_text() == "short\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]
