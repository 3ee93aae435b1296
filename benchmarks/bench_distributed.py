"""One process against two (``torchrun``, gloo): wall time per round and peak memory per process, in one run.

    python benchmarks/bench_distributed.py [--rounds 4] [--out runs/bench-distributed]

Both run the ``cpu-quickstart`` preset (its 4 groups x 8 per round; the two processes roll out 2 groups each) for
``--rounds`` rounds with a one-episode evaluation, one after the other on the same machine: one process with
``OMP_NUM_THREADS=2``, two with 1 thread each (the machine's 2 cores either way). A round's time is its rollout
plus its update as the run logs them (``rollout/time_s``: the slowest rank's; ``train/time_s``: rank 0's); the
first round (warm-up) is left out of the median. Peak memory is the largest resident set of any process of the run
(``RUSAGE_CHILDREN`` of a wrapper process, so each run is measured alone).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

MEASURE = (
    "import json, resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(json.dumps({'rc': done.returncode, 'max_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss "
    "/ 1024}))"
)


def run(processes: int, rounds: int, run_dir: Path) -> dict[str, float]:
    """Train ``rounds`` rounds of the preset in ``processes`` processes; its round times and peak memory."""
    shutil.rmtree(run_dir, ignore_errors=True)
    train = [
        "-m",
        "trainer.cli.train",
        "--preset",
        "cpu-quickstart",
        "--rounds",
        str(rounds),
        "--run-dir",
        str(run_dir),
        "--no-progress",
        "--set",
        "eval_tasks=1",
        "--set",
        "eval_episodes=1",
    ]
    torchrun = str(Path(sys.executable).parent / "torchrun")
    command = (
        [sys.executable, *train]
        if processes == 1
        else [torchrun, "--standalone", "--nproc_per_node", str(processes), *train]
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, 2 // processes))}
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], env=env, capture_output=True, text=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    if measured["rc"] != 0:
        raise SystemExit(f"{processes}-process run failed (exit {measured['rc']}): {done.stderr[-2000:]}")
    with (run_dir / "progress.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    times = [float(r["rollout/time_s"]) + float(r["train/time_s"]) for r in rows]
    steps = [float(r["rollout/steps"]) for r in rows]
    return {
        "round_s": statistics.median(times[1:] or times),
        "steps": statistics.mean(steps),
        "max_rss_mb": measured["max_rss_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="rounds per run (the first is a warm-up)")
    parser.add_argument("--out", default="runs/bench-distributed", help="folder of the two run directories")
    args = parser.parse_args(argv)
    out = Path(args.out)
    one, two = run(1, args.rounds, out / "one"), run(2, args.rounds, out / "two")
    print(f"cpu-quickstart, {args.rounds} rounds each (median of rounds 2-{args.rounds}), 2 cores\n")
    print("| processes | threads each | steps per round | round s (rollout + update) | peak RSS per process MB |")
    print("|---:|---:|---:|---:|---:|")
    for n, r in ((1, one), (2, two)):
        print(f"| {n} | {max(1, 2 // n)} | {r['steps']:.0f} | {r['round_s']:.1f} | {r['max_rss_mb']:.0f} |")
    print(
        f"\n2 processes / 1: round time x{two['round_s'] / one['round_s']:.2f}, peak memory per process "
        f"x{two['max_rss_mb'] / one['max_rss_mb']:.2f}"
    )
    print(json.dumps({"one": one, "two": two}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
