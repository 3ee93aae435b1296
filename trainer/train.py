"""``gigpo-train``: train an agent from a config, into a run directory that can be resumed.

    gigpo-train --preset cpu-quickstart
    gigpo-train --env WebShop-text-v0 --algo grpo --model tiny --set rounds=20 --set history_length=1
    gigpo-train --resume --run-dir runs/my-run --set rounds=30

The run directory holds ``config.yaml`` (the resolved config), ``progress.csv`` and TensorBoard
events, ``checkpoint.zip`` + ``state.json`` (written atomically
after every ``checkpoint_every`` rounds), and at the end ``eval.json``, ``eval.md`` and
``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from stable_baselines3.common.logger import configure
from tqdm.auto import tqdm

from .config import PRESETS, ConfigError, TrainConfig, resolve_config

__all__ = ["main", "train"]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def env_kwargs_of(config: TrainConfig, split: str | None = None) -> dict[str, Any]:
    """``gym.make`` keyword arguments of ``config``'s env, on ``split`` when given."""
    kwargs = {
        **config.env_kwargs, "max_episode_steps": config.max_episode_steps, "success_reward": config.success_reward
    }
    if split is not None:
        kwargs["split"] = split
    return kwargs


def build_model(config: TrainConfig, verbose: int = 0):
    """A new :class:`~trainer.gigpo.GiGPO` agent per ``config`` (deterministic for its seed).

    A model that cannot be loaded (no such path, no hub access offline, a preset's extra missing) raises
    :class:`ConfigError` naming it.
    """
    from .gigpo import GiGPO

    try:
        return GiGPO(
            "LLMPolicy",
            config.env,
            env_kwargs=env_kwargs_of(config),
            n_groups=config.n_groups,
            group_size=config.group_size,
            estimator=config.algo,
            learning_rate=config.learning_rate,
            gamma=config.gamma,
            omega=config.omega,
            norm=config.norm,
            episode_stats=config.episode_stats,
            anchor=config.anchor,
            history_length=config.history_length,
            invalid_action_penalty=config.invalid_action_penalty,
            penalty_mode=config.penalty_mode,
            validity_rule=config.validity_rule,
            n_epochs=config.n_epochs,
            batch_size=config.batch_size,
            micro_batch_size=config.micro_batch_size,
            clip_range=config.clip_range,
            clip_ratio_c=config.clip_ratio_c,
            filter_groups=config.filter_groups,
            kl_coef=config.kl_coef,
            ent_coef=config.ent_coef,
            max_grad_norm=config.max_grad_norm,
            policy_kwargs=dict(
                model_name_or_path=config.model,
                action_mode=config.action_mode,
                score_reduction=config.score_reduction,
                use_lora=config.use_lora,
                lora_r=config.lora_r,
                lora_alpha=config.lora_alpha,
                gradient_checkpointing=config.gradient_checkpointing,
                temperature=config.temperature,
                max_new_tokens=config.max_new_tokens,
                max_prompt_tokens=config.max_prompt_tokens,
            ),
            seed=config.seed,
            device=config.device,
            verbose=verbose,
        )
    except (OSError, ImportError) as error:
        raise ConfigError(f"cannot load model {config.model!r}: {error}") from error


def eval_task_ids(config: TrainConfig) -> list[int]:
    """The first ``eval_tasks`` tasks of the eval split (fewer when the split is smaller)."""
    import gymnasium as gym

    env = gym.make(config.env, **env_kwargs_of(config, config.eval_split)).unwrapped
    return env.task_ids[: config.eval_tasks]


