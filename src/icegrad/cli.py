"""``icegrad``: the command line over the same functions the book calls.

    icegrad data --source emulated --resolution 100     build (or load) and summarise a dataset
    icegrad train --members 5 --width 0.25              train (or load) the cached IceNet ensemble
    icegrad train --pretrain-realisations 1             pre-train each member on emulated weather seed 1 first
    icegrad train --release data/networks               ship the book's ensembles (make networks)
    icegrad attribute --target-month 2013-09 --method integrated_gradients --output ig.nc
    icegrad attribute --sweep sweeps/sept --target-month 2012-09 2013-09 --method integrated_gradients \
        smoothgrad [--scheduler tcp://HOST:8786]     every (month, lead, member, method) job, resumable
    icegrad chapters                                    list the book's chapters and their parameters
    icegrad run 03 -p target_year 2012                  re-execute one chapter with other parameters
    icegrad book                                        execute every chapter and build the HTML; each
                                                        chapter's time and memory: _build/book_report.json
    icegrad cache info | verify | clear [--stage NAME]  describe, check or empty the cache

Every flag's default and range is icegrad.config.RunConfig's. Every value, the ROI rule and the output
or store path are checked before any data is built; then the data's years and forecast starts, before
any model is trained. A bad value is one line ``icegrad: error: ...`` (exit 2); ``--refresh`` recomputes
cache entries written before the command started.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from icegrad import config as run_config
from icegrad.config import DEFAULTS, RunConfig
from icegrad.errors import IcegradError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

# Run parameters as CLI flags: RunConfig field -> flag. Defaults and help come from the configuration.
DATA_FLAGS = {"data_source": "--source", "resolution_km": "--resolution"}
MODEL_FLAGS = {"members": "--members", "width": "--width", "epochs": "--epochs", "weights": "--weights",
               "pretrain_realisations": "--pretrain-realisations"}
ATTRIBUTION_FLAGS = {"leads": "--leads", "steps": "--steps", "baseline": "--baseline",
                     "reference_year": "--reference-year", "target_year": "--target-year", "month": "--month",
                     "roi_rule": "--roi-rule"}
CHOICES = {"data_source": run_config.DATA_SOURCES, "resolution_km": run_config.RESOLUTIONS_KM,
           "baseline": run_config.BASELINES}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line ``icegrad: error: ...`` like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"icegrad: error: {message}; see '{self.prog} --help'\n")


def _parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, str]:
    return {name: value for name, value in (pairs or [])}


def _add_parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="set a chapter parameter (repeatable)")


def _add_run_options(parser: argparse.ArgumentParser, flags: dict[str, str]) -> None:
    """One flag per run parameter, its default and help taken from :class:`~icegrad.config.RunConfig`."""
    for name, flag in flags.items():
        default = getattr(DEFAULTS, name)
        options: dict[str, Any] = {"dest": name, "help": run_config.help_text(name)}
        if run_config.is_sequence(name):  # every sequence run parameter holds whole numbers (leads, seeds)
            options.update(nargs="*" if run_config.may_be_empty(name) else "+", type=int,
                           default=None if default is None else list(default))
        else:
            options.update(type=type(default), default=default)
        if name in CHOICES:
            options["choices"] = CHOICES[name]
        parser.add_argument(flag, **options)


def _add_refresh_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--refresh", action="store_true",
                        help="recompute cache entries written before now instead of reading them")


def _config(args: argparse.Namespace, **fields: Any) -> RunConfig:
    """The run configuration of the parsed flags (and ``fields``), every check without data made."""
    from icegrad.run_checks import check_settings

    known = run_config.defaults()
    values = {name: value for name, value in vars(args).items() if name in known}
    return check_settings(RunConfig.from_parameters({**values, **fields}))


@contextlib.contextmanager
def _quiet(args: argparse.Namespace) -> Iterator[None]:
    """With ``--quiet``, turn off every progress bar for the command: papermill's and its work's.

    The bars are ``tqdm``'s, which reads ``TQDM_DISABLE`` from the environment; papermill's kernels
    inherit it, so training, attribution and permutation bars inside a chapter go quiet too. The
    variable is restored afterwards, so a caller of :func:`main` keeps its own bars.
    """
    if not getattr(args, "quiet", False):
        yield
        return
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def _refresh(args: argparse.Namespace) -> None:
    """With ``--refresh``, mark now as the instant before which cache entries are recomputed.

    Set in the environment, so papermill's kernels (``icegrad run``/``book``) inherit it too.
    """
    if getattr(args, "refresh", False):
        from icegrad import cache

        os.environ[cache.REFRESH_ENV] = repr(time.time())


def _cmd_data(args: argparse.Namespace) -> int:
    _config(args)
    _refresh(args)
    from icegrad.data import load_dataset
    from icegrad.diagnostics import sea_ice_extent

    ds = load_dataset(args.data_source, resolution_km=args.resolution_km)
    print(ds)
    september = sea_ice_extent(ds.siconca.sel(time=ds.time.dt.month == 9))
    print("\nSeptember sea-ice extent (million km2):")
    for t, value in zip(september.time.dt.year.values, september.values, strict=True):
        print(f"  {t}: {value:5.2f}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    config = _config(args)
    _refresh(args)
    if args.release:
        release_networks(config, args.release)
        return 0
    from icegrad import pipeline
    from icegrad.model.skill import evaluate_skill, skill_table

    ds = pipeline.dataset(config.data_source, config.resolution_km)
    ens = pipeline.run_ensemble(ds, config)
    print(ens)
    if args.skill:
        print(skill_table(evaluate_skill(ens, ds)).to_string())
    return 0


def release_networks(config: RunConfig, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Ship the networks a book run with ``config`` trains (``make networks``: at the defaults) to
    ``folder``, and return the release manifest (see :mod:`icegrad.model.shipped`).

    The networks are those of :func:`release_runs`, then those of :func:`selection_runs`, whose inputs are
    chosen by explaining the run's ensemble as readers will load it: the copy this release stores
    (written first to a scratch folder). Each comes through the book's own recipe, read from the cache or
    trained, never from shipped networks (nor from a cached copy of them); ``--refresh`` retrains even
    what the cache holds. Each is stored in float16 if that keeps its test-year binary accuracy within
    :data:`~icegrad.model.shipped.MAX_ACCURACY_CHANGE` points at every lead (measured here on the stored
    copy read back), else in float32. ``folder`` is replaced once, when every network is made, and the
    release is read back and verified before returning.
    """
    from icegrad.model import shipped

    releases = [_release(run) for run in release_runs(config)]
    with tempfile.TemporaryDirectory(prefix="icegrad-release-") as scratch:
        shipped.write_release(scratch, releases[:1])
        book = shipped.find_shipped(releases[0].params, scratch)
        held = [shipped.normalised(release.params) for release in releases]
        releases += [_release(run) for run in selection_runs(config, book)
                     if shipped.normalised(run.params) not in held]
    manifest = shipped.write_release(folder, releases)
    for release in releases:
        if shipped.find_shipped(release.params, folder) is None:
            raise IcegradError(f"the release in {folder} does not serve {release.name}; this is a bug")
    total = sum(f["bytes"] for entry in manifest["ensembles"].values() for f in entry["files"].values())
    print(f"shipped {len(releases)} ensemble(s) to {folder}: {total / 2**20:.1f} MiB")
    return manifest


