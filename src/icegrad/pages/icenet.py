"""Chapter 4, IceNet: the inputs of one forecast, the architecture, the training record and the skill.

The ensemble is trained here (quietly: the page shows the training curves, not the training log) and
cached for chapters 5 to 7. The prose's judgements (which split holds the case year, whether the
ensemble beats the linear trend and whether its bootstrap interval excludes zero, whether its
September-extent error is below the trend's, how long the members trained, and on the emulated Arctic
whether even the optimal forecast gains a point over the trend and how much of that gain the ensemble
realises) are functions of the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import matplotlib.pyplot as plt
import pandas as pd
import xarray as xr

from icegrad import pipeline
from icegrad.attribution.targets import forecast_start
from icegrad.config import DEFAULTS
from icegrad.evaluation.cost import icenet_counts
from icegrad.inputs import real_record
from icegrad.memory import releases_memory
from icegrad.model.ensemble import IceNetEnsemble
from icegrad.model.icenet import build_icenet
from icegrad.model.skill import (
    OPTIMAL,
    TARGET_GAIN,
    Ceiling,
    ceiling,
    headline,
    held_out_forecasts,
    skill_of,
    skill_table,
)
from icegrad.pages.common import Page, counted, detached, listing, month_label, quietly, run_config
from icegrad.plots import save_figure, source_label
from icegrad.plots.channels import channel_panels
from icegrad.plots.training import skill_curves, training_curves, training_summary
from icegrad.variables import CHANNEL_NAMES

PAPER_GRID, PAPER_WIDTH = 432, 2.0
"""IceNet's grid side (25 km EASE-Grid 2.0) and filter factor in the paper."""
SPLIT_NAMES = (("training", "train"), ("validation", "val"), ("test", "test"))
LOSS_TEXT = {"focal": "a categorical focal loss", "crossentropy": "a categorical cross-entropy"}


def provenance_text(manifest: Mapping[str, Any]) -> str:
    """Where this run's networks came from, from the ensemble's manifest: the book's shipped networks, the
    IceNet release, or training (in this run or an earlier one, then cached): a reader should know
    whether the page just trained anything."""
    if "shipped" in manifest:
        return ("These networks were loaded from the book's shipped networks in `data/networks/` (stored as "
                f"{manifest.get('shipped_precision', 'float32')}, each file checked against its sha256 in "
                "`manifest.json`), made by `make networks` with exactly this configuration and data; "
                "nothing was trained for this page. `--refresh` retrains them.")
    if "members_summary" not in manifest:
        return ("These are the IceNet release's networks, loaded from the `weights` folder; "
                "nothing was trained.")
    return ("No shipped network matches this configuration, so these networks were trained by icegrad "
            f"(created {manifest.get('created', 'n/a')}) and cached; later chapters and runs load them.")


def ensemble_section(data_source: str, resolution_km: int, members: int, width: float, epochs: int,
                     weights: str,
                     pretrain_realisations: Sequence[int] | None = DEFAULTS.pretrain_realisations,
                     ) -> tuple[xr.Dataset, IceNetEnsemble, Page]:
    """The dataset and the trained (or loaded) ensemble, and the values the chapter's prose names."""
    config = run_config(locals())  # every parameter checked before any work
    with quietly():
        ds = pipeline.dataset(data_source, resolution_km)
        ens = pipeline.run_ensemble(ds, config)
    values = {"source_label": source_label(ds.attrs["data_source"]),
              "inputs_note": real_record.inputs_note(ens.channels), "n_members": len(ens),
              "provenance_text": provenance_text(ens.manifest),
              "grid_cells": f"{ds.sizes['y']} × {ds.sizes['x']}", "resolution_km": resolution_km}
    return ds, ens, Page(values)


