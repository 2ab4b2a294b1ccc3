"""Rankings of channels and channel groups that answer the letter's question, each with its reason.

A ranking turns the attribution maps ``(member, lead, channel, y, x)`` into one non-negative score
per channel. Which reduction is right depends on the question, so four are offered side by side:

* ``"grid_mean_abs"``: mean |attribution| over the whole grid. The book's original ranking: how much
  a channel's values matter anywhere, regardless of sign. It favours fields that differ from the
  baseline everywhere (climate anomalies) over fields that differ only near the ice edge (SIC), and
  lets large positive and negative contributions count twice instead of cancelling.
* ``"roi_mean_abs"``: mean |attribution| over the ROI's cells only. Why: the letter asks about the
  ROI; inputs far from it can matter only through the network's receptive field, so this ranking
  asks which inputs *at the place in question* matter.
* ``"net"``: |sum of attribution over the grid|. Why: for integrated gradients the sums over channels
  add up to the explained change (completeness), so a channel's net is its share of T(x) - T(x');
  contributions of opposite sign cancel, as they do in the forecast. For a gradient the map sum is
  the derivative of the target with respect to a uniform shift of the channel.
* ``"roi_net"``: |sum over the ROI's cells|: the net contribution of the inputs at the ROI.

Channels constant over the map (cos/sin of the month) and the land mask cannot move cell by cell:
only the whole channel can change. They are therefore attributed as *whole channels* in every
ranking: their score is |sum over the grid| (spread over the ranking's cells for the mean rankings,
so it sits on the same per-cell scale). Without this the seasonal channels, which equal any
same-month baseline, would score zero by construction, and "seasonal" could not be measured at all.

Group scores are sums of their channels' scores for the magnitude rankings, and for the net rankings
|sum of the group's signed contributions|: a family of channels whose members push in opposite
directions (e.g. one month's temperature anomaly up, the next one's down) then nets out as it does
in the forecast, instead of adding up its channels' magnitudes. ``share`` is a score over the lead's
total.
:func:`ranking` gives the ensemble mean and a bootstrap interval across members.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import by_member, validate_result

RANKINGS = ("grid_mean_abs", "roi_mean_abs", "net", "roi_net")
"""The rankings of this module, the book's original (whole-grid mean |attribution|) first."""
WHOLE_CHANNEL_GROUPS = ("seasonal", "static")
"""Groups whose channels only change as a whole (month of the year, land mask)."""
LEVELS = ("channel", "group")


def whole_channels(ds: xr.Dataset) -> xr.DataArray:
    """True for channels attributed as a whole: the seasonal and static groups, and any channel whose
    input is the same in every cell at every lead (nothing can vary it cell by cell)."""
    validate_result(ds)
    spread = ds["input"].max(("lead", "y", "x")) - ds["input"].min(("lead", "y", "x"))
    return ds["group"].isin(WHOLE_CHANNEL_GROUPS) | (spread <= 1e-6)


def channel_scores(ds: xr.Dataset, ranking: str = "net") -> xr.DataArray:
    """Non-negative score ``(member, lead, channel)`` of every channel under ``ranking``."""
    if ranking not in RANKINGS:
        raise AttributionError(f"unknown ranking {ranking!r}; choose one of {RANKINGS}")
    attribution = validate_result(ds)["attribution"]
    roi = ds["roi"].astype(bool)
    space = ("y", "x")
    cells = float(roi.sum()) if ranking.startswith("roi") else float(roi.size)
    whole_channel = whole_channels(ds)

    def score(maps: xr.DataArray) -> xr.DataArray:
        whole = abs(maps.sum(space)) / (cells if ranking.endswith("mean_abs") else 1.0)
        per_cell = {  # only the asked ranking is computed
            "grid_mean_abs": lambda: abs(maps).mean(space),
            "roi_mean_abs": lambda: abs(maps).where(roi).sum(space) / cells,
            "net": lambda: whole,
            "roi_net": lambda: abs(maps.where(roi).sum(space)),
        }[ranking]()
        return xr.where(whole_channel, whole, per_cell)

    scores = by_member(attribution, score)  # a member at a time: see by_member
    return scores.assign_attrs(long_name=f"{ranking.replace('_', ' ')} attribution score",
                               units=ds["attribution"].attrs.get("units", "1"), ranking=ranking)


