"""The baseline gallery: each integrated-gradients baseline beside the question it answers.

Integrated gradients explains T(x) - T(x'), so the baseline x' decides the question (Mamalakis et al.
2023, "Carefully choose the baseline", arXiv:2208.09473): zeros ask about a featureless state,
climatology about a typical year, the counterfactual about the reference year - the letter's
question - and persistence about the same forecast a year earlier. :func:`gallery_table` puts, per
baseline and lead, the question, both target values, the explained change, how well the attributions
add up to it, and what the ranking says, so a chapter can show that the answer moves with the question.
:func:`icegrad.pipeline.baseline_gallery` computes the results on emulated or real data.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import xarray as xr

from icegrad.attribution.errors import AttributionError
from icegrad.attribution.references import BASELINE_QUESTIONS
from icegrad.evaluation.letter import letter_verdicts


def gallery_table(results: Mapping[str, xr.Dataset], ranking: str = "net", n_boot: int = 1000,
                  seed: int = 0) -> pd.DataFrame:
    """One row per baseline (``results`` maps its name to an integrated-gradients result) and lead:
    ``question``, ensemble-mean ``target_value`` and ``baseline_target_value``, ``change`` (their
    difference), ``completeness_gap`` (sum of attributions minus the change, ensemble mean of
    |gap|), ``leading_group``, ``letter_share`` and ``verdict`` under ``ranking``."""
    rows = []
    for name, ds in results.items():
        if "baseline_target_value" not in ds:
            raise AttributionError(f"the result for baseline {name!r} has no baseline_target_value; the "
                                   "gallery needs integrated-gradients results "
                                   "(method='integrated_gradients')")
        verdicts = letter_verdicts([ds], [ranking], n_boot, seed).set_index("lead")
        change = ds["target_value"] - ds["baseline_target_value"]
        gap = abs(ds["attribution"].sum(("channel", "y", "x")) - change)
        for lead in ds["lead"].values.tolist():
            row = verdicts.loc[lead]
            rows.append({
                "baseline": name, "lead": lead,
                "question": BASELINE_QUESTIONS.get(name, "user-given baseline: say what it represents"),
                "baseline_from": str(ds["baseline_forecast_start"].sel(lead=lead).values)
                if "baseline_forecast_start" in ds.coords else ds.attrs.get("baseline", name),
                "target_value": float(ds["target_value"].sel(lead=lead).mean()),
                "baseline_target_value": float(ds["baseline_target_value"].sel(lead=lead).mean()),
                "change": float(change.sel(lead=lead).mean()),
                "completeness_gap": float(gap.sel(lead=lead).mean()),
                "ranking": ranking, "leading_group": row["leading_group"],
                "letter_share": row["letter_share"], "verdict": row["verdict"],
            })
    return pd.DataFrame(rows)
