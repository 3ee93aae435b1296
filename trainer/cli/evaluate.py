"""``gigpo-eval``: the paper's evaluation table for a checkpoint, a pretrained model (zero-shot) or a baseline.

    gigpo-eval --env ALFWorld-text-v0 --policy expert --split valid_seen
    gigpo-eval --checkpoint runs/my-run --split valid_unseen --episodes 2 --markdown table.md
    gigpo-eval --model smollm2-135m-instruct --env WebShop-text-v0 --tasks 10 --action-mode generate
    gigpo-eval --env examples.rooms_env:Rooms-v0 --policy random    # your own env: the module registers Rooms-v0

``--model`` is the paper's "Prompting" row: the untrained model in the training prompt (task, last
``--history-length`` observation/action pairs, admissible actions, ``<think>``/``<action>`` instruction, the
model's chat template).

ALFWorld: success % per task type (Pick, Look, Clean, Heat, Cool, Pick2) and All; WebShop: score
(100 x mean reward) and success %. All episodes run batched; a seed gives the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from ..checkpoint import CheckpointError
from ..config import ConfigError, TrainConfig, check_device, one_line, resolve_config

__all__ = ["main"]


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr with exit status 2, as every other gigpo-eval error (argparse's
    own prints the whole usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(ValueError(message))} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="gigpo-eval", description="Evaluate an agent on a gigpo-gym text env.")
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--checkpoint", help="a run directory of gigpo-train, its checkpoint.zip or a model.save file")
    who.add_argument("--model", help="zero-shot: a Hugging Face id, local path or preset (smollm2-135m-instruct, tiny)")
    who.add_argument("--policy", choices=["random", "expert"], help="a baseline policy instead of a checkpoint")
    parser.add_argument(
        "--env",
        help="env id, or 'pkg.module:Name-v0' for your own (default: the checkpoint's; required with --model and "
        "--policy)",
    )
    parser.add_argument("--split", help="split (ALFWorld valid_seen/valid_unseen/train, WebShop test/train)")
    parser.add_argument(
        "--env-kwargs",
        default="{}",
        help="gym.make keyword arguments as a JSON object, over the checkpoint's (e.g. '{\"max_receptacles\": 3}')",
    )
    parser.add_argument("--tasks", type=int, help="evaluate the first N tasks of the split (default: all)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per task (default 1)")
    parser.add_argument("--max-episode-steps", type=int, help="step limit (default: the checkpoint's or the env's)")
    parser.add_argument("--deterministic", action="store_true", help="greedy actions instead of sampling")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument(
        "--action-mode",
        choices=["score", "generate"],
        default="score",
        help="with --model: score the admissible actions or generate free text (default score)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=256, help="with --model: generate-mode response limit")
    parser.add_argument(
        "--history-length",
        type=int,
        default=2,
        help="with --model: past observation/action pairs in the prompt (default 2, the paper's)",
    )
    parser.add_argument("--device", default="cpu", help="torch device of the checkpoint or model (cpu, cuda or auto)")
    parser.add_argument(
        "--trust-legacy-checkpoint",
        action="store_true",
        help="load a pickled checkpoint of gigpo-gym 0.1, which can run code: only files you trust",
    )
    parser.add_argument(
        "--allow-base-model-change",
        action="store_true",
        help="evaluate a checkpoint over a base model other than the one it was trained on (refused by default)",
    )
    parser.add_argument("--json", help="also write the table as JSON to this file")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    return parser


def _checkpoint_config(path: Path, trust_legacy: bool) -> tuple[Path, TrainConfig | None]:
    """The checkpoint file and the run config it was trained with (``None`` for a bare ``model.save`` file).

    The config comes from the checkpoint itself; a trusted legacy (pickled) checkpoint's from its run directory's
    ``config.yaml``.
    """
    from ..checkpoint import is_legacy, legacy_message
    from ..training import saved_run

    zip_path = path / "checkpoint.zip" if path.is_dir() else path
    if not zip_path.is_file():
        raise ConfigError(f"checkpoint not found: {zip_path}")
    if is_legacy(zip_path):
        if not trust_legacy:
            raise CheckpointError(legacy_message(zip_path))
        saved = zip_path.parent / "config.yaml"
        return zip_path, resolve_config(None, saved) if saved.is_file() else None
    from ..gigpo import GiGPO

    extra = GiGPO.load_extra(zip_path)
    return zip_path, saved_run(zip_path, extra)[0] if "run" in extra else None


def _zero_shot_model(args: argparse.Namespace, env_id: str):
    """An untrained agent around ``--model``. With a fresh LoRA adapter (its B matrices are zero) the outputs are
    exactly the pretrained model's, without the frozen reference copy that full fine-tuning would make."""
    from ..training import build_model

    config = resolve_config(
        env=env_id,
        model=args.model,
        action_mode=args.action_mode,
        use_lora=True,
        max_new_tokens=args.max_new_tokens,
        history_length=args.history_length,
        seed=args.seed,
        device=args.device,
    )
    return build_model(config)


