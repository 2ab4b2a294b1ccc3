"""Execute the book's chapters with papermill and build the HTML with Jupyter Book.

The repository's notebooks carry no outputs. :func:`build_book` copies the book sources into a
staging folder, executes every notebook listed in ``_toc.yml`` there with papermill (in table-of-
contents order or side by side in lanes; chapters reuse what others cached), and builds the HTML
from those executed copies into ``_build/html``. :func:`run_chapter` re-executes one chapter with other
parameters into a folder of its own. Parameters are checked against the chapter's ``parameters``
cell *before* any work starts, so a typo fails in a second, not after a training run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import papermill
import yaml

from icegrad import config as run_config
from icegrad.build_report import BOOK_REPORT, RUN_REPORT, ChapterRun, Recorder, table, take_probe, with_probe
from icegrad.cache import parameter_key
from icegrad.cores import share_cores, usable_cores
from icegrad.errors import IcegradError
from icegrad.files import write_text
from icegrad.lanes import default_lanes, expected_seconds, prerequisites, run_in_lanes
from icegrad.writable import check_store_folder

if TYPE_CHECKING:
    import xarray as xr

BOOK_SOURCES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIR = "book"

#: Run parameters whose validity depends on the data: changing one makes :func:`check_against_data` load it.
DATA_PARAMETERS = ("data_source", "resolution_km", "reference_year", "target_year", "month", "target_month",
                   "leads", "roi_rule")

#: List parameters (chapter 10's, 11's) whose every element is checked as the named run parameter.
ELEMENT_PARAMETERS = {"methods": "method", "target_months": "target_month", "target_years": "target_year"}


class BookError(IcegradError):
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

    Names that are run parameters (fields of :class:`icegrad.config.RunConfig`) are checked by building
    the run configuration from the chapter's declared defaults with ``parameters`` replaced, so every
    range and choice is the configuration's; the ROI rule's grammar too. Other names are checked
    against the type of their declared default, and those :data:`icegrad.config.CHAPTER_CHOICES` names
    against their choices. Any bad value raises :class:`BookError` in one line naming the chapter, the
    parameter and the fix, before papermill starts.
    """
    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise BookError(f"{notebook.name} has no cell tagged 'parameters'")
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise BookError(f"{notebook.stem} has no parameter {unknown[0]!r}; its parameters are: "
                        + ", ".join(f"{k} (default {v['default']})" for k, v in declared.items()))
    defaults = {name: _literal(spec["default"]) for name, spec in declared.items()}
    from icegrad.run_checks import check_settings

    fields = set(run_config.defaults())
    try:
        config = check_settings(_run_config(notebook, parameters))
        checked = {name: _as_declared(getattr(config, name), defaults[name])
                   for name in parameters if name in fields}
        for name, value in parameters.items():
            if name not in fields:
                checked[name] = _coerce(name, value, defaults[name])
                if name in run_config.CHAPTER_CHOICES:
                    run_config.check_choice(name, checked[name])
                if name in ELEMENT_PARAMETERS:
                    for element in checked[name]:
                        run_config.RunConfig.from_parameters({ELEMENT_PARAMETERS[name]: element}, config)
    except IcegradError as err:
        raise BookError(f"{notebook.stem}: {err}") from None
    return {name: checked[name] for name in parameters}


def check_against_data(notebook: Path, parameters: Mapping[str, Any],
                       datasets: dict[tuple[str, int], xr.Dataset] | None = None) -> None:
    """Check checked ``parameters`` against the data the chapter will load (years, forecast starts, ROI).

    Only when a parameter of :data:`DATA_PARAMETERS` is changed: the chapter's defaults fit the
    book's data. The dataset is loaded from the cache (or built: the chapter would build it first
    thing anyway), so a year the data do not cover fails before papermill starts. ``datasets``
    keeps loaded datasets by (source, resolution) across the chapters of one build.
    """
    if not set(parameters) & set(DATA_PARAMETERS):
        return
    from icegrad.run_checks import check_run, checked_dataset

    config = _run_config(notebook, parameters)
    datasets = {} if datasets is None else datasets
    key = (config.data_source, config.resolution_km)
    try:
        if key not in datasets:
            datasets[key] = checked_dataset(config)
        check_run(config, datasets[key])
    except IcegradError as err:
        raise BookError(f"{notebook.stem}: {err}") from None


