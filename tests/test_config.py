"""One run configuration: nothing states a default of its own, and every bad value fails before work."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import papermill
import pytest
import xarray as xr

from icegrad import book, config, grid, roi
from icegrad.config import DEFAULTS, RunConfig
from icegrad.data.land import land_mask
from icegrad.data.schema import month_starts
from icegrad.errors import ConfigError, IcegradError, PathError
from icegrad.roi import RoiError
from icegrad.run_checks import check_run, check_settings
from icegrad.writable import check_output_file, check_store_folder

ROOT = Path(__file__).resolve().parents[1]
FIELDS = set(config.defaults())


def _same(value: Any) -> Any:
    """Lists and tuples compare alike (a notebook declares a list where the configuration has a tuple)."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _signature_defaults(where: str, function: Callable[..., Any],
                        names: dict[str, str]) -> Iterator[tuple[str, str, Any]]:
    """(where, run parameter, stated default) for each parameter ``names`` maps to a configuration field."""
    parameters = inspect.signature(function).parameters
    for argument, field in names.items():
        yield where, field, parameters[argument].default


def _parser_defaults() -> Iterator[tuple[str, str, Any]]:
    from icegrad.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command, sub in commands.choices.items():
        for action in sub._actions:
            if action.dest in FIELDS:
                yield f"icegrad {command} {action.option_strings[0]}", action.dest, action.default
            elif action.dest in ("target_months", "methods"):
                assert len(action.default) == 1, action.default
                yield f"icegrad {command} {action.option_strings[0]}", action.dest[:-1], action.default[0]


def _chapter_defaults() -> Iterator[tuple[str, str, Any]]:
    for notebook in book.chapters(ROOT):
        for name, spec in papermill.inspect_notebook(str(notebook)).items():
            if name in FIELDS:
                yield f"{notebook.name} parameters cell", name, book._literal(spec["default"])


def _library_defaults() -> Iterator[tuple[str, str, Any]]:
    from icegrad import pipeline
    from icegrad.attribution.api import attribute, attribute_forecast
    from icegrad.data import load_dataset
    from icegrad.inputs.splits import Splits
    from icegrad.model.train import TrainConfig
    from icegrad.pipeline import score_methods

    yield from _signature_defaults("data.load_dataset", load_dataset,
                                   {"data_source": "data_source", "resolution_km": "resolution_km"})
    yield from _signature_defaults("pipeline.dataset", pipeline.dataset,
                                   {"data_source": "data_source", "resolution_km": "resolution_km"})
    yield from _signature_defaults("pipeline.region", pipeline.region, {
        "reference_year": "reference_year", "target_year": "target_year", "month": "month",
        "roi_rule": "roi_rule"})
    yield from _signature_defaults("pipeline.ensemble", pipeline.ensemble, {
        "members": "members", "width": "width", "epochs": "epochs", "weights": "weights",
        "pretrain_realisations": "pretrain_realisations"})
    yield from _signature_defaults("pipeline.attributions", pipeline.attributions, {
        "target_month": "target_month", "leads": "leads", "method": "method", "steps": "steps",
        "baseline": "baseline"})
    yield from _signature_defaults("attribute()", attribute, {
        "leads": "leads", "method": "method", "steps": "steps", "baseline": "baseline"})
    yield from _signature_defaults("attribute_forecast()", attribute_forecast, {"leads": "leads"})
    yield from _signature_defaults("pipeline.score_methods", score_methods, {
        "target_month": "target_month", "leads": "leads", "steps": "steps"})
    yield from _signature_defaults("roi.region_of_interest", roi.region_of_interest, {
        "reference_year": "reference_year", "target_year": "target_year", "month": "month",
        "rule": "roi_rule"})
    yield "roi.DEFAULT_RULE", "roi_rule", roi.DEFAULT_RULE
    train = TrainConfig()
    for field, value in {"members": train.members, "width": train.filters_factor, "epochs": train.epochs,
                         "train_years": train.train_years, "val_years": train.val_years,
                         "test_years": train.test_years}.items():
        yield f"TrainConfig.{field}", field, value
    splits = Splits()
    for field, value in {"train_years": splits.train, "val_years": splits.validate,
                         "test_years": splits.test}.items():
        yield f"Splits.{field}", field, value


def _differing(stated: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{where}: {field}={value!r}, RunConfig: {getattr(DEFAULTS, field)!r}"
            for where, field, value in stated if _same(value) != _same(getattr(DEFAULTS, field))]