def _check_arguments(args: argparse.Namespace) -> None:
    """The counts, the device and the output paths, each named when it cannot work."""
    if args.episodes < 1 or (args.tasks is not None and args.tasks < 1):
        raise ConfigError("--episodes and --tasks must be >= 1")
    if args.max_episode_steps is not None and args.max_episode_steps < 1:
        raise ConfigError(f"--max-episode-steps must be >= 1, got {args.max_episode_steps}")
    check_device(args.device)
    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path and Path(path).is_dir():
            raise ConfigError(f"{option} {path} is a folder; give a file name")


def _env_kwargs(args: argparse.Namespace, config, split: str | None) -> dict:
    """The evaluation env's arguments: the run's, then ``--env-kwargs``, the split and the step limit."""
    try:
        extra = json.loads(args.env_kwargs)
    except json.JSONDecodeError as error:
        raise ConfigError(f"--env-kwargs is not valid JSON ({error}): {args.env_kwargs!r}") from error
    if not isinstance(extra, dict):
        raise ConfigError(f"--env-kwargs must be a JSON object of keyword arguments, got {args.env_kwargs!r}")
    env_kwargs = {**(config.env_kwargs if config else {}), **extra}
    env_kwargs.pop("split", None)
    if split is not None:
        env_kwargs["split"] = split
    steps = (
        args.max_episode_steps if args.max_episode_steps is not None else (config.max_episode_steps if config else None)
    )
    if steps is not None:
        env_kwargs["max_episode_steps"] = steps
    return env_kwargs


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import gymnasium as gym

        import gigpo_gym
        from gigpo_gym.checker import check_env_start

        from ..evaluation import baseline_chooser, evaluate, format_table, run_episodes

        config = None
        if args.checkpoint:
            zip_path, config = _checkpoint_config(Path(args.checkpoint), args.trust_legacy_checkpoint)
            if config is not None and args.env and args.env != config.env:
                raise ConfigError(f"the checkpoint was trained on {config.env}, not {args.env}")
        if config is None and not args.env:
            what = "--model" if args.model else "--policy" if args.policy else "a checkpoint without a run config"
            raise ConfigError(f"{what} needs --env")
        env_id = args.env or config.env  # type: ignore[union-attr]  # no --env: the checkpoint's config names it
        try:
            card = gigpo_gym.env_card(env_id)  # "pkg.module:Name-v0" imports pkg.module, as gym.make does
        except ValueError as error:
            raise ConfigError(str(error)) from error
        _check_arguments(args)
        if args.split and not gigpo_gym.env_takes(env_id, "split"):
            raise ConfigError(f"--split {args.split!r}: env {env_id!r} takes no 'split' argument; leave it out")
        split = args.split or (config.eval_split if config else card.eval_split if card else None)
        env_kwargs = _env_kwargs(args, config, split)
        try:
            probe = gym.make(env_id, **env_kwargs)
            # one reset and one step: a missing info key or a bad state hash is named before any model loads
            check_env_start(probe, env_id)
        except (TypeError, ValueError, OSError) as error:  # a wrong keyword argument, missing data, a broken contract
            raise ConfigError(str(error)) from error
        all_ids: list[int] = probe.unwrapped.task_ids  # type: ignore[attr-defined]  # checked: it lists its tasks
        task_ids = all_ids[: args.tasks] if args.tasks else all_ids
        if args.checkpoint:
            from ..gigpo import GiGPO

            model = GiGPO.load(
                zip_path,
                device=args.device,
                trust_legacy_pickle=args.trust_legacy_checkpoint,
                allow_base_model_change=args.allow_base_model_change,
            )
            table = evaluate(model, env_id, task_ids, env_kwargs, args.episodes, args.deterministic, args.seed)
            who = f"checkpoint {zip_path}"
        elif args.model:
            model = _zero_shot_model(args, env_id)
            table = evaluate(model, env_id, task_ids, env_kwargs, args.episodes, args.deterministic, args.seed)
            who = f"model {args.model} zero-shot ({args.action_mode} mode)"
        else:
            table = run_episodes(env_id, task_ids, baseline_chooser(args.policy, args.seed), env_kwargs, args.episodes)
            who = f"{args.policy} policy"
    except (ConfigError, CheckpointError) as error:
        print(f"gigpo-eval: error: {one_line(error)}", file=sys.stderr)
        return 2
    markdown = format_table(env_id, table)
    print(f"{env_id} {split}, {len(task_ids)} tasks x {args.episodes} episode(s), {who}, seed {args.seed}")
    print(markdown)
    for path, text in ((args.json, json.dumps(table, indent=2)), (args.markdown, markdown + "\n")):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
