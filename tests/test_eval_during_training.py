"""Held-out evaluation during gigpo-train (``eval_every``): logged per round, exact on resume, drawn in the curve."""

from __future__ import annotations

import csv
import json
import random
import zipfile

import numpy as np
import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainer.cli import train as train_cli
from trainer.config import ConfigError, resolve_config
from trainer.evaluation import evaluate_records, wilson_interval
from trainer.training import curve_figure, saved_run

from .test_run_dir import argv, assert_same_checkpoint, assert_same_run, rows
from .test_trainer import make_model

EVAL = ["--set", "eval_tasks=2", "--set", "eval_episodes=2"]  # 4 held-out episodes per evaluation


def eval_columns(run_rows):
    return [{k: v for k, v in r.items() if k.startswith("eval/")} for r in run_rows]


def test_each_evaluated_round_logs_held_out_success_to_csv_and_tensorboard_and_the_curve(tiny_path, tmp_path):
    import matplotlib.pyplot as plt

    run_dir = tmp_path / "run"
    webshop = ["--env", "WebShop-text-v0", "--set", "eval_split=test", "--set", "history_length=1"]
    assert train_cli.main(argv(tiny_path, run_dir, 2, "--eval_every", "1", *EVAL, *webshop)) == 0
    logged = rows(run_dir)
    assert len(logged) == 2
    for row in logged:
        assert 0.0 <= float(row["eval/success_rate"]) <= 1.0  # a fraction, as SB3's eval/success_rate
        assert 0.0 <= float(row["eval/score"]) <= 1.0  # WebShop's mean purchase score
        assert row["eval/episodes"] == "4"
    # the last round's evaluation is the final one
    table = json.loads((run_dir / "eval.json").read_text())
    assert float(logged[-1]["eval/success_rate"]) == pytest.approx(table["all"] / 100)
    assert float(logged[-1]["eval/score"]) == pytest.approx(table["score"] / 100)
    events = EventAccumulator(str(run_dir))
    events.Reload()
    with (run_dir / "progress.csv").open(newline="") as f:
        steps = [int(r["time/total_timesteps"]) for r in csv.DictReader(f)]
    for key in ("eval/success_rate", "eval/score"):
        scalars = events.Scalars(key)
        assert [e.step for e in scalars] == steps
        assert [e.value for e in scalars] == pytest.approx([float(r[key]) for r in logged])
    assert "eval/episodes" not in events.Tags()["scalars"]  # a count, kept to the CSV
    assert (run_dir / "learning_curve.png").read_bytes().startswith(b"\x89PNG")

    # the curve: labelled axes on a fixed 0-100 scale, training success, held-out success with its band, the score
    config = saved_run(run_dir / "checkpoint.zip")[0]
    fig = curve_figure(run_dir, config)
    ax = fig.axes[0]
    assert ax.get_ylim() == (0.0, 100.0) and ax.get_xlabel() == "round" and ax.get_ylabel() == "success %"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("training success") and labels[1].startswith("held-out success, test (4 episodes")
    assert labels[2].startswith("held-out score") and not any("return" in label for label in labels)
    training, held_out = ax.lines[0], ax.containers[0].lines[0]  # the thin line, the held-out points
    assert list(training.get_xdata()) == [1, 2] and list(held_out.get_xdata()) == [1, 2]
    success = [100 * float(r["eval/success_rate"]) for r in logged]
    assert list(held_out.get_ydata()) == pytest.approx(success)
    assert list(ax.lines[-1].get_ydata()) == pytest.approx([100 * float(r["eval/score"]) for r in logged])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]  # the 95% band over 4 episodes
    low, high = wilson_interval(success[0] / 100 * 4, 4)
    assert min(band) == pytest.approx(100 * low) and max(band) >= 100 * high - 1e-9 and max(band) > min(band)
    plt.close(fig)
    # a round without an evaluation during training: the final evaluation is drawn at its round
    final = curve_figure(run_dir, config, final=(3, {"all": 50.0, "score": 60.0}, 4))
    assert list(final.axes[0].containers[0].lines[0].get_xdata()) == [1, 2, 3]
    plt.close(final)


