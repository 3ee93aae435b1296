"""``AgentObservation``: a text env whose observations also carry what the agent's prompt reads from ``info``, so
that tools which hand ``model.predict`` nothing but observations (SB3's ``evaluate_policy`` and ``EvalCallback``)
can drive a GiGPO model."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gigpo_gym.spaces import AnyText

__all__ = ["AGENT_KEYS", "AgentObservation", "CommandTuple"]

# what GiGPO.predict needs beside the observation's text: the task and the commands it may choose from
AGENT_KEYS = ("goal", "admissible_commands")


class CommandTuple(spaces.Sequence):
    """A tuple of command strings (``info["admissible_commands"]`` as a tuple). One value is one Python object, as
    for :class:`~gigpo_gym.spaces.AnyText` (``shape`` ``()``, ``dtype`` ``object``), so SB3's ``DummyVecEnv`` stores
    a batch of them in an object array."""

    def __init__(self, max_length: int = 256, seed: Any = None) -> None:
        super().__init__(AnyText(max_length=max_length, min_length=0), seed=seed)
        self._shape, self.dtype = (), np.dtype(object)

    def __repr__(self) -> str:
        return f"CommandTuple({self.feature_space})"


class AgentObservation(gym.Wrapper):
    """Adds ``info["goal"]`` and ``info["admissible_commands"]`` (as a tuple) to a text env's ``Dict`` observation.

    ``GiGPO.predict`` reads them from the observation, and the episode's history from its ``state``, so SB3's
    loop works unchanged::

        env = Monitor(AgentObservation(gym.make("ALFWorld-text-v0")))
        mean_reward, std_reward = evaluate_policy(model, env, n_eval_episodes=10)

    ``info`` is returned unchanged. Observations: ``Dict({"text", "state_hash", ..., "goal",
    "admissible_commands"})``; an env whose ``info`` lacks one of the two keys raises a ``ValueError`` naming it.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or not isinstance(space.spaces.get("text"), spaces.Text):
            raise TypeError(f"AgentObservation needs an env with Dict({{'text', ...}}) observations, got {space}")
        clash = [key for key in AGENT_KEYS if key in space.spaces]
        if clash:
            raise ValueError(f"the env's observations already hold {clash}: AgentObservation would overwrite them")
        text = space.spaces["text"]
        assert isinstance(text, spaces.Text)
        action = env.action_space
        self.observation_space = spaces.Dict(
            {
                **space.spaces,
                "goal": AnyText(max_length=text.max_length, min_length=0),
                "admissible_commands": CommandTuple(action.max_length if isinstance(action, spaces.Text) else 256),
            }
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self._with_agent_keys(obs, info), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_agent_keys(obs, info), reward, terminated, truncated, info

    def _with_agent_keys(self, obs: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        for key in AGENT_KEYS:
            if key not in info:
                raise ValueError(f"{self.env.spec.id if self.env.spec else self.env}: info has no {key!r}")
        return {**obs, "goal": info["goal"], "admissible_commands": tuple(info["admissible_commands"])}
