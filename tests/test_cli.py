"""The command line runs the same functions as the book and fails early and clearly on bad input."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import nbformat
import pytest
import xarray as xr

from icegrad import cli
from icegrad.cli import build_parser, main
from icegrad.config import RunConfig
from icegrad.errors import IcegradError

ROOT = Path(__file__).resolve().parents[1]


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
    common = ["--resolution", "200", "--members", "1", "--epochs", "1", "--pretrain-realisations"]  # none
    assert main(["train", *common]) == 0
    output = tmp_path / "ig.nc"
    assert main(["attribute", *common, "--leads", "1", "--steps", "4", "--output", str(output)]) == 0
    with xr.open_dataset(output) as result:
        assert result.attrs["method"] == "integrated_gradients"
        assert result.sizes["lead"] == 1


def test_sweep_options_are_checked_before_any_work(isolated_cache: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--method", "vanilla_gradient", "saliency", "--sweep", "store"]) == 2
    assert "method='saliency' is not allowed" in capsys.readouterr().err
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
    from icegrad import sweep

    store = tmp_path / "store"
    common = ["attribute", "--sweep", str(store), "--resolution", "200", "--members", "1", "--epochs", "1",
              "--pretrain-realisations", "--width", "0.125", "--target-month", "2013-09", "--leads", "1", "3",
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


def one_line_error(err: str) -> str:
    """The single stderr line of a failed command, checked to be ``icegrad: error: ...`` and no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("icegrad: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("argv", "message"), [
    (["attribute", "--leads", "0", "--output", "a.nc"], "leads=(0,) is out of range"),
    (["attribute", "--leads", "7"], "leads=(7,) is out of range: each lead must be a whole number of months"),
    (["attribute", "--steps", "0"], "steps=0 is out of range; it must lie between 1 and 4096"),
    (["attribute", "--members", "-1"], "members=-1 is out of range"),
    (["train", "--epochs", "0"], "epochs=0 is out of range"),
    (["attribute", "--target-year", "1850"], "target_year=1850 is out of range"),
    (["attribute", "--target-year", "2007"], "reference_year and target_year are both 2007"),
    (["attribute", "--roi-rule", "5"], "malformed ROI rule '5'"),
    (["attribute", "--target-month", "2013-9x"], "target_month='2013-9x' is not a month like '2013-09'"),
    (["attribute", "--sweep", "s", "--target-month", "2013-09", "2013-13"], "target_month='2013-13'"),
    (["train", "--weights", "no/such/folder"], "weights='no/such/folder' is not a folder"),
    (["train", "--pretrain-realisations", "0"], "names realisation 0, the book's own weather"),
    (["attribute", "--source", "nsidc", "--pretrain-realisations", "1", "2"],
     "pretrain_realisations are other realisations of the emulated Arctic, but data_source='nsidc'"),
    (["attribute", "--leads"], "argument --leads: expected at least one argument"),
    (["train", "--pretrain-realisations", "one"],
     "argument --pretrain-realisations: invalid int value: 'one'"),
    (["attribute", "--leads", "one"],
     "argument --leads: invalid int value: 'one'; see 'icegrad attribute --help'"),
    (["data", "--resolution", "30"], "argument --resolution: invalid choice: 30"),
    (["attribute", "--baseline", "blurred"], "argument --baseline: invalid choice: 'blurred'"),
    (["attribute", "--baseline", "persistence", "--target-month", "1980-09", "--leads", "1"],
     "baseline='persistence' explains 1980-09 against the same forecast for 1979-09, whose lead-1 forecast "
     "starts in 1979-09"),
])
def test_bad_values_fail_before_any_work_in_one_line(isolated_cache: Path, capsys: pytest.CaptureFixture[str],
                                                     argv: list[str], message: str) -> None:
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own errors exit from inside parse_args
        code = stop.code
    assert code == 2
    assert message in one_line_error(capsys.readouterr().err)
    assert not isolated_cache.exists()  # no data built, no model trained


def test_output_paths_are_checked_before_any_work(isolated_cache: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["attribute", "--output", str(tmp_path)]) == 2
    assert f"output '{tmp_path}' is a folder" in one_line_error(capsys.readouterr().err)
    (tmp_path / "file").write_text("not a folder")
    assert main(["attribute", "--output", str(tmp_path / "file" / "a.nc")]) == 2
    assert "is a file, not a folder" in one_line_error(capsys.readouterr().err)
    assert main(["attribute", "--sweep", str(tmp_path / "file")]) == 2
    assert "sweep store" in one_line_error(capsys.readouterr().err)
    assert not isolated_cache.exists()