def ranking(ds: xr.Dataset, ranking: str = "net", level: str = "channel", n_boot: int = 1000,
            seed: int = 0, interval: float = 0.9) -> pd.DataFrame:
    """Channels or groups ranked per lead by ensemble-mean score, with bootstrap intervals.

    Columns: ``lead``, ``name``, ``score`` and ``share`` (ensemble means), ``share_low``/``share_high``
    (the central ``interval`` of ``n_boot`` bootstrap resamples of the members: how much the ranking
    could change with another draw of the ensemble; one member gives a zero-width interval, which says
    nothing), ``signed`` (ensemble-mean sum of signed attribution over the ranking's area, so the
    direction is not lost), ``rank`` (1 = largest) and the ranking, method and baseline.
    """
    if level not in LEVELS:
        raise AttributionError(f"unknown level {level!r}; choose one of {LEVELS}")
    scores, signed = member_scores(ds, ranking, level)
    name = "group" if level == "group" else "channel"
    shares = scores / scores.sum(name)
    low, high = bootstrap_interval(shares, n_boot, seed, interval)
    table = xr.Dataset({
        "score": scores.mean("member"), "share": shares.mean("member"), "share_low": low,
        "share_high": high, "signed": signed.mean("member"),
    }).to_dataframe().reset_index().rename(columns={name: "name"})
    keep = ["lead", "name", "score", "share", "share_low", "share_high", "signed"]
    if level == "channel":
        keep.insert(2, "group")
    table = table[keep].sort_values(["lead", "score"], ascending=[True, False])
    table["rank"] = table.groupby("lead").cumcount() + 1
    return table.assign(ranking=ranking, method=ds.attrs["method"],
                        baseline=baseline_name(ds)).reset_index(drop=True)


def member_scores(ds: xr.Dataset, ranking: str = "net", level: str = "channel"
                  ) -> tuple[xr.DataArray, xr.DataArray]:
    """Per-member scores and signed sums ``(member, lead, channel | group)`` behind :func:`ranking`."""
    scores = channel_scores(ds, ranking)
    area = ds["roi"].astype(bool) if ranking.startswith("roi") else True
    space = ("y", "x")
    whole_channel = whole_channels(ds)
    signed = by_member(ds["attribution"], lambda maps: xr.where(
        whole_channel, maps.sum(space), maps.where(area).sum(space)))
    if level == "group":
        signed = signed.groupby("group").sum()
        scores = abs(signed) if ranking in ("net", "roi_net") else scores.groupby("group").sum()
    return scores, signed


def bootstrap_interval(per_member: xr.DataArray, n_boot: int = 1000, seed: int = 0, interval: float = 0.9
                       ) -> tuple[xr.DataArray, xr.DataArray]:
    """The central ``interval`` of the ensemble mean of ``per_member`` over ``n_boot`` resamples of the
    members (with replacement): how much it could change with another draw of the ensemble.

    All resamples are drawn at once (one ``(n_boot, members)`` draw, one fancy index, one mean): the
    same numbers, bit for bit, as averaging one resample at a time, at a small fraction of the time.
    NaN (a share of a zero total) is skipped, as xarray's mean skips it."""
    if n_boot < 1 or not 0 < interval < 1:
        raise AttributionError(f"n_boot={n_boot!r} must be >= 1 and interval={interval!r} within (0, 1)")
    members = per_member.sizes["member"]
    draws = np.random.default_rng(seed).integers(0, members, size=(n_boot, members))
    ordered = per_member.transpose("member", ...)
    tail = (1 - interval) / 2
    with warnings.catch_warnings():  # a resample of members that all lack a value (0/0 share) has none
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = np.nanmean(ordered.values[draws], axis=1)  # (draw, ...): all resamples in one indexing
        low, high = np.nanquantile(boot, [tail, 1 - tail], axis=0)
    template = ordered.isel(member=0, drop=True).drop_attrs()
    return template.copy(data=low), template.copy(data=high)


def set_share(ds: xr.Dataset, ranking: str, groups: Sequence[str], n_boot: int = 1000, seed: int = 0,
              interval: float = 0.9) -> pd.DataFrame:
    """The share of a set of groups per lead (ensemble mean of the members' shares) with its bootstrap
    interval, resampled jointly: the bounds of single groups do not add up to the set's."""
    scores, _ = member_scores(ds, ranking, "group")
    shares = scores.sel(group=[g for g in scores["group"].values if g in groups]).sum("group") \
        / scores.sum("group")
    low, high = bootstrap_interval(shares, n_boot, seed, interval)
    return pd.DataFrame({"lead": shares["lead"].values, "share": shares.mean("member").values,
                         "share_low": low.values, "share_high": high.values})


def baseline_name(ds: xr.Dataset) -> str:
    """The result's baseline as its short name (``zeros``, ``climatology``, ``counterfactual``,
    ``persistence``, ``user``), or ``none`` for the methods that take no baseline."""
    label = str(ds.attrs.get("baseline", "none"))
    if label.startswith("user"):
        return "user"
    return label.split(" ")[0]
