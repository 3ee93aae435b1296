"""Run directories and runs from someone else: no file is written through a link, a fresh run replaces or deletes
nothing of the user's, a diverging run keeps its last good round, a checkpoint's optimiser state cannot change
the optimiser (issue 44, classes 1 and 4)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

import gigpo_gym  # noqa: F401
from trainer.checkpoint import CheckpointError, read_archive
from trainer.cli import evaluate as eval_cli
from trainer.cli import train as train_cli
from trainer.errors import ConfigError, DivergenceError
from trainer.gigpo import GiGPO
from trainer.run_dir import LOCK, RUN_FILES, check_run_dir, locked, remove_temporaries
from wrappers.group_env import GroupVecEnv

from .test_run_dir import argv

PRECIOUS = "the user's own data\n"
EVENTS = "events.out.tfevents.1700000000.host.1.0"
TEMPORARY = ".checkpoint.zip.tmp-abcd1234"


def _one_line_error(capsys, program: str) -> str:
    """The one error line (beside library noise a loaded model may print: a progress bar, a FutureWarning)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"{program}: error:") and "Traceback" not in err, err
    return errors[0]


@pytest.fixture(scope="module")
def finished(tiny_path, tmp_path_factory) -> Path:
    """A finished one-round run: every file gigpo-train writes is there."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 0
    return run_dir


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text(PRECIOUS)
    return victim


def test_the_run_files_are_every_file_a_finished_run_holds(finished):
    names = {p.name for p in finished.iterdir()}
    events = {n for n in names if n.startswith("events.out.tfevents.")}
    assert len(events) == 1 and names - events == set(RUN_FILES)


@pytest.mark.parametrize("name", [*RUN_FILES, EVENTS, TEMPORARY])
def test_resume_refuses_a_link_in_place_of_any_run_file_and_leaves_its_target(finished, tmp_path, capsys, name):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    victim = _victim(tmp_path)
    (run_dir / name).unlink(missing_ok=True)
    (run_dir / name).symlink_to(victim)
    capsys.readouterr()
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "2", "--no-progress"]) == 2
    err = _one_line_error(capsys, "gigpo-train")
    assert str(run_dir / name) in err and ("symbolic link" in err or "not a folder" in err)
    assert victim.read_text() == PRECIOUS and (run_dir / name).is_symlink()


@pytest.mark.parametrize("name", [*RUN_FILES, EVENTS, TEMPORARY])
def test_a_fresh_run_refuses_a_link_where_a_killed_start_left_its_files(tiny_path, tmp_path, capsys, name):
    """A fresh run may continue in the folder a killed start left (a lock, no checkpoint), but not through a link."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LOCK).write_text("")
    victim = _victim(tmp_path)
    (run_dir / name).unlink(missing_ok=True)
    (run_dir / name).symlink_to(victim)
    capsys.readouterr()
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 2
    assert str(run_dir / name) in _one_line_error(capsys, "gigpo-train")
    assert victim.read_text() == PRECIOUS


def test_the_lock_is_opened_without_following_a_link(tmp_path):
    """The lock refuses a link by itself (O_NOFOLLOW), without the run directory's check before it."""
    victim = _victim(tmp_path)
    (tmp_path / LOCK).symlink_to(victim)
    with pytest.raises(ConfigError, match="symbolic link"), locked(tmp_path):
        pass
    assert victim.read_text() == PRECIOUS
    (tmp_path / LOCK).unlink()
    os.mkfifo(tmp_path / LOCK)
    with pytest.raises(ConfigError, match="not a regular file"), locked(tmp_path):
        pass


