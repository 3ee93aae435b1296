"""Rollout and update throughput and peak memory, GiGPO and PPO against GRPO, in one run.

Run from the repository root::

    python benchmarks/bench_rollout.py [--env ALFWorld-text-v0] [--mode generate] [--rounds 2] [--repeats 2]

Each measurement is a fresh worker process (so its peak RSS is its own) that trains the offline tiny model for
``--rounds`` rounds with one estimator, same seed, model and hyper-parameters; workers alternate GiGPO, GRPO, PPO,
GiGPO, GRPO, PPO ... to spread machine noise over all. Reported per estimator (mean over repeats): wall time per
round, env steps/s and generated tokens/s during rollouts (PPO's include its critic pass over the round's states),
update tokens/s (prompt + response tokens per second of ``train``; PPO's update adds a value forward and backward),
optimiser steps per round and update seconds per optimiser step (a mini-batch whose advantages are all zero takes no
step in the group estimators, so their update time depends on how much signal a round holds),
the advantage computation's time, and peak RSS; then the ratios to GRPO. The paper's claims: GiGPO costs the same
memory and little extra time; PPO's critic costs both (here it shares the policy's trunk, so its memory is one
linear head and the value pass's activations; verl's separate critic model would double the weights and optimiser
state).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

ESTIMATORS = ("gigpo", "grpo", "ppo")
NAMES = {"gigpo": "GiGPO", "grpo": "GRPO", "ppo": "PPO"}


def worker(env_id: str, estimator: str, mode: str, rounds: int) -> dict:
    import gigpo_gym  # noqa: F401
    from trainer.gigpo import GiGPO

    # ALFWorld: the quickstart's pick tasks in 3-receptacle rooms, where a random policy succeeds often enough that
    # the group estimators have signal (a mini-batch of zero advantages takes no optimiser step, which would make
    # their updates look free next to PPO's, whose critic always trains)
    alfworld = {"task_types": ["pick_and_place_simple"], "max_receptacles": 3}
    kwargs = alfworld if env_id.startswith("ALFWorld") else {"split": "train"}
    model = GiGPO(
        "LLMPolicy",
        env_id,
        env_kwargs={**kwargs, "max_episode_steps": 15},
        n_groups=4,
        group_size=4,
        estimator=estimator,
        history_length=1,
        batch_size=64,
        micro_batch_size=16,
        seed=0,
        policy_kwargs=dict(model_name_or_path="tiny", action_mode=mode, use_lora=False, max_new_tokens=32),
    )
    totals = dict(
        round_s=0.0,
        rollout_s=0.0,
        update_s=0.0,
        env_steps=0,
        gen_tokens=0,
        update_tokens=0,
        advantage_ms=0.0,
        optimizer_steps=0,
    )
    original_train = model.train

    def timed_train() -> None:
        start = time.perf_counter()
        original_train()
        totals["update_s"] += time.perf_counter() - start
        totals["optimizer_steps"] += model.last_train_stats["optimizer_steps"]

    model.train = timed_train
    for done in range(rounds):
        start = time.perf_counter()
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
        totals["round_s"] += time.perf_counter() - start
        records = model.rollout_buffer.records
        totals["rollout_s"] += model.round_stats["rollout/time_s"]
        totals["env_steps"] += len(records)
        totals["gen_tokens"] += sum(len(r.response_ids) for r in records)
        totals["update_tokens"] += sum(len(r.prompt_ids) + len(r.response_ids) for r in records)
        start = time.perf_counter()
        model.rollout_buffer.compute_advantages()  # the only estimator-specific work: timed on its own
        totals["advantage_ms"] += 1e3 * (time.perf_counter() - start)
    totals["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ALFWorld-text-v0", help="env id")
    parser.add_argument("--mode", default="generate", choices=["generate", "score"], help="LLMPolicy action mode")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per worker")
    parser.add_argument("--repeats", type=int, default=2, help="workers per estimator")
    parser.add_argument("--worker", choices=ESTIMATORS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.env, args.worker, args.mode, args.rounds)))
        return 0

    runs: dict[str, list[dict]] = {e: [] for e in ESTIMATORS}
    for _ in range(args.repeats):
        for estimator in ESTIMATORS:
            command = [
                sys.executable,
                __file__,
                "--worker",
                estimator,
                "--env",
                args.env,
                "--mode",
                args.mode,
                "--rounds",
                str(args.rounds),
            ]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[estimator].append(json.loads(out.strip().splitlines()[-1]))

    def mean(estimator: str, f) -> float:
        return statistics.mean(f(r) for r in runs[estimator])

    metrics = {
        "s per round": lambda r: r["round_s"] / args.rounds,
        "env steps/s (rollout)": lambda r: r["env_steps"] / r["rollout_s"],
        "generated tokens/s": lambda r: r["gen_tokens"] / r["rollout_s"],
        "update tokens/s": lambda r: r["update_tokens"] / r["update_s"],
        "optimiser steps/round": lambda r: r["optimizer_steps"] / args.rounds,
        "update s/optim. step": lambda r: r["update_s"] / max(r["optimizer_steps"], 1),
        "advantages ms/round": lambda r: r["advantage_ms"] / args.rounds,
        "peak RSS MB": lambda r: r["peak_rss_mb"],
    }
    print(f"{args.env}, {args.mode} mode, tiny model, 4 groups x 4, {args.rounds} rounds x {args.repeats} workers each")
    print(f"{'':<24}" + "".join(f"{NAMES[e]:>10}" for e in ESTIMATORS) + f"{'GiGPO/GRPO':>12}{'PPO/GRPO':>10}")
    for name, f in metrics.items():
        values = {e: mean(e, f) for e in ESTIMATORS}
        cells = "".join(f"{values[e]:>10.1f}" for e in ESTIMATORS)
        ratios = [f"{values[e] / values['grpo']:.3f}" if values["grpo"] else "-" for e in ("gigpo", "ppo")]
        print(f"{name:<24}{cells}{ratios[0]:>12}{ratios[1]:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
