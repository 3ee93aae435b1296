"""gigpo-train run directories: exact resume, kill -9 at random moments, one writer, fixed settings, safe loads."""

from __future__ import annotations

import base64
import csv
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from trainer.checkpoint import read_archive
from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.run_dir import locked

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "n_groups=1",
    "group_size=2",
    "max_episode_steps=3",
    "eval_tasks=1",
    "eval_episodes=1",
    "batch_size=8",
    "micro_batch_size=4",
    "use_lora=false",
    "learning_rate=0.01",
]
TIMING = ("time/", "rollout/time_s", "train/time_s", "eval/time_s")  # wall-clock columns: the only ones that differ


def argv(tiny_path, run_dir, rounds, *extra):
    sets = [a for item in SMALL for a in ("--set", item)]
    return ["--model", tiny_path, "--rounds", str(rounds), "--run-dir", str(run_dir), "--no-progress", *sets, *extra]


def rows(run_dir):
    with (run_dir / "progress.csv").open(newline="") as f:
        return [{k: v for k, v in r.items() if not k.startswith(TIMING)} for r in csv.DictReader(f)]


def assert_same_run(a: Path, b: Path):
    assert_same_checkpoint(a, b)
    assert rows(a) == rows(b)


def assert_same_checkpoint(a: Path, b: Path):
    first, second = read_archive(a / "checkpoint.zip"), read_archive(b / "checkpoint.zip")
    assert first.policy.keys() == second.policy.keys() and first.state.keys() == second.state.keys()
    for key in first.policy:
        assert torch.equal(first.policy[key], second.policy[key]), key
    for key in first.state:  # optimiser moments and every generator's state
        assert torch.equal(first.state[key], second.state[key]), key
    assert first.meta["rng"] == second.meta["rng"] and first.meta["counters"] == second.meta["counters"]


def test_resume_is_bit_exact(tiny_path, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli.main(argv(tiny_path, straight, 3)) == 0
    assert train_cli.main(argv(tiny_path, split, 1)) == 0
    assert train_cli.main(["--resume", "--run-dir", str(split), "--rounds", "3", "--no-progress"]) == 0
    assert_same_run(straight, split)
    assert len(rows(split)) == 3


def test_resume_refuses_changed_settings_and_keeps_config_yaml(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    before = (run_dir / "config.yaml").read_text()
    capsys.readouterr()
    resume = ["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]
    assert train_cli.main([*resume, "--set", "learning_rate=0.5", "--algo", "rloo", "--seed", "7"]) == 2
    err = capsys.readouterr().err
    assert "algo 'gigpo' -> 'rloo'" in err and "learning_rate 0.01 -> 0.5" in err and "seed 0 -> 7" in err
    assert err.count("\n") == 1 and (run_dir / "config.yaml").read_text() == before
    assert train_cli.main([*resume, "--set", "checkpoint_every=2"]) == 0  # allowed, and stated
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["checkpoint_every"] == 2


def test_a_second_writer_is_refused_with_the_holders_pid(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    capsys.readouterr()
    with locked(run_dir):  # stands for a second gigpo-train holding the directory
        assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 2
    assert f"in use by another gigpo-train (pid {os.getpid()})" in capsys.readouterr().err
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 0


def test_kill_9_at_random_moments_then_resume_gives_the_uninterrupted_run(tiny_path, tmp_path):
    """Each start is killed at a random moment after it began training (in a round, in a save, anywhere); each
    resume continues from the last committed round, and the run ends as the one that was never killed."""
    rounds = 8
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert train_cli.main(argv(tiny_path, straight, rounds)) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "trainer.cli.train"]
    draw = random.Random(0)
    kills = 0
    for _ in range(4):
        args = (
            argv(tiny_path, killed, rounds)
            if not (killed / "checkpoint.zip").exists()
            else ["--resume", "--run-dir", str(killed), "--rounds", str(rounds), "--no-progress"]
        )
        process = subprocess.Popen(command + args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while not (killed / "progress.csv").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # training has begun once the log exists
        time.sleep(draw.uniform(0.0, 2.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(30)
        assert process.returncode in (0, -signal.SIGKILL), process.stderr.read().decode()[-2000:]
    assert kills >= 2  # the test exercised interrupted runs
    if (killed / "checkpoint.zip").exists():
        resume = ["--resume", "--run-dir", str(killed), "--rounds", str(rounds), "--no-progress"]
        code = train_cli.main(resume)
        assert code == 0 or (code == 2 and (killed / "eval.json").exists())
    else:
        assert train_cli.main(argv(tiny_path, killed, rounds)) == 0
    assert_same_run(straight, killed)
    assert not [p.name for p in killed.iterdir() if ".tmp" in p.name]
    assert json.loads((killed / "eval.json").read_text()) == json.loads((straight / "eval.json").read_text())


def test_a_crafted_checkpoint_never_runs_code_from_the_clis(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "victim"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    serialized = {":type:": "<class 'function'>", ":serialized:": base64.b64encode(pickle.dumps(Payload())).decode()}
    path = run_dir / "checkpoint.zip"
    with zipfile.ZipFile(path) as archive:
        items = {n: archive.read(n) for n in archive.namelist()}
    items["data"] = json.dumps({"lr_schedule": serialized}).encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    capsys.readouterr()
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 2
    assert "unexpected ['data']" in capsys.readouterr().err
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 2
    assert "unexpected ['data']" in capsys.readouterr().err
    del items["checkpoint.json"]  # now it looks like an SB3 archive: refused unless trusted
    with zipfile.ZipFile(path, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 2
    assert "can run code" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "empty", "text"])
def test_damaged_checkpoints_are_one_line_errors(tiny_path, tmp_path, capsys, damage):
    run_dir = tmp_path / "run"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    path = run_dir / "checkpoint.zip"
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 3], "empty": b"", "text": b"not a zip\n"}[damage])
    capsys.readouterr()
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gigpo-eval: error:") and str(path) in err and err.count("\n") == 1
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("gigpo-train: error:")


def test_a_run_state_missing_a_setting_and_a_missing_model_are_one_line_errors(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    path = run_dir / "checkpoint.zip"
    with zipfile.ZipFile(path) as archive:
        items = {n: archive.read(n) for n in archive.namelist()}
    original = dict(items)
    meta = json.loads(items["checkpoint.json"])
    del meta["extra"]["run"]["config"]["model"]  # a default filled in here would be a setting the run never used
    items["checkpoint.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    capsys.readouterr()
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gigpo-train: error:") and "lacks ['model']" in err and err.count("\n") == 1
    meta = json.loads(original["checkpoint.json"])
    meta["arguments"]["policy_kwargs"]["model_name_or_path"] = str(tmp_path / "gone")
    original["checkpoint.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w") as out:
        for name, data in original.items():
            out.writestr(name, data)
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gigpo-eval: error:") and "cannot be loaded" in err and err.count("\n") == 1
