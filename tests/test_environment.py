"""The Binder/conda environment carries the same pins as pyproject.toml and the constraints file."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pins_from(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for text in requirements:
        req = Requirement(text)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{text} is not pinned exactly"
        pins[req.name.lower()] = spec.version
    return pins


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pins_from(pip_section) == pins_from(project["dependencies"])


def test_constraints_agree_with_direct_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "requirements/constraints.txt").read_text().splitlines()
    constraints = pins_from([line for line in lines if line and not line.startswith("#")])
    for name, version in pins_from(project["dependencies"]).items():
        assert constraints.get(name.replace("_", "-"), constraints.get(name)) == version, name
