"""Attribution sweeps: many (target month, lead, member, method) jobs, in-process or on a Dask cluster.

A chapter explains one target month; a study explains many, with several methods, for every member
of a 25-member ensemble at 25 km. That is hundreds of independent gradient computations, so a sweep
splits them into :class:`Job` s (one member, one lead, one target month, one method) and runs them
where the compute is: in this process by default, or on a Dask distributed cluster when given a
scheduler address (one worker per GPU).

Only *paths and parameters* travel to workers. Each worker loads the dataset and the saved
:class:`~icegrad.model.ensemble.IceNetEnsemble` itself (once per worker process, then reused), so no
model is ever pickled and a worker on another machine needs only the shared filesystem.

The store
---------
A sweep writes ONE store, a folder::

    store/
      sweep.json        what was planned: ensemble identity, data source, grid, every job
      jobs/<key>.nc     one attribution result per finished job, written atomically
      index.csv         consolidated index (one row per job: axes, file, done), refreshed per run

A folder of per-job netCDF files was chosen over one zarr store because completion must be atomic
*per job* and written by whichever worker finished it: a file renamed into place is either complete
or absent, whereas concurrent writers into one zarr array need region bookkeeping and leave partly
written chunks when a worker is killed. Done jobs are therefore detected from the files themselves
(present, readable, and stamped with their job key), never from the index, so a rerun after a killed
worker or process finishes only the missing jobs. :func:`open_sweep` presents the store as one lazy
(dask-backed) dataset with dims ``(target_month, lead, member, method, channel, y, x)``, and
:func:`load_results` as the per-(target month, method) results the book and the explorer use.

Running on a cluster
--------------------
Start a scheduler and one single-threaded worker per GPU (or per few CPU cores), each seeing one
device, with TensorFlow's thread pools pinned so workers do not oversubscribe the cores::

    dask scheduler                                   # prints tcp://HOST:8786
    CUDA_VISIBLE_DEVICES=0 TF_NUM_INTRAOP_THREADS=4 TF_NUM_INTEROP_THREADS=1 \\
        dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1
    CUDA_VISIBLE_DEVICES=1 TF_NUM_INTRAOP_THREADS=4 TF_NUM_INTEROP_THREADS=1 \\
        dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1

then ``run_sweep(jobs, store, ..., scheduler="tcp://HOST:8786")``. Workers need icegrad installed and
the store, the ensemble folder and the icegrad cache on a filesystem they share with the driver.
``tf_threads`` (default 1 on a cluster) also pins each worker's TensorFlow pools from Python.

Example
-------
``plan_jobs(["2012-09", "2013-09"], leads=[1, 3, 6], members=5, methods=["integrated_gradients"])``
plans 30 jobs. One job, on ``ens`` (an ensemble, see :mod:`icegrad.pipeline`) saved to a folder:

>>> import tempfile
>>> ens_dir = ens.save(Path(tempfile.mkdtemp()) / "ensemble")
>>> jobs = plan_jobs(["2013-09"], leads=[3], members=1, methods=["integrated_gradients"], steps=4)
>>> store = Path(tempfile.mkdtemp()) / "sept"
>>> report = run_sweep(jobs, store, ensemble_dir=ens_dir, data_source="emulated", resolution_km=200,
...                    progress=False)
>>> maps = open_sweep(store).attribution.sel({"method": "integrated_gradients", "lead": 3})
>>> dict(maps.sizes)
{'target_month': 1, 'member': 1, 'channel': 50, 'y': 54, 'x': 54}
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import dask.array as da
import netCDF4
import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from icegrad import pipeline
from icegrad.attribution.api import attribute
from icegrad.attribution.methods import METHODS
from icegrad.attribution.results import load_result, save_result
from icegrad.attribution.targets import TARGETS, check_leads, forecast_start, sample_for_forecast
from icegrad.io import atomic_path, parameter_key
from icegrad.model.ensemble import MANIFEST_FILE, IceNetEnsemble
from icegrad.model.train import dataset_fingerprint
from icegrad.paths import cache_dir
from icegrad.roi import RoiRule

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
JOBS_DIR = "jobs"
INDEX_FILE = "index.csv"
STORE_FORMAT = "icegrad-sweep-1"
JOB_AXES = ("target_month", "lead", "member", "method")
"""The dimensions a sweep spans, in the order of :func:`open_sweep`'s dataset."""

