"""Attribution sweeps: planning, the per-job store, resuming after failures, and Dask gives the same results.

One small sweep (a 2-member IceNet of width 0.125 on the emulated Arctic at 200 km, vanilla gradients,
2 leads) is run once per module; the resume tests work on copies of its store.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import pipeline
from icegrad.attribution import attribute, sweep
from icegrad.attribution.sweep import SweepError, plan_jobs, run_sweep
from icegrad.attribution.targets import sample_for_forecast
from icegrad.data import inputs as data_inputs
from icegrad.model import IceNetEnsemble, build_icenet
from icegrad.variables import CHANNEL_NAMES

MONTH = "2013-09"
LEADS = (1, 3)
METHOD = "vanilla_gradient"


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A cache holding the 200 km emulated Arctic and a saved, untrained 2-member ensemble.

    Module-scoped (the ``isolated_cache`` fixture is per test) so the data are built once.
    """
    root = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(root / "cache"))
        ds = pipeline.dataset("emulated", 200)
        stats = data_inputs.fit_normalisation(ds)
        models = [build_icenet(54, 54, 50, filters_factor=0.125, seed=seed) for seed in (0, 1)]
        manifest = {"data_source": "emulated", "seeds": [36, 37], "created": "test"}
        ens = IceNetEnsemble(models, stats, CHANNEL_NAMES, manifest)
        ens.save(root / "ensemble")
        yield {"root": root, "ds": ds, "ensemble_dir": root / "ensemble", "ensemble": ens}


@pytest.fixture(scope="module")
def jobs() -> list[sweep.Job]:
    return plan_jobs([MONTH], LEADS, 2, [METHOD])


def _run(jobs: list[sweep.Job], store: Path, setting: dict, **kwargs: object) -> sweep.SweepReport:
    return run_sweep(jobs, store, ensemble_dir=setting["ensemble_dir"], data_source="emulated",
                     resolution_km=200, progress=False, **kwargs)


@pytest.fixture(scope="module")
def done_store(setting: dict, jobs: list[sweep.Job]) -> tuple[Path, sweep.SweepReport]:
    store = setting["root"] / "store"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
        report = _run(jobs, store, setting)
    return store, report


def test_plan_covers_every_combination_in_order_with_stable_keys() -> None:
    jobs = plan_jobs(["2012-09", "2013-9"], [1, 6], 2, ["integrated_gradients", "vanilla_gradient"], steps=8)
    assert len(jobs) == 2 * 2 * 2 * 2
    assert [j.target_month for j in jobs[:8]] == ["2012-09"] * 8 and jobs[-1].target_month == "2013-09"
    assert (jobs[0].lead, jobs[0].member, jobs[0].method) == (1, 0, "integrated_gradients")
    assert jobs[0].options["steps"] == 8 and jobs[0].options["roi_rule"] == pipeline.BOOK_ROI_RULE
    again = plan_jobs(["2012-09"], [1], [0], ["integrated_gradients"], steps=8)
    assert again[0].key == jobs[0].key and again[0] == jobs[0]
    other = plan_jobs(["2012-09"], [1], [0], ["integrated_gradients"], steps=16)
    assert other[0].key != jobs[0].key, "different settings must not share a result file"
    assert pickle.loads(pickle.dumps(jobs[3])) == jobs[3]
    assert (jobs[5].lead, jobs[5].start_month) == (6, "2012-04")


@settings(max_examples=25, deadline=None)
@given(months=st.lists(st.sampled_from(["2010-03", "2012-09", "2013-09", "2019-12"]), min_size=1,
                       max_size=3, unique=True),
       leads=st.lists(st.integers(1, 6), min_size=1, max_size=6, unique=True),
       members=st.integers(1, 4),
       methods=st.lists(st.sampled_from(["integrated_gradients", "vanilla_gradient", "smoothgrad"]),
                        min_size=1, max_size=3, unique=True))