def _release(run: ReleaseRun) -> Any:
    """``run``'s ensemble made (cached or trained) and measured: its skill and its storage precision."""
    from icegrad.model import shipped
    from icegrad.model.skill import evaluate_skill

    ens = run.make(False)
    if "shipped" in ens.manifest:  # the cache holds a copy of shipped networks: never re-ship those
        ens = run.make(True)
    accuracy = evaluate_skill(ens, run.ds)["binary_accuracy"]
    with tempfile.TemporaryDirectory(prefix="icegrad-release-") as scratch:
        shipped.write_release(scratch, [shipped.Release(run.name, run.params, ens, "float16")])
        half = evaluate_skill(shipped.find_shipped(run.params, scratch), run.ds)["binary_accuracy"]
    icenet, icenet_half = accuracy.sel(model="icenet"), half.sel(model="icenet")
    precision = shipped.choose_precision(icenet.values, icenet_half.values)
    skill = {"years": _test_years(ens), "lead": accuracy["lead"].values.tolist(),
             "binary_accuracy_float32": {str(m): accuracy.sel(model=m).values.round(3).tolist()
                                         for m in accuracy["model"].values},
             "binary_accuracy_float16": icenet_half.values.round(3).tolist(),
             "mean_float32": round(float(icenet.mean()), 3),
             "mean_float16": round(float(icenet_half.mean()), 3)}
    print(f"{run.name}: test-year binary accuracy (mean over leads) {skill['mean_float32']:.3f} % in "
          f"float32, {skill['mean_float16']:.3f} % with float16 kernels; ships in {precision}")
    return shipped.Release(run.name, run.params, ens, precision, skill, run.chosen)


