"""Both envs keep the text-env contract (gigpo_gym.checker), and the checker catches a broken one."""

from __future__ import annotations

import gymnasium as gym
import pytest

import gigpo_gym
from gigpo_gym.checker import check_text_env


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [("ALFWorld-text-v0", {"max_receptacles": 3}), ("ALFWorld-text-v0", {}), ("WebShop-text-v0", {"split": "train"})],
)
def test_both_envs_keep_the_text_env_contract(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    check_text_env(env, steps=12)
    assert env.unwrapped.card is gigpo_gym.env_card(env_id)  # the card an id names is the env's own


def test_check_text_env_names_a_broken_promise():
    class Unsorted(gym.Wrapper):
        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            return obs, {**info, "admissible_commands": sorted(info["admissible_commands"], reverse=True)}

    with pytest.raises(AssertionError, match="reset: the card promises sorted admissible commands"):
        check_text_env(Unsorted(gym.make("ALFWorld-text-v0")))

    class Forgetful(gym.Wrapper):
        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            return obs, reward, terminated, truncated, {k: v for k, v in info.items() if k != "goal"}

    with pytest.raises(AssertionError, match=r"step 0 \(.*\): info\['goal'\] must be a non-empty str"):
        check_text_env(Forgetful(gym.make("WebShop-text-v0")))
