"""Permute-and-predict: IceNet's own input importance, to set beside the gradients.

Andersson et al. (2021) ranked IceNet's inputs by how much the forecast skill drops when one input is
scrambled: permute a channel across the held-out forecasts (each start month receives that channel
from another start month, every other channel untouched), forecast again, and compare the binary
accuracy with the unpermuted one. A channel the network ignores costs nothing; one it relies on costs
accuracy. The importance is a single number per channel and lead, with no sign and no place: that is
the contrast the book draws with gradient attributions. :func:`side_by_side` and
:func:`rank_correlation` compare the two rankings; :func:`roi_sign` reads what a signed map says over
the ROI, and :func:`gradient_only_example` picks the channel that shows it best.

Choices, and why
----------------
* **Metric**: the active-cell binary accuracy of :mod:`icegrad.model.skill` (P(SIC > 0.15) > 0.5
  against SIC > 0.15, IceNet's sample weights), computed by its own functions, so the accuracy
  permuted here is exactly the one chapter 4 reports. Importance = unpermuted minus permuted
  accuracy, in percentage points, per member, permutation and lead.
* **Start months**: by default the test years of the ensemble's splits (never seen in training),
  each with all its leads' targets in the data; any list of two or more can be given.
* **Permutations**: drawn with a seeded :class:`numpy.random.Generator`, ``n_permutations`` orders per
  member, the same for every channel (common random numbers: differences between channels are then not
  noise from different draws), redrawn when a draw is the identity, which would measure nothing. Each
  member draws its own orders, so the ``members x n_permutations`` draws of an importance sample both
  the networks and the permutations: one permutation per member already spreads over five orders in the
  book's ensemble, where shared orders would give five members one order and hide that source of
  error.
* **Groups**: ``by="group"`` permutes every channel of a group (:data:`icegrad.variables.GROUPS`)
  with the same order, keeping the group's channels consistent with one another, so the importance
  is that of the whole family (e.g. all twelve SIC lags at once).
* **Vectorised**: each permuted batch is built as one array operation on the input tensor and
  forecast in batches; each forecast set is scored as a plain array by
  :func:`icegrad.model.skill.binary_accuracy` (the function chapter 4's scores use) and dropped.
* **Cached** on disk under a key of every member's weights, the inputs, the targets and the settings.

Example
-------
With ``ens`` an ensemble, ``ds`` its data and ``result`` its attributions (see
:mod:`icegrad.pipeline`), by channel group over two test Septembers:

>>> imp = permutation_importance(ens, ds, ["2018-09", "2019-09"], by="group", n_permutations=2, seed=0)
>>> imp["importance"].mean(("member", "permutation")).sel(lead=1).sizes["group"]
5
>>> table = side_by_side(imp, result)
>>> rank_correlation(table).columns.tolist()
['lead', 'rho', 'p_value', 'n']
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Collection, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import ConstantInputWarning, spearmanr

from icegrad.attribution.aggregate import STATISTICS, channel_summary
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.results import validate_result
from icegrad.cache import array_digest, cached_netcdf, model_digest
from icegrad.inputs import build as network_inputs
from icegrad.inputs.splits import Splits
from icegrad.inputs.start_months import StartMonths, as_start_months
from icegrad.model.ensemble import IceNetEnsemble, forecast_in_batches
from icegrad.model.skill import ICE_CLASSES, binary_accuracy, observed_ice
from icegrad.progress import bar as progress_bar
from icegrad.variables import GROUPS, SIC_CLASSES, channel

METHOD = "permute-and-predict (Andersson et al. 2021)"
METRIC = "active-cell binary accuracy of P(SIC > 0.15) > 0.5 (icegrad.model.skill)"
ITEM_KINDS = ("channel", "group")
ALGORITHM_VERSION = 2
"""Part of the cache key: raise it when the computation changes, so old results are not reused."""
MEMORY_BUDGET = 2**24
"""Bytes of permuted inputs per batch (16 MiB: 7 samples at the book's 100 km). On CPU a bigger batch
buys no speed and holds more: one member's forecasts of 36 starts, 15 times over on one core, took 11.3-11.7 s
in batches of 7 and 12.2-12.3 s in batches of 28 (64 MiB), the process peaking at 1289-1302 and 1625-1632 MiB
(measured 2026-12-08 by ``benchmarks/batch_budgets.py``; on 2026-12-06, 256 MiB had held 1188 MiB above
the start, 64 MiB 799)."""
MAX_BATCH = 32


class PermutationError(AttributionError):
    """Bad input to permute-and-predict: unknown channel or group, too few start months, ..."""


def default_start_months(ensemble: IceNetEnsemble, ds: xr.Dataset) -> pd.DatetimeIndex:
    """The ensemble's test-year start months whose every lead has its target in ``ds``."""
    splits = ensemble.manifest.get("splits") or {}
    first, last = tuple(splits.get("test", Splits().test))
    starts = network_inputs.available_start_months(ds, _n_leads(ensemble))
    starts = starts[(starts.year >= first) & (starts.year <= last)]
    if len(starts) < 2:
        raise PermutationError(f"the data serve {len(starts)} start month(s) in the test years "
                               f"{first}-{last} with all their targets; pass start_months explicitly "
                               "(two or more)")
    return starts


def item_channels(ensemble_channels: Sequence[str], by: str = "channel",
                  items: Sequence[str] | None = None) -> dict[str, list[str]]:
    """The channels permuted together for each item: one per channel, or all of a group's.

    ``items`` defaults to every channel (or every group) the ensemble reads, in its order.
    """
    if by not in ITEM_KINDS:
        raise PermutationError(f"by={by!r} is not known; permute by one of {ITEM_KINDS}")
    if isinstance(items, str):
        raise PermutationError(f"items must be a list of names, not the single string {items!r}; "
                               f"pass [{items!r}]")
    names = list(ensemble_channels)
    if by == "channel":
        available = {name: [name] for name in names}
    else:
        available = {group: [n for n in names if channel(n).group == group] for group in GROUPS}
        available = {group: members for group, members in available.items() if members}
    if items is None:
        return available
    unknown = [item for item in items if item not in available]
    if unknown:
        raise PermutationError(f"unknown {by}(s) {unknown} for this ensemble; choose from "
                               f"{list(available)}")
    if len(set(items)) != len(items):
        raise PermutationError(f"{by}s {list(items)} repeat a name; list each {by} once")
    return {item: available[item] for item in items}


def draw_permutations(n_starts: int, n_permutations: int, seed: int, n_members: int = 1) -> np.ndarray:
    """``(n_members, n_permutations, n_starts)`` orders of the start months, none the identity (seeded).

    Member by member from one generator, so a member's orders do not depend on how many members follow.
    """
    if n_starts < 2:
        raise PermutationError(f"permuting across start months needs at least 2 of them, got {n_starts}; "
                               "pass more start_months")
    if n_permutations < 1:
        raise PermutationError(f"n_permutations must be at least 1, got {n_permutations}")
    rng = np.random.default_rng(seed)
    orders = np.empty((n_members, n_permutations, n_starts), dtype=np.int64)
    for member in range(n_members):
        for row in range(n_permutations):
            order = rng.permutation(n_starts)
            while np.array_equal(order, np.arange(n_starts)):
                order = rng.permutation(n_starts)
            orders[member, row] = order
    return orders


def permuted_batch(x: np.ndarray, starts: slice, order: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Inputs of ``starts`` with the ``columns`` channels taken from the start months ``order`` gives."""
    batch = x[starts].copy()
    # Gather only the permuted channels: the two index arrays broadcast to (start, channel) and,
    # being separated by slices, come first in the result, hence the move back to channel-last.
    batch[..., columns] = np.moveaxis(x[order[starts][:, None], :, :, columns], 1, -1)
    return batch


def permutation_importance(
    ensemble: IceNetEnsemble,
    ds: xr.Dataset,
    start_months: StartMonths | None = None,
    *,
    by: str = "channel",
    items: Sequence[str] | None = None,
    n_permutations: int = 5,
    seed: int = 0,
    batch_size: int | None = None,
    cache: bool = True,
) -> xr.Dataset:
    """Drop in active-cell binary accuracy when each channel (or group) is permuted across start months.

    Returns an ``xr.Dataset`` with ``importance`` and ``accuracy`` ``(member, permutation, lead, <by>)``,
    ``reference_accuracy`` ``(member, lead)`` and the permutation orders ``start_order``
    ``(member, permutation, start)``; attributes record the method, metric, start months, seed and data
    source.
    """
    items_map = item_channels(ensemble.channels, by, items)
    starts = default_start_months(ensemble, ds) if start_months is None else as_start_months(start_months)
    if len(starts) < 2 or starts.has_duplicates:
        raise PermutationError(f"permuting across start months needs at least 2 distinct ones, got "
                               f"{[f'{s:%Y-%m}' for s in starts]}; pass more start_months")
    orders = draw_permutations(len(starts), n_permutations, seed, len(ensemble))
    n_leads = _n_leads(ensemble)
    inputs = network_inputs.build_inputs(ds, starts, ensemble.stats, list(ensemble.channels))
    targets = network_inputs.build_targets(ds, starts, n_leads, train_years=_train_years(ensemble))

    def compute() -> xr.Dataset:
        began = time.perf_counter()
        out = _compute(ensemble, inputs, targets, items_map, by, orders, seed, batch_size)
        out.attrs["compute_seconds"] = round(time.perf_counter() - began, 3)  # the cost, kept in the cache
        return out

    if not cache:
        return compute()
    params = {
        "algorithm": ALGORITHM_VERSION, "by": by, "items": items_map, "n_permutations": n_permutations,
        "seed": seed, "starts": [f"{s:%Y-%m}" for s in starts],
        "weights": [model_digest(m) for m in ensemble.members],
        "inputs": array_digest(inputs.values),
        "targets": array_digest(targets["targets"].values, targets["sample_weight"].values),
    }
    return cached_netcdf("permutation_importance", params, compute)


def _compute(ensemble: IceNetEnsemble, inputs: xr.DataArray, targets: xr.Dataset,
             items_map: dict[str, list[str]], by: str, orders: np.ndarray, seed: int,
             batch_size: int | None) -> xr.Dataset:
    x = np.ascontiguousarray(inputs.transpose("time", "y", "x", "channel").values, dtype=np.float32)
    index = {name: i for i, name in enumerate(inputs["channel"].values)}
    batch = batch_size or forecast_batch(x)
    names = list(items_map)
    members = ensemble.member_names

    n_leads = targets.sizes["lead"]
    # The unpermuted forecast of each member is job (m, -1, -1). Each forecast is scored as soon as it is
    # made, so only one forecast set is held at a time, whatever the size of the ensemble.
    jobs = [(m, -1, -1) for m in range(len(members))]
    n_perms = orders.shape[1]
    jobs += [(m, p, i) for m in range(len(members)) for p in range(n_perms) for i in range(len(names))]
    columns = [np.array([index[c] for c in items_map[name]]) for name in names]
    observed = observed_ice(targets).transpose("time", "y", "x", "lead").values
    weight = targets["sample_weight"].transpose("time", "y", "x", "lead").values
    ice = np.array([list(SIC_CLASSES).index(c) for c in ICE_CLASSES])

    def score(probabilities: np.ndarray) -> np.ndarray:
        return binary_accuracy(probabilities[..., ice, :].sum(axis=-2), observed, weight)

    reference = np.full((len(members), n_leads), np.nan)
    accuracy = np.full((len(members), n_perms, len(names), n_leads), np.nan)
    jobs_bar = progress_bar(jobs, desc=f"permute-and-predict: {len(members)} member(s) x {n_perms} "
                            f"permutation(s) x {len(names)} {by}(s)", unit="forecast set")
    for m, p, i in jobs_bar:
        predict = ensemble.forward.bind(ensemble.members[m])
        if p < 0:
            reference[m] = score(_forecast(predict, x, batch))
        else:
            accuracy[m, p, i] = score(_forecast(predict, x, batch, orders[m, p], columns[i]))
    accuracy = accuracy.transpose(0, 1, 3, 2)  # member, permutation, lead, item
    importance = reference[:, None, :, None] - accuracy
    return _as_dataset(importance, accuracy, reference, names, items_map, by, orders, seed,
                       ensemble, inputs, targets)


def forecast_batch(x: np.ndarray, budget: int = MEMORY_BUDGET) -> int:
    """Starts per forecast batch of the inputs ``x`` ``(start, y, x, channel)``: as many as ``budget`` bytes
    hold, at least one, at most :data:`MAX_BATCH` and the number of starts."""
    return max(1, min(MAX_BATCH, x.shape[0], budget // x[0].nbytes))


def _forecast(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch: int,
              order: np.ndarray | None = None, columns: np.ndarray | None = None) -> np.ndarray:
    """Class probabilities ``(time, y, x, class, lead)`` of ``x``, optionally permuted, in fixed batches.

    Batches always cover the same start months, permuted or not, so a channel the network never reads
    gives bit-identical forecasts and an importance of exactly zero.
    """
    def rows_of(rows: slice) -> np.ndarray:
        return x[rows] if order is None else permuted_batch(x, rows, order, columns)

    return forecast_in_batches(predict, x.shape[0], batch, rows_of)


def _as_dataset(importance: np.ndarray, accuracy: np.ndarray, reference: np.ndarray, names: list[str],
                items_map: dict[str, list[str]], by: str, orders: np.ndarray, seed: int,
                ensemble: IceNetEnsemble, inputs: xr.DataArray, targets: xr.Dataset) -> xr.Dataset:
    starts = pd.DatetimeIndex(inputs["time"].values)
    leads = np.arange(1, reference.shape[-1] + 1)
    coords: dict[str, object] = {
        "member": ("member", ensemble.member_names, {"long_name": "ensemble member"}),
        "permutation": ("permutation", np.arange(orders.shape[1]), {"long_name": "permutation draw"}),
        "lead": ("lead", leads, {"long_name": "lead time", "units": "months"}),
        by: (by, names, {"long_name": f"permuted IceNet input {by}"}),
        "start": ("start", starts, {"long_name": "forecast start month"}),
    }
    if by == "channel":
        coords["group"] = ("channel", [channel(n).group for n in names], {"long_name": "channel group"})
    dims4 = ("member", "permutation", "lead", by)
    source = str(inputs.attrs.get("data_source", "unknown"))
    out = xr.Dataset(
        {
            "importance": (dims4, importance, {
                "units": "%", "long_name": "drop in binary accuracy when permuted across start months",
                "comment": "unpermuted minus permuted accuracy, percentage points; 0 = not used, "
                           "negative = the permuted forecast happened to score better"}),
            "accuracy": (dims4, accuracy, {"units": "%", "long_name": "binary accuracy with the "
                                                                  f"{by} permuted"}),
            "reference_accuracy": (("member", "lead"), reference, {
                "units": "%", "long_name": "binary accuracy without permutation"}),
            "start_order": (("member", "permutation", "start"), orders, {
                "long_name": "index of the start month each start takes the permuted input from"}),
        },
        coords=coords,
    )
    out.attrs = {
        "title": f"IceNet input importance by permute-and-predict, per {by}",
        "method": METHOD, "metric": METRIC, "permuted_along": "forecast start month (time)",
        "items": by, "item_channels": "; ".join(f"{k}: {' '.join(v)}" for k, v in items_map.items()),
        "start_months": " ".join(f"{s:%Y-%m}" for s in starts), "n_start_months": len(starts),
        "seed": seed, "n_permutations": orders.shape[1], "orders": "drawn per member, shared by the items",
        "members": len(ensemble), "model_id": f"IceNet ensemble {ensemble.manifest.get('created', '')}",
        "train_years": str(targets.attrs.get("train_years", "")),
        "data_source": source,
        "source": str(inputs.attrs.get("source", "")),
        "Conventions": "CF-1.8",
    }
    if source == "emulated":
        out.attrs["comment"] = "EMULATED data: icegrad's synthetic Arctic, not observations"
    return out


def side_by_side(permutation: xr.Dataset, attribution: xr.Dataset, statistic: str = "mean_abs"
                 ) -> pd.DataFrame:
    """Permute-and-predict importance beside gradient importance, per lead and channel (or group).

    Gradient importance is the ensemble mean of ``|statistic|`` of
    :func:`icegrad.attribution.aggregate.channel_summary` (default: mean |attribution| per cell),
    summed over a group's channels when ``permutation`` is per group. Permutation importance is the
    mean over members and permutations, with its standard deviation over those draws and the standard
    error of the mean. Ranks: 1 = most important (ties share the average rank). Only the leads and
    items both hold are compared.
    """
    if statistic not in STATISTICS:
        raise PermutationError(f"unknown statistic {statistic!r}; choose one of {STATISTICS}")
    by = _item_dim(permutation)
    summary = channel_summary(attribution)[statistic]
    gradient = abs(summary).mean("member")
    if by == "group":
        gradient = gradient.groupby("group").sum()
    leads = sorted(set(permutation["lead"].values.tolist()) & set(gradient["lead"].values.tolist()))
    names = [n for n in permutation[by].values.tolist() if n in gradient[by].values]
    if not leads or len(names) < 3:
        raise PermutationError(f"the two results share leads {leads} and {len(names)} {by}(s); need at "
                               f"least one lead and three {by}s to compare rankings")
    draws = permutation["importance"].sel(lead=leads, **{by: names}).stack(draw=("member", "permutation"))
    mean = draws.mean("draw")
    std = draws.std("draw", ddof=1) if draws.sizes["draw"] > 1 else None
    rows = []
    for lead in leads:
        frame = pd.DataFrame({
            "lead": lead, by: names,
            "permutation_importance": mean.sel(lead=lead).values,
            "permutation_std": std.sel(lead=lead).values if std is not None else np.nan,
            "gradient_importance": gradient.sel(lead=lead, **{by: names}).values,
        })
        frame["permutation_sem"] = frame["permutation_std"] / np.sqrt(draws.sizes["draw"])
        frame["permutation_rank"] = frame["permutation_importance"].rank(ascending=False)
        frame["gradient_rank"] = frame["gradient_importance"].rank(ascending=False)
        rows.append(frame)
    table = pd.concat(rows, ignore_index=True)
    if by == "channel":
        table.insert(2, "group", [channel(n).group for n in table["channel"]])
    table.attrs = {"gradient_statistic": statistic, "gradient_method": attribution.attrs.get("method", ""),
                   "n_draws": int(draws.sizes["draw"]), "items": by}
    return table


def rank_correlation(table: pd.DataFrame) -> pd.DataFrame:
    """Spearman rank correlation of the two importances per lead (``rho``, ``p_value``, ``n``).

    ``rho`` is NaN at a lead where one importance is the same for every item (no ranking to correlate).
    """
    needed = {"lead", "permutation_importance", "gradient_importance"}
    if not needed <= set(table.columns):
        raise PermutationError(f"rank_correlation needs the table of side_by_side (columns {sorted(needed)})")
    rows = []
    for lead, frame in table.groupby("lead"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConstantInputWarning)
            rho, p_value = spearmanr(frame["permutation_importance"], frame["gradient_importance"])
        rows.append({"lead": int(lead), "rho": float(rho), "p_value": float(p_value), "n": len(frame)})
    return pd.DataFrame(rows)


def importance_test(permutation: xr.Dataset, n_boot: int = 2000, interval: float = 0.95,
                    seed: int = 0) -> pd.DataFrame:
    """Is each item's importance distinguishable from zero? One row per item and lead.

    The importance varies with the permutation drawn and with the member; both are resampled (a
    two-way bootstrap: members and permutations drawn with replacement, independently), so the
    interval of the mean importance carries both sources of error. Each member draws its own orders
    (:func:`draw_permutations`), so resampling the members resamples orders too, even with one
    permutation per member; with one member only the permutations are resampled. An item whose interval
    contains 0 is ``indistinguishable`` from an unused input at that confidence; the
    ``members``/``permutations`` columns say how many draws it rests on.
    ``seconds`` is the computation's cost when it was measured (``compute_seconds`` attribute).
    """
    if n_boot < 1 or not 0 < interval < 1:
        raise PermutationError(f"n_boot={n_boot!r} must be >= 1 and interval={interval!r} within (0, 1)")
    item = _item_dim(permutation)
    values = permutation["importance"].transpose("member", "permutation", "lead", item).values
    n_members, n_perms = values.shape[:2]
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, *values.shape[2:]))
    for b in range(n_boot):
        members, perms = rng.integers(0, n_members, n_members), rng.integers(0, n_perms, n_perms)
        boot[b] = values[members][:, perms].mean(axis=(0, 1))
    tail = (1 - interval) / 2
    low, high = np.quantile(boot, tail, axis=0), np.quantile(boot, 1 - tail, axis=0)
    mean = values.mean(axis=(0, 1))
    leads, names = permutation["lead"].values, permutation[item].values
    rows = [{"lead": int(lead), item: str(name), "importance": mean[li, ni], "low": low[li, ni],
             "high": high[li, ni], "indistinguishable": bool(low[li, ni] <= 0 <= high[li, ni]),
             "members": n_members, "permutations": n_perms,
             "seconds": permutation.attrs.get("compute_seconds", np.nan)}
            for li, lead in enumerate(leads) for ni, name in enumerate(names)]
    return pd.DataFrame(rows)


def roi_sign(result: xr.Dataset, lead: int) -> pd.DataFrame:
    """Per channel at ``lead``: what the ensemble-mean map says over the ROI that a single score cannot.

    ``roi_net``: sum of the attribution over the ROI (its sign is the direction the channel pushes the
    ROI forecast); ``sign_coherence``: |roi_net| / sum of |attribution| over the ROI, 1 when every ROI
    cell pushes the same way, 0 when they cancel; ``roi_share``: the share of the channel's total
    |attribution| that lies in the ROI (where it acts, against the ROI's share of the cells).
    """
    result = validate_result(result)
    if lead not in result["lead"].values:
        raise PermutationError(f"lead {lead} is not in the attribution result (leads "
                               f"{result['lead'].values.tolist()})")
    maps = result["attribution"].sel(lead=lead).mean("member").astype("float64")
    roi = result["roi"].astype(bool)
    inside = maps.where(roi)
    total_abs = abs(maps).sum(("y", "x"))
    roi_abs = abs(inside).sum(("y", "x"))
    net = inside.sum(("y", "x"))
    table = pd.DataFrame({
        "channel": maps["channel"].values,
        "roi_net": net.values,
        "sign_coherence": (abs(net) / roi_abs.where(roi_abs > 0)).values,
        "roi_share": (roi_abs / total_abs.where(total_abs > 0)).values,
    })
    table["sign"] = np.sign(table["roi_net"]).astype(int)
    return table


def _item_dim(permutation: xr.Dataset) -> str:
    dims = [d for d in ITEM_KINDS if d in permutation.dims]
    if "importance" not in permutation or len(dims) != 1:
        raise PermutationError("expected the dataset of permutation_importance (an 'importance' variable "
                               "over channel or group)")
    return dims[0]


def _n_leads(ensemble: IceNetEnsemble) -> int:
    return int(ensemble.members[0].output_shape[-1])


def _train_years(ensemble: IceNetEnsemble) -> tuple[int, int]:
    splits = ensemble.manifest.get("splits") or {}
    return tuple(splits.get("train", Splits().train))


def gradient_only_example(table: pd.DataFrame, signs: pd.DataFrame, lead: int,
                          min_coherence: float = 0.5, indistinguishable: Collection[str] | None = None
                          ) -> pd.Series:
    """The channel that best shows what only gradients can: small permutation score, clear ROI sign.

    ``table`` is :func:`side_by_side`'s (per channel), ``signs`` :func:`roi_sign`'s at ``lead``. A
    channel's permutation importance counts as *small* when it is in the lower half of the
    permutation ranking and not distinguishable from zero (its mean minus two standard errors is at
    most zero; or, when ``indistinguishable`` names the channels :func:`importance_test` cannot tell
    from zero at ``lead``, when it is one of them): a noisy channel near the top of the ranking does
    not qualify. Among the small ones,
    the one with the largest ``|roi_net|`` whose ROI attribution is coherent in sign
    (``sign_coherence >= min_coherence``) is chosen. ``reason`` says which rule picked it, so the text
    can say so: ``"small and coherent"``, else ``"small, sign mixed"`` (no small channel is
    coherent), else ``"none small"`` (the largest |roi_net| overall).
    """
    if "channel" not in table.columns or "roi_net" not in signs.columns:
        raise PermutationError("gradient_only_example needs side_by_side's per-channel table and roi_sign's")
    at_lead = table[table["lead"] == lead]
    if at_lead.empty:
        raise PermutationError(f"lead {lead} is not in the table (leads {sorted(table['lead'].unique())})")
    merged = at_lead.merge(signs, on="channel", validate="one_to_one")
    merged["abs_roi_net"] = merged["roi_net"].abs()
    sem = merged["permutation_sem"].fillna(0.0)
    lower_half = merged["permutation_rank"] > len(merged) / 2
    near_zero = merged["permutation_importance"] - 2 * sem <= 0 if indistinguishable is None \
        else merged["channel"].isin(list(indistinguishable))
    small = merged[lower_half & near_zero]
    coherent = small[small["sign_coherence"] >= min_coherence]
    for pool, reason in ((coherent, "small and coherent"), (small, "small, sign mixed"),
                         (merged, "none small")):
        if not pool.empty:
            best = pool.sort_values("abs_roi_net", ascending=False).iloc[0].copy()
            best["reason"] = reason
            best["n_small"] = len(small)
            return best
    raise PermutationError("no channel to choose from")  # unreachable: merged is not empty