def learning_curve(run_dir: Path) -> Path:
    """``learning_curve.png``: this run's per-round success rate and return against env steps."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [*sorted(run_dir.glob("progress-until-round*.csv")), run_dir / "progress.csv"]
    rows = [r for f in files for r in csv.DictReader(f.open()) if r.get("rollout/round_success_rate")]
    steps = [float(r["time/total_timesteps"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot(steps, [100 * float(r["rollout/round_success_rate"]) for r in rows], marker="o", label="success %")
    ax.plot(steps, [100 * float(r["rollout/round_return_mean"]) for r in rows], marker=".", label="100 x return")
    ax.set_xlabel("environment steps")
    ax.set_title(run_dir.name, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = run_dir / "learning_curve.png"
    tmp = run_dir / ".learning_curve.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def train(config: TrainConfig, run_dir: Path, resume: bool = False, progress: bool = True) -> dict[str, float]:
    """Train per ``config`` in ``run_dir`` (continuing it with ``resume``); returns the final evaluation table."""
    from wrappers.group_env import GroupVecEnv

    from .evaluation import evaluate, format_table
    from .gigpo import GiGPO

    checkpoint, state_file = run_dir / "checkpoint.zip", run_dir / "state.json"
    if resume:
        if not checkpoint.is_file():
            raise ConfigError(f"nothing to resume: {checkpoint} does not exist")
        state = json.loads(state_file.read_text())
        if state["model"] != config.model:
            raise ConfigError(
                f"checkpoint {checkpoint} was trained with model {state['model']!r}, the config says {config.model!r}"
            )
        if state["rounds_done"] >= config.rounds:
            raise ConfigError(
                f"run {run_dir} already finished ({state['rounds_done']}/{config.rounds} rounds); "
                f"resume with a larger --set rounds=N to train on"
            )
        env = GroupVecEnv(
            config.env, config.n_groups, config.group_size, env_kwargs_of(config),
            seed=config.seed + state["rounds_done"],  # new tasks, not a replay of the first rounds
        )  # fmt: skip
        model = GiGPO.load(checkpoint, env=env, device=config.device)
        rounds_done = state["rounds_done"]
    else:
        if checkpoint.exists():
            raise ConfigError(f"run directory {run_dir} already holds a run; pass --resume or another --run-dir")
        model = build_model(config)
        run_dir.mkdir(parents=True, exist_ok=True)  # only now: a failed start leaves no empty run directory
        rounds_done = 0
    _atomic_write(run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    progress_csv = run_dir / "progress.csv"
    if resume and progress_csv.exists():  # SB3's CSV logger truncates its file: keep the earlier rounds' rows
        os.replace(progress_csv, run_dir / f"progress-until-round{rounds_done:05d}.csv")
    model.set_logger(configure(str(run_dir), ["csv", "tensorboard"]))

    bar = tqdm(total=config.rounds, initial=rounds_done, desc="rounds", disable=not progress, file=sys.stdout)
    start = time.perf_counter()
    for round_index in range(rounds_done, config.rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=False, log_interval=None)  # one round and its update
        model.dump_logs(done := round_index + 1)  # one log row per round: rollout, update and time
        stats = model._round_stats
        bar.set_postfix(success=f"{100 * stats['rollout/round_success_rate']:.0f}%",
                        ret=f"{stats['rollout/round_return_mean']:.2f}", steps=model.num_timesteps)  # fmt: skip
        bar.update(1)
        if done % config.checkpoint_every == 0 or done == config.rounds:
            model.save(checkpoint)
            state = {"rounds_done": done, "num_timesteps": model.num_timesteps, "model": config.model}
            _atomic_write(state_file, json.dumps(state))
    bar.close()
    elapsed = time.perf_counter() - start

    table = evaluate(
        model, config.env, eval_task_ids(config), env_kwargs=env_kwargs_of(config, config.eval_split),
        episodes_per_task=config.eval_episodes, seed=config.seed,
    )  # fmt: skip
    markdown = format_table(config.env, table)
    _atomic_write(run_dir / "eval.json", json.dumps(table, indent=2))
    _atomic_write(run_dir / "eval.md", markdown + "\n")
    learning_curve(run_dir)
    print(f"trained {config.rounds - rounds_done} round(s) in {elapsed:.0f} s; {config.eval_split} evaluation:")
    print(markdown)
    print(f"run directory: {run_dir}")
    return table


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gigpo-train", description="Train an LLM agent with GiGPO (or GRPO/RLOO) on a gigpo-gym text env."
    )
    parser.add_argument("--preset", help=f"start from a preset: {', '.join(PRESETS)}")
    parser.add_argument("--config", help="YAML file of config keys (applied after the preset)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
    parser.add_argument("--env", help="env id (config key env)")
    parser.add_argument("--algo", help="gigpo, grpo or rloo (config key algo)")
    parser.add_argument("--model", help="model id or path (config key model)")
    parser.add_argument("--rounds", type=int, help="rollout rounds (config key rounds)")
    parser.add_argument("--seed", type=int, help="seed (config key seed)")
    parser.add_argument("--run-dir", help="run directory (default: runs/<env>-<algo>-seed<seed>-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its help and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.help_config:
        for f in dataclasses.fields(TrainConfig):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            print(f"{f.name:<24} {f.type!s:<11} default {default!r:<20} {f.metadata['help']}")
        return 0
    try:
        if args.resume:
            if not args.run_dir:
                raise ConfigError("--resume needs --run-dir")
            saved = Path(args.run_dir) / "config.yaml"
            if not saved.is_file():
                raise ConfigError(f"nothing to resume: {saved} does not exist")
            config = resolve_config(None, saved, args.set, rounds=args.rounds)
        else:
            config = resolve_config(
                args.preset, args.config, args.set, env=args.env, algo=args.algo, model=args.model,
                rounds=args.rounds, seed=args.seed,
            )  # fmt: skip
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path(args.run_dir or f"runs/{config.env}-{config.algo}-seed{config.seed}-{stamp}")
        train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    except ConfigError as error:
        print(f"gigpo-train: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
