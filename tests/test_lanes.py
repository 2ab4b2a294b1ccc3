"""The book's chapter lanes (icegrad.lanes): at most N at once, each after the chapters it names."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import nbformat
import pytest

from icegrad.lanes import LaneError, default_lanes, prerequisites, run_in_lanes


def notebooks(folder: Path, after: dict[str, list[str]]) -> list[Path]:
    """Empty notebooks named by ``after``'s keys, each waiting for the chapters its value lists."""
    paths = []
    for name, waits in after.items():
        nb = nbformat.v4.new_notebook(metadata={"icegrad": {"after": waits}} if waits else {})
        nbformat.write(nb, folder / f"{name}.ipynb")
        paths.append(folder / f"{name}.ipynb")
    return paths


class Log:
    """Runs each chapter for ``seconds``, recording starts, ends and the most running at once."""

    def __init__(self, seconds: float = 0.05, fail: str | None = None) -> None:
        self.seconds, self.fail = seconds, fail
        self.events: list[tuple[str, str]] = []
        self.running = self.most = 0
        self.lock = threading.Lock()

    def run(self, nb: Path) -> str:
        with self.lock:
            self.events.append(("start", nb.stem))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
            self.events.append(("end", nb.stem))
        if nb.stem == self.fail:
            raise RuntimeError(f"{nb.stem} failed")
        return nb.stem.upper()


@pytest.mark.parametrize(("cores", "memory", "lanes"), [(2, 24_000, 2), (8, 7_000, 2), (2, 2_000, 1),
                                                         (1, 64_000, 1), (4, None, 1)])
def test_default_lanes_follow_cores_and_memory(cores: int, memory: float | None, lanes: int) -> None:
    assert default_lanes(cores, memory) == lanes


def test_lanes_run_side_by_side_and_a_chapter_waits_for_those_it_names(tmp_path: Path) -> None:
    order = notebooks(tmp_path, {"02_a": [], "03_b": [], "04_c": [], "11_end": ["02_a", "03_b", "04_c"]})
    log, results = Log(), {}
    run_in_lanes(order, prerequisites(order), 2, log.run, lambda nb, r: results.update({nb.stem: r}),
                 failed=lambda nb: None)
    assert results == {"02_a": "02_A", "03_b": "03_B", "04_c": "04_C", "11_end": "11_END"}
    assert log.most == 2
    ends = [log.events.index(("end", name)) for name in ("02_a", "03_b", "04_c")]
    assert log.events.index(("start", "11_end")) > max(ends)


def test_one_lane_runs_in_the_given_order(tmp_path: Path) -> None:
    order = notebooks(tmp_path, {"03_b": [], "02_a": []})
    log = Log(seconds=0)
    run_in_lanes(order, prerequisites(order), 1, log.run, lambda nb, r: None, failed=lambda nb: None)
    assert [name for event, name in log.events if event == "start"] == ["03_b", "02_a"] and log.most == 1


def test_a_failure_stops_new_chapters_and_is_raised(tmp_path: Path) -> None:
    order = notebooks(tmp_path, {"02_a": [], "03_b": [], "04_c": [], "05_d": []})
    log, failed = Log(fail="02_a"), []
    with pytest.raises(RuntimeError, match="02_a failed"):
        run_in_lanes(order, prerequisites(order), 2, log.run, lambda nb, r: None, failed=failed.append)
    started = [name for event, name in log.events if event == "start"]
    assert failed == [order[0]] and "05_d" not in started and "04_c" not in started[:2]


def test_unknown_or_circular_waits_are_refused_before_any_work(tmp_path: Path) -> None:
    unknown = notebooks(tmp_path, {"02_a": ["09_missing"]})
    with pytest.raises(LaneError, match=r"02_a.ipynb waits for \['09_missing'\]"):
        prerequisites(unknown)
    (tmp_path / "loop").mkdir()
    loop = notebooks(tmp_path / "loop", {"02_a": ["03_b"], "03_b": ["02_a"], "04_c": []})
    with pytest.raises(LaneError, match=r"\['02_a', '03_b'\] wait for one another in a cycle"):
        prerequisites(loop)


def test_no_lanes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LaneError, match="at least 1"):
        run_in_lanes([], {}, 0, str, lambda nb, r: None, failed=lambda nb: None)


def test_the_discussion_waits_for_the_chapters_whose_networks_it_reads_from_the_cache() -> None:
    from icegrad.book import chapters, repository_root

    needs = prerequisites(chapters(repository_root(Path(__file__).parent)))
    waits = {nb.stem: sorted(p.stem for p in before) for nb, before in needs.items() if before}
    assert waits == {"11_discussion": ["05_gradient_attribution", "08_permute_and_predict"]}
