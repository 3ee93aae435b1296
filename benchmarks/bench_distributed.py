"""One process against two (``torchrun``, gloo): wall time per round and peak memory per process, in one run.

    python benchmarks/bench_distributed.py [--rounds 4] [--out runs/bench-distributed]
    python benchmarks/bench_distributed.py --arms ddp fsdp --model smollm2 --rounds 2 --set n_groups=2 ...

``--arms`` picks the runs: ``one`` (one process), ``ddp`` (two, ``sharding=none``), ``fsdp`` (two,
``sharding=fsdp``); ``--model`` and ``--set`` change the preset (a model large enough for its optimiser state to
show in the resident set shows what FSDP's sharding saves).

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


ARMS = {"one": (1, "none"), "ddp": (2, "none"), "fsdp": (2, "fsdp")}


def run(arm: str, rounds: int, run_dir: Path, model: str | None, sets: list[str]) -> dict[str, float]:
    """Train ``rounds`` rounds of the preset as ``arm`` says; its round times and peak memory."""
    processes, sharding = ARMS[arm]
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
        "--sharding",
        sharding,
        *(["--model", model] if model else []),
        *[a for item in sets for a in ("--set", item)],
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
        raise SystemExit(f"{arm} run failed (exit {measured['rc']}): {done.stderr[-2000:]}")
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
    parser.add_argument("--out", default="runs/bench-distributed", help="folder of the run directories")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=["one", "ddp"], help="runs, in this order")
    parser.add_argument("--model", default=None, help="the preset's model instead (e.g. smollm2)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a preset override")
    args = parser.parse_args(argv)
    out = Path(args.out)
    results = {arm: run(arm, args.rounds, out / arm, args.model, args.set) for arm in args.arms}
    what = ", ".join(["cpu-quickstart", *([f"model {args.model}"] if args.model else []), *args.set])
    print(f"{what}; {args.rounds} rounds each (median of rounds 2-{args.rounds}), 2 cores\n")
    print("| run | processes | sharding | threads each | steps per round | round s (rollout + update) | peak RSS "
          "per process MB |")  # fmt: skip
    print("|---|---:|---|---:|---:|---:|---:|")
    for arm, r in results.items():
        n, sharding = ARMS[arm]
        print(
            f"| {arm} | {n} | {sharding} | {max(1, 2 // n)} | {r['steps']:.0f} | {r['round_s']:.1f} | "
            f"{r['max_rss_mb']:.0f} |"
        )
    first, base = args.arms[0], results[args.arms[0]]
    print()
    for arm in args.arms[1:]:
        r = results[arm]
        print(
            f"{arm} / {first}: round time x{r['round_s'] / base['round_s']:.2f}, peak memory per process "
            f"x{r['max_rss_mb'] / base['max_rss_mb']:.2f}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
