"""gigpo-train and gigpo-eval end to end on the tiny model: train, resume, evaluate, tables, plots, errors."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.config import PRESETS, ConfigError, resolve_config
from trainer.gigpo import GiGPO

SMALL = ["n_groups=1", "group_size=2", "max_episode_steps=3", "eval_tasks=2", "batch_size=8", "micro_batch_size=4"]


def sets(*items):
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def run_dir(tiny_path, tmp_path_factory):
    """A one-round WebShop run of gigpo-train."""
    path = tmp_path_factory.mktemp("runs") / "run"
    argv = ["--env", "WebShop-text-v0", "--model", tiny_path, "--rounds", "1", "--run-dir", str(path), "--no-progress"]
    assert train_cli.main(argv + sets(*SMALL, "eval_split=test", "history_length=1")) == 0
    return path


def test_train_writes_config_logs_checkpoint_eval_and_curve(run_dir):
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["env"] == "WebShop-text-v0" and config["rounds"] == 1 and config["history_length"] == 1
    assert GiGPO.load_extra(run_dir / "checkpoint.zip")["run"]["rounds_done"] == 1
    with (run_dir / "progress.csv").open() as file:
        rows = list(csv.DictReader(file))
    header = set(rows[0])
    assert {"rollout/round_success_rate", "gigpo/anchor_fraction", "time/total_timesteps"} <= header
    # the KL is logged for a round that took an optimiser step only (never a made-up 0)
    assert ("train/kl" in header and rows[0]["train/kl"] != "") == (float(rows[0]["train/optimizer_steps"]) > 0)
    assert list(run_dir.glob("events.out.tfevents.*"))  # TensorBoard
    table = json.loads((run_dir / "eval.json").read_text())
    assert set(table) >= {"all", "score"} and 0.0 <= table["score"] <= 100.0
    assert (run_dir / "eval.md").read_text().startswith("| Score | Success |")
    png = (run_dir / "learning_curve.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_resume_continues_and_refuses_a_finished_run(run_dir, capsys):
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--no-progress"]) == 2
    assert "already finished (1/1 rounds)" in capsys.readouterr().err
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--no-progress", "--set", "model=other"]) == 2
    assert "cannot change settings the checkpoint fixes: model" in capsys.readouterr().err
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--no-progress", "--rounds", "2"]) == 0
    assert GiGPO.load_extra(run_dir / "checkpoint.zip")["run"]["rounds_done"] == 2
    rows = (run_dir / "progress.csv").read_text().splitlines()
    assert len(rows) == 3  # header, the first run's row, the resumed round's row


def test_eval_of_a_checkpoint_is_deterministic_and_writes_files(run_dir, tmp_path, capsys):
    argv = ["--checkpoint", str(run_dir), "--tasks", "3", "--seed", "1"]
    out_json, out_md = tmp_path / "t.json", tmp_path / "t.md"
    assert eval_cli.main(argv + ["--json", str(out_json), "--markdown", str(out_md)]) == 0
    first = capsys.readouterr().out
    assert eval_cli.main(argv) == 0
    assert capsys.readouterr().out == first
    assert "| Score | Success |" in first and json.loads(out_json.read_text())["score"] >= 0.0
    assert out_md.read_text().startswith("| Score | Success |")


def test_eval_baselines_print_the_paper_columns(capsys):
    assert eval_cli.main(["--env", "ALFWorld-text-v0", "--policy", "expert", "--split", "valid_unseen"]) == 0
    out = capsys.readouterr().out
    assert "| Pick | Look | Clean | Heat | Cool | Pick2 | All |" in out
    assert out.strip().endswith("| 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 | 100.0 |")
    assert eval_cli.main(["--env", "WebShop-text-v0", "--policy", "random", "--tasks", "20"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    score, success = (float(x) for x in row.strip("| ").split(" | "))
    assert 0.0 < score < 60.0 and 0.0 <= success < 50.0
    small = '{"task_types": ["pick_and_place_simple"], "max_receptacles": 3}'
    assert eval_cli.main(["--env", "ALFWorld-text-v0", "--policy", "expert", "--env-kwargs", small]) == 0
    assert capsys.readouterr().out.strip().endswith("| Pick | All |\n|---:|---:|\n| 100.0 | 100.0 |")


def test_eval_of_a_pretrained_model_zero_shot_is_the_models_own_policy(tiny_path, tmp_path, capsys):
    from trainer.evaluation import evaluate
    from trainer.gigpo import GiGPO

    argv = ["--model", tiny_path, "--env", "ALFWorld-text-v0", "--tasks", "3", "--max-episode-steps", "4"]
    assert eval_cli.main(argv + ["--json", str(tmp_path / "eval.json")]) == 0
    out = capsys.readouterr().out
    assert f"3 tasks x 1 episode(s), model {tiny_path} zero-shot (score mode)" in out and "| All |" in out
    # the fresh LoRA adapter changes nothing: the same table as the plain model (full weights, no adapter)
    plain = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=1,
        group_size=2,
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
        seed=0,
    )
    kwargs = {"split": "valid_seen", "max_episode_steps": 4}
    expected = evaluate(plain, "ALFWorld-text-v0", [0, 1, 2], env_kwargs=kwargs, seed=0)
    assert json.loads((tmp_path / "eval.json").read_text()) == expected
    assert eval_cli.main(argv + ["--action-mode", "generate", "--max-new-tokens", "4"]) == 0
    assert "zero-shot (generate mode)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        (eval_cli, ["--env", "CartPole-v9", "--policy", "random"], "unknown env id 'CartPole-v9'; registered"),
        (eval_cli, ["--policy", "random"], "--policy needs --env"),
        (eval_cli, ["--model", "tiny"], "--model needs --env"),
        (eval_cli, ["--model", "tiny", "--env", "WebShop-text-v0", "--history-length", "-1"], "history_length must"),
        (
            eval_cli,
            ["--model", "/nonexistent/model", "--env", "WebShop-text-v0"],
            "cannot load model '/nonexistent/model': model path '/nonexistent/model' does not exist",
        ),
        (eval_cli, ["--checkpoint", "/nonexistent/run"], "checkpoint not found"),
        (eval_cli, ["--env", "WebShop-text-v0", "--policy", "random", "--split", "dev"], "split must be one of"),
        (eval_cli, ["--env", "ALFWorld-text-v0", "--policy", "random", "--env-kwargs", "{max"], "not valid JSON"),
        (eval_cli, ["--env", "ALFWorld-text-v0", "--policy", "random", "--env-kwargs", "[3]"], "must be a JSON object"),
        (
            eval_cli,
            ["--env", "ALFWorld-text-v0", "--policy", "random", "--env-kwargs", '{"max_receptacles": 2}'],
            "max_receptacles must be >= 3",
        ),
        (eval_cli, ["--env", "ALFWorld-text-v0", "--policy", "random", "--env-kwargs", '{"room": 2}'], "'room'"),
        (train_cli, ["--env", "Nope-v0"], "unknown env id 'Nope-v0'; registered gigpo-gym envs: ALFWorld-text-v0"),
        (train_cli, ["--set", "learning_rat=0.1"], "did you mean 'learning_rate'?"),
        (train_cli, ["--set", "rounds=many"], "rounds must be of type int"),
        (train_cli, ["--preset", "gpu-huge"], "unknown preset 'gpu-huge'"),
        (train_cli, ["--resume"], "--resume needs --run-dir"),
        (
            train_cli,
            ["--algo", "ppo2"],
            "argument --algo: invalid choice: 'ppo2' (choose from 'gigpo', 'grpo', 'rloo', 'ppo', 'gigpo-permuted')",
        ),
        (train_cli, ["--set", "gae_lambda=2"], "gae_lambda must be a number in [0, 1], got 2.0"),
        (train_cli, ["--set", "clip_range_vf=0"], "clip_range_vf must be a number > 0 or null, got 0.0"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(module, argv, message, capsys):
    assert module.main(argv) == 2
    assert message in capsys.readouterr().err


def test_train_with_a_missing_model_names_it_and_leaves_no_run_directory(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train_cli.main(["--model", str(tmp_path / "no-model"), "--run-dir", str(run_dir), "--no-progress"]) == 2
    assert f"cannot load model '{tmp_path / 'no-model'}': model path" in capsys.readouterr().err
    assert not run_dir.exists()


def test_config_layers_presets_file_and_overrides(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("rounds: 3\nlearning_rate: 1\n")
    config = resolve_config("cpu-webshop", file, ["rounds=5"], seed=7)
    assert config.env == "WebShop-text-v0" and config.rounds == 5 and config.seed == 7
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)  # ints widen to floats
    for name in PRESETS:
        resolve_config(name)  # every preset is a valid config
    file.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        resolve_config(None, file)


def test_paper_presets_use_the_reference_semantics():
    from trainer.config import resolve_config

    for name in ("alfworld-qwen2.5-1.5b", "alfworld-qwen2.5-7b", "webshop-qwen2.5-1.5b", "webshop-qwen2.5-7b"):
        c = resolve_config(name)
        assert (c.success_reward, c.invalid_action_penalty, c.penalty_mode, c.validity_rule, c.episode_stats) == (
            10.0,
            -0.1,
            "row",
            "format",
            "step",
        )
        assert (c.clip_ratio_c, c.max_prompt_tokens, c.action_mode) == (3.0, 2048, "generate")
        if c.env.startswith("ALFWorld"):
            assert c.norm == "std"  # run_alfworld.sh: mean_std_norm
        else:
            assert c.norm is None and c.env_kwargs["reward_mode"] == "success"  # GiGPO mean_norm, GRPO std


@pytest.mark.parametrize(
    "argv", [["--bogus"], [], ["--policy", "random", "--episodes", "many"], ["--policy", "random", "--model", "tiny"]]
)
def test_gigpo_evals_argument_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        eval_cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("gigpo-eval: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rounds", "0"], "quickstart: error: rounds must be an integer >= 1, got 0"),
        (["--rounds", "x"], "quickstart: error: argument --rounds: invalid int value: 'x'"),
        (["--seed", "-1"], "quickstart: error: seed must be an integer in [0, 2**32)"),
        (["--model", "/no/such/model"], "quickstart: error: cannot load model '/no/such/model'"),
    ],
)
def test_quickstart_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    from trainer.cli import quickstart

    try:
        code = quickstart.main([*argv, "--run-dir", str(tmp_path / "run")])
    except SystemExit as exit_:  # argparse's own errors exit from parse_args
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()
