"""Data-parallel GiGPO (``torchrun``, gloo on CPU, 2 processes): the same update as one process on the same steps."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file
from stable_baselines3.common.logger import Logger

import gigpo_gym  # noqa: F401
from trainer.buffer import StepRecord
from trainer.gigpo import GiGPO
from wrappers.group_env import GroupVecEnv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))
from ddp_update import fixed_advantages  # noqa: E402

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))


def accelerate_env(config: str) -> dict[str, str]:
    """The engine variables ``accelerate launch --config_file configs/accelerate/<config>.yaml`` gives a worker on
    a multi-GPU machine, made by accelerate's own launcher code (its CPU launcher would start one process)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    config_file = str(ROOT / "configs" / "accelerate" / f"{config}.yaml")
    args, _, _ = _validate_launch_command(launch_command_parser().parse_args(["--config_file", config_file, "x.py"]))
    env = prepare_multi_gpu_env(args)
    return {k: v for k, v in env.items() if k.startswith(("ACCELERATE_USE_", "ACCELERATE_MIXED", "FSDP_"))}


def why(done: subprocess.CompletedProcess) -> str:
    """A failed run's tracebacks (the workers' and torchrun's), without the warnings around them."""
    lines = [line for line in done.stderr.splitlines() if "Warning" not in line and "warn" not in line]
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), max(len(lines) - 40, 0))
    return "\n".join(lines[start : start + 80])