def test_plan_keys_are_unique_per_combination(months: list[str], leads: list[int], members: int,
                                              methods: list[str]) -> None:
    jobs = plan_jobs(months, leads, members, methods)
    assert len(jobs) == len(months) * len(leads) * members * len(methods)
    assert len({j.key for j in jobs}) == len(jobs)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: plan_jobs(["Sept 2013x"], [1], 1, [METHOD]), "YYYY-MM"),
    (lambda: plan_jobs(["Sept"], [1], 1, [METHOD]), "YYYY-MM"),  # pandas alone reads it as year 1
    (lambda: plan_jobs([MONTH], [7], 1, [METHOD]), "outside 1..6"),
    (lambda: plan_jobs([MONTH], [1], 1, ["saliency"]), "unknown method"),
    (lambda: plan_jobs([MONTH], [1], [0, 0], [METHOD]), "distinct"),
    (lambda: plan_jobs([MONTH], [1], 1, [METHOD], step=8), "unknown sweep setting"),
    (lambda: plan_jobs([MONTH], [1], 1, [METHOD], steps=0), "positive integer"),
    (lambda: plan_jobs([MONTH], [1], 1, [METHOD], baseline="mean"), "baseline"),
    (lambda: plan_jobs([MONTH], [1], 1, [METHOD], roi_rule="biggest"), "ROI"),
])
def test_plan_rejects_bad_input_before_any_work(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_in_process_sweep_matches_a_direct_attribution(setting: dict, done_store, jobs) -> None:
    store, report = done_store
    assert sorted(report.ran) == sorted(j.key for j in jobs) and not report.failed and not report.skipped
    combined = sweep.open_sweep(store)
    assert dict(combined["attribution"].sizes) == {"target_month": 1, "lead": 2, "member": 2, "method": 1,
                                                   "channel": 50, "y": 54, "x": 54}
    assert bool(combined["done"].all()) and list(combined["member_name"].values) == ["seed36", "seed37"]
    # the job (member 1, lead 3) recomputed directly with the public API, outside the sweep
    ds, ens = setting["ds"], setting["ensemble"]
    inputs = pipeline.forecast_inputs(ds, ens, MONTH, [3])
    direct = attribute(ens.members[1], sample_for_forecast(inputs, MONTH, 3), pipeline.region(ds), 3,
                       METHOD, land=ds["land"])
    got = combined["attribution"].sel({"target_month": MONTH, "lead": 3, "member": 1, "method": METHOD})
    np.testing.assert_allclose(got.values, direct["attribution"].isel(member=0, lead=0).values,
                               rtol=1e-5, atol=1e-9)
    assert np.abs(got.values).max() > 0
    index = sweep.sweep_index(store)
    assert len(index) == len(jobs) and index["done"].all()
    assert (store / sweep.INDEX_FILE).is_file()


def test_results_by_month_and_method_follow_the_result_schema(done_store) -> None:
    store, _ = done_store
    results = sweep.load_results(store)
    assert list(results) == [(MONTH, METHOD)]
    result = results[(MONTH, METHOD)]
    assert result["attribution"].dims == ("member", "lead", "channel", "y", "x")
    assert list(result["member"].values) == ["seed36", "seed37"] and list(result["lead"].values) == [1, 3]
    assert list(result["forecast_start"].values) == ["2013-09", "2013-07"]
    assert result.attrs["method"] == METHOD and result.attrs["data_source"] == "emulated"
    assert result["roi"].dtype == bool and result["roi"].any()


def _copy(store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(store, target)
    return target


def test_rerun_runs_only_missing_or_damaged_jobs(setting: dict, done_store, jobs, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
    original, _ = done_store
    store = _copy(original, tmp_path)
    deleted, damaged, *kept = jobs
    sweep.job_path(store, deleted).unlink()
    sweep.job_path(store, damaged).write_bytes(b"not a netCDF file: a worker was killed mid-copy")
    stamps = {job.key: sweep.job_path(store, job).stat().st_mtime_ns for job in kept}
    report = _run(jobs, store, setting)
    assert sorted(report.ran) == sorted([deleted.key, damaged.key])
    assert sorted(report.skipped) == sorted(job.key for job in kept)
    assert {job.key: sweep.job_path(store, job).stat().st_mtime_ns for job in kept} == stamps
    for job in (deleted, damaged):
        redone = xr.open_dataset(sweep.job_path(store, job))["attribution"].values
        first = xr.open_dataset(sweep.job_path(original, job))["attribution"].values
        np.testing.assert_array_equal(redone, first)


def test_a_failed_job_is_reported_kept_missing_and_finished_later(setting: dict, done_store, jobs,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
    store = _copy(done_store[0], tmp_path)
    victim = jobs[2]
    sweep.job_path(store, victim).unlink()
    real = sweep.compute_job

    def crashing(job: sweep.Job, context: sweep.JobContext) -> xr.Dataset:
        raise RuntimeError("simulated out-of-memory on a worker")

    monkeypatch.setattr(sweep, "compute_job", crashing)
    with pytest.raises(SweepError, match="call run_sweep again") as info:
        _run(jobs, store, setting)
    assert list(info.value.report.failed) == [victim.key]
    assert "out-of-memory" in info.value.report.failed[victim.key]
    assert not sweep.job_path(store, victim).exists(), "a failed job must leave no file behind"
    assert not sweep.sweep_index(store).set_index("key").loc[victim.key, "done"]
    monkeypatch.setattr(sweep, "compute_job", real)
    assert _run(jobs, store, setting).ran == [victim.key]


def test_a_store_refuses_results_of_another_ensemble(setting: dict, done_store, jobs, tmp_path: Path,
                                                     isolated_cache: Path) -> None:
    store = _copy(done_store[0], tmp_path)
    other = tmp_path / "other_ensemble"
    shutil.copytree(setting["ensemble_dir"], other)
    manifest = other / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"test"', '"retrained"'))
    with pytest.raises(SweepError, match="use a new store folder"):
        run_sweep(jobs, store, ensemble_dir=other, resolution_km=200, progress=False)
    with pytest.raises(SweepError, match="no saved ensemble"):
        run_sweep(jobs, tmp_path / "fresh", ensemble_dir=tmp_path, resolution_km=200, progress=False)


def test_a_job_refuses_data_other_than_the_drivers(setting: dict, jobs, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
    context = sweep.JobContext(str(setting["ensemble_dir"]), "emulated", 200, str(setting["root"] / "cache"),
                               data_fingerprint="0" * 16)  # as if the driver had loaded other data
    with pytest.raises(SweepError, match="differ from the driver's"):
        sweep.run_job(jobs[0], tmp_path / "store", context)
    built, read_back = setting["ds"], pipeline.dataset("emulated", 200)
    assert sweep.data_fingerprint(built) == sweep.data_fingerprint(read_back)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_in_process_results(setting: dict, done_store, jobs, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))  # workers get this path
    subset = jobs[:2]  # one job per worker keeps this test short; both workers must take part
    victim = jobs[-1]
    real_run_job = sweep.run_job

    def dying(job: sweep.Job, store: str, context: sweep.JobContext) -> dict:
        """Shipped by value to the workers: the victim's worker process dies mid-job."""
        if job.key == victim.key:
            os._exit(1)
        return real_run_job(job, store, context)

    # no retries, so the killed job is reported failed at once (the nanny still restarts the worker)
    no_retry = dask.config.set({"distributed.scheduler.allowed-failures": 0})
    with no_retry, distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                            host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2)
        report = _run(subset, tmp_path / "store", setting, scheduler=client)
        workers = {w["id"] for w in client.scheduler_info()["workers"].values()}
        monkeypatch.setattr(sweep, "run_job", dying)
        killed = _run(jobs, tmp_path / "killed", setting, scheduler=client, raise_on_failure=False)
    assert sorted(report.ran) == sorted(j.key for j in subset) and len(workers) == 2
    for job in subset:  # bit-for-bit the same as the in-process sweep
        remote = xr.open_dataset(sweep.job_path(tmp_path / "store", job))
        local = xr.open_dataset(sweep.job_path(done_store[0], job))
        np.testing.assert_array_equal(remote["attribution"].values, local["attribution"].values)
        np.testing.assert_array_equal(remote["target_value"].values, local["target_value"].values)

    # a killed worker: its job is reported (KilledWorker), left missing, and a rerun does only what is missing
    assert victim.key in killed.failed and "KilledWorker" in killed.failed[victim.key]
    assert sorted([*killed.ran, *killed.failed]) == sorted(j.key for j in jobs)
    # (a job reported lost may still have stored its result: it ended just before its worker died)
    on_disk = {j.key for j in jobs if sweep.job_path(tmp_path / "killed", j).is_file()}
    assert set(killed.ran) <= on_disk and victim.key not in on_disk
    monkeypatch.setattr(sweep, "run_job", real_run_job)
    rerun = _run(jobs, tmp_path / "killed", setting)  # in-process: the cheaper way to finish
    assert sorted(rerun.skipped) == sorted(on_disk)
    assert sorted(rerun.ran) == sorted(j.key for j in jobs if j.key not in on_disk)
    for job in jobs:
        finished = xr.open_dataset(sweep.job_path(tmp_path / "killed", job))["attribution"].values
        np.testing.assert_array_equal(finished, xr.open_dataset(sweep.job_path(done_store[0], job))
                                      ["attribution"].values)


def test_cli_entry_saves_the_ensemble_into_the_store_and_resumes(setting: dict, done_store, jobs,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
    monkeypatch.setattr(sweep.pipeline, "ensemble", lambda ds, **options: setting["ensemble"])
    store = _copy(done_store[0], tmp_path)  # every job of this plan is already done
    report = sweep.sweep_command(store, target_months=[MONTH], leads=list(LEADS), methods=[METHOD],
                                 resolution_km=200, members=2, progress=False)
    assert sorted(report.skipped) == sorted(j.key for j in jobs) and not report.ran
    assert IceNetEnsemble.load(store / "ensemble").member_names == ["seed36", "seed37"]
    retrained = IceNetEnsemble(setting["ensemble"].members, setting["ensemble"].stats, CHANNEL_NAMES,
                               {**setting["ensemble"].manifest, "created": "later"})
    monkeypatch.setattr(sweep.pipeline, "ensemble", lambda ds, **options: retrained)
    with pytest.raises(SweepError, match="holds another ensemble"):
        sweep.sweep_command(store, target_months=[MONTH], leads=[1], methods=[METHOD], resolution_km=200,
                            members=2, progress=False)
