"""Binder works: repo2docker can build the environment (same pins as pyproject.toml and the constraints),
postBuild installs icegrad, and every launch URL of the README and the book opens a file that exists."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
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


# --- repo2docker: what mybinder.org builds from this repository ---------------------------------------

#: Top-level keys of a conda environment file; repo2docker reads channels and dependencies (and the
#: Python version among them) and ignores the name.
CONDA_ENV_KEYS = {"name", "channels", "dependencies", "variables"}
CONDA_SPEC = re.compile(r"^[A-Za-z0-9_.\-]+(\s*(==|=|>=|<=|>|<|!=)\s*[A-Za-z0-9_.*+\-]+)?$")


def test_environment_yml_is_a_conda_environment_repo2docker_reads() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert isinstance(env, dict), "environment.yml is not a YAML mapping"
    assert set(env) <= CONDA_ENV_KEYS, f"keys conda does not know: {set(env) - CONDA_ENV_KEYS}"
    assert isinstance(env.get("channels"), list) and all(isinstance(c, str) for c in env["channels"])
    dependencies = env.get("dependencies")
    assert isinstance(dependencies, list) and dependencies, "environment.yml has no dependencies list"
    conda = [d for d in dependencies if isinstance(d, str)]
    sections = [d for d in dependencies if not isinstance(d, str)]
    bad = [d for d in conda if not CONDA_SPEC.match(d)]
    assert not bad, f"not conda match specs: {bad}"
    assert len(sections) == 1 and set(sections[0]) == {"pip"}, "one 'pip:' section and nothing else"
    assert isinstance(sections[0]["pip"], list) and all(isinstance(r, str) for r in sections[0]["pip"])
    names = [re.split(r"[=<>!]", d)[0].strip() for d in conda]
    assert "pip" in names, "a pip: section needs conda's pip in the dependencies"
    pythons = [d for d in conda if re.split(r"[=<>!]", d)[0].strip() == "python"]
    # repo2docker takes the kernel's Python from a python=X.Y dependency (else its own default).
    assert len(pythons) == 1 and re.fullmatch(r"python=3\.\d+", pythons[0]), pythons


def test_every_pyproject_pin_agrees_with_the_constraints() -> None:
    """The direct, GPU and dev pins all name the version of the tested environment."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "requirements/constraints.txt").read_text().splitlines()
    pinned = pins_from([line for line in lines if line and not line.startswith("#")])
    constraints = {_normal(name): version for name, version in pinned.items()}
    requirements = project["dependencies"] + [r for group in project["optional-dependencies"].values()
                                              for r in group]
    differ = {name: (version, constraints.get(_normal(name)))
              for name, version in pins_from([r.split("#")[0].strip() for r in requirements]).items()
              if constraints.get(_normal(name)) != version}
    assert not differ, f"pyproject pin vs constraints: {differ}"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _shell_commands(script: Path) -> list[list[str]]:
    """The commands of a small shell script, one token list per line (comments and blanks dropped)."""
    commands = []
    for line in script.read_text().splitlines():
        tokens = shlex.split(line, comments=True)
        if tokens:
            commands.append(tokens)
    return commands