def _run_config(notebook: Path, parameters: Mapping[str, Any]) -> run_config.RunConfig:
    """The run configuration of a chapter: its declared defaults with ``parameters`` (run ones) replaced."""
    fields = set(run_config.defaults())
    declared = papermill.inspect_notebook(str(notebook))
    base = run_config.RunConfig.from_parameters(
        {name: _literal(spec["default"]) for name, spec in declared.items() if name in fields})
    return run_config.RunConfig.from_parameters({k: v for k, v in parameters.items() if k in fields}, base)


def _as_declared(value: Any, default: Any) -> Any:
    """A configuration value in the form of the chapter's declared default (a list stays a list)."""
    return list(value) if isinstance(default, list) and isinstance(value, tuple) else value


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
    raise BookError(f"parameter {name}={value!r} should be of type {type(default).__name__} "
                    f"like its default {default!r}")


def execute_chapter(notebook: Path, output: Path, parameters: Mapping[str, Any] | None = None,
                    *, progress: bool = True) -> Path:
    """Execute one notebook with papermill into ``output`` (its folder is the working directory)."""
    return execute_measured(notebook, output, parameters, progress=progress).output


def execute_measured(notebook: Path, output: Path, parameters: Mapping[str, Any] | None = None,
                     *, progress: bool = True) -> ChapterRun:
    """Execute one notebook like :func:`execute_chapter`; return its wall time and its kernel's peak memory.

    papermill executes a temporary copy with :func:`icegrad.build_report.with_probe`'s measuring cell
    last; the cell is taken out of ``output`` again (also when a cell fails), so the executed notebook
    is the chapter's cells only.
    """
    checked = check_parameters(notebook, parameters or {})
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"executing {notebook.name} {checked or ''}", flush=True)
    with tempfile.TemporaryDirectory(prefix="icegrad-probe-") as folder:
        probed = Path(folder) / notebook.name
        probed.write_text(nbformat.writes(with_probe(nbformat.read(notebook, as_version=4))))
        try:
            papermill.execute_notebook(str(probed), str(output), parameters=checked, cwd=str(output.parent),
                                       kernel_name="python3", progress_bar=progress)
        except papermill.PapermillExecutionError as err:
            err.add_note(f"the executed notebook {output} shows the cell's traceback")
            raise
        finally:
            usage = _take_probe(output, notebook)
    wall = round(time.perf_counter() - start, 1)
    peak = "?" if usage["peak_rss_mib"] is None else f"{usage['peak_rss_mib']:.0f}"
    print(f"  {notebook.stem} done in {wall:.0f} s, kernel peak {peak} MiB resident", flush=True)
    return ChapterRun(chapter=notebook.stem, output=output, parameters=checked, wall_seconds=wall, **usage)


