"""Quickstart: train GiGPO on ALFWorld-text-v0 with the offline tiny model for a few minutes on CPU.

    python -m trainer.cli.quickstart [--rounds 20] [--seed 0] [--run-dir runs/quickstart]

The ``cpu-quickstart`` preset of ``gigpo-train``: pick-and-place tasks in small rooms (``max_receptacles=3``, where
a random policy solves 11% of the valid_seen pick tasks in 30 steps, so groups have a learning signal; in
ALFWorld-size rooms 0.6%), 30-step episodes, 4 groups x 8 trajectories per round for 20 rounds, one epoch at lr 3e-3
on std-normalised GiGPO advantages, the tiny random-init model in ``score`` mode (an exact softmax policy over the
admissible actions) with full fine-tuning. The success table on the first 35 valid_seen pick tasks (4 sampled
episodes each, same room size) is printed before and after training. The run directory gets the config, CSV logs,
the checkpoint, the evaluation and ``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import NoReturn

import gigpo_gym  # noqa: F401  (registers the env ids)

from ..checkpoint import CheckpointError
from ..config import ConfigError, one_line, resolve_config
from ..evaluation import evaluate, format_table
from ..training import build_model, eval_task_ids, train


class _OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr with exit status 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(ValueError(message))} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(prog="quickstart", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rollout rounds, one update each (default: the preset's 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of tasks, sampling and initialisation")
    parser.add_argument("--model", default="tiny", help="model name or path (default: the offline tiny model)")
    parser.add_argument("--run-dir", help="run directory (default: runs/quickstart-<time>)")
    args = parser.parse_args(argv)
    try:
        return _quickstart(args)
    except (ConfigError, CheckpointError) as error:  # one line, as gigpo-train prints its errors
        print(f"quickstart: error: {one_line(error)}", file=sys.stderr)
        return 2


def _quickstart(args: argparse.Namespace) -> int:
    config = resolve_config("cpu-quickstart", rounds=args.rounds, seed=args.seed, model=args.model)
    run_dir = Path(args.run_dir or f"runs/quickstart-{time.strftime('%Y%m%d-%H%M%S')}")
    # the untrained agent: build_model is deterministic for a seed, so this is the model train() starts from
    before = evaluate(
        build_model(config),
        config.env,
        eval_task_ids(config),
        env_kwargs=config.gym_kwargs(config.eval_split),
        episodes_per_task=config.eval_episodes,
        seed=config.seed,
    )
    print(f"before training ({config.eval_split}, {config.eval_tasks} tasks x {config.eval_episodes} episodes):")
    print(format_table(config.env, before))
    after = train(config, run_dir)
    print(f"success: {before['all']:.1f}% before, {after['all']:.1f}% after {config.rounds} round(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
