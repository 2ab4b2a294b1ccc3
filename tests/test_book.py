"""The book cannot rot: its structure is checked fast, and every chapter is executed at 200 km."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from icegrad import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = book.chapters(ROOT)
# Coarse settings: every chapter runs end to end, on a small grid with a small ensemble; ch. 8's input
# selection retrains nothing (its coarse setting trains three networks, ~90 s: too much for `make test`).
COARSE = {"resolution_km": 200, "members": 2, "epochs": 1, "steps": 8, "leads": [1, 3],
          "selection_setting": "reference", "randomisation_setting": "cached"}
COARSE_RUN = {k: v for k, v in COARSE.items() if k in book.run_config.defaults()}


def test_toc_lists_only_existing_pages() -> None:
    for name in book.toc_files(ROOT):
        assert (ROOT / f"{name}.ipynb").exists() or (ROOT / f"{name}.md").exists(), name
    assert NOTEBOOKS, "the book has no executable chapter"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_is_parameterised_and_stored_without_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged parameters"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        "notebooks are committed without outputs"
    stored = json.loads(notebook.read_text())["cells"]  # as stored: reading with nbformat fills missing ids
    assert all("id" in c for c in stored), "every cell has an id (nbformat 4.5; papermill warns without)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_model_defaults_are_the_libraries(notebook: Path) -> None:
    """A chapter run with its defaults uses the ensemble TrainConfig describes (and the CLI trains)."""
    from icegrad.model.train import TrainConfig

    defaults = TrainConfig()
    expected = {"members": defaults.members, "width": defaults.filters_factor, "epochs": defaults.epochs}
    declared = papermill.inspect_notebook(str(notebook))
    for name, value in expected.items():
        if name in declared:
            assert book._literal(declared[name]["default"]) == value, \
                f"{notebook.name}: {name} defaults to {declared[name]['default']}, TrainConfig to {value}"


def test_coarse_settings_train_the_observed_network_cheaply_too() -> None:
    """The observed comparison (chapters 4-7, 11, 12) takes the run's settings: coarse runs make it coarse."""
    from icegrad.config import RunConfig
    from icegrad.pages.observed import observed_config

    observed = observed_config(RunConfig.from_parameters(COARSE_RUN))
    assert observed is not None and observed.data_source == "nsidc"
    assert (observed.resolution_km, observed.members, observed.epochs, observed.steps) == (200, 2, 1, 8)
    for notebook in NOTEBOOKS:
        declared = papermill.inspect_notebook(str(notebook))
        if "observed_source" in declared:
            assert set(COARSE_RUN) - {"steps", "leads"} <= set(declared), \
                f"{notebook.name} cannot be made coarse"


def test_bad_parameters_fail_before_any_work() -> None:
    notebook = NOTEBOOKS[0]
    with pytest.raises(book.BookError, match="has no parameter 'no_such_parameter'"):
        book.check_parameters(notebook, {"no_such_parameter": 1})
    with pytest.raises(book.BookError, match="choose one of"):
        book.check_parameters(notebook, {"resolution_km": "30"})
    attribution_chapter = book.find_chapter(ROOT, "06")
    with pytest.raises(book.BookError, match="choose one of"):
        book.check_parameters(attribution_chapter, {"method": "saliency"})
    assert book.check_parameters(attribution_chapter, {"steps": "16", "leads": "[1, 2]"}) == {
        "steps": 16, "leads": [1, 2]}
    with pytest.raises(book.BookError, match="06_which_inputs: steps='many' is not an int like its default"):
        book.check_parameters(attribution_chapter, {"steps": "many"})
    with pytest.raises(book.BookError, match="unknown chapter"):
        book.find_chapter(ROOT, "99_nothing")


@pytest.mark.parametrize(("chapter", "parameters", "message"), [
    ("05", {"leads": "[7]"}, r"05_gradient_attribution: leads=\(7,\) is out of range"),
    ("05", {"leads": "[0]", "resolution_km": "200"}, r"leads=\(0,\) is out of range"),
    ("03", {"target_year": "1850"}, "03_september_2013: target_year=1850 is out of range"),
    ("03", {"target_year": "2007"}, "reference_year and target_year are both 2007"),
    ("05", {"roi_rule": "5"}, "malformed ROI rule '5'"),
    ("05", {"members": "-1"}, "members=-1 is out of range"),
    ("05", {"steps": "0"}, "steps=0 is out of range"),
    ("05", {"steps": "True"}, "steps=True should be an int"),
    ("04", {"target_month": "2013-13"}, "target_month='2013-13' is not a month"),
    ("10", {"methods": "['saliency']"}, "10_explore: method='saliency' is not allowed"),
    ("10", {"target_months": "['2013-09', 'Sept']"}, "target_month='Sept' is not a month"),
    ("02", {"seed": "zero"}, "02_emulated_arctic: parameter seed='zero' should be of type int"),
])
def test_bad_run_parameters_are_checked_by_the_run_configuration(chapter: str, parameters: dict[str, str],
                                                                 message: str) -> None:
    with pytest.raises(book.BookError, match=message) as caught:
        book.check_parameters(book.find_chapter(ROOT, chapter), parameters)
    assert "\n" not in str(caught.value)


