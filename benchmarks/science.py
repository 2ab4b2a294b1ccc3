"""Issue 13's figures in one command: the ensemble's skill against its baselines and attribution's fidelity.

For one run configuration (the book's defaults, :class:`icegrad.config.RunConfig`, with ``-p name value``
overrides as in ``icegrad run``) it prints one line per figure:

    skill lead L: ensemble A trend B persistence C    binary accuracy (%) on the test years, per lead
    skill mean: ensemble A trend B ci LO HI           mean over leads; paired bootstrap interval of A - B
    extent rmse: ensemble A trend B                   September-extent RMSE (million km2)
    ceiling lead L: optimal O trend B ensemble A      the emulated Arctic's optimal forecast, the best any
                                                      forecaster can do from the inputs, per lead (%)
    ceiling mean: optimal O trend B ensemble A attainable G ci LO HI
                                                      mean over leads; G = O - B, the most any forecaster
                                                      can gain over the trend, with its paired interval
    fidelity lead L method M: rho R map M2            rank correlation of channel importance and mean
                                                      map correlation with the matched truth

With ``--realisations S ...`` (emulated data only) the ensemble is also scored on the test years of other
realisations of the emulated Arctic (weather seeds; the book's is 0), one line each, then one over them
all (:mod:`icegrad.evaluation.realisations`): three test Septembers of one realisation decide little.

    skill realisation S: ensemble A trend B optimal O gain G ci LO HI extent rmse ensemble E trend T
    skill realisations: N | gain mean G min a max b | ci above zero in K, below zero in J | extent rmse
        ensemble below trend in R (mean ensemble E trend T)

With ``--years FIRST LAST`` the skill and ceiling lines score those years of the book's realisation instead
of the test split, after a line ``# skill and ceiling on FIRST-LAST, not the test years``. Scored on the
training years, they tell underfitting from overfitting: a network that also trails the optimal forecast on
the years it was fitted to lacks fit, not data (the realisation lines keep the test years).

``M`` is the method, with integrated gradients' baseline after a slash (``integrated_gradients/zeros``).
The stages come from the pipeline's cache (``ICEGRAD_CACHE_DIR``, the Makefile's ``.cache/icegrad``
when unset): the ensemble ``make book`` trained is loaded, and trained first when absent, like the
attributions. Fidelity and the ceiling need the emulated Arctic's truth; for other data sources one
``ceiling: none ...`` line says so and no fidelity lines are printed.

    python benchmarks/science.py                                  # the book's defaults (trains if needed)
    python benchmarks/science.py -p resolution_km 200 -p members 2 -p epochs 1 -p steps 8 -p leads '[1, 3]'
    python benchmarks/science.py --realisations $(seq 1 10)       # and ten other realisations' test years
    python benchmarks/science.py --years 2005 2010                # skill on training years: the fit
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("ICEGRAD_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "icegrad"))

import pandas as pd

from icegrad.config import RunConfig
from icegrad.model.skill import Ceiling, Headline


def parse(argv: Sequence[str] | None = None) -> tuple[RunConfig, list[int], tuple[int, int] | None]:
    """The run configuration (RunConfig's defaults with the ``-p name value`` overrides, checked), the
    other realisations to score and the years the skill lines score (None: the test split)."""
    from icegrad.run_checks import check_settings

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a run parameter (repeatable), e.g. -p resolution_km 200")
    parser.add_argument("--realisations", type=int, nargs="+", default=[], metavar="SEED",
                        help="also score the ensemble on these realisations of the emulated Arctic")
    parser.add_argument("--years", type=int, nargs=2, metavar=("FIRST", "LAST"),
                        help="score skill and ceiling on these years instead of the test split")
    args = parser.parse_args(argv)
    config = check_settings(RunConfig.from_parameters(dict(args.parameter)))
    if args.realisations and config.data_source != "emulated":
        parser.error(f"--realisations needs the emulated Arctic, but data_source is {config.data_source!r}: "
                     "drop --realisations or pass -p data_source emulated")
    if args.years and args.years[0] > args.years[1]:
        parser.error(f"--years {args.years[0]} {args.years[1]} are reversed: pass the first year, then "
                     "the last")
    return config, args.realisations, tuple(args.years) if args.years else None


def method_name(label: str) -> str:
    """``integrated_gradients (zeros)`` as one token, ``integrated_gradients/zeros``."""
    return label.replace(" (", "/").removesuffix(")")


def skill_lines(top: Headline) -> list[str]:
    """The skill lines: accuracy per lead, the mean with the gain's interval, the September-extent RMSE."""
    lines = [f"skill lead {lead}: ensemble {row['icenet']:.2f} trend {row['linear_trend']:.2f} persistence "
             f"{row['persistence']:.2f}" for lead, row in top.accuracy.iterrows()]
    mean = top.mean
    lines.append(f"skill mean: ensemble {mean['icenet']:.2f} trend {mean['linear_trend']:.2f} ci "
                 f"{top.ci[0]:.2f} {top.ci[1]:.2f}")
    lines.append(f"extent rmse: ensemble {top.extent_rmse['icenet']:.3f} trend "
                 f"{top.extent_rmse['linear_trend']:.3f}")
    return lines


def ceiling_lines(ceil: Ceiling | None, data_source: str) -> list[str]:
    """The optimal forecast's accuracy beside the trend's and the ensemble's, per lead and on average."""
    if ceil is None:
        return [f"ceiling: none (data source {data_source} has no known optimal forecast; only the emulated "
                "Arctic's is)"]
    lines = [f"ceiling lead {lead}: optimal {row['optimal']:.2f} trend {row['linear_trend']:.2f} ensemble "
             f"{row['icenet']:.2f}" for lead, row in ceil.accuracy.iterrows()]
    mean = ceil.accuracy.mean()
    lines.append(f"ceiling mean: optimal {mean['optimal']:.2f} trend {mean['linear_trend']:.2f} ensemble "
                 f"{mean['icenet']:.2f} attainable {ceil.attainable:.2f} ci {ceil.attainable_ci[0]:.2f} "
                 f"{ceil.attainable_ci[1]:.2f}")
    return lines


def fidelity_lines(scores: pd.DataFrame) -> list[str]:
    """One line per lead and method of :func:`icegrad.pipeline.score_methods`'s scores."""
    return [f"fidelity lead {int(row['lead'])} method {method_name(row['label'])}: rho {row['spearman']:.3f} "
            f"map {row['spatial_correlation']:.3f}" for _, row in scores.sort_values(["lead"], kind="stable")
            .iterrows()]


def main(argv: Sequence[str] | None = None) -> int:
    config, seeds, years = parse(argv)
    from icegrad import pipeline
    from icegrad.evaluation.realisations import skill_on_realisation, summary
    from icegrad.model.skill import SkillError, ceiling, headline, held_out_forecasts, held_out_starts
    from icegrad.pages.common import quietly

    began = time.perf_counter()
    with quietly():
        ds = pipeline.dataset(config.data_source, config.resolution_km)
        pipeline.check_run(config, ds)
    if years:
        try:  # before the ensemble, which may have to be trained
            held_out_starts(ds, years)
        except SkillError as err:
            raise SystemExit(f"error: --years {years[0]} {years[1]}: {err}") from None
    with quietly():
        ens = pipeline.ensemble(ds, members=config.members, width=config.width, epochs=config.epochs,
                                weights=config.weights or None)
    ready = time.perf_counter()
    with quietly():
        top = headline(held_out_forecasts(ens, ds, years, optimal=True))
    if years:
        print(f"# skill and ceiling on {years[0]}-{years[1]}, not the test years", flush=True)
    print("\n".join(skill_lines(top) + ceiling_lines(ceiling(top), config.data_source)), flush=True)
    if seeds:
        others = []
        for seed in seeds:
            with quietly():
                others.append(skill_on_realisation(ens, ds, seed))
            print(others[-1].line(), flush=True)
        print(summary(others), flush=True)
    scored = time.perf_counter()
    if config.data_source == "emulated":
        with quietly():
            roi = pipeline.region(ds, config.reference_year, config.target_year, config.month,
                                  config.roi_rule)
            run = pipeline.score_methods(ds, ens, roi, config.target_month, config.leads, steps=config.steps)
        print("\n".join(fidelity_lines(run.scores)))
    done = time.perf_counter()
    print(f"# data and ensemble {ready - began:.1f} s, skill and ceiling {scored - ready:.1f} s, fidelity "
          f"{done - scored:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