DEFAULT_SETTINGS: dict[str, Any] = {
    "steps": 64, "baseline": "climatology", "target": "sip", "reference_year": 2007, "target_year": 2013,
    "month": 9, "roi_rule": pipeline.BOOK_ROI_RULE,
}
"""Settings shared by every job of a sweep: method options, the target, and the ROI's definition."""

OPTIONAL_SETTINGS = ("rule", "samples", "noise_level", "noise_scale", "seed", "weighting")
"""Further :func:`~icegrad.attribution.attribute` options a sweep may set (IG rule, SmoothGrad)."""

BASELINES = ("zeros", "climatology")
_ROI_KEYS = ("reference_year", "target_year", "month", "roi_rule")


class SweepError(ValueError):
    """A sweep that cannot be planned, stored or finished; ``report`` holds what did run, if any."""

    def __init__(self, message: str, report: SweepReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Job:
    """One attribution: ensemble member ``member`` (index), lead ``lead`` of the forecast that targets
    ``target_month`` ("YYYY-MM"), explained with ``method`` and the sweep's ``settings``.

    Hashable and picklable, so it can be shipped to a worker; :attr:`key` names its result file.
    """

    target_month: str
    lead: int
    member: int
    method: str
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        """A stable, file-name-safe identifier: the job's axes plus a digest of its settings."""
        return (f"{self.target_month}_lead{self.lead}_member{self.member:03d}_{self.method}_"
                f"{parameter_key(dict(self.settings))[:8]}")

    @property
    def options(self) -> dict[str, Any]:
        """The settings as a dictionary."""
        return dict(self.settings)

    @property
    def start_month(self) -> str:
        """The forecast start month whose input this job explains (target - (lead - 1))."""
        return f"{forecast_start(self.target_month, self.lead):%Y-%m}"

    def as_record(self) -> dict[str, Any]:
        """JSON-friendly form stored in ``sweep.json``."""
        return {**{axis: getattr(self, axis) for axis in JOB_AXES}, "settings": self.options,
                "key": self.key}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Job:
        return cls(str(record["target_month"]), int(record["lead"]), int(record["member"]),
                   str(record["method"]), tuple(sorted(record["settings"].items())))


@dataclass(frozen=True)
class JobContext:
    """Where a worker finds what a job needs: the saved ensemble, the data and icegrad's cache."""

    ensemble_dir: str
    data_source: str = "emulated"
    resolution_km: int = 100
    cache_dir: str | None = None
    tf_threads: int | None = None
    data_fingerprint: str | None = None


@dataclass
class SweepReport:
    """What one :func:`run_sweep` call did: keys run now, found already done, and failed (with why)."""

    store: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def __str__(self) -> str:
        return (f"sweep {self.store}: {len(self.ran)} job(s) run, {len(self.skipped)} already done, "
                f"{len(self.failed)} failed in {self.seconds:.1f} s")


def plan_jobs(target_months: Iterable[str], leads: Iterable[int], members: int | Iterable[int],
              methods: Iterable[str], **settings: Any) -> list[Job]:
    """Every combination of target month, lead, member and method, with shared ``settings``.

    ``members`` is a count (members 0..n-1) or explicit member indices. ``settings`` override
    :data:`DEFAULT_SETTINGS` (``steps``, ``baseline`` "zeros"/"climatology", ``target``, and the ROI:
    ``reference_year``, ``target_year``, ``month``, ``roi_rule``) and may add :data:`OPTIONAL_SETTINGS`;
    a setting given as None keeps its default. Bad values fail here, before any work.
    """
    months = [_month_label(m) for m in target_months]
    lead_list = list(check_leads(list(leads)))
    member_list = list(range(members)) if isinstance(members, int) else [int(m) for m in members]
    method_list = list(methods)
    if not months or not member_list or not method_list:
        raise SweepError("a sweep needs at least one target month, member and method")
    if any(m < 0 for m in member_list) or len(set(member_list)) != len(member_list):
        raise SweepError(f"members {member_list} must be distinct indices >= 0 (or a count)")
    bad = [m for m in method_list if m not in METHODS]
    if bad:
        raise SweepError(f"unknown method(s) {bad}; choose from {METHODS}")
    frozen = tuple(sorted(_check_settings(settings).items()))
    return [Job(month, lead, member, method, frozen)
            for month in dict.fromkeys(months) for lead in lead_list
            for member in member_list for method in dict.fromkeys(method_list)]


def _month_label(value: str) -> str:
    # pandas reads a bare month name ("Sept") as September of year 1: insist on a four-digit year
    if isinstance(value, str) and not re.match(r"\s*\d{4}-\d{1,2}\b", value):
        raise SweepError(f"could not read target month {value!r}; pass 'YYYY-MM', e.g. '2013-09'")
    try:
        return f"{pd.Timestamp(value):%Y-%m}"
    except (ValueError, TypeError):
        raise SweepError(f"could not read target month {value!r}; pass 'YYYY-MM', e.g. '2013-09'") from None


def _check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(DEFAULT_SETTINGS) - set(OPTIONAL_SETTINGS))
    if unknown:
        raise SweepError(f"unknown sweep setting(s) {unknown}; allowed: "
                         f"{sorted([*DEFAULT_SETTINGS, *OPTIONAL_SETTINGS])}")
    merged = {**DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
    RoiRule.parse(str(merged["roi_rule"]))  # RoiError (a ValueError) names a bad rule now, not per job
    if isinstance(merged["steps"], bool) or not isinstance(merged["steps"], int) or merged["steps"] < 1:
        raise SweepError(f"steps must be a positive integer, got {merged['steps']!r}")
    if merged["baseline"] not in BASELINES:
        raise SweepError(f"baseline {merged['baseline']!r} is not one of {BASELINES}")
    if merged["target"] not in TARGETS:
        raise SweepError(f"target {merged['target']!r} is not one of {TARGETS}")
    return merged


# --------------------------------------------------------------------------------------------- store

def job_path(store: str | os.PathLike[str], job: Job) -> Path:
    """Where ``job``'s result lives in ``store``."""
    return Path(store) / JOBS_DIR / f"{job.key}.nc"


def is_done(store: str | os.PathLike[str], job: Job) -> bool:
    """True when ``job``'s result file exists, is a readable netCDF file and carries the job's key.

    Files are renamed into place only when complete, so existence nearly suffices; reading the key
    also catches a file damaged or replaced after the fact, which is then recomputed.
    """
    path = job_path(store, job)
    if not path.is_file():
        return False
    try:
        with netCDF4.Dataset(path) as nc:
            return str(getattr(nc, "sweep_job", "")) == job.key
    except OSError:
        log.warning("sweep result %s is unreadable; the job will run again", path)
        return False


def _ensemble_identity(ensemble_dir: str | os.PathLike[str]) -> str:
    manifest = Path(ensemble_dir) / MANIFEST_FILE
    if not manifest.is_file():
        raise SweepError(f"{ensemble_dir} holds no saved ensemble ({MANIFEST_FILE} missing); save one "
                         "with IceNetEnsemble.save(folder) and pass that folder as ensemble_dir")
    return parameter_key(json.loads(manifest.read_text()))


def _prepare_store(store: Path, jobs: Sequence[Job], context: JobContext) -> None:
    """Create or extend ``sweep.json``; refuse a store made with another ensemble, source or grid."""
    identity = {"ensemble": _ensemble_identity(context.ensemble_dir), "data_source": context.data_source,
                "resolution_km": int(context.resolution_km)}
    path = store / SWEEP_FILE
    records: dict[str, dict[str, Any]] = {}
    if path.is_file():
        stored = json.loads(path.read_text())
        clash = {k: (stored.get(k), v) for k, v in identity.items() if stored.get(k) != v}
        if clash:
            raise SweepError(f"store {store} was made with other inputs {clash} (stored, now); results of "
                             "different ensembles or data must not mix: use a new store folder")
        records = {r["key"]: r for r in stored["jobs"]}
    records.update({job.key: job.as_record() for job in jobs})
    manifest = {"format": STORE_FORMAT, **identity, "ensemble_dir": str(context.ensemble_dir),
                "jobs": list(records.values())}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, default=str))


