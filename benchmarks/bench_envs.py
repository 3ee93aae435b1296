"""Environment throughput and baseline policies.

Run from the repository root::

    python benchmarks/bench_envs.py [--steps 20000]

ALFWorld-text-v0 (embedded): env steps/s under a random admissible policy (the step includes the
state hash and the admissible-command list), reset time, and the success per task type of the
random policy and the expert on valid_seen (50-step limit).

WebShop-text-v0 (embedded, generated 1,000-product catalog): env steps/s under a random admissible
policy (the step includes BM25 search, page rendering, the state hash and the clickables; search
results are cached per query, as repeated rollouts of a group reuse them), the same with the cache
cleared before every search, and score (100 x mean reward) and success rate on the 500 test goals (15-step
limit) of a random policy, WebShop's rule baseline (search the instruction, buy the first result) and the expert.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import defaultdict

import gymnasium as gym

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld import SPLIT_SIZES, TASK_TYPES, expert_command
from gigpo_gym.webshop import expert_action
from trainer.evaluation import ALFWORLD_COLUMNS


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


def webshop_throughput(steps: int, cold_search: bool, seed: int = 0) -> float:
    env = gym.make("WebShop-text-v0", split="train")
    search = env.unwrapped.search_engine.search
    rng = random.Random(seed)
    _, info = env.reset(seed=seed)
    reset_time = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        command = rng.choice(info["admissible_commands"])
        if cold_search and command.startswith("search["):
            search.cache_clear()
        _, _, terminated, truncated, info = env.step(command)
        if terminated or truncated:
            t0 = time.perf_counter()
            _, info = env.reset()
            reset_time += time.perf_counter() - t0
    return steps / (time.perf_counter() - start - reset_time)


def rule_action(info: dict) -> str:
    """WebShop's rule baseline: search the instruction, open the first result, buy it."""
    commands = info["admissible_commands"]
    if "click[buy now]" in commands:
        return "click[buy now]"
    products = [c for c in commands if c.startswith("click[b0")]
    return products[0] if products else commands[0]


def webshop_scores(policy: str, seed: int = 0) -> tuple[float, float]:
    """(score = 100 x mean reward, success %) on the 500 test goals."""
    env = gym.make("WebShop-text-v0", split="test")
    rng = random.Random(seed)
    rewards = []
    for task_id in range(len(env.unwrapped.goals)):
        _, info = env.reset(options={"task_id": task_id})
        done, reward = False, 0.0
        while not done:
            if policy == "expert":
                command = expert_action(env.unwrapped.engine)
            elif policy == "rule":
                command = rule_action(info)
            else:
                command = rng.choice(info["admissible_commands"])
            _, reward, terminated, truncated, info = env.step(command)
            done = terminated or truncated
        rewards.append(reward)
    return 100.0 * sum(rewards) / len(rewards), 100.0 * sum(r == 1.0 for r in rewards) / len(rewards)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="random-policy steps to time")
    args = parser.parse_args(argv)

    rate, reset = alfworld_throughput(args.steps)
    print(f"ALFWorld-text-v0 embedded: {rate:,.0f} steps/s, reset {reset * 1e3:.2f} ms ({args.steps:,} steps)")
    short = [ALFWORLD_COLUMNS[t] for t in TASK_TYPES] + ["All"]
    print("valid_seen success %  " + " ".join(f"{s:>6}" for s in short))
    for policy in ("random", "expert"):
        row = alfworld_success(policy)
        print(f"{policy:<21}" + " ".join(f"{v:>6.1f}" for v in row.values()))

    warm = webshop_throughput(args.steps, cold_search=False)
    cold = webshop_throughput(args.steps, cold_search=True)
    print(f"WebShop-text-v0 embedded: {warm:,.0f} steps/s (search cache on), {cold:,.0f} steps/s (every search cold)")
    print("WebShop test goals (500)  score  success %")
    for policy in ("random", "rule", "expert"):
        score, success = webshop_scores(policy)
        print(f"{policy:<25} {score:>5.1f} {success:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
