"""GiGPO vs GRPO vs RLOO: the same model, seeds, budget and hyper-parameters; success and score against env steps.

Run from the repository root::

    python benchmarks/bench_learning.py [--env WebShop-text-v0] [--rounds 8] [--seeds 0 1 2] [--out benchmarks]

Each run trains the offline tiny model (random initial weights, full fine-tuning, ``score`` mode; the rest of the
hyper-parameters from the env's CPU preset of ``gigpo-train``: ``cpu-webshop`` or ``cpu-quickstart``) for
``--rounds`` rollout rounds of ``n_groups`` x ``group_size`` episodes, and evaluates it (sampled, seeded) on the
first ``--eval-tasks`` tasks of the evaluation split (the preset's episodes per task: 1 on WebShop, 4 on ALFWorld,
whose small rooms the training and evaluation share) before and after training (the untrained model is the same
for every estimator of a seed, so it is evaluated once per seed). The curves are the training rollouts' success
and return per round. Only the
estimator differs between runs; GRPO normalises by the group std (the paper's GRPO), GiGPO and RLOO by the mean
only (the paper's GiGPO setting). Prints one line per evaluation, a final table (mean +- std over seeds) and
GiGPO's step-group statistics, and writes ``learning_<env>.png`` and ``learning_<env>.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import gigpo_gym  # noqa: F401
from trainer.config import resolve_config
from trainer.evaluation import evaluate
from trainer.training import build_model, eval_task_ids

ESTIMATORS = ("gigpo", "grpo", "rloo")
SETUPS = {
    "WebShop-text-v0": dict(preset="cpu-webshop", eval_split="test"),
    "ALFWorld-text-v0": dict(preset="cpu-quickstart", eval_split="valid_seen"),
}


_BEFORE: dict[tuple, dict] = {}


def run(env_id: str, estimator: str, seed: int, rounds: int, eval_tasks: int) -> dict:
    config = resolve_config(SETUPS[env_id]["preset"], algo=estimator, seed=seed, rounds=rounds, eval_tasks=eval_tasks)
    model = build_model(config)  # the preset's hyper-parameters; only the estimator differs
    tasks = eval_task_ids(config)
    eval_kwargs = {**config.env_kwargs, "split": config.eval_split, "max_episode_steps": config.max_episode_steps}
    start = time.perf_counter()

    def evaluation(label: str) -> dict:
        table = evaluate(
            model, config.env, tasks, env_kwargs=eval_kwargs, episodes_per_task=config.eval_episodes, seed=seed
        )
        print(
            f"{env_id} {estimator} seed {seed} {label}: steps {model.num_timesteps:>6} success {table['all']:5.1f}% "
            f"score {table['score']:5.1f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        return {"env_steps": model.num_timesteps, "success": table["all"], "score": table["score"]}

    key = (env_id, seed, rounds, eval_tasks)
    if key not in _BEFORE:
        _BEFORE[key] = evaluation("before")
    curve, anchor = [], []
    for done in range(rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
        stats = model.round_stats
        curve.append(
            {
                "round": done + 1,
                "env_steps": model.num_timesteps,
                "success": 100 * stats["rollout/round_success_rate"],
                "score": 100 * stats["rollout/round_return_mean"],
            }
        )
        anchor.append((stats["gigpo/anchor_fraction"], stats["gigpo/mean_step_group_size"]))
    return {
        "before": _BEFORE[key],
        "after": evaluation(f"after {rounds} rounds"),
        "curve": curve,
        "anchor_fraction": statistics.mean(a for a, _ in anchor),
        "mean_step_group_size": statistics.mean(s for _, s in anchor),
        "time_s": time.perf_counter() - start,
    }


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):5.1f} +- {spread:4.1f}"


def plot(env_id: str, results: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), dpi=120)
    for estimator, runs in results.items():
        for key, ax in zip(("success", "score"), axes, strict=True):
            points = list(zip(*[[(p["env_steps"], p[key]) for p in r["curve"]] for r in runs], strict=True))
            steps = [statistics.mean(s for s, _ in point) for point in points]
            values = [statistics.mean(v for _, v in point) for point in points]
            ax.plot(steps, values, marker="o", label=estimator)
            ax.set_title(f"{env_id}: training rollouts' {key} (mean of {len(runs)} seeds)", fontsize=9)
            ax.set_xlabel("environment steps")
            ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path = out / f"learning_{env_id.split('-')[0].lower()}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="WebShop-text-v0", choices=list(SETUPS), help="env id")
    parser.add_argument("--rounds", type=int, default=8, help="rollout rounds per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (one run per estimator each)")
    parser.add_argument("--eval-tasks", type=int, default=50, help="evaluation tasks")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--out", default="benchmarks", help="folder for the PNG and JSON")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {e: [run(args.env, e, s, args.rounds, args.eval_tasks) for s in args.seeds] for e in args.estimators}

    print(f"\n{args.env}: {args.rounds} rounds, seeds {args.seeds}, {args.eval_tasks} eval tasks (mean +- std)")
    print("estimator   success before  success after  score before   score after    anchor frac  group size")
    for estimator, runs in results.items():
        stat = lambda key, when, runs=runs: _mean_std([r[when][key] for r in runs])  # noqa: E731
        anchor = statistics.mean(r["anchor_fraction"] for r in runs)
        size = statistics.mean(r["mean_step_group_size"] for r in runs)
        print(
            f"{estimator:<11} {stat('success', 'before')}  {stat('success', 'after')}  {stat('score', 'before')}  "
            f"{stat('score', 'after')}"
            f"  {anchor:>10.2f}  {size:>10.2f}"
        )
    name = args.env.split("-")[0].lower()
    (out / f"learning_{name}.json").write_text(json.dumps(results, indent=1))
    print(f"wrote {plot(args.env, results, out)} and {out / f'learning_{name}.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
