"""Attribution sweeps: planning from the run configuration, the store that loses nothing, resuming
after failures, concurrent writers, and Dask giving the same results.

One small sweep (a 2-member IceNet of width 0.125 on the emulated Arctic at 200 km, vanilla gradients,
2 leads) is run once per module; the tests that change a store work on copies of it. The concurrency
tests use tiny fake results instead of networks, so they can run many jobs quickly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from icegrad import pipeline, sweep
from icegrad.attribution import attribute
from icegrad.attribution.results import build_result
from icegrad.attribution.targets import sample_for_forecast
from icegrad.config import RunConfig
from icegrad.errors import IcegradError
from icegrad.inputs import build as network_inputs
from icegrad.model import IceNetEnsemble, build_icenet
from icegrad.sweep import SweepError, plan_jobs, run_sweep
from icegrad.sweep import store as sweep_store
from icegrad.sweep.jobs import STORE_SETTINGS, store_settings
from icegrad.variables import CHANNEL_NAMES
from icegrad.widgets.collection import as_collection

MONTH = "2013-09"
METHOD = "vanilla_gradient"
CONFIG = RunConfig(resolution_km=200, members=2, leads=(1, 3), method=METHOD, target_month=MONTH)
"""The coarse sweep of these tests; every other setting is the run configuration's default."""


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A cache holding the 200 km emulated Arctic and a saved, untrained 2-member ensemble.

    Module-scoped (the ``isolated_cache`` fixture is per test) so the data are built once.
    """
    root = tmp_path_factory.mktemp("sweep")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(root / "cache"))
        ds = pipeline.dataset("emulated", 200)
        stats = network_inputs.fit_normalisation(ds)
        models = [build_icenet(54, 54, 50, filters_factor=0.125, seed=seed) for seed in (0, 1)]
        manifest = {"data_source": "emulated", "seeds": [36, 37], "created": "test"}
        ens = IceNetEnsemble(models, stats, CHANNEL_NAMES, manifest)
        ens.save(root / "ensemble")
        yield {"root": root, "ds": ds, "ensemble_dir": root / "ensemble", "ensemble": ens}


@pytest.fixture
def cache(setting: dict, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The module's cache, for tests that run jobs (the driver and workers read the data from it)."""
    path = setting["root"] / "cache"
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def jobs() -> list[sweep.Job]:
    return plan_jobs(CONFIG, target_months=[MONTH], methods=[METHOD])


def _run(jobs: list[sweep.Job], store: Path, setting: dict, **kwargs: object) -> sweep.SweepReport:
    return run_sweep(jobs, store, ensemble_dir=setting["ensemble_dir"], progress=False, **kwargs)


@pytest.fixture(scope="module")
def done_store(setting: dict, jobs: list[sweep.Job]) -> tuple[Path, sweep.SweepReport]:
    store = setting["root"] / "store"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ICEGRAD_CACHE_DIR", str(setting["root"] / "cache"))
        report = _run(jobs, store, setting)
    return store, report


