"""Downloading OSI SAF daily sea-ice concentration files from the Norwegian Meteorological Institute.

The *fetch* step of the OSI SAF reader: one file per day through the shared helper
:func:`icegrad.data.download.fetch` (retries, atomic writes, a SHA-256 registry per month folder,
resume), each checked by :func:`icegrad.data.osisaf_files.check_file`; days the archive lacks are
remembered per month so they are not asked for again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from icegrad.data import catalogue
from icegrad.data.download import ChecksumRegistry, RemoteFileMissingError, fetch
from icegrad.data.osisaf_files import DEFAULT_VERSION, OSISAF_DIR_ENV, OSISAFError, check_file, product_for
from icegrad.data.schema import month_starts
from icegrad.files import atomic_path
from icegrad.paths import cache_dir as icegrad_cache_dir
from icegrad.progress import bar as progress_bar

DEFAULT_BASE_URL = catalogue.OSISAF_BASE_URL
MONTH_MANIFEST = "icegrad_month.json"


@dataclass
class DownloadReport:
    """What :func:`download` found: the daily files of each month and the days the archive lacks."""

    files: dict[pd.Timestamp, list[Path]] = field(default_factory=dict)
    missing_days: list[pd.Timestamp] = field(default_factory=list)


def default_folder(version: str = DEFAULT_VERSION) -> Path:
    """Where daily files are stored: ``$ICEGRAD_OSISAF_DIR``, else ``<icegrad cache>/osisaf/<version>``.

    One folder per version, since a record must not mix versions (:func:`index_files`).
    """
    override = os.environ.get(OSISAF_DIR_ENV)
    return Path(override).expanduser() if override else icegrad_cache_dir() / "osisaf" / version


def _month_folder(folder: Path, month: pd.Timestamp) -> Path:
    return folder / f"{month:%Y}" / f"{month:%m}"


def _read_manifest(month_dir: Path) -> set[pd.Timestamp]:
    """Days recorded as absent from the archive by an earlier complete download of this month."""
    path = month_dir / MONTH_MANIFEST
    if not path.exists():
        return set()
    return {pd.Timestamp(d) for d in json.loads(path.read_text())["missing_days"]}


def _write_manifest(month_dir: Path, missing: list[pd.Timestamp], url: str) -> None:
    with atomic_path(month_dir / MONTH_MANIFEST) as tmp:
        tmp.write_text(json.dumps({"missing_days": [f"{d:%Y-%m-%d}" for d in missing], "archive": url}))


def download(start: str, end: str, folder: str | os.PathLike[str] | None = None, *,
             version: str = DEFAULT_VERSION, base_url: str | None = None, recheck_missing: bool = False,
             retries: int = 3, backoff_s: float = 2.0) -> DownloadReport:
    """Fetch the daily files of ``start..end`` (``"YYYY-MM"``) of OSI SAF record ``version`` over HTTPS.

    ``version="v3p0"`` (default) fetches OSI-450-a / OSI-430-a, ``"v2p0"`` IceNet's OSI-450 / OSI-430-b.

    Files are stored as ``<folder>/YYYY/MM/<name>`` (``folder`` defaults to :func:`default_folder`)
    with the shared downloader: retries, a file appears only when complete and readable as OSI SAF
    SIC, and its SHA-256 is recorded per month folder and checked on reuse, so an interrupted run
    resumes where it stopped. A day the archive lacks (HTTP 404) is tolerated and listed; once a month
    is complete its absent days are remembered and not asked for again unless ``recheck_missing``.
    Any other failure (network down, corrupt file, checksum change) raises a
    :class:`~icegrad.data.download.DownloadError`.
    """
    months = month_starts(start, end)
    if not len(months):
        raise OSISAFError(f"start={start!r} is after end={end!r}")
    for month in months:
        product_for(month, version)
    root = Path(folder).expanduser() if folder is not None else default_folder(version)
    base = base_url or DEFAULT_BASE_URL
    report = DownloadReport()
    for month in progress_bar(months, desc=f"OSI SAF {version} daily files", unit="month"):
        product = product_for(month, version)
        month_dir = _month_folder(root, month)
        month_dir.mkdir(parents=True, exist_ok=True)
        known_missing = set() if recheck_missing else _read_manifest(month_dir)
        registry = ChecksumRegistry(month_dir)
        files, missing = [], []
        for day in pd.date_range(month, month + pd.offsets.MonthEnd(0), freq="D"):
            if day in known_missing:
                missing.append(day)
                continue
            try:
                target = month_dir / product.file_name(day)
                files.append(fetch(product.url(base, day), target, verify=check_file, registry=registry,
                                   retries=retries, backoff_s=backoff_s))
            except RemoteFileMissingError:
                missing.append(day)
        _write_manifest(month_dir, missing, f"{base.rstrip('/')}/{product.folder}")
        report.files[month] = files
        report.missing_days.extend(missing)
    return report
