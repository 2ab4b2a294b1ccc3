"""Time and peak memory of the book's two batched workloads under each batch budget.

Two budgets decide how many samples go through a network at once, and a bigger batch holds more
activations: ``icegrad.attribution.execution.DEFAULT_MEMORY_BUDGET`` (integrated gradients' path points)
and ``icegrad.evaluation.permutation.MEMORY_BUDGET`` (permute-and-predict's forecasts). This runs what the
chapters run with the book's default run and its shipped ensemble, once per budget, each in a fresh process
on one core as a chapter's kernel has it, and prints one line per budget:

    integrated gradients, budget B MiB: batch N, S s, peak P MiB resident (VmHWM), R MiB before
    forecasts, budget B MiB: batch N, S s, peak P MiB resident (VmHWM), R MiB before

Integrated gradients are the 2013 forecast's from zeros at two leads, uncached; the forecasts are one
member's of the 36 starts of 2012-2014, 15 times over (permute-and-predict forecasts each member's test
starts once per channel and permutation).

    python benchmarks/batch_budgets.py                         # both, at 128/256/512 and 16/64 MiB
    python benchmarks/batch_budgets.py --gradients 256 1024 --forecasts

The data come from the cache (``ICEGRAD_CACHE_DIR``); a first run generates them, which the "before" column
shows. Linux only (it reads ``/proc/self/status``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence

SETUP = """
import json, sys, time
import numpy as np
import pandas as pd
from icegrad.config import RunConfig
from icegrad.pages.common import load_run
from icegrad import pipeline

def high_water_mib() -> int:
    lines = open("/proc/self/status").read().splitlines()
    return next(int(line.split()[1]) // 1024 for line in lines if line.startswith("VmHWM"))

config = RunConfig()
run = load_run(config, attributions=False)
budget = int(sys.argv[1]) * 2**20
"""

GRADIENTS = SETUP + """
before = high_water_mib()
start = time.perf_counter()
result = pipeline.attributions(run.ds, run.ens, run.roi, config.target_month, [1, 2],
                               method="integrated_gradients", baseline="zeros", cache=False,
                               memory_budget=budget)
batch = int(result.attrs["batch_size"])
print(json.dumps({"seconds": time.perf_counter() - start, "batch": batch, "peak": high_water_mib(),
                  "before": before}))
"""

FORECASTS = SETUP + """
from icegrad.evaluation import permutation
from icegrad.inputs import build
starts = pd.date_range("2012-01", "2014-12", freq="MS")
x = np.ascontiguousarray(build.build_inputs(run.ds, starts, run.ens.stats, list(run.ens.channels))
                         .transpose("time", "y", "x", "channel").values, dtype=np.float32)
batch = permutation.forecast_batch(x, budget)
predict = run.ens.forward.bind(run.ens.members[0])
before = high_water_mib()
permutation._forecast(predict, x, batch)  # traced once, outside the timing
start = time.perf_counter()
for _ in range(15):
    permutation._forecast(predict, x, batch)
print(json.dumps({"seconds": time.perf_counter() - start, "batch": batch, "peak": high_water_mib(),
                  "before": before}))
"""

WORKLOADS = {"integrated gradients": GRADIENTS, "forecasts": FORECASTS}


def measure(code: str, budget_mib: int) -> dict[str, float]:
    """One budget's run in a fresh one-core process: seconds, batch size, peak and starting MiB."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "1",
           "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(budget_mib)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gradients", type=int, nargs="*", metavar="MIB",
                        help="integrated-gradient budgets (default 128 256 512; the flag alone: none)")
    parser.add_argument("--forecasts", type=int, nargs="*", metavar="MIB",
                        help="permute-and-predict budgets (default 16 64; the flag alone: none)")
    args = parser.parse_args(argv)
    chosen = {"integrated gradients": [128, 256, 512] if args.gradients is None else args.gradients,
              "forecasts": [16, 64] if args.forecasts is None else args.forecasts}
    for name, budgets in chosen.items():
        for budget in budgets:
            row = measure(WORKLOADS[name], budget)
            print(f"{name}, budget {budget} MiB: batch {row['batch']}, {row['seconds']:.1f} s, peak "
                  f"{row['peak']} MiB resident (VmHWM), {row['before']} MiB before", flush=True)


if __name__ == "__main__":
    main()
