"""Your own env as a first-class path: the README's Rooms-v0 (examples/rooms_env.py, not a built-in) trained,
resumed and evaluated through the Python API and both command lines; its card in the prompt and the table; a broken
env refused at the start; ``split``/``success_reward`` only for envs that take them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from gymnasium.envs.registration import register, registry

import gigpo_gym
from examples import rooms_env
from examples.rooms_env import RoomsEnv
from gigpo_gym.checker import EnvContractError, check_text_env
from gigpo_gym.text_env import EnvCard
from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.config import ConfigError, resolve_config
from trainer.evaluation import evaluate, format_table
from trainer.gigpo import GiGPO
from trainer.training import eval_task_ids, train

ROOT = Path(__file__).resolve().parents[1]
ENV = "examples.rooms_env:Rooms-v0"  # Gymnasium's "module:id": the module registers Rooms-v0 when imported
SMALL = dict(n_groups=2, group_size=2, batch_size=8, micro_batch_size=4, max_episode_steps=6, eval_tasks=4)
ARGV = ["--n_groups", "2", "--group_size", "2", "--batch_size", "8", "--micro_batch_size", "4"]
ARGV += ["--max_episode_steps", "6", "--eval_tasks", "4", "--no-progress"]


class _DropGoal(gym.Wrapper):
    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {k: v for k, v in info.items() if k != "goal"}


class _RoomHash(gym.Wrapper):
    """The state "hash" is the room's name: not a digest of the state."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return {**obs, "state_hash": "hall"}, info


class _FixedRooms(RoomsEnv):
    """An env that takes neither ``split`` nor ``success_reward``, and whose card names no split nor columns."""

    card = EnvCard(description="a fixed corridor of rooms")

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)


for _id, _entry in (
    ("NoGoalRooms-v0", lambda **kwargs: _DropGoal(RoomsEnv(**kwargs))),
    ("RoomHashRooms-v0", lambda **kwargs: _RoomHash(RoomsEnv(**kwargs))),
    ("FixedRooms-v0", _FixedRooms),
):
    if _id not in registry:
        register(id=_id, entry_point=_entry, max_episode_steps=10)


def test_the_readme_shows_the_example_env_as_it_is():
    source = Path(rooms_env.__file__).read_text()
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Train on your own environment", 1)[1].split("\n## ", 1)[0]
    assert f"```python\n{source}```" in section


def test_the_example_keeps_the_text_env_contract_and_its_expert_solves_it():
    for split in ("train", "test"):
        env = gym.make(ENV, split=split)
        check_text_env(env, steps=12)
        for task in env.unwrapped.task_ids:
            env.reset(options={"task_id": task})
            for _ in range(6):
                *_, terminated, _, info = env.step(env.unwrapped.expert_command())
                if terminated:
                    break
            assert info["won"]
    assert gym.make(ENV, split="test").unwrapped.task_ids == [0, 3, 6, 9]  # held out from "train"'s eight


def test_the_card_of_any_registered_id_is_read_from_its_entry_point():
    assert gigpo_gym.env_card(ENV) is RoomsEnv.card and gigpo_gym.env_card("Rooms-v0") is RoomsEnv.card
    assert gigpo_gym.env_card("FixedRooms-v0") is _FixedRooms.card
    assert gigpo_gym.env_card("NoGoalRooms-v0") is None  # a factory without a card: generic prompt and table
    table = {"far": 25.0, "near": 50.0, "all": 37.5, "score": 37.5}
    assert format_table(ENV, table).splitlines()[0] == "| Near | Far | All |"
    assert format_table("FixedRooms-v0", table).splitlines()[0] == "| far | near | all | score |"  # no columns


def test_train_resume_and_evaluate_through_the_python_api(tiny_path, tmp_path):
    config = resolve_config(env=ENV, model=tiny_path, rounds=1, **SMALL)
    assert (config.eval_split, config.success_reward) == ("test", None)  # the card's split; the env's own reward
    model = GiGPO.from_config(config)
    prompt = model.prompt("take the key from the attic", [], "You are in the hall.", ["go east"])
    assert "You are an agent acting in a corridor of rooms (Rooms) where you walk east or west" in prompt
    run = tmp_path / "run"
    train(config, run, progress=False)
    train(dataclasses.replace(config, rounds=2), run, resume=True, progress=False)
    assert GiGPO.load_extra(run / "checkpoint.zip")["run"]["rounds_done"] == 2
    assert (run / "eval.md").read_text().startswith("| Near | Far | All |\n")
    table = json.loads((run / "eval.json").read_text())
    assert set(table) == {"near", "far", "all", "score"}
    # the final evaluation again, on the saved model: the same table
    loaded = GiGPO.load(run / "checkpoint.zip")
    kwargs = config.gym_kwargs(config.eval_split)
    assert evaluate(loaded, ENV, eval_task_ids(config), kwargs, seed=config.seed) == table