def test_nothing_states_a_default_of_its_own() -> None:
    """CLI flags, chapters' parameters cells, pipeline, attribute(), fidelity, ROI, training: RunConfig's."""
    stated = [*_parser_defaults(), *_chapter_defaults(), *_library_defaults()]
    assert {field for _, field, _ in stated} == FIELDS  # every run parameter is stated somewhere and checked
    differing = _differing(stated)
    assert not differing, "defaults that differ from RunConfig's:\n" + "\n".join(differing)


def test_the_comparison_catches_a_default_of_its_own() -> None:
    assert _differing([("roi.DEFAULT_RULE", "roi_rule", "threshold:0.5"), ("a.ipynb", "steps", 32)]) == [
        "roi.DEFAULT_RULE: roi_rule='threshold:0.5', RunConfig: 'threshold:0.5,sign:abs'",
        "a.ipynb: steps=32, RunConfig: 64"]
    assert _differing([("a.ipynb", "leads", [1, 2, 3, 4, 5, 6])]) == []  # a list states the same leads


def test_help_names_each_default() -> None:
    assert config.help_text("steps").endswith("(default 64)")
    with pytest.raises(ConfigError, match="unknown run parameter 'stepz'"):
        config.help_text("stepz")


@pytest.mark.parametrize(("changes", "message"), [
    ({"leads": (7,)}, r"leads=\(7,\) is out of range: each lead must be .* 1 to 6"),
    ({"leads": (0,)}, r"leads=\(0,\) is out of range"),
    ({"leads": ()}, r"leads=\(\) is out of range"),
    ({"leads": (True,)}, r"leads=\(True,\) is out of range"),
    ({"leads": (1, 1)}, "repeats a lead"),
    ({"steps": 0}, r"steps=0 is out of range; it must lie between 1 and 4096 \(default 64\)"),
    ({"steps": True}, "steps=True should be an int like its default 64"),
    ({"members": -1}, "members=-1 is out of range"),
    ({"members": True}, "members=True should be an int"),
    ({"epochs": 2.5}, "epochs=2.5 should be an int"),
    ({"target_year": 1850}, "target_year=1850 is out of range; it must lie between 1979 and 2100"),
    ({"reference_year": 2013}, "reference_year and target_year are both 2013"),
    ({"month": 13}, "month=13 is out of range"),
    ({"resolution_km": 30}, r"resolution_km=30 is not allowed; choose one of \(25, 50, 100, 200\)"),
    ({"method": "saliency"}, "method='saliency' is not allowed"),
    ({"baseline": "blurred"}, "baseline='blurred' is not allowed"),
    ({"data_source": "era6"}, "data_source='era6' is not allowed"),
    ({"target_month": "2013-13"}, "target_month='2013-13' is not a month like '2013-09'"),
    ({"target_month": "Sept"}, "target_month='Sept' is not a month"),
    ({"width": 0.0}, "width=0.0 is out of range"),
    ({"train_years": (2011, 1980)}, "train_years=.* must be .* years in order"),
    ({"val_years": (2010, 2017)}, "must start after train_years"),
    ({"pretrain_realisations": (0,)}, r"names realisation 0, the book's own weather, .* \(e\.g\. \(1,\)\)"),
    ({"pretrain_realisations": (1, 1)}, "must be distinct weather seeds"),
    ({"pretrain_realisations": (-2,)}, "must be distinct weather seeds, whole numbers from 1"),
    ({"pretrain_realisations": (True,)}, "must be distinct weather seeds"),
    ({"pretrain_realisations": (1,), "data_source": "nsidc"},
     "other realisations of the emulated Arctic, but data_source='nsidc'; drop them"),
    ({"pretrain_realisations": (1,), "weights": "release"}, "drop pretrain_realisations or weights"),
])
def test_bad_values_fail_in_one_line_naming_value_and_fix(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        RunConfig(**changes)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, IcegradError)


def test_the_books_realisation_is_the_emulators_default_weather() -> None:
    from icegrad.data import emulator

    assert inspect.signature(emulator.generate).parameters["seed"].default == config.BOOK_REALISATION


def test_from_parameters_reads_command_line_strings() -> None:
    made = RunConfig.from_parameters({"steps": "16", "leads": "[1, 2]", "width": "1", "roi_rule": "5"})
    assert (made.steps, made.leads, made.width, made.roi_rule) == (16, (1, 2), 1.0, "5")
    assert RunConfig.from_parameters({"pretrain_realisations": "[1, 2]"}).pretrain_realisations == (1, 2)
    assert RunConfig.from_parameters({"pretrain_realisations": "[]"}).pretrain_realisations == ()
    assert RunConfig.from_parameters({"pretrain_realisations": "None"}, made).pretrain_realisations is None
    with pytest.raises(ConfigError, match="pretrain_realisations=3 should be a tuple"):
        RunConfig.from_parameters({"pretrain_realisations": "3"})
    assert RunConfig.from_parameters({"steps": 8}, made).leads == (1, 2)  # the base's other values stay
    with pytest.raises(ConfigError, match="steps='many' is not an int like its default 64"):
        RunConfig.from_parameters({"steps": "many"})
    with pytest.raises(ConfigError, match="unknown run parameter 'stepz'; the parameters are: data_source"):
        RunConfig.from_parameters({"stepz": 1})


