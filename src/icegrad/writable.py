"""Checks that an output file or a store folder can be written, made before any work starts.

A run that trains for minutes and then finds its output path is a folder, read-only, or under a
parent that cannot be created has wasted the user's time. These checks look at the filesystem
only (nothing is created but a probe file, removed at once), so the CLI can run them in
milliseconds before it builds data or trains a model. Each failure is one
:class:`~icegrad.errors.PathError` line naming the path and the fix.

Example
-------
>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> check_output_file(folder / "new" / "ig.nc") == folder / "new" / "ig.nc"
True
>>> check_output_file(folder)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
icegrad.errors.PathError: output '...' is a folder; give a file path inside it, e.g. '.../attributions.nc'
>>> folder.rmdir()  # nothing was left in it
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from icegrad.errors import PathError


def check_output_file(path: str | Path, what: str = "output") -> Path:
    """``path`` as a Path if a file can be written there (its missing parents created on write)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise PathError(f"{what} {str(path)!r} is a folder; give a file path inside it, "
                        f"e.g. {str(path / 'attributions.nc')!r}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PathError(f"{what} {str(path)!r} exists and is read-only; choose another path or make it "
                        "writable")
    _check_parent(path, what)
    return path


def check_store_folder(path: str | Path, what: str = "store") -> Path:
    """``path`` as a Path if it is (or can be created as) a writable folder."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise PathError(f"{what} {str(path)!r} is a file, not a folder; give a folder path (a new one "
                        "is created)")
    if path.is_dir():
        _probe(path, path, what)
        return path
    _check_parent(path, what)
    return path


def _check_parent(path: Path, what: str) -> None:
    """The nearest existing ancestor of ``path`` must be a writable folder, so the rest can be made."""
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PathError(f"{what} {str(path)!r} cannot be created: {str(ancestor)!r} is a file, not a "
                        "folder; choose a path under a folder")
    _probe(ancestor, path, what)


def _probe(folder: Path, path: Path, what: str) -> None:
    """Write and remove a probe file: the only honest test (permissions, read-only mounts, quotas)."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".icegrad-probe-"):
            pass
    except OSError as err:
        raise PathError(f"{what} {str(path)!r} cannot be written: folder {str(folder)!r} is not writable "
                        f"({err.strerror}); choose a writable folder") from None