def _is_executable_in_git(path: Path) -> bool | None:
    """Whether git records ``path`` as executable (what a clone gets); None outside a git checkout."""
    try:
        listed = subprocess.run(["git", "ls-files", "-s", path.name], cwd=path.parent, capture_output=True,
                                text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return listed.startswith("100755") if listed else False


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_binder_scripts_are_executable_bash(name: str) -> None:
    script = ROOT / name
    assert script.is_file(), f"{name} is missing"
    assert os.access(script, os.X_OK), f"{name} is not executable: chmod +x {name}"
    assert _is_executable_in_git(script) is not False, f"git records {name} without +x: git add --chmod=+x"
    assert script.read_text().startswith("#!/usr/bin/env bash\n"), f"{name} needs a bash shebang"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{name}: {result.stderr}"


def test_postbuild_installs_icegrad_with_the_constraints() -> None:
    """repo2docker runs postBuild from the repository root after installing environment.yml."""
    installs = [command for command in _shell_commands(ROOT / "postBuild") if "install" in command]
    assert installs, "postBuild does not pip install anything"
    (install,) = installs
    assert "." in install, f"postBuild does not install icegrad (the repository, '.'): {install}"
    assert "--no-deps" not in install, "--no-deps would leave the dependencies' dependencies unpinned"
    constraints = install[install.index("-c") + 1] if "-c" in install else None
    assert "pip" in install and constraints == "requirements/constraints.txt", (
        f"postBuild installs without pip's -c requirements/constraints.txt: {install}")
    assert (ROOT / constraints).is_file()


def test_start_hands_over_to_the_server() -> None:
    """repo2docker's start must end by running the command it was given, or the server never starts."""
    commands = _shell_commands(ROOT / "start")
    assert commands[-1] == ["exec", "$@"], f"start must end with exec \"$@\", not {commands[-1]}"


# --- launch URLs: every one opens a file of this repository ------------------------------------------

BINDER_URL = re.compile(r"https://mybinder\.org/v2/[^\s)\"'>]+")
INTERFACES = {"lab/tree/": "jupyterlab", "tree/": "classic"}


def _book_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def _launch_target(url: str) -> tuple[str, str, str, str, str]:
    """(org, repository, branch, interface, file) of a mybinder.org GitHub launch URL."""
    parsed = urlparse(url)
    parts = parsed.path.split("/")
    assert parts[:3] == ["", "v2", "gh"] and len(parts) == 6, f"{url} is not a /v2/gh/ORG/REPO/BRANCH URL"
    (urlpath,) = parse_qs(parsed.query)["urlpath"]
    prefix = next((p for p in INTERFACES if urlpath.startswith(p)), None)
    assert prefix is not None, f"{url}: urlpath {urlpath!r} opens neither JupyterLab nor the classic tree"
    return parts[3], parts[4], parts[5], INTERFACES[prefix], urlpath[len(prefix):]


def _config_launch_urls() -> dict[str, str]:
    """The Binder button of every notebook page, as Jupyter Book and sphinx-book-theme build it."""
    from jupyter_book.config import yaml_to_sphinx
    from sphinx_book_theme.header_buttons.launch import _split_repo_url, add_launch_buttons

    from icegrad.book import chapters

    theme = yaml_to_sphinx(_book_config())[0]["html_theme_options"]
    org, repo = _split_repo_url(theme["repository_url"])
    urls = {}
    for notebook in chapters(ROOT):
        page = notebook.relative_to(ROOT).with_suffix("").as_posix()
        app = SimpleNamespace(config={"html_theme_options": theme},
                              env=SimpleNamespace(doc2path=lambda p: str(ROOT / f"{p}.ipynb"),
                                                  metadata={page: {"kernelspec": {}}}))
        context = {"pagename": page, "header_buttons": [], "sourcename": f"{page}.ipynb",
                   "github_url": "https://github.com", "github_user": org, "github_repo": repo}
        add_launch_buttons(app, page, "page.html", context, None)
        (group,) = context["header_buttons"]
        urls[page] = next(b["url"] for b in group["buttons"] if b["text"] == "Binder")
    return urls


def test_readme_launch_urls_open_files_that_exist() -> None:
    urls = BINDER_URL.findall((ROOT / "README.md").read_text())
    assert urls, "README.md has no Binder launch URL"
    for url in urls:
        *_, path = _launch_target(url)
        assert (ROOT / path).is_file() and Path(os.path.normpath(path)).as_posix() == path, (
            f"README's {url} opens {path!r}, which is not a file of the repository")


def test_book_launch_buttons_open_their_own_notebook() -> None:
    urls = _config_launch_urls()
    assert urls, "no notebook page has a Binder launch button"
    for page, url in urls.items():
        *_, path = _launch_target(url)
        assert path == f"{page}.ipynb", f"{page}'s button opens {path!r}: check repository.path_to_book"
        assert (ROOT / path).is_file(), f"{page}'s launch button opens {path!r}, which does not exist"


def test_readme_badge_and_book_launch_the_same_repository_branch_and_interface() -> None:
    config = _book_config()
    repository_url = config["repository"]["url"]
    project_urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert repository_url == project_urls["Repository"], "_config.yml and pyproject name other repositories"
    binderhub = config["launch_buttons"]["binderhub_url"].rstrip("/")
    readme = BINDER_URL.findall((ROOT / "README.md").read_text())
    expected = (*urlparse(repository_url).path.strip("/").split("/"), config["repository"]["branch"],
                config["launch_buttons"]["notebook_interface"])
    for url in [*readme, *_config_launch_urls().values()]:
        assert url.startswith(binderhub + "/"), f"{url} is not on {binderhub}"
        assert _launch_target(url)[:4] == expected, f"{url} does not launch {expected} like _config.yml"