def test_train_resume_and_evaluate_through_both_command_lines(tiny_path, tmp_path, monkeypatch, capsys):
    # gigpo-train as a fresh process meets the id: the module is not imported and Rooms-v0 not registered (main is
    # what python -m trainer.cli.train runs; in this process, to spare the suite an interpreter start)
    monkeypatch.delitem(sys.modules, "examples.rooms_env")
    monkeypatch.delitem(registry, "Rooms-v0")
    run = tmp_path / "run"
    argv = ["--env", ENV, "--model", tiny_path, "--rounds", "1", *ARGV, "--run-dir", str(run)]
    assert train_cli.main(argv) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["env"] == ENV
    assert train_cli.main(["--resume", "--run-dir", str(run), "--rounds", "2", "--no-progress"]) == 0
    assert "| Near | Far | All |" in capsys.readouterr().out
    # gigpo-eval in a fresh interpreter: the checkpoint's config names the module, which it imports
    out = tmp_path / "eval.json"
    done = subprocess.run(
        [sys.executable, "-m", "trainer.cli.evaluate", "--checkpoint", str(run), "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"{ENV} test, 4 tasks x 1 episode(s), checkpoint" in done.stdout and "| Near | Far | All |" in done.stdout
    assert json.loads(out.read_text()) == json.loads((run / "eval.json").read_text())  # the run's own evaluation
    assert eval_cli.main(["--env", ENV, "--policy", "expert"]) == 0
    table = "| Near | Far | All |\n|---:|---:|---:|\n| 100.0 | 100.0 | 100.0 |"
    assert table in capsys.readouterr().out
    # where the module cannot be imported, the run is not called damaged: the error names the module
    monkeypatch.setitem(sys.modules, "examples.rooms_env", None)
    monkeypatch.delitem(registry, "Rooms-v0")
    assert eval_cli.main(["--checkpoint", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"was trained on env '{ENV}': cannot import module 'examples.rooms_env'" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        (
            "NoGoalRooms-v0",
            "env 'NoGoalRooms-v0' breaks the text-env contract: reset: info['goal'] must be a non-empty",
        ),
        ("RoomHashRooms-v0", "env 'RoomHashRooms-v0' breaks the text-env contract: reset: state_hash 'hall' is not 32"),
    ],
)
def test_a_broken_env_is_refused_at_the_start_naming_the_key(env_id, message, tiny_path, tmp_path, capsys):
    argv = ["--env", env_id, "--model", tiny_path, "--run-dir", str(tmp_path / "run"), "--no-progress"]
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gigpo-train: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()  # refused before any work
    assert eval_cli.main(["--env", env_id, "--policy", "random"]) == 2
    assert capsys.readouterr().err.startswith(f"gigpo-eval: error: {message}")
    with pytest.raises(EnvContractError, match=re.escape(message)):
        GiGPO("LLMPolicy", env_id, n_groups=1, group_size=2, policy_kwargs=dict(model_name_or_path=tiny_path))
    agent = GiGPO("LLMPolicy", ENV, n_groups=1, group_size=2, policy_kwargs=dict(model_name_or_path=tiny_path))
    with pytest.raises(EnvContractError, match=re.escape(message)):
        evaluate(agent, env_id, [1])


def test_split_and_success_reward_go_only_to_envs_that_take_them():
    config = resolve_config(env="FixedRooms-v0")
    assert (config.eval_split, config.success_reward) == (None, None)
    assert config.gym_kwargs(config.eval_split) == {"max_episode_steps": 50}
    gym.make(config.env, **config.gym_kwargs(config.eval_split))
    with pytest.raises(ConfigError, match="success_reward is 10.0, but env 'FixedRooms-v0' takes no 'success_reward'"):
        resolve_config(env="FixedRooms-v0", success_reward=10.0)
    with pytest.raises(ConfigError, match="eval_split is 'test', but env 'FixedRooms-v0' takes no 'split' argument"):
        resolve_config(env="FixedRooms-v0", eval_split="test")
    assert eval_cli.main(["--env", "FixedRooms-v0", "--policy", "random", "--split", "test"]) == 2
    # the envs that take them get them where they are set
    assert resolve_config(env=ENV, success_reward=10.0).gym_kwargs("train")["success_reward"] == 10.0
    assert "success_reward" not in resolve_config(env=ENV).gym_kwargs()
    assert resolve_config(env="WebShop-text-v0").eval_split == "test"  # the card's, not ALFWorld's valid_seen


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("no_such_module:Rooms-v0", "env 'no_such_module:Rooms-v0': cannot import module 'no_such_module'"),
        ("examples.rooms_env:Nope-v0", "env 'examples.rooms_env:Nope-v0': module 'examples.rooms_env' registers no"),
    ],
)
def test_a_module_id_that_cannot_be_found_is_one_line(env_id, message, capsys):
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(env=env_id)
    assert train_cli.main(["--env", env_id]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gigpo-train: error: {message}") and err.count("\n") == 1
    assert eval_cli.main(["--env", env_id, "--policy", "random"]) == 2
    assert capsys.readouterr().err.startswith(f"gigpo-eval: error: {message}")
