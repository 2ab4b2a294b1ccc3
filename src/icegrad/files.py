"""Writing files atomically: a file appears under its name only when it is complete.

Every file icegrad writes goes to a temporary ``.<name>.<random>.part`` in the target folder first and
is renamed into place only when complete, so a crash or a killed kernel never leaves a half-written
netCDF that a later run would mistake for a result. A ``.part`` left by a killed process is an orphan
that :func:`icegrad.cache.verify` and :func:`icegrad.cache.clear` remove.

Reading and writing netCDF here also holds :data:`NETCDF_LOCK`: netCDF-C and HDF5 are not thread-safe,
and xarray shares one open handle per file between threads, so two threads of one process opening the
same file at once crash it (a bus error in two sweep writers that loaded the emulated Arctic together).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import netCDF4
import xarray as xr

TEMPORARY_SUFFIX = ".part"
NETCDF_LOCK = threading.RLock()
READ_CHUNK_CACHE_BYTES = 2**20
"""HDF5's per-variable chunk cache while :func:`read_netcdf` loads a file whole.

Why small: netCDF-C gives each variable a 64 MiB cache that keeps every decompressed chunk until the file
closes, so loading a file whole held each variable twice at the peak (the emulated Arctic at 100 km, 269
MiB of data, peaked 564 MiB above the interpreter). A chunk larger than the cache is decompressed
straight into the output array; a whole-file read touches each chunk once, so nothing is lost.
"""


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    """Write ``text`` to ``target`` atomically and return the final path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def write_netcdf(ds: xr.Dataset | xr.DataArray, target: str | os.PathLike[str]) -> Path:
    """Write ``ds`` to netCDF-4 (zlib-compressed) atomically and return the final path."""
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "data")
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name, var in ds.data_vars.items()
        if var.dtype.kind in "fiub"
    }
    with atomic_path(target) as tmp, NETCDF_LOCK:
        ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)
    return Path(target)


def read_netcdf(path: str | os.PathLike[str], **options: Any) -> xr.Dataset:
    """A netCDF file loaded into memory and closed again (so it can be replaced), under the lock.

    ``options`` go to :func:`xarray.open_dataset`. The read holds each value once (see
    :data:`READ_CHUNK_CACHE_BYTES`).
    """
    with NETCDF_LOCK, chunk_cache(READ_CHUNK_CACHE_BYTES), xr.open_dataset(path, **options) as ds:
        return ds.load()


@contextmanager
def chunk_cache(size_bytes: int) -> Iterator[None]:
    """netCDF-C's default chunk cache set to ``size_bytes`` for files opened in the block, then restored."""
    before = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(size_bytes, before[1], before[2])
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*before)
