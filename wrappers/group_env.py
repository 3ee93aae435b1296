"""``GroupVecEnv``: ``n_groups`` x ``group_size`` env copies, each group on one task."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from gigpo_gym.checker import check_env_start
from gigpo_gym.hashing import canonical_hash

__all__ = ["GroupVecEnv"]


class GroupVecEnv(VecEnv):
    """Copies of a text env grouped for group-relative RL (GRPO, GiGPO).

    ``reset()`` starts a rollout round: it draws ``n_groups`` new task seeds and resets every copy
    of group ``g`` with ``seed=task_seed[g]``, so a group's copies start from the *same* task.
    ``step(actions)`` steps the copies still running; a finished copy keeps its last observation,
    gets reward 0 and is skipped (``active`` tells which copies run) until the round ends, when
    every copy is done.

    Attributes ``n_groups`` (the groups this copy runs), ``total_groups`` (the round's, over every rank) and
    ``shard`` say how a data-parallel run splits a round.

    Observations are dicts ``{"text", "state_hash"}``. Envs made by a callable whose observation is plain text
    get the canonical hash of the text as ``state_hash``, and ``infos`` carry ``goal`` (the task text, the first
    observation when such an env has no ``info["goal"]``) and ``admissible_commands``.

    An env id is checked on one reset and one step (:func:`gigpo_gym.checker.check_env_start`: dict observations
    with a 32-hex state hash, ``goal``, ``admissible_commands``, ``won``); a callable is trusted as it is.

    Args:
        env: a registered env id (``"pkg.module:Name-v0"`` imports the module), or a callable returning a new env.
        n_groups: tasks per round.
        group_size: copies (trajectories) per task.
        env_kwargs: keyword arguments of ``gym.make`` when ``env`` is an id.
        seed: seed of the task draws.
        shard: ``(rank, world)`` of a data-parallel run: ``n_groups`` is then the round's total, this copy runs
            the ``rank``-th of ``world`` equal slices of it (``n_groups / world`` groups), and its draws are the
            slices of the draw one process would make (every rank draws the same seeds and keeps its own).
    """

    def __init__(
        self,
        env: str | Callable[[], gym.Env],
        n_groups: int = 4,
        group_size: int = 8,
        env_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        if n_groups < 1 or group_size < 1:
            raise ValueError(f"n_groups and group_size must be >= 1, got {n_groups} and {group_size}")
        rank, world = shard
        if not 0 <= rank < world:
            raise ValueError(f"shard must be (rank, world) with 0 <= rank < world, got {shard}")
        if n_groups % world:
            raise ValueError(f"n_groups ({n_groups}) must be divisible by the number of processes ({world})")
        self.total_groups, self.shard = n_groups, (rank, world)
        n_groups //= world
        if isinstance(env, str):
            env_id, kwargs = env, dict(env_kwargs or {})
            make = lambda: gym.make(env_id, **kwargs)  # noqa: E731
            probe = make()
            check_env_start(probe, env_id)  # a broken contract fails here, named, not rounds into training
            probe.close()
        elif callable(env):
            make = env
        else:
            raise TypeError(f"env must be an env id or a callable returning an env, got {type(env).__name__}")
        self.n_groups, self.group_size = n_groups, group_size
        self.envs = [make() for _ in range(n_groups * group_size)]
        first = self.envs[0]
        self.env_id: str | None = first.spec.id if first.spec is not None else None
        space = first.observation_space
        text_only = isinstance(space, gym.spaces.Text)
        if not text_only and not (isinstance(space, gym.spaces.Dict) and {"text", "state_hash"} <= set(space.spaces)):
            raise TypeError(
                f"GroupVecEnv needs envs whose observation is text or Dict({{'text', 'state_hash'}}), got {space}"
            )
        self._text_only = text_only
        self.group_ids = np.repeat(np.arange(n_groups), group_size)
        self._rng = np.random.default_rng(seed)
        self._obs: list[dict[str, str]] = []
        self._infos: list[dict[str, Any]] = []
        self._actions: Sequence[str | None] = []
        super().__init__(len(self.envs), space, first.action_space)
        self.active = np.zeros(self.num_envs, dtype=bool)

    # ------------------------------------------------------------------ VecEnv API

    # text observations and command actions are lists, not the numeric arrays VecEnv's signatures name
    def reset(self) -> list[dict[str, str]]:  # type: ignore[override]
        """Start a round: new tasks, every copy of a group on the same one."""
        rank = self.shard[0]
        task_seeds = self._rng.integers(0, 2**31 - 1, size=self.total_groups)[rank * self.n_groups :]
        self._obs, self._infos = [], []
        for i, env in enumerate(self.envs):
            obs, info = env.reset(seed=int(task_seeds[self.group_ids[i]]))
            self._obs.append(self._as_dict(obs))
            info.setdefault("goal", self._obs[-1]["text"])
            self._infos.append(info)
        self.reset_infos = list(self._infos)
        self.active[:] = True
        return list(self._obs)

    @property
    def infos(self) -> list[dict[str, Any]]:
        """The latest info of every copy."""
        return self._infos

    def step_async(self, actions: Sequence[str | None]) -> None:  # type: ignore[override]
        if not self._obs:
            raise RuntimeError("call reset() before step(): no round has started")
        if len(actions) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} actions, got {len(actions)}")
        self._actions = actions

    def step(  # type: ignore[override]
        self, actions: Sequence[str | None]
    ) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One step of every running copy (``None`` for the finished ones): observations, rewards, dones, infos."""
        self.step_async(actions)
        return self.step_wait()

    def step_wait(self) -> tuple[list[dict[str, str]], np.ndarray, np.ndarray, list[dict[str, Any]]]:  # type: ignore[override]
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        dones = np.zeros(self.num_envs, dtype=bool)
        for i in np.flatnonzero(self.active).tolist():
            action = self._actions[i]
            if not isinstance(action, str):
                raise TypeError(f"copy {i} is running and needs a command string, got {action!r}")
            obs, reward, terminated, truncated, info = self.envs[i].step(action)
            info.setdefault("goal", self._infos[i].get("goal", ""))
            info["TimeLimit.truncated"] = bool(truncated and not terminated)
            self._obs[i], self._infos[i] = self._as_dict(obs), info
            rewards[i], dones[i] = reward, terminated or truncated
        self.active &= ~dones
        return list(self._obs), rewards, dones, list(self._infos)

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.envs[i], attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        for i in self._get_indices(indices):
            setattr(self.envs[i], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        return [getattr(self.envs[i], method_name)(*method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        from stable_baselines3.common.env_util import is_wrapped

        return [is_wrapped(self.envs[i], wrapper_class) for i in self._get_indices(indices)]

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Reseed the task draws of the next rounds."""
        self._rng = np.random.default_rng(seed)
        return [seed] * self.num_envs

    def rng_state(self) -> dict[str, Any]:
        """The task-draw generator's state as JSON data (a checkpoint keeps it to continue the task sequence)."""
        return dict(self._rng.bit_generator.state)

    def set_rng_state(self, state: dict[str, Any]) -> None:
        """Continue the task draws from a :meth:`rng_state`."""
        try:
            self._rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(f"not a task-draw generator state: {state!r} ({error})") from error

    def _as_dict(self, obs: Any) -> dict[str, str]:
        if self._text_only:
            return {"text": obs, "state_hash": canonical_hash((obs,))}
        return {"text": obs["text"], "state_hash": obs["state_hash"]}
