"""Training, validation and test years, and the forecast start months each one owns.

The defaults are IceNet's observational split (Andersson et al. 2021): train 1980-2011, validate
2012-2017, test 2018-2020 (IceNet tested on 2018-2019; the emulated Arctic runs to 2020). A start
month belongs to the split of its *own* year; as in IceNet, the targets of the last starts of a
split (up to five months later) can fall in the first months of the next split, while the inputs
never look forward.

Example
-------
>>> Splits().years("validate")
(2012, 2017)
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pandas as pd
import xarray as xr

from icegrad.inputs.checks import InputError
from icegrad.inputs.start_months import available_start_months
from icegrad.variables import N_LEADS

SPLIT_KINDS = ("train", "validate", "test")


@dataclass(frozen=True)
class Splits:
    """Inclusive (first, last) years of each split; they must be ordered and must not overlap."""

    train: tuple[int, int] = (1980, 2011)
    validate: tuple[int, int] = (2012, 2017)
    test: tuple[int, int] = (2018, 2020)

    def __post_init__(self) -> None:
        spans = [self.years(kind) for kind in SPLIT_KINDS]
        for kind, (first, last) in zip(SPLIT_KINDS, spans, strict=True):
            if first > last:
                raise InputError(f"{kind} years {(first, last)} are reversed; pass (first, last)")
        for (kind_a, (_, last_a)), (kind_b, (first_b, _)) in pairwise(zip(SPLIT_KINDS, spans, strict=True)):
            if first_b <= last_a:
                raise InputError(f"{kind_b} years start in {first_b}, not after the {kind_a} years end "
                                 f"({last_a}); splits must be in time order without overlap")

    def years(self, kind: str) -> tuple[int, int]:
        """The (first, last) years of ``kind`` (``train``, ``validate`` or ``test``)."""
        if kind not in SPLIT_KINDS:
            raise InputError(f"unknown split {kind!r}; choose one of {SPLIT_KINDS}")
        return getattr(self, kind)

    def start_months(self, kind: str, ds: xr.Dataset, n_leads: int = N_LEADS) -> pd.DatetimeIndex:
        """Start months of ``kind`` that ``ds`` serves with 12 months of history and ``n_leads`` targets.

        ``n_leads=0`` asks for inputs only (no targets needed), e.g. to forecast beyond the data.
        """
        first, last = self.years(kind)
        starts = available_start_months(ds, n_leads)
        return starts[(starts.year >= first) & (starts.year <= last)]