def stored_jobs(store: str | os.PathLike[str]) -> list[Job]:
    """Every job ever planned into ``store`` (done or not), from its ``sweep.json``."""
    path = Path(store) / SWEEP_FILE
    if not path.is_file():
        raise SweepError(f"{store} is not a sweep store (no {SWEEP_FILE}); create one with run_sweep")
    return [Job.from_record(r) for r in json.loads(path.read_text())["jobs"]]


def sweep_index(store: str | os.PathLike[str]) -> pd.DataFrame:
    """One row per planned job: its axes, key, result file and whether it is done (checked on disk)."""
    rows = [{**{axis: getattr(job, axis) for axis in JOB_AXES}, "key": job.key,
             "file": str(job_path(store, job).relative_to(store)), "done": is_done(store, job)}
            for job in stored_jobs(store)]
    return pd.DataFrame(rows, columns=[*JOB_AXES, "key", "file", "done"])


def write_index(store: str | os.PathLike[str]) -> Path:
    """Refresh the consolidated ``index.csv`` (a convenience view; done-ness is always read from files)."""
    path = Path(store) / INDEX_FILE
    with atomic_path(path) as tmp:
        sweep_index(store).to_csv(tmp, index=False)
    return path


# ------------------------------------------------------------------------------------------ one job

