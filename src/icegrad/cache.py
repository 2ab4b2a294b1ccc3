"""The disk cache of every stage icegrad can recompute, and the hashing that names its entries.

Why one module: a cache entry is only as trustworthy as the checks made when it is read back, so the
writing, the naming and the checking of entries live together. An entry is
``<cache_dir>/<stage>/<key><suffix>`` (a netCDF file, or a folder for a trained ensemble) named by
:func:`parameter_key` of the parameters that decide it. Beside it, ``<entry>.entry.json`` is written
last, once the entry is complete: the cache format version, the stage, the creation time, the
parameters and each file's size and SHA-256. An entry without that record does not count.

On read, an entry that is unrecorded, of another cache format, truncated, changed since it was
written (checksum), unreadable or implausible (values outside the variable's valid range, or
non-finite where none may be: :func:`implausibility`) is named in one line on stderr and recomputed.
A killed write, a damaged disk or a bug that once wrote SIC = 5 costs time, never a wrong number.

``ICEGRAD_REFRESH`` (:data:`REFRESH_ENV`) holding a UNIX time makes entries written before it count
as absent, so one ``--refresh`` build recomputes each entry once (papermill kernels inherit it).
:func:`describe`, :func:`verify` and :func:`clear` back ``icegrad cache``.

Example
-------
>>> parameter_key({"b": 2, "a": 1}) == parameter_key({"a": 1, "b": 2})
True
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar
from zipfile import BadZipFile

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; processes side by side may compute an entry twice
    fcntl = None  # type: ignore[assignment]

import numpy as np
import xarray as xr

import icegrad
from icegrad.errors import IcegradError
from icegrad.files import TEMPORARY_SUFFIX, read_netcdf, write_netcdf, write_text
from icegrad.paths import cache_dir
from icegrad.variables import VALID_RANGES

T = TypeVar("T")

FORMAT_VERSION = 1
"""Version of the entry record and of the entry layout; an entry of another version is recomputed."""

REFRESH_ENV = "ICEGRAD_REFRESH"
"""Environment variable: a UNIX time; entries written before it count as absent."""

RECORD_SUFFIX = ".entry.json"
LOCKS_FOLDER = "locks"
"""Where :func:`entry_lock` keeps its lock files (not a stage: never listed, verified or cleared)."""
ORPHAN_AGE_S = 600.0
"""Seconds after which an untouched temporary file is an orphan of a killed write: a live write keeps
touching its temporary (a download streams into it, an ensemble folder is filled in seconds)."""

STAGES: dict[str, str] = {
    "emulator": ".nc", "nsidc": ".nc", "osisaf": ".nc", "era5": ".nc", "models": "",
    "attributions": ".nc", "permutation_importance": ".nc", "baselines": ".nc",
}
"""Every cached stage and the suffix of its entries (``""``: a folder). A stage's folder may also hold
files that are not entries (the readers' downloads): only key-named items are ever touched."""

_KEY = re.compile(r"[0-9a-f]{16}")
_LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, BadZipFile)


class CacheError(IcegradError):
    """A cache stage name or refresh setting that icegrad cannot use."""


# ----------------------------------------------------------------------------------------------
# Hashing: the names of entries and the fingerprints of what they were computed from


def parameter_key(params: Mapping[str, Any]) -> str:
    """A short stable hash of JSON-serialisable parameters, used to name cache entries."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def array_digest(*arrays: np.ndarray) -> str:
    """A short hash of the bytes of ``arrays`` (inputs, ROI masks, baselines in a cache key)."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()[:16]


_PER_MODEL: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def once_per_model(model: Any, name: str, compute: Callable[[Any], str]) -> str:
    """``compute(model)``, remembered under ``name`` for as long as ``model`` lives.

    For what a built Keras model keeps for life, its architecture: Keras rebuilds its configuration
    from every layer at each ``get_config``/``to_json`` (~13 ms for the book's 100 km network), and
    cache keys and shared engines asked for it per member at every attribution (~1,000 times in ch. 9,
    measured). Never for weights, which change in place.
    """
    try:
        memo = _PER_MODEL.setdefault(model, {})
    except TypeError:  # an object that cannot be weakly referenced: computed every time
        return compute(model)
    if name not in memo:
        memo[name] = compute(model)
    return memo[name]


