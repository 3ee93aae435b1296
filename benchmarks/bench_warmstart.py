"""Supervised warm start of the tiny model on expert demonstrations, and its success afterwards.

Run from the repository root::

    python benchmarks/bench_warmstart.py [--episodes 300] [--epochs 5] [--lr 3e-3]

ALFWorld-text-v0 look-at-object-in-light tasks, 50-step episodes, the offline tiny model with full
fine-tuning in score mode; success on the valid_seen look-at tasks (sampled, 4 episodes each, and
greedy) before and after the warm start.
"""

from __future__ import annotations

import argparse
import time

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld.generator import split_task_types
from trainer.evaluation import evaluate
from trainer.gigpo import GiGPO
from trainer.sft import expert_demonstrations, supervised_warm_start

ENV_KWARGS = dict(task_types=["look_at_obj_in_light"], max_episode_steps=50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300, help="expert episodes to clone")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the demonstrations")
    parser.add_argument("--lr", type=float, default=3e-3, help="learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks, initialisation and sampling")
    args = parser.parse_args(argv)

    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        env_kwargs=ENV_KWARGS,
        learning_rate=args.lr,
        policy_kwargs=dict(model_name_or_path="tiny", use_lora=False),
        seed=args.seed,
    )
    tasks = [i for i, t in enumerate(split_task_types("valid_seen")) if t == "look_at_obj_in_light"]
    kwargs = dict(env_kwargs={**ENV_KWARGS, "split": "valid_seen"}, seed=args.seed)

    def success() -> str:
        sampled = evaluate(model, "ALFWorld-text-v0", tasks, episodes_per_task=4, **kwargs)["all"]
        greedy = evaluate(model, "ALFWorld-text-v0", tasks, deterministic=True, **kwargs)["all"]
        return f"sampled {sampled:.1f}% ({len(tasks)} tasks x 4), greedy {greedy:.1f}% ({len(tasks)} tasks)"

    print(f"before: {success()}")
    demos = expert_demonstrations(args.episodes, task_types=ENV_KWARGS["task_types"], seed=args.seed)
    start = time.perf_counter()
    losses = supervised_warm_start(model, demos, epochs=args.epochs, batch_size=32, seed=args.seed)
    print(
        f"warm start: {len(demos)} expert steps, {args.epochs} epochs, {time.perf_counter() - start:.0f} s, "
        f"loss {losses[0]:.2f} -> {sum(losses[-3:]) / 3:.2f}"
    )
    print(f"after: {success()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
