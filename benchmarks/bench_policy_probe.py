"""What a score-mode policy has learned on the cpu-quickstart tasks, and what simple policies could reach there.

Run from the repository root::

    python benchmarks/bench_policy_probe.py [--checkpoint runs/quickstart-.../checkpoint.zip] [--seed 0]

Two parts, both on the preset's evaluation tasks (the first 35 valid_seen pick tasks in 3-receptacle rooms):

- **Hand policies, simulated** (no model): uniform over the admissible commands; uniform after removing ``look``,
  ``inventory``, ``examine`` and ``close``; verb weights only (``take``/``put`` x5, ``open`` x3); and a
  goal-conditioned rule (the goal's object and receptacle x5 among ``take``/``put`` commands, others x0.2). It
  separates what verb preferences alone can reach from what needs the goal read.
- **A checkpoint against its untrained start** (``--checkpoint``): along expert-led walks (the expert's command 70%
  of the time, a uniform one otherwise), the policy's probability of the expert's command relative to uniform, per
  verb, and *within its verb* (its share among the commands with the same verb, times their number: 1 means the
  policy does not tell the goal's object or receptacle from the others).
"""

from __future__ import annotations

import argparse
import collections
import random
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld import expert_command
from trainer.config import resolve_config
from trainer.training import build_model, eval_task_ids

USELESS = ("look", "inventory", "examine", "close")


def _env(config):
    return gym.make(config.env, **config.gym_kwargs(config.eval_split))


def _goal_weight(command: str, goal_words: set[str]) -> float:
    verb, words = command.split()[0], command.split()
    if verb in USELESS:
        return 0.0
    if verb == "take":  # take OBJECT N from RECEPTACLE N
        return 5.0 if words[1] in goal_words else 0.2
    if verb == "put":  # put OBJECT N in/on RECEPTACLE N
        return 5.0 if words[-2] in goal_words else 0.2
    return 1.0


def simulate(config, weight, episodes: int, seed: int) -> float:
    """Success % of the policy ``weight(command, goal_words) -> weight`` (uniform fallback when all are 0)."""
    env, rng, wins, n = _env(config), random.Random(seed), 0, 0
    for task in eval_task_ids(config):
        for _ in range(episodes):
            _, info = env.reset(options={"task_id": task})
            goal_words, done = set(info["goal"].replace(".", "").split()), False
            while not done:
                admissible = info["admissible_commands"]
                weights = [weight(c, goal_words) for c in admissible]
                weights = weights if sum(weights) > 0 else [1.0] * len(admissible)
                command = rng.choices(admissible, weights=weights)[0]
                _, _, terminated, truncated, info = env.step(command)
                done = terminated or truncated
            wins += bool(info.get("won"))
            n += 1
    return 100 * wins / n


def probe(model, config, seed: int, steps: int = 12) -> dict[str, float]:
    """Mean ratios of the expert command's probability to uniform along expert-led walks (see the module doc)."""
    env, rng, stats = _env(config), random.Random(seed), collections.defaultdict(list)
    policy = model.policy
    for task in eval_task_ids(config):
        obs, info = env.reset(options={"task_id": task})
        history: list[tuple[str, str]] = []
        for _ in range(steps):
            admissible, expert = info["admissible_commands"], expert_command(env.unwrapped.engine)
            prompt = policy.encode_prompts([model.prompt(info["goal"], history, obs["text"], admissible)])[0]
            candidates = policy.encode_candidates(admissible)
            with torch.no_grad():
                logp = policy.candidate_logprobs([prompt + policy.action_prefix_ids], [candidates])[0]
            p = logp.exp().cpu().numpy()
            verb = expert.split()[0]
            same = [i for i, c in enumerate(admissible) if c.split()[0] == verb]
            stats["expert / uniform"].append(p[admissible.index(expert)] * len(admissible))
            stats[f"expert / uniform, {verb}"].append(p[admissible.index(expert)] * len(admissible))
            if len(same) > 1:
                share = p[admissible.index(expert)] / p[same].sum()
                stats[f"within verb, {verb}"].append(share * len(same))
            stats["mass on look/inventory/examine/close"].append(
                sum(p[i] for i, c in enumerate(admissible) if c.split()[0] in USELESS)
            )
            command = expert if rng.random() < 0.7 else rng.choice(admissible)
            history.append((obs["text"], command))
            obs, _, terminated, truncated, info = env.step(command)
            if terminated or truncated:
                break
    return {key: float(np.mean(values)) for key, values in sorted(stats.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a trained checkpoint.zip to probe against its untrained start")
    parser.add_argument("--seed", type=int, default=0, help="seed of the untrained model, walks and sampling")
    parser.add_argument("--episodes", type=int, default=4, help="simulated episodes per task")
    args = parser.parse_args(argv)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        parser.error(
            f"--checkpoint {args.checkpoint} not found (python -m trainer.cli.quickstart writes one into its run dir)"
        )
    config = resolve_config("cpu-quickstart", seed=args.seed)
    hands = {
        "uniform": lambda c, g: 1.0,
        "uniform without look/inventory/examine/close": lambda c, g: 0.0 if c.split()[0] in USELESS else 1.0,
        "verbs only (take/put x5, open x3, no useless verbs)": lambda c, g: (
            0.0 if c.split()[0] in USELESS else {"take": 5.0, "put": 5.0, "open": 3.0}.get(c.split()[0], 1.0)
        ),
        "goal-conditioned take/put (x5 goal, x0.2 others)": _goal_weight,
    }
    print(f"hand policies, success % ({len(eval_task_ids(config))} tasks x {args.episodes} episodes):")
    for name, weight in hands.items():
        print(f"  {name}: {simulate(config, weight, args.episodes, args.seed):.1f}")
    if args.checkpoint:
        from trainer.gigpo import GiGPO

        before, after = (
            probe(build_model(config), config, args.seed),
            probe(GiGPO.load(args.checkpoint), config, args.seed),
        )
        print(f"policy probe (seed {args.seed}), untrained -> {args.checkpoint}:")
        for key in before:
            print(f"  {key}: {before[key]:.2f} -> {after.get(key, float('nan')):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
