"""Train a config into a run directory that can be resumed: build the agent, run the rounds, commit checkpoints,
evaluate (``gigpo-train`` is its command line, :mod:`trainer.cli.train`).

The run directory holds ``config.yaml`` (the config in use), ``progress.csv`` (a row per round) and TensorBoard
events, ``checkpoint.zip`` (data only: the model, optimiser, random generators and run state, committed atomically
every ``checkpoint_every`` rounds), and at the end ``eval.json``, ``eval.md`` and ``learning_curve.png``. Every
``eval_every`` rounds the eval split is also evaluated, after the round's update, into that round's ``eval/*`` log
entries. One process writes it at a time (``.lock``); a resume continues the last committed round exactly and may
change only ``rounds``, ``checkpoint_every``, ``device``, ``sharding`` and the evaluation settings. None of these is
written through a link, and a fresh run starts only in a new or empty folder (:func:`trainer.run_dir.check_run_dir`).
A round whose loss, gradient, weights or log-probabilities are not finite stops the run before its commit
(:class:`~trainer.errors.DivergenceError`), so the last committed round stays resumable and evaluable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from stable_baselines3.common.logger import Logger, make_output_format
from tqdm.auto import tqdm

from . import distributed
from .atomic import atomic_path, atomic_write
from .checkpoint import CheckpointError
from .config import ConfigError, TrainConfig
from .errors import DivergenceError, custom_code_refused
from .run_dir import ProgressCSV, check_run_dir, remove_temporaries
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
    """``config``'s env (on ``split`` when given), checked on one reset and one step
    (:func:`~gigpo_gym.checker.check_env_start`); a keyword it refuses, data it cannot read or a broken contract
    (a missing ``info`` key, a bad state hash) is a ConfigError."""
    import gymnasium as gym

    from gigpo_gym.checker import EnvContractError, check_env_start

    kwargs = config.gym_kwargs(split)
    try:
        env = gym.make(config.env, **kwargs)
    except (TypeError, ValueError, OSError, KeyError) as error:
        where = f"eval_split {split!r} and " if split is not None else ""
        raise ConfigError(f"cannot make {config.env} with {where}env_kwargs {config.env_kwargs}: {error}") from error
    try:
        check_env_start(env, config.env)
    except EnvContractError as error:
        raise ConfigError(str(error)) from error
    return env.unwrapped


def eval_task_ids(config: TrainConfig) -> list[int]:
    """The first ``eval_tasks`` tasks of the eval split (fewer when the split is smaller)."""
    return make_env(config, config.eval_split).task_ids[: config.eval_tasks]


def learning_curve(run_dir: Path, config: TrainConfig, final: tuple[int, dict[str, float], int] | None = None) -> Path:
    """Write ``learning_curve.png`` (:func:`curve_figure`) into ``run_dir``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = curve_figure(run_dir, config, final)
    out = run_dir / "learning_curve.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return out