def test_bad_parameters_for_the_data_fail_before_papermill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: pytest.fail("papermill started"))
    with pytest.raises(book.BookError, match="03_september_2013: target_year=2030: the emulated data cover "
                                             "1979-01 to 2020-12 and hold no 2030-09"):
        book.run_chapter("03", {"resolution_km": "200", "target_year": "2030"}, ROOT)
    with pytest.raises(book.BookError, match="05_gradient_attribution: target_month='1979-06' at lead 1"):
        book.run_chapter("05", {"resolution_km": "200", "target_month": "1979-06"}, ROOT)
    with pytest.raises(book.BookError, match="selects no ocean cell"):
        book.build_book(ROOT, parameters={"resolution_km": 200, "roi_rule": "threshold:1.0"})
    book.check_against_data(book.find_chapter(ROOT, "03"), {"figure_dir": "elsewhere"})  # no data needed


def test_good_parameters_come_back_in_the_chapters_types() -> None:
    assert book.check_parameters(book.find_chapter(ROOT, "05"), {
        "leads": "[1, 3]", "width": "1", "roi_rule": "top_fraction:0.05", "target_year": "2012"}) == {
        "leads": [1, 3], "width": 1.0, "roi_rule": "top_fraction:0.05", "target_year": 2012}
    assert book.check_parameters(book.find_chapter(ROOT, "10"), {"methods": "['smoothgrad']"}) == {
        "methods": ["smoothgrad"]}


def test_cli_reports_bad_parameter_with_exit_code_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "icegrad.cli", "run", NOTEBOOKS[0].stem, "-p", "resolution_km", "30"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert result.returncode == 2
    assert "resolution_km=30 is not allowed" in result.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_executes_at_coarse_settings(notebook: Path, coarse_book,
                                             request: pytest.FixtureRequest) -> None:
    assert_in_group(request, "book")
    assert coarse_book.settings == COARSE
    output = coarse_book.execute(notebook)  # shared with tests/test_rendered_book.py
    executed = nbformat.read(output, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if notebook.stem == "03_september_2013":
        assert_three_map_panels(output.parent / "figures" / "figure1.png")


def assert_in_group(request: pytest.FixtureRequest, group: str) -> None:
    """Under ``--dist loadgroup`` the test carries its xdist group, so it runs on its group's one worker.

    pytest 9.2.0 broke this silently (pytest-dev/pytest-xdist#1386): the chapters then ran on both
    workers, and the rendered-book test executed half of them a second time.
    """
    if request.config.getoption("loadgroup", default=False):
        assert request.node.nodeid.endswith(f"@{group}"), \
            f"{request.node.nodeid} lost its xdist group {group!r}: check the pytest/pytest-xdist pins"


def assert_three_map_panels(figure: Path) -> None:
    """Figure 1 has three drawn maps side by side: each third of the image is mostly non-white and varied."""
    import matplotlib.image as mpimg
    import numpy as np

    assert figure.exists(), f"{figure} was not written"
    image = mpimg.imread(figure)[..., :3]
    maps = image[int(0.05 * image.shape[0]): int(0.75 * image.shape[0])]
    for i, panel in enumerate(np.array_split(maps, 3, axis=1)):
        drawn = (panel.min(axis=-1) < 0.9).mean()
        assert drawn > 0.3, f"panel {i} of {figure.name} is mostly blank ({drawn:.0%} drawn)"
        assert panel.std() > 0.1, f"panel {i} of {figure.name} has no structure"


# Chapter 3 draws the observed Figure 1 from the shared files; chapter 5, the widest chapter, runs every
# attribution section with NSIDC as the run's own data. The SIC-only network on NSIDC is also trained
# (ch. 4) and explained (ch. 5-7, 11) by every coarse run above, through pages.observed, and the pages'
# NSIDC branches have unit tests (tests/pages), so real runs of 4, 6 and 7 would repeat that work.
REAL_DATA_CHAPTERS = [nb for nb in NOTEBOOKS if nb.stem.split("_")[0] in ("03", "05")]


# Their own group: `make test` (--dist loadgroup) runs them on the other worker while the coarse book
# and its HTML, which must share one worker, take this one; together they were the suite's critical path.
@pytest.mark.slow
@pytest.mark.xdist_group("book-real")
@pytest.mark.parametrize("notebook", REAL_DATA_CHAPTERS, ids=lambda p: p.stem)
def test_chapter_executes_on_the_real_nsidc_record(notebook: Path, shared_reference: Path,
                                                   real_book_cache: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Chapter 3 draws the observed Figure 1 beside the emulated one; 5 runs the SIC-only IceNet on NSIDC."""
    record = shared_reference / "real_files" / "nsidc_g02202v3_monthly_nh_sic.nc"
    if not record.exists():
        pytest.skip(f"{record} not present")
    monkeypatch.setenv("ICEGRAD_CACHE_DIR", str(real_book_cache))
    monkeypatch.setenv("ICEGRAD_NSIDC_DIR", str(record))
    declared = papermill.inspect_notebook(str(notebook))
    real = {} if notebook.stem.startswith("03") else {"data_source": "nsidc"}
    params = {k: v for k, v in {**COARSE, **real}.items() if k in declared}
    output = book.execute_chapter(notebook, tmp_path / notebook.name, params, progress=False)
    executed = nbformat.read(output, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if notebook.stem.startswith("03"):
        assert_three_map_panels(tmp_path / "figures" / "figure1_nsidc.png")
    else:
        glued = "".join(str(o["data"].get("application/papermill.record/text/plain", "")) for o in outputs
                        if o.get("metadata", {}).get("scrapbook", {}).get("name") == "inputs_note")
        assert "SIC-only variant" in glued and "lacks IceNet's other 29 inputs" in glued