def test_a_fresh_run_refuses_a_folder_of_the_users_and_leaves_it_as_it_was(tiny_path, tmp_path, capsys):
    run_dir = tmp_path / "experiment"
    run_dir.mkdir()
    files = {"config.yaml": "# my notes on this run\nrounds: 3\n", ".notes.tmp": "draft", "data.csv": "1,2\n"}
    for name, text in files.items():
        (run_dir / name).write_text(text)
    (run_dir / ".cache.tmp-x").mkdir()
    capsys.readouterr()
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 2
    err = _one_line_error(capsys, "gigpo-train")
    assert "is not empty and is not a gigpo-train run" in err and "'data.csv'" in err
    assert {p.name for p in run_dir.iterdir()} == {*files, ".cache.tmp-x"}
    assert all((run_dir / name).read_text() == text for name, text in files.items())
    (run_dir / "data.csv").unlink()
    (run_dir / ".notes.tmp").unlink()
    shutil.rmtree(run_dir / ".cache.tmp-x")
    # only a config.yaml (a name gigpo-train writes), but no lock: not a folder a killed start left
    assert train_cli.main(argv(tiny_path, run_dir, 1)) == 2
    assert "'config.yaml'" in _one_line_error(capsys, "gigpo-train")
    assert (run_dir / "config.yaml").read_text() == files["config.yaml"]


def test_what_a_killed_start_left_is_a_run_directory_and_only_its_temporaries_are_removed(tmp_path):
    for name in (LOCK, "config.yaml", "progress.csv", EVENTS):
        (tmp_path / name).write_text("")
    (tmp_path / TEMPORARY).mkdir()
    (tmp_path / TEMPORARY / "checkpoint.zip").write_text("half written")
    check_run_dir(tmp_path, fresh=True)  # a fresh start continues there
    assert remove_temporaries(tmp_path) == [TEMPORARY]
    # the user's hidden files, and a temporary's name on a plain file, are not the library's: left alone
    (tmp_path / ".notes.tmp").write_text(PRECIOUS)
    (tmp_path / ".config.yaml.tmp").mkdir()
    (tmp_path / ".progress.csv.tmp-abcdefgh").write_text(PRECIOUS)
    assert remove_temporaries(tmp_path) == []
    assert (tmp_path / ".notes.tmp").read_text() == PRECIOUS and (tmp_path / ".config.yaml.tmp").is_dir()
    with pytest.raises(ConfigError, match="temporary folder but is not a folder"):
        check_run_dir(tmp_path, fresh=False)


# ---------------------------------------------------------------------- divergence

WEBSHOP = ["--preset", "cpu-webshop", "--set", "max_episode_steps=4", "--set", "eval_tasks=1"]


def _webshop_argv(tiny_path, run_dir, rounds, *sets):
    small = ["n_groups=1", "group_size=2", "eval_episodes=1", "micro_batch_size=4", "batch_size=8", *sets]
    return [*WEBSHOP, "--model", tiny_path, "--rounds", str(rounds), "--run-dir", str(run_dir), "--no-progress"] + [
        a for item in small for a in ("--set", item)
    ]


def _rounds_done(run_dir: Path) -> int:
    return read_archive(run_dir / "checkpoint.zip").meta["extra"]["run"]["rounds_done"]


def test_a_nan_loss_stops_the_round_before_its_commit(tiny_path, tmp_path, capsys, monkeypatch):
    """Round 3's loss is made NaN: the run stops with round 2 committed, which resumes and evaluates."""
    import trainer.gigpo as gigpo

    rounds = {"n": 0}
    collect = GiGPO.collect_rollouts

    def counting(self, *args, **kwargs):
        rounds["n"] += 1
        return collect(self, *args, **kwargs)

    loss = gigpo.policy_loss

    def poisoned(*args, **kwargs):
        value, stats = loss(*args, **kwargs)
        return (value * float("nan") if rounds["n"] == 3 else value), stats

    monkeypatch.setattr(GiGPO, "collect_rollouts", counting)
    monkeypatch.setattr(GiGPO, "_any_signal", lambda self, advantages: True)  # every round takes an update
    monkeypatch.setattr(gigpo, "policy_loss", poisoned)
    run_dir = tmp_path / "run"
    capsys.readouterr()
    assert train_cli.main(_webshop_argv(tiny_path, run_dir, 3)) == 2
    err = _one_line_error(capsys, "gigpo-train")
    assert "round 3: the loss is nan; the run stops with round 2 committed" in err
    assert _rounds_done(run_dir) == 2 and not (run_dir / "eval.json").exists()
    monkeypatch.setattr(gigpo, "policy_loss", loss)
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 0
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--no-progress"]) == 0
    assert _rounds_done(run_dir) == 3 and (run_dir / "eval.json").exists()


