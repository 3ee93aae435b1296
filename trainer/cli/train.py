"""``gigpo-train``: train an agent from a config, into a run directory that can be resumed.

    gigpo-train --preset cpu-quickstart
    gigpo-train --env WebShop-text-v0 --algo grpo --model tiny --rounds 20 --history_length 1
    gigpo-train --resume --run-dir runs/my-run --rounds 30
    gigpo-train --env examples.rooms_env:Rooms-v0 --rounds 10    # your own env: the module registers Rooms-v0

Every :class:`~trainer.config.TrainConfig` field is a flag (``--learning_rate 1e-6`` or ``--learning-rate 1e-6``;
booleans ``--use_lora`` / ``--use_lora false``), derived from the dataclass by transformers' ``HfArgumentParser``
with its type, allowed values and help, so the command line and the Python API share every default. Precedence:
defaults < ``--preset`` < ``--config`` YAML file < ``--set key=value`` (a YAML value, as a config file writes it:
``--set clip_range_vf=null``) < flags. ``--help-config`` lists the fields.

The run directory (:mod:`trainer.training`) holds ``config.yaml``, ``progress.csv``, TensorBoard events,
``checkpoint.zip`` and at the end ``eval.json``, ``eval.md`` and ``learning_curve.png``; ``--resume`` continues the
last committed round exactly and may change only ``rounds``, ``checkpoint_every``, ``device`` and the evaluation
settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from transformers import HfArgumentParser

from .. import distributed
from ..checkpoint import CheckpointError
from ..config import PRESETS, ConfigError, TrainConfig, load_yaml, one_line, resolve_config, shown, type_name
from ..run_dir import check_run_dir
from ..training import train

__all__ = ["main"]


class _OneLineParser(HfArgumentParser):
    """A parser that raises its errors as ConfigError, which :func:`main` prints as one line with exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _mapping(text: str) -> dict:
    """``--env_kwargs``: a YAML (or JSON) mapping."""
    try:
        value = load_yaml(text, "the value")
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a mapping such as '{{split: train}}', got {shown(text)}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        TrainConfig,  # type: ignore[arg-type]  # transformers types dataclasses as a NewType
        prog="gigpo-train",
        description="Train an LLM agent with GiGPO (or GRPO, RLOO, PPO) on a gigpo-gym text env.",
    )
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for action in parser._actions:
        if action.dest in names:
            # only the flags given reach the config, so that a preset's or a file's value is not overwritten by
            # the default; the default is still shown in --help
            default = action.default
            action.default = argparse.SUPPRESS
            action.help = f"{action.help} (default: {default!r})"
        if action.choices is not None and None in action.choices:
            # null is the field's default, not a value a flag can spell: "--norm None" would be the text 'None'
            action.choices = tuple(choice for choice in action.choices if choice is not None)
        if action.dest == "env_kwargs":
            action.type = _mapping
            action.metavar = "YAML"
    parser.add_argument("--preset", help=f"start from a preset: {', '.join(PRESETS)}")
    parser.add_argument("--config", help="YAML file of config keys (applied after the preset)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key with a YAML value"
    )
    parser.add_argument("--run-dir", help="run directory (default: runs/<env>-<algo>-seed<seed>-<time>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--help-config", action="store_true", help="list every config key with its help and exit")
    return parser


def given_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields the parsed command line gives a flag for (their defaults are suppressed)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if hasattr(args, f.name)}


def _print_fields() -> None:
    for f in dataclasses.fields(TrainConfig):
        default: Any = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        print(f"{f.name:<24} {type_name(f.name):<16} default {default!r:<20} {f.metadata['help']}")


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.help_config:
            _print_fields()
            return 0
        flags = given_fields(args)
        if args.resume:
            if not args.run_dir:
                raise ConfigError("--resume needs --run-dir")
            check_run_dir(Path(args.run_dir), fresh=False)  # no link is read (or later written) in a run directory
            saved = Path(args.run_dir) / "config.yaml"
            if not saved.is_file():
                raise ConfigError(f"nothing to resume: {saved} does not exist")
            # what the user asks for, over the run's config.yaml; train() refuses what the checkpoint fixes
            config = resolve_config(None, saved, args.set, **flags)
        else:
            config = resolve_config(args.preset, args.config, args.set, **flags)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = config.env.rpartition(":")[2]  # "pkg.module:Name-v0" names its run after Name-v0
        run_dir = Path(args.run_dir or f"runs/{name}-{config.algo}-seed{config.seed}-{stamp}")
        dist = distributed.current(config.device, config.model)
        if dist is not None:  # one run directory: rank 0's name (its clock may differ by a second from the others')
            run_dir = Path(dist.broadcast(str(run_dir)))
        train(config, run_dir, resume=args.resume, progress=not args.no_progress)
    except (ConfigError, CheckpointError) as error:
        print(f"gigpo-train: error: {one_line(error)}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
