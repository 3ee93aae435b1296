"""Train a config into a run directory that can be resumed: build the agent, run the rounds, commit checkpoints,
evaluate (``gigpo-train`` is its command line, :mod:`trainer.cli.train`).

The run directory holds ``config.yaml`` (the config in use), ``progress.csv`` (a row per round) and TensorBoard
events, ``checkpoint.zip`` (data only: the model, optimiser, random generators and run state, committed atomically
every ``checkpoint_every`` rounds), and at the end ``eval.json``, ``eval.md`` and ``learning_curve.png``. One
process writes it at a time (``.lock``); a resume continues the last committed round exactly and may change
only ``rounds``, ``checkpoint_every``, ``device`` and the evaluation settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from stable_baselines3.common.logger import Logger, make_output_format
from tqdm.auto import tqdm

from . import distributed
from .atomic import atomic_path, atomic_write
from .checkpoint import CheckpointError
from .config import ConfigError, TrainConfig
from .errors import custom_code_refused
from .run_dir import ProgressCSV, remove_temporaries
from .run_dir import locked as run_dir_lock

__all__ = ["build_model", "eval_task_ids", "make_env", "resumed_config", "saved_run", "train"]


def build_model(config: TrainConfig, verbose: int = 0):
    """A new :class:`~trainer.gigpo.GiGPO` agent per ``config`` (deterministic for its seed).

    A model that cannot be loaded (no such path, no hub access offline, a preset's extra missing) raises
    :class:`ConfigError` naming it.
    """
    from .gigpo import GiGPO

    try:
        return GiGPO.from_config(config, verbose=verbose)
    except (OSError, ImportError) as error:
        raise ConfigError(f"cannot load model {config.model!r}: {error}") from error
    except ValueError as error:
        refused = custom_code_refused(config.model, error)
        if refused is None:
            raise
        raise ConfigError(refused) from error


def make_env(config: TrainConfig, split: str | None = None):
    """``config``'s env (on ``split`` when given); a keyword it refuses or data it cannot read is a ConfigError."""
    import gymnasium as gym

    kwargs = config.gym_kwargs(split)
    try:
        return gym.make(config.env, **kwargs).unwrapped
    except (TypeError, ValueError, OSError, KeyError) as error:
        where = f"eval_split {split!r} and " if split is not None else ""
        raise ConfigError(f"cannot make {config.env} with {where}env_kwargs {config.env_kwargs}: {error}") from error


def eval_task_ids(config: TrainConfig) -> list[int]:
    """The first ``eval_tasks`` tasks of the eval split (fewer when the split is smaller)."""
    return make_env(config, config.eval_split).task_ids[: config.eval_tasks]


def learning_curve(run_dir: Path) -> Path:
    """``learning_curve.png``: this run's per-round success rate and return against env steps."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with (run_dir / "progress.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("rollout/round_success_rate")]
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
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return out


# settings a resume may change: how long to train, how often to commit, where to run and how to evaluate
RESUMABLE = ("rounds", "checkpoint_every", "device", "sharding", "eval_split", "eval_tasks", "eval_episodes")


def resumed_config(saved: TrainConfig, requested: TrainConfig) -> TrainConfig:
    """The config a resume runs with: the checkpoint's, with the :data:`RESUMABLE` settings of ``requested``.

    Any other difference is refused with the list of them: the checkpoint fixes the model, the algorithm and
    the env, and ``config.yaml`` must keep stating what was used.
    """
    fixed = [
        f"{f.name} {getattr(saved, f.name)!r} -> {getattr(requested, f.name)!r}"
        for f in dataclasses.fields(TrainConfig)
        if f.name not in RESUMABLE and getattr(saved, f.name) != getattr(requested, f.name)
    ]
    if fixed:
        raise ConfigError(
            f"--resume cannot change settings the checkpoint fixes: {'; '.join(fixed)} (only {', '.join(RESUMABLE)} "
            "may change; start a new run for the others)"
        )
    return dataclasses.replace(saved, **{name: getattr(requested, name) for name in RESUMABLE})


# settings added to TrainConfig after the first data-only checkpoints, with the value every earlier run used
ADDED_SETTINGS = {
    "dtype": "float32",
    "attn_implementation": None,
    "gae_lambda": 0.95,
    "vf_coef": 0.5,
    "clip_range_vf": 0.5,
}


def saved_run(checkpoint: Path, extra: dict[str, Any] | None = None) -> tuple[TrainConfig, int]:
    """The config and round count a run's checkpoint committed (``extra``: its already read extra data)."""
    from .gigpo import GiGPO

    run = (GiGPO.load_extra(checkpoint) if extra is None else extra).get("run")
    try:
        if not isinstance(run, dict):
            raise TypeError(f"its run entry is {type(run).__name__}, not a mapping")
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        # a default filled in for a missing key would be a setting the run never used, except for the keys added
        # since: runs written before them used exactly these values
        values = {**ADDED_SETTINGS, **run["config"]}
        if set(values) != names:
            missing, unknown = sorted(names - set(values)), sorted(set(values) - names)
            raise ValueError(f"its config lacks {missing} and has unknown keys {unknown}")
        saved = TrainConfig(**values)
        # the device it trained on need not exist here: a resume or an evaluation names its own
        dataclasses.replace(saved, device="cpu").validate()
        rounds_done = run["rounds_done"]
        if not isinstance(rounds_done, int) or rounds_done < 1:
            raise ValueError(f"rounds_done must be a positive integer, got {rounds_done!r}")
    except (TypeError, KeyError, ValueError) as error:
        raise CheckpointError(f"{checkpoint} holds no valid gigpo-train run state ({error})") from error
    return saved, rounds_done


def train(config: TrainConfig, run_dir: Path, resume: bool = False, progress: bool = True) -> dict[str, float]:
    """Train per ``config`` in ``run_dir`` (continuing it with ``resume``); returns the final evaluation table.

    Every ``checkpoint_every`` rounds one atomic ``checkpoint.zip`` commits the model, the optimiser, every
    random generator and the round count (:mod:`trainer.run_dir`), so a resume after a kill at any moment
    continues from the last commit exactly as the run would have gone on. ``resume`` keeps the checkpoint's
    config but for :data:`RESUMABLE` settings (:func:`resumed_config`).
    """
    from wrappers.group_env import GroupVecEnv

    from .gigpo import GiGPO

    dist = distributed.current(config.device, config.model)
    # an accelerate FSDP launch config shards the run: its config (and a resume's) says so
    config = dataclasses.replace(config, sharding=distributed.launch_sharding(config.sharding))
    main = dist is None or dist.is_main  # a data-parallel run writes its run directory from rank 0 alone
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run directory {run_dir} is a file")
    checkpoint = run_dir / "checkpoint.zip"
    if resume:
        if not checkpoint.is_file():
            raise ConfigError(f"nothing to resume: {checkpoint} does not exist")
    else:
        if checkpoint.exists():
            raise ConfigError(f"run directory {run_dir} already holds a run; pass --resume or another --run-dir")
        make_env(config).close()  # bad env settings or data fail here, named, before the model loads
        eval_ids = eval_task_ids(config)  # and a bad eval split now, not after the training
        model = build_model(config)
        if main:
            run_dir.mkdir(parents=True, exist_ok=True)  # only now: a failed start leaves no empty run directory
    with run_dir_lock(run_dir) if main else contextlib.nullcontext():
        if dist is not None:
            dist.barrier()  # rank 0 holds the run directory (and has cleaned it) before any rank reads it
        if main:
            remove_temporaries(run_dir)
        if resume:
            saved, rounds_done = saved_run(checkpoint)
            config = resumed_config(saved, config)
            eval_ids = eval_task_ids(config)
            # a run killed during its final evaluation resumes into that evaluation
            if rounds_done > config.rounds or (rounds_done == config.rounds and (run_dir / "eval.json").exists()):
                raise ConfigError(
                    f"run {run_dir} already finished ({rounds_done}/{config.rounds} rounds); "
                    f"resume with a larger --set rounds=N to train on"
                )
            env = GroupVecEnv(
                config.env,
                config.n_groups,
                config.group_size,
                config.gym_kwargs(),
                seed=config.seed,
                shard=distributed.shard(),
            )
            model = GiGPO.load(checkpoint, env=env, device=config.device, sharding=config.sharding)
            differ = model.config_differences(config)
            if differ:  # two parts of one file disagree: which one trained would be a guess
                raise CheckpointError(f"{checkpoint}: its settings differ from its run config: {'; '.join(differ)}")
        else:
            if checkpoint.exists():  # another process started this run while the model was being built
                raise ConfigError(f"run directory {run_dir} already holds a run; pass --resume or another --run-dir")
            rounds_done = 0
        if main:
            atomic_write(run_dir / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
            # the rows of the committed rounds only: a kill after a round's row but before its commit leaves none
            csv_log = ProgressCSV(run_dir / "progress.csv", keep_rows=rounds_done)
            model.set_logger(Logger(str(run_dir), [csv_log, make_output_format("tensorboard", str(run_dir))]))
        else:
            model.set_logger(Logger(None, []))
        return _train_rounds(model, config, run_dir, rounds_done, eval_ids, progress and main, dist)


def _train_rounds(
    model,
    config: TrainConfig,
    run_dir: Path,
    rounds_done: int,
    eval_ids: list[int],
    progress: bool,
    dist: distributed.Distributed | None = None,
) -> dict[str, float]:
    from .evaluation import evaluate_records, format_table, tabulate

    main = dist is None or dist.is_main
    bar = tqdm(total=config.rounds, initial=rounds_done, desc="rounds", disable=not progress, file=sys.stdout)
    start = time.perf_counter()
    for round_index in range(rounds_done, config.rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=False, log_interval=None)  # one round and its update
        model.dump_logs(done := round_index + 1)  # one log row per round: rollout, update and time
        stats = model.round_stats
        bar.set_postfix(
            success=f"{100 * stats['rollout/round_success_rate']:.0f}%",
            ret=f"{stats['rollout/round_return_mean']:.2f}",
            steps=model.num_timesteps,
        )
        bar.update(1)
        if done % config.checkpoint_every == 0 or done == config.rounds:
            # every rank calls it: it gathers every rank's streams (and FSDP's shards); rank 0 writes
            model.save(run_dir / "checkpoint.zip", extra={"run": {"rounds_done": done, "config": config.to_dict()}})
    bar.close()
    elapsed = time.perf_counter() - start
    # the evaluation tasks are shared out over the ranks (each samples with its own seed; one process: all tasks,
    # the run's seed) and rank 0 tabulates the gathered episodes and writes the results
    rank, world = (dist.rank, dist.world) if dist is not None else (0, 1)
    records = evaluate_records(
        model,
        config.env,
        eval_ids[rank::world],
        env_kwargs=config.gym_kwargs(config.eval_split),
        episodes_per_task=config.eval_episodes,
        seed=config.seed + rank,
    )
    if dist is not None:
        records = [record for part in dist.gather(records) for record in part]
    if dist is not None and not main:  # the others wait for rank 0 to finish writing
        dist.barrier()
        return {}
    table = tabulate(records)
    markdown = format_table(config.env, table)
    atomic_write(run_dir / "eval.json", json.dumps(table, indent=2))
    atomic_write(run_dir / "eval.md", markdown + "\n")
    learning_curve(run_dir)
    print(f"trained {config.rounds - rounds_done} round(s) in {elapsed:.0f} s; {config.eval_split} evaluation:")
    print(markdown)
    print(f"run directory: {run_dir}")
    if dist is not None:
        dist.barrier()
    return table
