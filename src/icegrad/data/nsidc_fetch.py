"""Downloading NOAA/NSIDC CDR monthly files from NSIDC's public HTTPS archive (no account needed).

The *fetch* step of the NSIDC reader: names come from the archive's listing (the platform code in a
file name changes with the satellite), each file goes through the shared helper
:func:`icegrad.data.download.fetch` (retries, atomic writes, SHA-256 registry, resume) and must
decode as the expected product (:func:`icegrad.data.nsidc_files.verify_monthly_file`).
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from pathlib import Path

import pandas as pd

from icegrad.data.download import ChecksumRegistry, fetch, get_text
from icegrad.data.nsidc_files import (
    NSIDC_DIR_ENV,
    PRODUCTS,
    MissingMonthError,
    NSIDCGapWarning,
    UnknownVersionError,
    describe_months,
    verify_monthly_file,
)
from icegrad.data.schema import month_starts
from icegrad.paths import cache_dir as icegrad_cache_dir
from icegrad.progress import bar as progress_bar


def default_folder(version: int = 4) -> Path:
    """Where :func:`download` stores files and :func:`load` looks for them by default."""
    override = os.environ.get(NSIDC_DIR_ENV)
    return Path(override).expanduser() if override else icegrad_cache_dir() / "nsidc" / f"G02202_V{version}"


def remote_files(listing_html: str, version: int) -> dict[pd.Timestamp, str]:
    """Month -> file name from an archive directory listing.

    The platform code in NSIDC's names (n07, f08, f11, f13, f17, ...) changes with the satellite,
    so names are taken from the listing rather than guessed. Should a month appear under two
    platforms, the later platform (higher code) is used, as NSIDC's own record does after overlaps.
    """
    pattern = PRODUCTS[version].file_pattern
    found: dict[pd.Timestamp, str] = {}
    for match in sorted(pattern.finditer(listing_html), key=lambda m: m.group("platform")):
        found[pd.Timestamp(f"{match.group('month')[:4]}-{match.group('month')[4:]}-01")] = match.group(0)
    return found


def download(start: str, end: str, version: int = 4, cache_dir: str | os.PathLike[str] | None = None, *,
             base_url: str | None = None, retries: int = 3, backoff_s: float = 2.0,
             skip_absent: bool = False) -> list[Path]:
    """Fetch the monthly NH CDR files for ``start..end`` over HTTPS (no account needed).

    Files go to ``cache_dir`` (default :func:`default_folder`); each is checked to decode as the
    expected product and its SHA-256 is recorded in the folder's registry and verified on reuse, so
    re-running after an interruption fetches only what is missing. ``base_url`` points at a mirror.
    Months the archive lacks raise :class:`MissingMonthError`, or with ``skip_absent`` are left out
    with an :class:`NSIDCGapWarning` (the SSM/I outage of 1987-12..1988-01 is such a gap).
    Returns the local paths in month order.
    """
    if version not in PRODUCTS:
        raise UnknownVersionError(f"version={version!r}; NSIDC G02202 versions {sorted(PRODUCTS)} can be "
                                  "downloaded")
    months = month_starts(start, end)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_folder(version)
    folder.mkdir(parents=True, exist_ok=True)
    url = base_url or PRODUCTS[version].archive_url
    url = url if url.endswith("/") else url + "/"
    pattern = PRODUCTS[version].file_pattern
    local = {pd.Timestamp(f"{m.group('month')[:4]}-{m.group('month')[4:]}-01"): m.group(0)
             for f in folder.glob("*.nc") if (m := pattern.fullmatch(f.name))}
    names = {m: local[m] for m in months if m in local}
    if len(names) < len(months):
        remote = remote_files(get_text(url, retries=retries, backoff_s=backoff_s), version)
        absent = [m for m in months if m not in remote and m not in local]
        if absent and not skip_absent:
            raise MissingMonthError(f"month(s) {describe_months(absent)} are not in the NSIDC archive {url}, "
                                    f"which lists {describe_months(remote)}")
        if absent:
            warnings.warn(f"the NSIDC archive {url} lacks {describe_months(absent)}; downloading the other "
                          "months", NSIDCGapWarning, stacklevel=2)
        names.update({m: remote[m] for m in months if m not in names and m in remote})
    registry = ChecksumRegistry(folder)
    check = partial(verify_monthly_file, version=version)
    wanted = [m for m in months if m in names]
    return [fetch(url + names[m], folder / names[m], verify=check, registry=registry, retries=retries,
                  backoff_s=backoff_s)
            for m in progress_bar(wanted, desc=f"NSIDC G02202 v{version} monthly files", unit="file")]