def _copy(store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(store, target)
    return target


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to show that nothing was changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _fake_result(job: sweep.Job, context: sweep.JobContext | None = None) -> xr.Dataset:
    """A valid 3 x 3, two-channel result standing in for a network's attribution of ``job``."""
    sample = xr.DataArray(np.zeros((3, 3, 2), np.float32), dims=("y", "x", "channel"),
                          coords={"channel": list(CHANNEL_NAMES[:2])})
    value = np.full((1, 1, 3, 3, 2), job.member + job.lead / 10, np.float32)
    attrs = {"method": job.method, "target": "sip", "roi_rule": job.options["roi_rule"], "model_id": "fake",
             "data_source": "emulated", "steps": job.options["steps"], "baseline": job.options["baseline"]}
    result = build_result(value, value[0], np.zeros((1, 1)), None, sample, np.ones((3, 3), bool),
                          (job.lead,), attrs)
    return result.assign_coords(member=[job.member], member_name=("member", [f"seed{36 + job.member}"]))


# ------------------------------------------------------------------------------------------ planning

def test_plan_covers_every_combination_in_order_with_stable_keys() -> None:
    config = RunConfig(leads=(1, 6), members=2, steps=8)
    jobs = plan_jobs(config, target_months=["2012-09", "2013-9"],
                     methods=["integrated_gradients", "vanilla_gradient"])
    assert len(jobs) == 2 * 2 * 2 * 2
    assert [j.target_month for j in jobs[:8]] == ["2012-09"] * 8 and jobs[-1].target_month == "2013-09"
    assert (jobs[0].lead, jobs[0].member, jobs[0].method) == (1, 0, "integrated_gradients")
    again = plan_jobs(dataclasses.replace(config, leads=(1,), members=1), target_months=["2012-09"],
                      methods=["integrated_gradients"])
    assert again[0].key == jobs[0].key and again[0] == jobs[0], "leads and members are axes, not settings"
    other = plan_jobs(dataclasses.replace(config, steps=16), target_months=["2012-09"],
                      methods=["integrated_gradients"])
    assert other[0].key != jobs[0].key, "different settings must not share a result file"
    assert pickle.loads(pickle.dumps(jobs[3])) == jobs[3]
    assert (jobs[5].lead, jobs[5].start_month) == (6, "2012-04")


def test_every_job_setting_comes_from_the_run_configuration() -> None:
    """The sweep states no default of its own: a job's settings are the configuration's fields."""
    config = RunConfig()
    jobs = plan_jobs(config)
    assert {(j.target_month, j.method) for j in jobs} == {(config.target_month, config.method)}
    assert sorted({j.lead for j in jobs}) == list(config.leads)
    assert sorted({j.member for j in jobs}) == list(range(config.members))
    assert all(job.options == store_settings(config) for job in jobs)
    per_job = {"target_month", "leads", "members", "method"}
    assert set(STORE_SETTINGS) == {f.name for f in dataclasses.fields(RunConfig)} - per_job
    changed = dataclasses.replace(config, width=0.5, baseline="zeros", roi_rule="threshold:0.3,sign:abs")
    options = plan_jobs(changed)[0].options
    assert (options["width"], options["baseline"], options["roi_rule"]) == (0.5, "zeros",
                                                                            "threshold:0.3,sign:abs")


@settings(max_examples=25, deadline=None)
@given(months=st.lists(st.sampled_from(["2010-03", "2012-09", "2013-09", "2019-12"]), min_size=1,
                       max_size=3, unique=True),
       leads=st.lists(st.integers(1, 6), min_size=1, max_size=6, unique=True),
       members=st.integers(1, 4),
       methods=st.lists(st.sampled_from(["integrated_gradients", "vanilla_gradient", "smoothgrad"]),
                        min_size=1, max_size=3, unique=True))
def test_plan_keys_are_unique_per_combination(months: list[str], leads: list[int], members: int,
                                              methods: list[str]) -> None:
    jobs = plan_jobs(RunConfig(leads=tuple(leads), members=members), target_months=months, methods=methods)
    assert len(jobs) == len(months) * len(leads) * members * len(methods)
    assert len({j.key for j in jobs}) == len(jobs)


@pytest.mark.parametrize(("months", "methods", "message"), [
    (["Sept 2013x"], [METHOD], "YYYY-MM"),
    (["Sept"], [METHOD], "YYYY-MM"),
    (["2013-13"], [METHOD], "YYYY-MM"),
    ([MONTH], ["saliency"], "choose one of"),
    ([], [METHOD], "at least one target month"),
    ([MONTH], [], "one method"),
])
def test_plan_rejects_bad_input_before_any_work(months: list[str], methods: list[str], message: str) -> None:
    with pytest.raises(IcegradError, match=message):
        plan_jobs(CONFIG, target_months=months, methods=methods)


# ------------------------------------------------------------------------------------ running a sweep

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
    roi = pipeline.region(ds, CONFIG.reference_year, CONFIG.target_year, CONFIG.month, CONFIG.roi_rule)
    direct = attribute(ens.members[1], sample_for_forecast(inputs, MONTH, 3), roi, 3, METHOD,
                       land=ds["land"])
    got = combined["attribution"].sel({"target_month": MONTH, "lead": 3, "member": 1, "method": METHOD})
    np.testing.assert_allclose(got.values, direct["attribution"].isel(member=0, lead=0).values,
                               rtol=1e-5, atol=1e-9)
    assert np.abs(got.values).max() > 0
    index = sweep.sweep_index(store)
    assert len(index) == len(jobs) and index["done"].all()
    assert (store / sweep_store.INDEX_FILE).is_file()


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
    assert as_collection(store).keys == [(MONTH, METHOD)], "the explorer opens a store folder"


def test_the_store_carries_a_manifest_of_its_settings(done_store, jobs) -> None:
    store, _ = done_store
    manifest = json.loads((store / sweep_store.MANIFEST_FILE).read_text())
    assert manifest["format"] == sweep_store.STORE_FORMAT
    assert manifest["settings"] == json.loads(json.dumps(store_settings(CONFIG)))
    assert not set(manifest["settings"]) & {"target_month", "leads", "members", "method"}
    assert sorted(job.key for job in sweep.stored_jobs(store)) == sorted(job.key for job in jobs)


def test_rerun_runs_only_missing_or_damaged_jobs(setting: dict, cache: Path, done_store, jobs,
                                                 tmp_path: Path) -> None:
    original, _ = done_store
    store = _copy(original, tmp_path)
    deleted, truncated, corrupted, kept = jobs
    sweep.job_path(store, deleted).unlink()
    path = sweep.job_path(store, truncated)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a copy cut short
    path = sweep.job_path(store, corrupted)
    data = bytearray(path.read_bytes())
    middle = len(data) * 2 // 3  # inside the compressed attribution chunks, past the netCDF header
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))  # same size, one damaged chunk
    assert [sweep.is_done(store, job) for job in jobs] == [False, False, False, True]
    stamp = sweep.job_path(store, kept).stat().st_mtime_ns
    report = _run(jobs, store, setting)
    assert sorted(report.ran) == sorted([deleted.key, truncated.key, corrupted.key])
    assert report.skipped == [kept.key]
    assert sweep.job_path(store, kept).stat().st_mtime_ns == stamp
    for job in (deleted, truncated, corrupted):
        redone = xr.open_dataset(sweep.job_path(store, job))["attribution"].values
        first = xr.open_dataset(sweep.job_path(original, job))["attribution"].values
        np.testing.assert_array_equal(redone, first)


