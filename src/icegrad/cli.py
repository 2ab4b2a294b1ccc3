"""``icegrad``: the command line over the same functions the book calls.

    icegrad data --source emulated --resolution 100     build (or load) and summarise a dataset
    icegrad train --members 5 --width 0.25              train (or load) the cached IceNet ensemble
    icegrad attribute --target-month 2013-09 --method integrated_gradients --output ig.nc
    icegrad attribute --sweep sweeps/sept --target-month 2012-09 2013-09 --method integrated_gradients \
        smoothgrad [--scheduler tcp://HOST:8786]     every (month, lead, member, method) job, resumable
    icegrad chapters                                    list the book's chapters and their parameters
    icegrad run 03 -p target_year 2012                  re-execute one chapter with other parameters
    icegrad book                                        execute every chapter and build the HTML
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from icegrad import grid
from icegrad.data.schema import DATA_SOURCES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported


def _parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, str]:
    return {name: value for name, value in (pairs or [])}


def _add_parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="set a chapter parameter (repeatable)")


def _cmd_data(args: argparse.Namespace) -> int:
    from icegrad.data import load_dataset
    from icegrad.diagnostics import sea_ice_extent

    ds = load_dataset(args.source, resolution_km=args.resolution)
    print(ds)
    september = sea_ice_extent(ds.siconca.sel(time=ds.time.dt.month == 9))
    print("\nSeptember sea-ice extent (million km2):")
    for t, value in zip(september.time.dt.year.values, september.values, strict=True):
        print(f"  {t}: {value:5.2f}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from icegrad import pipeline
    from icegrad.model.skill import evaluate_skill, skill_table

    ds = pipeline.dataset(args.source, args.resolution)
    ens = pipeline.ensemble(ds, members=args.members, width=args.width, epochs=args.epochs,
                            weights=args.weights or None)
    print(ens)
    if args.skill:
        print(skill_table(evaluate_skill(ens, ds)).to_string())
    return 0


def _cmd_attribute(args: argparse.Namespace) -> int:
    from icegrad.attribution.methods import METHODS
    from icegrad.roi import RoiRule

    unknown = [m for m in args.method if m not in METHODS]
    if unknown:  # checked before any data is loaded or model trained
        raise ValueError(f"unknown method(s) {unknown}; choose one of {METHODS}")
    if args.roi_rule:
        RoiRule.parse(args.roi_rule)
    if args.sweep:
        return _attribute_sweep(args)
    if args.scheduler:
        raise ValueError("--scheduler runs a sweep on a Dask cluster; add --sweep STORE to use it")
    if len(args.target_month) > 1 or len(args.method) > 1:
        raise ValueError("several target months or methods make a sweep: add --sweep STORE "
                         "(or give one --target-month and one --method for a single netCDF file)")
    from icegrad import pipeline
    from icegrad.attribution.results import save_result

    ds = pipeline.dataset(args.source, args.resolution)
    roi = pipeline.region(ds, args.reference_year, args.target_year, args.month, args.roi_rule)
    ens = pipeline.ensemble(ds, members=args.members, width=args.width, epochs=args.epochs,
                            weights=args.weights or None)
    result = pipeline.attributions(ds, ens, roi, args.target_month[0], leads=args.leads,
                                   method=args.method[0], steps=args.steps, baseline=args.baseline)
    path = save_result(result, args.output)
    print(f"attributions ({args.method[0]}, leads {args.leads}) written to {path}")
    return 0


def _attribute_sweep(args: argparse.Namespace) -> int:
    """Every (target month, lead, member, method) job into the store ``--sweep``; a rerun does the missing."""
    from icegrad.attribution.sweep import sweep_command

    where = f"on the Dask cluster at {args.scheduler}" if args.scheduler else "in this process"
    jobs = len(args.target_month) * len(args.leads) * args.members * len(args.method)
    print(f"sweep of {jobs} job(s) into {args.sweep}, {where}", flush=True)
    report = sweep_command(args.sweep, target_months=args.target_month, leads=args.leads, methods=args.method,
                           data_source=args.source, resolution_km=args.resolution, members=args.members,
                           width=args.width, epochs=args.epochs, weights=args.weights or None,
                           scheduler=args.scheduler, progress=not args.quiet, steps=args.steps,
                           baseline=args.baseline, reference_year=args.reference_year,
                           target_year=args.target_year, month=args.month, roi_rule=args.roi_rule)
    print(report)
    return 0


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="emulated", choices=DATA_SOURCES)
    parser.add_argument("--resolution", type=int, default=100, choices=grid.SUPPORTED_RESOLUTIONS_KM)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=5, help="ensemble members (default 5)")
    parser.add_argument("--width", type=float, default=None,
                        help="IceNet filter factor (paper: 2; default: TrainConfig's)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: TrainConfig's)")
    parser.add_argument("--weights", default="", help="folder with the IceNet release's h5 files")


def _cmd_chapters(args: argparse.Namespace) -> int:
    import papermill

    from icegrad.book import chapters, repository_root

    for nb in chapters(repository_root()):
        params = papermill.inspect_notebook(str(nb))
        listed = ", ".join(f"{k}={v['default']}" for k, v in params.items())
        print(f"{nb.stem}\n    {listed}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from icegrad.book import run_chapter

    output = run_chapter(args.chapter, _parameters(args.parameter), progress=not args.quiet)
    print(f"executed notebook: {output}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from icegrad.book import build_book

    html = build_book(parameters=_parameters(args.parameter), progress=not args.quiet,
                      html=not args.no_html)
    print(f"book built: {html}")
    return 0


SWEEP_HELP = """\
Attribute the ROI forecast of a target month to the inputs, or sweep many with --sweep STORE.