@dataclass(frozen=True)
class ReleaseRun:
    """One shipped ensemble: its name, the dataset it trains on, the parameters that name it (its cache
    key and manifest entry), how to make it (``make(refresh)``, never from shipped networks) and, when
    it trains on chosen inputs, how they were chosen."""

    name: str
    ds: Any
    params: dict[str, Any]
    make: Callable[[bool], Any]
    chosen: dict[str, Any] | None = None


def release_runs(config: RunConfig) -> list[ReleaseRun]:
    """Every ensemble a book run with ``config`` trains: its own; its observed comparison's (if it makes
    one); and the two networks of ch. 5's data-randomisation test at its default (coarse) setting, one
    trained on the true targets and one on shuffled ones (also ch. 8's every-channel reference)."""
    from icegrad import pipeline
    from icegrad.evaluation import randomisation, selection
    from icegrad.model.train import model_parameters
    from icegrad.pages.observed import observed_config

    if config.weights:
        raise IcegradError("--release ships the book's own trained networks, not IceNet's release; drop "
                           f"--weights {config.weights}")
    runs = []
    for run in [config, *filter(None, [observed_config(config)])]:
        ds = pipeline.dataset(run.data_source, run.resolution_km)
        train_config = pipeline.train_config(ds, run.members, run.width, run.epochs,
                                             pretrain_realisations=run.pretrain_realisations)
        name = f"{run.data_source}_{run.resolution_km}km"
        runs.append(ReleaseRun(name, ds, model_parameters(ds, train_config),
                               functools.partial(_retrain, ds, train_config)))
    coarse = selection.SETTINGS["coarse"]
    ds = pipeline.dataset(config.data_source, coarse.resolution_km or config.resolution_km)
    channels = pipeline.train_config(ds, config.members, config.width, config.epochs).channels
    train_config = randomisation.shuffled_config(ds, coarse, channels)
    name = f"{config.data_source}_{coarse.resolution_km}km_coarse"
    runs.append(ReleaseRun(name, ds, model_parameters(ds, train_config),
                           functools.partial(_retrain, ds, train_config)))
    runs.append(ReleaseRun(f"{name}_shuffled", ds, randomisation.shuffled_parameters(ds, train_config, 0),
                           functools.partial(_retrain_shuffled, ds, coarse, channels)))
    return runs


