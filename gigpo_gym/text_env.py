"""The base of every gigpo-gym env, built-in or your own: the observation and ``info`` contract, task selection,
action checks, rendering, and the card an env describes itself with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from .hashing import canonical_hash
from .spaces import AnyText, text_observation_space

__all__ = ["EnvCard", "TextEnv"]


@dataclass(frozen=True)
class EnvCard:
    """What an env tells the agent side and the evaluation about itself, so that no module outside the envs needs to
    know which env it runs. An env class carries it as its ``card`` class attribute; ``gigpo_gym.env_card(env_id)``
    reads it from the registered entry point without building the env.

    Args:
        description: how the agent's prompt introduces the environment ("You are an agent acting in
            {description}. Your task is to: {goal} ...").
        eval_split: the ``split`` evaluated when none is named (``gigpo-eval``, a config's ``eval_split``);
            ``None`` for an env that takes no ``split`` argument (it is evaluated as it is built).
        columns: the results table's ``(key, column name)`` pairs, in order. Keys are ``info["task_type"]`` values,
            ``"all"`` (success % over every episode) and ``"score"`` (100 x the mean final ``info["score"]``, or
            success where the env reports no score); a key missing from a table (a task type not evaluated) is
            left out. Empty: one column per key of the table.
        sorted_commands: whether ``info["admissible_commands"]`` is sorted (ALFWorld's are, as its loader sorts them;
            WebShop keeps the original's page order); :func:`~gigpo_gym.checker.check_text_env` holds it to that.
    """

    description: str
    eval_split: str | None = None
    columns: tuple[tuple[str, str], ...] = ()
    sorted_commands: bool = False


class TextEnv(gym.Env):
    """The base class of a text env that GiGPO trains on: command-string actions, text observations with a state
    hash, and tasks picked by id. Subclass it for your own env (README, "Train on your own environment").

    ## Action space
    ``AnyText(max_action_length)``: any command string. ``info["admissible_commands"]`` lists the commands that
    make sense now; anything else must be accepted too (a no-op with a message, as a text game answers).

    ## Observation space
    ``Dict({"text": AnyText, "state_hash": AnyText(32)})``: what the agent reads after the step, and a digest of the
    env's full state: 32 lower-case hex digits, equal for equal states in any process and whatever the path that
    reached them (GiGPO's step groups are the steps taken from one state). :meth:`observation` builds it from the
    text and the state as a tuple of str/int/bool/None.

    ## Rewards
    The env's own (float). The built-in envs pay ``success_reward`` when the task is done and 0 otherwise.

    ## Episode end
    ``terminated`` when the task is done (or failed for good); the step limit (``truncated``) is Gymnasium's
    ``TimeLimit`` from the registered ``max_episode_steps`` (``gym.make(..., max_episode_steps=N)`` overrides it).
    A step after termination raises until the next ``reset``.

    ## Info
    After ``reset`` and every ``step``:

    - ``goal`` (str, required): the task in words; the prompt's "Your task is to: ...".
    - ``admissible_commands`` (list of distinct str, required, non-empty while the episode runs): the choices the
      agent is shown (score mode picks one of them; generate mode is judged valid by them).
    - ``won`` or ``is_success`` (bool, required after a step): whether the task is done; success rates and tables
      count it.
    - ``task_type`` (str, optional): the task's kind; the results table has a success column per kind (the
      card's ``columns`` name them), and episodes without one count under ``"all"`` only.
    - ``score`` (float, optional): a graded result in [0, 1] for the table's ``score`` column (WebShop's score).

    Training (``gigpo-train``, ``GiGPO(...)`` with an env id) and evaluation check these keys and the state hash
    on one reset and one step before they start (:func:`gigpo_gym.checker.check_env_start`);
    :func:`gigpo_gym.checker.check_text_env` checks the whole contract over an episode.

    ## Arguments
    ``render_mode`` (``"ansi"`` returns the last text, ``"human"`` prints it) and ``max_action_length``. Training
    passes ``split`` (a config's ``eval_split``) and ``success_reward`` only to envs whose constructor takes them.

    ## What a subclass does
    Set a :class:`EnvCard` as the class's ``card``; in ``__init__`` call ``super().__init__(render_mode=...)`` and
    :meth:`set_tasks`; in ``reset`` call ``super().reset(seed=seed)`` and :meth:`choose_task`; in ``step`` call
    :meth:`check_action` first and pass ``terminated`` through :meth:`end_if`; return observations made by
    :meth:`observation`. Optionally override :meth:`expert_command` (the ``expert`` baseline).
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

    def set_tasks(self, task_ids: Sequence[int], what: str) -> None:
        """Declare the ids ``reset(options={"task_id": i})`` accepts (kept in ``task_ids``, in order: evaluations
        play the first N); ``what`` names the task set in errors (``"split 'train'"``)."""
        self.task_ids = list(task_ids)
        self._task_set = frozenset(self.task_ids)
        self._task_what = what

    def choose_task(self, options: dict[str, Any] | None) -> int:
        """The task of the episode ``reset`` starts: ``options["task_id"]`` when given (it must be one of
        ``task_ids``; no other option is accepted), else a draw from ``np_random`` (so ``reset(seed=s)`` picks the
        same task for the same seed). Marks the episode as running."""
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

    def check_action(self, action: Any) -> None:
        """Raise unless ``step(action)`` may run: ``reset`` was called, the episode has not terminated, and the
        action is a string."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, str):
            raise TypeError(f"action must be a command string, got {type(action).__name__}")
        if self._ended:
            raise RuntimeError("the episode has ended (terminated); call reset() before step()")

    def end_if(self, terminated: bool) -> bool:
        """Record whether the episode ended; returns ``terminated`` (a step after the end then raises)."""
        self._ended = bool(terminated)
        return self._ended

    def observation(self, text: str, state: tuple) -> dict[str, str]:
        """The observation ``{"text": text, "state_hash": ...}`` of the env in ``state`` (nested tuples of
        str/int/bool/None holding everything the future depends on, the task included; sort any unordered part
        first); :meth:`render` shows ``text``."""
        self._text = text
        return {"text": text, "state_hash": canonical_hash(state)}

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
