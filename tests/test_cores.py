"""Sharing the cores between processes that run side by side (icegrad.cores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from icegrad import cores
from icegrad.cores import THREAD_VARIABLES, cpu_quota, share_cores, threads_per_process, usable_cores


def test_usable_cores_is_at_least_one() -> None:
    assert usable_cores() >= 1


@pytest.mark.parametrize(("processes", "cores", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4)])
def test_each_process_gets_its_share_of_at_least_one(processes: int, cores: int, threads: int) -> None:
    assert threads_per_process(processes, cores) == threads


def test_no_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        threads_per_process(0, 2)


def test_side_by_side_processes_get_their_thread_counts() -> None:
    env: dict[str, str] = {}
    assert share_cores(2, env, cores=4, machine_cores=4) == 2
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "2")


def test_a_single_process_on_every_core_keeps_tensorflows_defaults() -> None:
    env: dict[str, str] = {}
    share_cores(1, env, cores=4, machine_cores=4)
    assert env == {}


def test_a_single_process_held_to_fewer_cores_than_the_machine_gets_that_many_threads() -> None:
    env: dict[str, str] = {}
    assert share_cores(1, env, cores=2, machine_cores=64) == 2
    assert env["TF_NUM_INTRAOP_THREADS"] == "2"


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "200000 100000\n"}, 2.0),
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"cpu.max": "garbled"}, None),
    ({}, None),
])
def test_cpu_quota_reads_cgroup_v2_and_v1(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpu_quota(tmp_path) == quota


def test_usable_cores_respect_the_quota_rounded_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "cpu_quota", lambda: 1.5)
    assert usable_cores() == min(2, len(os.sched_getaffinity(0)))
    monkeypatch.setattr(cores, "cpu_quota", lambda: 0.2)
    assert usable_cores() == 1


def test_a_users_thread_count_wins() -> None:
    env = {"TF_NUM_INTRAOP_THREADS": "3"}
    share_cores(2, env, cores=2, machine_cores=2)
    assert env["TF_NUM_INTRAOP_THREADS"] == "3" and env["OMP_NUM_THREADS"] == "1"