def test_a_failed_job_is_reported_kept_missing_and_finished_later(setting: dict, cache: Path, done_store,
                                                                  jobs, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_a_job_refuses_data_other_than_the_drivers(setting: dict, cache: Path, jobs, tmp_path: Path) -> None:
    context = sweep.JobContext(str(setting["ensemble_dir"]), str(cache),
                               data_fingerprint="0" * 16)  # as if the driver had loaded other data
    with pytest.raises(SweepError, match="differ from the driver's"):
        sweep.run_job(jobs[0], tmp_path / "store", context)
    built, read_back = setting["ds"], pipeline.dataset("emulated", 200)
    assert sweep.data_fingerprint(built) == sweep.data_fingerprint(read_back)


# ------------------------------------------------------------------------------- a store loses nothing

def test_a_folder_that_is_not_a_store_is_refused_and_left_untouched(setting: dict, jobs, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    (folder / "ensemble").mkdir(parents=True)
    (folder / "ensemble" / "notes.txt").write_text("my notes")
    (folder / "index.csv").write_text("my table\n")
    before, names = _snapshot(folder), sorted(p.name for p in folder.rglob("*"))

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the store must be checked before training")

    monkeypatch.setattr(sweep.pipeline, "ensemble", no_training)
    for attempt in (lambda: _run(jobs, folder, setting),
                    lambda: sweep.sweep_command(folder, CONFIG, target_months=[MONTH], methods=[METHOD],
                                                progress=False)):
        with pytest.raises(SweepError, match="not a sweep store") as info:
            attempt()
        message = str(info.value)
        assert str(folder) in message and "new or empty folder" in message and "\n" not in message
    assert _snapshot(folder) == before and sorted(p.name for p in folder.rglob("*")) == names
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(SweepError, match="is a file"):
        _run(jobs, tmp_path / "a_file", setting)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_unwritable_store_is_refused_before_any_work(jobs, tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SweepError, match="cannot be written"):
            sweep_store.check_store(tmp_path / "store", store_settings(CONFIG))
    finally:
        tmp_path.chmod(0o700)


def test_jobs_of_other_settings_are_refused_and_never_merged(setting: dict, cache: Path, done_store, jobs,
                                                             tmp_path: Path) -> None:
    store = _copy(done_store[0], tmp_path)
    before = _snapshot(store)
    config = dataclasses.replace(CONFIG, steps=16, roi_rule="threshold:0.3,sign:abs")
    other = plan_jobs(config, target_months=[MONTH], methods=[METHOD])
    with pytest.raises(SweepError, match="new store folder") as info:
        _run(other, store, setting)
    message = str(info.value)
    assert "steps=16 (store: 64)" in message and "roi_rule='threshold:0.3,sign:abs'" in message
    assert "reference_year" not in message and "\n" not in message
    assert _snapshot(store) == before
    assert list(sweep.load_results(store)) == [(MONTH, METHOD)]
    with pytest.raises(SweepError, match="different run configurations"):
        _run([*jobs, *other], tmp_path / "mixed", setting)
    assert not (tmp_path / "mixed").exists()


def test_a_store_refuses_results_of_another_ensemble(setting: dict, cache: Path, done_store, jobs,
                                                     tmp_path: Path) -> None:
    store = _copy(done_store[0], tmp_path)
    other = tmp_path / "other_ensemble"
    shutil.copytree(setting["ensemble_dir"], other)
    manifest = other / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"test"', '"retrained"'))
    with pytest.raises(SweepError, match=r"ensemble=.*new store folder"):
        run_sweep(jobs, store, ensemble_dir=other, progress=False)
    with pytest.raises(SweepError, match="no saved ensemble"):
        run_sweep(jobs, tmp_path / "fresh", ensemble_dir=tmp_path, progress=False)


def test_concurrent_writers_lose_no_job(setting: dict, cache: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writers sweep overlapping plans into one new store at once, three times over: every job of
    both plans is recorded and done, and no temporary is left (sweep.json once lost records here)."""
    monkeypatch.setattr(sweep, "compute_job", _fake_result)
    config = dataclasses.replace(CONFIG, leads=(1, 2, 3, 4, 5, 6))
    months = [f"{year}-09" for year in range(2005, 2010)]
    plans = [plan_jobs(config, target_months=months[:3], methods=[METHOD]),
             plan_jobs(config, target_months=months[2:], methods=[METHOD])]
    expected = {job.key for plan in plans for job in plan}
    for attempt in range(3):
        store = tmp_path / f"store{attempt}"
        start, errors = threading.Barrier(len(plans)), []

        def write(plan: list[sweep.Job], store: Path = store, start: threading.Barrier = start,
                  errors: list = errors) -> None:
            start.wait()
            try:
                _run(plan, store, setting)
            except Exception as err:  # reported by the assertion below
                errors.append(err)

        writers = [threading.Thread(target=write, args=(plan,)) for plan in plans]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert not errors
        assert {job.key for job in sweep.stored_jobs(store)} == expected
        assert all(sweep.is_done(store, job) for plan in plans for job in plan)
        assert not [p.name for p in store.rglob("*.part")]
        assert sweep.sweep_index(store)["done"].sum() == len(expected)


WRITER = """
import importlib.util, pathlib, sys, time
from icegrad.sweep import store as sweep_store
from icegrad.sweep.jobs import plan_jobs, store_settings
spec = importlib.util.spec_from_file_location("sweep_tests", sys.argv[1])
tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tests)
store, go, months = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4].split(",")
config = tests.dataclasses.replace(tests.CONFIG, leads=(1, 2, 3, 4, 5, 6))
jobs = plan_jobs(config, target_months=months, methods=[tests.METHOD])
while not go.exists():
    time.sleep(0.01)
store = sweep_store.open_store(store, store_settings(config), "fake-ensemble")
sweep_store.plan(store, jobs)
for job in jobs:
    if not sweep_store.is_done(store, job):
        sweep_store.publish(store, job, tests._fake_result(job))
"""


@pytest.mark.slow  # two fresh interpreters importing TensorFlow
def test_concurrent_writer_processes_lose_no_job(tmp_path: Path) -> None:
    """The same with two processes (the store's locks and create-once files work across processes)."""
    store, go = tmp_path / "store", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    months = [f"{year}-09" for year in range(2005, 2010)]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, __file__, str(store), str(go), ",".join(part)],
                                env=env, stderr=subprocess.PIPE, text=True)
               for part in (months[:3], months[2:])]
    go.touch()
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0], [w.stderr.read() for w in writers]
    config = dataclasses.replace(CONFIG, leads=(1, 2, 3, 4, 5, 6))
    expected = plan_jobs(config, target_months=months, methods=[METHOD])
    assert {job.key for job in sweep.stored_jobs(store)} == {job.key for job in expected}
    assert all(sweep.is_done(store, job) for job in expected)
    assert not [p.name for p in store.rglob("*.part")]


