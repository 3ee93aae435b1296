"""Data-parallel GiGPO (``torchrun``, gloo on CPU, 2 processes): the same update as one process on the same steps."""

from __future__ import annotations

import json
import os
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


def torchrun(*args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([TORCHRUN, "--standalone", "--nproc_per_node", "2", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed beside this Python")
@pytest.mark.parametrize("mode", ["full", "lora"])
def test_two_processes_make_the_update_one_process_makes_on_the_same_steps(tiny_path, tmp_path, mode):
    done = torchrun(str(ROOT / "tests" / "helpers" / "ddp_update.py"), tiny_path, str(tmp_path), mode)
    assert done.returncode == 0, done.stderr[-3000:]
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
    # the same update: one process, all the steps, the fixed advantages
    one.rollout_buffer.advantages = fixed_advantages(records)
    one.set_logger(Logger(None, []))
    one.train()
    after = load_file(tmp_path / "after.safetensors")
    trained = {n: p for n, p in one.policy.model.named_parameters() if p.requires_grad}
    assert trained.keys() == after.keys() and one.last_train_stats["optimizer_steps"] == 1
    # the reduced gradient equals one process's up to float summation order ...
    grads = load_file(tmp_path / "grads.safetensors")
    assert max(float((trained[n].grad - grads[n]).abs().max()) for n in grads) <= 1e-6
    # ... and so do the weights after the Adam step (at lr 1e-4: Adam's first step divides each gradient element by
    # its own size, so elements near zero turn their rounding into updates of up to lr; at lr 1e-2 they differ by 5e-5)
    worst = max(float((trained[n].detach() - after[n]).abs().max()) for n in after)
    start = GiGPO.load(tmp_path / "before.zip").policy.model.named_parameters()
    moved = max(float((trained[n].detach() - p.detach()).abs().max()) for n, p in start if p.requires_grad)
    assert moved > 5e-5 and worst <= 1e-6, (moved, worst)
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
