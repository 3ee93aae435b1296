"""``check_text_env``: the contract every gigpo-gym env keeps, as a checker in the style of Gymnasium's
``utils.env_checker.check_env``, which cannot check it (text observations and the state hash are this library's)."""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym

from .text_env import EnvCard, TextEnv

__all__ = ["check_text_env"]

_HEX32 = re.compile(r"[0-9a-f]{32}")


def check_text_env(env: gym.Env, task_id: int | None = None, steps: int = 8) -> None:
    """Raise an AssertionError naming the first broken promise of the text-env contract.

    Checked on task ``task_id`` (default: the env's first) for up to ``steps`` steps of a policy that always takes
    the first admissible command:

    - the env is a :class:`TextEnv` with an :class:`EnvCard` (its prompt description, evaluation split and table
      columns);
    - observations are ``{"text": str, "state_hash": 32 lower-case hex digits}`` inside the observation space;
    - ``info`` holds ``goal`` (a non-empty string) and ``admissible_commands`` (a non-empty list of distinct strings,
      sorted when the card says so) after ``reset`` and every step; ``step`` returns a float reward and bool flags;
    - the state hash is deterministic: replaying the commands from the same task under another seed gives the same
      hashes and the same admissible lists, and another task starts from another hash.
    """
    base = env.unwrapped
    assert isinstance(base, TextEnv), f"{type(base).__name__} is not a gigpo_gym TextEnv"
    card = getattr(type(base), "card", None)
    assert isinstance(card, EnvCard), f"{type(base).__name__} has no EnvCard `card`"
    task = base.task_ids[0] if task_id is None else task_id
    first = _play(env, card, task, steps, seed=0)
    assert first == _play(env, card, task, steps, seed=1), "replaying the same commands gave other states"
    others = [t for t in base.task_ids if t != task]
    if others:
        assert _play(env, card, others[0], 0, seed=0)[0][0] != first[0][0], "two tasks start from one state hash"


def _play(env: gym.Env, card: EnvCard, task: int, steps: int, seed: int) -> list[tuple[str, list[str]]]:
    """``(state hash, admissible commands)`` of every visit of an episode taking the first admissible command."""
    obs, info = env.reset(seed=seed, options={"task_id": task})
    visits = [_check_step(env, card, obs, info, "reset")]
    for t in range(steps):
        command = info["admissible_commands"][0]
        obs, reward, terminated, truncated, info = env.step(command)
        where = f"step {t} ({command!r})"
        assert isinstance(reward, float), f"{where}: reward must be a float, got {type(reward).__name__}"
        assert isinstance(terminated, bool) and isinstance(truncated, bool), f"{where}: flags must be bools"
        visits.append(_check_step(env, card, obs, info, where))
        if terminated or truncated:
            break
    return visits


def _check_step(env: gym.Env, card: EnvCard, obs: Any, info: dict[str, Any], where: str) -> tuple[str, list[str]]:
    assert isinstance(obs, dict) and set(obs) == {"text", "state_hash"}, f"{where}: observation keys {obs!r:.80}"
    assert isinstance(obs["text"], str), f"{where}: observation text must be a str"
    assert _HEX32.fullmatch(obs["state_hash"]), f"{where}: state_hash {obs['state_hash']!r} is not 32 hex digits"
    assert env.observation_space.contains(obs), f"{where}: the observation is outside the observation space"
    assert isinstance(info.get("goal"), str) and info["goal"], f"{where}: info['goal'] must be a non-empty str"
    commands = info.get("admissible_commands")
    assert isinstance(commands, list) and commands, f"{where}: info['admissible_commands'] must be a non-empty list"
    assert all(isinstance(c, str) for c in commands), f"{where}: admissible commands must be strings"
    assert len(set(commands)) == len(commands), f"{where}: admissible commands repeat"
    if card.sorted_commands:
        assert commands == sorted(commands), f"{where}: the card promises sorted admissible commands"
    return obs["state_hash"], list(commands)
