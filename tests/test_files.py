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


def test_read_netcdf_loads_whole_files_past_the_chunk_cache_and_restores_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import netCDF4

    rng = np.random.default_rng(0)
    ds = xr.Dataset({name: (("time", "y", "x"), rng.random((24, 40, 40), dtype=np.float32))
                     for name in ("siconca", "tas")})
    path = files.write_netcdf(ds, tmp_path / "a.nc")
    before = netCDF4.get_chunk_cache()
    seen: list[tuple[int, int, float]] = []
    open_dataset = xr.open_dataset

    def spy(*args: object, **kwargs: object) -> xr.Dataset:
        seen.append(netCDF4.get_chunk_cache())
        return open_dataset(*args, **kwargs)

    monkeypatch.setattr(xr, "open_dataset", spy)
    xr.testing.assert_identical(files.read_netcdf(path), ds)
    assert seen[0][0] == files.READ_CHUNK_CACHE_BYTES < before[0]  # each value is held once while read
    assert netCDF4.get_chunk_cache() == before
    with pytest.raises(FileNotFoundError), files.chunk_cache(1024):
        files.read_netcdf(tmp_path / "missing.nc")
    assert netCDF4.get_chunk_cache() == before
