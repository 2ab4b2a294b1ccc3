"""The emulated Arctic's headroom over the trend (icegrad.evaluation.headroom) and the script that sweeps it
(benchmarks/emulator_headroom.py): figures consistent with the skill module's, realism from the Sea Ice
Index or said to be absent, and the script's one line per tuning in its documented format.

200 km, 2008-2020 (trend fitted on 2008-2014, scored on 2018-2020): about 5 s per tuning.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from icegrad.data.emulator.tuning import DEFAULT, Tuning
from icegrad.evaluation.headroom import Headroom, headroom
from icegrad.inputs.splits import Splits

ROOT = Path(__file__).resolve().parents[2]
COARSE = {"resolution_km": 200, "start": "2008-01",
          "splits": Splits((2008, 2014), (2015, 2017), (2018, 2020))}
COARSE_ARGS = ["--resolution-km", "200", "--start", "2008-01", "--train", "2008", "2014"]
TUNED = Tuning.with_memory_floor(0.9, ice_sd=(0.5, 0.6))
NUMBER = r"(-?\d+\.\d+)"
LINE = re.compile(rf"tuning (.+): attainable {NUMBER} ci {NUMBER} {NUMBER} "
                  rf"\| per lead((?: [+-]\d+\.\d+){{6}}) "
                  rf"\| extent rmse optimal {NUMBER} trend {NUMBER} \| realism: (.+)")


@pytest.fixture(scope="module")
def default() -> Headroom:
    return headroom(DEFAULT, **COARSE)


def test_the_headroom_is_the_optimal_forecasts_gain_over_the_trend(default: Headroom) -> None:
    c = default.ceiling
    assert list(c.accuracy.index) == [1, 2, 3, 4, 5, 6]
    assert c.attainable == pytest.approx(default.per_lead.mean())
    assert c.attainable_ci[0] <= c.attainable <= c.attainable_ci[1]
    assert (default.per_lead > 0).all()  # the best forecast beats the trend at every lead
    assert c.accuracy["icenet"].equals(c.accuracy["optimal"])  # no network: the optimum stands in
    assert default.tuning == DEFAULT and default.line().startswith("tuning default: attainable")


def test_realism_is_compared_when_the_reference_is_there_and_said_absent_otherwise(default, tmp_path,
                                                                                    monkeypatch) -> None:
    from icegrad.data.emulator.validation import sea_ice_index_folder

    if sea_ice_index_folder() is not None:
        assert [cmp.month for cmp in default.realism] == [9, 3]
        assert all(cmp.table.index.min() == 2008 and cmp.table.index.max() == 2020 for cmp in default.realism)
        assert "month 9, 2008-2020: correlation" in default.line()
    monkeypatch.setenv("ICEGRAD_SHARED_DIR", str(tmp_path))
    absent = headroom(DEFAULT, **COARSE, realism_months=(9,))
    assert absent.realism is None and absent.line().endswith("| realism: reference absent")
    assert absent.ceiling.attainable == default.ceiling.attainable  # realism does not touch the skill


def test_more_memory_and_ice_noise_leave_more_headroom(default: Headroom) -> None:
    tuned = headroom(TUNED, **COARSE)
    assert tuned.tuning == TUNED and "ice_sd 0.5 0.6" in tuned.line()
    assert tuned.ceiling.attainable > default.ceiling.attainable + 0.3


def load_script():
    path = ROOT / "benchmarks" / "emulator_headroom.py"
    spec = importlib.util.spec_from_file_location("emulator_headroom", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_sweeps_the_grid_of_the_values_given() -> None:
    script = load_script()
    args = script.parse(["--memory-floor", "0.85", "0.9", "--ice-sd", "0.5", "0.6", "--link-scale", "1.0"])
    grid = script.tunings(args)
    assert grid[0] == DEFAULT and len(grid) == 3 and len(set(grid)) == 3
    assert grid[2] == TUNED and all(t.ice_sd == (0.5, 0.6) for t in grid[1:])
    assert script.tunings(script.parse([])) == [DEFAULT]
    assert script.tunings(script.parse(["--link-scale", "1.0"])) == [DEFAULT]  # the default once
    with pytest.raises(SystemExit, match="error: ice_sd must be two positive numbers"):
        script.main(["--ice-sd", "0", "1"])
    with pytest.raises(SystemExit, match="validation split"):
        script.main(["--train", "2008", "2017"])
    with pytest.raises(SystemExit, match=r"error: train years .* are reversed"):
        script.main(["--train", "2011", "1980"])
    with pytest.raises(SystemExit, match="must lie inside the generated window --start 2008-01"):
        script.main(["--start", "2008-01"])  # the default train years begin in 1980
    with pytest.raises(SystemExit, match="'not-a-month' must be months, written YYYY-MM"):
        script.main(["--end", "not-a-month"])


def test_the_script_prints_one_line_per_tuning_in_its_format(default: Headroom, capsys) -> None:
    assert load_script().main([*COARSE_ARGS, "--memory-floor", "0.9", "--ice-sd", "0.5", "0.6"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    matched = [LINE.fullmatch(line) for line in lines]
    assert all(matched), lines
    assert lines[0] == default.line()
    assert [m.group(1) for m in matched] == ["default", TUNED.label()]
    for m in matched:
        attainable, low, high = (float(m.group(i)) for i in (2, 3, 4))
        per_lead = [float(v) for v in m.group(5).split()]
        assert low <= attainable <= high and attainable == pytest.approx(sum(per_lead) / 6, abs=0.006)


def test_several_seeds_give_a_line_each_and_one_over_them(capsys) -> None:
    assert load_script().main([*COARSE_ARGS, "--seed", "0", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[0] for line in lines[:2]] == ["seed 0", "seed 1"]
    gains = [float(LINE.fullmatch(line.split(" | ", 1)[1]).group(2)) for line in lines[:2]]
    summary = re.fullmatch(rf"tuning default over 2 realisations: attainable mean {NUMBER} min {NUMBER} max "
                           rf"{NUMBER}, at least 1 in (\d) \| extent rmse optimal below trend in (\d) "
                           rf"\(mean optimal {NUMBER} trend {NUMBER}\)", lines[2])
    assert summary, lines[2]
    assert float(summary.group(1)) == pytest.approx(sum(gains) / 2, abs=0.006)
    assert (float(summary.group(2)), float(summary.group(3))) == \
        pytest.approx((min(gains), max(gains)), abs=0.006)
    assert int(summary.group(4)) == sum(g >= 1 for g in gains)


def test_a_summary_needs_one_tuning(default: Headroom) -> None:
    from icegrad.evaluation.headroom import across_realisations

    assert across_realisations([default]).startswith("tuning default over 1 realisation: attainable mean")
    with pytest.raises(ValueError, match="one tuning"):
        across_realisations([])
    with pytest.raises(ValueError, match="one tuning"):
        across_realisations([default, headroom(TUNED, **COARSE)])