def _take_probe(output: Path, notebook: Path) -> dict[str, float | None]:
    """Remove the measuring cell from the executed ``output`` (rewritten atomically); return its figures."""
    if not output.is_file():  # the kernel never started: nothing executed, nothing measured
        return {"peak_rss_mib": None, "cpu_seconds": None}
    executed = nbformat.read(output, as_version=4)
    usage = take_probe(executed)
    executed.metadata.setdefault("papermill", {})["input_path"] = str(notebook)  # not the temporary copy
    write_text(nbformat.writes(executed), output)
    return usage


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
               progress: bool = True, html: bool = True, jobs: int | None = None) -> Path:
    """Execute every chapter (with shared ``parameters`` where a chapter declares them) and build HTML.

    ``jobs`` chapters run side by side (default: :func:`icegrad.lanes.default_lanes`, one per core as
    memory allows), each kernel with its share of the cores (:func:`icegrad.cores.share_cores`); the
    cache's entry locks let chapters that need the same result compute it once, and a chapter whose
    metadata names chapters to wait for (``icegrad.after``) starts after them. Chapters start in the
    order of the last build's wall times, longest first (a first build: the times the chapters' metadata
    expect), so the long ones do not end up alone at the end. Each chapter's wall time and its kernel's
    peak resident memory, the total, the machine and the parameters go to ``<root>/_build/book_report.json``
    (rewritten after every chapter) and are printed as a table at the end. Returns the HTML folder
    (``<root>/_build/html``), or the folder of executed notebooks without ``html``.
    """
    root = root or repository_root()
    stage = root / "_build" / "stage"
    notebooks = chapters(root)
    needs = prerequisites(notebooks)
    shared = dict(parameters or {})
    order = longest_first(notebooks, root / "_build" / BOOK_REPORT)
    recorder = Recorder(root / "_build" / BOOK_REPORT, shared)  # the total counts the checks too
    lanes = jobs if jobs is not None else default_lanes(usable_cores(), recorder.machine["memory_mib"])
    if lanes < 1:
        raise BookError(f"jobs must be at least 1, got {lanes}; pass --jobs 1 to run one chapter at a time")
    per_notebook = {
        nb: {k: v for k, v in shared.items() if k in papermill.inspect_notebook(str(nb))} for nb in notebooks
    }
    datasets: dict[tuple[str, int], xr.Dataset] = {}
    for nb, params in per_notebook.items():
        check_against_data(nb, check_parameters(nb, params), datasets)
    del datasets  # the chapters load their own; free the memory before they run
    check_store_folder(stage, "staging folder")
    stage_sources(root, stage)
    share_cores(lanes)
    print(f"executing {len(notebooks)} chapters, {lanes} at a time", flush=True)

    def execute(nb: Path) -> ChapterRun:
        return execute_measured(nb, stage / nb.relative_to(root), per_notebook[nb],
                                progress=progress and lanes == 1)  # two lanes' bars would interleave

    def finished(nb: Path, run: ChapterRun) -> None:
        recorder.add(run)
        print(f"[{len(recorder.runs)}/{len(notebooks)} chapters done, "
              f"{time.perf_counter() - recorder.start:.0f} s so far]", flush=True)

    run_in_lanes(order, needs, lanes, execute, finished,
                 failed=lambda nb: recorder.save(complete=False, failed=nb.stem))
    built, html_seconds = stage, None
    if html:
        with recorder.step("HTML build"):
            html_start = time.perf_counter()
            built = build_html(stage, root)
            html_seconds = time.perf_counter() - html_start
    _print_report(recorder.save(complete=True, html_seconds=html_seconds), recorder.target)
    return built


def longest_first(notebooks: list[Path], report: Path) -> list[Path]:
    """``notebooks`` by the wall time the last build report gives each, longest first; without a readable
    report (a first build), by the time each chapter's metadata expects
    (:func:`icegrad.lanes.expected_seconds`). Ties and chapters without a time keep their
    table-of-contents order."""
    try:
        walls = {c["chapter"]: float(c["wall_seconds"]) for c in json.loads(report.read_text())["chapters"]}
    except (OSError, ValueError, KeyError, TypeError):
        walls = expected_seconds(notebooks)
    return sorted(notebooks, key=lambda nb: -walls.get(nb.stem, 0.0))


def _print_report(record: Mapping[str, Any], path: Path) -> None:
    print(f"\n{table(record)}\nreport: {path}", flush=True)


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
    """Re-execute one chapter with ``parameters`` into ``_build/runs/<chapter>-<key>/``.

    Its record (wall time, kernel peak memory, machine, parameters) goes to ``run_report.json`` beside
    the executed notebook, the same form as the book's ``_build/book_report.json``.
    """
    root = root or repository_root()
    notebook = find_chapter(root, name)
    checked = check_parameters(notebook, parameters)
    check_against_data(notebook, checked)
    folder = check_store_folder(root / "_build" / "runs" / f"{notebook.stem}-{parameter_key(checked)}",
                                "run folder")
    recorder = Recorder(folder / RUN_REPORT, checked)
    with recorder.step(notebook.stem):
        recorder.add(execute_measured(notebook, folder / notebook.name, checked, progress=progress))
    _print_report(recorder.save(complete=True), recorder.target)
    return recorder.runs[0].output
