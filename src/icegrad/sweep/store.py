"""A sweep store: one folder of per-job result files that loses nothing and mixes nothing.

Layout::

    store/
      store.json        manifest: format, the settings every job shares, the ensemble's identity
      .lock             taken shared by writers, exclusively by the clean-up of orphaned temporaries
      jobs/<key>.json   one record per job: its axes, and once done the result's size and sha256
      jobs/<key>.nc     the job's result, renamed into place only when complete
      index.csv         one row per job (axes, file, done), refreshed after each run: a view only
      ensemble/         the saved ensemble, when the store was made by ``icegrad attribute --sweep``

Why this shape:

* **Nothing is mixed.** The manifest is written once, atomically and only if absent, when the store
  is created. Jobs whose settings (the :class:`~icegrad.config.RunConfig` fields that decide results,
  see :mod:`~icegrad.sweep.jobs`) or ensemble differ are refused with the differences
  named, so the results read back together were all made the same way.
* **Nothing is deleted by mistake.** A folder that is neither empty nor a store is refused and left
  untouched: only a store's own temporaries are ever removed.
* **Concurrent writers lose nothing.** No file is read, modified and written back by two writers: a
  job's record is created when it is planned (only if absent, so a planner never hides a finished
  job) and replaced only by the process that finished the job.
* **Damage is found.** A truncated result or one damaged data chunk still opens as netCDF, so done-ness
  is the result's sha256 matching its record, checked on every resume; a mismatch runs the job again.
* **Killed writes leave no litter.** Writers hold the lock while any temporary ``.part`` file of
  theirs exists (shared; exclusively while writing a result and its record, so the two agree);
  opening a store takes it exclusively *without waiting* and deletes the ``.part`` files, which then
  can only be orphans of a killed writer.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from icegrad.attribution.results import save_result
from icegrad.cache import parameter_key
from icegrad.errors import ConfigError
from icegrad.files import atomic_path
from icegrad.sweep.jobs import JOB_AXES, Job, SweepError, frozen_settings, plain

log = logging.getLogger(__name__)

MANIFEST_FILE = "store.json"
JOBS_DIR = "jobs"
INDEX_FILE = "index.csv"
LOCK_FILE = ".lock"
ENSEMBLE_DIR = "ensemble"
STORE_FORMAT = "icegrad-sweep-2"
_OWN_TEMPORARY = re.compile(rf"^\.({re.escape(MANIFEST_FILE)}|{re.escape(INDEX_FILE)}|{ENSEMBLE_DIR})\."
                            r".*\.part$")
"""Temporaries the store's writers leave in its top folder (``atomic_path`` and ensemble saving)."""


# ------------------------------------------------------------------------------------------ manifest

def ensemble_identity(manifest: Mapping[str, Any]) -> str:
    """A digest of an ensemble's manifest, the same in memory and as saved (file lists left out)."""
    return parameter_key({k: v for k, v in manifest.items() if k not in ("channels", "member_files")})


def check_store(store: str | os.PathLike[str], settings: Mapping[str, Any],
                ensemble: str | None = None) -> None:
    """Refuse ``store`` unless results of ``settings`` (and ``ensemble``, when known) may go there.

    Reads only, so it can run before any training: a new or empty folder, or a store made with the
    same settings, passes; a file, an unwritable folder, a non-empty folder that is not a store, or a
    store of other settings is refused with one line naming the folder and the fix.
    """
    store = Path(store)
    if store.exists() and not store.is_dir():
        raise SweepError(f"sweep store {store} is a file; pass a folder (new or empty) for the store")
    writable = next(p for p in (store, *store.absolute().parents) if p.exists())
    if not os.access(writable, os.W_OK):
        raise SweepError(f"sweep store {store} cannot be written ({writable} is read-only); choose a folder "
                         "you can write to")
    if not (store / MANIFEST_FILE).is_file():
        _refuse_foreign_folder(store)
        if not (store / MANIFEST_FILE).is_file():  # else another writer created the store meanwhile
            return
    stored = read_manifest(store)
    wanted = {**plain(settings), **({"ensemble": ensemble} if ensemble is not None else {})}
    have = {**stored["settings"], "ensemble": stored["ensemble"]}
    differing = [f"{name}={wanted[name]!r} (store: {have.get(name)!r})" for name in sorted(wanted)
                 if have.get(name) != wanted[name]]
    if differing:
        raise SweepError(f"sweep store {store} holds results of other settings: {', '.join(differing)}; "
                         "results of different settings must not mix: use a new store folder for these")