@contextmanager
def _icegrad_cache(path: str | None) -> Iterator[None]:
    """Use ``path`` as icegrad's cache while loading (workers read the driver's cached dataset)."""
    if path is None:
        yield
        return
    previous = os.environ.get("ICEGRAD_CACHE_DIR")
    os.environ["ICEGRAD_CACHE_DIR"] = path
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ICEGRAD_CACHE_DIR", None)
        else:
            os.environ["ICEGRAD_CACHE_DIR"] = previous


_PINNED: list[int] = []


def _pin_tensorflow_threads(threads: int | None) -> None:
    """Give TensorFlow one ``threads``-wide pool per worker process (possible only before its first op)."""
    if threads is None or _PINNED:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        log.info("TensorFlow already initialised in this process; its thread pools stay as they are")
    _PINNED.append(threads)


def data_fingerprint(ds: xr.Dataset) -> str:
    """A digest of a dataset's values and months, the same however it was obtained (built or read back)."""
    return dataset_fingerprint(ds.assign_coords(time=ds["time"].values.astype("datetime64[ns]")))


@lru_cache(maxsize=2)
def _dataset(data_source: str, resolution_km: int, cache: str | None) -> tuple[xr.Dataset, str]:
    """The dataset and its fingerprint, loaded once per process and reused by its later jobs."""
    with _icegrad_cache(cache):
        ds = pipeline.dataset(data_source, resolution_km)
    return ds, data_fingerprint(ds)


@lru_cache(maxsize=2)
def _ensemble(ensemble_dir: str, identity: str) -> IceNetEnsemble:
    """The saved ensemble, loaded once per process (``identity``, the manifest's digest, makes a
    re-saved ensemble load afresh)."""
    return IceNetEnsemble.load(ensemble_dir)


def compute_job(job: Job, context: JobContext) -> xr.Dataset:
    """The attribution result of one job (one member, one lead), in the results schema."""
    _pin_tensorflow_threads(context.tf_threads)
    ds, fingerprint = _dataset(context.data_source, int(context.resolution_km), context.cache_dir)
    if context.data_fingerprint is not None and fingerprint != context.data_fingerprint:
        raise SweepError(f"the {context.data_source} data loaded here (cache {context.cache_dir}) differ "
                         "from the driver's; every worker must run the driver's icegrad version and read "
                         "its cache folder")
    ens = _ensemble(str(context.ensemble_dir), _ensemble_identity(context.ensemble_dir))
    if job.member >= len(ens):
        raise SweepError(f"job {job.key} asks for member {job.member}, but the ensemble in "
                         f"{context.ensemble_dir} has {len(ens)} member(s)")
    opts = job.options
    roi = pipeline.region(ds, *(opts[k] for k in _ROI_KEYS))
    inputs = pipeline.forecast_inputs(ds, ens, job.target_month, [job.lead])
    extra = {k: opts[k] for k in OPTIONAL_SETTINGS if k in opts}
    if job.method == "integrated_gradients" and opts["baseline"] == "climatology":
        extra["climatology"] = pipeline.baseline_for(ds, ens, job.target_month, job.lead)
    model_id = f"IceNet ensemble {ens.manifest.get('created', '')} ({len(ens)} members)"
    result = attribute(ens.members[job.member], sample_for_forecast(inputs, job.target_month, job.lead),
                       roi, job.lead, job.method, steps=opts["steps"], baseline=opts["baseline"],
                       target=opts["target"], land=ds["land"], model_id=model_id,
                       data_source=str(ds.attrs.get("data_source")), **extra)
    result = result.assign_coords(member=[job.member],
                                  member_name=("member", [ens.member_names[job.member]]))
    result.attrs.update(sweep_job=job.key, target_month=job.target_month)
    return result


