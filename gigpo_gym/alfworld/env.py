"""ALFWorld-text-v0: ALFWorld's household tasks as a text Gymnasium environment."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import gymnasium as gym

from ..text_env import TextEnv
from .card import ALFWORLD_CARD
from .expert import expert_command
from .generator import generate_task, split_task_types
from .pddl import find_games, load_game
from .world import GRAMMAR_VERSIONS, TASK_TYPES, Engine, Task

__all__ = ["ALFWORLD_CARD", "ALFWorldTextEnv", "make_alfworld_env"]


class ALFWorldTextEnv(TextEnv):
    """ALFWorld (Shridhar et al. 2021) household tasks in text, played by an embedded engine.

    The agent is put in a room (kitchen, living room, bedroom or bathroom) with numbered
    receptacles (``cabinet 3``, ``fridge 1``) and objects (``apple 1``) and a task such as
    ``"heat some egg and put it in diningtable."``. The embedded engine implements ALFWorld's PDDL
    rules and TextWorld's text in pure Python (see :mod:`gigpo_gym.alfworld.world`). It plays the
    real ALFWorld games when given their folder (``data_path`` or the ``ALFWORLD_DATA`` environment
    variable), transcript for transcript as TextWorld does, and otherwise tasks from a seeded
    generator with ALFWorld's split sizes and task-type counts (:mod:`gigpo_gym.alfworld.generator`).

    ## Action space
    ``AnyText``: a command string. Admissible commands (``info["admissible_commands"]``, sorted)
    follow ALFWorld's grammar: ``go to {recep}``, ``open {recep}``, ``close {recep}``,
    ``take {obj} from {recep}``, ``put {obj} in/on {recep}`` (``move {obj} to {recep}`` with
    ``grammar_version="2.1.2"``), ``examine {recep}``, ``examine {held obj}``, ``use {lamp}``,
    ``heat {obj} with microwave N``, ``cool {obj} with fridge N``, ``clean {obj} with sinkbasin N``,
    ``slice {obj} with {knife}``, ``inventory``, ``look`` (and ``help`` with 2.1.2).
    A command is matched exactly after ``strip()``; anything else answers ``"Nothing happens."``
    and changes nothing.

    ## Observation space
    ``Dict({"text": AnyText, "state_hash": AnyText(32)})``: the game's feedback text (the intro
    with the room overview and the task after ``reset``) and a 32-hex-digit blake2b digest of the
    full world state (task, agent position, held object, every object's receptacle, open
    receptacles, hot/cool/clean/sliced/on/toggled flags, and which receptacles objects were taken
    from, since TextWorld's text can depend on it). Equal states give equal hashes in any
    process and whatever the path that reached them; GiGPO groups steps by it.

    ## Rewards
    ``success_reward`` (default 1.0) on the step that completes the task, 0 otherwise.

    ## Starting state
    The agent stands in the middle of the room, hands empty, every openable receptacle closed.
    ``reset(options={"task_id": i})`` plays task ``i`` of the split; otherwise ``reset(seed=s)``
    draws the task from the seed (equal seeds give equal tasks), and a plain ``reset()`` draws the
    next task from the env's random generator.

    ## Episode end
    ``terminated`` when the task is completed; ``truncated`` at ``max_episode_steps`` (50 by
    default, set through ``gym.make``).

    ## Arguments
    - ``split``: ``"train"`` (3,553 generated tasks), ``"valid_seen"`` (140) or ``"valid_unseen"``
      (134, floor plans never used in train). With real games, the games ALFWorld's loader selects
      in ``json_2.1.1/<split>`` (6 task types, no ``movable``/``Sliced`` folders, solvable only:
      140 and 134 for the evaluation splits).
    - ``data_path``: folder holding ``json_2.1.1/`` with the real games; default ``ALFWORLD_DATA``;
      ``None`` and no variable set: generated tasks.
    - ``grammar_version``: ``"2.1.1"`` (default; the game data of the ALFWorld paper, "You arrive
      at loc 12.", ``put {o} in/on {r}``) or ``"2.1.2"`` (ALFWorld 0.4.x: "You arrive at
      {recep}.", ``move {o} to {r}``, ``help``).
    - ``task_types``: optional subset of the six task types to draw from.
    - ``max_receptacles``: generated tasks only; ``None`` (default) for ALFWorld-size rooms (8 to 30
      receptacles), or a number (>= 3) for small rooms of the same tasks: the receptacles the task needs
      plus random others up to that number, and at most that many distractor object types. A uniform
      random policy almost never solves a full-size task; small rooms give a learning signal to models
      trained from scratch.
    - ``success_reward``: reward for completing the task.
    - ``render_mode``: ``"ansi"`` (``render()`` returns the last text) or ``"human"`` (prints it).

    ``info`` holds ``admissible_commands``, ``won``, ``task_type``, ``task_id``, ``goal``,
    ``scene`` and ``is_success`` (= ``won``, the key SB3's callbacks read); with real games
    ``task_id`` is the game file's path.
    """

    card = ALFWORLD_CARD

    def __init__(
        self,
        split: str = "train",
        task_types: tuple[str, ...] | list[str] | None = None,
        success_reward: float = 1.0,
        render_mode: str | None = None,
        data_path: str | os.PathLike[str] | None = None,
        grammar_version: str = "2.1.1",
        max_receptacles: int | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=256)
        if grammar_version not in GRAMMAR_VERSIONS:
            raise ValueError(f"grammar_version must be one of {GRAMMAR_VERSIONS}, got {grammar_version!r}")
        self.split = split
        self.grammar_version = grammar_version
        data_path = data_path if data_path is not None else os.environ.get("ALFWORLD_DATA")
        self.games: list[Path] | None = None
        if max_receptacles is not None and data_path is not None:
            raise ValueError(
                "max_receptacles applies to generated tasks; the real games keep their rooms "
                "(unset data_path and ALFWORLD_DATA to use it)"
            )
        if max_receptacles is not None and (isinstance(max_receptacles, bool) or not isinstance(max_receptacles, int)):
            raise TypeError(f"max_receptacles must be an integer >= 3, got {max_receptacles!r}")
        if max_receptacles is not None and max_receptacles < 3:
            raise ValueError(f"max_receptacles must be >= 3, got {max_receptacles}")
        self.max_receptacles = max_receptacles
        if data_path is not None:
            self.games = find_games(data_path, split)
            kinds = tuple(game.parent.parent.name.split("-", 1)[0] for game in self.games)
        else:
            kinds = split_task_types(split)
        if task_types is not None and (
            not isinstance(task_types, list | tuple) or not all(isinstance(t, str) for t in task_types)
        ):
            example = [TASK_TYPES[0]]
            raise TypeError(f"task_types must be a list of task type names such as {example}, got {task_types!r}")
        if task_types is None:
            task_ids = list(range(len(kinds)))
        else:
            unknown = sorted(set(task_types) - set(TASK_TYPES))
            if unknown:
                raise ValueError(f"task_types {unknown} are not ALFWorld task types {TASK_TYPES}")
            task_ids = [i for i, kind in enumerate(kinds) if kind in task_types]
        if not task_ids:
            wanted = "" if task_types is None else f" of types {list(task_types)}"
            raise ValueError(f"split {split!r} holds no task{wanted}")
        self.set_tasks(task_ids, f"split {split!r} with the chosen task_types")
        if (
            isinstance(success_reward, bool)
            or not isinstance(success_reward, int | float)
            or not (math.isfinite(success_reward) and success_reward > 0)
        ):
            raise ValueError(f"success_reward must be a finite number > 0, got {success_reward!r}")
        self.success_reward = float(success_reward)
        self._engine: Engine | None = None

    # ------------------------------------------------------------------ gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self.choose_task(options)
        self._engine = Engine(self.load_task(index), self.grammar_version)
        self._text = self.engine.reset()
        return self._observation(), self._info(won=False)

    @property
    def engine(self) -> Engine:
        """The running episode's engine (the simulator's full state)."""
        if self._engine is None:
            raise RuntimeError("call reset() before step(): no episode is running")
        return self._engine

    def step(self, action: str):
        self.check_action(action)
        self._text, won = self.engine.step(action)
        reward = self.success_reward if won else 0.0
        return self._observation(), reward, self.end_if(won), False, self._info(won=won)

    def expert_command(self) -> str:
        """The PDDL expert's next command (``look`` once the task is done: the episode has ended then)."""
        return expert_command(self.engine) or "look"

    # ------------------------------------------------------------------ helpers

    def load_task(self, index: int) -> Task:
        """Task ``index`` of this env's split: the real game file, or the generated task."""
        if self.games is not None:
            return load_game(self.games[index])
        return generate_task(self.split, index, self.max_receptacles)

    def _observation(self) -> dict[str, str]:
        return {"text": self._text, "state_hash": self.engine.state_hash()}

    def _info(self, won: bool) -> dict[str, Any]:
        goal = self.engine.task.goal
        return {
            "admissible_commands": self.engine.admissible_commands(),
            "won": won,
            "task_type": goal.task_type,
            "task_id": self.engine.task.task_id,
            "goal": goal.text,
            "scene": self.engine.task.scene,
            "is_success": won,  # read by SB3's evaluation callbacks
        }


def make_alfworld_env(backend: str = "embedded", **kwargs: Any) -> gym.Env:
    """Entry point of ``ALFWorld-text-v0``: the embedded engine or the real TextWorld backend."""
    if backend == "embedded":
        return ALFWorldTextEnv(**kwargs)
    if backend == "textworld":
        from .textworld_backend import ALFWorldTextWorldEnv

        return ALFWorldTextWorldEnv(**kwargs)
    raise ValueError(f"backend must be 'embedded' or 'textworld', got {backend!r}")


# gigpo_gym.env_card reads the card of an id from its entry point (both backends share it)
make_alfworld_env.card = ALFWORLD_CARD  # type: ignore[attr-defined]