def test_weights_that_overflow_stop_the_run_with_the_last_good_round(tiny_path, tmp_path, capsys):
    """A learning rate within the config's bounds and no clipping to speak of: the updated weights are finite but
    give NaN log-probabilities; the round is not committed, the one before it evaluates, a resume stops again."""
    run_dir = tmp_path / "run"
    huge = _webshop_argv(tiny_path, run_dir, 4, "learning_rate=1e30", "max_grad_norm=1e30")
    capsys.readouterr()
    assert train_cli.main(huge) == 2
    err = _one_line_error(capsys, "gigpo-train")
    assert "round 2: the updated policy's log-probabilities hold nan; the run stops with round 1 committed" in err
    archive = read_archive(run_dir / "checkpoint.zip")  # the reader refuses NaN weights: these are round 1's
    assert archive.meta["extra"]["run"]["rounds_done"] == 1
    assert eval_cli.main(["--checkpoint", str(run_dir), "--tasks", "1"]) == 0
    capsys.readouterr()
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--no-progress"]) == 2
    assert "round 2:" in _one_line_error(capsys, "gigpo-train")
    assert _rounds_done(run_dir) == 1


def _stepped_model(tiny_path):
    """A small WebShop model after one round with an optimiser step (so its optimiser has state)."""
    model = GiGPO(
        "LLMPolicy",
        GroupVecEnv("WebShop-text-v0", 1, 2, dict(max_episode_steps=3), seed=0),
        policy_kwargs=dict(model_name_or_path=tiny_path, use_lora=False),
        n_groups=1,
        group_size=2,
        batch_size=8,
        micro_batch_size=4,
        learning_rate=1e-2,
        seed=0,
    )
    model._any_signal = lambda advantages: True  # type: ignore[method-assign]
    model.learn(1)
    assert model.policy.optimizer.state
    return model


def test_the_writer_refuses_nan_weights_and_keeps_the_checkpoint_it_had(tiny_path, tmp_path):
    model = _stepped_model(tiny_path)
    path = model.save(tmp_path / "agent")
    before = path.read_bytes()
    name, param = next(iter(model.policy.named_parameters()))
    with torch.no_grad():
        param.view(-1)[0] = float("nan")
    with pytest.raises(DivergenceError, match=f"not written: its policy tensor .*{name.split('.')[-1]}"):
        model.save(path)
    assert path.read_bytes() == before
    with torch.no_grad():
        param.view(-1)[0] = 0.0
        next(iter(model.policy.optimizer.state.values()))["exp_avg"].view(-1)[0] = float("inf")
    with pytest.raises(DivergenceError, match="optimiser or generator tensor 'optim.0.exp_avg'"):
        model.save(path)
    assert path.read_bytes() == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def stepped(tiny_path, tmp_path_factory):
    model = _stepped_model(tiny_path)
    return model, model.save(tmp_path_factory.mktemp("optim") / "agent")


def _edited(src: Path, dst: Path, meta=None, tensors=None) -> Path:
    with zipfile.ZipFile(src) as archive:
        items = {n: archive.read(n) for n in archive.namelist()}
    if meta is not None:
        data = json.loads(items["checkpoint.json"])
        meta(data)
        items["checkpoint.json"] = json.dumps(data).encode()
    if tensors is not None:
        state = load_safetensors(items["state.safetensors"])
        tensors(state)
        items["state.safetensors"] = save_safetensors(state)
    with zipfile.ZipFile(dst, "w") as out:
        for name, data in items.items():
            out.writestr(name, data)
    return dst


def _set(name, change):
    def apply(state):
        state[name] = change(state[name].clone())

    return apply