def test_check_adds_the_rule_grammar_and_the_weights_folder(tmp_path: Path) -> None:
    assert check_settings(DEFAULTS) is DEFAULTS
    with pytest.raises(RoiError, match="malformed ROI rule '5'"):
        check_settings(RunConfig(roi_rule="5"))
    with pytest.raises(ConfigError, match=r"weights='.*missing' is not a folder"):
        check_settings(RunConfig(weights=str(tmp_path / "missing")))
    assert check_settings(RunConfig(weights=str(tmp_path))).weights == str(tmp_path)


RES = 200


def synthetic_dataset(start: str = "2006-01", end: str = "2014-12") -> xr.Dataset:
    """A schema-valid SIC dataset (SYNTHETIC, for tests): 0.2 everywhere, 0.9 in one block in 2013-09."""
    g = grid.ease2_grid(RES)
    land = land_mask(RES)
    times = month_starts(start, end)
    sic = np.full((len(times), *land.shape), 0.2, dtype="float32")
    sic[:, land.values] = np.nan
    block = np.zeros(land.shape, bool)
    block[18:22, 22:27] = True
    assert not (block & land.values).any()
    sic[times.get_loc("2013-09-01")][block] = 0.9
    return xr.Dataset(
        {"siconca": (("time", "y", "x"), sic, {"units": "1", "long_name": "sea ice area fraction",
                                                "standard_name": "sea_ice_area_fraction"})},
        coords={**g.coords, "time": times, "land": land.drop_vars(list(land.coords))},
        attrs={"data_source": "emulated", "source": "synthetic test data", "title": "test",
               "Conventions": "CF-1.8", "resolution_km": RES},
    )


@pytest.fixture(scope="module")
def ds() -> xr.Dataset:
    return synthetic_dataset()


def test_check_run_passes_a_run_the_data_can_serve(ds: xr.Dataset) -> None:
    check_run(RunConfig(resolution_km=RES), ds)


@pytest.mark.parametrize(("changes", "message"), [
    ({"target_year": 2016}, "target_year=2016: the emulated data cover 2006-01 to 2014-12 and hold no "
                            "2016-09; choose a year from 2006 to 2014"),
    ({"reference_year": 2005}, "reference_year=2005: .* hold no 2005-09"),
    ({"target_month": "2007-02", "leads": (1, 3)}, "target_month='2007-02' at lead 3 needs the forecast "
                                                   "started in 2006-12, but .* serve starts 2007-01"),
    ({"target_month": "2006-09"}, "at lead 1 needs the forecast started in 2006-09"),
    ({"roi_rule": "threshold:0.8"}, "selects no ocean cell"),
    ({"roi_rule": "threshold"}, "malformed ROI rule"),
    ({"baseline": "persistence", "target_month": "2007-09", "leads": (1,)},
     "baseline='persistence' explains 2007-09 against the same forecast for 2006-09, whose lead-1 forecast "
     "starts in 2006-09, but .* serve starts 2007-01"),
    ({"baseline": "counterfactual", "reference_year": 2006, "leads": (1, 2)},
     "baseline='counterfactual' explains 2013-09 against the same forecast for 2006-09, whose lead-1 "
     "forecast starts in 2006-09"),
])
def test_check_run_names_what_the_data_cannot_serve(ds: xr.Dataset, changes: dict[str, Any],
                                                   message: str) -> None:
    with pytest.raises(IcegradError, match=message) as caught:
        check_run(RunConfig(resolution_km=RES, **changes), ds)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("changes", [
    {"baseline": "persistence"}, {"baseline": "counterfactual"},
    {"baseline": "persistence", "target_month": "2007-09", "leads": (1,), "method": "vanilla_gradient"},
    {"baseline": "zeros", "target_month": "2007-09", "leads": (1,)},
])
def test_check_run_asks_for_a_paired_forecast_only_where_a_paired_baseline_needs_it(
        ds: xr.Dataset, changes: dict[str, Any]) -> None:
    check_run(RunConfig(resolution_km=RES, **changes), ds)


