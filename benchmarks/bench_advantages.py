"""Time ``gigpo_advantages`` against the loop oracle of the tests, and its growth with rows.

Run from the repository root::

    python benchmarks/bench_advantages.py [--repeats 7]

Workload: G groups x 8 trajectories x 50 steps, sparse success rewards (2% of steps), an
invalid-action penalty on 10% of steps, and 32-character hex state hashes drawn from 20 states
per group (so anchor groups have several members, as in ALFWorld).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests/

from tests.reference_advantages import ref_gigpo  # noqa: E402
from trainer.advantages import gigpo_advantages  # noqa: E402


def make_batch(n_groups: int, group_size: int = 8, steps: int = 50, seed: int = 0):
    """Flat arrays of a rollout of ``n_groups * group_size * steps`` rows, trajectories interleaved."""
    rng = np.random.default_rng(seed)
    rows = n_groups * group_size * steps
    groups = np.repeat(np.arange(n_groups), group_size * steps)
    trajs = np.repeat(np.arange(n_groups * group_size), steps)
    rewards = (rng.random(rows) < 0.02).astype(np.float64) - 0.1 * (rng.random(rows) < 0.1)
    states = rng.integers(0, 20, rows)
    anchors = np.char.add(groups.astype(str), np.char.zfill(states.astype(str), 30))
    # Interleave trajectories the way a vector env emits them: step-major order.
    order = np.lexsort((trajs, np.tile(np.arange(steps), n_groups * group_size)))
    return rewards[order], groups[order], trajs[order], anchors[order]


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timings per size; the best is kept")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 1280], help="numbers of groups")
    args = parser.parse_args(argv)

    print(f"{'rows':>9} {'vectorised ms':>14} {'rows/s':>12} {'loop ms':>10} {'speed-up':>9}")
    base = None
    for n_groups in args.sizes:
        batch = make_batch(n_groups)
        rows = batch[0].shape[0]
        fast = best_time(lambda b=batch: gigpo_advantages(*b), args.repeats)
        loop = best_time(lambda b=batch: ref_gigpo(*[x.tolist() for x in b]), 1)
        np.testing.assert_allclose(gigpo_advantages(*batch), ref_gigpo(*batch), atol=1e-9)
        print(f"{rows:>9,} {fast * 1e3:>14.1f} {rows / fast:>12,.0f} {loop * 1e3:>10.0f} {loop / fast:>8.0f}x")
        base = base or (rows, fast)
    if len(args.sizes) > 1:
        rows, fast = batch[0].shape[0], best_time(lambda b=batch: gigpo_advantages(*b), args.repeats)
        print(f"growth: {rows / base[0]:.0f}x rows -> {fast / base[1]:.1f}x time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
