"""Freed memory goes back to the system after a TensorFlow computation, whether it returned or raised."""

from __future__ import annotations

import platform

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