@pytest.mark.parametrize(("baseline", "expected"), [
    ("counterfactual", "2007-09"), ("persistence", "2012-09"), ("climatology", None), ("zeros", None)])
def test_paired_month_is_the_reference_years_or_the_previous_years(baseline: str,
                                                                   expected: str | None) -> None:
    assert config.paired_month(baseline, "2013-09", 2007) == expected


def test_every_parameters_cell_that_offers_a_baseline_lists_each_one() -> None:
    """A reader picks a baseline from the comment of the parameters cell, so it names every one."""
    comments = {notebook.name: spec["help"] for notebook in book.chapters(ROOT)
                for name, spec in papermill.inspect_notebook(str(notebook)).items() if name == "baseline"}
    assert {"05_gradient_attribution.ipynb", "06_which_inputs.ipynb", "11_discussion.ipynb"} <= set(comments)
    missing = {name: [b for b in config.BASELINES if f'"{b}"' not in text] for name, text in comments.items()}
    assert not any(missing.values()), missing


def test_pipeline_check_run_is_the_same_function() -> None:
    from icegrad import pipeline

    assert pipeline.check_run is check_run


def test_output_file_checks(tmp_path: Path) -> None:
    assert check_output_file(tmp_path / "new" / "deeper" / "ig.nc") == tmp_path / "new" / "deeper" / "ig.nc"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert list(tmp_path.iterdir()) == []  # and leaves no probe behind
    with pytest.raises(PathError, match=f"output '{tmp_path}' is a folder; give a file path inside it"):
        check_output_file(tmp_path)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(PathError, match=r"cannot be created: '.*plain' is a file, not a folder"):
        check_output_file(tmp_path / "plain" / "sub" / "ig.nc")
    with pytest.raises(PathError, match=r"sweep store '.*plain' is a file, not a folder"):
        check_store_folder(tmp_path / "plain", "sweep store")
    assert check_store_folder(tmp_path / "store") == tmp_path / "store"


def test_read_only_folders_are_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        writable = _can_write(locked)
        if writable:  # root ignores permissions: the folder is in fact writable, so it must pass
            assert check_output_file(locked / "ig.nc") == locked / "ig.nc"
            return
        with pytest.raises(PathError, match=r"cannot be written: folder '.*locked' is not writable"):
            check_output_file(locked / "ig.nc")
        with pytest.raises(PathError, match="is not writable"):
            check_store_folder(locked)
        with pytest.raises(PathError, match="is not writable"):
            check_store_folder(locked / "new" / "store")
    finally:
        locked.chmod(0o755)


def _can_write(folder: Path) -> bool:
    try:
        (folder / "probe").write_text("x")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_the_configurations_choices_are_the_packages() -> None:
    """RunConfig's allowed values are those the modules that use them accept (no list of its own)."""
    from icegrad.attribution.methods import METHODS
    from icegrad.attribution.references import BASELINES
    from icegrad.data.schema import DATA_SOURCES
    from icegrad.variables import N_LEADS

    assert set(config.METHODS) == set(METHODS) and set(config.BASELINES) == set(BASELINES)
    assert set(config.DATA_SOURCES) == set(DATA_SOURCES)
    assert config.RESOLUTIONS_KM == grid.SUPPORTED_RESOLUTIONS_KM
    assert config.LEADS == tuple(range(1, N_LEADS + 1))


@pytest.mark.parametrize("counts", [{"members": True}, {"epochs": True}, {"members": 0}])
def test_the_pipeline_refuses_a_flag_or_zero_as_a_count_before_training(ds: xr.Dataset,
                                                                        counts: dict[str, Any]) -> None:
    from icegrad import pipeline

    name, value = next(iter(counts.items()))
    with pytest.raises(IcegradError, match=f"{name}={value!r} must be a whole number >= 1"):
        pipeline.ensemble(ds, **counts)


def test_a_year_outside_the_emulated_record_fails_before_the_emulator_is_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from icegrad.data.emulator import dataset as emulated
    from icegrad.run_checks import checked_dataset

    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(tmp_path))  # a cold cache
    monkeypatch.setattr(emulated, "generate", lambda *a, **k: pytest.fail("the emulator was built"))
    with pytest.raises(ConfigError, match=r"target_year=2030: the emulated data cover 1979-01 to 2020-12"):
        checked_dataset(RunConfig(target_year=2030, resolution_km=200))


def test_the_emulators_coverage_is_the_months_it_loads() -> None:
    from icegrad.data import coverage, load_dataset

    loaded = pd.DatetimeIndex(load_dataset("emulated", resolution_km=200)["time"].values)
    assert coverage("emulated", 200).equals(loaded)
    assert coverage("osisaf", 200) is None  # only the files can tell
