"""Prompting, action projection and the group vector env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import gigpo_gym  # noqa: F401
from wrappers.actions import format_action, parse_action, project_action
from wrappers.group_env import GroupVecEnv
from wrappers.prompting import PromptBuilder


def test_prompt_holds_task_recent_history_observation_and_actions():
    history = [(f"obs {k}", f"act {k}") for k in range(5)]
    text = PromptBuilder(history_length=2).build(
        "put a mug in shelf.", history, "You see a mug 1.", ["look", "go to shelf 1"]
    )
    assert "Your task is to: put a mug in shelf." in text
    assert "obs 3" in text and "act 4" in text and "obs 2" not in text
    assert "You have taken 5 step(s)" in text
    assert "Current observation: You see a mug 1." in text
    assert "['look', 'go to shelf 1']" in text
    assert "<think> </think>" in text and "<action> </action>" in text
    assert "obs 4" not in PromptBuilder(history_length=0).build("t", history, "now", [])


def test_prompt_uses_the_chat_template(tiny_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_path, trust_remote_code=False)
    rendered = PromptBuilder.render(tok, "hello")
    assert rendered == "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n"


def test_negative_history_length_is_rejected():
    with pytest.raises(ValueError, match="history_length"):
        PromptBuilder(history_length=-1)


@pytest.mark.parametrize(
    "text, admissible, expected",
    [
        ("<think>go</think><action> go to shelf 1 </action>", ["go to shelf 1"], ("go to shelf 1", True)),
        ("<action>look</action> then <action>a</action>", ["look"], ("look", True)),
        ("<action>a</action> then <action>look</action>", ["look"], ("a", False)),
        ("<action>Go to Shelf 1</action>", ["go to shelf 1"], ("go to shelf 1", True)),
        ("<ACTION>look</ACTION>", ["look"], ("look", True)),
        ("I will look around", ["look"], ("I will look around", False)),
        ("<action>look", ["look"], ("<action>look", False)),
        ("<action>   </action>", ["look"], ("<action>   </action>", False)),
        ("<action>dance</action>", ["look"], ("dance", False)),
    ],
)
def test_project_action(text, admissible, expected):
    assert project_action(text, admissible) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<think>x</think><action>dance</action>", ("dance", True)),  # well formed: valid whatever the command
        ("<action>look</action>", ("look", False)),  # no reasoning block
        ("<think>x</think>no action", ("<think>x</think>no action", False)),
        ("<think>\u6211\u60f3</think><action>look</action>", ("look", False)),  # CJK text
    ],
)
def test_project_action_format_rule(text, expected):
    assert project_action(text, ["look"], rule="format") == expected
    with pytest.raises(ValueError, match="validity rule.*'admissible', 'format'.*'strict'"):
        project_action(text, ["look"], rule="strict")


def test_format_and_parse_round_trip():
    assert parse_action(format_action("take apple 1 from countertop 1")) == "take apple 1 from countertop 1"
    with pytest.raises(TypeError):
        parse_action(None)


def test_group_copies_share_a_task_and_rounds_draw_new_ones():
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=3, group_size=2, seed=0)
    first = env.reset()
    hashes = [o["state_hash"] for o in first]
    assert hashes[0] == hashes[1] and hashes[2] == hashes[3] and hashes[4] == hashes[5]
    assert len({hashes[0], hashes[2], hashes[4]}) == 3
    assert all(info["goal"] and info["admissible_commands"] for info in env.infos)
    second = [o["state_hash"] for o in env.reset()]
    assert second != hashes
    again = GroupVecEnv("ALFWorld-text-v0", n_groups=3, group_size=2, seed=0)
    assert [o["state_hash"] for o in again.reset()] == hashes


def test_finished_copies_are_frozen_until_the_round_ends():
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=1, group_size=2, env_kwargs=dict(max_episode_steps=2), seed=0)
    env.reset()
    obs, rewards, dones, infos = env.step(["look", "inventory"])
    assert not dones.any() and env.active.all()
    obs, rewards, dones, infos = env.step(["look", "look"])
    assert dones.all() and not env.active.any()
    assert all(info["TimeLimit.truncated"] for info in infos)
    before = [o["text"] for o in obs]
    obs, rewards, dones, _ = env.step([None, None])  # nothing runs; nothing changes
    assert [o["text"] for o in obs] == before and not rewards.any()


def test_plain_text_envs_get_hashed_observations():
    class Echo(gym.Env):
        observation_space = gym.spaces.Text(64)
        action_space = gym.spaces.Text(64)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return "start", {"admissible_commands": ["a"]}

        def step(self, action):
            return action, 0.0, True, False, {"admissible_commands": []}

    env = GroupVecEnv(Echo, n_groups=1, group_size=2)
    obs = env.reset()
    assert obs[0]["state_hash"] == obs[1]["state_hash"] and len(obs[0]["state_hash"]) == 32
    assert env.infos[0]["goal"] == "start"
    obs, *_ = env.step(["x", "y"])
    assert obs[0]["state_hash"] != obs[1]["state_hash"]


def test_bad_envs_and_actions_raise():
    class Boxy(gym.Env):
        observation_space = gym.spaces.Box(0, 1, (2,))
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(TypeError, match="state_hash"):
        GroupVecEnv(Boxy, n_groups=1, group_size=2)
    with pytest.raises(ValueError, match="n_groups"):
        GroupVecEnv("ALFWorld-text-v0", n_groups=0)
    env = GroupVecEnv("ALFWorld-text-v0", n_groups=1, group_size=2)
    env.reset()
    with pytest.raises(ValueError, match="expected 2 actions"):
        env.step(["look"])
    with pytest.raises(TypeError, match="command string"):
        env.step(["look", None])
    assert np.array_equal(env.group_ids, [0, 0])
