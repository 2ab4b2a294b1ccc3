"""Build icegrad's embedded NSIDC CDR record (data/nsidc_cdr_nh_sic_*.nc) from a folder of NSIDC files.

Run from the repository root::

    python data/scripts/make_nsidc_record.py SOURCE [--version N] [--out data]

SOURCE is a folder of G02202 monthly northern-hemisphere files: the output of
``icegrad.data.nsidc.download`` or any local copy (the committed record was built from the shared
combined v3 file, ``../shared/reference/real_files``). The work is
:func:`icegrad.data.nsidc_record.build_record`: regridding exactly as ``icegrad.data.nsidc.load``
does, uint8 percent, provenance in the global attributes, each file written atomically. Prints the
files and their total size (the budget is 10 MB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from icegrad.data.nsidc_record import build_record

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="folder (or file) of NSIDC G02202 monthly NH files")
    parser.add_argument("--version", type=int, default=None, help="CDR version if the folder mixes them")
    parser.add_argument("--out", type=Path, default=ROOT / "data", help="output folder (default: data/)")
    args = parser.parse_args()
    paths = build_record(args.source, args.out, args.version)
    total = 0
    for res, path in sorted(paths.items()):
        size = path.stat().st_size
        total += size
        print(f"{res:>4} km  {path}  {size / 1e6:.2f} MB")
    print(f"total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
