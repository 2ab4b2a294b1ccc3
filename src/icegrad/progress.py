"""Progress bars of long work: one look and one off switch for training, attribution, permutations, downloads.

Why one module: every bar of icegrad is a ``tqdm`` line on stderr (terminals and notebooks redraw it in
place, and the chapters' ``remove-stderr`` cell tags keep it off the rendered page), and every bar obeys
``icegrad ... --quiet``. That flag sets tqdm's own switch, ``TQDM_DISABLE``, which papermill's kernels
inherit; tqdm itself reads the variable only when it is first imported, so :func:`bar` reads it each
time a bar is made.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

QUIET_ENV = "TQDM_DISABLE"


def quiet() -> bool:
    """Whether progress bars are switched off (``TQDM_DISABLE`` set to anything but empty, 0 or false)."""
    return os.environ.get(QUIET_ENV, "").strip().lower() not in ("", "0", "false")


def bar(iterable: Iterable[Any] | None = None, *, desc: str, unit: str, total: int | None = None,
        leave: bool = False, disable: bool = False) -> tqdm:
    """A bar over ``iterable`` (or ``total`` steps) titled with what is being done, counted in ``unit``."""
    return tqdm(iterable, desc=desc, unit=unit, total=total, leave=leave, dynamic_ncols=True,
                disable=disable or quiet())
