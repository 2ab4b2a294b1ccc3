"""The checks of a run that need its data, made before the first expensive stage.

:class:`~icegrad.config.RunConfig` checks every value alone; whether the data can serve the run (its
years, its forecast starts, a ROI with ocean cells) is known only once the dataset is loaded. This
module imports no TensorFlow, so the CLI runs these checks seconds after it starts, before the
pipeline (and TensorFlow) is imported and the model trained. :func:`icegrad.pipeline.check_run` is
the same function.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

from icegrad.config import RunConfig, paired_month
from icegrad.errors import ConfigError
from icegrad.inputs.start_months import available_start_months, start_for_target
from icegrad.roi import RoiRule, region_of_interest


def checked_dataset(config: RunConfig) -> xr.Dataset:
    """The run's dataset, once every check that needs data has passed; the checks of its months first.

    Where the months are known in advance (:func:`icegrad.data.coverage`), a year outside them fails
    before the dataset is built, so a typo costs a second, not the emulator's half minute.
    """
    from icegrad.data import coverage, load_dataset

    months = coverage(config.data_source, config.resolution_km)
    if months is not None:
        check_months(config, months, config.data_source)
    ds = load_dataset(config.data_source, resolution_km=config.resolution_km)
    check_run(config, ds)
    return ds


def check_run(config: RunConfig, ds: xr.Dataset) -> None:
    """Fail with one line if ``ds`` cannot serve ``config``; call it before the ensemble is trained.

    The checks :class:`~icegrad.config.RunConfig` cannot make alone (:func:`check_settings`, and
    those that need the data): the ROI's two years (in ``config.month``) and every lead's forecast
    start lie in the record, and so do those of a paired baseline's forecast (counterfactual,
    persistence), and the ROI selects at least one ocean cell.
    """
    check_settings(config)
    check_months(config, pd.DatetimeIndex(ds["time"].values), ds.attrs.get("data_source", config.data_source))
    region_of_interest(ds, config.reference_year, config.target_year, config.month, config.roi_rule)


def check_months(config: RunConfig, months: pd.DatetimeIndex, data_source: str) -> None:
    """Fail with one line if data of ``months`` cannot serve ``config``'s ROI years and forecast starts.

    Needs only the months, so a year outside the record fails in a second even when the dataset is
    not built yet (:func:`icegrad.data.coverage` knows the emulated Arctic's months in advance).
    """
    source = f"the {data_source} data"
    span = f"{months[0]:%Y-%m} to {months[-1]:%Y-%m}"
    for name in ("reference_year", "target_year"):
        year = getattr(config, name)
        if pd.Timestamp(year=year, month=config.month, day=1) not in months:
            raise ConfigError(f"{name}={year}: {source} cover {span} and hold no {year}-{config.month:02d}; "
                              f"choose a year from {months[0].year} to {months[-1].year}")
    starts = available_start_months(xr.Dataset(coords={"time": months}))
    served = f"{source} ({span}) serve starts {starts[0]:%Y-%m} to {starts[-1]:%Y-%m} only (12 months of " \
             "history are needed)"
    for lead in config.leads:
        start = start_for_target(pd.Timestamp(config.target_month), lead)
        if start not in starts:
            raise ConfigError(f"target_month={config.target_month!r} at lead {lead} needs the forecast "
                              f"started in {start:%Y-%m}, but {served}; choose a target month inside that "
                              "span or fewer leads")
    check_paired_starts(config, starts, served)


def check_paired_starts(config: RunConfig, starts: pd.DatetimeIndex, served: str) -> None:
    """Fail with one line if a paired baseline's forecast (the same forecast in the reference year, or a
    year earlier) starts outside ``starts``: otherwise the run trains for minutes and then fails."""
    if config.method != "integrated_gradients":
        return
    month = paired_month(config.baseline, config.target_month, config.reference_year)
    if month is None:
        return
    for lead in config.leads:
        start = start_for_target(pd.Timestamp(month), lead)
        if start not in starts:
            raise ConfigError(f"baseline={config.baseline!r} explains {config.target_month} against the "
                              f"same forecast for {month}, whose lead-{lead} forecast starts in "
                              f"{start:%Y-%m}, but {served}; choose another target month, reference year or "
                              "baseline, or fewer leads")


def check_settings(config: RunConfig) -> RunConfig:
    """``config`` once the checks beyond its fields also pass (ROI rule grammar, weights folder); no data.

    Why not in :class:`~icegrad.config.RunConfig`'s own checks: the configuration is the bottom layer
    and imports nothing of icegrad, while the ROI grammar lives in :mod:`icegrad.roi`, which takes its
    default rule from the configuration. The CLI, ``icegrad run`` and the pipeline call this.
    """
    RoiRule.parse(config.roi_rule)
    if config.weights and not Path(config.weights).expanduser().is_dir():
        raise ConfigError(f"weights={config.weights!r} is not a folder; give the folder holding the IceNet "
                          "release's network_tempscaled_<seed>.h5 files, or '' to train the book's networks")
    return config
