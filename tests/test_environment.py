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


def test_environment_yml_resolves_to_the_tested_environment() -> None:
    """Every environment.yml requirement is satisfied by the resolved, tested environment.

    conda is absent here and this machine's local package mirror does not hold TensorFlow, so an
    offline ``pip install --dry-run`` cannot resolve the file; instead each pin (conda and pip) is
    checked against requirements/constraints.txt (``pip freeze`` of the environment CI installs and
    tests), and the conda Python against pyproject's requires-python.
    """
    from packaging.specifiers import SpecifierSet

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    lines = (ROOT / "requirements/constraints.txt").read_text().splitlines()
    constraints = pins_from([line for line in lines if line and not line.startswith("#")])
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d.split("=", 1)[1] for d in conda if d.startswith("python="))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(f"{python}.0"), f"python={python} outside {requires}"
    assert {d.split("=")[0] for d in conda} <= {"python", "pip"}, "conda packages beyond python and pip"
    missing = {name: version for name, version in pins_from(pip_section).items()
               if constraints.get(name.replace("_", "-"), constraints.get(name)) != version}
    assert not missing, f"environment.yml pins not in the tested environment: {missing}"
