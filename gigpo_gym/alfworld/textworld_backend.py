"""``backend="textworld"``: the real ALFWorld games played by TextWorld, behind the same contract.

Needs ``pip install "gigpo-gym[alfworld]"`` (``alfworld==0.4.2``, which builds Fast Downward with
cmake and g++) and the ALFWorld game files: ``data_path`` or the ``ALFWORLD_DATA`` environment
variable pointing at a folder holding ``json_2.1.1/<split>/<task>/<trial>/game.tw-pddl``.
Games are selected as ALFWorld's own loader does: the six task types, no ``movable`` or
``Sliced`` task folders, ``solvable`` games only.

The state hash is the blake2b digest of the game's sorted PDDL facts (TextWorld's
``facts`` info), so it covers the full world state exactly as the embedded engine's does.
"""

from __future__ import annotations

import os
from typing import Any

from ..hashing import canonical_hash
from ..text_env import TextEnv
from .card import ALFWORLD_CARD
from .pddl import find_games

__all__ = ["ALFWorldTextWorldEnv"]


class ALFWorldTextWorldEnv(TextEnv):
    """The real ALFWorld/TextWorld env with ``ALFWorld-text-v0``'s spaces and info keys.

    Arguments: ``split``, ``data_path`` (or ``ALFWORLD_DATA``), ``success_reward``,
    ``render_mode``. ``reset(options={"task_id": i})`` plays game ``i`` of the sorted game list.
    """

    card = ALFWORLD_CARD

    def __init__(
        self,
        split: str = "valid_seen",
        data_path: str | None = None,
        success_reward: float = 1.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(render_mode, max_action_length=256)
        try:
            import textworld
            import textworld.gym  # noqa: F401
            from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
        except ImportError as err:
            raise ImportError(
                "backend='textworld' needs the real ALFWorld stack: pip install 'gigpo-gym[alfworld]' "
                f"(alfworld==0.4.2; needs cmake and g++). Import failed with: {err}"
            ) from err
        data_path = data_path or os.environ.get("ALFWORLD_DATA")
        if not data_path:
            raise ValueError("backend='textworld' needs data_path=... or the ALFWORLD_DATA environment variable")
        self.split = split
        self.games = find_games(data_path, split)
        self.set_tasks(range(len(self.games)), f"the {split!r} games")
        self.success_reward = float(success_reward)
        self._textworld = textworld
        self._wrappers = [AlfredDemangler(), AlfredInfos]
        self._infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True, extras=["gamefile"])
        self._env: Any = None  # TextWorld's gym env of the current game (TextWorld ships no types)
        self._game = -1
        self._goal = ""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self.choose_task(options)
        if index != self._game:
            if self._env is not None:
                self._env.close()
            env_id = self._textworld.gym.register_game(
                str(self.games[index]),
                self._infos,
                max_episode_steps=10_000,  # the TimeLimit wrapper of gym.make truncates
                wrappers=self._wrappers,
            )
            self._env = self._textworld.gym.make(env_id)
            self._game = index
        self._text, infos = self._env.reset()
        self._goal = self._text.split("Your task is to: ", 1)[-1].strip()
        return self._observation(infos), self._info(infos)

    def step(self, action: str):
        self.check_action(action)
        self._text, _, _, infos = self._env.step(action)
        won = bool(infos["won"])
        return self._observation(infos), self.success_reward if won else 0.0, won, False, self._info(infos)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def _observation(self, infos: dict[str, Any]) -> dict[str, str]:
        facts = tuple(sorted(str(f) for f in infos["facts"]))
        return {"text": self._text, "state_hash": canonical_hash((str(self.games[self._game]), facts))}

    def _info(self, infos: dict[str, Any]) -> dict[str, Any]:
        folder = self.games[self._game].parent.parent.name
        won = bool(infos["won"])
        return {
            "admissible_commands": sorted(infos["admissible_commands"]),
            "won": won,
            "task_type": folder.split("-")[0],
            "task_id": str(self.games[self._game]),
            "goal": self._goal,
            "scene": folder.rsplit("-", 1)[-1],
            "is_success": won,
        }
