"""Atomic writes and the parameter-keyed cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from icegrad import io


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.nc"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_write_netcdf_round_trips(tmp_path: Path) -> None:
    ds = xr.Dataset({"a": ("x", np.arange(3.0), {"units": "K"})})
    path = io.write_netcdf(ds, tmp_path / "sub" / "a.nc")
    with xr.open_dataset(path) as back:
        xr.testing.assert_identical(back.load(), ds)


def test_cache_computes_once_per_parameter_set(isolated_cache: Path) -> None:
    calls: list[int] = []

    def compute(value: int) -> xr.Dataset:
        calls.append(value)
        return xr.Dataset({"v": ("x", np.full(2, value))})

    for value in (1, 1, 2):
        out = io.cached_netcdf("stage", {"value": value}, lambda value=value: compute(value))
        assert int(out.v[0]) == value
    assert calls == [1, 2]
    assert len(list((isolated_cache / "stage").glob("*.nc"))) == 2
    assert io.parameter_key({"a": 1, "b": 2}) == io.parameter_key({"b": 2, "a": 1})