def test_a_bad_value_fails_within_seconds_from_the_shell(tmp_path: Path) -> None:
    """End to end, as a user types it: one line, exit 2, well under the 10 s the issue allows."""
    for argv in (["attribute", "--leads", "0", "--output", "a.nc"], ["run", "05", "-p", "leads", "[7]"],
                 ["run", "03", "-p", "target_year", "1850"], ["run", "05", "-p", "roi_rule", "5"]):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "icegrad.cli", *argv], capture_output=True, text=True,
                                cwd=ROOT, env={**os.environ, "ICEGRAD_CACHE_DIR": str(tmp_path / "cache")},
                                check=False)
        elapsed = time.perf_counter() - start
        assert result.returncode == 2, result.stderr
        one_line_error("\n".join(line for line in result.stderr.splitlines()
                                 if not line.startswith(("WARNING: All log", "I0000"))))
        assert elapsed < 10, f"{argv} took {elapsed:.1f} s"
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("parameters", "message"), [
    (["-p", "leads", "[7]"], "05_gradient_attribution: leads=(7,) is out of range"),
    (["-p", "steps", "0"], "05_gradient_attribution: steps=0 is out of range"),
    (["-p", "members", "-1"], "members=-1 is out of range"),
    (["-p", "roi_rule", "5"], "malformed ROI rule '5'"),
    (["-p", "leads", "[0]", "-p", "resolution_km", "200"], "leads=(0,) is out of range"),
    (["-p", "baseline", "persistence", "-p", "target_month", "1980-09", "-p", "leads", "[1, 2]"],
     "05_gradient_attribution: baseline='persistence' explains 1980-09 against the same forecast for "
     "1979-09"),
])
def test_run_checks_chapter_parameters_before_papermill(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str],
                                                        parameters: list[str], message: str) -> None:
    import papermill

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("papermill started"))
    assert main(["run", "05", *parameters]) == 2
    assert message in one_line_error(capsys.readouterr().err)


def failing(error: BaseException) -> Any:
    def command(args: object) -> int:
        raise error
    return command