def test_resume_with_evaluation_is_exact_and_evaluation_leaves_the_training_alone(tiny_path, tmp_path):
    straight, split, plain = tmp_path / "straight", tmp_path / "split", tmp_path / "plain"
    assert train_cli.main(argv(tiny_path, straight, 2, "--eval_every", "1", *EVAL)) == 0
    assert train_cli.main(argv(tiny_path, split, 1, "--eval_every", "1", *EVAL)) == 0
    assert train_cli.main(["--resume", "--run-dir", str(split), "--rounds", "2", "--no-progress"]) == 0
    assert_same_run(straight, split)  # weights, optimiser, every stream and every row, eval/* included
    assert all(r["eval/success_rate"] for r in rows(split))
    assert json.loads((split / "eval.json").read_text()) == json.loads((straight / "eval.json").read_text())
    # the same run without evaluations during training: the same weights, streams and training rows
    assert train_cli.main(argv(tiny_path, plain, 2, *EVAL)) == 0
    assert not any(k.startswith("eval/") for r in rows(plain) for k in r)
    without_eval = [{k: v for k, v in r.items() if not k.startswith("eval/")} for r in rows(straight)]
    assert without_eval == rows(plain)
    assert_same_checkpoint(straight, plain)
    # a checkpoint written before eval_every existed reads as a run that evaluated only at the end
    with zipfile.ZipFile(plain / "checkpoint.zip") as archive:
        items = {n: archive.read(n) for n in archive.namelist()}
    meta = json.loads(items["checkpoint.json"])
    del meta["extra"]["run"]["config"]["eval_every"]
    items["checkpoint.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "older.zip", "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    assert saved_run(tmp_path / "older.zip")[0].eval_every == 0
    # --resume may change eval_every: round 3 is evaluated, and config.yaml says so
    resume = ["--resume", "--run-dir", str(plain), "--rounds", "3", "--no-progress", "--eval_every", "3"]
    assert train_cli.main(resume) == 0
    assert yaml.safe_load((plain / "config.yaml").read_text())["eval_every"] == 3
    assert saved_run(plain / "checkpoint.zip")[0].eval_every == 3
    assert [bool(r.get("eval/success_rate")) for r in rows(plain)] == [False, False, True]


def test_evaluation_is_seeded_and_gives_back_every_global_stream_and_the_mode(tiny_path):
    """Generate mode samples from the global torch generator: the evaluation seeds it and restores it after."""
    model = make_model(tiny_path, mode="generate")
    kwargs = dict(env_kwargs=dict(split="valid_seen", max_episode_steps=2), episodes_per_task=2, seed=5)
    model.policy.set_training_mode(True)
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    first = evaluate_records(model, "ALFWorld-text-v0", [0, 1], **kwargs)
    assert torch.equal(torch.get_rng_state(), states[0]) and random.getstate() == states[1]
    assert np.array_equal(np.random.get_state()[1], states[2])
    assert model.policy.training  # given back in the mode it was in
    torch.manual_seed(99)  # another global state: the same episodes, the evaluation's stream is its seed's
    assert evaluate_records(model, "ALFWorld-text-v0", [0, 1], **kwargs) == first


def test_success_rate_callback_logs_fractions_as_sb3_does(tiny_path):
    from stable_baselines3.common.logger import KVWriter, Logger

    from trainer.callbacks import SuccessRateCallback

    class Capture(KVWriter):
        def __init__(self):
            self.rows = []

        def write(self, key_values, key_excluded, step=0):
            self.rows.append(dict(key_values))

    capture = Capture()
    model = make_model(tiny_path)
    model.set_logger(Logger(None, [capture]))
    kwargs = dict(split="valid_seen", max_episode_steps=2)
    callback = SuccessRateCallback("ALFWorld-text-v0", [0, 1], env_kwargs=kwargs, episodes_per_task=2)
    model.learn(total_timesteps=1, callback=callback)
    (row,) = [r for r in capture.rows if "eval/success_rate" in r]
    assert row["eval/success_rate"] == callback.history[0][1] / 100 and row["eval/episodes"] == 4
    assert "eval/score" not in row  # ALFWorld has no score beside success


def test_eval_every_is_bounded():
    with pytest.raises(
        ConfigError, match=r"eval_every must be an integer >= 0 \(0: only the final evaluation\), got -1"
    ):
        resolve_config(eval_every=-1)