def run_job(job: Job, store: str | os.PathLike[str], context: JobContext) -> dict[str, Any]:
    """Compute one job and write its result atomically into ``store``; return a small summary.

    This is what a Dask worker executes: it receives only the job, the store path and the context.
    """
    started = time.perf_counter()
    result = compute_job(job, context)
    save_result(result, job_path(store, job))
    return {"key": job.key, "seconds": time.perf_counter() - started,
            "target_value": float(result["target_value"].values.ravel()[0])}


# ------------------------------------------------------------------------------------------- sweeps

def run_sweep(jobs: Sequence[Job], store: str | os.PathLike[str], *, ensemble_dir: str | os.PathLike[str],
              data_source: str = "emulated", resolution_km: int = 100, scheduler: Any = None,
              tf_threads: int | None = None, progress: bool = True, raise_on_failure: bool = True,
              ) -> SweepReport:
    """Run every job of ``jobs`` not yet done in ``store``; each result is written as it finishes.

    Without ``scheduler`` the jobs run one after another in this process. With a scheduler address
    (``"tcp://host:8786"``) or a ``distributed.Client`` they are submitted to that Dask cluster; workers
    load the data (from this process's icegrad cache folder, which they must be able to read, and
    refuse to run if they do not get the same data as this process) and the ensemble saved in
    ``ensemble_dir`` themselves. ``tf_threads`` pins each process's TensorFlow pool
    (default: untouched in-process, 1 on a cluster). A failed job does not stop the others; with
    ``raise_on_failure`` a :class:`SweepError` carrying the report is raised at the end, and calling
    ``run_sweep`` again runs only the jobs still missing.
    """
    store = Path(store).resolve()  # workers may run in another working directory
    jobs = list(dict.fromkeys(jobs))
    if not jobs:
        raise SweepError("no jobs given; make them with plan_jobs(...)")
    if scheduler is not None and tf_threads is None:
        tf_threads = 1
    context = JobContext(str(Path(ensemble_dir).resolve()), data_source, int(resolution_km),
                         str(cache_dir()), tf_threads)
    _prepare_store(store, jobs, context)  # refuses another ensemble before any data are loaded
    # the driver's view of the data, which every worker must reproduce (stale code or another cache
    # would silently give other numbers); in-process the load is reused by the jobs
    _, fingerprint = _dataset(data_source, int(resolution_km), context.cache_dir)
    context = replace(context, data_fingerprint=fingerprint)
    report = SweepReport(store)
    todo = [job for job in jobs if not is_done(store, job)]
    report.skipped = [job.key for job in jobs if job not in todo]
    started = time.perf_counter()
    if todo:
        runner = _run_local if scheduler is None else _run_dask
        runner(todo, store, context, scheduler, report, progress)
    report.seconds = time.perf_counter() - started
    write_index(store)
    log.info("%s", report)
    if report.failed and raise_on_failure:
        first = "; ".join(f"{k}: {v}" for k, v in list(report.failed.items())[:3])
        raise SweepError(f"{len(report.failed)} of {len(jobs)} sweep job(s) failed ({first}). Finished "
                         f"results are kept in {store}; fix the cause and call run_sweep again to run "
                         "only the missing jobs.", report)
    return report


def _run_local(todo: list[Job], store: Path, context: JobContext, _: Any, report: SweepReport,
               progress: bool) -> None:
    for job in tqdm(todo, desc="attribution jobs", unit="job", disable=not progress):
        try:
            run_job(job, store, context)
        except Exception as err:  # a failed job must not lose the others; reported at the end
            log.warning("sweep job %s failed: %r", job.key, err)
            report.failed[job.key] = repr(err)
        else:
            report.ran.append(job.key)


def _run_dask(todo: list[Job], store: Path, context: JobContext, scheduler: Any, report: SweepReport,
              progress: bool) -> None:
    from distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = {client.submit(run_job, job, str(store), context, key=f"icegrad-sweep-{job.key}",
                                 pure=False): job for job in todo}
        for future in tqdm(as_completed(futures), total=len(futures), desc="attribution jobs", unit="job",
                           disable=not progress):
            job = futures[future]
            try:
                future.result()
            except Exception as err:  # includes KilledWorker: the job stays missing for a rerun
                log.warning("sweep job %s failed: %r", job.key, err)
                report.failed[job.key] = repr(err)
            else:
                report.ran.append(job.key)
    finally:
        if client is not scheduler:
            client.close()


