"""Quickstart: train GiGPO on ALFWorld-text-v0 with the offline tiny model for a few minutes on CPU.

    python -m trainer.quickstart [--rounds 8] [--seed 0]

Prints SB3's progress bar and logs, and the success rate on fixed evaluation tasks before and
after training. The configuration is CPU-sized: look-at-object-in-light tasks (the type a random
policy sometimes solves, so groups have a learning signal), ALFWorld's 50-step episodes, the tiny random-init
model in ``score`` mode with full fine-tuning.
"""

from __future__ import annotations

import argparse
import time

import gigpo_gym  # noqa: F401  (registers the env ids)
from gigpo_gym.alfworld.generator import split_task_types

from .evaluation import evaluate
from .gigpo import GiGPO

ENV_KWARGS = dict(task_types=["look_at_obj_in_light"], max_episode_steps=50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="rollout rounds (one update each)")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks, sampling and initialisation")
    parser.add_argument("--model", default="tiny", help="model name or path (default: the offline tiny model)")
    args = parser.parse_args(argv)

    n_groups, group_size = 4, 4
    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        env_kwargs=ENV_KWARGS,
        n_groups=n_groups,
        group_size=group_size,
        learning_rate=1e-3,
        batch_size=64,
        micro_batch_size=16,
        policy_kwargs=dict(model_name_or_path=args.model, action_mode="score", use_lora=False),
        seed=args.seed,
        verbose=1,
    )
    eval_tasks = [i for i, t in enumerate(split_task_types("valid_seen")) if t == "look_at_obj_in_light"]
    eval_kwargs = dict(env_kwargs={**ENV_KWARGS, "split": "valid_seen"}, episodes_per_task=4, seed=args.seed)
    before = evaluate(model, "ALFWorld-text-v0", eval_tasks, **eval_kwargs)["all"]
    print(f"success before training: {before:.1f}% ({len(eval_tasks)} valid_seen tasks x 4 episodes)")
    start = time.perf_counter()
    steps_per_round = n_groups * group_size * ENV_KWARGS["max_episode_steps"]
    model.learn(total_timesteps=args.rounds * steps_per_round, progress_bar=True, log_interval=1)
    after = evaluate(model, "ALFWorld-text-v0", eval_tasks, **eval_kwargs)["all"]
    elapsed = time.perf_counter() - start
    print(f"success after {args.rounds} round(s) ({elapsed:.0f} s): {after:.1f}% (before {before:.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
