"""The jobs of an attribution sweep, derived from one run configuration.

A sweep explains several target months with several methods; each (target month, lead, member,
method) combination is one :class:`Job`, small enough to ship to a Dask worker. Everything else a job
needs (data source, resolution, the ROI's years, month and rule, IG steps and baseline, the network)
comes from one :class:`~icegrad.config.RunConfig`, so a sweep states no default of its own and
every job of a plan shares the same *settings*: the configuration's fields minus the per-job axes.
Those settings are what a sweep store records in its manifest and refuses to mix.

Example
-------
>>> from icegrad.config import RunConfig
>>> jobs = plan_jobs(RunConfig(leads=(1, 3), members=2), target_months=["2012-09", "2013-9"],
...                  methods=["vanilla_gradient"])
>>> len(jobs), jobs[-1].target_month, jobs[-1].start_month
(8, '2013-09', '2013-07')
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from icegrad.attribution.targets import forecast_start
from icegrad.cache import parameter_key
from icegrad.config import RunConfig
from icegrad.errors import IcegradError

JOB_AXES = ("target_month", "lead", "member", "method")
"""The dimensions a sweep spans, in the order of :func:`~icegrad.sweep.open_sweep`'s dataset."""

PER_JOB_FIELDS = ("target_month", "leads", "members", "method")
"""The :class:`RunConfig` fields that a sweep turns into job axes rather than shared settings."""

STORE_SETTINGS = tuple(spec.name for spec in dataclasses.fields(RunConfig) if spec.name not in PER_JOB_FIELDS)
"""Every other field decides results, so a store records it and refuses jobs that differ in it (a field
added to RunConfig later is covered without a change here)."""


class SweepError(IcegradError):
    """A sweep that cannot be planned, stored or finished; ``report`` holds what did run, if any."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


def store_settings(config: RunConfig) -> dict[str, Any]:
    """The settings every job planned from ``config`` shares (its fields minus the job axes)."""
    return {name: getattr(config, name) for name in STORE_SETTINGS}


def plain(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` as they read back from JSON (tuples as lists), so stored and new ones compare equal."""
    return json.loads(json.dumps(dict(settings), default=str))


@dataclass(frozen=True)
class Job:
    """One attribution: ensemble member ``member`` (index), lead ``lead`` of the forecast that targets
    ``target_month`` ("YYYY-MM"), explained with ``method`` under the sweep's shared ``settings``.

    Hashable and picklable, so it can be shipped to a worker; :attr:`key` names its files.
    """

    target_month: str
    lead: int
    member: int
    method: str
    settings: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        """A stable, file-name-safe identifier: the job's axes plus a digest of its settings."""
        return (f"{self.target_month}_lead{self.lead}_member{self.member:03d}_{self.method}_"
                f"{parameter_key(dict(self.settings))[:8]}")

    @property
    def options(self) -> dict[str, Any]:
        """The shared settings as a dictionary."""
        return dict(self.settings)

    @property
    def start_month(self) -> str:
        """The forecast start month whose input this job explains (target - (lead - 1))."""
        return f"{forecast_start(self.target_month, self.lead):%Y-%m}"

    def axes(self) -> dict[str, Any]:
        """The job's position in the sweep, by axis name."""
        return {axis: getattr(self, axis) for axis in JOB_AXES}

    @classmethod
    def from_axes(cls, axes: Mapping[str, Any], settings: tuple[tuple[str, Any], ...]) -> Job:
        """The job at ``axes`` of a store whose settings are ``settings`` (see :func:`frozen_settings`)."""
        return cls(str(axes["target_month"]), int(axes["lead"]), int(axes["member"]), str(axes["method"]),
                   settings)


def _frozen(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(settings.items()))


def frozen_settings(settings: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Settings as read from a store's JSON manifest, in the form a planned :class:`Job` carries them
    (lists back to tuples, every value checked again by :class:`RunConfig`)."""
    return _frozen(store_settings(RunConfig.from_parameters(settings)))


def plan_jobs(config: RunConfig, *, target_months: Sequence[str] | None = None,
              methods: Sequence[str] | None = None) -> list[Job]:
    """Every (target month, lead, member, method) job of ``config``, in that nesting order.

    Leads and members (0 .. ``config.members`` - 1) come from ``config``; ``target_months`` and
    ``methods`` default to its single target month and method. Each month and method is checked by
    :class:`RunConfig` itself, so a bad one fails here, before any work, with the same one-line error
    as anywhere else.
    """
    months = [config.target_month] if target_months is None else list(target_months)
    method_list = [config.method] if methods is None else list(methods)
    if not months or not method_list:
        raise SweepError(f"a sweep needs at least one target month and one method, got target months "
                         f"{months} and methods {method_list}")
    months = [_month_label(dataclasses.replace(config, target_month=month).target_month) for month in months]
    method_list = [dataclasses.replace(config, method=method).method for method in method_list]
    frozen = _frozen(store_settings(config))
    return [Job(month, lead, member, method, frozen)
            for month in dict.fromkeys(months) for lead in config.leads
            for member in range(config.members) for method in dict.fromkeys(method_list)]


def _month_label(checked: str) -> str:
    """'2013-9' as '2013-09', so one month always gets one key."""
    year, month = checked.split("-")
    return f"{year}-{int(month):02d}"


def job_summary(jobs: Sequence[Job]) -> pd.DataFrame:
    """The planned jobs as a table (axes, start month and key), e.g. to show before a long run."""
    return pd.DataFrame([{**job.axes(), "start_month": job.start_month, "key": job.key} for job in jobs])
