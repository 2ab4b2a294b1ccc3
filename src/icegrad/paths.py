"""Where icegrad finds its embedded data and keeps its cache.

Embedded data (Natural Earth shapes, the land mask) lives in the repository's ``data/`` folder; a
wheel install carries the same files as ``icegrad/_data``. The cache holds everything icegrad can
recompute (the emulated Arctic, trained models, attributions): it defaults to the user cache folder
and follows ``ICEGRAD_CACHE_DIR`` so the book build, the tests and Binder can each point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The folder of embedded data files (``ICEGRAD_DATA_DIR`` overrides it)."""
    override = os.environ.get("ICEGRAD_DATA_DIR")
    candidates = [Path(override)] if override else []
    candidates += [_PACKAGE_DIR / "_data", _PACKAGE_DIR.parents[1] / "data"]
    for candidate in candidates:
        if (candidate / "natural_earth").is_dir():
            return candidate
    raise FileNotFoundError(
        "icegrad's embedded data folder was not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "). Install icegrad from its repository (pip install -e .) or set ICEGRAD_DATA_DIR to the "
        "repository's data/ folder."
    )


def cache_dir() -> Path:
    """The cache folder, created on first use (``ICEGRAD_CACHE_DIR`` overrides the default)."""
    path = Path(os.environ.get("ICEGRAD_CACHE_DIR") or platformdirs.user_cache_dir("icegrad"))
    path.mkdir(parents=True, exist_ok=True)
    return path
