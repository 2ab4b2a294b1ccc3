"""Writing results safely and caching stages by their parameters.

Every file icegrad writes goes to a temporary name in the target folder first and is renamed into
place only when complete, so a crash or a killed kernel never leaves a half-written netCDF that a
later run would mistake for a result.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import xarray as xr

from icegrad.paths import cache_dir


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def write_netcdf(ds: xr.Dataset | xr.DataArray, target: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to netCDF-4 (zlib-compressed) atomically and return the final path."""
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiub"
    }
    with atomic_path(target) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return Path(target)


def parameter_key(params: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serialisable parameters, used to name cache entries."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_netcdf(
    stage: str, params: Mapping[str, Any], compute: Callable[[], xr.Dataset], *, refresh: bool = False
) -> xr.Dataset:
    """Return the cached result of ``compute`` for ``params``, computing and storing it if absent.

    The cache file is ``<cache_dir>/<stage>/<key>.nc`` and the parameters are stored as a
    ``cache_parameters`` attribute, so a user can see what any cache file holds.
    """
    path = cache_dir() / stage / f"{parameter_key(params)}.nc"
    if path.exists() and not refresh:
        with xr.open_dataset(path) as cached:
            return cached.load()
    ds = compute()
    ds.attrs["cache_parameters"] = json.dumps(params, sort_keys=True, default=str)
    write_netcdf(ds, path)
    return ds
