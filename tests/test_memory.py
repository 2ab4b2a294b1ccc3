"""Freed memory goes back to the system after a TensorFlow computation, whether it returned or raised, and
TensorFlow's oneDNN buffers come from an allocator that can give it back."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from icegrad import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_returns_free_heap_pages() -> None:
    assert memory.release_freed_memory() is True


def test_a_decorated_function_releases_after_returning_and_after_raising(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(memory, "release_freed_memory", lambda: calls.append("released") or True)

    @memory.releases_memory
    def compute(value: int) -> int:
        """Doubles."""
        calls.append("computed")
        if value < 0:
            raise ValueError("negative")
        return 2 * value

    assert compute(3) == 6 and calls == ["computed", "released"]
    with pytest.raises(ValueError, match="negative"):
        compute(-1)
    assert calls[2:] == ["computed", "released"]
    assert compute.__doc__ == "Doubles." and compute.__name__ == "compute"


def test_the_system_allocator_is_asked_for_unless_the_user_chose() -> None:
    environ: dict[str, str] = {}
    memory.use_system_allocator(environ)
    assert environ == {memory.ONEDNN_SYSTEM_ALLOCATOR: "1"}
    chosen = {memory.ONEDNN_SYSTEM_ALLOCATOR: "0"}
    memory.use_system_allocator(chosen)
    assert chosen == {memory.ONEDNN_SYSTEM_ALLOCATOR: "0"}


def test_a_chapter_kernel_asks_for_it_before_tensorflow_starts() -> None:
    env = {k: v for k, v in os.environ.items() if k != memory.ONEDNN_SYSTEM_ALLOCATOR}
    code = ("import sys, os; import icegrad.pages.common; "
            f"print(os.environ.get({memory.ONEDNN_SYSTEM_ALLOCATOR!r}), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]
