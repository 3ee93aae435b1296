"""One source of defaults: the config dataclass drives GiGPO, LLMPolicy and the derived command line."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from trainer.cli import train as train_cli
from trainer.config import TrainConfig, resolve_config
from trainer.gigpo import ALGORITHM_FIELDS, POLICY_FIELDS, GiGPO
from trainer.policy import LLMPolicy

# the config fields that describe the run around the agent (its env, length, evaluation, commits), not the agent
RUN_FIELDS = {
    "env",
    "env_kwargs",
    "max_episode_steps",
    "success_reward",
    "rounds",
    "eval_split",
    "eval_tasks",
    "eval_episodes",
    "eval_every",
    "checkpoint_every",
}


def test_every_config_field_builds_the_agent_or_describes_its_run():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    used = set(ALGORITHM_FIELDS.values()) | set(POLICY_FIELDS.values())
    assert used | RUN_FIELDS == fields
    assert not used & RUN_FIELDS


@pytest.mark.parametrize(
    ("cls", "fields"), [(GiGPO, ALGORITHM_FIELDS), (LLMPolicy, POLICY_FIELDS)], ids=["GiGPO", "LLMPolicy"]
)
def test_the_python_api_defaults_are_the_configs(cls, fields):
    defaults, parameters = TrainConfig(), inspect.signature(cls).parameters
    for argument, field in fields.items():
        if argument == "seed":  # GiGPO(seed=None) is SB3's unseeded run; the config's runs are always seeded
            continue
        assert parameters[argument].default == getattr(defaults, field), argument


def test_from_config_passes_every_agent_field(tiny_path):
    config = resolve_config(
        model=tiny_path,
        n_groups=1,
        group_size=3,
        learning_rate=2e-3,
        gamma=0.9,
        episode_stats="step",
        anchor="observation",
        action_mode="generate",  # top_p acts only there
        top_p=0.9,
        lora_dropout=0.1,
        max_prompt_tokens=512,
        use_lora=True,
        max_episode_steps=4,
        seed=3,
    )
    model = GiGPO.from_config(config)
    assert (model.n_groups, model.group_size, model.gamma, model.seed) == (1, 3, 0.9, 3)
    assert (model.episode_stats, model.anchor, model.learning_rate) == ("step", "observation", 2e-3)
    policy = model.policy
    assert (policy.top_p, policy.lora_dropout, policy.max_prompt_tokens, policy.use_lora) == (0.9, 0.1, 512, True)
    assert policy.action_mode == "generate"
    assert model.env is not None and model.env.envs[0].spec.max_episode_steps == 4


def _flags(argv):
    """The config ``gigpo-train argv`` would train (its parse, without training)."""
    args = train_cli._parser().parse_args(argv)
    return resolve_config(args.preset, args.config, args.set, **train_cli.given_fields(args))


def test_every_config_field_is_a_command_line_flag_with_its_help():
    parser = train_cli._parser()
    options = {option for action in parser._actions for option in action.option_strings}
    for f in dataclasses.fields(TrainConfig):
        assert f"--{f.name}" in options, f.name
    text = parser.format_help()
    assert "dual-clip bound for negative advantages" in text and "(default: 0.95)" in text


def test_flags_parse_with_the_fields_types_and_win_over_presets_and_set():
    config = _flags(
        [
            "--preset",
            "cpu-quickstart",
            "--set",
            "learning_rate=0.5",
            "--learning-rate",
            "1e-6",
            "--use_lora",
            "--target_modules",
            "q_proj",
            "v_proj",
            "--env_kwargs",
            "{max_receptacles: 2}",
            "--episode_stats",
            "step",
        ]
    )
    assert config.learning_rate == 1e-6 and config.use_lora is True and config.target_modules == ["q_proj", "v_proj"]
    assert config.env_kwargs == {"max_receptacles": 2} and config.episode_stats == "step"
    assert config.rounds == 20 and config.norm == "std"  # the preset's values where no flag is given
    assert _flags(["--use_lora", "false"]).use_lora is False
    assert _flags(["--algo", "ppo", "--set", "clip_range_vf=null"]).clip_range_vf is None  # a PPO setting


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--episode_stats", "rows"], "argument --episode_stats/--episode-stats: invalid choice: 'rows'"),
        (["--top_p", "1.5"], "top_p must be a number in (0, 1], got 1.5"),
        (["--lora_dropout", "x"], "argument --lora_dropout/--lora-dropout: invalid float value: 'x'"),
        (["--env_kwargs", "[1, 2]"], "argument --env_kwargs/--env-kwargs: expected a mapping"),
        (["--target_modules"], "argument --target_modules/--target-modules: expected at least one argument"),
        (["--norm", "None"], "argument --norm: invalid choice: 'None' (choose from 'std', 'mean')"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    assert train_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
