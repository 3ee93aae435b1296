"""ALFWorld-text-v0: ALFWorld's household tasks as a text Gymnasium environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from ..text_env import TextEnv
from .generator import generate_task, n_tasks, split_task_types
from .world import TASK_TYPES, Engine, Task

__all__ = ["ALFWorldTextEnv", "make_alfworld_env"]


class ALFWorldTextEnv(TextEnv):
    """ALFWorld (Shridhar et al. 2021) household tasks in text, played by an embedded engine.

    The agent is put in a room (kitchen, living room, bedroom or bathroom) with numbered
    receptacles (``cabinet 3``, ``fridge 1``) and objects (``apple 1``) and a task such as
    ``"heat some egg and put it in diningtable."``. The embedded engine implements ALFWorld's PDDL
    rules and TextWorld's messages (ALFWorld 0.4.x, game data 2.1.2) in pure Python, with tasks
    from a seeded generator (see :mod:`gigpo_gym.alfworld.generator`).

    ## Action space
    ``AnyText``: a command string. Admissible commands (``info["admissible_commands"]``, sorted)
    follow ALFWorld's grammar: ``go to {recep}``, ``open {recep}``, ``close {recep}``,
    ``take {obj} from {recep}``, ``move {obj} to {recep}``, ``examine {recep|obj}``,
    ``use {lamp}``, ``heat {obj} with microwave N``, ``cool {obj} with fridge N``,
    ``clean {obj} with sinkbasin N``, ``slice {obj} with {knife}``, ``inventory``, ``look``.
    A command is matched exactly after ``strip()``; anything else answers ``"Nothing happens."``
    and changes nothing.

    ## Observation space
    ``Dict({"text": AnyText, "state_hash": AnyText(32)})``: the game's feedback text (the intro
    with the room overview and the task after ``reset``) and a 32-hex-digit blake2b digest of the
    full world state (task, agent position, held object, every object's receptacle, open
    receptacles, hot/cool/clean/sliced/on/toggled flags). Equal states give equal hashes in any
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
    - ``split``: ``"train"`` (3,553 tasks), ``"valid_seen"`` (140) or ``"valid_unseen"`` (134,
      floor plans never used in train).
    - ``task_types``: optional subset of the six task types to draw from.
    - ``success_reward``: reward for completing the task.
    - ``render_mode``: ``"ansi"`` (``render()`` returns the last text) or ``"human"`` (prints it).

    ``info`` holds ``admissible_commands``, ``won``, ``task_type``, ``task_id``, ``goal``,
    ``scene`` and ``is_success`` (= ``won``, the key SB3's callbacks read).
    """

    def __init__(
        self,
        split: str = "train",
        task_types: tuple[str, ...] | list[str] | None = None,
        success_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=256)
        self.split = split
        size = n_tasks(split)
        if task_types is None:
            task_ids = list(range(size))
        else:
            unknown = sorted(set(task_types) - set(TASK_TYPES))
            if unknown:
                raise ValueError(f"task_types {unknown} are not ALFWorld task types {TASK_TYPES}")
            kinds = split_task_types(split)
            task_ids = [i for i in range(size) if kinds[i] in task_types]
        if not task_ids:
            raise ValueError(f"split {split!r} holds no task of types {list(task_types)}")
        self._set_tasks(task_ids, f"split {split!r} with the chosen task_types")
        self.success_reward = float(success_reward)
        self.engine: Engine | None = None

    # ------------------------------------------------------------------ gym API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self._choose_task(options)
        self.engine = Engine(self.load_task(index))
        self._text = self.engine.reset()
        return self._observation(), self._info(won=False)

    def step(self, action: str):
        self._check_action(action)
        self._text, won = self.engine.step(action)
        reward = self.success_reward if won else 0.0
        return self._observation(), reward, won, False, self._info(won=won)

    # ------------------------------------------------------------------ helpers

    def load_task(self, index: int) -> Task:
        """Task ``index`` of this env's split."""
        return generate_task(self.split, index)

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
