"""Environment throughput and baseline policies.

Run from the repository root::

    python benchmarks/bench_envs.py [--steps 20000]

ALFWorld-text-v0 (embedded): env steps/s under a random admissible policy (the step includes the
state hash and the admissible-command list), reset time, and the success per task type of the
random policy and the expert on valid_seen (50-step limit).
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import gymnasium as gym

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld import SPLIT_SIZES, TASK_TYPES, expert_command


def alfworld_throughput(steps: int, seed: int = 0) -> tuple[float, float]:
    env = gym.make("ALFWorld-text-v0", split="train")
    rng = random.Random(seed)
    _, info = env.reset(seed=seed)
    resets, reset_time = 1, 0.0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(rng.choice(info["admissible_commands"]))
        if terminated or truncated:
            t0 = time.perf_counter()
            _, info = env.reset()
            reset_time += time.perf_counter() - t0
            resets += 1
    elapsed = time.perf_counter() - start - reset_time
    return steps / elapsed, reset_time / max(resets - 1, 1)


def alfworld_success(policy: str, split: str = "valid_seen", seed: int = 0) -> dict[str, float]:
    env = gym.make("ALFWorld-text-v0", split=split)
    rng = random.Random(seed)
    wins, counts = defaultdict(int), defaultdict(int)
    for task_id in range(SPLIT_SIZES[split]):
        _, info = env.reset(options={"task_id": task_id})
        done = False
        while not done:
            if policy == "expert":
                command = expert_command(env.unwrapped.engine)
            else:
                command = rng.choice(info["admissible_commands"])
            _, _, terminated, truncated, info = env.step(command)
            done = terminated or truncated
        counts[info["task_type"]] += 1
        wins[info["task_type"]] += bool(info["won"])
    table = {t: 100.0 * wins[t] / counts[t] for t in TASK_TYPES}
    table["all"] = 100.0 * sum(wins.values()) / sum(counts.values())
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="random-policy steps to time")
    args = parser.parse_args(argv)

    rate, reset = alfworld_throughput(args.steps)
    print(f"ALFWorld-text-v0 embedded: {rate:,.0f} steps/s, reset {reset * 1e3:.2f} ms ({args.steps:,} steps)")
    short = ["Pick", "Look", "Clean", "Heat", "Cool", "Pick2", "All"]
    print("valid_seen success %  " + " ".join(f"{s:>6}" for s in short))
    for policy in ("random", "expert"):
        row = alfworld_success(policy)
        print(f"{policy:<21}" + " ".join(f"{v:>6.1f}" for v in row.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
