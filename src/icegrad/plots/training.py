"""How well the book's IceNet learned: training curves, fitted temperatures and test-year skill.

Everything here reads what training recorded rather than recomputing it: the per-member summaries
(and, when present, the per-epoch Keras history) in an ensemble's manifest
(:func:`icegrad.model.train.train_ensemble`), and the skill dataset of
:func:`icegrad.model.skill.evaluate_skill`. An ensemble trained before per-epoch histories were
recorded still gets an honest figure: each member's last training loss and best validation loss as
points, and a note in its title saying the curves are not available.

Example
-------
A trained ensemble's manifest (``ens.manifest``; either may be passed) holds one summary per member;
here one written out by hand, with made-up numbers:

>>> manifest = {"members_summary": [
...     {"seed": 36, "epochs_run": 2, "final_train_loss": 0.31, "best_val_loss": 0.29,
...      "temperature": 1.1, "history": {"loss": [0.52, 0.31], "val_loss": [0.40, 0.29]}}]}
>>> training_summary(manifest)[["epochs_run", "best_val_loss"]]
        epochs_run  best_val_loss
member
seed36           2           0.29
>>> fig = training_curves(manifest)

and the test-year skill of ``ens`` on ``ds`` (see :mod:`icegrad.pipeline`), here of one year:

>>> from icegrad.model.skill import evaluate_skill
>>> fig = skill_curves(evaluate_skill(ens, ds, years=(2019, 2019)))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from icegrad.plots.basemap import PlotError
from icegrad.plots.lines import MARK_COLOURS
from icegrad.plots.provenance import source_label

SUMMARY_COLUMNS = ("member", "seed", "epochs_run", "final_train_loss", "best_val_loss", "temperature")
MODEL_LABELS = {"icenet": "IceNet (ensemble mean)", "linear_trend": "linear trend",
                "persistence": "persistence", "optimal": "optimal forecast (emulated Arctic)"}
METRIC_LABELS = {"binary_accuracy": "binary accuracy", "sie_error": "sea-ice-extent error"}
MODEL_STYLES = {"icenet": {"color": "#1f4e79", "marker": "o", "linewidth": 2.0},
                "linear_trend": {"color": "#c0392b", "marker": "s", "linestyle": "--"},
                "persistence": {"color": "0.45", "marker": "^", "linestyle": ":"},
                "optimal": {"color": "#2e8b57", "marker": "D", "linestyle": "-.", "linewidth": 1.2}}


def _manifest(ensemble: Any) -> Mapping[str, Any]:
    """The manifest of an :class:`~icegrad.model.ensemble.IceNetEnsemble`, or a manifest mapping itself."""
    manifest = getattr(ensemble, "manifest", ensemble)
    if not isinstance(manifest, Mapping):
        raise PlotError(f"expected an IceNetEnsemble or its manifest dict, got {type(ensemble).__name__}")
    return manifest


def _member_summaries(ensemble: Any) -> list[Mapping[str, Any]]:
    summaries = _manifest(ensemble).get("members_summary")
    if not summaries:
        raise PlotError("the ensemble's manifest has no 'members_summary': it was not trained by icegrad "
                        "(e.g. the IceNet release's weights), so there is no training record to show")
    return list(summaries)


def training_summary(ensemble: Any) -> pd.DataFrame:
    """One row per member: seed, epochs run, last training loss, best validation loss, temperature."""
    rows = []
    for summary in _member_summaries(ensemble):
        missing = [k for k in SUMMARY_COLUMNS[1:] if k not in summary]
        if missing:
            raise PlotError(f"a member summary lacks {missing}; retrain the ensemble with this version of "
                            "icegrad (load_or_train(..., refresh=True))")
        rows.append({"member": f"seed{summary['seed']}", **{k: summary[k] for k in SUMMARY_COLUMNS[1:]}})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).set_index("member")


def member_history(summary: Mapping[str, Any]) -> dict[str, list[float]] | None:
    """The per-epoch ``loss`` and ``val_loss`` of one member summary, or None if it was not recorded.

    The history is Keras's ``History.history`` dict stored under ``history``; its two series must
    have one value per epoch run.
    """
    history = summary.get("history")
    if history is None:
        return None
    curves = {k: [float(v) for v in history.get(k, [])] for k in ("loss", "val_loss")}
    if not curves["loss"] or len(curves["loss"]) != len(curves["val_loss"]):
        raise PlotError(f"member seed{summary.get('seed')}'s history needs equally long, non-empty "
                        f"'loss' and 'val_loss' lists; got lengths {len(curves['loss'])} and "
                        f"{len(curves['val_loss'])}")
    return curves


def training_curves(ensemble: Any, *, figsize: tuple[float, float] = (6.5, 3.6)) -> Figure:
    """Training (solid, dots) and validation (dashed, squares) loss per epoch for every member.

    If any member lacks a recorded history, the figure instead shows, per member, the last training
    loss (circle) and the best validation loss (cross), and says in its title that the curves are not
    available: a partial set of curves would invite comparisons the record cannot support.
    """
    summaries = _member_summaries(ensemble)
    histories = [member_history(s) for s in summaries]
    manifest = _manifest(ensemble)
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    names = [f"seed{summary.get('seed', i)}" for i, summary in enumerate(summaries)]
    recorded = all(h is not None for h in histories)
    if recorded:
        for i, (name, history) in enumerate(zip(names, histories, strict=True)):
            colour, epochs = MARK_COLOURS[i % len(MARK_COLOURS)], range(1, len(history["loss"]) + 1)
            ax.plot(epochs, history["loss"], "-o", color=colour, markersize=3, label=f"{name} train")
            ax.plot(epochs, history["val_loss"], "--s", color=colour, markersize=4, markerfacecolor="none",
                    label=f"{name} val")
        ax.set_xticks(range(1, max(len(h["loss"]) for h in histories) + 1))
        ax.set_xlabel("epoch")
        ax.legend(fontsize="x-small", ncols=2, frameon=False)
        note = ""
    else:
        ax.plot(names, [s["final_train_loss"] for s in summaries], "o", color="#1f4e79",
                label="last training loss")
        ax.plot(names, [s["best_val_loss"] for s in summaries], "x", color="#c0392b", markersize=8,
                label="best validation loss")
        ax.set_xlabel("member")
        ax.legend(fontsize="small", frameon=False)
        note = "\n(per-epoch history not recorded in this ensemble's manifest)"
    ax.set_ylabel(f"{manifest.get('loss', 'training')} loss")
    ax.set_title(f"IceNet training, {len(summaries)} member(s) — "
                 f"{source_label(str(manifest.get('data_source', 'unknown')))}{note}", fontsize="medium")
    ax.grid(alpha=0.3)
    return fig


def _check_skill(skill: xr.Dataset, metrics: Sequence[str]) -> None:
    missing = [m for m in metrics if m not in skill.data_vars]
    if missing or not {"model", "lead"} <= set(skill.dims):
        raise PlotError(f"expected icegrad.model.skill.evaluate_skill's output with dims (model, lead) "
                        f"and variables {list(metrics)}; missing {missing}, dims {list(skill.dims)}")


def skill_curves(skill: xr.Dataset, metrics: Sequence[str] = ("binary_accuracy", "sie_error"),
                 *, figsize: tuple[float, float] = (9.0, 3.4)) -> Figure:
    """One panel per metric against lead time, a line per model (IceNet, linear trend, persistence, and the
    emulated Arctic's optimal forecast when scored)."""
    _check_skill(skill, metrics)
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize, layout="constrained", squeeze=False)
    leads = skill["lead"].values
    for ax, metric in zip(axes[0], metrics, strict=True):
        var = skill[metric]
        for model in skill["model"].values:
            ax.plot(leads, var.sel(model=model).values, label=MODEL_LABELS.get(str(model), str(model)),
                    **MODEL_STYLES.get(str(model), {}))
        ax.set_xticks(leads)
        ax.set_xlabel("lead time (months)")
        ax.set_ylabel(f"{METRIC_LABELS.get(metric, metric.replace('_', ' '))} ({var.attrs.get('units', '')})")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize="small", frameon=False)
    span = skill.attrs.get("years") or f"{skill.attrs.get('first_start')} to {skill.attrs.get('last_start')}"
    source = source_label(str(skill.attrs.get("data_source")))
    fig.suptitle(f"Skill of forecasts started in {span} — {source}", fontsize="medium")
    return fig