def inputs_section(ds: xr.Dataset, ens: IceNetEnsemble, target_month: str, resolution_km: int,
                   figure_dir: str | Path) -> Page:
    """All input channels of the forecast whose lead-1 forecast is for ``target_month``."""
    start = forecast_start(target_month, 1)
    sample = pipeline.forecast_inputs(ds, ens, target_month, [1]).isel(time=0)
    fig = detached(channel_panels(sample))
    save_figure(fig, Path(figure_dir) / "icenet_inputs.png")
    n = sample.sizes["channel"]
    caption = (f"The {n} IceNet input channels of the forecast starting {start:%B %Y}, on the "
               f"{resolution_km} km grid. Rows: SIC lags 1-12; linear-trend SIC forecasts "
               "for leads 1-6; climate anomalies (lags 1-3 of eight variables); winds, land mask, cos/sin of "
               "the start month (their constant value in the title). SIC on the sea-ice scale, z-scored "
               "fields on one diverging scale (99th percentile of |value|). "
               f"Data: {source_label(ds.attrs['data_source'])}.")
    values = {"n_channels": n, "start_month": f"{start:%B %Y}", "target_label": month_label(target_month),
              "lag1_month": f"{start - pd.DateOffset(months=1):%B %Y}", "fig_inputs": fig,
              "inputs_caption": caption}
    return Page(values)


def block_of(layer_name: str) -> str:
    """The block a layer belongs to, from build_icenet's name prefixes (enc1..enc5, dec4..dec1, heads)."""
    prefix = layer_name.split("_")[0]
    return "heads" if prefix.startswith("lead") or prefix == "logits" else prefix


def block_table(model: keras.Model) -> pd.DataFrame:
    """One row per block: the filters of its convolutions, the grid they work on and its weights."""
    rows: dict[str, dict[str, Any]] = {}
    for layer in model.layers:
        block = block_of(layer.name)
        if not block.startswith(("enc", "dec")) and block != "heads":
            continue
        row = rows.setdefault(block, {"filters": set(), "grid": "", "parameters": 0})
        if hasattr(layer, "filters"):  # convolutions: their filters and the grid they work on
            row["filters"].add(layer.filters)
            row["grid"] = "×".join(str(n) for n in layer.output.shape[1:3])
        row["parameters"] += layer.count_params()
    return pd.DataFrame({block: {**row, "filters": "/".join(str(f) for f in sorted(row["filters"]))}
                         for block, row in rows.items()}).T


@releases_memory
def architecture_section(ds: xr.Dataset, ens: IceNetEnsemble, width: float) -> Page:
    """The book's network block by block beside the paper's full-size one, with parameters and FLOPs."""
    book_model = ens.members[0]
    paper_model = build_icenet(PAPER_GRID, PAPER_GRID, len(CHANNEL_NAMES), filters_factor=PAPER_WIDTH,
                               seed=0)
    table = pd.concat({f"this book (width {width:g})": block_table(book_model),
                       f"paper (width 2, {PAPER_GRID}×{PAPER_GRID})": block_table(paper_model)}, axis=1)
    book_params, paper_params = book_model.count_params(), paper_model.count_params()
    book_flops, _ = icenet_counts(ds.sizes["y"], ds.sizes["x"], width, len(ens.channels))
    paper_flops, _ = icenet_counts(PAPER_GRID, PAPER_GRID, PAPER_WIDTH, len(CHANNEL_NAMES))
    values = {"width": f"{width:g}", "book_params": f"{book_params:,}", "paper_params": f"{paper_params:,}",
              "param_ratio": paper_params / book_params, "book_gflops": book_flops / 1e9,
              "paper_gflops": paper_flops / 1e9}
    return Page(values, {"architecture": table})


def year_span(years: Sequence[int]) -> str:
    """``(1980, 2011)`` as ``"1980–2011"``."""
    return f"{years[0]}–{years[1]}"


def case_split(splits: Mapping[str, Sequence[int]], year: int) -> str:
    """Which split (training, validation, test) holds ``year``, for the admonition about the case year."""
    return next((name for name, key in SPLIT_NAMES if splits[key][0] <= year <= splits[key][1]),
                "none of the")


def schedule_text(config: Mapping[str, Any]) -> str:
    """The optimiser's step, its schedule and the batch size as the training manifest records them."""
    held = "cosine-decayed to zero over the epochs" if config.get("lr_schedule") == "cosine" else "held fixed"
    return f"step {config.get('learning_rate', 'n/a')}, {held}, batch {config.get('batch_size', 'n/a')}"


