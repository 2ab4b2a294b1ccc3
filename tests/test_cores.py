"""Sharing the cores between processes that run side by side (icegrad.cores)."""

from __future__ import annotations

import pytest

from icegrad.cores import THREAD_VARIABLES, share_cores, threads_per_process, usable_cores


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
    assert share_cores(2, env, cores=4) == 2
    assert {name: env[name] for name in THREAD_VARIABLES} == dict.fromkeys(THREAD_VARIABLES, "2")


def test_a_single_process_keeps_tensorflows_defaults() -> None:
    env: dict[str, str] = {}
    share_cores(1, env, cores=4)
    assert env == {}


def test_a_users_thread_count_wins() -> None:
    env = {"TF_NUM_INTRAOP_THREADS": "3"}
    share_cores(2, env, cores=2)
    assert env["TF_NUM_INTRAOP_THREADS"] == "3" and env["OMP_NUM_THREADS"] == "1"
