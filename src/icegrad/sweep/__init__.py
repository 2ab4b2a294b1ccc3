"""Attribution sweeps: many (target month, lead, member, method) jobs, in-process or on a Dask cluster.

A chapter explains one target month; a study explains many, with several methods, for every member
of a 25-member ensemble at 25 km. That is hundreds of independent gradient computations, so a sweep
splits them into jobs (:mod:`~icegrad.sweep.jobs`, every setting from one
:class:`~icegrad.config.RunConfig`) and runs them where the compute is: in this process by default, or
on a Dask distributed cluster when given a scheduler address (one worker per GPU). Each finished job is
written into one store (:mod:`~icegrad.sweep.store`: a manifest of the settings, one result
and one checksummed record per job, safe for concurrent writers), and a rerun after a killed worker or
process does only the jobs missing or damaged. :func:`open_sweep` and :func:`load_results`
(:mod:`~icegrad.sweep.results`) read the store back. This module runs the jobs and is
the one import a user needs: the public names of those three modules are importable from here too.

Only *paths and parameters* travel to workers. Each worker loads the dataset and the saved
:class:`~icegrad.model.ensemble.IceNetEnsemble` itself (once per worker process, then reused), so no
model is ever pickled and a worker on another machine needs only the shared filesystem.

Running on a cluster
--------------------
Start a scheduler and one single-threaded worker per GPU (or per few CPU cores), each seeing one
device, with TensorFlow's thread pools pinned so workers do not oversubscribe the cores::

    dask scheduler                                   # prints tcp://HOST:8786
    CUDA_VISIBLE_DEVICES=0 TF_NUM_INTRAOP_THREADS=4 TF_NUM_INTEROP_THREADS=1 \\
        dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1
    CUDA_VISIBLE_DEVICES=1 TF_NUM_INTRAOP_THREADS=4 TF_NUM_INTEROP_THREADS=1 \\
        dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1

then ``run_sweep(jobs, store, ensemble_dir=..., scheduler="tcp://HOST:8786")``. Workers need icegrad
installed and the store, the ensemble folder and the icegrad cache on a filesystem they share with the
driver. ``tf_threads`` (default 1 on a cluster) also pins each worker's TensorFlow pools from Python.

Example
-------
One job, on ``ens`` (an ensemble, see :mod:`icegrad.pipeline`) saved to a folder; the run
configuration decides every setting, the target months and methods are the sweep's axes:

>>> import tempfile
>>> ens_dir = ens.save(Path(tempfile.mkdtemp()) / "ensemble")
>>> config = RunConfig(resolution_km=200, members=1, leads=(3,), steps=4)
>>> jobs = plan_jobs(config, target_months=["2013-09"], methods=["integrated_gradients"])
>>> store = Path(tempfile.mkdtemp()) / "sept"
>>> report = run_sweep(jobs, store, ensemble_dir=ens_dir, progress=False)
>>> maps = open_sweep(store).attribution.sel({"method": "integrated_gradients", "lead": 3})
>>> dict(maps.sizes)
{'target_month': 1, 'member': 1, 'channel': 50, 'y': 54, 'x': 54}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import xarray as xr

from icegrad import pipeline
from icegrad.attribution.api import attribute
from icegrad.attribution.targets import sample_for_forecast
from icegrad.cache import dataset_fingerprint
from icegrad.config import PAIRED_BASELINES, RunConfig
from icegrad.model.ensemble import MANIFEST_FILE, IceNetEnsemble
from icegrad.paths import cache_dir
from icegrad.progress import bar as progress_bar
from icegrad.sweep.jobs import JOB_AXES, Job, SweepError, job_summary, plan_jobs, store_settings
from icegrad.sweep.results import load_results, open_sweep
from icegrad.sweep.store import (
    ENSEMBLE_DIR,
    check_store,
    ensemble_identity,
    is_done,
    job_path,
    open_store,
    plan,
    publish,
    stored_jobs,
    sweep_index,
    write_index,
    writing,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """Where a worker finds what a job needs beyond the job itself: the saved ensemble and icegrad's
    cache, the TensorFlow pool width, and the fingerprint of the driver's data to reproduce."""

    ensemble_dir: str
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