def test_orphaned_temporaries_are_removed_on_resume_but_not_a_live_writers(setting: dict, cache: Path,
                                                                            done_store, jobs,
                                                                            tmp_path: Path) -> None:
    store = _copy(done_store[0], tmp_path)
    orphans = [store / "jobs" / f".{jobs[0].key}.nc.k1ll3d.part", store / ".index.csv.k1ll3d.part"]
    for path in orphans:
        path.write_bytes(b"half a file")
    ensemble_part = store / ".ensemble.k1ll3d.part"
    ensemble_part.mkdir()
    (ensemble_part / "member_seed36.keras").write_bytes(b"half a model")
    users = store / "notes.part"  # not a temporary of the store's writers
    users.write_text("mine")
    with sweep_store.writing(store):  # a writer at work: its temporaries are not orphans
        assert sweep_store.clean_orphans(store) == []
    assert all(path.exists() for path in [*orphans, ensemble_part])
    report = _run(jobs, store, setting)
    assert sorted(report.skipped) == sorted(job.key for job in jobs)
    assert not any(path.exists() for path in [*orphans, ensemble_part]) and users.read_text() == "mine"


def test_a_store_whose_creation_was_killed_is_created_again(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / sweep_store.LOCK_FILE).touch()
    orphan = store / f".{sweep_store.MANIFEST_FILE}.k1ll3d.part"
    orphan.write_text('{"format": ')  # the manifest's temporary, before its rename
    settings = store_settings(CONFIG)
    assert sweep_store.open_store(store, settings, "ensemble-digest") == store.resolve()
    assert not orphan.exists() and sweep_store.read_manifest(store)["ensemble"] == "ensemble-digest"
    sweep_store.open_store(store, settings, "ensemble-digest")  # reopening the same store is fine