def splits_section(ens: IceNetEnsemble, target_month: str) -> Page:
    """The training recipe and the train / validation / test years, and where the case year falls."""
    splits, config = ens.manifest["splits"], ens.manifest.get("train_config", {})
    case_year = pd.Timestamp(target_month).year
    values = {"loss_text": LOSS_TEXT.get(config.get("loss"), "the loss its manifest records"),
              "schedule_text": schedule_text(config),
              **{f"{key}_years": year_span(splits[key]) for key in ("train", "val", "test")},
              "n_train": ens.manifest.get("n_train_samples", "n/a"),
              "n_val": ens.manifest.get("n_val_samples", "n/a"),
              "case_year": case_year, "case_split": case_split(splits, case_year)}
    return Page(values)


def epochs_text(epochs_run: Sequence[int], max_epochs: int, best_val_loss: float) -> str:
    """How long the members trained (all alike or a range) and their mean best validation loss."""
    low, high = int(min(epochs_run)), int(max(epochs_run))
    ran = f"all ran {low}" if low == high else f"ran between {low} and {high}"
    return (f"The members {ran} of at most {max_epochs} epochs, with a mean best validation loss of "
            f"{best_val_loss:.4f}. ")


def pretraining_text(manifest: Mapping[str, Any]) -> str:
    """How a trained ensemble's members were pre-trained before the training the figure shows, if they
    were: the stage IceNet ran on CMIP6 simulations, here on other realisations of the emulated Arctic."""
    config = manifest["train_config"]
    if not config.get("pretrain_epochs"):
        return ""
    first, last = config["pretrain_years"]
    ran = [int(member["pretrain"]["epochs_run"]) for member in manifest["members_summary"]]
    low, high, most = min(ran), max(ran), int(config["pretrain_epochs"])
    if low == high == most:
        span = f"all {most}"
    else:
        span = (f"{low}" if low == high else f"{low}-{high}") + f" of at most {most}"
    seeds = [str(seed) for seed in config.get("pretrain_realisations") or []]
    source = (f"{counted(len(seeds), 'other realisation')} of the emulated Arctic (weather "
              f"{'seed' if len(seeds) == 1 else 'seeds'} {listing(seeds)}: the same rule, other weather)"
              if seeds else "a pre-training dataset")
    return (f"Each member was first pre-trained for {span} epochs "
            f"on the {first}-{last} starts of {source}, as IceNet was on CMIP6 simulations, then trained "
            "on this run's own training years, the stage shown here. ")


def temperature_text(temperatures: pd.Series) -> str:
    """The range of the fitted temperatures and what a value above or below 1 means."""
    return (f"The fitted temperatures range from {temperatures.min():.2f} to {temperatures.max():.2f}: a "
            "temperature above 1 softens over-confident probabilities, below 1 sharpens timid ones; 1 would "
            "mean the network was calibrated as trained.")


def release_temperatures(ens: IceNetEnsemble) -> tuple[pd.DataFrame, plt.Figure]:
    """The IceNet release has no training record: its fitted temperatures, as a table and a bar chart."""
    summary = pd.DataFrame({"temperature": ens.manifest["temperatures"]},
                           index=pd.Index([f"seed{s}" for s in ens.manifest["seeds"]], name="member"))
    fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
    summary.temperature.plot.bar(ax=ax, color="#1f4e79")
    ax.axhline(1, color="0.5", linewidth=0.8)
    ax.set_ylabel("temperature")
    return summary, fig


