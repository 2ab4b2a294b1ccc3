"""Shared test fixtures: where the optional shared reference material lives, and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("ICEGRAD_SHARED_DIR", REPO_ROOT.parent / "shared"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """The shared reference folder (../shared/reference); tests using it skip when it is absent."""
    path = SHARED_DIR / "reference"
    if not path.is_dir():
        pytest.skip(f"shared reference material not found at {path}")
    return path


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point icegrad's cache at a fresh temporary folder for one test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(cache))
    return cache
