"""Downloading data files safely: retries, atomic writes, content checks and a SHA-256 registry.

Real-data sources fetch many files over flaky networks. :func:`fetch` makes each file either fully
present and verified or absent: pooch's HTTP downloader streams into a temporary file beside the
target (:func:`icegrad.files.atomic_path`), a source-specific ``verify`` callback must accept it (for
netCDF: it opens and holds the expected variable), and only then is it renamed into place and its
SHA-256 recorded in the folder's registry. An interrupted run therefore leaves no partial file, and
re-running it fetches only what is missing. On reuse the file's hash is checked against the
registry, which catches files corrupted or replaced since their download.

The registry is the plain-text format pooch uses (``name sha256:hex`` per line), so the folder can
also serve as a pooch cache.
"""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import netCDF4
import pooch
import requests

from icegrad.cache import file_digest
from icegrad.errors import IcegradError
from icegrad.files import atomic_path

REGISTRY_NAME = "sha256_registry.txt"
TIMEOUT_S = 60
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class DownloadError(IcegradError):
    """A file that could not be fetched; the message names the URL and what to do."""


class RemoteFileMissingError(DownloadError):
    """The server has no such file (HTTP 404)."""


class ChecksumMismatchError(DownloadError):
    """A file whose SHA-256 differs from the one recorded when it was first downloaded."""


class InvalidDownloadError(DownloadError):
    """Downloaded bytes that are not the expected product (truncated, an error page, another file)."""


class ChecksumRegistry:
    """The ``name sha256:hex`` registry file of one download folder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / REGISTRY_NAME
        self._hashes: dict[str, str] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    name, _, digest = line.partition(" ")
                    self._hashes[name] = digest.strip().removeprefix("sha256:")

    def get(self, name: str) -> str | None:
        """The recorded hex SHA-256 of ``name``, or None if it was never recorded."""
        return self._hashes.get(name)

    def record(self, name: str, digest: str) -> None:
        """Store ``digest`` for ``name`` and rewrite the registry atomically."""
        self._hashes[name] = digest
        text = "".join(f"{n} sha256:{d}\n" for n, d in sorted(self._hashes.items()))
        with atomic_path(self.path) as tmp:
            tmp.write_text(text)


def _retryable(err: Exception) -> bool:
    if isinstance(err, requests.HTTPError):
        return err.response is not None and err.response.status_code in RETRY_STATUS
    transient = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                 InvalidDownloadError)
    return isinstance(err, transient)


def _with_retries(url: str, attempt: Callable[[], None], retries: int, backoff_s: float) -> None:
    """Run ``attempt`` until it succeeds; retry transient failures with exponential back-off."""
    for n in range(retries + 1):
        try:
            attempt()
            return
        except (requests.RequestException, InvalidDownloadError) as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status == 404:
                raise RemoteFileMissingError(f"{url} does not exist on the server (HTTP 404); check the "
                                             "month/version is published there") from None
            if not _retryable(err):
                raise DownloadError(f"downloading {url} failed: {err}") from err
            if n == retries:
                raise DownloadError(f"downloading {url} failed after {retries + 1} attempts; last error: "
                                    f"{err}. Check the network and re-run: finished files are kept.") from err
            time.sleep(backoff_s * 2**n)


def get_text(url: str, *, retries: int = 3, backoff_s: float = 2.0) -> str:
    """A small text resource (e.g. an archive's directory listing), with the same retry policy."""
    buffer = io.BytesIO()

    def attempt() -> None:
        buffer.seek(0)
        buffer.truncate()
        pooch.HTTPDownloader(progressbar=False, timeout=TIMEOUT_S)(url, buffer, None)

    _with_retries(url, attempt, retries, backoff_s)
    return buffer.getvalue().decode("utf-8", errors="replace")


def fetch(url: str, target: Path, *, verify: Callable[[Path], None], registry: ChecksumRegistry,
          retries: int = 3, backoff_s: float = 2.0, progressbar: bool = False) -> Path:
    """Make ``target`` a verified copy of ``url`` and return it; reuse it if already verified.

    ``verify(path)`` must raise ``ValueError`` or ``OSError`` for a file that is not the expected
    product; such a download counts as a failed attempt and is retried. A file whose hash differs
    from the registry is re-downloaded once with a warning; if the server's copy also differs,
    :class:`ChecksumMismatchError` is raised and nothing is kept.
    """
    target = Path(target)
    expected = registry.get(target.name)
    if target.exists():
        if expected is None:
            _verify(verify, target, url)
            registry.record(target.name, file_digest(target))
            return target
        if file_digest(target) == expected:
            return target
        warnings.warn(f"{target} no longer matches the SHA-256 recorded at download; fetching it again",
                      stacklevel=2)
        target.unlink()

    def attempt() -> None:
        with atomic_path(target) as tmp:
            pooch.HTTPDownloader(progressbar=progressbar, timeout=TIMEOUT_S)(url, str(tmp), None)
            _verify(verify, tmp, url)
            digest = file_digest(tmp)
            if expected is not None and digest != expected:
                raise ChecksumMismatchError(
                    f"{url} has SHA-256 {digest} but {expected} was recorded in {registry.path} when it was "
                    "first downloaded; the server's file changed (e.g. reprocessed). If that is expected, "
                    f"delete the line for {target.name} from the registry and re-run."
                )
        registry.record(target.name, digest)

    _with_retries(url, attempt, retries, backoff_s)
    return target


def _verify(verify: Callable[[Path], None], path: Path, url: str) -> None:
    try:
        verify(path)
    except (ValueError, OSError) as err:
        raise InvalidDownloadError(f"the file from {url} is not the expected product: {err}") from None


def local_files(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], pattern: str, *,
                recursive: bool, error: type[ValueError], product: str, empty_hint: str) -> list[Path]:
    """The files a user named: a file, a list of files, or a folder searched for ``pattern``.

    Every real-data reader accepts its input this way; ``error`` is the reader's own exception so the
    message names the product (``product``) and how to get files (``empty_hint``).
    """
    if isinstance(path, str | os.PathLike):
        folder = Path(path).expanduser()
        if folder.is_dir():
            found = folder.rglob(pattern) if recursive else folder.glob(pattern)
            files = sorted(f for f in found if not f.name.startswith("."))
            if not files:
                raise error(f"folder {folder} holds no {pattern} files; {empty_hint}")
            return files
        paths = [folder]
    else:
        paths = [Path(q).expanduser() for q in path]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise error(f"{product} file(s) not found: {absent}; check the path")
    return paths


