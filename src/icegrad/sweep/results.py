"""A sweep store's finished jobs read back: one lazy dataset, or the per-(month, method) results.

Only jobs whose result matches its checksum are read (:func:`~icegrad.sweep.store.is_done`),
and a store holds the results of one set of settings only (its manifest refuses others), so what is
combined here was all made the same way. A file that still fails to read is named in the error.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from icegrad.attribution.results import load_result
from icegrad.sweep.jobs import JOB_AXES, Job, SweepError
from icegrad.sweep.store import clean_orphans, is_done, job_path, stored_jobs

log = logging.getLogger(__name__)


def _read_error(path: Path, err: Exception) -> SweepError:
    return SweepError(f"cannot read sweep result {path} ({err}); delete it and run the sweep again to "
                      "recompute that job")


def _open_lazily(path: Path) -> xr.Dataset:
    try:
        return xr.open_dataset(path, chunks={})
    except (OSError, ValueError, RuntimeError) as err:
        raise _read_error(path, err) from None


def _done_jobs(store: str | os.PathLike[str]) -> tuple[list[Job], list[Job]]:
    """Every planned job, and those done, after removing what killed writers left behind."""
    clean_orphans(store)
    jobs = stored_jobs(store)
    return jobs, [job for job in jobs if is_done(store, job)]


def open_sweep(store: str | os.PathLike[str]) -> xr.Dataset:
    """The whole store as one lazy dataset with dims ``(target_month, lead, member, method, channel, y, x)``.

    ``attribution`` and ``target_value`` (and ``baseline_target_value`` when any job has it) are NaN
    for jobs not done; ``done`` says which are. ``input`` has dims ``(target_month, lead, channel, y, x)``
    (the same for every member and method); ``attribution_units`` per method. Files are read only
    when values are used, so a 25 km sweep of hundreds of jobs opens quickly. Select methods with a
    dict, ``.sel({"method": "integrated_gradients"})``: ``.sel(method=...)`` is xarray's fill method.
    """
    jobs, finished_jobs = _done_jobs(store)
    if not finished_jobs:
        raise SweepError(f"sweep store {store} holds no finished job yet; run the sweep first")
    axes = {axis: sorted({getattr(job, axis) for job in jobs}) for axis in JOB_AXES}
    opened = {tuple(job.axes().values()): _open_lazily(job_path(store, job)) for job in finished_jobs}
    template = next(iter(opened.values()))
    shape = (template.sizes["channel"], template.sizes["y"], template.sizes["x"])
    grid = np.empty([len(axes[a]) for a in JOB_AXES], dtype=object)
    scalars = {name: np.full(grid.shape, np.nan) for name in ("target_value", "baseline_target_value")}
    inputs = np.empty(grid.shape[:2], dtype=object)
    finished = np.zeros(grid.shape, dtype=bool)
    units: dict[str, str] = {}
    names: dict[int, str] = {}
    for index in np.ndindex(grid.shape):
        cell = tuple(axes[a][i] for a, i in zip(JOB_AXES, index, strict=True))
        ds = opened.get(cell)
        if ds is None:
            grid[index] = da.full(shape, np.nan, dtype=np.float32)
            continue
        grid[index] = ds["attribution"].data[0, 0]
        inputs[index[:2]] = ds["input"].data[0]
        finished[index] = True
        units[cell[3]] = ds["attribution"].attrs.get("units", "1")
        names[cell[2]] = str(ds["member_name"].values[0])
        for name in scalars:
            if name in ds:
                scalars[name][index] = float(ds[name].values.ravel()[0])
    for index in np.ndindex(inputs.shape):
        if inputs[index] is None:
            inputs[index] = da.full(shape, np.nan, dtype=np.float32)
    space = {k: v.load() for k, v in template.coords.items()
             if v.dims and set(v.dims) <= {"channel", "y", "x"}}
    coords = {**axes, **space,
              "member_name": ("member", [names.get(m, f"member{m}") for m in axes["member"]]),
              "attribution_units": ("method", [units.get(m, "") for m in axes["method"]])}
    shared = ("target", "roi_rule", "model_id", "data_source", "icegrad_version")  # per-method ones stay
    first = {k: template.attrs[k] for k in shared if k in template.attrs}        # in the job files
    out = xr.Dataset({
        "attribution": ((*JOB_AXES, "channel", "y", "x"), _stack(grid),
                        {"long_name": "attribution of the ROI target (units per method: attribution_units)"}),
        "input": (("target_month", "lead", "channel", "y", "x"), _stack(inputs),
                  {"long_name": "normalised model input explained", "units": "1"}),
        "target_value": (JOB_AXES, scalars["target_value"],
                         {"long_name": "target at the input", "units": "1"}),
        "done": (JOB_AXES, finished, {"long_name": "job finished and stored"}),
        "roi": (template["roi"].reset_coords(drop=True).load() == 1).assign_attrs(
            long_name="region of interest mask"),
    }, coords=coords, attrs={"title": "icegrad attribution sweep", "Conventions": "CF-1.8", **first})
    if np.isfinite(scalars["baseline_target_value"]).any():
        out["baseline_target_value"] = (JOB_AXES, scalars["baseline_target_value"],
                                        {"long_name": "target at the integrated-gradients baseline",
                                         "units": "1"})
    return out


def _stack(cells: np.ndarray) -> da.Array:
    """Stack an object array of equally shaped dask arrays into one dask array (its dims first)."""
    if cells.ndim == 1:
        return da.stack(list(cells))
    return da.stack([_stack(sub) for sub in cells])


def load_results(store: str | os.PathLike[str]) -> dict[tuple[str, str], xr.Dataset]:
    """The finished jobs as ``{(target_month, method): result}``, each result in the results schema
    ``(member, lead, channel, y, x)`` (members and leads that are done in every combination only)."""
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in _done_jobs(store)[1]:
        groups.setdefault((job.target_month, job.method), []).append(job)
    results = {}
    for (month, method), jobs in sorted(groups.items()):
        parts = {(job.member, job.lead): _load(job_path(store, job)) for job in jobs}
        members = sorted({m for m, _ in parts})
        leads = sorted({lead for _, lead in parts})
        if len(parts) != len(members) * len(leads):
            leads = [lead for lead in leads if all((m, lead) in parts for m in members)]
            log.warning("%s %s: keeping leads %s done for every member", month, method, leads)
        if not leads:
            continue
        by_lead = [xr.concat([parts[(m, lead)] for m in members], dim="member", data_vars="minimal",
                             coords="minimal", compat="override", join="override",
                             combine_attrs="override") for lead in leads]
        result = xr.concat(by_lead, dim="lead", data_vars="minimal", coords="minimal", compat="override",
                           join="override", combine_attrs="override")
        result["roi"] = by_lead[0]["roi"]
        result = result.assign_coords(member=result["member_name"].values).drop_vars("member_name")
        result.attrs.pop("sweep_job", None)
        results[(month, method)] = result
    return results


def _load(path: Path) -> xr.Dataset:
    try:
        return load_result(path)
    except (OSError, ValueError, RuntimeError) as err:
        raise _read_error(path, err) from None
