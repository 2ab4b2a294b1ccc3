"""Sanity checks that an attribution means what it claims.

* :func:`completeness`: integrated-gradient attributions must add up to target(input) -
  target(baseline); the relative error measures the quadrature error of the path integral.
  :func:`ensemble_completeness` checks the same for the ensemble-mean attribution, which is what
  the book's rankings and maps are made of: the members' quadrature errors partly cancel in it.
* :func:`parameter_randomisation` (Adebayo et al. 2018): attributions of the same input through a
  network with re-initialised weights must look different; if they do not, the method shows the input
  (edges, the land mask) rather than what the model learnt. Reported as Spearman rank correlations.
* :func:`gradient_check`: the engine's gradients against central finite differences of the target,
  computed with a float64 copy of the model, at the pixels with the largest gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import spearmanr

from icegrad.attribution.api import attribute, check_sample, land_for
from icegrad.attribution.errors import AttributionError
from icegrad.attribution.methods import EngineCache, Execution, GradientEngine
from icegrad.attribution.results import validate_result
from icegrad.attribution.targets import roi_target
from icegrad.memory import releases_memory


def completeness(ds: xr.Dataset) -> pd.DataFrame:
    """Per member and lead: sum of attributions vs target change, with absolute and relative error."""
    validate_result(ds)
    if ds.attrs["method"] != "integrated_gradients" or "baseline_target_value" not in ds:
        raise AttributionError(f"completeness applies to integrated gradients; this result used "
                               f"{ds.attrs['method']!r}")
    # Accumulated in float64 without a float64 copy of the array, and without skipna's masked copy (the
    # copies took ~390 MiB for ch. 5's 80 MiB result at 100 km); a NaN attribution then makes its sum NaN,
    # an error to report, not a value to skip.
    total = ds["attribution"].sum(("channel", "y", "x"), dtype="float64", skipna=False)
    change = ds["target_value"] - ds["baseline_target_value"]
    table = xr.Dataset({"attribution_sum": total, "target_change": change,
                        "abs_error": abs(total - change)})
    table["relative_error"] = table["abs_error"] / abs(change)
    return table.to_dataframe().reset_index()[
        ["member", "lead", "attribution_sum", "target_change", "abs_error", "relative_error"]]


def ensemble_completeness(ds: xr.Dataset) -> pd.DataFrame:
    """Per lead: the ensemble-mean attribution's sum vs the ensemble-mean target change."""
    table = completeness(ds)
    mean = table.groupby("lead")[["attribution_sum", "target_change"]].mean()
    mean["abs_error"] = (mean["attribution_sum"] - mean["target_change"]).abs()
    mean["relative_error"] = mean["abs_error"] / mean["target_change"].abs()
    return mean.reset_index()


def randomised_copy(model: keras.Model, seed: int = 0) -> keras.Model:
    """The same architecture with freshly initialised weights (and fresh BatchNorm statistics)."""
    keras.utils.set_random_seed(seed)
    return keras.models.clone_model(model)


@releases_memory
def parameter_randomisation(
    members: keras.Model | Sequence[keras.Model],
    inputs_sample: xr.DataArray,
    roi: xr.DataArray | np.ndarray,
    leads: int | Sequence[int] = (1,),
    method: str = "integrated_gradients",
    seed: int = 0,
    **options: Any,
) -> pd.DataFrame:
    """Rank correlation between attributions of the trained and a re-initialised network.

    Columns ``spearman_signed`` and ``spearman_abs`` (of |attribution|) per member and lead; values
    near zero pass the check, values near one mean the map does not depend on what the model learnt.
    """
    models = [members] if isinstance(members, keras.Model) else list(members)
    options.setdefault("engines", EngineCache())  # a re-initialised copy has the same architecture
    trained = attribute(models, inputs_sample, roi, leads, method, **options)
    random = attribute([randomised_copy(m, seed + i) for i, m in enumerate(models)], inputs_sample, roi,
                       leads, method, **options)
    rows = []
    for member in trained["member"].values:
        for lead in trained["lead"].values:
            a = trained["attribution"].sel(member=member, lead=lead).values.ravel()
            b = random["attribution"].sel(member=member, lead=lead).values.ravel()
            rows.append({"member": int(member), "lead": int(lead),
                         "spearman_signed": float(spearmanr(a, b).statistic),
                         "spearman_abs": float(spearmanr(np.abs(a), np.abs(b)).statistic)})
    return pd.DataFrame(rows)


@releases_memory
def gradient_check(
    model: keras.Model,
    inputs_sample: xr.DataArray,
    roi: xr.DataArray | np.ndarray,
    lead: int = 1,
    n_pixels: int = 5,
    eps: float = 1e-3,
    target: str = "sip",
    land: xr.DataArray | np.ndarray | None = None,
    precision: str = "float32",
) -> pd.DataFrame:
    """Engine gradients vs central differences ``(f(x + eps) - f(x - eps)) / 2 eps`` in float64.

    Checked at the ``n_pixels`` input values with the largest |gradient| (tiny gradients are all
    rounding noise in a finite difference). ReLU kinks within ``eps`` can cause isolated mismatches.
    """
    sample = check_sample(inputs_sample, model)
    target_fn = roi_target(roi, lead, target, land_for(sample, land))
    x = np.asarray(sample.values, dtype=np.float64)
    _, grads = GradientEngine(model, target_fn, Execution(precision=precision)).gradient(x)
    flat = np.argsort(np.abs(grads[0]).ravel())[::-1][:n_pixels]
    picks = np.stack(np.unravel_index(flat, x.shape), axis=1)
    perturbed = np.repeat(x[np.newaxis], 2 * len(picks), axis=0)
    for i, (py, px, pc) in enumerate(picks):
        perturbed[2 * i, py, px, pc] += eps
        perturbed[2 * i + 1, py, px, pc] -= eps
    values = GradientEngine(model, target_fn, Execution(precision="float64")).targets(perturbed)[:, 0]
    fd = (values[0::2] - values[1::2]) / (2 * eps)
    analytic = grads[0][tuple(picks.T)]
    channels = sample["channel"].values
    return pd.DataFrame({
        "y": picks[:, 0], "x": picks[:, 1], "channel": [str(channels[c]) for c in picks[:, 2]],
        "gradient": analytic, "finite_difference": fd, "abs_error": np.abs(analytic - fd),
        "relative_error": np.abs(analytic - fd) / np.maximum(np.abs(fd), 1e-12),
    })