# ------------------------------------------------------------------------------------- reading back

def open_sweep(store: str | os.PathLike[str]) -> xr.Dataset:
    """The whole store as one lazy dataset with dims ``(target_month, lead, member, method, channel, y, x)``.

    ``attribution`` and ``target_value`` (and ``baseline_target_value`` when any job has it) are NaN
    for jobs not done; ``done`` says which are. ``input`` has dims ``(target_month, lead, channel, y, x)``
    (the same for every member and method); ``attribution_units`` per method. Files are read only
    when values are used, so a 25 km sweep of hundreds of jobs opens instantly. Select methods with a
    dict, ``.sel({"method": "integrated_gradients"})``: ``.sel(method=...)`` is xarray's fill method.
    """
    jobs = stored_jobs(store)
    axes = {axis: sorted({getattr(job, axis) for job in jobs}) for axis in JOB_AXES}
    done = {(job.target_month, job.lead, job.member, job.method): job_path(store, job)
            for job in jobs if is_done(store, job)}
    if not done:
        raise SweepError(f"store {store} holds no finished job yet; run run_sweep first")
    opened = {cell: xr.open_dataset(path, chunks={}) for cell, path in done.items()}
    template = next(iter(opened.values()))
    shape = (template.sizes["channel"], template.sizes["y"], template.sizes["x"])
    grid = np.empty([len(axes[a]) for a in JOB_AXES], dtype=object)
    scalars = {name: np.full(grid.shape, np.nan) for name in ("target_value", "baseline_target_value")}
    inputs = np.empty(grid.shape[:2], dtype=object)
    finished = np.zeros(grid.shape, dtype=bool)
    units: dict[str, str] = {}
    names: dict[int, str] = {}
    for index in np.ndindex(grid.shape):
        cell = tuple(axes[a][i] for a, i in zip(JOB_AXES, index, strict=True))
        ds = opened.get(cell)
        if ds is None:
            grid[index] = da.full(shape, np.nan, dtype=np.float32)
            continue
        grid[index] = ds["attribution"].data[0, 0]
        inputs[index[:2]] = ds["input"].data[0]
        finished[index] = True
        units[cell[3]] = ds["attribution"].attrs.get("units", "1")
        names[cell[2]] = str(ds["member_name"].values[0])
        for name in scalars:
            if name in ds:
                scalars[name][index] = float(ds[name].values.ravel()[0])
    for index in np.ndindex(inputs.shape):
        if inputs[index] is None:
            inputs[index] = da.full(shape, np.nan, dtype=np.float32)
    space = {k: v.load() for k, v in template.coords.items()
             if v.dims and set(v.dims) <= {"channel", "y", "x"}}
    coords = {**{a: axes[a] for a in JOB_AXES}, **space,
              "member_name": ("member", [names.get(m, f"member{m}") for m in axes["member"]]),
              "attribution_units": ("method", [units.get(m, "") for m in axes["method"]])}
    shared = ("target", "roi_rule", "model_id", "data_source", "icegrad_version")  # per-method ones stay
    first = {k: template.attrs[k] for k in shared if k in template.attrs}        # in the job files
    out = xr.Dataset({
        "attribution": ((*JOB_AXES, "channel", "y", "x"), _stack(grid),
                        {"long_name": "attribution of the ROI target (units per method: attribution_units)"}),
        "input": (("target_month", "lead", "channel", "y", "x"), _stack(inputs),
                  {"long_name": "normalised model input explained", "units": "1"}),
        "target_value": (JOB_AXES, scalars["target_value"],
                         {"long_name": "target at the input", "units": "1"}),
        "done": (JOB_AXES, finished, {"long_name": "job finished and stored"}),
        "roi": (template["roi"].reset_coords(drop=True).load() == 1).assign_attrs(
            long_name="region of interest mask"),
    }, coords=coords, attrs={"title": "icegrad attribution sweep", "Conventions": "CF-1.8", **first})
    if np.isfinite(scalars["baseline_target_value"]).any():
        out["baseline_target_value"] = (JOB_AXES, scalars["baseline_target_value"],
                                        {"long_name": "target at the integrated-gradients baseline",
                                         "units": "1"})
    return out


