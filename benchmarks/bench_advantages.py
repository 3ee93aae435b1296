"""Time GiGPO's advantages on the trainer's path and as a bare function, against the loop oracle of the tests.

Run from the repository root::

    python benchmarks/bench_advantages.py [--repeats 7]

Workload: G groups x 8 trajectories x 50 steps, sparse success rewards (2% of steps), an
invalid-action penalty on 10% of steps, and 32-character hex state hashes drawn from 20 states
per group (so anchor groups have several members, as in ALFWorld).

Columns: ``buffer ms`` is the path the trainer takes, ``GroupRolloutBuffer.compute_advantages()`` on steps whose
state hashes are 32-hex strings, interned to int codes as the steps were added (``add us/step``: that interning and
storing, paid once per env step during the rollout); ``function ms`` is ``gigpo_advantages`` called on the string
keys directly (it factorises them itself); ``loop ms`` the tests' loop oracle.
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
from trainer.buffer import GroupRolloutBuffer, StepRecord  # noqa: E402


def make_batch(n_groups: int, group_size: int = 8, steps: int = 50, seed: int = 0):
    """Flat arrays of a rollout of ``n_groups * group_size * steps`` rows, trajectories interleaved."""
    rng = np.random.default_rng(seed)
    rows = n_groups * group_size * steps
    groups = np.repeat(np.arange(n_groups), group_size * steps)
    trajs = np.repeat(np.arange(n_groups * group_size), steps)
    rewards = (rng.random(rows) < 0.02).astype(np.float64) - 0.1 * (rng.random(rows) < 0.1)
    states = rng.integers(0, 20, rows)
    anchors = np.char.add(np.char.zfill(groups.astype(str), 6), np.char.zfill(states.astype(str), 26))  # 32 digits
    # Interleave trajectories the way a vector env emits them: step-major order.
    order = np.lexsort((trajs, np.tile(np.arange(steps), n_groups * group_size)))
    return rewards[order], groups[order], trajs[order], anchors[order]


def filled_buffer(rewards, groups, trajs, anchors) -> tuple[GroupRolloutBuffer, float]:
    """A GiGPO buffer holding the batch as the trainer stores it, and the time its ``add`` calls took."""
    buffer = GroupRolloutBuffer(estimator="gigpo", norm="mean")
    empty = np.zeros(1, np.float32)
    records = [
        StepRecord([1], [2], empty, float(max(r, 0.0)), float(min(r, 0.0)), str(a), "", int(g), int(t), 0)
        for r, g, t, a in zip(rewards, groups, trajs, anchors, strict=True)
    ]
    start = time.perf_counter()
    for record in records:
        buffer.add(record)
    return buffer, time.perf_counter() - start


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

    print(
        f"{'rows':>9} {'buffer ms':>10} {'add us/step':>12} {'function ms':>12} {'rows/s':>12} {'loop ms':>10} "
        f"{'speed-up':>9}"
    )
    base = None
    for n_groups in args.sizes:
        batch = make_batch(n_groups)
        rows = batch[0].shape[0]
        buffer, add_s = filled_buffer(*batch)
        path = best_time(buffer.compute_advantages, args.repeats)
        fast = best_time(lambda b=batch: gigpo_advantages(*b), args.repeats)
        loop = best_time(lambda b=batch: ref_gigpo(*[x.tolist() for x in b]), 1)
        # the buffer's penalties are per row (penalty_mode "row"), as the function's are folded into the rewards
        np.testing.assert_allclose(gigpo_advantages(*batch), ref_gigpo(*batch), atol=1e-9)
        a = buffer.arrays()
        np.testing.assert_allclose(
            buffer.advantages,
            gigpo_advantages(a["rewards"], a["group_ids"], a["traj_ids"], batch[3], penalties=a["penalties"]),
            atol=0,
        )
        print(
            f"{rows:>9,} {path * 1e3:>10.1f} {add_s / rows * 1e6:>12.2f} {fast * 1e3:>12.1f} {rows / path:>12,.0f} "
            f"{loop * 1e3:>10.0f} {loop / path:>8.0f}x"
        )
        base = base or (rows, path)
    if len(args.sizes) > 1:
        rows, path = batch[0].shape[0], best_time(filled_buffer(*batch)[0].compute_advantages, args.repeats)
        print(f"growth (buffer path): {rows / base[0]:.0f}x rows -> {path / base[1]:.1f}x time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