def training_section(ds: xr.Dataset, ens: IceNetEnsemble, epochs: int, resolution_km: int,
                     figure_dir: str | Path) -> Page:
    """Each member's training record (or the release's temperatures), as a figure, a table and prose."""
    if "members_summary" in ens.manifest:  # trained by icegrad: the manifest holds each member's training
        summary, fig = training_summary(ens), training_curves(ens)
        histories = all("history" in s for s in ens.manifest["members_summary"])
        caption = ("Training (solid, dots) and validation (dashed, squares) loss per epoch of each member. "
                   if histories else "Last training loss (circles) and best validation loss (crosses) of "
                   "each member; this ensemble's manifest records no per-epoch history. ")
        text = pretraining_text(ens.manifest) + epochs_text(summary.epochs_run, epochs,
                                                            float(summary.best_val_loss.mean()))
    else:
        summary, fig = release_temperatures(ens)
        caption = ("Fitted temperature of each network of the IceNet release; the release records no "
                   "training history. ")
        text = ("These networks were trained by IceNet's authors; their files hold the weights and the "
                "fitted temperature only. ")
    fig = detached(fig)
    save_figure(fig, Path(figure_dir) / "icenet_training.png")
    source = source_label(ds.attrs["data_source"])
    values = {"fig_training": fig, "training_text": text + temperature_text(summary.temperature),
              "training_caption": caption + f"{summary.shape[0]} member(s), {resolution_km} km grid. "
                                            f"Data: {source}."}
    return Page(values, {"training": summary.round(4)})


def beats_trend(gain: float) -> str:
    """Whether the ensemble's mean binary accuracy beats the linear trend's (a gain in points)."""
    return "beats" if gain > 0 else "does not beat"


def interval_text(low: float, high: float, level: float) -> str:
    """Whether the paired bootstrap interval of the gain over the trend excludes zero, in words."""
    span = f"{100 * level:.0f} % paired bootstrap interval {low:+.2f} to {high:+.2f} points"
    if low > 0:
        return f"{span}: it excludes zero, so the ensemble is more accurate than the trend beyond chance"
    if high < 0:
        return f"{span}: it excludes zero, so the ensemble is less accurate than the trend beyond chance"
    return f"{span}: it includes zero, so these test years cannot tell the two apart"


def extent_text(rmse: dict[str, float], n_september: int) -> str:
    """The September-extent RMSE of the ensemble against both baselines, and which is lower."""
    ens, trend = rmse["icenet"], rmse["linear_trend"]
    side = "below" if ens < trend else "not below"
    return (f"Over the {n_september} forecasts whose target is a September, the ensemble's extent RMSE is "
            f"{ens:.3f} million km², {side} the linear trend's {trend:.3f} (persistence: "
            f"{rmse['persistence']:.3f})")


def attainable_text(ceil: Ceiling) -> str:
    """Whether a gain of :data:`TARGET_GAIN` point over the trend is attainable at all: the optimal
    forecast's own mean gain, with its interval and the leads at which it reaches the bar."""
    low, high = ceil.attainable_ci
    n = len(ceil.accuracy)
    said = (f"{ceil.attainable:+.2f} points on average (paired bootstrap interval {low:+.2f} to {high:+.2f}; "
            f"{TARGET_GAIN:g} point or more at {ceil.leads_reachable} of {n} leads)")
    if ceil.reachable:
        return (f"The optimal forecast beats the linear trend by {said}, so a mean gain of {TARGET_GAIN:g} "
                "point over the trend is attainable from these inputs")
    return (f"Even the optimal forecast beats the linear trend by only {said}, so a mean gain of "
            f"{TARGET_GAIN:g} point over the trend is not attainable in expectation by any forecaster from "
            "these inputs")


def realised_text(ceil: Ceiling) -> str:
    """How much of the attainable gain over the trend the ensemble realises."""
    short = ceil.accuracy[OPTIMAL].mean() - ceil.accuracy["icenet"].mean()
    if ceil.attainable <= 0:
        return "No forecaster beats the trend here, so there is no gain for the ensemble to realise"
    if ceil.gain <= 0:
        return (f"The ensemble realises none of it: it is {ceil.gain:+.2f} points from the trend and "
                f"{short:.2f} points below the optimal forecast")
    return (f"The ensemble realises {100 * ceil.realised:.0f} % of it ({ceil.gain:+.2f} of "
            f"{ceil.attainable:+.2f} points), {short:.2f} points below the optimal forecast")


