"""Execute the book's chapters with papermill and build the HTML with Jupyter Book.

The repository's notebooks carry no outputs. :func:`build_book` copies the book sources into a
staging folder, executes every notebook listed in ``_toc.yml`` there with papermill (in table-of-
contents order, so later chapters reuse what earlier ones cached), and builds the HTML from those
executed copies into ``_build/html``. :func:`run_chapter` re-executes one chapter with other
parameters into a folder of its own. Parameters are checked against the chapter's ``parameters``
cell *before* any work starts, so a typo fails in a second, not after a training run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import papermill
import yaml

from icegrad import grid
from icegrad.cache import parameter_key
from icegrad.data.schema import DATA_SOURCES

BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIR = "book"

#: Parameters whose values are restricted to a known set, whichever chapter uses them.
PARAMETER_CHOICES: dict[str, tuple[Any, ...]] = {
    "data_source": DATA_SOURCES,
    "resolution_km": grid.SUPPORTED_RESOLUTIONS_KM,
    "month": tuple(range(1, 13)),
}


def parameter_choices() -> dict[str, tuple[Any, ...]]:
    """:data:`PARAMETER_CHOICES` plus the attribution methods and baselines.

    Those two come from :mod:`icegrad.attribution`, which imports TensorFlow, so they are looked up
    only when a chapter's parameters are checked, never on ``import icegrad.book``.
    """
    from icegrad.attribution.methods import METHODS
    from icegrad.attribution.references import BASELINES

    return {**PARAMETER_CHOICES, "method": METHODS, "baseline": BASELINES}


class BookError(ValueError):
    """A chapter name or parameter that the book does not have, or a failed build step."""


def repository_root(start: Path | None = None) -> Path:
    """The folder holding ``_toc.yml`` (the current folder or one of its parents)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / BOOK_DIR).is_dir():
            return folder
    raise BookError(f"no _toc.yml with a {BOOK_DIR}/ folder found at or above {here}; "
                    "run this from the icegrad repository")


def toc_files(root: Path) -> list[str]:
    """Every file listed in ``_toc.yml`` (root first), without extension, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: Iterable[Mapping[str, Any]]) -> None:
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("sections", "chapters"):
                walk(entry.get(key, []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


def chapters(root: Path) -> list[Path]:
    """The notebooks of the book, in table-of-contents order."""
    return [root / f"{name}.ipynb" for name in toc_files(root) if (root / f"{name}.ipynb").is_file()]


def find_chapter(root: Path, name: str) -> Path:
    """Resolve a chapter by file name, stem, or number prefix (``03``, ``03_september_2013``)."""
    known = chapters(root)
    for path in known:
        if name in (path.name, path.stem, str(path.relative_to(root))) or path.stem.split("_")[0] == name:
            return path
    raise BookError(f"unknown chapter {name!r}; chapters are: {', '.join(p.stem for p in known)}")


def check_parameters(notebook: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``parameters`` against the notebook's ``parameters`` cell; return them coerced.

    Unknown names and values of the wrong type (or outside :data:`PARAMETER_CHOICES`) raise
    :class:`BookError` naming the parameter and what it accepts.
    """
    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise BookError(f"{notebook.name} has no cell tagged 'parameters'")
    checked: dict[str, Any] = {}
    for name, value in parameters.items():
        if name not in declared:
            raise BookError(f"{notebook.stem} has no parameter {name!r}; its parameters are: "
                            + ", ".join(f"{k} (default {v['default']})" for k, v in declared.items()))
        default = _literal(declared[name]["default"])
        value = _coerce(name, value, default)
        choices = parameter_choices().get(name)
        if choices is not None and value not in choices:
            raise BookError(f"parameter {name}={value!r} is not allowed; choose one of {choices}")
        checked[name] = value
    return checked


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Turn a command-line string into the type of the parameter's default value."""
    if not isinstance(value, str) or isinstance(default, str):
        return value
    parsed = _literal(value)
    if default is None:
        return parsed
    if isinstance(default, bool) or type(parsed) is type(default):
        return parsed
    if isinstance(default, float) and isinstance(parsed, int):
        return float(parsed)
    if isinstance(default, list | tuple) and isinstance(parsed, list | tuple):
        return type(default)(parsed)
    raise BookError(f"parameter {name}={value!r} should be a {type(default).__name__} "
                    f"like its default {default!r}")


def execute_chapter(notebook: Path, output: Path, parameters: Mapping[str, Any] | None = None,
                    *, progress: bool = True) -> Path:
    """Execute one notebook with papermill into ``output`` (its folder is the working directory)."""
    checked = check_parameters(notebook, parameters or {})
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"executing {notebook.name} {checked or ''}", flush=True)
    papermill.execute_notebook(str(notebook), str(output), parameters=checked, cwd=str(output.parent),
                               kernel_name="python3", progress_bar=progress)
    print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    return output


def stage_sources(root: Path, stage: Path) -> None:
    """Copy the book's configuration and non-notebook pages into a fresh staging folder."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for name in BOOK_SOURCES:
        if (root / name).exists():
            shutil.copy2(root / name, stage / name)
    shutil.copytree(root / BOOK_DIR, stage / BOOK_DIR,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "figures"))


def build_book(root: Path | None = None, *, parameters: Mapping[str, Any] | None = None,
               progress: bool = True, html: bool = True) -> Path:
    """Execute every chapter (with shared ``parameters`` where a chapter declares them) and build HTML.

    Returns the HTML folder (``<root>/_build/html``).
    """
    root = root or repository_root()
    stage = root / "_build" / "stage"
    notebooks = chapters(root)
    shared = dict(parameters or {})
    per_notebook = {
        nb: {k: v for k, v in shared.items() if k in papermill.inspect_notebook(str(nb))} for nb in notebooks
    }
    for nb, params in per_notebook.items():
        check_parameters(nb, params)
    stage_sources(root, stage)
    start = time.perf_counter()
    for number, nb in enumerate(notebooks, 1):
        print(f"[chapter {number}/{len(notebooks)}, {time.perf_counter() - start:.0f} s so far]", flush=True)
        execute_chapter(nb, stage / nb.relative_to(root), per_notebook[nb], progress=progress)
    if not html:
        return stage
    return build_html(stage, root)


def build_html(stage: Path, output: Path) -> Path:
    """Build the executed book in ``stage`` as HTML into ``<output>/_build/html``; warnings are errors."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage),
               "--path-output", str(output), "--all", "--warningiserror", "--keep-going"]
    print("building HTML:", " ".join(command), flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, check=False)
    if result.returncode:
        raise BookError(f"jupyter-book build failed (exit {result.returncode}); see the messages above")
    print(f"  HTML built in {time.perf_counter() - start:.0f} s", flush=True)
    return output / "_build" / "html"


def run_chapter(name: str, parameters: Mapping[str, Any], root: Path | None = None,
                *, progress: bool = True) -> Path:
    """Re-execute one chapter with ``parameters`` into ``_build/runs/<chapter>-<key>/``."""
    root = root or repository_root()
    notebook = find_chapter(root, name)
    checked = check_parameters(notebook, parameters)
    folder = root / "_build" / "runs" / f"{notebook.stem}-{parameter_key(checked)}"
    return execute_chapter(notebook, folder / notebook.name, checked, progress=progress)