def curve_figure(run_dir: Path, config: TrainConfig, final: tuple[int, dict[str, float], int] | None = None):
    """The learning curve of the run in ``run_dir``: held-out success at each evaluation with its 95% interval,
    and each round's training success, in % on a fixed 0-100 scale against the round (a matplotlib ``Figure``).

    The points come from ``progress.csv``: ``eval/*`` where a round was evaluated (``eval_every``) and
    ``rollout/round_success_rate``. ``final``: the final evaluation's ``(round, table, episodes)``, drawn when its
    round has no ``eval/*`` row. Envs whose table has a score (WebShop) also get the held-out score (100 x the mean).
    """
    import csv

    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .evaluation import reports_score, wilson_interval

    with (run_dir / "progress.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("rollout/round_success_rate")]
    rounds = [int(r["time/iterations"]) for r in rows]
    # (round, success, episodes, score or None) of each evaluation, fractions as logged
    held_out = [
        (
            int(r["time/iterations"]),
            float(r["eval/success_rate"]),
            int(r["eval/episodes"]),
            _number(r.get("eval/score")),
        )
        for r in rows
        if r.get("eval/success_rate")
    ]
    if final is not None and final[0] not in {point[0] for point in held_out}:
        done, table, episodes = final
        held_out.append((done, table["all"] / 100, episodes, table["score"] / 100))
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    (training,) = ax.plot(
        rounds,
        [100 * float(r["rollout/round_success_rate"]) for r in rows],
        color="tab:gray",
        linewidth=1,
        label=f"training success (each round's {config.n_groups * config.group_size} episodes)",
    )
    shown: list = [training]  # the legend's entries, in the order drawn
    if held_out:
        x = [point[0] for point in held_out]
        y = [100 * point[1] for point in held_out]
        low, high = (
            [100 * bound for bound in bounds]
            for bounds in zip(*(wilson_interval(p * n, n) for _, p, n, _ in held_out), strict=True)
        )
        counts = sorted({point[2] for point in held_out})
        counted = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, linewidth=0)
        shown.append(
            ax.errorbar(
                x,
                y,
                yerr=[[a - b for a, b in zip(y, low, strict=True)], [b - a for a, b in zip(y, high, strict=True)]],
                color="tab:blue",
                marker="o",
                linewidth=2,
                capsize=3,
                clip_on=False,  # a point at 0% or 100% shows whole on the axis
                label=f"held-out success, {config.eval_split} ({counted} episodes, 95% interval)",
            )
        )
        scored = [(point[0], 100 * point[3]) for point in held_out if point[3] is not None]
        if scored and reports_score(config.env):
            shown += ax.plot(
                *zip(*scored, strict=True),
                color="tab:orange",
                marker="s",
                linestyle="--",
                clip_on=False,
                label=f"held-out score, {config.eval_split} (100 x mean)",
            )
    ax.set_xlabel("round")
    ax.set_ylabel("success %")
    ax.set_ylim(0, 100)
    ax.set_xlim(0.5, max([config.rounds, *rounds]) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{config.env}, {config.algo}, seed {config.seed} ({run_dir.name})", fontsize=9)
    ax.grid(alpha=0.3)
    # below the axes, where it covers no point whatever the success
    ax.legend(handles=shown, loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _number(text: str | None) -> float | None:
    """A CSV cell as a number (None when empty: a round that did not log the key)."""
    return float(text) if text else None


# settings a resume may change: how long to train, how often to commit, where to run and how to evaluate
RESUMABLE = (
    "rounds",
    "checkpoint_every",
    "device",
    "sharding",
    "eval_split",
    "eval_tasks",
    "eval_episodes",
    "eval_every",
)


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
    "eval_every": 0,
}


def saved_run(checkpoint: Path, extra: dict[str, Any] | None = None) -> tuple[TrainConfig, int]:
    """The config and round count a run's checkpoint committed (``extra``: its already read extra data)."""
    import gigpo_gym

    from .gigpo import GiGPO

    run = (GiGPO.load_extra(checkpoint) if extra is None else extra).get("run")
    missing_env: ValueError | None = None
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
        try:
            gigpo_gym.env_spec(saved.env)
        except ValueError as error:  # a sound run state whose env is not found here (its module not importable)
            missing_env = error
        else:
            # the device it trained on need not exist here: a resume or an evaluation names its own
            dataclasses.replace(saved, device="cpu").validate()
        rounds_done = run["rounds_done"]
        if not isinstance(rounds_done, int) or rounds_done < 1:
            raise ValueError(f"rounds_done must be a positive integer, got {rounds_done!r}")
    except (TypeError, KeyError, ValueError) as error:
        raise CheckpointError(f"{checkpoint} holds no valid gigpo-train run state ({error})") from error
    if missing_env is not None:
        raise ConfigError(f"{checkpoint} was trained on {missing_env}") from missing_env
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
        check_run_dir(run_dir, fresh=False)  # before anything in it is read
        if not checkpoint.is_file():
            raise ConfigError(f"nothing to resume: {checkpoint} does not exist")
    else:
        if checkpoint.exists() and not checkpoint.is_symlink():  # a link is refused by name below
            raise ConfigError(f"run directory {run_dir} already holds a run; pass --resume or another --run-dir")
        check_run_dir(run_dir, fresh=True)
        make_env(config).close()  # bad env settings or data fail here, named, before the model loads
        eval_ids = eval_task_ids(config)  # and a bad eval split now, not after the training
        model = build_model(config)
        if main:
            try:  # only now: a failed start leaves no empty run directory
                run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # read-only, a broken link in its place, no permission
                raise ConfigError(f"cannot create run directory {run_dir}: {error.strerror or error}") from error
    with run_dir_lock(run_dir) if main else contextlib.nullcontext():
        if dist is not None:
            dist.barrier()  # rank 0 holds the run directory (and has cleaned it) before any rank reads it
        if main:
            check_run_dir(run_dir, fresh=not resume)  # again, now that no other gigpo-train can change it
            remove_temporaries(run_dir)
        if resume:
            saved, rounds_done = saved_run(checkpoint)
            config = resumed_config(saved, config)
            make_env(config).close()  # the env's code may have changed since: checked again
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


def check_finite(model, dist: distributed.Distributed | None = None) -> None:
    """Raise :class:`DivergenceError` naming the first non-finite trainable weight, optimiser moment, or
    log-probability of the round's first steps under the updated weights (finite weights can still overflow in the
    forward pass, and the next rollout would then sample from NaN).

    The probe's forward pass runs in eval mode and draws no random number, so a checked run stays bit-exact. In a
    data-parallel run every rank checks its part and they agree; under FSDP the forward probe is left out (it
    would need every rank's passes in step).
    """
    problem = _first_non_finite(model, probe=not (dist is not None and dist.sharded))
    if dist is not None and dist.sum([float(problem is not None)])[0] and problem is None:
        problem = "another process's weights or log-probabilities are not finite"
    if problem is not None:
        raise DivergenceError(problem)


def _first_non_finite(model, probe: bool) -> str | None:
    def finite(tensor: torch.Tensor) -> bool:
        local = tensor.to_local() if hasattr(tensor, "to_local") else tensor  # an FSDP shard: this rank's part
        return bool(torch.isfinite(local.detach()).all())

    policy = model.policy
    for name, param in policy.named_parameters():
        if param.requires_grad and not finite(param):
            return f"the weight {name} is not finite"
    for index, state in enumerate(policy.optimizer.state.values()):
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and not finite(value):
                return f"the optimiser's {key} of parameter {index} is not finite"
    records = model.rollout_buffer.records[: model.micro_batch_size]
    if not (probe and records):
        return None
    training = policy.training
    policy.set_training_mode(False)
    with torch.no_grad():
        prompts = [r.prompt_ids for r in records]
        if records[0].candidate_ids is None:
            logp, mask, _ = policy.response_logprobs(prompts, [r.response_ids for r in records])
            logps = [logp[mask.bool()]]
        else:
            logps = policy.candidate_logprobs(prompts, [r.candidate_ids or [] for r in records])
    policy.set_training_mode(training)
    # NaN or +inf: no distribution (a -inf is a probability of 0)
    bad = [lp[torch.isnan(lp) | torch.isposinf(lp)] for lp in logps]
    return next((f"the updated policy's log-probabilities hold {float(b[0])}" for b in bad if len(b)), None)


def _train_rounds(
    model,
    config: TrainConfig,
    run_dir: Path,
    rounds_done: int,
    eval_ids: list[int],
    progress: bool,
    dist: distributed.Distributed | None = None,
) -> dict[str, float]:
    from .evaluation import format_table, record_table, reports_score, tabulate

    main = dist is None or dist.is_main
    bar = tqdm(total=config.rounds, initial=rounds_done, desc="rounds", disable=not progress, file=sys.stdout)
    start = time.perf_counter()
    evaluated: tuple[int, list] | None = None  # the last evaluation during training: (round, episodes)
    committed = rounds_done
    for round_index in range(rounds_done, config.rounds):
        try:
            model.learn(total_timesteps=1, reset_num_timesteps=False, log_interval=None)  # one round and its update
            check_finite(model, dist)  # every round, committed or not: the next rollout would sample from it
        except DivergenceError as error:
            kept = f"round {committed} committed" if committed else "no round committed"
            raise DivergenceError(
                f"round {round_index + 1}: {error}; the run stops with {kept} (a smaller learning_rate or "
                "max_grad_norm in a new run may keep it finite)"
            ) from error
        done = round_index + 1
        if config.eval_every and done % config.eval_every == 0:
            # after the update, in the round's log row; the evaluation leaves the training's streams untouched
            began = time.perf_counter()
            evaluated = (done, _held_out_records(model, config, eval_ids, dist))
            if main:
                record_table(model.logger, tabulate(evaluated[1]), len(evaluated[1]), reports_score(config.env))
                model.logger.record("eval/time_s", time.perf_counter() - began)
        model.dump_logs(done)  # one log row per round: rollout, update, evaluation and time
        stats = model.round_stats
        postfix = {
            "success": f"{100 * stats['rollout/round_success_rate']:.0f}%",
            "ret": f"{stats['rollout/round_return_mean']:.2f}",
            "steps": model.num_timesteps,
        }
        if evaluated is not None:
            postfix["eval"] = f"{tabulate(evaluated[1])['all']:.0f}%"
        bar.set_postfix(postfix)
        bar.update(1)
        if done % config.checkpoint_every == 0 or done == config.rounds:
            # every rank calls it: it gathers every rank's streams (and FSDP's shards); rank 0 writes
            model.save(run_dir / "checkpoint.zip", extra={"run": {"rounds_done": done, "config": config.to_dict()}})
            committed = done
    bar.close()
    elapsed = time.perf_counter() - start
    # the last round's evaluation is the final one (same model, tasks and seeds); otherwise it is played now
    if evaluated is not None and evaluated[0] == config.rounds:
        records = evaluated[1]
    else:
        records = _held_out_records(model, config, eval_ids, dist)
    if dist is not None and not main:  # the others wait for rank 0 to finish writing
        dist.barrier()
        return {}
    table = tabulate(records)
    markdown = format_table(config.env, table)
    atomic_write(run_dir / "eval.json", json.dumps(table, indent=2))
    atomic_write(run_dir / "eval.md", markdown + "\n")
    learning_curve(run_dir, config, final=(config.rounds, table, len(records)))
    print(f"trained {config.rounds - rounds_done} round(s) in {elapsed:.0f} s; {config.eval_split} evaluation:")
    print(markdown)
    print(f"run directory: {run_dir}")
    if dist is not None:
        dist.barrier()
    return table


def _held_out_records(
    model, config: TrainConfig, eval_ids: list[int], dist: distributed.Distributed | None
) -> list[tuple[str, bool, float]]:
    """Every episode of the evaluation on the eval split, on every rank.

    The tasks are shared out over the ranks (each samples with its own seed; one process: all tasks, the run's
    seed) and the episodes gathered, so rank 0 can tabulate them all.
    """
    from .evaluation import evaluate_records

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
    return records
