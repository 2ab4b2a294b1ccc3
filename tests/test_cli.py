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