def ceiling_extent_text(rmse: dict[str, float]) -> str:
    """The optimal forecast's September-extent RMSE against the trend's and the ensemble's."""
    side = "below" if rmse[OPTIMAL] < rmse["linear_trend"] else "not below"
    return (f"The optimal forecast's September-extent RMSE is {rmse[OPTIMAL]:.3f} million km², {side} the "
            f"linear trend's {rmse['linear_trend']:.3f} (ensemble: {rmse['icenet']:.3f})")


def ceiling_text(ceil: Ceiling | None, data_source: str) -> str:
    """The ceiling in words: what the best possible forecast scores, or why there is none to state."""
    if ceil is None:
        return (f"No ceiling is stated: {source_label(data_source)} has no known optimal forecast (only "
                "the emulated Arctic's is known), so how much better any forecaster could do is not measured "
                "here.")
    mean = ceil.accuracy.mean()
    return (f"On this emulated (synthetic) Arctic the best forecast any forecaster can make from the "
            f"network's inputs is known exactly. On the same forecasts, cells and weights it scores "
            f"{mean[OPTIMAL]:.2f} % binary accuracy averaged over the leads, against "
            f"{mean['linear_trend']:.2f} % for the linear trend and {mean['icenet']:.2f} % for the ensemble. "
            f"{attainable_text(ceil)}. {realised_text(ceil)}. {ceiling_extent_text(ceil.extent_rmse)}.")


def ceiling_summary(ceil: Ceiling | None, data_source: str) -> str:
    """The ceiling's verdict alone, for the chapter's summary."""
    if ceil is None:
        return ceiling_text(None, data_source)
    return f"Ceiling (emulated Arctic): {attainable_text(ceil)}."


@releases_memory
def skill_section(ds: xr.Dataset, ens: IceNetEnsemble, figure_dir: str | Path) -> Page:
    """Binary accuracy and extent error per lead on the test years, against the two baselines and, on the
    emulated Arctic, the optimal forecast (the ceiling)."""
    with quietly():
        held = held_out_forecasts(ens, ds, optimal=True)
        skill, top = skill_of(held), headline(held)
    ceil = ceiling(top)
    fig = detached(skill_curves(skill))
    save_figure(fig, Path(figure_dir) / "icenet_skill.png")
    mean = skill.mean("lead")
    accuracy, sie = mean["binary_accuracy"], mean["sie_error"]
    gain = top.gain  # the same mean-over-leads difference as the table's, with its interval
    won = skill["binary_accuracy"].sel(model="icenet") > skill["binary_accuracy"].sel(model="linear_trend")
    values: dict[str, Any] = {"skill_span": skill.attrs["years"], "n_forecasts": skill.attrs["n_forecasts"],
                              "acc_gain": gain, "beats_trend": beats_trend(gain), "fig_skill": fig,
                              "n_leads": skill.sizes["lead"], "leads_won": int(won.sum()),
                              "acc_interval": interval_text(*top.ci, top.level),
                              "acc_ci": f"{100 * top.level:.0f} % interval {top.ci[0]:+.2f} to "
                                        f"{top.ci[1]:+.2f}",
                              "extent_text": extent_text(top.extent_rmse, top.n_september),
                              "ceiling_text": ceiling_text(ceil, ds.attrs["data_source"]),
                              "ceiling_summary": ceiling_summary(ceil, ds.attrs["data_source"])}
    for model in skill["model"].values:
        values[f"acc_{model}"] = float(accuracy.sel(model=model))
        values[f"sie_{model}"] = float(sie.sel(model=model))
    optimal = " and the optimal forecast (emulated Arctic only)" if OPTIMAL in held.forecasts else ""
    values["skill_caption"] = (
        f"Binary accuracy (left) and sea-ice-extent error (right) per lead of the {len(ens)}-member ensemble "
        f"mean, the two baselines{optimal}, for forecasts started in {skill.attrs['years']} "
        f"({skill.attrs['n_forecasts']} forecasts). Data: {source_label(ds.attrs['data_source'])}.")
    table = skill_table(skill).pivot_table(index=["metric", "model"], columns="lead", values="value")
    return Page(values, {"skill": table.round(2)})