def torchrun(
    *args: str, cwd: Path = ROOT, timeout: float = 600, launch_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, **(launch_env or {}), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [TORCHRUN, "--standalone", "--nproc_per_node", "2", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
@pytest.mark.parametrize("mode", ["full", "lora", "fsdp-full", "fsdp-lora"])
def test_two_processes_make_the_update_one_process_makes_on_the_same_steps(tiny_path, tmp_path, mode):
    done = torchrun(str(ROOT / "tests" / "helpers" / "ddp_update.py"), tiny_path, str(tmp_path), mode)
    assert done.returncode == 0, why(done)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    records = []
    for rank in ranks:
        for step in rank["steps"]:
            step["old_logprobs"] = np.asarray(step["old_logprobs"], dtype=np.float32)
            records.append(StepRecord(**step))
    # the same advantages: each rank's real ones equal one process's on the joined round (groups never cross ranks)
    one = GiGPO.load(tmp_path / "before.zip")
    one.rollout_buffer.records = records
    joined = one.rollout_buffer.compute_advantages()
    np.testing.assert_array_equal(joined, np.concatenate([r["advantages"] for r in ranks]))
    # the same update: one process, the steps the ranks updated on (rank 1 half of its own), the fixed advantages
    sizes = [len(r["steps"]) for r in ranks]
    assert ranks[1]["kept"] < sizes[1]
    records = records[: ranks[0]["kept"]] + records[sizes[0] : sizes[0] + ranks[1]["kept"]]
    one.rollout_buffer.records = records
    one.rollout_buffer.advantages = fixed_advantages(records)
    one.set_logger(Logger(None, []))
    one.train()
    after = load_file(tmp_path / "after.safetensors")
    trained = {n: p for n, p in one.policy.model.named_parameters() if p.requires_grad}
    assert trained.keys() == after.keys() and one.last_train_stats["optimizer_steps"] == 1
    # the reduced gradient equals one process's up to float summation order ...
    grads = load_file(tmp_path / "grads.safetensors")

    # (compared before clipping: the clip divides by the gradient norm, whose float32 sum has its own rounding, up
    # to 3e-5 of it here, and FSDP sums it shard by shard, in another order)
    def unclipped(grad, norm):
        return grad / min(1.0, one.max_grad_norm / (norm + 1e-6))

    mine, theirs = one.last_train_stats["grad_norm"], ranks[0]["stats"]["grad_norm"]
    assert theirs == pytest.approx(mine, rel=1e-4)
    assert (
        max(float((unclipped(trained[n].grad, mine) - unclipped(grads[n], theirs)).abs().max()) for n in grads) <= 1e-6
    )
    # ... and so do the weights after the Adam step. Adam's first step moves a weight by lr * g / (|g| + 1e-8): where
    # |g| is well above the gradients' 1e-6 rounding the two steps agree to 1e-8, but where |g| is that rounding's
    # size the step turns it into up to lr (seen: 1.7e-6 on a weight with a near-zero gradient, 2 runs in ~20)
    clear = {n: grads[n].abs() > 1e-5 for n in after}
    diffs = {n: (trained[n].detach() - after[n]).abs() for n in after}
    worst = max(float(d[clear[n]].max()) if clear[n].any() else 0.0 for n, d in diffs.items())
    start = GiGPO.load(tmp_path / "before.zip").policy.model.named_parameters()
    moved = max(float((trained[n].detach() - p.detach()).abs().max()) for n, p in start if p.requires_grad)
    # (no bound is asserted where |g| is at the rounding's size: one AdamW step moves any weight by at most about lr,
    # so two such steps always agree to 2 lr and a check of it could not fail)
    assert moved > 5e-5 and worst <= 1e-6, (moved, worst)
    # FSDP: each rank holds about half of the optimiser state, the two halves all of it; DDP: each holds all of it
    held = [r["held"] for r in ranks]
    if mode.startswith("fsdp"):
        assert held[0][0] + held[1][0] >= held[0][1] and max(h / n for h, n in held) < 0.6, held
    else:
        assert all(h == n for h, n in held), held
    # the logged means are the global ones
    for key in ("pg", "kl", "loss"):
        assert ranks[0]["stats"][key] == pytest.approx(ranks[1]["stats"][key], rel=1e-12)
        assert ranks[0]["stats"][key] == pytest.approx(one.last_train_stats[key], rel=1e-5, abs=1e-7)


def test_a_round_that_does_not_split_over_the_processes_is_refused():
    with pytest.raises(ValueError, match=r"n_groups \(3\) must be divisible by the number of processes \(2\)"):
        GroupVecEnv("ALFWorld-text-v0", 3, 2, shard=(1, 2))


def test_shards_play_the_slices_of_one_process_draw():
    whole = GroupVecEnv("ALFWorld-text-v0", 4, 2, seed=5)
    parts = [GroupVecEnv("ALFWorld-text-v0", 4, 2, seed=5, shard=(r, 2)) for r in (0, 1)]
    for _ in range(2):
        goals = [info["goal"] for info in (whole.reset() and whole.infos)]
        split = [info["goal"] for part in parts for info in (part.reset() and part.infos)]
        assert goals == split and parts[0].n_groups == 2 and parts[0].total_groups == 4


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
@pytest.mark.parametrize("sharding", ["none", "fsdp"])
def test_two_process_training_writes_one_run_that_resumes_in_one_process_and_back(tiny_path, tmp_path, sharding):
    from trainer.checkpoint import read_meta
    from trainer.cli import train as train_cli

    run_dir = tmp_path / "run"
    sets = ["n_groups=2", "group_size=2", "max_episode_steps=3", "eval_tasks=3", "batch_size=8", "micro_batch_size=4"]
    flags = ["--no-progress", "--eval_every", "1", *[a for item in sets for a in ("--set", item)]]
    # FSDP: asked for by the shipped accelerate FSDP config's variables, as `accelerate launch` sets them on GPUs
    launch = accelerate_env("8gpu_fsdp") if sharding == "fsdp" else None
    args = ("-m", "trainer.cli.train", "--model", tiny_path, "--rounds", "2", "--run-dir", str(run_dir), *flags)
    done = torchrun(*args, *([] if launch else ["--sharding", sharding]), launch_env=launch)
    assert done.returncode == 0, why(done)
    assert done.stdout.count("run directory:") == 1  # rank 0 alone reports (and writes)
    meta = read_meta(run_dir / "checkpoint.zip")
    assert meta["extra"]["run"]["rounds_done"] == 2 and meta["arguments"]["n_groups"] == 2
    assert meta["extra"]["run"]["config"]["sharding"] == sharding
    with (run_dir / "progress.csv").open() as f:
        logged = list(csv.DictReader(f))
    assert len(logged) == 2  # one row per round
    # each round's evaluation: the 3 tasks shared out over the ranks, their episodes gathered and logged by rank 0
    assert [r["eval/episodes"] for r in logged] == ["3", "3"] and all(r["eval/success_rate"] for r in logged)
    assert (run_dir / "eval.json").is_file()
    # written by 2 processes, continued by 1; then by 2 again
    assert train_cli.main(["--resume", "--run-dir", str(run_dir), "--rounds", "3", "--no-progress"]) == 0
    again = torchrun(
        "-m", "trainer.cli.train", "--resume", "--run-dir", str(run_dir), "--rounds", "4", "--no-progress",
        "--sharding", sharding,
    )  # fmt: skip
    assert again.returncode == 0, why(again)
    assert read_meta(run_dir / "checkpoint.zip")["extra"]["run"]["rounds_done"] == 4


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
@pytest.mark.parametrize("sharding", ["none", "fsdp"])
def test_a_two_process_resume_continues_every_rank_exactly(tiny_path, tmp_path, sharding):
    """Killed after round 2 and resumed on 2 processes: the run a 4-round run makes, weight for weight (FSDP: the
    shards are cut again from the checkpoint's full tensors)."""
    from trainer.checkpoint import read_archive, read_meta

    sets = [
        "n_groups=2",
        "group_size=4",
        "max_episode_steps=15",
        "eval_tasks=1",
        "eval_episodes=1",
        "batch_size=32",
        "micro_batch_size=8",
        "checkpoint_every=1",
    ]
    flags = [
        "--no-progress",
        "--preset",
        "cpu-quickstart",
        "--model",
        tiny_path,
        "--sharding",
        sharding,
        *[a for item in sets for a in ("--set", item)],
    ]
    straight, split = tmp_path / "straight", tmp_path / "split"
    for args in (["--rounds", "4", "--run-dir", str(straight)], ["--rounds", "2", "--run-dir", str(split)]):
        done = torchrun("-m", "trainer.cli.train", *args, *flags)
        assert done.returncode == 0, why(done)
    assert len(read_meta(split / "checkpoint.zip")["rng"]["ranks"]) == 2  # both ranks' streams are saved
    again = torchrun(
        "-m", "trainer.cli.train", "--resume", "--run-dir", str(split), "--rounds", "4", "--no-progress",
        "--sharding", sharding,
    )  # fmt: skip
    assert again.returncode == 0, why(again)
    a, b = read_archive(straight / "checkpoint.zip"), read_archive(split / "checkpoint.zip")
    assert a.policy.keys() == b.policy.keys()
    assert all(bool((a.policy[k] == b.policy[k]).all()) for k in a.policy)
    assert a.state.keys() == b.state.keys() and all(bool((a.state[k] == b.state[k]).all()) for k in a.state)
    # every rank's streams after round 4 are where the straight run left them (rank 1's: its own, not rank 0's)
    assert a.meta["rng"]["ranks"] == b.meta["rng"]["ranks"] and a.meta["rng"]["ranks"][0] != a.meta["rng"]["ranks"][1]
    logs = []  # the logged rollouts and updates too (not the times)
    for run in (straight, split):
        with (run / "progress.csv").open() as f:
            rows = list(csv.DictReader(f))
        logs.append([{k: v for k, v in row.items() if "time" not in k and "fps" not in k} for row in rows])
    assert len(logs[0]) == 4 and logs[0] == logs[1]
    assert any(int(row["train/optimizer_steps"]) > 0 for row in logs[0])  # the runs did learn something


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_a_first_two_process_run_on_a_fresh_machine_caches_a_whole_model(tmp_path, monkeypatch):
    """Both ranks build the tiny model before joining the process group (transformers writes a model's weights on
    rank 0 of a joined group only): the cache holds config, weights and tokenizer, and the run trains."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GIGPO_GYM_CACHE", str(cache))
    sets = ["n_groups=2", "group_size=2", "max_episode_steps=2", "eval_tasks=1", "batch_size=8", "micro_batch_size=4"]
    flags = ["--no-progress", *[a for item in sets for a in ("--set", item)]]
    done = torchrun("-m", "trainer.cli.train", "--rounds", "1", "--run-dir", str(tmp_path / "run"), *flags)
    assert done.returncode == 0, why(done)
    (folder,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in folder.iterdir()}


def test_the_model_cache_replaces_a_folder_without_weights_and_never_writes_one(tmp_path):
    from trainer.models.paths import save_cached_model

    class Saves:
        def __init__(self, names):
            self.names = names

        def save_pretrained(self, folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
            for name in self.names:
                (Path(folder) / name).write_text("{}")

    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{}")
    save_cached_model(broken, Saves(["config.json", "model.safetensors"]), Saves(["tokenizer.json"]))
    assert {p.name for p in broken.iterdir()} == {"config.json", "model.safetensors", "tokenizer.json"}
    with pytest.raises(RuntimeError, match="wrote no model files"):
        save_cached_model(tmp_path / "other", Saves([]), Saves(["tokenizer.json"]))
    assert not (tmp_path / "other").exists()


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
def test_a_round_that_does_not_split_is_one_error_line_under_torchrun(tiny_path, tmp_path):
    done = torchrun(
        "-m",
        "trainer.cli.train",
        "--model",
        tiny_path,
        "--rounds",
        "1",
        "--run-dir",
        str(tmp_path / "r"),
        "--no-progress",
        "--set",
        "n_groups=3",
        "--set",
        "group_size=2",
    )
    # the workers exit 2 with the error line (torchrun then reports their failure with its own traceback)
    assert done.returncode != 0 and not [line for line in done.stderr.splitlines() if "/trainer/" in line]
    errors = [line for line in done.stderr.splitlines() if line.startswith("gigpo-train: error:")]
    assert errors and all("n_groups (3) must be divisible by the number of processes (2)" in e for e in errors)


FSDP = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_RESHARD_AFTER_FORWARD": "false"}


@pytest.mark.parametrize(
    ("launch", "error"),
    [
        ({"ACCELERATE_USE_DEEPSPEED": "true"}, "ACCELERATE_USE_DEEPSPEED=true: DeepSpeed is not supported"),
        ({"ACCELERATE_MIXED_PRECISION": "bf16"}, "ACCELERATE_MIXED_PRECISION=bf16: .* dtype setting"),
        ({"ACCELERATE_USE_FSDP": "true"}, "FSDP_VERSION=1: the trainer shards with FSDP2: set fsdp_version: 2"),
        ({**FSDP, "FSDP_RESHARD_AFTER_FORWARD": "true"}, "FSDP_RESHARD_AFTER_FORWARD=true: .* set fsdp_reshard"),
        ({**FSDP, "FSDP_OFFLOAD_PARAMS": "true"}, "FSDP_OFFLOAD_PARAMS=true: CPU offload is not supported"),
        ({**FSDP, "FSDP_STATE_DICT_TYPE": "SHARDED_STATE_DICT"}, "FSDP_STATE_DICT_TYPE=SHARDED_STATE_DICT: "),
        ({**FSDP, "FSDP_TRANSFORMER_CLS_TO_WRAP": "Qwen2MLP"}, "FSDP_TRANSFORMER_CLS_TO_WRAP=Qwen2MLP: .* remove"),
    ],
)
def test_an_accelerate_config_the_trainer_cannot_honour_is_one_error_line(launch, error, tiny_path, tmp_path):
    command = [sys.executable, "-m", "trainer.cli.train", "--model", tiny_path, "--rounds", "1", "--no-progress"]
    done = subprocess.run(
        [*command, "--run-dir", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **launch},
    )
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert re.search(error, done.stderr) and not (tmp_path / "r").exists(), done.stderr


@pytest.mark.parametrize(
    ("name", "kind", "processes", "machines"),
    [
        ("1gpu", "NO", 1, 1),
        ("8gpu_ddp", "MULTI_GPU", 8, 1),
        ("multinode_ddp", "MULTI_GPU", 16, 2),
        ("8gpu_fsdp", "FSDP", 8, 1),
    ],
)
def test_shipped_accelerate_configs_are_valid_and_honoured(name, kind, processes, machines, monkeypatch):
    from accelerate.commands.config.config_args import load_config_from_file

    from trainer import distributed

    config = load_config_from_file(str(ROOT / "configs" / "accelerate" / f"{name}.yaml"))
    assert str(config.distributed_type).split(".")[-1] == kind and not config.use_cpu
    assert (config.num_processes, config.num_machines) == (processes, machines)
    assert str(config.mixed_precision).split(".")[-1].lower() == "no"  # precision is the trainer's dtype setting
    if kind == "NO":
        return
    for variable, value in {**accelerate_env(name), "WORLD_SIZE": str(processes)}.items():
        monkeypatch.setenv(variable, value)
    distributed.check_engine()  # the trainer takes every setting the launcher passes on
    assert distributed.launch_sharding("none") == ("fsdp" if kind == "FSDP" else "none")


def test_evaluation_shared_out_over_ranks_tabulates_as_one_process():
    from trainer.config import resolve_config
    from trainer.evaluation import baseline_chooser, episode_records, run_episodes, tabulate
    from trainer.training import eval_task_ids

    config = resolve_config("cpu-quickstart")
    ids, kwargs = eval_task_ids(config)[:7], config.gym_kwargs(config.eval_split)
    whole = run_episodes("ALFWorld-text-v0", ids, baseline_chooser("expert"), kwargs, episodes_per_task=2)
    parts = [episode_records("ALFWorld-text-v0", ids[r::3], baseline_chooser("expert"), kwargs, 2) for r in range(3)]
    assert tabulate([record for part in parts for record in part]) == whole and whole["all"] == 100.0
    assert episode_records("ALFWorld-text-v0", [], baseline_chooser("expert"), kwargs) == []  # a rank with no task