A sweep explains every (target month, lead, member, method) combination, one job each, and writes
each finished job atomically into STORE (see icegrad.attribution.sweep); a rerun after a crash or a
killed worker runs only the jobs still missing. Without --scheduler the jobs run in this process.

On a cluster, one single-threaded worker per GPU, each seeing one device:

    dask scheduler                                          # prints tcp://HOST:8786
    CUDA_VISIBLE_DEVICES=0 dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1 &
    CUDA_VISIBLE_DEVICES=1 dask worker tcp://HOST:8786 --nworkers 1 --nthreads 1 &
    icegrad attribute --sweep STORE --scheduler tcp://HOST:8786 ...

or, with dask-cuda installed, `dask cuda worker tcp://HOST:8786` (one worker per visible GPU), or
LocalCUDACluster() from Python. Workers need icegrad and the same icegrad cache folder
(ICEGRAD_CACHE_DIR) and STORE on a shared filesystem.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icegrad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build or load a monthly dataset and print a summary")
    _add_data_options(data)
    data.set_defaults(func=_cmd_data)

    train = sub.add_parser("train", help="train (or load from the cache) an IceNet ensemble")
    _add_data_options(train)
    _add_model_options(train)
    train.add_argument("--skill", action="store_true", help="print test-year skill against the baselines")
    train.set_defaults(func=_cmd_train)

    attribute = sub.add_parser(
        "attribute", help="attribute the ROI forecast of a target month to the inputs (or sweep many)",
        description=SWEEP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_data_options(attribute)
    _add_model_options(attribute)
    attribute.add_argument("--target-month", nargs="+", default=["2013-09"], metavar="YYYY-MM",
                           help="target month(s) (default 2013-09; several only with --sweep)")
    attribute.add_argument("--leads", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    attribute.add_argument("--method", nargs="+", default=["integrated_gradients"], metavar="METHOD",
                           help="integrated_gradients, vanilla_gradient, gradient_x_input or smoothgrad "
                                "(several only with --sweep)")
    attribute.add_argument("--steps", type=int, default=64, help="integration steps for IG")
    attribute.add_argument("--baseline", default="climatology", choices=("climatology", "zeros"))
    attribute.add_argument("--reference-year", type=int, default=2007)
    attribute.add_argument("--target-year", type=int, default=2013)
    attribute.add_argument("--month", type=int, default=9, help="calendar month of the ROI comparison")
    attribute.add_argument("--roi-rule", default=None, help="ROI rule string (default: the book's)")
    attribute.add_argument("--output", default="attributions.nc", help="netCDF file to write")
    attribute.add_argument("--sweep", metavar="STORE", default=None,
                           help="run every (target month, lead, member, method) job into the sweep store "
                                "folder STORE; a rerun runs only the jobs still missing")
    attribute.add_argument("--scheduler", metavar="ADDRESS", default=None,
                           help="Dask distributed scheduler (tcp://HOST:8786) to run the sweep on; "
                                "default: in this process")
    attribute.add_argument("--quiet", action="store_true", help="no progress bar")
    attribute.set_defaults(func=_cmd_attribute)

    listing = sub.add_parser("chapters", help="list the chapters and their parameters")
    listing.set_defaults(func=_cmd_chapters)

    run = sub.add_parser("run", help="re-execute one chapter with other parameters")
    run.add_argument("chapter", help="chapter file name, stem or number (e.g. 03)")
    _add_parameter_option(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=_cmd_run)

    book = sub.add_parser("book", help="execute every chapter and build the HTML into _build/html")
    _add_parameter_option(book)
    book.add_argument("--no-html", action="store_true", help="execute the chapters only")
    book.add_argument("--quiet", action="store_true", help="no progress bars")
    book.set_defaults(func=_cmd_book)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:  # icegrad's errors all derive from ValueError and say how to fix it
        print(f"icegrad: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