def selection_runs(config: RunConfig, book: Any) -> list[ReleaseRun]:
    """The networks ch. 8 retrains at its default selection setting ('coarse'): on the top k channels of
    its gradient ranking and on k random ones, and on every channel (the reference, which is ch. 5's
    coarse network of :func:`release_runs`).

    The gradient ranking is the chapter's: ``book`` (the run's ensemble as readers load it) explains the
    run's forecast with the run's method, baseline and leads (cached like the book's, so a book built in
    the same cache reads it back). Each run says how its channels were chosen; the gradient-chosen one
    names the weights it explained (:func:`icegrad.cache.model_digest` of each member), so a test can
    tell when the book's ensemble changed under it.
    """
    from icegrad import pipeline
    from icegrad.cache import model_digest
    from icegrad.evaluation import selection
    from icegrad.model.train import model_parameters
    from icegrad.pages import input_selection
    from icegrad.pages.common import Run

    ds = pipeline.dataset(config.data_source, config.resolution_km)
    roi = pipeline.region(ds, config.reference_year, config.target_year, config.month, config.roi_rule)
    run = Run(config, ds, roi, book)
    run.result = run.explain()
    plan, setting = input_selection.PLANS["coarse"], selection.SETTINGS["coarse"]
    train_ds, _ = input_selection.training_data(run, setting.resolution_km)
    subsets = selection.subsets(list(book.channels), input_selection.choosers(run, None, plan), plan.ks)
    explained = {"weights_hash": [model_digest(member) for member in book.members],
                 "target_month": config.target_month, "leads": list(config.leads), "method": config.method,
                 "baseline": config.baseline, "steps": config.steps,
                 "ranking": input_selection.GRADIENT_RANKING}
    runs = []
    for (chooser, k), channels in subsets.items():
        train_config = selection.train_config(train_ds, channels, setting)
        name = f"{config.data_source}_{setting.resolution_km}km_coarse_{chooser}{k}"
        chosen = {"chooser": chooser, "k": k, **({"explained": explained} if chooser == "gradients" else {})}
        runs.append(ReleaseRun(name, train_ds, model_parameters(train_ds, train_config),
                               functools.partial(_retrain, train_ds, train_config), chosen))
    return runs


def _retrain(ds: Any, train_config: Any, refresh: bool) -> Any:
    """The ensemble ``train_config`` trains on ``ds``: cached or trained now, never shipped."""
    from icegrad.model.train import load_or_train

    return load_or_train(ds, train_config, shipped=False, refresh=refresh)


def _retrain_shuffled(ds: Any, setting: Any, channels: Sequence[str], refresh: bool) -> Any:
    """The data-randomisation network trained at ``setting`` on shuffled targets (shuffle seed 0, as ch. 5
    uses): cached or trained now, never shipped."""
    from icegrad.evaluation.randomisation import shuffled_target_ensemble

    return shuffled_target_ensemble(ds, setting, 0, channels, refresh=refresh, shipped=False)


def _test_years(ens: Any) -> str:
    """The test years an ensemble's skill is measured on, as ``first-last``."""
    first, last = (ens.manifest.get("splits") or {}).get("test", ("?", "?"))
    return f"{first}-{last}"


def _cmd_attribute(args: argparse.Namespace) -> int:
    """Every check first (flags, ROI rule, output or store path, then the data's span), then the work."""
    from icegrad.writable import check_output_file, check_store_folder

    config = _config(args, target_month=args.target_months[0], method=args.methods[0])
    for month in args.target_months:
        RunConfig.from_parameters({"target_month": month}, config)
    for method in args.methods:
        RunConfig.from_parameters({"method": method}, config)
    if args.sweep:
        check_store_folder(args.sweep, "sweep store")
    elif args.scheduler:
        raise IcegradError("--scheduler runs a sweep on a Dask cluster; add --sweep STORE to use it")
    elif len(args.target_months) > 1 or len(args.methods) > 1:
        raise IcegradError("several target months or methods make a sweep: add --sweep STORE "
                           "(or give one --target-month and one --method for a single netCDF file)")
    else:
        check_output_file(args.output)
    _refresh(args)
    if args.sweep:
        return _attribute_sweep(args, config)
    from icegrad.run_checks import checked_dataset

    ds = checked_dataset(config)  # years, starts and ROI, before TensorFlow is imported or a model trained
    from icegrad import pipeline
    from icegrad.attribution.results import save_result

    roi = pipeline.region(ds, config.reference_year, config.target_year, config.month, config.roi_rule)
    ens = pipeline.run_ensemble(ds, config)
    result = pipeline.attributions(ds, ens, roi, config.target_month, leads=config.leads,
                                   method=config.method, steps=config.steps, baseline=config.baseline,
                                   reference_year=config.reference_year)
    path = save_result(result, args.output)
    print(f"attributions ({config.method}, leads {list(config.leads)}) written to {path}")
    return 0


