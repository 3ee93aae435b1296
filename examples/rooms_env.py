"""Rooms-v0: a few-room text world. Walk the corridor to the room the goal names and take the item there."""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register, registry

from gigpo_gym.text_env import EnvCard, TextEnv

ROOMS = ("hall", "kitchen", "study", "garden", "attic")  # west to east; every episode starts in the hall
ITEMS = ("key", "coin", "lamp")
TASKS = [(item, room) for item in ITEMS for room in ROOMS[1:]]  # 12 tasks; every third is held out for "test"


class RoomsEnv(TextEnv):
    """Take the item the goal names from its room: ``go east``/``go west``, then ``take {item}``. The take pays
    ``success_reward`` and ends the episode; anything else pays 0 (a command that is not admissible does nothing)."""

    card = EnvCard(
        description="a corridor of rooms (Rooms) where you walk east or west and take things",
        eval_split="test",
        columns=(("near", "Near"), ("far", "Far"), ("all", "All")),  # success % per info["task_type"], overall
        sorted_commands=True,
    )

    def __init__(self, split: str = "train", success_reward: float = 1.0, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        test = split == "test"
        self.set_tasks([i for i in range(len(TASKS)) if (i % 3 == 0) == test], f"split {split!r}")
        self.success_reward = success_reward

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.item, self.target = TASKS[self.choose_task(options)]
        self.room, self.held = 0, False
        return self._observe(), self._info()

    def step(self, action: str):
        self.check_action(action)
        command = action.strip()
        if command in self._commands():
            self.held = command.startswith("take")
            self.room += {"go east": 1, "go west": -1}.get(command, 0)
        reward = self.success_reward if self.held else 0.0
        return self._observe(), reward, self.end_if(self.held), False, self._info()

    def expert_command(self) -> str:
        there = ROOMS.index(self.target)
        return f"take {self.item}" if self.room == there else "go east" if self.room < there else "go west"

    def _commands(self) -> list[str]:
        commands = ["go east"] if self.room < len(ROOMS) - 1 else []
        commands += ["go west"] if self.room > 0 else []
        here = ROOMS[self.room] == self.target and not self.held
        return sorted(commands + ([f"take {self.item}"] if here else []))

    def _observe(self) -> dict[str, str]:
        seen = f" You see a {self.item}." if ROOMS[self.room] == self.target and not self.held else ""
        text = f"You take the {self.item}." if self.held else f"You are in the {ROOMS[self.room]}.{seen}"
        return self.observation(text, (self.item, self.target, self.room, self.held))  # the hash of the full state

    def _info(self) -> dict[str, Any]:
        return {
            "goal": f"take the {self.item} from the {self.target}",
            "admissible_commands": self._commands(),
            "won": self.held,
            "task_type": "near" if ROOMS.index(self.target) <= 2 else "far",
        }


if "Rooms-v0" not in registry:  # importing this module registers the id (gym.make("examples.rooms_env:Rooms-v0"))
    register(id="Rooms-v0", entry_point=RoomsEnv, max_episode_steps=10)
