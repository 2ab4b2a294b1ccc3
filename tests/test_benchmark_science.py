"""benchmarks/science.py: every line it promises, in its format, with numbers that parse.

The lines are checked twice: from a hand-made headline and scores table, and from a coarse run of the
script itself (one member, lead 1, 2 steps: about 20 s). Training even the coarse ensemble costs minutes,
so that run replaces the ensemble stage by an untrained one (the doctests' kind): the lines' format and the
plumbing from the pipeline's stages to them are what is tested here; the figures themselves are tested
where they are computed (tests/model/test_skill.py, tests/attribution/test_fidelity.py).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from icegrad import pipeline
from icegrad.evaluation import fidelity

ROOT = Path(__file__).resolve().parents[1]
COARSE = ["-p", "resolution_km", "200", "-p", "members", "1", "-p", "epochs", "1", "-p", "steps", "2",
          "-p", "leads", "[1]"]
NUMBER = r"(-?\d+\.\d+|nan)"
LINES = {"skill lead": rf"skill lead (\d): ensemble {NUMBER} trend {NUMBER} persistence {NUMBER}",
         "skill mean": rf"skill mean: ensemble {NUMBER} trend {NUMBER} ci {NUMBER} {NUMBER}",
         "extent rmse": rf"extent rmse: ensemble {NUMBER} trend {NUMBER}",
         "ceiling lead": rf"ceiling lead (\d): optimal {NUMBER} trend {NUMBER} ensemble {NUMBER}",
         "ceiling mean": rf"ceiling mean: optimal {NUMBER} trend {NUMBER} ensemble {NUMBER} attainable "
                         rf"{NUMBER} ci {NUMBER} {NUMBER}",
         "fidelity": rf"fidelity lead (\d) method ([a-z_]+(?:/[a-z]+)?): rho {NUMBER} map {NUMBER}",
         "skill realisation ": rf"skill realisation (\d+): ensemble {NUMBER} trend {NUMBER} optimal "
                               rf"{NUMBER} gain {NUMBER} ci {NUMBER} {NUMBER} extent rmse ensemble {NUMBER} "
                               rf"trend {NUMBER}",
         "skill realisations:": r"skill realisations: (\d+) \| gain mean .* \| ci above zero in \d+, "
                                r"below zero in \d+ \| extent rmse ensemble below trend in \d+ \(mean "
                                r"ensemble .*\)"}


def untrained(ds, members: int = 2, **_: object):
    from icegrad.inputs.build import fit_normalisation
    from icegrad.model.ensemble import IceNetEnsemble, base_manifest
    from icegrad.model.icenet import build_icenet
    from icegrad.variables import CHANNEL_NAMES

    seeds = list(range(36, 36 + members))
    nets = [build_icenet(ds.sizes["y"], ds.sizes["x"], n_channels=len(CHANNEL_NAMES), filters_factor=0.125,
                         seed=seed) for seed in seeds]
    manifest = base_manifest(data_source=ds.attrs["data_source"], seeds=seeds, filters_factor=0.125,
                             splits={"train": (1980, 2011), "val": (2012, 2017), "test": (2018, 2020)},
                             comment="untrained: tests/test_benchmark_science.py")
    return IceNetEnsemble(nets, fit_normalisation(ds), CHANNEL_NAMES, manifest)


def load_script():
    spec = importlib.util.spec_from_file_location("science_benchmark", ROOT / "benchmarks" / "science.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_lines(lines: list[str], leads: tuple[int, ...], realisations: tuple[int, ...] = ()) -> None:
    """Every promised line once, in its format, with numbers (not NaN) where a number is promised; a line per
    realisation asked for and one over them, when any."""
    matched = {kind: [re.fullmatch(pattern, line) for line in lines if line.startswith(kind)]
               for kind, pattern in LINES.items()}
    assert all(m is not None for found in matched.values() for m in found), lines
    assert [int(m.group(1)) for m in matched["skill lead"]] == [1, 2, 3, 4, 5, 6]
    assert [int(m.group(1)) for m in matched["ceiling lead"]] == [1, 2, 3, 4, 5, 6]
    assert len(matched["skill mean"]) == len(matched["extent rmse"]) == len(matched["ceiling mean"]) == 1
    expected = {(lead, fidelity.spec_label(*spec).replace(" (", "/").removesuffix(")"))
                for lead in leads for spec in fidelity.METHOD_SPECS}
    assert {(int(m.group(1)), m.group(2)) for m in matched["fidelity"]} == expected
    assert [int(m.group(1)) for m in matched["skill realisation "]] == list(realisations)
    summaries = [int(m.group(1)) for m in matched["skill realisations:"]]
    assert summaries == [len(realisations)] * bool(realisations)
    assert len(lines) == 6 + 2 + 6 + 1 + len(expected) + len(realisations) + bool(realisations)
    for found in matched.values():
        for m in found:
            assert all(value != "nan" for value in m.groups()[-2:])
    low, high = (float(v) for v in matched["skill mean"][0].groups()[2:])
    assert low <= high
    optimal, trend, _, attainable, low, high = (float(v) for v in matched["ceiling mean"][0].groups())
    assert attainable == pytest.approx(optimal - trend, abs=0.011) and low <= high


def test_lines_from_a_headline_and_a_scores_table() -> None:
    import pandas as pd

    from icegrad.model.skill import Headline, ceiling

    script = load_script()
    accuracy = pd.DataFrame({"icenet": range(90, 96), "linear_trend": 91.0, "persistence": 80.5,
                             "optimal": 93.25}, index=pd.Index(range(1, 7), name="lead"))
    rmse = {"icenet": 0.2, "linear_trend": 0.31, "persistence": 1.0, "optimal": 0.15}
    top = Headline(accuracy, 1.5, (-0.25, 3.0), 0.95, rmse, 31, 18, (2018, 2020), (1.5, 3.0))
    labels = [fidelity.spec_label(*spec) for spec in fidelity.METHOD_SPECS]
    scores = pd.DataFrame({"label": labels * 2, "lead": [1] * 5 + [3] * 5, "spearman": 0.61,
                           "spatial_correlation": -0.125})
    lines = (script.skill_lines(top) + script.ceiling_lines(ceiling(top), "emulated")
             + script.fidelity_lines(scores))
    check_lines(lines, (1, 3))
    assert lines[0] == "skill lead 1: ensemble 90.00 trend 91.00 persistence 80.50"
    assert lines[6:8] == ["skill mean: ensemble 92.50 trend 91.00 ci -0.25 3.00",
                          "extent rmse: ensemble 0.200 trend 0.310"]
    assert lines[8] == "ceiling lead 1: optimal 93.25 trend 91.00 ensemble 90.00"
    assert lines[14] == "ceiling mean: optimal 93.25 trend 91.00 ensemble 92.50 attainable 2.25 ci 1.50 3.00"
    assert lines[18] == "fidelity lead 1 method integrated_gradients/climatology: rho 0.610 map -0.125"
    assert script.ceiling_lines(None, "nsidc") == [
        "ceiling: none (data source nsidc has no known optimal forecast; only the emulated Arctic's is)"]


def test_coarse_run_prints_every_promised_line(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline, "ensemble", untrained)
    monkeypatch.setattr(pipeline, "attributions", _uncached(pipeline.attributions))
    assert load_script().main([*COARSE, "--realisations", "0", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    check_lines(lines, (1,), (0, 1))
    # Realisation 0, regenerated, is the book's own: its line repeats the mean skill and the extent error.
    def line(kind: str, start: str) -> re.Match:
        return re.fullmatch(LINES[kind], next(x for x in lines if x.startswith(start)))

    own = line("skill realisation ", "skill realisation 0")
    assert own.group(2, 3, 8, 9) == line("skill mean", "skill mean").group(1, 2) + \
        line("extent rmse", "extent rmse").group(1, 2)
    assert line("skill realisation ", "skill realisation 1").group(3) != own.group(3)  # other weather


def test_realisations_need_the_emulated_arctic(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_script().parse(["-p", "data_source", "nsidc", "--realisations", "1"])
    assert "--realisations needs the emulated Arctic" in capsys.readouterr().err


def _uncached(attributions):
    """The pipeline's attributions without the shared cache (an untrained ensemble's must not linger in it),
    and SmoothGrad with 2 samples."""
    def call(*args: object, **options: object):
        return attributions(*args, **{**options, "cache": False, "samples": 2})
    return call


def test_years_score_the_skill_lines_on_other_years(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """``--years`` reaches the skill and ceiling lines (the forecasts of those years are what is scored) and
    says so in a first line; the fidelity stage is stubbed out, as it does not depend on the years."""
    import types

    import pandas as pd

    from icegrad.model import skill

    asked, original = [], skill.held_out_forecasts

    def held_out(ens, ds, years=None, **options):
        asked.append(years)
        return original(ens, ds, years, **options)

    monkeypatch.setattr(pipeline, "ensemble", untrained)
    monkeypatch.setattr(skill, "held_out_forecasts", held_out)
    monkeypatch.setattr(pipeline, "score_methods", lambda *_, **__: types.SimpleNamespace(
        scores=pd.DataFrame(columns=["lead", "label", "spearman", "spatial_correlation"])))
    assert load_script().main([*COARSE, "--years", "2008", "2010"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert asked == [(2008, 2010)]
    assert lines[0] == "# skill and ceiling on 2008-2010, not the test years"
    assert re.fullmatch(LINES["skill mean"], lines[7])


def test_reversed_years_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_script().parse(["--years", "2010", "2005"])
    assert "--years 2010 2005 are reversed" in capsys.readouterr().err
    assert load_script().parse(["--years", "2005", "2010"])[2] == (2005, 2010)


def test_years_the_data_lack_are_refused_before_the_ensemble(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ensemble(*_: object, **__: object) -> None:
        raise AssertionError("the ensemble was loaded before the years were checked")

    monkeypatch.setattr(pipeline, "ensemble", no_ensemble)
    with pytest.raises(SystemExit, match=r"--years 1900 1901: no forecast start month in 1900-1901 .* "
                                         "choose years the data covers"):
        load_script().main([*COARSE, "--years", "1900", "1901"])
