"""The bad-input probe's cases (../shared/reviews/bad-input-probe.md) as tests: each ends in a right result or one
clear error naming the field, the value and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gigpo_gym  # noqa: F401
from gigpo_gym.alfworld import expert_command
from gigpo_gym.webshop import expert_action
from trainer import advantages as A
from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.config import ConfigError, resolve_config

from .conftest import SHARED

# --------------------------------------------------------------------------- envs


def alfworld():
    import gymnasium as gym

    return gym.make("ALFWorld-text-v0", split="valid_seen")


def webshop():
    import gymnasium as gym

    return gym.make("WebShop-text-v0")


@pytest.mark.parametrize("make", [alfworld, webshop])
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"task_id": "abc"}, TypeError, "task_id must be an integer, got 'abc'"),
        ({"task_id": None}, TypeError, "task_id must be an integer, got None"),
        ({"task_id": 2.7}, TypeError, "task_id must be an integer, got 2.7"),
        ({"task_id": True}, TypeError, "task_id must be an integer, got True"),
        ({"task_id": 10**9}, ValueError, "task_id 1000000000 is not one of"),
        ({"taskid": 3}, ValueError, r"unknown reset option\(s\) \['taskid'\]"),
        ([1, 2], TypeError, "reset options must be a dict"),
    ],
)
def test_bad_reset_options_are_named(make, options, error, message):
    with pytest.raises(error, match=message):
        make().reset(options=options)


def test_numpy_task_ids_are_accepted():
    assert alfworld().reset(options={"task_id": np.int64(3)})[1]["task_id"] == "valid_seen/3"


def test_a_finished_alfworld_episode_cannot_be_stepped_again():
    env = alfworld()
    env.reset(options={"task_id": 0})
    terminated, rewards = False, []
    while not terminated:
        _, reward, terminated, truncated, _ = env.step(expert_command(env.unwrapped.engine))
        rewards.append(reward)
        assert not truncated
    assert rewards[-1] == 1.0 and sum(rewards) == 1.0  # the success is paid once
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step("look")
    env.reset(options={"task_id": 0})  # a reset starts a new one
    env.step("look")


def test_a_webshop_purchase_terminates_and_ends_the_episode():
    env = webshop()
    env.reset(options={"task_id": 0})
    terminated = False
    for _ in range(15):
        _, reward, terminated, _, _ = env.step(expert_action(env.unwrapped.engine))
        if terminated:
            break
    assert terminated and reward == 1.0
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step("click[buy now]")


def test_an_invalid_webshop_action_is_not_echoed_in_full():
    env = webshop()
    env.reset(options={"task_id": 0})
    obs, *_ = env.step("x" * 2**20)
    assert len(obs["text"]) < 2000 and env.observation_space.contains(obs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"max_receptacles": 3.5}, TypeError, "max_receptacles must be an integer >= 3, got 3.5"),
        ({"max_receptacles": 2}, ValueError, "max_receptacles must be >= 3"),
        ({"split": "nope"}, ValueError, "split must be one of"),
        ({"task_types": ["bogus"]}, ValueError, "not ALFWorld task types"),
    ],
)
def test_bad_alfworld_kwargs_fail_at_construction(kwargs, error, message):
    import gymnasium as gym

    with pytest.raises(error, match=message):
        gym.make("ALFWorld-text-v0", **kwargs)


# --------------------------------------------------------------------------- advantages


def test_trajectory_ids_that_restart_per_group_are_kept_apart():
    np.testing.assert_array_equal(
        A.discounted_returns([0.0, 1.0, 0.0, 1.0], [0, 0, 0, 0], 0.5, group_ids=[0, 0, 1, 1]), [0.5, 1.0, 0.5, 1.0]
    )
    np.testing.assert_array_equal(A.discounted_returns([0.0, 1.0, 0.0, 1.0], [0, 0, 1, 1], 0.5), [0.5, 1.0, 0.5, 1.0])


@pytest.mark.parametrize("kind", [frozenset, set, list])
def test_object_keys_group_by_equality_even_when_unordered(kind):
    keys = np.empty(4, object)
    keys[:] = [kind({1}), kind({2}), kind({1}), kind({3})]
    np.testing.assert_allclose(
        A.step_advantages([0.0, 1.0, 0.0, 0.0], [0] * 4, [0, 0, 1, 1], keys), [0.475, 0.0, -0.475, 0.0]
    )


@pytest.mark.parametrize("argument", ["group_ids", "traj_ids", "anchor_keys"])
def test_unhashable_keys_are_a_value_error_naming_the_argument(argument):
    keys = {"group_ids": [0, 0], "traj_ids": [0, 1], "anchor_keys": [0, 0]}
    bad = np.empty(2, object)
    bad[:] = [{"a": 1}, {"b": 2}]
    keys[argument] = bad
    with pytest.raises(ValueError, match=f"{argument} must be hashable keys .*, got dict"):
        A.gigpo_advantages([0.0, 1.0], keys["group_ids"], keys["traj_ids"], keys["anchor_keys"])


def test_overflowing_rewards_raise_instead_of_nan():
    with pytest.raises(ValueError, match="rewards are too large"):
        A.gigpo_advantages([1e308, 1e308, 0.0, 0.0], [0] * 4, [0, 0, 1, 1], [0, 1, 0, 1])
    with pytest.raises(ValueError, match="rewards are too large"):
        A.discounted_returns([1e308, 1e308], [0, 0], 1.0)


# --------------------------------------------------------------------------- config and CLIs


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("gamma=1.5", "gamma must be a number in [0, 1], got 1.5"),
        ("omega=.nan", "omega must be a number >= 0, got nan"),
        ("kl_coef=-5.0", "kl_coef must be a number >= 0, got -5.0"),
        ("dtype=float64", "dtype must be one of float32, bfloat16, float16, got 'float64'"),
        ("dtype=float16", "dtype float16 needs CUDA (device 'cpu' runs on the CPU); use bfloat16 there"),
        (
            "attn_implementation=fast",
            "attn_implementation must be one of eager, sdpa, flash_attention_2, flex_attention, None, got 'fast'",
        ),
        ("clip_range=-1.0", "clip_range must be a number in (0, 1), got -1.0"),
        ("learning_rate=-1", "learning_rate must be a number > 0, got -1.0"),
        ("temperature=0", "temperature must be a number > 0, got 0.0"),
        ("batch_size=0", "batch_size must be an integer >= 1, got 0"),
        ("n_epochs=0", "n_epochs must be an integer >= 1, got 0"),
        ("max_episode_steps=0", "max_episode_steps must be an integer in [1, 10000], got 0"),
        ("max_episode_steps=10001", "max_episode_steps must be an integer in [1, 10000], got 10001"),
        ("max_episode_steps=-1", "max_episode_steps must be an integer in [1, 10000], got -1"),
        ("seed=-1", "seed must be an integer in [0, 2**32), got -1"),
        ("seed=4294967296", "seed must be an integer in [0, 2**32), got 4294967296"),
        ("lora_r=0", "lora_r must be an integer >= 1, got 0"),
        ("micro_batch_size=128", "micro_batch_size (128) must not exceed batch_size (64)"),
        ("norm=bogus", "norm must be one of std, mean, None, got 'bogus'"),
        ("device=gpu", "device must be cpu, cuda, cuda:N or auto, got 'gpu'"),
        ("invalid_action_penalty=0.5", "invalid_action_penalty must be a number <= 0"),
        ("learning_rate=abc", "learning_rate must be of type float, got 'abc'"),
        ("lr=[", "the value is not valid YAML"),
    ],
)
def test_bad_settings_are_refused_before_any_work(override, message):
    with pytest.raises(ConfigError) as caught:
        resolve_config(overrides=[override])
    assert message in str(caught.value)


def test_the_configs_written_out_choices_are_the_policys():
    # config.py writes these lists out (importing the policy loads transformers): they must not drift apart
    from trainer import config, policy

    assert config.DTYPES == policy.DTYPES
    for name, allowed in (("action_mode", policy.ACTION_MODES), ("score_reduction", policy.SCORE_REDUCTIONS)):
        with pytest.raises(ConfigError, match=", ".join(allowed)):
            resolve_config(overrides=[f"{name}=bogus"])


def test_cuda_without_cuda_is_an_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_config(overrides=["device=cuda"])


@pytest.mark.parametrize("value", ["1e-6", "1E-3", "3e-3"])
def test_yaml_exponents_without_a_dot_are_floats(value):
    assert resolve_config(overrides=[f"learning_rate={value}"]).learning_rate == float(value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [1, 2", "is not valid YAML"),
        ("- 1\n- 2\n", "must hold a mapping"),
        ("!!python/object:os.system x", "not valid YAML"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, content, message):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    assert train_cli.main(["--config", str(path), "--run-dir", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["eval_split=nope"], "cannot make ALFWorld-text-v0 with eval_split 'nope'"),
        (["env_kwargs={max_receptacles: 3.5}"], "max_receptacles must be an integer >= 3, got 3.5"),
        (["env_kwargs={data_path: /no/such/alf}"], "no ALFWorld games at /no/such/alf"),
        (["env_kwargs={bogus: 1}"], "unexpected keyword argument 'bogus'"),
    ],
)
def test_bad_env_settings_fail_before_the_model_loads(tmp_path, capsys, sets, message):
    argv = ["--model", "tiny", "--rounds", "1", "--run-dir", str(tmp_path / "r"), "--no-progress"]
    assert train_cli.main(argv + [a for s in sets for a in ("--set", s)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and not (tmp_path / "r").exists()


def test_a_run_dir_that_is_a_file_is_named(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    assert train_cli.main(["--model", "tiny", "--run-dir", str(path), "--no-progress"]) == 2
    assert f"run directory {path} is a file" in capsys.readouterr().err


def test_eval_of_a_missing_checkpoint_is_named(tmp_path, capsys):
    assert eval_cli.main(["--checkpoint", str(tmp_path / "none")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


# --------------------------------------------------------------------------- the Python API


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"episode_stats": "bogus"}, "episode_stats must be one of"),
        ({"estimator": "a2c"}, "estimator must be one of"),
        ({"estimator": "ppo", "gae_lambda": 1.5}, r"gae_lambda must be a number in \[0, 1\]"),
        ({"estimator": "ppo", "vf_coef": -1.0}, "vf_coef must be a number >= 0"),
        ({"estimator": "ppo", "clip_range_vf": 0.0}, "clip_range_vf must be a number > 0 or null"),
        ({"norm": "max"}, "norm must be one of"),
        ({"anchor": "text"}, "anchor must be one of"),
        ({"penalty_mode": "step"}, "penalty_mode must be one of"),
    ],
)
def test_gigpo_refuses_unknown_choices_at_construction(tiny_path, kwargs, message):
    from trainer.gigpo import GiGPO

    with pytest.raises(ValueError, match=message):
        GiGPO(
            "LLMPolicy",
            "ALFWorld-text-v0",
            n_groups=1,
            group_size=2,
            policy_kwargs=dict(model_name_or_path=tiny_path),
            **kwargs,
        )


def test_predict_save_and_step_misuse_are_named(tiny_path, tmp_path):
    from trainer.gigpo import GiGPO
    from wrappers.group_env import GroupVecEnv

    policy_kwargs = dict(model_name_or_path=tiny_path)
    model = GiGPO("LLMPolicy", "ALFWorld-text-v0", n_groups=1, group_size=2, policy_kwargs=policy_kwargs)
    with pytest.raises(ValueError, match="at least one observation"):
        model.predict([])
    with pytest.raises(TypeError, match="'text' string"):
        model.predict({"text": None})
    with pytest.raises(ValueError, match="is a folder"):
        model.save(tmp_path)
    with pytest.raises(ValueError, match="is a folder, not a checkpoint file"):
        GiGPO.load(tmp_path)
    with pytest.raises(RuntimeError, match="call reset"):
        GroupVecEnv("ALFWorld-text-v0", 1, 2).step(["look", "look"])


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"a": 1}', "must hold a JSON list, got dict"),
        ('[{"asin": "B1"}, {"name": 3}]', r"record 0 lacks fields \['category', 'name', 'query'\]"),
    ],
)
def test_bad_webshop_data_files_are_named(tmp_path, products, message):
    import gymnasium as gym

    (tmp_path / "items_shuffle_1000.json").write_text(products)
    (tmp_path / "items_ins_v2_1000.json").write_text("{}")
    with pytest.raises(ValueError, match=message):
        gym.make("WebShop-text-v0", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("ALFWorld-text-v0", {"success_reward": float("nan")}, "success_reward must be a finite number > 0"),
        ("ALFWorld-text-v0", {"success_reward": "x"}, "success_reward must be a finite number > 0"),
        ("ALFWorld-text-v0", {"task_types": "pick_and_place_simple"}, "task_types must be a list"),
        ("WebShop-text-v0", {"catalog_seed": "x"}, "catalog_seed must be an integer, got 'x'"),
        ("WebShop-text-v0", {"n_products": 2.5}, "n_products must be an integer, got 2.5"),
        ("WebShop-text-v0", {"n_products": 0}, "n_products must be at least 5"),
    ],
)
def test_bad_env_arguments_are_named(env_id, kwargs, message):
    import gymnasium as gym

    with pytest.raises((TypeError, ValueError), match=message):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-episode-steps", "-1"], "--max-episode-steps must be >= 1, got -1"),
        (["--max-episode-steps", "0"], "--max-episode-steps must be >= 1, got 0"),
        (["--device", "gpu"], "device must be cpu, cuda, cuda:N or auto, got 'gpu'"),
        (["--env-kwargs", '{"data_path": "/no/such/alf"}'], "no ALFWorld games at /no/such/alf"),
        (["--env-kwargs", '{"max_receptacles": 3.5}'], "max_receptacles must be an integer >= 3"),
    ],
)
def test_eval_refuses_bad_limits_and_devices(capsys, argv, message):
    assert eval_cli.main(["--policy", "random", "--env", "ALFWorld-text-v0", "--tasks", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_eval_writes_its_files_into_new_folders(tmp_path):
    out = tmp_path / "new" / "folder"
    argv = ["--policy", "random", "--env", "ALFWorld-text-v0", "--tasks", "1", "--max-episode-steps", "2"]
    assert eval_cli.main([*argv, "--json", str(out / "t.json"), "--markdown", str(out / "t.md")]) == 0
    assert (out / "t.json").is_file() and (out / "t.md").is_file()


def test_learn_without_a_logger_leaves_no_temporary_folder(tiny_path):
    from trainer.gigpo import GiGPO

    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=1,
        group_size=2,
        env_kwargs=dict(max_episode_steps=2),
        batch_size=4,
        micro_batch_size=2,
        policy_kwargs=dict(model_name_or_path=tiny_path),
    )
    model.learn(1)
    assert model.logger.get_dir() is None  # SB3's default logger would make $TMPDIR/SB3-<time>


REVIEWS = SHARED / "reviews"
# values that changed since the probe and were read by hand (benchmarks/notes/probe.md)
READ_CHANGES = {
    "WS step(1 MB string)",
    "ALF max_episode_steps=-1",
    "step: unhashable anchors (sets)",
    "discounted_returns: traj_ids restart per group (documented as allowed)",
    "step: frozenset anchors (hashable; equal keys must group)",
    # the original WebShop's parsing (tests/test_webshop_original.py): no strip, case-sensitive name,
    # an argument of one character or more; such actions leave the page as it was (action_is_valid
    # False) and the page carries no "Invalid action" note unless invalid_action_note=True
    'WS step("")',
    'WS step("\\n")',
    'WS step("click[ buy now ]")',
    'WS step("search[]")',
    'WS step("  search[shoes]  ")',
    'WS step("SEARCH[shoes]")',
}


@pytest.mark.skipif(not (REVIEWS / "bad-input-probe.md").is_file(), reason="../shared/reviews is not beside the clone")
def test_every_probe_env_advantage_and_api_case_ends_in_a_result_or_a_clear_error(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_probe

    assert bench_probe.main(["--reviews", str(REVIEWS), "--no-cli", "--no-runs"]) == 0
    out = capsys.readouterr().out
    summaries: dict = {}
    for line in out.splitlines():
        if line.startswith("{"):
            summaries.update(json.loads(line))
    counts = summaries["after"]
    assert set(counts) <= {"CLEAR", "OK", "CHANGED"}, counts
    # the API cases: named errors where the probe saw tracebacks or silence, values only where it found them right
    assert summaries["api_after"] == {"CLEAR": 19, "returns": 4}, summaries["api_after"]
    api_rows = [line for line in out.splitlines() if line.endswith("|") and "| returns |" in line]
    assert all("| OK | returns |" in line for line in api_rows), api_rows
    rows = [line for line in out.splitlines() if "| CHANGED |" in line and not line.startswith("| |")]
    assert {line.split(" | ")[0].lstrip("| ") for line in rows} == READ_CHANGES