NETCDF_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")
"""File starts of netCDF-3 (classic, 64-bit offset, 64-bit data) and netCDF-4 (HDF5) files."""


def _all_variables(nc: netCDF4.Dataset | netCDF4.Group) -> set[str]:
    names = set(nc.variables)
    for group in nc.groups.values():
        names |= _all_variables(group)
    return names


def open_netcdf(path: str | os.PathLike[str], *, product: str, any_of: Sequence[str],
                error: type[ValueError], hint: str) -> netCDF4.Dataset:
    """Open ``path`` as netCDF only if it is netCDF and holds one of ``any_of`` (at the root or in a group).

    ``product`` reads as a noun phrase with its article, e.g. ``"an NSIDC sea-ice concentration CDR"``.

    The one check every reader and downloader applies before decoding: an HTML error page, a
    truncated download or another product's file is refused with ``error`` naming the file, what it
    is not, and ``hint`` (the fix). The caller closes the returned dataset (use it in ``with``).
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise error(f"{path} cannot be read ({err.strerror}); {hint}") from None
    if not head.startswith(NETCDF_SIGNATURES):
        raise error(f"{path} is not a netCDF file (it starts with {head[:8]!r}); {hint}")
    try:
        nc = netCDF4.Dataset(path)
    except OSError as err:
        raise error(f"{path} cannot be opened as netCDF ({err}); it is truncated or damaged - {hint}") \
            from None
    if not _all_variables(nc) & set(any_of):
        names = sorted(_all_variables(nc))
        nc.close()
        raise error(f"{path} is not {product} file: it has none of the variables {list(any_of)} (it has "
                    f"{names[:8]}); {hint}")
    return nc
