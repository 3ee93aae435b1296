"""The README's main job on several seeds: ``python -m trainer.cli.quickstart --seed S``, each run's figures on disk.

Run from the repository root::

    python benchmarks/bench_quickstart.py --seeds 0 1 2 3 4 [--out runs/quickstart-seeds]

Each seed runs the quickstart exactly as a user does (its own process, the ``cpu-quickstart`` preset, the success
table on the held-out valid_seen pick tasks before and after training) and its printed figures and wall time are
written to ``--out``/seed<S>.json; a seed whose file exists is not run again, so an interrupted study resumes.
Prints one row per seed, with no seed left out, and the mean ratio after / before.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINAL = re.compile(r"success: ([0-9.]+)% before, ([0-9.]+)% after (\d+) round")


def run_seed(seed: int, out: Path, rounds: int | None) -> dict:
    path = out / f"seed{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    run_dir = str(out / f"run-seed{seed}")
    command = [sys.executable, "-m", "trainer.cli.quickstart", "--seed", str(seed), "--run-dir", run_dir]
    command += ["--rounds", str(rounds)] if rounds is not None else []
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    found = FINAL.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"quickstart seed {seed} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    result = {
        "seed": seed,
        "before": float(found.group(1)),
        "after": float(found.group(2)),
        "rounds": int(found.group(3)),
        "seconds": round(seconds, 1),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="quickstart seeds")
    parser.add_argument("--out", default="runs/quickstart-seeds", help="folder of the per-seed files and run dirs")
    parser.add_argument("--rounds", type=int, help="passed to the quickstart (default: its preset's)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("| seed | success before % | success after % | after / before | rounds | wall time s (whole command) |")
    print("|---:|---:|---:|---:|---:|---:|")
    results = []
    for seed in args.seeds:
        r = run_seed(seed, out, args.rounds)
        results.append(r)
        ratio = r["after"] / r["before"] if r["before"] > 0 else float("inf")
        print(
            f"| {seed} | {r['before']:.1f} | {r['after']:.1f} | {ratio:.2f} | {r['rounds']} | {r['seconds']:.0f} |",
            flush=True,
        )
    before = statistics.mean(r["before"] for r in results)
    after = statistics.mean(r["after"] for r in results)
    rises = sum(r["after"] > r["before"] for r in results)
    print(
        f"\nmean over {len(results)} seeds: {before:.1f}% -> {after:.1f}% (x{after / before:.2f}); success rose in "
        f"{rises} of {len(results)} seeds"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
