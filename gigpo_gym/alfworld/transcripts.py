"""Replay transcripts of the real ALFWorld env through the embedded engine and compare, step by step.

Transcripts are recorded by ``benchmarks/alfworld_real.py`` (run where ``alfworld==0.4.2`` is
installed): one JSON line per game with its path relative to the data folder and episodes of
``{"intro", "admissible", "steps": [{"command", "obs", "admissible", "won", "time_s"}], "reset_s"}``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..transcripts import read_transcripts
from .pddl import load_game
from .world import Engine

__all__ = ["Replay", "read_transcripts", "replay_game"]


@dataclass
class Replay:
    """What replaying one game's episodes gave: step counts, the first mismatch, and timings."""

    steps: int = 0  # compared observations: each reset and each step
    matched: int = 0
    first_mismatch: str | None = None
    embedded_step_s: float = 0.0
    embedded_reset_s: float = 0.0
    real_step_s: float = 0.0
    real_reset_s: float = 0.0
    resets: int = 0
    commands: int = 0
    task_type: str = ""


def replay_game(record: dict, data_path: str | os.PathLike[str]) -> Replay:
    """Play ``record``'s commands through the embedded engine (2.1.1 text) and compare every observation,
    sorted admissible-command list and ``won`` flag with the real env's."""
    task = load_game(Path(data_path) / record["game"])
    result = Replay(task_type=task.goal.task_type)
    for episode in record["episodes"]:
        start = time.perf_counter()
        engine = Engine(task)
        intro = engine.reset()
        admissible = engine.admissible_commands()
        result.embedded_reset_s += time.perf_counter() - start
        result.real_reset_s += episode["reset_s"]
        result.resets += 1
        observed = [("<reset>", intro, admissible, False, episode["intro"], episode["admissible"], False)]
        for step in episode["steps"]:
            start = time.perf_counter()
            text, won = engine.step(step["command"])
            admissible = engine.admissible_commands()
            result.embedded_step_s += time.perf_counter() - start
            result.real_step_s += step["time_s"]
            result.commands += 1
            observed.append((step["command"], text, admissible, won, step["obs"], step["admissible"], step["won"]))
        for command, text, admissible, won, real_text, real_admissible, real_won in observed:
            result.steps += 1
            if (text, admissible, won) == (real_text, real_admissible, real_won):
                result.matched += 1
            elif result.first_mismatch is None:
                diff = []
                if text != real_text:
                    diff.append(f"text {text!r} != real {real_text!r}")
                if admissible != real_admissible:
                    extra, missing = (
                        sorted(set(admissible) - set(real_admissible)),
                        sorted(set(real_admissible) - set(admissible)),
                    )
                    diff.append(f"admissible: extra {extra}, missing {missing}")
                if won != real_won:
                    diff.append(f"won {won} != real {real_won}")
                result.first_mismatch = f"{record['game']} after {command!r}: " + "; ".join(diff)
    return result