def model_digest(model: Any) -> str:
    """A short hash of a Keras model's architecture and weights: a retrained network gets a new key.

    The weights are read at every call, so weights changed in place give a new key.
    """
    sha = hashlib.sha256(once_per_model(model, "json", lambda m: m.to_json()).encode())
    for weight in model.get_weights():
        sha.update(np.ascontiguousarray(weight).tobytes())
    return sha.hexdigest()[:16]


def dataset_fingerprint(ds: xr.Dataset) -> str:
    """A hash of a dataset's variables and months, so an entry never outlives the data it came from."""
    digest = hashlib.sha256()
    for name in sorted(ds.data_vars):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(ds[name].values))  # the buffer itself: tobytes() copied it
    # Time in one fixed precision: freshly generated data and data read back from netCDF may carry
    # datetime64[us] and [ns] for the same months, which must not change the key.
    digest.update(np.asarray(ds["time"].values).astype("datetime64[ns]").tobytes())
    return digest.hexdigest()[:16]


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_fingerprint(files: Iterable[Path]) -> str:
    """A short hash of files' paths, sizes and modification times: a changed download changes the key."""
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def source_fingerprint(folder: Path) -> str:
    """A short hash of the ``*.py`` files of a package folder: edited code never serves stale results."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


# ----------------------------------------------------------------------------------------------
# Plausibility: values no correct computation can produce


@dataclass(frozen=True)
class ValidRange:
    """The values a variable may hold; ``nan`` says where it may be non-finite: never, land or any."""

    low: float = -math.inf
    high: float = math.inf
    nan: str = "never"


_RULES: dict[str, ValidRange] = {
    **{name: ValidRange(low, high, "land" if name in ("siconca", "tos") else "never")
       for name, (low, high) in VALID_RANGES.items()},
    "attribution": ValidRange(), "input": ValidRange(),
    "target_value": ValidRange(0.0, 1.0), "baseline_target_value": ValidRange(0.0, 1.0),
    "importance": ValidRange(-100.0, 100.0), "accuracy": ValidRange(0.0, 100.0),
    "reference_accuracy": ValidRange(0.0, 100.0),
}
"""Valid ranges of the variables cached entries hold, by name (percent for permutation accuracies)."""


def valid_range(name: str) -> ValidRange | None:
    """The valid range of a cached variable, or None for one icegrad does not judge.

    Normalisation statistics follow their variable: ``<var>_climatology`` its range (NaN allowed: the
    statistics carry no land mask), ``<var>_mean`` finite, ``<var>_std`` positive.
    """
    if name in _RULES:
        return _RULES[name]
    variable, _, kind = name.rpartition("_")
    if variable not in VALID_RANGES:
        return None
    rule = _RULES[variable]
    return {"climatology": ValidRange(rule.low, rule.high, "any" if rule.nan == "land" else "never"),
            "mean": ValidRange(), "std": ValidRange(low=math.ulp(0.0))}.get(kind)


def implausibility(ds: xr.Dataset) -> str | None:
    """Why ``ds`` holds impossible values (e.g. ``"implausible (siconca spans 0 to 5, ...)"``), or None."""
    land = ds["land"].astype(bool) if "land" in ds.coords else None
    for name, var in ds.data_vars.items():
        rule = valid_range(str(name))
        if rule is None or var.dtype.kind not in "fiu":
            continue
        values = var.values
        if rule.nan == "never" or (rule.nan == "land" and land is not None):
            forbidden = ~np.isfinite(var) & ~land if rule.nan == "land" else ~np.isfinite(var)
            if bool(forbidden.any()):
                return (f"implausible ({int(forbidden.sum())} non-finite {name} value(s) where none may "
                        "be)")
        # fmin/fmax skip NaN without the masked copies var.where(...) made (two of the array per variable:
        # ~130 MiB of transient memory for an 80 MiB attribution result); an infinity counts as out of range
        if values.size == 0:
            continue
        low, high = float(np.fmin.reduce(values, axis=None)), float(np.fmax.reduce(values, axis=None))
        if not np.isnan(low) and (low < rule.low or high > rule.high):  # all NaN: nothing to range-check
            return (f"implausible ({name} spans {low:.3g} to {high:.3g}, outside its valid range "
                    f"{rule.low:g} to {rule.high:g})")
    return None


# ----------------------------------------------------------------------------------------------
# Entries: writing, recording, checking, reusing


def refresh_since() -> float | None:
    """The UNIX time in :data:`REFRESH_ENV` (entries older than it count as absent), or None."""
    text = os.environ.get(REFRESH_ENV, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise CacheError(f"{REFRESH_ENV}={text!r} is not a UNIX timestamp; unset it, or set it to the "
                         f"time from which to recompute, e.g. {REFRESH_ENV}=$(date +%s)") from None


def entry_path(stage: str, params: Mapping[str, Any]) -> Path:
    """Where the entry of ``stage`` for ``params`` lives (whether or not it exists)."""
    if stage not in STAGES:
        raise CacheError(f"unknown cache stage {stage!r}; choose one of {', '.join(STAGES)}")
    return cache_dir() / stage / f"{parameter_key(params)}{STAGES[stage]}"


def record_path(entry: Path) -> Path:
    """The record of ``entry``: its format version, parameters and files' checksums."""
    return entry.with_name(entry.name + RECORD_SUFFIX)


