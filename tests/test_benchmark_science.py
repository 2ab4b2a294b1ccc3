"""benchmarks/science.py at coarse settings: every line it promises, in its format, with numbers that parse.

Training even the coarse ensemble costs minutes, so the script's ensemble stage is replaced by an untrained
two-member ensemble (the doctests' kind): the lines' format and the plumbing from the pipeline's stages to
them are what is tested here; the figures themselves are tested where they are computed
(tests/model/test_skill.py, tests/attribution/test_fidelity.py).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from icegrad import pipeline
from icegrad.evaluation import fidelity

ROOT = Path(__file__).resolve().parents[1]
COARSE = ["-p", "resolution_km", "200", "-p", "members", "2", "-p", "epochs", "1", "-p", "steps", "8",
          "-p", "leads", "[1, 3]"]
NUMBER = r"(-?\d+\.\d+|nan)"
LINES = {"skill lead": rf"skill lead (\d): ensemble {NUMBER} trend {NUMBER} persistence {NUMBER}",
         "skill mean": rf"skill mean: ensemble {NUMBER} trend {NUMBER} ci {NUMBER} {NUMBER}",
         "extent rmse": rf"extent rmse: ensemble {NUMBER} trend {NUMBER}",
         "fidelity": rf"fidelity lead (\d) method ([a-z_]+(?:/[a-z]+)?): rho {NUMBER} map {NUMBER}"}


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


def test_coarse_run_prints_every_promised_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pipeline, "ensemble", untrained)
    monkeypatch.setattr(pipeline, "attributions", _uncached(pipeline.attributions))
    assert load_script().main(COARSE) == 0
    lines = capsys.readouterr().out.splitlines()
    matched = {kind: [re.fullmatch(pattern, line) for line in lines if line.startswith(kind)]
               for kind, pattern in LINES.items()}
    assert all(m is not None for found in matched.values() for m in found), lines
    assert [int(m.group(1)) for m in matched["skill lead"]] == [1, 2, 3, 4, 5, 6]
    assert len(matched["skill mean"]) == len(matched["extent rmse"]) == 1
    expected = {(lead, fidelity.spec_label(*spec).replace(" (", "/").removesuffix(")"))
                for lead in (1, 3) for spec in fidelity.METHOD_SPECS}
    assert {(int(m.group(1)), m.group(2)) for m in matched["fidelity"]} == expected
    assert len(lines) == 6 + 2 + len(expected)
    for found in matched.values():
        for m in found:
            assert all(float(value) == float(value) for value in m.groups()[-2:])  # numbers, not NaN
    low, high = (float(v) for v in matched["skill mean"][0].groups()[2:])
    assert low <= high


def _uncached(attributions):
    """The pipeline's attributions without the shared cache: an untrained ensemble's must not linger in it."""
    def call(*args: object, **options: object):
        return attributions(*args, **{**options, "cache": False})
    return call