def test_every_read_error_names_its_file(setting: dict, cache: Path, done_store, jobs, tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    store = _copy(done_store[0], tmp_path)
    # a damaged job record: named in a warning, the job counts as not done, and a rerun redoes it
    record = sweep_store.record_path(store, jobs[1])
    record.write_text('{"target_month": "2013-')
    with caplog.at_level("WARNING"):
        assert not sweep.is_done(store, jobs[1])
    assert str(record) in caplog.text
    assert _run(jobs, store, setting).ran == [jobs[1].key] and sweep.is_done(store, jobs[1])
    # a result whose checksum matches but which cannot be read
    path = sweep.job_path(store, jobs[0])
    path.write_bytes(b"not a netCDF file")
    stat = path.stat()
    entry = json.loads(sweep_store.record_path(store, jobs[0]).read_text())
    entry.update(bytes=stat.st_size,
                 sha256=sweep_store._sha256(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    sweep_store.record_path(store, jobs[0]).write_text(json.dumps(entry))
    for read in (sweep.load_results, sweep.open_sweep):
        with pytest.raises(SweepError, match=re.escape(f"cannot read sweep result {path}")):
            read(store)
    # a manifest of settings this icegrad does not know, then a damaged one
    manifest = store / sweep_store.MANIFEST_FILE
    stored = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**stored, "settings": {**stored["settings"], "colour": "blue"}}))
    with pytest.raises(SweepError, match=re.escape(f"the settings in {manifest} cannot be read")):
        sweep.stored_jobs(store)
    manifest.write_text("{")
    for read in (sweep.load_results, sweep.sweep_index):
        with pytest.raises(SweepError, match=re.escape(f"cannot read the sweep manifest {manifest}")):
            read(store)


# ------------------------------------------------------------------------------ Dask and the CLI entry

