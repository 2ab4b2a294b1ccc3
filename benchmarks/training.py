"""How long the book's default IceNet ensemble takes to train, measured, not estimated.

Trains the book's recipe (:func:`icegrad.pipeline.train_config`: five narrow members at 100 km on the
embedded emulated Arctic, each pre-trained on another realisation first, by default) in a fresh temporary
cache and prints wall-clock times: data loading, input building, every member, and the total, with the
skill of the result on the test years so the number is never the time of a network that learnt nothing.

On a machine shared with other jobs the wall-clock time measures the neighbours as much as the
training, so it also prints the process's CPU time (all threads) and the load average: on an idle
two-core machine the training cannot take longer than its CPU time, nor less than half of it, which
brackets what an otherwise idle CI machine would see. It prints the process's peak resident memory
(VmHWM, data loading included) too: training streams its samples from disk, so this must stay within
the 3 GB the book promises at 100 km, whatever the number of years.

    python benchmarks/training.py                       # the book's default ensemble
    python benchmarks/training.py --members 1 --epochs 1 --resolution 200   # a quick smoke run
    python benchmarks/training.py --members 1 --epochs 1    # peak memory of one member at 100 km
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import tempfile
import time


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (VmHWM; ``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=100, help="grid resolution in km (default 100)")
    parser.add_argument("--members", type=int, help="override TrainConfig.members")
    parser.add_argument("--epochs", type=int, help="override TrainConfig.epochs")
    parser.add_argument("--filters-factor", type=float, help="override TrainConfig.filters_factor")
    parser.add_argument("--learning-rate", type=float, help="override TrainConfig.learning_rate")
    parser.add_argument("--loss", choices=("focal", "crossentropy"), help="override TrainConfig.loss")
    parser.add_argument("--pretrain-realisations", type=int, nargs="*", metavar="SEED",
                        help="pre-train on these realisations (default: the book's; the flag alone: none)")
    parser.add_argument("--keep", action="store_true",
                        help="train into ICEGRAD_CACHE_DIR (retraining any cached copy) so the book "
                             "reuses the timed ensemble, instead of into a temporary cache")
    args = parser.parse_args()

    from icegrad import pipeline
    from icegrad.data import load_dataset
    from icegrad.model import skill
    from icegrad.model.train import load_or_train

    t0 = time.perf_counter()
    ds = load_dataset("emulated", resolution_km=args.resolution)
    t_data = time.perf_counter() - t0
    print(f"data: emulated Arctic (synthetic) at {args.resolution} km, {ds.sizes['time']} months, "
          f"loaded in {t_data:.1f} s; peak resident memory so far {peak_rss_mib():.0f} MiB")
    given = {"members": args.members, "width": args.filters_factor, "epochs": args.epochs}
    recipe = pipeline.train_config(ds, pretrain_realisations=args.pretrain_realisations,
                                   **{k: v for k, v in given.items() if v is not None})
    overrides = {"learning_rate": args.learning_rate, "loss": args.loss}
    config = dataclasses.replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    print(f"config: {config}")
    with tempfile.TemporaryDirectory() as cache:
        if not args.keep:
            os.environ["ICEGRAD_CACHE_DIR"] = cache
        load_before = os.getloadavg()[0]
        t0, cpu0 = time.perf_counter(), time.process_time()
        ensemble = load_or_train(ds, config, refresh=True)  # time a real training, never a cache hit
        total, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        peak_training = peak_rss_mib()
        load_after = os.getloadavg()[0]
        t0 = time.perf_counter()
        scores = skill.evaluate_skill(ensemble, ds)
        t_skill = time.perf_counter() - t0
    for summary in ensemble.manifest["members_summary"]:
        print(f"member seed {summary['seed']}: {summary['epochs_run']} epoch(s), best val loss "
              f"{summary['best_val_loss']:.4f}, temperature {summary['temperature']:.3f}")
    print(f"training {len(ensemble)} member(s) incl. input building and saving: {total:.1f} s "
          f"({total / 60:.1f} min; {total / len(ensemble):.1f} s per member) on {os.cpu_count()} CPU core(s)")
    cores = min(os.cpu_count() or 1, 2)
    print(f"peak resident memory (VmHWM, data loading included): {peak_training:.0f} MiB")
    print(f"CPU time {cpu:.1f} s; 1-min load average {load_before:.1f} before, {load_after:.1f} after; "
          f"an idle {cores}-core machine would need between {cpu / cores / 60:.1f} and {cpu / 60:.1f} min")
    print(f"skill on the test years (computed in {t_skill:.1f} s):")
    print(skill.skill_table(scores).pivot_table(index=["metric", "model"], columns="lead", values="value")
          .round(2).to_string())


if __name__ == "__main__":
    main()