def _attribute_sweep(args: argparse.Namespace, config: RunConfig) -> int:
    """Every (target month, lead, member, method) job into the store ``--sweep``; a rerun does the missing."""
    from icegrad.sweep import sweep_command

    where = f"on the Dask cluster at {args.scheduler}" if args.scheduler else "in this process"
    jobs = len(args.target_months) * len(config.leads) * config.members * len(args.methods)
    print(f"sweep of {jobs} job(s) into {args.sweep}, {where}", flush=True)
    report = sweep_command(args.sweep, config, target_months=args.target_months, methods=args.methods,
                           scheduler=args.scheduler, progress=not args.quiet)
    print(report)
    return 0


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

    _refresh(args)  # run_chapter checks every parameter before papermill starts
    output = run_chapter(args.chapter, _parameters(args.parameter), progress=not args.quiet)
    print(f"executed notebook: {output}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from icegrad.book import build_book

    _refresh(args)
    html = build_book(parameters=_parameters(args.parameter), progress=not args.quiet,
                      html=not args.no_html, jobs=args.jobs)
    print(f"book built: {html}")
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from icegrad import cache

    if args.action == "info":
        print(cache.describe())
        return 0
    if args.action == "verify":
        report, n_bad = cache.verify()
        print(report)
        return 1 if n_bad else 0
    n = cache.clear(args.stage)
    print(f"removed {n} cache entr{'y' if n == 1 else 'ies'}"
          + (f" of stage {args.stage}" if args.stage else ""))
    return 0


SWEEP_HELP = """\
Attribute the ROI forecast of a target month to the inputs, or sweep many with --sweep STORE.

A sweep explains every (target month, lead, member, method) combination, one job each, and writes
each finished job atomically into STORE (see icegrad.sweep); a rerun after a crash or a
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
    parser = _Parser(prog="icegrad", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build or load a monthly dataset and print a summary")
    _add_run_options(data, DATA_FLAGS)
    _add_refresh_option(data)
    data.set_defaults(func=_cmd_data)

    train = sub.add_parser("train", help="train (or load from the cache) an IceNet ensemble")
    _add_run_options(train, {**DATA_FLAGS, **MODEL_FLAGS})
    train.add_argument("--skill", action="store_true", help="print test-year skill against the baselines")
    train.add_argument("--release", metavar="DIR", default="",
                       help="ship the trained ensembles (the run's, its observed comparison's and those of "
                            "ch. 5's and ch. 8's coarse tests) to DIR with a manifest (make networks: "
                            "data/networks)")
    _add_refresh_option(train)
    train.set_defaults(func=_cmd_train)

    attribute = sub.add_parser(
        "attribute", help="attribute the ROI forecast of a target month to the inputs (or sweep many)",
        description=SWEEP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_options(attribute, {**DATA_FLAGS, **MODEL_FLAGS, **ATTRIBUTION_FLAGS})
    attribute.add_argument("--target-month", dest="target_months", nargs="+", default=[DEFAULTS.target_month],
                           metavar="YYYY-MM",
                           help=run_config.help_text("target_month") + "; several only with --sweep")
    attribute.add_argument("--method", dest="methods", nargs="+", default=[DEFAULTS.method], metavar="METHOD",
                           help=f"{run_config.help_text('method')}: one of {', '.join(run_config.METHODS)} "
                                "(several only with --sweep)")
    attribute.add_argument("--output", default="attributions.nc", help="netCDF file to write")
    attribute.add_argument("--sweep", metavar="STORE", default=None,
                           help="run every (target month, lead, member, method) job into the sweep store "
                                "folder STORE; a rerun runs only the jobs still missing")
    attribute.add_argument("--scheduler", metavar="ADDRESS", default=None,
                           help="Dask distributed scheduler (tcp://HOST:8786) to run the sweep on; "
                                "default: in this process")
    attribute.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_refresh_option(attribute)
    attribute.set_defaults(func=_cmd_attribute)

    listing = sub.add_parser("chapters", help="list the chapters and their parameters")
    listing.set_defaults(func=_cmd_chapters)

    run = sub.add_parser("run", help="re-execute one chapter with other parameters (its time and memory go "
                                     "to run_report.json beside the executed notebook)")
    run.add_argument("chapter", help="chapter file name, stem or number (e.g. 03)")
    _add_parameter_option(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_refresh_option(run)
    run.set_defaults(func=_cmd_run)

    book = sub.add_parser("book", help="execute every chapter and build the HTML into _build/html; print and "
                                       "write each chapter's wall time and peak memory to "
                                       "_build/book_report.json")
    _add_parameter_option(book)
    book.add_argument("--no-html", action="store_true", help="execute the chapters only")
    book.add_argument("--quiet", action="store_true", help="no progress bars")
    book.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="chapters executed side by side, each with its share of the cores (default: "
                           "one per core, as memory allows at 3 GiB a chapter; 1: one at a time, with "
                           "progress bars)")
    _add_refresh_option(book)
    book.set_defaults(func=_cmd_book)

    cache = sub.add_parser("cache", help="describe, verify or clear icegrad's cache")
    cache.add_argument("action", choices=("info", "verify", "clear"),
                       help="info: what is cached; verify: check every entry (exit 1 if one is bad); "
                            "clear: remove entries")
    cache.add_argument("--stage", default=None, help="with clear: only this stage's entries")
    cache.set_defaults(func=_cmd_cache)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors are one line ``icegrad: error: ...``, bugs keep their traceback."""
    args = build_parser().parse_args(argv)
    try:
        with _quiet(args):
            return args.func(args)
    except IcegradError as err:  # the input's fault: the message names the value and the fix
        return _fail(str(err))
    except OSError as err:  # the filesystem's: name the path
        return _fail(_os_message(err))
    except KeyboardInterrupt:
        print("icegrad: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if _is_failed_cell(err):  # a chapter's cell raised: its traceback is in the executed notebook
            return _fail(_cell_message(err))
        raise  # a bug: keep the traceback


def _fail(message: str) -> int:
    print(f"icegrad: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def _os_message(err: OSError) -> str:
    if err.filename is None:
        return str(err) or type(err).__name__
    what = err.strerror or type(err).__name__
    paths = repr(str(err.filename)) + (f" -> {str(err.filename2)!r}" if err.filename2 else "")
    return f"{what}: {paths}; check the path exists, is of the right kind and is writable"


def _is_failed_cell(err: Exception) -> bool:
    """Whether ``err`` is papermill's failed-cell error (papermill is only imported if a chapter ran)."""
    exceptions = sys.modules.get("papermill.exceptions")
    return exceptions is not None and isinstance(err, exceptions.PapermillExecutionError)


def _cell_message(err: Any) -> str:
    """Cell, error and executed notebook of a papermill failure (the notebook holds the traceback)."""
    evalue = (str(err.evalue).strip().splitlines() or [""])[0]
    notes = "; ".join(getattr(err, "__notes__", []))
    return f"cell {err.cell_index} (In [{err.exec_count}]) raised {err.ename}: {evalue}; {notes}"


if __name__ == "__main__":
    sys.exit(main())
