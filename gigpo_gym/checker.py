"""``check_text_env``: the contract every gigpo-gym env keeps, as a checker in the style of Gymnasium's
``utils.env_checker.check_env``, which cannot check it (text observations and the state hash are this library's);
``check_env_start``: its cheap form, which training and evaluation run before they start."""

from __future__ import annotations

import re
from typing import Any

import gymnasium as gym

from .text_env import EnvCard, TextEnv

__all__ = ["EnvContractError", "check_env_start", "check_text_env"]

_HEX32 = re.compile(r"[0-9a-f]{32}")


class EnvContractError(AssertionError, ValueError):
    """An env breaks the text-env contract (:class:`~gigpo_gym.text_env.TextEnv`'s docstring). An AssertionError,
    as Gymnasium's checker raises, and a ValueError, as bad input is elsewhere; raised explicitly, so ``python -O``
    keeps the checks."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise EnvContractError(message)


def check_text_env(env: gym.Env, task_id: int | None = None, steps: int = 8) -> None:
    """Raise an :class:`EnvContractError` (an AssertionError) naming the first broken promise of the text-env
    contract.

    Checked on task ``task_id`` (default: the env's first) for up to ``steps`` steps of a policy that always takes
    the first admissible command:

    - the env is a :class:`TextEnv` with an :class:`EnvCard` (its prompt description, evaluation split and table
      columns);
    - observations are ``{"text": str, "state_hash": 32 lower-case hex digits}`` inside the observation space;
    - ``info`` holds ``goal`` (a non-empty string) and ``admissible_commands`` (a list of distinct strings, non-empty
      while the episode runs, sorted when the card says so) after ``reset`` and every step, and ``won`` or
      ``is_success`` (a bool) after every step; ``task_type`` is a string and ``score`` a number where given;
      ``step`` returns a float reward and bool flags;
    - the state hash is deterministic: replaying the commands from the same task under another seed gives the same
      hashes and the same admissible lists, and another task starts from another hash.
    """
    base = env.unwrapped
    _require(isinstance(base, TextEnv), f"{type(base).__name__} is not a gigpo_gym TextEnv")
    card = getattr(type(base), "card", None)
    _require(isinstance(card, EnvCard), f"{type(base).__name__} has no EnvCard `card`")
    task = base.task_ids[0] if task_id is None else task_id  # type: ignore[attr-defined]  # a TextEnv: checked
    first = _play(env, card, task, steps, seed=0)
    _require(first == _play(env, card, task, steps, seed=1), "replaying the same commands gave other states")
    others = [t for t in base.task_ids if t != task]  # type: ignore[attr-defined]
    if others:
        _require(_play(env, card, others[0], 0, seed=0)[0][0] != first[0][0], "two tasks start from one state hash")


def check_env_start(env: gym.Env, env_id: str) -> None:
    """The cheap form of :func:`check_text_env` that training and evaluation run before they start: the env lists
    its ``task_ids`` (evaluations play them), and one ``reset`` on the first task and one step with the first
    admissible command are checked as :func:`check_text_env` checks a step (the observation and its state hash,
    ``goal``, ``admissible_commands``, ``won``/``is_success``, the reward and flags). Any env that keeps it trains,
    a :class:`TextEnv` or not.

    Raises:
        EnvContractError: naming ``env_id``, where (reset or step) and the key that is wrong, on one line.
    """
    card = getattr(type(env.unwrapped), "card", None)
    task_ids = getattr(env.unwrapped, "task_ids", None)
    try:
        _require(
            isinstance(task_ids, list) and bool(task_ids) and all(isinstance(t, int) for t in task_ids),
            f"task_ids must be a non-empty list of ints (TextEnv.set_tasks), got {task_ids!r:.80}",
        )
        obs, info = env.reset(seed=0, options={"task_id": task_ids[0]})  # type: ignore[index]  # checked
        _check_step(env, card, obs, info, "reset", running=True)
        command = info["admissible_commands"][0]
        _play_step(env, card, command, f"step {command!r}")
    except EnvContractError as error:
        raise EnvContractError(f"env {env_id!r} breaks the text-env contract: {error}") from None


def _play(env: gym.Env, card: Any, task: int, steps: int, seed: int) -> list[tuple[str, list[str]]]:
    """``(state hash, admissible commands)`` of every visit of an episode taking the first admissible command."""
    obs, info = env.reset(seed=seed, options={"task_id": task})
    visits = [_check_step(env, card, obs, info, "reset", running=True)]
    for t in range(steps):
        command = info["admissible_commands"][0]
        visit, info, ended = _play_step(env, card, command, f"step {t} ({command!r})")
        visits.append(visit)
        if ended:
            break
    return visits


def _play_step(env: gym.Env, card: Any, command: str, where: str) -> tuple[tuple[str, list[str]], dict, bool]:
    """Step ``command`` and check what comes back: the visit, its info and whether the episode ended."""
    obs, reward, terminated, truncated, info = env.step(command)
    _require(isinstance(reward, float), f"{where}: reward must be a float, got {type(reward).__name__}")
    _require(isinstance(terminated, bool) and isinstance(truncated, bool), f"{where}: flags must be bools")
    ended = terminated or truncated
    visit = _check_step(env, card, obs, info, where, running=not ended)
    won = info.get("won", info.get("is_success"))
    _require(isinstance(won, bool), f"{where}: info['won'] (or 'is_success') must be a bool, got {won!r}")
    return visit, info, ended


def _check_step(
    env: gym.Env, card: Any, obs: Any, info: dict[str, Any], where: str, running: bool
) -> tuple[str, list[str]]:
    _require(isinstance(obs, dict) and set(obs) == {"text", "state_hash"}, f"{where}: observation keys {obs!r:.80}")
    _require(isinstance(obs["text"], str), f"{where}: observation text must be a str")
    state_hash = obs["state_hash"]
    _require(
        isinstance(state_hash, str) and _HEX32.fullmatch(state_hash) is not None,
        f"{where}: state_hash {state_hash!r} is not 32 hex digits",
    )
    _require(env.observation_space.contains(obs), f"{where}: the observation is outside the observation space")
    _require(isinstance(info.get("goal"), str) and bool(info["goal"]), f"{where}: info['goal'] must be a non-empty str")
    commands: list = info.get("admissible_commands")  # type: ignore[assignment]  # a list: checked next
    _require(isinstance(commands, list), f"{where}: info['admissible_commands'] must be a list, got {commands!r:.80}")
    _require(bool(commands) or not running, f"{where}: info['admissible_commands'] is empty while the episode runs")
    _require(all(isinstance(c, str) for c in commands), f"{where}: admissible commands must be strings")
    _require(len(set(commands)) == len(commands), f"{where}: admissible commands repeat")
    if isinstance(card, EnvCard) and card.sorted_commands:
        _require(commands == sorted(commands), f"{where}: the card promises sorted admissible commands")
    _require(isinstance(info.get("task_type", ""), str), f"{where}: info['task_type'] must be a str")
    score = info.get("score", 0.0)
    _require(isinstance(score, int | float) and not isinstance(score, bool), f"{where}: info['score'] must be a number")
    return state_hash, list(commands)
