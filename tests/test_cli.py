"""The command line runs the same functions as the book and fails early and clearly on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from icegrad.cli import main


def test_data_prints_september_extents(isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--resolution", "200"]) == 0
    out = capsys.readouterr().out
    assert "September sea-ice extent" in out and "2013:" in out


def test_unknown_method_fails_before_any_work(
    isolated_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["attribute", "--method", "saliency"]) == 2
    assert "choose one of" in capsys.readouterr().err
    assert not (isolated_cache / "emulator").exists()


def test_bad_roi_rule_is_named(isolated_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--roi-rule", "biggest:0.5"]) == 2
    assert "unknown key(s) ['biggest'] in ROI rule" in capsys.readouterr().err


@pytest.mark.slow
def test_train_then_attribute_writes_a_result(isolated_cache: Path, tmp_path: Path) -> None:
    common = ["--resolution", "200", "--members", "1", "--epochs", "1"]
    assert main(["train", *common]) == 0
    output = tmp_path / "ig.nc"
    assert main(["attribute", *common, "--leads", "1", "--steps", "4", "--output", str(output)]) == 0
    with xr.open_dataset(output) as result:
        assert result.attrs["method"] == "integrated_gradients"
        assert result.sizes["lead"] == 1


def test_sweep_options_are_checked_before_any_work(isolated_cache: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--method", "vanilla_gradient", "saliency", "--sweep", "store"]) == 2
    assert "unknown method(s) ['saliency']" in capsys.readouterr().err
    assert main(["attribute", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "add --sweep STORE" in capsys.readouterr().err
    assert main(["attribute", "--target-month", "2012-09", "2013-09"]) == 2
    assert "make a sweep" in capsys.readouterr().err
    assert main(["attribute", "--sweep", "store", "--target-month", "Sept"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert not (isolated_cache / "emulator").exists()


@pytest.mark.slow
def test_sweep_on_a_dask_cluster_then_a_rerun_finishes_only_the_missing_job(
        isolated_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    distributed = pytest.importorskip("distributed")
    from icegrad.attribution import sweep

    store = tmp_path / "store"
    common = ["attribute", "--sweep", str(store), "--resolution", "200", "--members", "1", "--epochs", "1",
              "--width", "0.125", "--target-month", "2013-09", "--leads", "1", "3",
              "--method", "vanilla_gradient", "--quiet"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert main([*common, "--scheduler", cluster.scheduler_address]) == 0
    out = capsys.readouterr().out
    assert "on the Dask cluster at tcp://" in out and "2 job(s) run, 0 already done, 0 failed" in out
    index = sweep.sweep_index(store)
    assert len(index) == 2 and index["done"].all()
    first = {job.key: sweep.job_path(store, job) for job in sweep.stored_jobs(store)}
    lost, kept = sorted(first)
    kept_stamp = first[kept].stat().st_mtime_ns
    before = xr.open_dataset(first[lost])["attribution"].load()
    first[lost].unlink()  # as if its worker had been killed before the result was renamed into place

    assert main(common) == 0  # in-process this time, with the ensemble saved in the store
    assert "1 job(s) run, 1 already done, 0 failed" in capsys.readouterr().out
    assert first[kept].stat().st_mtime_ns == kept_stamp
    with xr.open_dataset(first[lost]) as redone:
        xr.testing.assert_allclose(redone["attribution"], before, rtol=1e-5, atol=1e-9)