def saved_ensemble_identity(ensemble_dir: str | os.PathLike[str]) -> str:
    """The identity of the ensemble saved in ``ensemble_dir`` (see :func:`ensemble_identity`)."""
    manifest = Path(ensemble_dir) / MANIFEST_FILE
    if not manifest.is_file():
        raise SweepError(f"{ensemble_dir} holds no saved ensemble ({MANIFEST_FILE} missing); save one "
                         "with IceNetEnsemble.save(folder) and pass that folder as ensemble_dir")
    try:
        return ensemble_identity(json.loads(manifest.read_text()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SweepError(f"cannot read the ensemble manifest {manifest} ({err}); save the ensemble "
                         "again") from None


@lru_cache(maxsize=2)
def _ensemble(ensemble_dir: str, identity: str) -> IceNetEnsemble:
    """The saved ensemble, loaded once per process (``identity`` makes a re-saved one load afresh)."""
    return IceNetEnsemble.load(ensemble_dir)


def compute_job(job: Job, context: JobContext) -> xr.Dataset:
    """The attribution result of one job (one member, one lead), in the results schema."""
    _pin_tensorflow_threads(context.tf_threads)
    opts = job.options
    ds, fingerprint = _dataset(opts["data_source"], opts["resolution_km"], context.cache_dir)
    if context.data_fingerprint is not None and fingerprint != context.data_fingerprint:
        raise SweepError(f"the {opts['data_source']} data loaded here (cache {context.cache_dir}) differ "
                         "from the driver's; every worker must run the driver's icegrad version and read "
                         "its cache folder")
    ens = _ensemble(str(context.ensemble_dir), saved_ensemble_identity(context.ensemble_dir))
    if job.member >= len(ens):
        raise SweepError(f"job {job.key} asks for member {job.member}, but the ensemble in "
                         f"{context.ensemble_dir} has {len(ens)} member(s)")
    roi = pipeline.region(ds, opts["reference_year"], opts["target_year"], opts["month"], opts["roi_rule"])
    inputs = pipeline.forecast_inputs(ds, ens, job.target_month, [job.lead])
    extra = pipeline.baseline_options(ds, ens, job.target_month, job.lead, opts["baseline"],
                                      opts["reference_year"], job.method)
    model_id = f"IceNet ensemble {ens.manifest.get('created', '')} ({len(ens)} members)"
    result = attribute(ens.members[job.member], sample_for_forecast(inputs, job.target_month, job.lead),
                       roi, job.lead, job.method, steps=opts["steps"], baseline=opts["baseline"],
                       land=ds["land"], model_id=model_id, data_source=str(ds.attrs.get("data_source")),
                       **extra)
    result = result.assign_coords(member=[job.member],
                                  member_name=("member", [ens.member_names[job.member]]))
    result.attrs.update(sweep_job=job.key, target_month=job.target_month)
    if opts["baseline"] in PAIRED_BASELINES and opts["baseline"] in extra:
        result.attrs["baseline_target_month"] = extra[opts["baseline"]].attrs["target_month"]
    return result


def run_job(job: Job, store: str | os.PathLike[str], context: JobContext) -> dict[str, Any]:
    """Compute one job and write its result and checksummed record into ``store``; return a summary.

    This is what a Dask worker executes: it receives only the job, the store path and the context.
    """
    started = time.perf_counter()
    result = compute_job(job, context)
    publish(store, job, result)
    return {"key": job.key, "seconds": time.perf_counter() - started,
            "target_value": float(result["target_value"].values.ravel()[0])}


# ------------------------------------------------------------------------------------------- sweeps

def run_sweep(jobs: Sequence[Job], store: str | os.PathLike[str], *, ensemble_dir: str | os.PathLike[str],
              scheduler: Any = None, tf_threads: int | None = None, progress: bool = True,
              raise_on_failure: bool = True) -> SweepReport:
    """Run every job of ``jobs`` not yet done in ``store``; each result is written as it finishes.

    The jobs (from :func:`plan_jobs`) carry their settings, data source and grid; ``store`` is created
    for them or must have been made with the same settings and the ensemble saved in ``ensemble_dir``.
    Without ``scheduler`` the jobs run one after another in this process. With a scheduler address
    (``"tcp://host:8786"``) or a ``distributed.Client`` they are submitted to that Dask cluster; workers
    load the data (from this process's icegrad cache folder, which they must be able to read, and
    refuse to run if they do not get the same data as this process) and the ensemble themselves.
    ``tf_threads`` pins each process's TensorFlow pool (default: untouched in-process, 1 on a cluster).
    A failed job does not stop the others; with ``raise_on_failure`` a :class:`SweepError` carrying the
    report is raised at the end, and calling ``run_sweep`` again runs only the jobs still missing.
    """
    jobs = list(dict.fromkeys(jobs))
    if not jobs:
        raise SweepError("no jobs given; make them with plan_jobs(config, target_months=..., methods=...)")
    if len({job.settings for job in jobs}) > 1:
        raise SweepError("these jobs were planned from different run configurations; results of different "
                         "settings must not mix: run each plan into its own store folder")
    if scheduler is not None and tf_threads is None:
        tf_threads = 1
    settings = jobs[0].options
    store = open_store(store, settings, saved_ensemble_identity(ensemble_dir))  # before any data are loaded
    plan(store, jobs)
    context = JobContext(str(Path(ensemble_dir).resolve()), str(cache_dir()), tf_threads)
    # the driver's view of the data, which every worker must reproduce (stale code or another cache
    # would silently give other numbers); in-process the load is reused by the jobs
    _, fingerprint = _dataset(settings["data_source"], settings["resolution_km"], context.cache_dir)
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
    for job in progress_bar(todo, desc="attribution jobs", unit="job", leave=True, disable=not progress):
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
        for future in progress_bar(as_completed(futures), total=len(futures), desc="attribution jobs",
                                   unit="job", leave=True, disable=not progress):
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


# ---------------------------------------------------------------------------------------------- CLI

def sweep_command(store: str | os.PathLike[str], config: RunConfig, *, target_months: Sequence[str],
                  methods: Sequence[str], scheduler: str | None = None, progress: bool = True) -> str:
    """``icegrad attribute --sweep STORE [--scheduler ADDRESS]``: plan, prepare and run a whole sweep.

    The jobs and every setting come from ``config``. The store folder is checked before any training
    (a non-empty folder that is not a store, or a store of other settings, is refused untouched), and so
    is every target month against the data (:func:`icegrad.run_checks.check_run`: its forecast starts,
    and those of a paired baseline's forecast).
    Then the ensemble is trained (or loaded from the cache, or from IceNet release weights) and saved
    into ``STORE/ensemble``, so the store carries the model its results explain and workers can load
    it, and every job not yet done is run. Returns the report's one-line summary.
    """
    jobs = plan_jobs(config, target_months=target_months, methods=methods)  # fails fast on bad input
    check_store(store, store_settings(config))
    ds = pipeline.dataset(config.data_source, config.resolution_km)
    for month in dict.fromkeys(job.target_month for job in jobs):  # before training: every month's starts,
        pipeline.check_run(dataclasses.replace(config, target_month=month), ds)  # a paired baseline's too
    ens = pipeline.run_ensemble(ds, config)
    store = open_store(store, store_settings(config), ensemble_identity(ens.manifest))
    ensemble_dir = store / ENSEMBLE_DIR
    if ensemble_dir.exists() and not (ensemble_dir / MANIFEST_FILE).is_file():  # not written by a sweep
        raise SweepError(f"{ensemble_dir} exists but holds no saved ensemble ({MANIFEST_FILE} missing); "
                         "nothing was changed: move it out of the store and run the sweep again")
    if not ensemble_dir.exists():
        with writing(store):
            ens.save(ensemble_dir)
    return str(run_sweep(jobs, store, ensemble_dir=ensemble_dir, scheduler=scheduler, progress=progress))


__all__ = ["JOB_AXES", "Job", "JobContext", "SweepError", "SweepReport", "compute_job", "data_fingerprint",
           "is_done", "job_path", "job_summary", "load_results", "open_sweep", "plan_jobs", "run_job",
           "run_sweep", "saved_ensemble_identity", "stored_jobs", "sweep_command", "sweep_index",
           "write_index"]
