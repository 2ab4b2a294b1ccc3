"""``icegrad``: the command line over the same functions the book calls.

    icegrad data --source emulated --resolution 100     build (or load) and summarise a dataset
    icegrad chapters                                    list the book's chapters and their parameters
    icegrad run 03 -p target_year 2012                  re-execute one chapter with other parameters
    icegrad book                                        execute every chapter and build the HTML
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from icegrad import grid
from icegrad.data.schema import DATA_SOURCES


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="icegrad", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="build or load a monthly dataset and print a summary")
    data.add_argument("--source", default="emulated", choices=DATA_SOURCES)
    data.add_argument("--resolution", type=int, default=100, choices=grid.SUPPORTED_RESOLUTIONS_KM)
    data.set_defaults(func=_cmd_data)

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