@pytest.fixture
def data_command(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace ``icegrad data``'s work by a function the test chooses."""
    def use(command: Any) -> None:
        parser = cli.build_parser()
        monkeypatch.setattr(cli, "build_parser", lambda: parser)
        commands = next(a for a in parser._actions if a.dest == "command")
        commands.choices["data"].set_defaults(func=command)
    return use


def test_os_errors_are_one_line_naming_the_path(data_command: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data_command(failing(PermissionError(errno.EACCES, "Permission denied", "/data/store/a.nc")))
    assert main(["data"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith("icegrad: error: Permission denied: '/data/store/a.nc'")


def test_ctrl_c_is_interrupted_with_exit_130(data_command: Any, capsys: pytest.CaptureFixture[str]) -> None:
    data_command(failing(KeyboardInterrupt()))
    assert main(["data"]) == 130
    assert capsys.readouterr().err == "icegrad: interrupted\n"


def test_user_errors_share_one_base_and_bugs_keep_their_traceback(data_command: Any,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from icegrad.book import BookError
    from icegrad.roi import RoiError

    assert issubclass(RoiError, IcegradError) and issubclass(BookError, IcegradError)
    data_command(failing(RoiError("the ROI is empty")))
    assert main(["data"]) == 2
    assert one_line_error(capsys.readouterr().err) == "icegrad: error: the ROI is empty"
    data_command(failing(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["data"])
    data_command(failing(ValueError("not icegrad's")))  # a plain ValueError is a bug too
    with pytest.raises(ValueError, match="not icegrad's"):
        main(["data"])


def test_a_failed_chapter_cell_names_the_cell_and_the_executed_notebook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/01_fails\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("divisor = 0", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("1 / divisor")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "book" / "01_fails.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "01", "--quiet"]) == 2
    line = one_line_error(capsys.readouterr().err)
    executed = next((tmp_path / "_build" / "runs").glob("*/01_fails.ipynb"))
    assert line == (f"icegrad: error: cell 1 (In [2]) raised ZeroDivisionError: division by zero; "
                    f"the executed notebook {executed} shows the cell's traceback")


class FakeCache(types.ModuleType):
    """Stands in for icegrad.cache (written on another branch) with its agreed API."""

    REFRESH_ENV = "ICEGRAD_REFRESH_TEST"

    def __init__(self, n_bad: int = 0) -> None:
        super().__init__("icegrad.cache")
        self.n_bad, self.cleared = n_bad, []

    def describe(self) -> str:
        return "3 entries, 2.0 MB"

    def verify(self) -> tuple[str, int]:
        return f"{self.n_bad} bad entr(ies)", self.n_bad

    def clear(self, stage: str | None = None) -> int:
        self.cleared.append(stage)
        return 4


@pytest.fixture
def fake_cache(monkeypatch: pytest.MonkeyPatch) -> FakeCache:
    import icegrad

    fake = FakeCache()
    monkeypatch.setitem(sys.modules, "icegrad.cache", fake)
    monkeypatch.setattr(icegrad, "cache", fake, raising=False)
    monkeypatch.delenv(fake.REFRESH_ENV, raising=False)
    return fake


def test_cache_commands(fake_cache: FakeCache, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out == "3 entries, 2.0 MB\n"
    assert main(["cache", "verify"]) == 0
    fake_cache.n_bad = 2
    assert main(["cache", "verify"]) == 1
    assert "2 bad entr(ies)" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0 and main(["cache", "clear", "--stage", "models"]) == 0
    assert fake_cache.cleared == [None, "models"]
    assert "removed 4 cache entries of stage models" in capsys.readouterr().out


def test_refresh_marks_the_instant_before_any_work(fake_cache: FakeCache, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import icegrad.data

    seen: list[str | None] = []

    def load_dataset(*args: object, **kwargs: object) -> None:
        seen.append(os.environ.get(fake_cache.REFRESH_ENV))
        raise IcegradError("stop here")

    monkeypatch.setattr(icegrad.data, "load_dataset", load_dataset)
    before = time.time()
    assert main(["data"]) == 2 and seen == [None]
    assert main(["data", "--refresh"]) == 2
    assert before <= float(seen[-1]) <= time.time()
    for command in ("train", "attribute", "run", "book"):  # every command that computes takes it
        assert cli.build_parser().parse_args([command, *(["05"] if command == "run" else []),
                                              "--refresh"]).refresh


def test_sweep_gets_the_run_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[tuple[Any, ...]] = []
    fake = types.ModuleType("icegrad.sweep")
    fake.sweep_command = lambda store, config, **options: calls.append((store, config, options)) or "report"
    monkeypatch.setitem(sys.modules, "icegrad.sweep", fake)
    store = tmp_path / "store"
    assert main(["attribute", "--sweep", str(store), "--target-month", "2012-09", "2013-09", "--method",
                 "vanilla_gradient", "smoothgrad", "--leads", "1", "3", "--steps", "8", "--members", "2",
                 "--resolution", "200", "--pretrain-realisations", "3", "1", "--quiet"]) == 0
    (where, config, options), = calls
    assert where == str(store)
    assert config == RunConfig(resolution_km=200, members=2, leads=(1, 3), steps=8, target_month="2012-09",
                               method="vanilla_gradient", pretrain_realisations=(3, 1))
    assert options == {"target_months": ["2012-09", "2013-09"], "methods": ["vanilla_gradient", "smoothgrad"],
                       "scheduler": None, "progress": False}
    assert "sweep of 16 job(s)" in capsys.readouterr().out
    assert json.dumps(config.as_dict())  # the configuration a store manifest can record


def test_quiet_silences_every_progress_bar_of_the_command_and_only_of_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import icegrad.book

    seen: list[str | None] = []

    def run_chapter(*args: object, **kwargs: object) -> Path:
        seen.append(os.environ.get("TQDM_DISABLE"))  # papermill's kernels inherit this environment
        return tmp_path / "out.ipynb"

    monkeypatch.setattr(icegrad.book, "run_chapter", run_chapter)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert main(["run", "05", "--quiet"]) == 0 and main(["run", "05"]) == 0
    assert seen == ["1", None]
    assert "TQDM_DISABLE" not in os.environ  # the caller's own bars are untouched afterwards


def test_the_pre_training_flag_alone_means_none() -> None:
    parser = build_parser()
    assert parser.parse_args(["train"]).pretrain_realisations is None  # the book's choice for the data
    assert parser.parse_args(["train", "--pretrain-realisations"]).pretrain_realisations == []
    seeds = parser.parse_args(["attribute", "--pretrain-realisations", "2", "5"]).pretrain_realisations
    assert seeds == [2, 5]
