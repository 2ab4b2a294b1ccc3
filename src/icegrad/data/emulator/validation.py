"""How close is the emulated Arctic to the real one? Extents against the NSIDC Sea Ice Index.

The Sea Ice Index v3 (Fetterer et al. 2017, doi:10.7265/N5K072F8) publishes one CSV per calendar
month, ``N_MM_extent_v3.0.csv``, with columns ``year, mo, data-type, region, extent, area`` in
million km2 and ``-9999`` for a missing month. The project keeps a copy beside the repository in
``../shared/reference/nsidc_sea_ice_index_v3/north`` (``ICEGRAD_SHARED_DIR`` points elsewhere); when
it is absent the comparison says so rather than failing, because the book must build without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.diagnostics import sea_ice_extent
from icegrad.errors import IcegradError

MISSING = -9999
_REPO_ROOT = Path(__file__).resolve().parents[4]


class SeaIceIndexError(IcegradError):
    """A Sea Ice Index file that is missing or not in the published layout."""


def sea_ice_index_folder() -> Path | None:
    """The folder of monthly Sea Ice Index CSVs beside the repository, or ``None`` if it is absent."""
    shared = Path(os.environ.get("ICEGRAD_SHARED_DIR", _REPO_ROOT / ".." / "shared"))
    folder = shared / "reference" / "nsidc_sea_ice_index_v3" / "north"
    return folder.resolve() if folder.is_dir() else None


def read_sea_ice_index(month: int, folder: str | os.PathLike[str] | None = None) -> pd.Series:
    """Observed extent (million km2) of one calendar month, indexed by year, missing months dropped."""
    base = Path(folder) if folder is not None else sea_ice_index_folder()
    if base is None:
        raise SeaIceIndexError("the NSIDC Sea Ice Index folder was not found beside the repository "
                               "(../shared/reference/nsidc_sea_ice_index_v3/north); pass folder= or "
                               "set ICEGRAD_SHARED_DIR")
    path = base / f"N_{month:02d}_extent_v3.0.csv"
    if not path.exists():
        raise SeaIceIndexError(f"{path} not found; download N_{month:02d}_extent_v3.0.csv from the "
                               "Sea Ice Index (G02135) monthly folder")
    table = pd.read_csv(path, skipinitialspace=True)
    if not {"year", "extent"} <= set(table.columns):
        raise SeaIceIndexError(f"{path} lacks 'year'/'extent' columns (has {list(table.columns)}); "
                               "is it a Sea Ice Index v3 monthly extent file?")
    table = table[table["extent"] != MISSING]
    series = table.set_index("year")["extent"].astype("float64")
    series.name = f"observed extent, month {month}"
    return series


@dataclass(frozen=True)
class ExtentComparison:
    """Emulated and observed extents of one calendar month, year by year, and their agreement."""

    month: int
    table: pd.DataFrame  # index year; columns emulated, observed (million km2)
    correlation: float
    rmse: float
    bias: float

    def summary(self) -> str:
        """One line a caption or a test log can quote."""
        years = self.table.index
        return (f"month {self.month}, {years.min()}-{years.max()}: correlation {self.correlation:.2f}, "
                f"RMSE {self.rmse:.2f} million km2, bias {self.bias:+.2f} (emulated - observed)")


def compare_extents(ds: xr.Dataset, month: int,
                    folder: str | os.PathLike[str] | None = None) -> ExtentComparison:
    """Compare the ``month`` extents of a dataset with the Sea Ice Index over the years both have."""
    sic = ds["siconca"].sel(time=ds["time"].dt.month == month)
    emulated = sea_ice_extent(sic).to_series()
    emulated.index = emulated.index.year
    observed = read_sea_ice_index(month, folder)
    years = emulated.index.intersection(observed.index)
    if len(years) < 3:
        raise SeaIceIndexError(f"only {len(years)} year(s) in common with the Sea Ice Index; "
                               "compare over a longer period")
    table = pd.DataFrame({"emulated": emulated.loc[years], "observed": observed.loc[years]})
    table.index.name = "year"
    diff = table.emulated - table.observed
    return ExtentComparison(month, table, float(np.corrcoef(table.emulated, table.observed)[0, 1]),
                            float(np.sqrt((diff**2).mean())), float(diff.mean()))