def _refuse_foreign_folder(store: Path) -> None:
    if not store.is_dir():
        return
    names = {p.name for p in store.iterdir()}
    if MANIFEST_FILE in names:  # created by a concurrent writer since the caller looked: a store after all
        return
    foreign = sorted(name for name in names if name != LOCK_FILE and not _OWN_TEMPORARY.match(name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise SweepError(f"{store} is a non-empty folder ({shown}) but not a sweep store (no "
                         f"{MANIFEST_FILE}); nothing was changed: pass a new or empty folder as the store")


def read_manifest(store: str | os.PathLike[str]) -> dict[str, Any]:
    """The store's manifest; a missing, unreadable or foreign one is named with its file."""
    path = Path(store) / MANIFEST_FILE
    if not path.is_file():
        raise SweepError(f"{store} is not a sweep store (no {MANIFEST_FILE}); create one with run_sweep "
                         "or icegrad attribute --sweep")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SweepError(f"cannot read the sweep manifest {path} ({err}); the store's settings are unknown, "
                         "so use a new store folder") from None
    if (not isinstance(manifest, dict) or manifest.get("format") != STORE_FORMAT
            or not isinstance(manifest.get("settings"), dict) or "ensemble" not in manifest):
        raise SweepError(f"{path} is not an {STORE_FORMAT} manifest (an older or foreign store); use a new "
                         "store folder")
    return manifest


def open_store(store: str | os.PathLike[str], settings: Mapping[str, Any], ensemble: str) -> Path:
    """Create ``store`` for ``settings`` and ``ensemble``, or check an existing one; clean its orphans.

    The manifest is created only if absent, so of two processes creating one store at once the second
    checks its settings against the first's instead of overwriting them.
    """
    store = Path(store).resolve()  # workers may run in another working directory
    check_store(store, settings, ensemble)
    if not (store / MANIFEST_FILE).is_file():
        store.mkdir(parents=True, exist_ok=True)
        manifest = {"format": STORE_FORMAT, "settings": plain(settings), "ensemble": ensemble}
        with writing(store):
            created = _create_once(store / MANIFEST_FILE, json.dumps(manifest, indent=1))
        if not created:
            check_store(store, settings, ensemble)
    (store / JOBS_DIR).mkdir(exist_ok=True)  # after the manifest: a killed creation leaves no foreign folder
    clean_orphans(store)
    return store


# ------------------------------------------------------------------------------------------- writing

@contextmanager
def writing(store: str | os.PathLike[str], *, exclusive: bool = False) -> Iterator[None]:
    """Hold the store's lock while temporaries of this writer may exist (see the module doc): shared,
    or ``exclusive`` while a result and its record are written, so the two always agree."""
    with open(Path(store) / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clean_orphans(store: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporaries killed writers left behind, unless a writer is active; return them."""
    store = Path(store)
    try:
        handle = open(store / LOCK_FILE, "a")  # held across the deletions below
    except OSError:  # a read-only store: nothing can be cleaned, nor needs to be for reading
        return []
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []  # a writer is at work; its temporaries are not orphans, later ones are cleaned later
        jobs = store / JOBS_DIR
        orphans = [p for p in store.iterdir() if _OWN_TEMPORARY.match(p.name)]
        orphans += sorted(jobs.glob(".*.part")) if jobs.is_dir() else []
        for path in orphans:
            log.info("removing %s, left behind by a killed sweep write", path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return orphans


def _create_once(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically if ``path`` does not exist; False if it already did."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.link(tmp, path)  # atomic and fails if path exists, unlike a rename
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def job_path(store: str | os.PathLike[str], job: Job) -> Path:
    """Where ``job``'s result lives in ``store``."""
    return Path(store) / JOBS_DIR / f"{job.key}.nc"


def record_path(store: str | os.PathLike[str], job: Job) -> Path:
    """Where ``job``'s record (axes, then the result's checksum) lives in ``store``."""
    return Path(store) / JOBS_DIR / f"{job.key}.json"


def plan(store: str | os.PathLike[str], jobs: Sequence[Job]) -> None:
    """Record ``jobs`` as planned; existing records are kept (they may say done), damaged ones replaced."""
    with writing(store):
        for job in jobs:
            path = record_path(store, job)
            record = {**job.axes(), "key": job.key, "file": job_path(store, job).name, "sha256": None}
            if not _create_once(path, json.dumps(record)) and _read_record(path, job) is None:
                with atomic_path(path) as tmp:
                    tmp.write_text(json.dumps(record))


def publish(store: str | os.PathLike[str], job: Job, result: xr.Dataset) -> Path:
    """Write ``job``'s result atomically, then its record with the result's size and sha256.

    Both are written under the store's exclusive lock, so when two processes finish the same job at
    the same moment, the record still describes the file that is there.
    """
    path = job_path(store, job)
    with writing(store, exclusive=True):
        save_result(result, path)
        stat = path.stat()
        record = {**job.axes(), "key": job.key, "file": path.name, "bytes": stat.st_size,
                  "sha256": _sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)}
        with atomic_path(record_path(store, job)) as tmp:
            tmp.write_text(json.dumps(record))
    return path


# ------------------------------------------------------------------------------------------- reading

@lru_cache(maxsize=4096)
def _sha256(path: str, size: int, mtime_ns: int, inode: int) -> str:
    """The file's sha256, computed once per version of the file (its size, time and inode key it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_record(path: Path, job: Job | None = None) -> dict[str, Any] | None:
    """The record at ``path``, or None (with a warning naming the file) when it cannot be used."""
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict) or not set(JOB_AXES) <= set(record):
            raise ValueError(f"not a job record: it lacks one of {JOB_AXES}")
        if job is not None and record.get("key") != job.key:
            raise ValueError(f"a record of another job ({record.get('key')})")
        return record
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        log.warning("sweep job record %s is unreadable (%s); its job counts as not done", path, err)
        return None


def is_done(store: str | os.PathLike[str], job: Job) -> bool:
    """True when ``job``'s result exists and matches the size and sha256 in its record.

    A truncated file, a damaged data chunk or a file replaced after the fact fails the check (with a
    warning naming the file) and the job is computed again on the next run.
    """
    record = _read_record(record_path(store, job), job)
    if record is None or record.get("sha256") is None:
        return False
    path = job_path(store, job)
    try:
        stat = path.stat()
    except FileNotFoundError:
        log.warning("sweep result %s is missing although %s records it; the job will run again",
                    path, record_path(store, job))
        return False
    if (stat.st_size != record.get("bytes")
            or _sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino) != record["sha256"]):
        log.warning("sweep result %s does not match the checksum in %s (truncated or damaged); the job "
                    "will run again", path, record_path(store, job))
        return False
    return True


def stored_jobs(store: str | os.PathLike[str]) -> list[Job]:
    """Every job ever planned into ``store`` (done or not), from its job records."""
    try:
        settings = frozen_settings(read_manifest(store)["settings"])
    except (ConfigError, KeyError, TypeError, AttributeError) as err:
        raise SweepError(f"the settings in {Path(store) / MANIFEST_FILE} cannot be read by this icegrad "
                         f"({err}); use a new store folder") from None
    records = (_read_record(path) for path in sorted((Path(store) / JOBS_DIR).glob("*.json")))
    return [Job.from_axes(record, settings) for record in records if record is not None]


def sweep_index(store: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per planned job: its axes, key, result file and whether it is done (checked on disk)."""
    rows = [{**job.axes(), "key": job.key, "file": str(job_path(store, job).relative_to(store)),
             "done": is_done(store, job)} for job in stored_jobs(store)]
    return pd.DataFrame(rows, columns=[*JOB_AXES, "key", "file", "done"])


def write_index(store: str | os.PathLike[str]) -> Path:
    """Refresh the consolidated ``index.csv`` (a convenience view; done-ness is always read from files)."""
    path = Path(store) / INDEX_FILE
    with writing(store), atomic_path(path) as tmp:
        sweep_index(store).to_csv(tmp, index=False)
    return path
