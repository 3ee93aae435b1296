"""The base of every gigpo-gym env: the observation contract, task selection, action checks, rendering, and the
card an env describes itself with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from .spaces import AnyText, text_observation_space

__all__ = ["EnvCard", "TextEnv"]


@dataclass(frozen=True)
class EnvCard:
    """What an env tells the agent side and the evaluation about itself, so that no module outside the envs needs to
    know which env it runs.

    Args:
        description: how the agent's prompt introduces the environment.
        eval_split: the split evaluated when none is named.
        columns: the results table's ``(key, column name)`` pairs, in order; a key missing from a table (a task type
            that was not evaluated) is left out.
        sorted_commands: whether ``info["admissible_commands"]`` is sorted (ALFWorld's are, as its loader sorts them;
            WebShop keeps the original's page order).
    """

    description: str
    eval_split: str
    columns: tuple[tuple[str, str], ...]
    sorted_commands: bool


class TextEnv(gym.Env):
    """A Gymnasium env with ``Dict({"text", "state_hash"})`` observations and command-string actions.

    Subclasses declare their tasks with :meth:`_set_tasks`, set ``self._text`` (the last observation
    text), and call :meth:`_choose_task` in ``reset`` and :meth:`_check_action` in ``step``.
    ``task_ids`` lists the ids ``reset(options={"task_id": i})`` accepts.
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 1}
    card: ClassVar[EnvCard]

    def __init__(self, render_mode: str | None = None, max_action_length: int = 256) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = text_observation_space()
        self.action_space = AnyText(max_length=max_action_length, min_length=0)
        self._text = ""
        self._started = False
        self._ended = False
        self.task_ids: list[int] = []
        self._task_set: frozenset[int] = frozenset()
        self._task_what = ""

    def _set_tasks(self, task_ids: Sequence[int], what: str) -> None:
        """The tasks of this env (``what`` names them in errors)."""
        self.task_ids = list(task_ids)
        self._task_set = frozenset(self.task_ids)
        self._task_what = what

    def _choose_task(self, options: dict[str, Any] | None) -> int:
        """``options["task_id"]`` when given (it must be one of ``task_ids``), else a draw from ``np_random``."""
        self._started, self._ended = True, False
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise TypeError(f"reset options must be a dict such as {{'task_id': 3}}, got {type(options).__name__}")
        unknown = sorted(map(str, set(options) - {"task_id"}))
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; the only option is 'task_id'")
        if "task_id" not in options:
            return self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        index = options["task_id"]
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"task_id must be an integer, got {index!r}")
        index = int(index)
        if index not in self._task_set:
            raise ValueError(f"task_id {index} is not one of the {len(self.task_ids)} tasks of {self._task_what}")
        return index

    def _check_action(self, action: Any) -> None:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"action must be a command string, got {type(action).__name__}")
        if self._ended:
            raise RuntimeError("the episode has ended (terminated); call reset() before step()")

    def _end_if(self, terminated: bool) -> bool:
        """Record whether the episode ended; returns ``terminated`` (a step after the end then raises)."""
        self._ended = bool(terminated)
        return self._ended

    def expert_command(self) -> str:
        """The scripted expert's next command in the running episode (the ``expert`` baseline of the evaluation)."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted expert")

    def render(self) -> str | None:
        """``"ansi"`` returns the last text, ``"human"`` prints it, ``None`` renders nothing."""
        if self.render_mode == "ansi":
            return self._text
        if self.render_mode == "human":
            print(self._text)
        return None
