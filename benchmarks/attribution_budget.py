"""Time and peak memory of the book's integrated gradients under each attribution memory budget.

``icegrad.attribution.execution.DEFAULT_MEMORY_BUDGET`` decides how many path points go through the network
in one batch; a bigger batch holds more activations at once. This runs what the chapters run (the book's
default run, its shipped ensemble, integrated gradients from zeros at two leads, uncached) once per budget,
each in a fresh process on one core as a chapter's kernel has it, and prints one line per budget:

    budget B MiB: batch N, S s, peak P MiB resident (VmHWM), R MiB before attributing

    python benchmarks/attribution_budget.py                 # 128, 256 and 512 MiB
    python benchmarks/attribution_budget.py --budget 256 1024

The data come from the cache (``ICEGRAD_CACHE_DIR``); a first run generates them, which the "before" column
shows. Linux only (it reads ``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

ONE_RUN = """
import json, sys, time
from icegrad.config import RunConfig
from icegrad.pages.common import load_run
from icegrad import pipeline

def high_water_mib() -> int:
    lines = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) // 1024 for line in lines if line.startswith("VmHWM"))

config = RunConfig()
run = load_run(config, attributions=False)
before = high_water_mib()
start = time.perf_counter()
result = pipeline.attributions(run.ds, run.ens, run.roi, config.target_month, [1, 2],
                               method="integrated_gradients", baseline="zeros", cache=False,
                               memory_budget=int(sys.argv[1]) * 2**20)
print(json.dumps({"seconds": time.perf_counter() - start, "batch": int(result.attrs["batch_size"]),
                  "peak": high_water_mib(), "before": before}))
"""


def measure(budget_mib: int) -> dict[str, float]:
    """One budget's run in a fresh one-core process: seconds, batch size, peak and starting MiB."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1",
           "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", ONE_RUN, str(budget_mib)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, nargs="+", default=[128, 256, 512], metavar="MIB")
    args = parser.parse_args(argv)
    for budget in args.budget:
        started = time.perf_counter()
        row = measure(budget)
        print(f"budget {budget} MiB: batch {row['batch']}, {row['seconds']:.1f} s, peak {row['peak']} MiB "
              f"resident (VmHWM), {row['before']} MiB before attributing "
              f"# {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