@pytest.mark.slow
def test_dask_local_cluster_gives_the_in_process_results(setting: dict, cache: Path, done_store, jobs,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
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
    on_disk = {j.key for j in jobs if sweep.is_done(tmp_path / "killed", j)}
    assert set(killed.ran) <= on_disk and victim.key not in on_disk
    monkeypatch.setattr(sweep, "run_job", real_run_job)
    rerun = _run(jobs, tmp_path / "killed", setting)  # in-process: the cheaper way to finish
    assert sorted(rerun.skipped) == sorted(on_disk)
    assert sorted(rerun.ran) == sorted(j.key for j in jobs if j.key not in on_disk)
    for job in jobs:
        finished = xr.open_dataset(sweep.job_path(tmp_path / "killed", job))["attribution"].values
        np.testing.assert_array_equal(finished, xr.open_dataset(sweep.job_path(done_store[0], job))
                                      ["attribution"].values)


def test_cli_entry_saves_the_ensemble_into_the_store_and_resumes(setting: dict, cache: Path, done_store,
                                                                 jobs, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict] = []

    def trained(ds: xr.Dataset, **options: object) -> IceNetEnsemble:
        asked.append(options)
        return setting["ensemble"]

    monkeypatch.setattr(sweep.pipeline, "ensemble", trained)
    store = _copy(done_store[0], tmp_path)  # every job of this plan is already done
    summary = sweep.sweep_command(store, CONFIG, target_months=[MONTH], methods=[METHOD], progress=False)
    assert f"0 job(s) run, {len(jobs)} already done, 0 failed" in summary
    assert asked == [{"members": CONFIG.members, "width": CONFIG.width, "epochs": CONFIG.epochs,
                      "weights": None, "pretrain_realisations": CONFIG.pretrain_realisations}]
    assert IceNetEnsemble.load(store / "ensemble").member_names == ["seed36", "seed37"]
    retrained = IceNetEnsemble(setting["ensemble"].members, setting["ensemble"].stats, CHANNEL_NAMES,
                               {**setting["ensemble"].manifest, "created": "later"})
    monkeypatch.setattr(sweep.pipeline, "ensemble", lambda ds, **options: retrained)
    with pytest.raises(SweepError, match="ensemble="):
        sweep.sweep_command(store, CONFIG, target_months=[MONTH], methods=[METHOD], progress=False)
    # an ensemble folder the sweep did not write is left alone
    monkeypatch.setattr(sweep.pipeline, "ensemble", trained)
    shutil.rmtree(store / "ensemble")
    (store / "ensemble").mkdir()
    (store / "ensemble" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match=r"holds no saved ensemble.*nothing was changed"):
        sweep.sweep_command(store, CONFIG, target_months=[MONTH], methods=[METHOD], progress=False)
    assert (store / "ensemble" / "notes.txt").read_text() == "mine"


def test_a_sweep_whose_paired_forecast_is_not_in_the_data_fails_before_training(
        setting: dict, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trainings: list[object] = []
    monkeypatch.setattr(sweep.pipeline, "ensemble", lambda ds, **options: trainings.append(options))
    config = dataclasses.replace(CONFIG, baseline="persistence", method="integrated_gradients", leads=(1,))
    with pytest.raises(IcegradError, match="baseline='persistence' explains 1980-09 against the same "
                                           "forecast for 1979-09, whose lead-1 forecast starts in 1979-09"):
        sweep.sweep_command(tmp_path / "store", config, target_months=[MONTH, "1980-09"],
                            methods=["integrated_gradients"], progress=False)
    assert trainings == []


@pytest.mark.parametrize(("baseline", "paired"), [("counterfactual", "2007-09"), ("persistence", "2012-09")])
def test_a_paired_job_explains_the_difference_from_the_paired_year(setting: dict, cache: Path, tmp_path: Path,
                                                                  baseline: str, paired: str) -> None:
    config = dataclasses.replace(CONFIG, baseline=baseline, steps=8, leads=(3,), members=1)
    (job,) = plan_jobs(config, target_months=[MONTH], methods=["integrated_gradients"])
    report = _run([job], tmp_path / "store", setting)
    assert not report.failed, report.failed
    got = sweep.open_sweep(tmp_path / "store")
    ds, ens = setting["ds"], setting["ensemble"]
    inputs = pipeline.forecast_inputs(ds, ens, MONTH, [3], paired)
    reference = attribute(ens.members[0], sample_for_forecast(inputs, paired, 3),
                          pipeline.region(ds), 3, METHOD, land=ds["land"])
    np.testing.assert_allclose(got["baseline_target_value"].values.ravel(),
                               reference["target_value"].values.ravel(), rtol=1e-5)
    with xr.open_dataset(sweep.job_path(tmp_path / "store", job)) as stored:
        assert stored.attrs["baseline_target_month"] == paired