OPTIMISER_EDITS = {
    "maximize": (dict(meta=lambda m: m["optimizer"]["param_groups"][0].update(maximize=True)), "maximize is True"),
    "betas": (dict(meta=lambda m: m["optimizer"]["param_groups"][0].update(betas=[0.0, 0.0])), "betas is"),
    "weight decay": (dict(meta=lambda m: m["optimizer"]["param_groups"][0].update(weight_decay=-5.0)), "weight_decay"),
    "params": (dict(meta=lambda m: m["optimizer"]["param_groups"][0].update(params=[0])), "holds parameters"),
    "nan moment": (
        dict(tensors=_set("optim.0.exp_avg", lambda t: t.fill_(float("nan")))),
        "'optim.0.exp_avg' holds NaN",
    ),
    "inf second moment": (
        dict(tensors=_set("optim.1.exp_avg_sq", lambda t: t.fill_(float("inf")))),
        "'optim.1.exp_avg_sq' holds NaN or infinite",
    ),
    "negative second moment": (
        dict(tensors=_set("optim.0.exp_avg_sq", lambda t: t.fill_(-1.0))),
        "negative second moments",
    ),
    "negative step": (dict(tensors=_set("optim.0.step", lambda t: t.fill_(-1.0))), "step 'optim.0.step' is -1.0"),
    "wrong shape": (dict(tensors=_set("optim.0.exp_avg", lambda t: t[:1])), "of shape"),
    "extra state": (
        dict(meta=lambda m: m["optimizer"]["state_keys"]["0"].append("momentum_buffer")),
        "names .*momentum_buffer",
    ),
    "unknown parameter": (
        dict(meta=lambda m: m["optimizer"]["state_keys"].update({"99999": ["exp_avg", "exp_avg_sq", "step"]})),
        "state of parameter '99999'",
    ),
}


@pytest.mark.parametrize("case", sorted(OPTIMISER_EDITS))
def test_an_optimiser_state_that_does_not_fit_is_refused(stepped, tmp_path, case):
    edit, message = OPTIMISER_EDITS[case]
    with pytest.raises(CheckpointError, match=message):
        GiGPO.load(_edited(stepped[1], tmp_path / "bad.zip", **edit))


def test_the_optimiser_settings_are_the_librarys_and_its_moments_the_files(stepped, tmp_path):
    model, path = stepped
    odd = _edited(path, tmp_path / "odd.zip", meta=lambda m: m["optimizer"]["param_groups"][0].update(lr=123.0))
    loaded = GiGPO.load(odd)
    group = loaded.policy.optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(1e-2) and group["maximize"] is False  # the model's learning_rate
    saved, restored = model.policy.optimizer.state_dict()["state"], loaded.policy.optimizer.state_dict()["state"]
    assert saved.keys() == restored.keys()
    for index in saved:
        for key in saved[index]:
            assert torch.equal(torch.as_tensor(saved[index][key]), torch.as_tensor(restored[index][key]))


def test_gigpo_eval_refuses_an_optimiser_that_would_ascend_in_one_line(stepped, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _edited(
        stepped[1], run_dir / "checkpoint.zip", meta=lambda m: m["optimizer"]["param_groups"][0].update(maximize=True)
    )
    assert (
        eval_cli.main(["--checkpoint", str(run_dir / "checkpoint.zip"), "--env", "WebShop-text-v0", "--tasks", "1"])
        == 2
    )
    assert "maximize is True" in _one_line_error(capsys, "gigpo-eval")


def test_a_policy_whose_scores_overflow_is_a_named_error_not_a_sampling_crash(stepped):
    model = GiGPO.load(stepped[1])
    with torch.no_grad():
        for param in model.policy.parameters():
            param.fill_(1e30)
    observation = {
        "text": "Instruction: buy a lamp [SEP] Search",
        "goal": "buy a lamp",
        "admissible_commands": ["search[lamp]", "click[a]"],
    }
    for deterministic in (False, True):  # an argmax over NaN would pick an action silently
        with pytest.raises(DivergenceError, match="action log-probabilities hold nan"):
            model.predict(observation, deterministic=deterministic)