def _entry_files(entry: Path) -> list[Path]:
    return sorted(p for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else [entry]


def commit(entry: Path, stage: str, params: Mapping[str, Any]) -> Path:
    """Write the record of a complete entry (each file's size and SHA-256); it is what makes it count."""
    record = {
        "icegrad_cache": FORMAT_VERSION, "stage": stage, "created": time.time(),
        "icegrad_version": icegrad.__version__, "parameters": json.loads(json.dumps(params, default=str)),
        "files": {str(f.relative_to(entry.parent)): {"bytes": f.stat().st_size, "sha256": file_digest(f)}
                  for f in _entry_files(entry)},
    }
    return write_text(json.dumps(record, indent=1, sort_keys=True), record_path(entry))


def store(entry: Path, stage: str, params: Mapping[str, Any], write: Callable[[Path], object]) -> None:
    """Write an entry with ``write`` (which must write ``entry`` atomically), then its record.

    The old record goes first, so at no moment does a record vouch for files it did not check.
    """
    record_path(entry).unlink(missing_ok=True)
    write(entry)
    commit(entry, stage, params)


def _record(entry: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The entry's record, or why there is no usable one."""
    path = record_path(entry)
    if not path.is_file():
        return None, "unrecorded (no checksum record: written by an older icegrad or an interrupted write)"
    try:
        record = json.loads(path.read_text())
        version, files = record["icegrad_cache"], dict(record["files"])
        float(record["created"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"unreadable (its record {path.name}: {err})"
    if version != FORMAT_VERSION:
        return None, f"stale (cache format {version}; this icegrad writes format {FORMAT_VERSION})"
    if not files:
        return None, "incomplete (its record lists no files)"
    return record, None


def damage(entry: Path) -> str | None:
    """Why the entry's files are not what its record vouches for (missing, truncated, changed), or None."""
    record, problem = _record(entry)
    if record is None:
        return problem
    for name, expected in record["files"].items():
        file = entry.parent / name
        if not file.is_file():
            return f"incomplete ({file.name} is missing)"
        size = file.stat().st_size
        if size < expected["bytes"]:
            return f"truncated ({file.name} has {size} of {expected['bytes']} bytes)"
        if size != expected["bytes"] or file_digest(file) != expected["sha256"]:
            return f"corrupted ({file.name} does not match its SHA-256 checksum)"
    return None


def _refreshed(entry: Path) -> bool:
    """Whether :data:`REFRESH_ENV` asks for ``entry`` (written before it) to be recomputed."""
    since = refresh_since()
    if since is None:
        return False
    record, _ = _record(entry)
    return record is not None and float(record["created"]) < since


def announce(entry: Path, problem: str) -> None:
    """Name a bad entry in one line on stderr (no traceback: it is handled by recomputing)."""
    print(f"icegrad: cache entry {entry} is {problem}; recomputing", file=sys.stderr, flush=True)


def lock_path(entry: Path) -> Path:
    """The lock file :func:`entry_lock` takes for ``entry``."""
    return cache_dir() / LOCKS_FOLDER / f"{entry.parent.name}-{entry.name}.lock"


@contextmanager
def entry_lock(entry: Path) -> Iterator[None]:
    """Hold ``entry`` for this process while it is checked, computed and stored.

    Chapters that run side by side (``icegrad book --jobs``) often need the same entry, e.g. the
    run's integrated gradients; without the lock both would compute it. With it the second waits
    (saying so in one line) and then reads what the first stored. An advisory ``flock``, released by
    the system if the holder dies; where locks cannot be taken (no ``fcntl``, a read-only cache) the
    entry is used without one, as before. :func:`clear` removes an unheld lock file with its entry, so
    a lock taken on a file that was removed meanwhile is dropped and taken again on the current file.
    """
    path = lock_path(entry)
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")
        except OSError:
            handle = None
        if handle is None or fcntl is None:
            if handle is not None:
                handle.close()
            yield
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"icegrad: waiting for another process to finish cache entry {entry}", file=sys.stderr,
                  flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        if _is_current(handle, path):
            break
        handle.close()
    with handle:
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _is_current(handle: IO[str], path: Path) -> bool:
    """Whether the open lock file ``handle`` is still the file at ``path`` (not removed by a clear)."""
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def _remove_unheld_lock(entry: Path) -> None:
    """Remove ``entry``'s lock file unless a process holds it (then it stays, harmless and tiny).

    It is unlinked only while locked and only if it is still the file at its path: another clear may have
    removed it meanwhile and a process may hold its successor.
    """
    if fcntl is None:
        return
    path = lock_path(entry)
    try:
        handle = open(path)
    except OSError:
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return
        if _is_current(handle, path):
            path.unlink(missing_ok=True)  # while locked: a process that opened it will see it is gone


def cached(stage: str, params: Mapping[str, Any], compute: Callable[[], T], *, load: Callable[[Path], T],
           save: Callable[[T, Path], object], check: Callable[[T], str | None] | None = None,
           refresh: bool = False) -> T:
    """The entry of ``stage`` for ``params``, reused if intact and plausible, else computed and stored.

    ``save(value, path)`` must write atomically and ``load(path)`` read it back; ``check(value)``
    names an implausibility or returns None. ``refresh`` recomputes whatever is cached. A computed
    value is returned as read back from its entry: the first run and every later run then see the
    same object (a network or dataset fresh in memory can differ from its saved copy in ways that
    change later cache keys, e.g. the time precision of a dataset).
    """
    entry = entry_path(stage, params)
    with entry_lock(entry):
        return _reuse_or_compute(entry, stage, params, compute, load=load, save=save, check=check,
                                 refresh=refresh)


def _reuse_or_compute(entry: Path, stage: str, params: Mapping[str, Any], compute: Callable[[], T], *,
                      load: Callable[[Path], T], save: Callable[[T, Path], object],
                      check: Callable[[T], str | None] | None, refresh: bool) -> T:
    if not refresh and (entry.exists() or record_path(entry).exists()) and not _refreshed(entry):
        problem = damage(entry)
        if problem is None:
            try:
                value = load(entry)
            except _LOAD_ERRORS as err:
                problem = f"unreadable ({type(err).__name__}: {err})"
            else:
                problem = check(value) if check is not None else None
                if problem is None:
                    return value
        announce(entry, problem)
    value = compute()
    store(entry, stage, params, lambda path: save(value, path))
    return load(entry)


def cached_netcdf(stage: str, params: Mapping[str, Any], compute: Callable[[], xr.Dataset], *,
                  refresh: bool = False) -> xr.Dataset:
    """:func:`cached` for a dataset stored as one netCDF file and judged by :func:`implausibility`.

    The parameters are also stored as the ``cache_parameters`` attribute, so the file says what it holds.
    """
    def computed() -> xr.Dataset:
        ds = compute()
        ds.attrs["cache_parameters"] = json.dumps(params, sort_keys=True, default=str)
        return ds

    return cached(stage, params, computed, load=read_netcdf, save=write_netcdf, check=implausibility,
                  refresh=refresh)


# ----------------------------------------------------------------------------------------------
# The whole cache: describe, verify, clear


def _entries(stage: str | None = None) -> Iterator[tuple[str, Path]]:
    """Every entry of ``stage`` (or all stages): key-named items with or without a record."""
    if stage is not None and stage not in STAGES:
        raise CacheError(f"unknown cache stage {stage!r}; choose one of {', '.join(STAGES)}")
    root = cache_dir()
    for name, suffix in STAGES.items():
        folder = root / name
        if (stage is not None and name != stage) or not folder.is_dir():
            continue
        found = set()
        for item in folder.iterdir():
            entry = item.with_name(item.name.removesuffix(RECORD_SUFFIX))
            named = entry.name.endswith(suffix) and _KEY.fullmatch(entry.name.removesuffix(suffix))
            if named and (entry.is_dir() == (suffix == "") or not entry.exists()):
                found.add(entry)
        yield from ((name, entry) for entry in sorted(found))


def _size(entry: Path) -> int:
    files = _entry_files(entry) if entry.exists() else []
    record = record_path(entry)
    return sum(f.stat().st_size for f in files) + (record.stat().st_size if record.exists() else 0)


def _human(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")


def describe() -> str:
    """A table of the cache: entries and size per stage, the total, and the cache folder."""
    counts = {stage: [0, 0] for stage in STAGES}
    for stage, entry in _entries():
        counts[stage][0] += 1
        counts[stage][1] += _size(entry)
    lines = [f"icegrad cache in {cache_dir()}", f"  {'stage':<24}{'entries':>8}{'size':>12}"]
    lines += [f"  {stage:<24}{n:>8}{_human(size):>12}" for stage, (n, size) in counts.items()]
    total_n, total_size = (sum(v[i] for v in counts.values()) for i in (0, 1))
    lines.append(f"  {'total':<24}{total_n:>8}{_human(total_size):>12}")
    return "\n".join(lines)


def _content_problem(entry: Path) -> str | None:
    """Why the netCDF files of an (intact) entry cannot be read or hold impossible values, or None."""
    for file in (f for f in _entry_files(entry) if f.suffix == ".nc"):
        try:
            ds = read_netcdf(file)
        except _LOAD_ERRORS as err:
            return f"unreadable ({file.name}: {type(err).__name__}: {err})"
        problem = implausibility(ds)
        if problem is not None:
            return problem if file == entry else f"{problem} in {file.name}"
    return None


def remove_orphans(max_age_s: float = ORPHAN_AGE_S) -> int:
    """Remove temporary files and folders of writes killed more than ``max_age_s`` ago; return how many."""
    root, now, removed = cache_dir(), time.time(), 0
    for suffix in (TEMPORARY_SUFFIX, ".old"):
        for path in list(root.rglob(f".*{suffix}")):
            if not path.exists() or now - path.lstat().st_mtime < max_age_s:
                continue
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed += 1
    return removed


def verify() -> tuple[str, int]:
    """Check every entry (record, format, checksums, readability, plausibility); removes orphans.

    Returns the report (one line per bad entry, then a summary line) and the number of bad entries.
    Bad entries are left in place: each is recomputed when next used, or removed by :func:`clear`.
    """
    orphans = remove_orphans()
    entries = list(_entries())
    bad = []
    for _, entry in entries:
        problem = damage(entry) or _content_problem(entry)
        if problem is not None:
            bad.append(f"icegrad: cache entry {entry} is {problem}")
    summary = f"{len(entries)} cache entries checked in {cache_dir()}: {len(bad)} bad"
    if orphans:
        summary += f"; removed {orphans} orphaned temporary file(s)"
    return "\n".join([*bad, summary]), len(bad)


def clear(stage: str | None = None) -> int:
    """Remove the entries of ``stage`` (all stages if None) and orphaned temporaries; return how many entries.

    Only entries are removed (key-named items of a stage folder and their records) with their lock files
    when no process holds them, never a download or any other file kept in the cache folder. A record
    goes before its files, so an interrupted clear leaves nothing that counts as an entry.
    """
    entries = list(_entries(stage))
    remove_orphans()
    for _, entry in entries:
        record_path(entry).unlink(missing_ok=True)
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink(missing_ok=True)
        _remove_unheld_lock(entry)
    return len(entries)