def _stack(cells: np.ndarray) -> da.Array:
    """Stack an object array of equally shaped dask arrays into one dask array (its dims first)."""
    if cells.ndim == 1:
        return da.stack(list(cells))
    return da.stack([_stack(sub) for sub in cells])


def load_results(store: str | os.PathLike[str]) -> dict[tuple[str, str], xr.Dataset]:
    """The finished jobs as ``{(target_month, method): result}``, each result in the results schema
    ``(member, lead, channel, y, x)`` (members and leads that are done in every combination only)."""
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in stored_jobs(store):
        if is_done(store, job):
            groups.setdefault((job.target_month, job.method), []).append(job)
    results = {}
    for (month, method), jobs in sorted(groups.items()):
        parts = {(job.member, job.lead): load_result(job_path(store, job)) for job in jobs}
        members = sorted({m for m, _ in parts})
        leads = sorted({lead for _, lead in parts})
        if len(parts) != len(members) * len(leads):
            leads = [lead for lead in leads if all((m, lead) in parts for m in members)]
            log.warning("%s %s: keeping leads %s done for every member", month, method, leads)
        if not leads:
            continue
        by_lead = [xr.concat([parts[(m, lead)] for m in members], dim="member", data_vars="minimal",
                             coords="minimal", compat="override", join="override",
                             combine_attrs="override") for lead in leads]
        result = xr.concat(by_lead, dim="lead", data_vars="minimal", coords="minimal", compat="override",
                           join="override", combine_attrs="override")
        result["roi"] = by_lead[0]["roi"]
        result = result.assign_coords(member=result["member_name"].values).drop_vars("member_name")
        result.attrs.pop("sweep_job", None)
        results[(month, method)] = result
    return results


# ---------------------------------------------------------------------------------------------- CLI

def sweep_command(store: str | os.PathLike[str], *, target_months: Sequence[str], leads: Sequence[int],
                  methods: Sequence[str], data_source: str = "emulated", resolution_km: int = 100,
                  members: int = 5, width: float | None = None, epochs: int | None = None,
                  weights: str | None = None, scheduler: str | None = None, progress: bool = True,
                  **settings: Any) -> SweepReport:
    """``icegrad attribute --sweep STORE [--scheduler ADDRESS]``: plan, prepare and run a whole sweep.

    Trains (or loads from the cache, or from IceNet release ``weights``) the book's ensemble, saves it
    into ``STORE/ensemble`` so the store carries the model its results explain and workers can load
    it, then runs every (target month, lead, member, method) job not yet done.
    """
    jobs = plan_jobs(target_months, leads, members, methods, **settings)  # fails fast on bad input
    ds = pipeline.dataset(data_source, resolution_km)
    ens = pipeline.ensemble(ds, members=members, width=width, epochs=epochs, weights=weights or None)
    ensemble_dir = Path(store) / "ensemble"
    if (ensemble_dir / MANIFEST_FILE).is_file():
        saved = json.loads((ensemble_dir / MANIFEST_FILE).read_text())
        if saved.get("created") != ens.manifest.get("created"):
            raise SweepError(f"{ensemble_dir} holds another ensemble (created {saved.get('created')}) than "
                             f"this run's ({ens.manifest.get('created')}); use a new store folder")
    else:
        ens.save(ensemble_dir)
    return run_sweep(jobs, store, ensemble_dir=ensemble_dir, data_source=data_source,
                     resolution_km=resolution_km, scheduler=scheduler, progress=progress)


def job_summary(jobs: Sequence[Job]) -> pd.DataFrame:
    """The planned jobs as a table (axes, start month and key), e.g. to show before a long run."""
    return pd.DataFrame([{**{axis: getattr(job, axis) for axis in JOB_AXES}, "start_month": job.start_month,
                          "key": job.key} for job in jobs])


__all__ = ["DEFAULT_SETTINGS", "JOB_AXES", "Job", "JobContext", "SweepError", "SweepReport",
           "compute_job", "data_fingerprint", "is_done", "job_path", "job_summary", "load_results",
           "open_sweep", "plan_jobs", "run_job", "run_sweep", "stored_jobs", "sweep_command", "sweep_index",
           "write_index"]
