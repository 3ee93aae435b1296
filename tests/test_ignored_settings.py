"""No setting silently does nothing: one rule (``check_ignored_settings``) for the config, CLI and ``GiGPO(...)``."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re

import pytest

import gigpo_gym  # noqa: F401
from trainer.cli import train as train_cli
from trainer.config import _ONLY_WHEN, PRESETS, ConfigError, TrainConfig, check_ignored_settings, resolve_config
from trainer.gigpo import GiGPO
from trainer.policy import LLMPolicy

# (settings, the field the error names): each one set where it has no effect
REFUSED = [
    (dict(lora_r=16), "lora_r=16"),
    (dict(lora_alpha=32), "lora_alpha=32"),
    (dict(lora_dropout=0.1), "lora_dropout=0.1"),
    (dict(target_modules=["q_proj"]), "target_modules=['q_proj']"),
    (dict(algo="grpo", omega=0.5), "omega=0.5"),
    (dict(algo="rloo", anchor="observation"), "anchor='observation'"),
    (dict(algo="grpo", gamma=0.9), "gamma=0.9"),
    (dict(algo="ppo", filter_groups=True), "filter_groups=True"),
    (dict(gae_lambda=0.9), "gae_lambda=0.9"),
    (dict(algo="rloo", vf_coef=1.0), "vf_coef=1.0"),
    (dict(clip_range_vf=None), "clip_range_vf=None"),
    (dict(top_p=0.9), "top_p=0.9"),
    (dict(invalid_action_penalty=-1.0), "invalid_action_penalty=-1.0"),
    (dict(penalty_mode="reward"), "penalty_mode='reward'"),
    (dict(action_mode="generate", algo="ppo", penalty_mode="reward", model="smollm2-135m-instruct"), "penalty_mode="),
    (dict(action_mode="generate", score_reduction="sum", model="smollm2-135m-instruct"), "score_reduction='sum'"),
    (dict(model="tiny", action_mode="generate"), "model 'tiny' has random weights"),
]


@pytest.mark.parametrize(("settings", "named"), REFUSED)
def test_a_setting_that_does_nothing_is_one_config_error(settings, named):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**settings).validate()
    message = str(error.value)
    assert message.startswith(named) or named in message
    assert "\n" not in message and ("acts only" in message or "action_mode 'score'" in message)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (dict(algo="ppo", norm="std"), "norm='std'"),
        (dict(algo="ppo", episode_stats="step"), "episode_stats='step'"),
        (dict(max_new_tokens=64), "max_new_tokens=64"),
        (dict(validity_rule="format"), "validity_rule='format'"),
        (dict(sharding="fsdp"), "sharding='fsdp'"),
    ],
)
def test_a_presets_setting_left_behind_is_a_logged_warning(settings, named, caplog):
    config = resolve_config(**settings)  # valid: a preset's bundle may leave it behind
    with caplog.at_level(logging.WARNING, logger="trainer"):
        warnings = check_ignored_settings(config.to_dict(), warn=True)
    assert len(warnings) == 1 and warnings[0].startswith(named)
    assert [r.getMessage() for r in caplog.records] == warnings


def test_the_settings_act_where_they_belong():
    for settings in (
        dict(use_lora=True, lora_r=16, lora_alpha=32, lora_dropout=0.1, target_modules=["q_proj"]),
        dict(algo="ppo", gae_lambda=0.9, vf_coef=1.0, clip_range_vf=None, gamma=0.9),
        dict(algo="grpo", norm="mean", episode_stats="step", filter_groups=True),
        dict(omega=0.5, anchor="observation", gamma=0.9),
        dict(model="smollm2-135m-instruct", action_mode="generate", top_p=0.9, max_new_tokens=64),
        dict(model="smollm2-135m-instruct", action_mode="generate", penalty_mode="reward", validity_rule="format"),
        dict(score_reduction="sum", invalid_action_penalty=-0.1),
    ):
        assert check_ignored_settings(settings) == [], settings


def test_every_preset_is_valid_and_warns_of_nothing():
    for name in PRESETS:
        assert check_ignored_settings(resolve_config(name).to_dict()) == [], name


def test_switching_a_presets_estimator_warns_instead_of_refusing():
    config = resolve_config("cpu-quickstart", algo="ppo")
    assert check_ignored_settings(config.to_dict())[0].startswith("norm='std' has no effect")


def test_every_field_is_audited():
    """A new config field must be classified: either some rule says when it acts, or it always acts."""
    conditional = {name for rule in _ONLY_WHEN for name in rule.names}
    always = {
        *("env", "env_kwargs", "max_episode_steps", "algo", "model", "action_mode", "use_lora"),
        *("gradient_checkpointing", "temperature", "max_prompt_tokens", "dtype", "attn_implementation"),
        *("rounds", "n_groups", "group_size", "learning_rate", "history_length", "success_reward"),
        *("n_epochs", "batch_size", "micro_batch_size", "clip_range", "clip_ratio_c", "kl_coef", "ent_coef"),
        *("max_grad_norm", "eval_split", "eval_tasks", "eval_episodes", "checkpoint_every", "seed", "device"),
        "sharding",  # acts in a multi-process launch; in one process a warning
        "eval_every",  # gigpo-train's evaluations during training
        "init_seed",  # the tiny models' initial weights; TrainConfig.validate refuses it for any other model
    }
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - always - conditional == set()
    assert conditional - fields == {"normalize_advantage", "score_chunk"}  # GiGPO's and LLMPolicy's own


def test_the_python_api_only_arguments_have_their_signatures_defaults():
    gigpo = inspect.signature(GiGPO.__init__).parameters
    policy = inspect.signature(LLMPolicy.__init__).parameters
    assert gigpo["normalize_advantage"].default is True and policy["score_chunk"].default == 16
    with pytest.raises(ConfigError, match="score_chunk=4"):
        check_ignored_settings({"action_mode": "generate", "model_name_or_path": "x", "score_chunk": 4})


def test_gigpo_refuses_the_same_before_loading_a_model():
    """The Python API applies the config's rule: LoRA settings without LoRA, with GiGPO's own names."""
    with pytest.raises(ConfigError, match=r"^lora_r=16 has no effect: it acts only with use_lora=True"):
        GiGPO("LLMPolicy", "ALFWorld-text-v0", policy_kwargs=dict(model_name_or_path="no/such-model", lora_r=16))
    with pytest.raises(ConfigError, match=r"^vf_coef=1.0 has no effect"):
        GiGPO("LLMPolicy", "ALFWorld-text-v0", estimator="grpo", vf_coef=1.0)
    with pytest.raises(ConfigError, match=r"^normalize_advantage=False has no effect"):
        GiGPO("LLMPolicy", "ALFWorld-text-v0", normalize_advantage=False)


def test_gigpo_logs_a_warning_when_it_builds_a_model(tiny_path, caplog):
    with caplog.at_level(logging.WARNING, logger="trainer"):
        GiGPO(
            "LLMPolicy",
            "ALFWorld-text-v0",
            n_groups=1,
            group_size=2,
            estimator="rloo",
            norm="std",
            policy_kwargs=dict(model_name_or_path=tiny_path),
        )
    assert [r.getMessage()[:34] for r in caplog.records] == ["norm='std' has no effect: it acts "]


def test_the_cli_prints_one_line_and_exits_2(capsys, tmp_path):
    assert train_cli.main(["--lora_r", "16", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gigpo-train: error: lora_r=16 has no effect") and err.count("\n") == 1


def test_lora_settings_named_in_the_python_api_without_lora_are_refused_even_at_their_defaults(tiny_path):
    """The new user's trap: ``lora_r=8`` (the default rank) without ``use_lora=True`` trained every weight."""
    kwargs = dict(n_groups=1, group_size=2, env_kwargs=dict(max_episode_steps=2))
    with pytest.raises(ConfigError, match=r"policy_kwargs sets lora_r but not use_lora=True"):
        GiGPO("LLMPolicy", "ALFWorld-text-v0", policy_kwargs=dict(model_name_or_path=tiny_path, lora_r=8), **kwargs)
    lora = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        policy_kwargs=dict(model_name_or_path=tiny_path, lora_r=8, use_lora=True),
        **kwargs,
    )
    full = GiGPO("LLMPolicy", "ALFWorld-text-v0", policy_kwargs=dict(model_name_or_path=tiny_path), **kwargs)
    count = lambda m: sum(p.numel() for p in m.policy.trainable_parameters())  # noqa: E731
    assert count(lora) < count(full) / 5  # only the adapter trains
    # a config without LoRA passes no LoRA setting to the policy, so from_config never trips the rule
    assert GiGPO.from_config(resolve_config(model=tiny_path, n_groups=1, group_size=2)).policy.use_lora is False


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        (dict(max_grad_norm=-1.0), "max_grad_norm must be a number > 0, got -1.0"),  # clipping would flip gradients
        (dict(kl_coef=-0.1), "kl_coef must be a number >= 0, got -0.1"),
        (dict(clip_range=-0.2), "clip_range must be a number in (0, 1), got -0.2"),
        (dict(omega=-1.0), "omega must be a number >= 0, got -1.0"),
        (dict(learning_rate=0.0), "learning_rate must be a number > 0, got 0.0"),
        (dict(estimator="ppo2"), "estimator must be one of gigpo, grpo, rloo, ppo, gigpo-permuted, got 'ppo2'"),
        (dict(group_size=1), "group_size must be an integer >= 2"),
        (dict(policy_kwargs=dict(model_name_or_path="tiny", temperature=0.0)), "temperature must be a number > 0"),
    ],
)
def test_the_python_api_refuses_what_the_config_refuses(argument, message):
    """One validation for the config, the command line and ``GiGPO(...)``: the config's bounds and choices, named as
    the Python API names the argument, before any model or env is built."""
    kwargs = {**dict(n_groups=1, group_size=2, policy_kwargs=dict(model_name_or_path="tiny")), **argument}
    with pytest.raises(ConfigError, match=re.escape(message)):
        GiGPO("LLMPolicy", "ALFWorld-text-v0", _init_setup_model=False, **kwargs)
    field = {"estimator": "algo"}.get(next(iter(argument)), next(iter(argument)))
    if field != "policy_kwargs":  # the config refuses the same value
        with pytest.raises(ConfigError, match=re.escape(message.replace("estimator", "algo").split(",")[0])):
            resolve_config(**{field: next(iter(argument.values()))})
