"""Freed memory goes back to the system after a TensorFlow computation, whether it returned or raised;
TensorFlow's oneDNN buffers come from an allocator that can give it back, and large blocks go back as soon
as they are freed."""

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



RETAINED_AFTER_FREE = """
import sys
import numpy as np
from icegrad import memory

def resident_mib() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "chapter":
    import icegrad.pages.common
took = memory.map_large_blocks() if sys.argv[1] == "own" else None
first = np.ones(30 * 2**20 // 8)  # mapped (above glibc's starting threshold), then freed:
del first                         # glibc now raises its threshold to 30 MiB, unless it was fixed
before = resident_mib()
block = np.ones(20 * 2**20 // 8)  # under a raised threshold: from the heap, below the next block
pinned = np.ones(1000)
del block
print(took, resident_mib() - before)
"""


def _retained(mode: str) -> tuple[str, float]:
    """What map_large_blocks answered ("None" if not called), and the MiB a freed 20 MiB block left."""
    out = subprocess.run([sys.executable, "-c", RETAINED_AFTER_FREE, mode], capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], float(out[1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's thresholds are glibc's")
def test_a_large_block_goes_back_to_the_system_when_freed() -> None:
    took, kept = _retained("own")
    assert took == "True" and kept < 2, f"{kept:.1f} MiB of a freed 20 MiB block stayed resident"
    # without it, glibc's raised threshold keeps the block in the heap, resident after it is freed
    assert _retained("glibc")[1] > 16


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's thresholds are glibc's")
def test_a_chapter_kernel_maps_large_blocks_once_it_imports_the_pages() -> None:
    assert _retained("chapter")[1] < 2
